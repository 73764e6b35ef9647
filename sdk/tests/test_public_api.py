"""The public surface is a promise: pin it, and keep it documented."""

from __future__ import annotations

import inspect
import re
import subprocess
import sys
from pathlib import Path

import pytest

import heliograph_sdk

PUBLIC = [
    "DatasetItem",
    "ExperimentError",
    "ExperimentResult",
    "Generation",
    "HeliographLoggingHandler",
    "HeliographMiddleware",
    "Prompt",
    "Span",
    "__version__",
    "add_breadcrumb",
    "capture",
    "capture_exception",
    "capture_message",
    "claude_agent_query",
    "current_span",
    "feature_enabled",
    "flush",
    "get_feature_flag",
    "get_feature_flag_payload",
    "get_prompt",
    "init",
    "is_enabled",
    "isolated_scope",
    "langchain_handler",
    "observe",
    "openai_agents_processor",
    "run_experiment",
    "score",
    "set_context",
    "set_tag",
    "set_user",
    "shutdown",
    "trace",
    "trace_generation",
    "wrap_anthropic",
    "wrap_claude_agent",
    "wrap_cli",
    "wrap_openai",
]

SIGNATURES = {
    "init": "(api_key: 'str | None' = None, *, host: 'str | None' = None, "
    "environment: 'str | None' = None, release: 'str | None' = None, "
    "identify: 'str | None' = None, llm_payloads: 'bool | None' = None, "
    "llm_payload_max_chars: 'int | None' = None, opt_out: 'bool | None' = None, "
    "capture_locals: 'bool' = False, in_app_include: 'Sequence[str]' = (), "
    "in_app_exclude: 'Sequence[str]' = (), install_hooks: 'bool' = True, "
    "browser_host: 'str | None' = None, flags_token: 'str | None' = None, "
    "flags_poll_interval: 'float' = 30.0, flags_timeout: 'float' = 1.0, "
    "prompts_token: 'str | None' = None, prompt_cache_ttl: 'float' = 60.0, "
    "prompt_timeout: 'float' = 2.0, max_queue_size: 'int' = 10000, "
    "batch_size: 'int' = 100, flush_interval: 'float' = 0.5, "
    "request_timeout: 'float' = 10.0, max_retries: 'int' = 6, "
    "shutdown_timeout: 'float' = 2.0, client_report_interval: 'float' = 60.0) -> 'bool'",
    "capture": "(event: 'str', properties: 'Mapping[str, Any] | None' = None, *, "
    "distinct_id: 'str | None' = None) -> 'None'",
    "capture_exception": "(exc: 'BaseException | None' = None, *, level: 'str' = 'error', "
    "properties: 'Mapping[str, Any] | None' = None, fingerprint: 'str | None' = None) "
    "-> 'str | None'",
    "capture_message": "(message: 'str', level: 'str' = 'info', *, "
    "properties: 'Mapping[str, Any] | None' = None, fingerprint: 'str | None' = None) "
    "-> 'str | None'",
    "flush": "(timeout: 'float' = 2.0) -> 'bool'",
    "get_feature_flag": "(key: 'str', distinct_id: 'str | int | None' = None, *, "
    "person_properties: 'Mapping[str, Any] | None' = None, default: 'Any' = None) -> 'Any'",
    "feature_enabled": "(key: 'str', distinct_id: 'str | int | None' = None, *, "
    "person_properties: 'Mapping[str, Any] | None' = None, default: 'bool' = False) -> 'bool'",
    "shutdown": "(timeout: 'float' = 2.0) -> 'bool'",
    "get_prompt": "(name: 'str', *, label: 'str | None' = None, version: 'int | None' = None, "
    "fallback: 'Content | None' = None, cache_ttl: 'float | None' = None) -> 'Prompt | None'",
    "claude_agent_query": "(*, prompt: 'str | AsyncIterable[dict[str, Any]]', "
    "options: 'Any' = None, trace_name: 'str | None' = None, **kwargs: 'Any') "
    "-> 'AsyncIterator[Any]'",
    "wrap_claude_agent": "(client: 'C', *, trace_name: 'str | None' = None) -> 'C'",
    "langchain_handler": "(*, trace_name: 'str | None' = None, **properties: 'Any') "
    "-> 'BaseCallbackHandler'",
    "openai_agents_processor": "(**properties: 'Any') -> 'TracingProcessor'",
    "score": "(name: 'str', value: 'float | bool | str', *, trace_id: 'str | None' = None, "
    "generation_id: 'str | None' = None, session_id: 'str | None' = None, "
    "data_type: 'str | None' = None, comment: 'str | None' = None, id: 'str | None' = None, "
    "source: 'str' = 'sdk') -> 'str | None'",
}


def test_all_is_pinned() -> None:
    assert sorted(heliograph_sdk.__all__) == sorted(PUBLIC)
    for name in PUBLIC:
        assert hasattr(heliograph_sdk, name)


def test_no_other_public_names() -> None:
    exported = {n for n in vars(heliograph_sdk) if not n.startswith("_")}
    assert exported <= set(PUBLIC)


@pytest.mark.parametrize(("name", "signature"), sorted(SIGNATURES.items()))
def test_signatures_are_pinned(name: str, signature: str) -> None:
    assert str(inspect.signature(getattr(heliograph_sdk, name))) == signature


def test_internals_are_private_modules() -> None:
    package = Path(heliograph_sdk.__file__).parent
    modules = sorted(p.name for p in package.glob("*.py"))
    assert all(m == "__init__.py" or m.startswith("_") for m in modules)
    assert (package / "py.typed").exists()


def test_import_starts_nothing_and_needs_no_server_package() -> None:
    code = (
        "import sys, threading\n"
        "import heliograph_sdk\n"
        "assert threading.active_count() == 1, threading.enumerate()\n"
        "assert 'heliograph' not in sys.modules\n"
        "bad = [m for m in ('openai', 'anthropic', 'starlette', 'click', 'typer', 'httpx',"
        " 'langchain_core', 'langgraph', 'agents', 'claude_agent_sdk') if m in sys.modules]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


DOCS = Path(__file__).resolve().parents[2] / "docs" / "sdk.md"


@pytest.mark.skipif(not DOCS.exists(), reason="docs live in the Heliograph repository")
def test_every_public_name_and_setting_is_documented() -> None:
    text = DOCS.read_text()
    for name in PUBLIC:
        if name != "__version__":
            assert re.search(rf"\b{name}\b", text), f"{name} is not documented"
    for parameter in inspect.signature(heliograph_sdk.init).parameters:
        assert f"`{parameter}`" in text, f"init({parameter}=) is not documented"
    for variable in (
        "HELIOGRAPH_API_KEY",
        "HELIOGRAPH_HOST",
        "HELIOGRAPH_ENVIRONMENT",
        "HELIOGRAPH_DEV",
        "HELIOGRAPH_CHANNEL",
        "HELIOGRAPH_RELEASE",
        "HELIOGRAPH_IDENTIFY",
        "HELIOGRAPH_LLM_PAYLOADS",
        "HELIOGRAPH_LLM_PAYLOAD_MAX_CHARS",
        "HELIOGRAPH_OPT_OUT",
    ):
        assert variable in text, f"{variable} is not documented"
