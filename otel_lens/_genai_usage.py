"""GenAI token usage read from a span's attributes, whichever convention the instrumentation speaks.

Three families of names are in use: the OTel GenAI semantic conventions (``gen_ai.usage.*``,
including their older ``prompt_tokens``/``completion_tokens`` spelling), OpenLLMetry's variants
(``gen_ai.usage.cache_read_input_tokens``, ``llm.usage.total_tokens`` …) and OpenInference
(``llm.token_count.*``, ``llm.model_name``, ``llm.provider``). Each quantity is read from the first
name present in the order below, never summed across names: an instrumentation that sets two
conventions on one span is counted once.

Meaning of the counts (as the GenAI conventions and OpenAI report them): input tokens include the
cache-read and cache-creation tokens, output tokens include the reasoning tokens.

A shared leaf module: the row builder reads usage from spans it stores, the read side (GenAI
transcripts) from spans it reads, by the same rules.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from otel_lens.store.codec import utf8_safe
from otel_lens.store.rows import GenAIUsage

_MAX_NAME = 1024

INPUT_TOKENS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens", "llm.token_count.prompt")
OUTPUT_TOKENS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens", "llm.token_count.completion")
TOTAL_TOKENS = ("gen_ai.usage.total_tokens", "llm.usage.total_tokens", "llm.token_count.total")
CACHE_READ = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "llm.token_count.prompt_details.cache_read",
)
CACHE_CREATION = (
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "llm.token_count.prompt_details.cache_write",
)
REASONING = (
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.usage.reasoning_tokens",
    "llm.usage.reasoning_tokens",
    "llm.token_count.completion_details.reasoning",
)
PROVIDER = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
MODEL = ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name")

USAGE_KEYS = frozenset(INPUT_TOKENS + OUTPUT_TOKENS + TOTAL_TOKENS)
"""A span reports usage when it has one of these; the exporter checks them before calling :func:`genai_usage`.

Cache and reasoning counts alone (without any input, output or total count) are not usage: they
only break those totals down.
"""


def _first(attributes: Mapping[str, Any], keys: Sequence[str]) -> Any:
    for key in keys:
        value = attributes.get(key)
        if value is not None:
            return value
    return None


def _tokens(attributes: Mapping[str, Any], keys: Sequence[str]) -> int | None:
    """The first count under ``keys`` as a non-negative int; None when absent or not a number."""
    value = _first(attributes, keys)
    if value is None or isinstance(value, bool):
        return None
    try:
        return max(int(value), 0)
    except (TypeError, ValueError, OverflowError):
        return None


def _name(attributes: Mapping[str, Any], keys: Sequence[str]) -> str:
    value = _first(attributes, keys)
    if value is None:
        return ""
    # Cut without a marker (a model name is a key of lens_usage), and valid UTF-8: a lone surrogate in a
    # model name must not fail the whole batch.
    return utf8_safe(str(value)[:_MAX_NAME])


def genai_usage(attributes: Mapping[str, Any]) -> GenAIUsage | None:
    """The token usage a span reports, or None when it reports none (see the module docstring for the names).

    A missing input or output count is derived from a total when one is given; a span reporting
    only a total has it counted as input (the split is unknown, and counting it nowhere would lose it).
    """
    if USAGE_KEYS.isdisjoint(attributes):
        return None
    input_tokens = _tokens(attributes, INPUT_TOKENS)
    output_tokens = _tokens(attributes, OUTPUT_TOKENS)
    total = _tokens(attributes, TOTAL_TOKENS)
    if input_tokens is None and output_tokens is None and total is None:
        return None
    if total is not None:
        if input_tokens is None:
            input_tokens = max(total - (output_tokens or 0), 0)
        elif output_tokens is None:
            output_tokens = max(total - input_tokens, 0)
    return GenAIUsage(
        provider=_name(attributes, PROVIDER),
        model=_name(attributes, MODEL),
        input_tokens=input_tokens or 0,
        output_tokens=output_tokens or 0,
        cache_read_tokens=_tokens(attributes, CACHE_READ) or 0,
        cache_creation_tokens=_tokens(attributes, CACHE_CREATION) or 0,
        reasoning_tokens=_tokens(attributes, REASONING) or 0,
    )
