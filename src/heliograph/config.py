"""Server settings: command-line flags over ``HELIOGRAPH_*`` environment variables.

Every setting is documented in ``docs/configuration.md``; a test fails when one
is not.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import stat
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from heliograph.logs import LOG_FORMATS, LOG_LEVELS

logger = logging.getLogger(__name__)

_TRUE = {"1", "true", "yes", "on"}
# Below this, bodies within the documented ingest limits could never fit.
MIN_INGEST_MEMORY_MB = 48
_FALSE = {"0", "false", "no", "off"}
# A MaxMind database ends with this marker and its metadata, at most 128 KiB long.
_MMDB_MARKER = b"\xab\xcd\xefMaxMind.com"
_MMDB_METADATA_MAX = 128 * 1024
_HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")


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


def _geoip_db(value: str) -> Path:
    """A readable MaxMind database, checked at start: a typo must not silently mean no countries.

    Only the metadata marker is looked for here; the reader
    (:mod:`heliograph.ingest.geoip`) checks the rest when it opens the file.
    """
    path = Path(value).expanduser()
    try:
        with path.open("rb") as file:
            size = file.seek(0, os.SEEK_END)
            file.seek(max(0, size - _MMDB_METADATA_MAX))
            tail = file.read()
    except OSError as exc:
        raise ConfigError(f"HELIOGRAPH_GEOIP_DB={value}: cannot read: {exc.strerror}") from None
    if _MMDB_MARKER not in tail:
        raise ConfigError(
            f"HELIOGRAPH_GEOIP_DB={value}: not a MaxMind database (.mmdb, e.g. GeoLite2-Country)"
        )
    return path


def _proxies(value: str) -> tuple[str, ...]:
    """Comma-separated addresses or CIDR networks (``10.0.0.0/8``); a bad one stops the start."""
    found: list[str] = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            found.append(str(ipaddress.ip_network(item, strict=False)))
        except ValueError:
            raise ConfigError(
                f"HELIOGRAPH_TRUSTED_PROXIES: {item!r} is not an IP address or network"
            ) from None
    return tuple(found)


def metrics_address(value: str) -> tuple[str, int]:
    """``host:port`` (``[::1]:9464`` for IPv6): where the metrics are served apart.

    The host must be given (an address to bind, e.g. ``127.0.0.1`` or a private
    interface's), never guessed: metrics there need no token.
    """
    host, sep, port_text = value.rpartition(":")
    host = host.removeprefix("[").removesuffix("]")
    if not sep or not host:
        raise ConfigError(
            f"HELIOGRAPH_METRICS_ADDRESS={value!r}: expected host:port, e.g. 127.0.0.1:9464"
        )
    port = _int("HELIOGRAPH_METRICS_ADDRESS port", port_text)
    if not 1 <= port <= 65535:
        raise ConfigError(f"HELIOGRAPH_METRICS_ADDRESS={value!r}: expected a port from 1 to 65535")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        if not _HOST_NAME.fullmatch(host):
            raise ConfigError(
                f"HELIOGRAPH_METRICS_ADDRESS={value!r}: {host!r} is not an address or host name"
            ) from None
    return host, port


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("heliograph-data")
    host: str = "127.0.0.1"
    port: int = 8000
    # The address users and SDKs reach the server at (DSNs and links are built from it).
    public_url: str = ""
    # Digest backlog (payloads on disk, not yet processed) past which ingest answers 429.
    max_backlog: int = 100_000
    digest_batch: int = 100
    # Events per second a project may send when it has no limit of its own (0: unlimited).
    project_rate_limit: int = 0
    # Failed logins for one email from one address before a cool-down of this many seconds.
    login_max_failures: int = 5
    login_lockout_seconds: int = 900
    # How often digest deletes events past their project's retention (0: never by itself).
    retention_interval: int = 3600
    # Experiments on datasets (src/heliograph/datasets/experiment.py), run by digest
    # worker 0: seconds between looks for queued runs (0: never run them), the items
    # one run may call the model for, and the USD one run may spend at most.
    experiment_interval: int = 5
    experiment_max_items: int = 500
    experiment_cost_cap_usd: float = 5.0
    # How often digest worker 0 runs evaluators on new generations and queued runs
    # (seconds; 0: never, not even on demand).
    evaluator_interval: int = 10
    # MiB of request bodies (as received, and decoded) that ingest may hold in
    # memory at once, all requests together; past it, ingest answers 503.
    ingest_memory_mb: int = 128
    # Report the server's own errors into the heliograph-internal project
    # through heliograph-sdk (installed separately: pip install ./sdk).
    self_monitoring: bool = False
    # Acceptor processes, and as many digest processes, ``serve`` runs (0: one per core).
    workers: int = 0
    # Where the store is (HELIOGRAPH_DATABASE_URL); empty: SQLite in the data directory.
    database_url: str = ""
    # Where events go (HELIOGRAPH_EVENTS_URL): empty, the store above; or clickhouse://.
    events_url: str = ""
    # The mail server alert emails go through (HELIOGRAPH_SMTP_*); no host: no email.
    smtp_host: str = ""
    smtp_port: int = 587
    smtp_username: str = ""
    smtp_password: str = field(default="", repr=False)
    smtp_from: str = ""
    smtp_security: str = "starttls"
    # Waits (seconds) before each retry of a failed alert delivery
    # (HELIOGRAPH_ALERT_RETRY_SECONDS, comma-separated); after the last, it has failed.
    alert_retry_seconds: tuple[float, ...] = (10.0, 30.0, 120.0, 600.0)
    # Where session-replay recordings go (HELIOGRAPH_BLOB_URL); empty: the data dir.
    blob_url: str = ""
    # Compressed MiB of recordings each project may keep (HELIOGRAPH_REPLAY_PROJECT_MB).
    replay_project_mb: int = 10240
    # A local MaxMind database (HELIOGRAPH_GEOIP_DB) for visitors' countries; None: no countries.
    geoip_db: Path | None = None
    # Proxies whose X-Forwarded-For names the client (HELIOGRAPH_TRUSTED_PROXIES); none by default.
    trusted_proxies: tuple[str, ...] = ()
    # How every process logs (HELIOGRAPH_LOG_FORMAT: text or json; HELIOGRAPH_LOG_LEVEL).
    log_format: str = "text"
    log_level: str = "INFO"
    # /readyz fails below this much free disk in the data directory, MiB
    # (HELIOGRAPH_READY_MIN_FREE_MB; 0: never), and when the oldest queued
    # payload has waited longer than this (HELIOGRAPH_READY_MAX_LAG_SECONDS; 0: never).
    ready_min_free_mb: int = 1024
    ready_max_lag_seconds: int = 300
    # Bearer token /metrics on the main port requires (HELIOGRAPH_METRICS_TOKEN); empty: 404.
    metrics_token: str = field(default="", repr=False)
    # ``host:port`` where the supervisor serves /metrics without a token
    # (HELIOGRAPH_METRICS_ADDRESS), for a private interface; None: not served apart.
    metrics_address: tuple[str, int] | None = None

    @property
    def https(self) -> bool:
        """Users reach the server over https (cookies get the Secure flag)."""
        return self.public_url.lower().startswith("https://")

    @property
    def base_url(self) -> str:
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def store_url(self) -> str:
        """The store's URL: ``HELIOGRAPH_DATABASE_URL``, else the SQLite file in the data dir."""
        return self.database_url or f"sqlite:///{self.data_dir / 'heliograph.sqlite3'}"

    @property
    def blobs_url(self) -> str:
        """Where replay blobs go: ``HELIOGRAPH_BLOB_URL``, else ``blobs`` in the data dir."""
        return self.blob_url or f"file://{(self.data_dir / 'blobs').resolve()}"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if environ is None else environ
        settings = cls()
        if "HELIOGRAPH_DATA_DIR" in env:
            settings = replace(settings, data_dir=Path(env["HELIOGRAPH_DATA_DIR"]))
        if "HELIOGRAPH_DATABASE_URL" in env:
            settings = replace(settings, database_url=env["HELIOGRAPH_DATABASE_URL"].strip())
        if "HELIOGRAPH_EVENTS_URL" in env:
            settings = replace(settings, events_url=env["HELIOGRAPH_EVENTS_URL"].strip())
        if "HELIOGRAPH_BLOB_URL" in env:
            settings = replace(settings, blob_url=env["HELIOGRAPH_BLOB_URL"].strip())
        if "HELIOGRAPH_REPLAY_PROJECT_MB" in env:
            settings = replace(
                settings,
                replay_project_mb=_int(
                    "HELIOGRAPH_REPLAY_PROJECT_MB", env["HELIOGRAPH_REPLAY_PROJECT_MB"]
                ),
            )
        if env.get("HELIOGRAPH_GEOIP_DB", "").strip():
            settings = replace(settings, geoip_db=_geoip_db(env["HELIOGRAPH_GEOIP_DB"].strip()))
        if "HELIOGRAPH_TRUSTED_PROXIES" in env:
            settings = replace(
                settings, trusted_proxies=_proxies(env["HELIOGRAPH_TRUSTED_PROXIES"])
            )
        if env.get("HELIOGRAPH_METRICS_TOKEN", "").strip():
            settings = replace(settings, metrics_token=env["HELIOGRAPH_METRICS_TOKEN"].strip())
        if env.get("HELIOGRAPH_METRICS_ADDRESS", "").strip():
            address = metrics_address(env["HELIOGRAPH_METRICS_ADDRESS"].strip())
            settings = replace(settings, metrics_address=address)
        if "HELIOGRAPH_HOST" in env:
            settings = replace(settings, host=env["HELIOGRAPH_HOST"])
        if "HELIOGRAPH_PORT" in env:
            port = _int("HELIOGRAPH_PORT", env["HELIOGRAPH_PORT"])
            if not 0 <= port <= 65535:
                raise ConfigError(f"HELIOGRAPH_PORT={port}: expected a port from 0 to 65535")
            settings = replace(settings, port=port)
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
        numbers: dict[str, int] = {}
        for field_name, variable in (
            ("project_rate_limit", "HELIOGRAPH_PROJECT_RATE_LIMIT"),
            ("login_max_failures", "HELIOGRAPH_LOGIN_MAX_FAILURES"),
            ("login_lockout_seconds", "HELIOGRAPH_LOGIN_LOCKOUT_SECONDS"),
            ("retention_interval", "HELIOGRAPH_RETENTION_INTERVAL"),
            ("experiment_interval", "HELIOGRAPH_EXPERIMENT_INTERVAL"),
            ("experiment_max_items", "HELIOGRAPH_EXPERIMENT_MAX_ITEMS"),
            ("evaluator_interval", "HELIOGRAPH_EVALUATOR_INTERVAL"),
            ("workers", "HELIOGRAPH_WORKERS"),
            ("ready_min_free_mb", "HELIOGRAPH_READY_MIN_FREE_MB"),
            ("ready_max_lag_seconds", "HELIOGRAPH_READY_MAX_LAG_SECONDS"),
        ):
            if variable in env:
                value = _int(variable, env[variable])
                if value < 0:
                    raise ConfigError(f"{variable}={value}: expected 0 or more")
                numbers[field_name] = value
        if numbers:
            settings = replace(settings, **numbers)  # type: ignore[arg-type]
        if "HELIOGRAPH_INGEST_MEMORY_MB" in env:
            value = _int("HELIOGRAPH_INGEST_MEMORY_MB", env["HELIOGRAPH_INGEST_MEMORY_MB"])
            if value < MIN_INGEST_MEMORY_MB:
                raise ConfigError(
                    f"HELIOGRAPH_INGEST_MEMORY_MB={value}: expected at least "
                    f"{MIN_INGEST_MEMORY_MB} (a 20 MiB body and the copy made of it)"
                )
            settings = replace(settings, ingest_memory_mb=value)
        if "HELIOGRAPH_EXPERIMENT_COST_CAP_USD" in env:
            raw = env["HELIOGRAPH_EXPERIMENT_COST_CAP_USD"]
            try:
                cap = float(raw)
            except ValueError:
                cap = -1.0
            if not 0 <= cap < float("inf"):
                raise ConfigError(f"HELIOGRAPH_EXPERIMENT_COST_CAP_USD={raw!r}: expected 0 or more")
            settings = replace(settings, experiment_cost_cap_usd=cap)
        if "HELIOGRAPH_SELF_MONITORING" in env:
            enabled = parse_bool("HELIOGRAPH_SELF_MONITORING", env["HELIOGRAPH_SELF_MONITORING"])
            settings = replace(settings, self_monitoring=enabled)
        if "HELIOGRAPH_ALERT_RETRY_SECONDS" in env:
            settings = replace(
                settings, alert_retry_seconds=_waits(env["HELIOGRAPH_ALERT_RETRY_SECONDS"])
            )
        return _smtp_from_env(_logging_from_env(settings, env), env)


def _logging_from_env(settings: Settings, env: Mapping[str, str]) -> Settings:
    """``HELIOGRAPH_LOG_FORMAT`` (text, json), ``HELIOGRAPH_LOG_LEVEL``: a typo stops the start."""
    if "HELIOGRAPH_LOG_FORMAT" in env:
        value = env["HELIOGRAPH_LOG_FORMAT"].strip().lower()
        if value not in LOG_FORMATS:
            raise ConfigError(
                f"HELIOGRAPH_LOG_FORMAT={value!r}: expected one of {', '.join(LOG_FORMATS)}"
            )
        settings = replace(settings, log_format=value)
    if "HELIOGRAPH_LOG_LEVEL" in env:
        value = env["HELIOGRAPH_LOG_LEVEL"].strip().upper()
        if value not in LOG_LEVELS:
            raise ConfigError(
                f"HELIOGRAPH_LOG_LEVEL={value!r}: expected one of {', '.join(LOG_LEVELS)}"
            )
        settings = replace(settings, log_level=value)
    return settings


_SMTP_SECURITY = ("starttls", "ssl", "none")


def _waits(value: str) -> tuple[float, ...]:
    """``10,30,120``: seconds before each retry; empty: no retry."""
    try:
        waits = tuple(float(part) for part in value.split(",") if part.strip())
    except ValueError:
        raise ConfigError("HELIOGRAPH_ALERT_RETRY_SECONDS: comma-separated seconds") from None
    if len(waits) > 20 or any(not 0 <= wait <= 86400 for wait in waits):
        raise ConfigError("HELIOGRAPH_ALERT_RETRY_SECONDS: at most 20 waits of 0 to 86400 s")
    return waits


def _smtp_from_env(settings: Settings, env: Mapping[str, str]) -> Settings:
    """``HELIOGRAPH_SMTP_*``: the mail server alert emails go through (none: no email)."""
    host = env.get("HELIOGRAPH_SMTP_HOST", "").strip()
    if not host:
        return settings
    port = _int("HELIOGRAPH_SMTP_PORT", env.get("HELIOGRAPH_SMTP_PORT", "587"))
    default_security = "ssl" if port == 465 else "none" if port in (25, 1025) else "starttls"
    security = env.get("HELIOGRAPH_SMTP_SECURITY", default_security).strip().lower()
    if security not in _SMTP_SECURITY:
        raise ConfigError(f"HELIOGRAPH_SMTP_SECURITY must be one of {', '.join(_SMTP_SECURITY)}")
    return replace(
        settings,
        smtp_host=host,
        smtp_port=port,
        smtp_username=env.get("HELIOGRAPH_SMTP_USERNAME", ""),
        smtp_password=env.get("HELIOGRAPH_SMTP_PASSWORD", ""),
        smtp_from=env.get("HELIOGRAPH_SMTP_FROM", "") or f"heliograph@{host}",
        smtp_security=security,
    )


def load_config_file(path: Path, environ: MutableMapping[str, str] | None = None) -> int:
    """Read ``HELIOGRAPH_*=value`` lines from a file into the environment.

    Secrets (``HELIOGRAPH_AI_API_KEY``) belong in the environment or in such a
    file, never in the repository or on a command line (where ``ps`` shows
    them). Variables already set in the environment win. Blank lines and
    ``#`` comments are skipped; values may be quoted. Returns how many
    variables were set. A file others can read is loaded, with a warning.
    """
    env = os.environ if environ is None else environ
    try:
        text = path.read_text()
        mode = path.stat().st_mode
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        logger.warning("config file %s is readable by other users; chmod 600 it", path)
    count = 0
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        name, sep, value = stripped.removeprefix("export ").partition("=")
        name, value = name.strip(), value.strip()
        if not sep or not name.startswith("HELIOGRAPH_"):
            raise ConfigError(f"{path}:{number}: expected HELIOGRAPH_NAME=value")
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        if name not in env:
            env[name] = value
            count += 1
    return count
