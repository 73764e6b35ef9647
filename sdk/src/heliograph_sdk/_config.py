"""Resolve the SDK's settings from ``init(...)`` arguments and the environment.

Arguments win over environment variables, which win over defaults. The one
rule that matters most: no API key (or an opt-out) means the SDK is off, and
an off SDK starts no thread and opens no socket.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

from heliograph_sdk._env import env_bool, env_choice, env_int, env_str, parse_bool

DEFAULT_HOST = "http://127.0.0.1:8000"
DEFAULT_PAYLOAD_MAX_CHARS = 30_000
IDENTIFY_MODES = ("none", "id", "email", "full")
DEFAULT_IDENTIFY = "id"


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything the client needs, resolved once at ``init``."""

    api_key: str | None = None
    host: str = DEFAULT_HOST
    environment: str = "unknown"
    release: str | None = None
    identify: str = DEFAULT_IDENTIFY
    llm_payloads: bool = False
    llm_payload_max_chars: int = DEFAULT_PAYLOAD_MAX_CHARS
    opt_out: bool = False
    capture_locals: bool = False
    in_app_include: tuple[str, ...] = ()
    in_app_exclude: tuple[str, ...] = ()
    install_hooks: bool = True
    max_queue_size: int = 10_000
    batch_size: int = 100
    flush_interval: float = 0.5
    request_timeout: float = 10.0
    max_retries: int = 6
    shutdown_timeout: float = 2.0
    client_report_interval: float = 60.0
    browser_host: str | None = None
    # A Heliograph API token that may read the project: flags are then evaluated
    # locally from definitions polled this often (seconds).
    flags_token: str | None = None
    flags_poll_interval: float = 30.0
    # The longest a flag call waits for the server when it must ask it.
    flags_timeout: float = 1.0
    # A Heliograph API token that may read the project, for get_prompt (else
    # flags_token); how long a fetched prompt is fresh, and the longest the first
    # fetch of a prompt waits before the fallback is used (seconds).
    prompts_token: str | None = None
    prompt_cache_ttl: float = 60.0
    prompt_timeout: float = 2.0

    @property
    def enabled(self) -> bool:
        return bool(self.api_key) and not self.opt_out


def resolve_environment(explicit: str | None, environ: Mapping[str, str] | None) -> str:
    """Explicit name, else ``development`` under the dev flag, else the channel, else unknown.

    Reads ``HELIOGRAPH_ENVIRONMENT``, then ``HELIOGRAPH_DEV`` (a boolean), then
    ``HELIOGRAPH_CHANNEL`` (a release channel such as ``stable`` or ``beta``).
    """
    if explicit:
        return explicit
    named = env_str("HELIOGRAPH_ENVIRONMENT", environ)
    if named:
        return named
    if env_bool("HELIOGRAPH_DEV", False, environ):
        return "development"
    channel = env_str("HELIOGRAPH_CHANNEL", environ)
    if channel:
        return channel
    return "unknown"


def _bool_arg(value: bool | str | None, name: str, default: bool) -> bool | None:
    if value is None:
        return None
    if isinstance(value, str):
        return parse_bool(value, name=name, default=default)
    return bool(value)


def resolve(
    *,
    api_key: str | None = None,
    host: str | None = None,
    environment: str | None = None,
    release: str | None = None,
    identify: str | None = None,
    llm_payloads: bool | str | None = None,
    llm_payload_max_chars: int | None = None,
    opt_out: bool | str | None = None,
    capture_locals: bool = False,
    in_app_include: Sequence[str] = (),
    in_app_exclude: Sequence[str] = (),
    install_hooks: bool = True,
    browser_host: str | None = None,
    flags_token: str | None = None,
    prompts_token: str | None = None,
    environ: Mapping[str, str] | None = None,
    **tuning: float,
) -> Settings:
    """Merge arguments, environment variables and defaults into :class:`Settings`."""
    payloads = _bool_arg(llm_payloads, "llm_payloads", False)
    opted_out = _bool_arg(opt_out, "opt_out", False)
    mode = (identify or "").lower() or env_choice(
        "HELIOGRAPH_IDENTIFY", IDENTIFY_MODES, DEFAULT_IDENTIFY, environ
    )
    if mode not in IDENTIFY_MODES:
        raise ValueError(f"identify must be one of {IDENTIFY_MODES}, not {identify!r}")
    settings = Settings(
        api_key=api_key or env_str("HELIOGRAPH_API_KEY", environ),
        host=(host or env_str("HELIOGRAPH_HOST", environ) or DEFAULT_HOST).rstrip("/"),
        environment=resolve_environment(environment, environ),
        release=release or env_str("HELIOGRAPH_RELEASE", environ),
        identify=mode,
        llm_payloads=(
            payloads
            if payloads is not None
            else env_bool("HELIOGRAPH_LLM_PAYLOADS", False, environ)
        ),
        llm_payload_max_chars=(
            llm_payload_max_chars
            if llm_payload_max_chars is not None
            else env_int(
                "HELIOGRAPH_LLM_PAYLOAD_MAX_CHARS", DEFAULT_PAYLOAD_MAX_CHARS, environ, minimum=1
            )
        ),
        opt_out=(
            opted_out if opted_out is not None else env_bool("HELIOGRAPH_OPT_OUT", False, environ)
        ),
        capture_locals=capture_locals,
        in_app_include=tuple(in_app_include),
        in_app_exclude=tuple(in_app_exclude),
        install_hooks=install_hooks,
        browser_host=browser_host.rstrip("/") if browser_host else None,
        flags_token=flags_token or env_str("HELIOGRAPH_FLAGS_TOKEN", environ),
        prompts_token=prompts_token or env_str("HELIOGRAPH_PROMPTS_TOKEN", environ),
    )
    known = set(Settings.__dataclass_fields__)
    unknown = set(tuning) - known
    if unknown:
        raise TypeError(f"unknown init() argument(s): {', '.join(sorted(unknown))}")
    if tuning:
        settings = replace(settings, **tuning)  # type: ignore[arg-type]
    return settings
