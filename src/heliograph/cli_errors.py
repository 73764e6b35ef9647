"""Every command-line error as one line on stderr and a non-zero exit, never a traceback.

Typer draws usage errors in a box of several lines and lets anything else
escape as a traceback; someone who mistyped a flag or a directory wants one
sentence saying what to change. Bugs (any other exception) still show their
traceback: hiding those would only make them harder to report.
"""

from __future__ import annotations

import errno
import sys
from collections.abc import Sequence

import typer

# Typer ships its own copy of click; its exceptions are these, not ``click``'s.
from typer._click.exceptions import BadParameter, ClickException, UsageError

__all__ = ["describe_os_error", "error_line", "run_cli"]

PROG = "heliograph"


def error_line(message: str) -> None:
    """Print ``heliograph: error: message`` on stderr, on one line."""
    flat = " ".join(message.split())
    print(f"{PROG}: error: {flat}", file=sys.stderr)


def describe_os_error(exc: OSError) -> str:
    """``strerror: filename``, the way ``ls`` and ``cp`` say it."""
    reason = exc.strerror or errno.errorcode.get(exc.errno or 0, str(exc))
    if exc.filename is not None:
        return f"{exc.filename}: {reason}"
    return reason


def _usage_message(exc: UsageError) -> str:
    if isinstance(exc, BadParameter) and exc.param is None and exc.param_hint is None:
        # Raised by a command about the data, not the flags: the message says it all.
        return exc.message
    message = exc.format_message()
    if exc.ctx is not None:
        message += f" (see '{exc.ctx.command_path} -h')"
    return message


def run_cli(app: typer.Typer, args: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit status, errors said in one line."""
    from heliograph.store.base import SchemaTooNew

    try:
        result = app(
            args=None if args is None else list(args), prog_name=PROG, standalone_mode=False
        )
    except UsageError as exc:
        error_line(_usage_message(exc))
        return exc.exit_code
    except ClickException as exc:
        error_line(exc.format_message())
        return exc.exit_code
    except typer.Abort:
        error_line("aborted")
        return 1
    except SchemaTooNew as exc:
        # Data a newer Heliograph wrote: what to do is in the message.
        error_line(str(exc))
        return 2
    except OSError as exc:
        # The environment, not a bug: a directory that is a file, a disk that is full.
        error_line(describe_os_error(exc))
        return 1
    return result if isinstance(result, int) else 0
