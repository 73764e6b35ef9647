"""Server settings: command-line flags over ``HELIOGRAPH_*`` environment variables.

Every setting is documented in ``docs/configuration.md``; a test fails when one
is not.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ConfigError(ValueError):
    """A setting has a value we refuse to guess about."""


def parse_bool(name: str, value: str) -> bool:
    """Booleans accept 1/true/yes/on and 0/false/no/off, nothing else."""
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ConfigError(f"{name}={value!r}: expected one of 1/true/yes/on or 0/false/no/off")


def _int(name: str, value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"{name}={value!r}: expected an integer") from None


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("heliograph-data")
    host: str = "127.0.0.1"
    port: int = 8000
    # The address users and SDKs reach the server at (DSNs and links are built from it).
    public_url: str = ""
    # Digest backlog (payloads on disk, not yet processed) past which ingest answers 429.
    max_backlog: int = 100_000
    digest_batch: int = 500

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def queue_path(self) -> Path:
        return self.data_dir / "queue.sqlite3"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "heliograph.sqlite3"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        settings = cls()
        if "HELIOGRAPH_DATA_DIR" in env:
            settings = replace(settings, data_dir=Path(env["HELIOGRAPH_DATA_DIR"]))
        if "HELIOGRAPH_HOST" in env:
            settings = replace(settings, host=env["HELIOGRAPH_HOST"])
        if "HELIOGRAPH_PORT" in env:
            settings = replace(settings, port=_int("HELIOGRAPH_PORT", env["HELIOGRAPH_PORT"]))
        if "HELIOGRAPH_PUBLIC_URL" in env:
            settings = replace(settings, public_url=env["HELIOGRAPH_PUBLIC_URL"])
        if "HELIOGRAPH_MAX_BACKLOG" in env:
            settings = replace(
                settings, max_backlog=_int("HELIOGRAPH_MAX_BACKLOG", env["HELIOGRAPH_MAX_BACKLOG"])
            )
        if "HELIOGRAPH_DIGEST_BATCH" in env:
            settings = replace(
                settings,
                digest_batch=_int("HELIOGRAPH_DIGEST_BATCH", env["HELIOGRAPH_DIGEST_BATCH"]),
            )
        return settings
