"""Heliograph client SDK: errors, product analytics and LLM traces.

Off unless an API key is configured (``init(api_key=...)`` or
``HELIOGRAPH_API_KEY``); importing it starts nothing. See ``docs/sdk.md``.
"""

from heliograph_sdk._agents import (
    claude_agent_query,
    langchain_handler,
    openai_agents_processor,
    wrap_claude_agent,
)
from heliograph_sdk._api import (
    add_breadcrumb,
    capture,
    capture_exception,
    capture_message,
    feature_enabled,
    flush,
    get_feature_flag,
    get_feature_flag_payload,
    get_prompt,
    init,
    is_enabled,
    set_context,
    set_tag,
    set_user,
    shutdown,
)
from heliograph_sdk._asgi import HeliographMiddleware
from heliograph_sdk._cli import wrap_cli
from heliograph_sdk._experiments import (
    DatasetItem,
    ExperimentError,
    ExperimentResult,
    run_experiment,
)
from heliograph_sdk._generation import Generation, trace_generation
from heliograph_sdk._llm_anthropic import wrap_anthropic
from heliograph_sdk._llm_openai import wrap_openai
from heliograph_sdk._logging import HeliographLoggingHandler
from heliograph_sdk._prompts import Prompt
from heliograph_sdk._scope import isolated_scope
from heliograph_sdk._scores import score
from heliograph_sdk._tracing import Span, current_span, observe, trace
from heliograph_sdk._version import __version__

__all__ = [
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
