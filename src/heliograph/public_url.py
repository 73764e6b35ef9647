"""The address the server was last started at, remembered in its data directory.

``login-link`` and ``demo`` print links, but run in another process than
``serve``, often without its ``--port`` or ``--public-url``: rebuilt from the
defaults, their links pointed at port 8000 whatever the server listened on.
``serve`` therefore writes the URL it runs at into ``public-url`` in the data
directory when it starts, and the other commands read it back, unless told
otherwise with ``--public-url`` or ``HELIOGRAPH_PUBLIC_URL``.
"""

from __future__ import annotations

import os
from pathlib import Path

from heliograph.config import Settings

__all__ = ["FILE_NAME", "command_base_url", "remember_public_url", "remembered_public_url"]

FILE_NAME = "public-url"


def remember_public_url(data_dir: Path, url: str) -> None:
    """Write ``url`` for the other commands (atomically: a reader never sees half of it)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    target = data_dir / FILE_NAME
    partial = target.with_name(f".{FILE_NAME}.{os.getpid()}")
    partial.write_text(url.rstrip("/") + "\n", encoding="utf-8")
    partial.replace(target)


def remembered_public_url(data_dir: Path) -> str | None:
    """What ``serve`` last wrote, or None when it never ran here (or the file is unreadable)."""
    try:
        text = (data_dir / FILE_NAME).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if text.startswith(("http://", "https://")) else None


def command_base_url(settings: Settings, flag: str | None = None) -> str:
    """The URL links should use: ``--public-url``, else ``HELIOGRAPH_PUBLIC_URL``, else the
    one ``serve`` remembered, else the configured host and port."""
    if flag:
        return flag.rstrip("/")
    if settings.public_url:
        return settings.base_url
    return remembered_public_url(settings.data_dir) or settings.base_url
