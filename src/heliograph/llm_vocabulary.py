"""The LLM analytics vocabulary: the ``$ai_*`` event and property names, spelled once.

PostHog's LLM analytics events are the canonical form of an LLM call here:
the PostHog adapter keeps them as sent, the OTLP adapter writes the same
names (:mod:`heliograph.protocols.genai`), digest prices them, every backend
shapes them into rows, and the pages read them back. Whatever writes a name
and whatever reads it must agree, so they all take it from this module.

Each constant is its wire name, upper-cased, without the ``$``
(``$ai_input_tokens`` is :data:`AI_INPUT_TOKENS`), so the code still reads
as the wire format does. The types are those of ``docs/protocols.md``
("LLM analytics properties"). Nothing here imports the rest of heliograph.
"""

from __future__ import annotations

import re

__all__ = [
    "AI_AGENT_NAME",
    "AI_BASE_URL",
    "AI_CACHE_CREATION_INPUT_TOKENS",
    "AI_CACHE_CREATION_TOKEN_PRICE",
    "AI_CACHE_READ_INPUT_TOKENS",
    "AI_CACHE_READ_TOKEN_PRICE",
    "AI_CACHE_REPORTING_EXCLUSIVE",
    "AI_COST_MODEL",
    "AI_COST_SOURCE",
    "AI_EMBEDDING",
    "AI_ERROR",
    "AI_GENERATION",
    "AI_GENERATION_ID",
    "AI_HTTP_STATUS",
    "AI_INPUT",
    "AI_INPUT_COST_USD",
    "AI_INPUT_STATE",
    "AI_INPUT_TOKENS",
    "AI_INPUT_TOKEN_PRICE",
    "AI_INSTRUCTIONS",
    "AI_IS_ERROR",
    "AI_LATENCY",
    "AI_MAX_TOKENS",
    "AI_MODEL",
    "AI_MODEL_PARAMETERS",
    "AI_OUTPUT",
    "AI_OUTPUT_CHOICES",
    "AI_OUTPUT_COST_USD",
    "AI_OUTPUT_STATE",
    "AI_OUTPUT_TOKENS",
    "AI_OUTPUT_TOKEN_PRICE",
    "AI_PARENT_ID",
    "AI_PAYLOADS_DROPPED",
    "AI_PREFIX",
    "AI_PROMPT_ID",
    "AI_PROMPT_NAME",
    "AI_PROMPT_VERSION",
    "AI_PROVIDER",
    "AI_REASONING_TOKENS",
    "AI_RESPONSE_ID",
    "AI_SERVICE_TIER",
    "AI_SESSION_ID",
    "AI_SPAN",
    "AI_SPAN_ID",
    "AI_SPAN_NAME",
    "AI_STOP_REASON",
    "AI_STREAM",
    "AI_TEMPERATURE",
    "AI_TIME_TO_FIRST_TOKEN",
    "AI_TOOLS",
    "AI_TOOL_NAME",
    "AI_TOTAL_COST_USD",
    "AI_TOTAL_TOKENS",
    "AI_TRACE",
    "AI_TRACE_ID",
    "AI_TRACE_NAME",
    "AI_WEB_SEARCH_COUNT",
    "BOOL_PROPERTIES",
    "FLOAT_PROPERTIES",
    "ID_PROPERTIES",
    "INT_PROPERTIES",
    "LLM_EVENTS",
    "MONEY_PROPERTY",
    "OTEL_SPAN_KIND",
    "PAYLOAD_KEYS",
    "PRICED_EVENTS",
    "TOKEN_PROPERTY",
]

AI_PREFIX = "$ai_"
"""What every LLM analytics event and property name starts with."""

# --- events -------------------------------------------------------------------------
# One model call, one embedding call, a unit of work around calls (a tool, a
# retrieval step, an agent), and the trace that closes a whole request.

AI_GENERATION = "$ai_generation"
AI_EMBEDDING = "$ai_embedding"
AI_SPAN = "$ai_span"
AI_TRACE = "$ai_trace"

PRICED_EVENTS = frozenset({AI_GENERATION, AI_EMBEDDING})
"""The events that are model calls: priced at digest, counted in the usage rollups
and in a trace's generations, tokens and cost."""

LLM_EVENTS = frozenset({AI_GENERATION, AI_EMBEDDING, AI_SPAN, AI_TRACE})
"""The LLM analytics event kinds drawn in a trace."""

# --- identity and the trace tree ----------------------------------------------------
# Which trace, span and session an event belongs to, its parent (a span id,
# or the trace id for a top-level call), and the names it is shown under.

AI_TRACE_ID = "$ai_trace_id"
AI_SPAN_ID = "$ai_span_id"
AI_PARENT_ID = "$ai_parent_id"
AI_SESSION_ID = "$ai_session_id"
AI_GENERATION_ID = "$ai_generation_id"
AI_PROMPT_ID = "$ai_prompt_id"
# The managed prompt (docs/prompts.md) and version that produced a call, as
# PostHog's SDKs name them: the prompts page compares versions by these.
AI_PROMPT_NAME = "$ai_prompt_name"
AI_PROMPT_VERSION = "$ai_prompt_version"
AI_SPAN_NAME = "$ai_span_name"
AI_TRACE_NAME = "$ai_trace_name"

# --- the call -----------------------------------------------------------------------
# Who answered, how, how long it took (seconds) and whether it failed.

AI_MODEL = "$ai_model"
AI_PROVIDER = "$ai_provider"
AI_BASE_URL = "$ai_base_url"
AI_RESPONSE_ID = "$ai_response_id"
AI_HTTP_STATUS = "$ai_http_status"
AI_STREAM = "$ai_stream"
AI_LATENCY = "$ai_latency"
AI_TIME_TO_FIRST_TOKEN = "$ai_time_to_first_token"
AI_STOP_REASON = "$ai_stop_reason"
AI_MODEL_PARAMETERS = "$ai_model_parameters"
AI_TEMPERATURE = "$ai_temperature"
AI_MAX_TOKENS = "$ai_max_tokens"
AI_SERVICE_TIER = "$ai_service_tier"
AI_WEB_SEARCH_COUNT = "$ai_web_search_count"
AI_TOOL_NAME = "$ai_tool_name"
AI_AGENT_NAME = "$ai_agent_name"
AI_IS_ERROR = "$ai_is_error"
AI_ERROR = "$ai_error"

OTEL_SPAN_KIND = "$otel_span_kind"
"""Set by the OTLP adapter: the event is stamped with its span's *start*, where
PostHog clients stamp the *end* of the call."""

# --- tokens -------------------------------------------------------------------------
# Counts as the client reported them; whether cache reads and writes are
# inside the input count is the client's to say (see heliograph.digest.costs).

AI_INPUT_TOKENS = "$ai_input_tokens"
AI_OUTPUT_TOKENS = "$ai_output_tokens"
AI_TOTAL_TOKENS = "$ai_total_tokens"
AI_CACHE_READ_INPUT_TOKENS = "$ai_cache_read_input_tokens"
AI_CACHE_CREATION_INPUT_TOKENS = "$ai_cache_creation_input_tokens"
AI_REASONING_TOKENS = "$ai_reasoning_tokens"
AI_CACHE_REPORTING_EXCLUSIVE = "$ai_cache_reporting_exclusive"

# --- cost ---------------------------------------------------------------------------
# Costs in USD (sent by the client or set by digest), where they came from,
# which price-table model matched, and per-token prices a client may send.

AI_INPUT_COST_USD = "$ai_input_cost_usd"
AI_OUTPUT_COST_USD = "$ai_output_cost_usd"
AI_TOTAL_COST_USD = "$ai_total_cost_usd"
AI_COST_SOURCE = "$ai_cost_source"
AI_COST_MODEL = "$ai_cost_model"
AI_INPUT_TOKEN_PRICE = "$ai_input_token_price"
AI_OUTPUT_TOKEN_PRICE = "$ai_output_token_price"
AI_CACHE_READ_TOKEN_PRICE = "$ai_cache_read_token_price"
AI_CACHE_CREATION_TOKEN_PRICE = "$ai_cache_creation_token_price"

# --- payloads -----------------------------------------------------------------------
# Prompt and completion content: kept or dropped by the project's policy.

AI_INPUT = "$ai_input"
AI_OUTPUT = "$ai_output"
AI_OUTPUT_CHOICES = "$ai_output_choices"
AI_INPUT_STATE = "$ai_input_state"
AI_OUTPUT_STATE = "$ai_output_state"
AI_INSTRUCTIONS = "$ai_instructions"
AI_TOOLS = "$ai_tools"
AI_PAYLOADS_DROPPED = "$ai_payloads_dropped"

PAYLOAD_KEYS = (
    AI_INPUT,
    AI_OUTPUT,
    AI_OUTPUT_CHOICES,
    AI_INPUT_STATE,
    AI_OUTPUT_STATE,
    AI_INSTRUCTIONS,
    AI_TOOLS,
)
"""The properties that carry prompt or completion content, from PostHog clients
(``$ai_instructions``: the Responses API's system prompt; ``$ai_output``: older
clients) and from the OTLP adapter (which writes the same names)."""

# --- types --------------------------------------------------------------------------
# What each $ai_* property is coerced to at ingest; a name in none of these
# is kept as sent.

ID_PROPERTIES = frozenset(
    {AI_TRACE_ID, AI_SPAN_ID, AI_PARENT_ID, AI_SESSION_ID, AI_GENERATION_ID, AI_PROMPT_ID}
)
"""Ids: strings."""

FLOAT_PROPERTIES = frozenset({AI_LATENCY, AI_TIME_TO_FIRST_TOKEN, AI_TEMPERATURE})
"""Floats (seconds, for durations)."""

INT_PROPERTIES = frozenset({AI_HTTP_STATUS, AI_MAX_TOKENS, AI_WEB_SEARCH_COUNT})
"""Integers, besides the token counts."""

BOOL_PROPERTIES = frozenset({AI_IS_ERROR, AI_STREAM, AI_CACHE_REPORTING_EXCLUSIVE})
"""Flags."""

TOKEN_PROPERTY = re.compile(r"^\$ai_\w*tokens$")
"""Token counts, integers (``$ai_input_tokens``, ``$ai_input_audio_tokens``...)."""

MONEY_PROPERTY = re.compile(r"^\$ai_\w*(_cost_usd|_token_price)$")
"""Costs and custom per-token prices, USD floats."""
