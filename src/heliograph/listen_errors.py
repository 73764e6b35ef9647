"""Why ``serve`` could not listen, said so the operator knows which flag to change.

"Pass another port" is the right advice only when the port is taken; a host
name that does not resolve, or an address the machine does not have, needs
another ``--host``, and a low port needs privileges.
"""

from __future__ import annotations

import errno
import socket

__all__ = ["listen_error"]


def listen_error(host: str, port: int, exc: OSError) -> str:
    """One line: what failed and which setting to change."""
    where = f"{host}:{port}"
    reason = exc.strerror or str(exc)
    if isinstance(exc, socket.gaierror):
        return (
            f"cannot listen on {where}: the host {host!r} is unknown ({reason}); "
            "pass an address of this machine with --host (or HELIOGRAPH_HOST), e.g. 0.0.0.0"
        )
    if exc.errno == errno.EADDRINUSE:
        return (
            f"cannot listen on {where}: {reason} (another program uses the port); "
            "pass another port with --port (or HELIOGRAPH_PORT)"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return (
            f"cannot listen on {where}: {reason} (this machine has no such address); "
            "pass another --host (or HELIOGRAPH_HOST), e.g. 127.0.0.1 or 0.0.0.0"
        )
    if exc.errno == errno.EACCES:
        return (
            f"cannot listen on {where}: {reason} (ports below 1024 need privileges); "
            "pass a port of 1024 or more with --port (or HELIOGRAPH_PORT)"
        )
    return f"cannot listen on {where}: {reason}"
