"""Reading the usage instrumentations record as JSON beside a span's attributes.

Some counts are on no attribute: Google ADK keeps the cached (and, in older 1.x
releases, the thinking) tokens only in its JSON of the model's response, Logfire the
cache split only in the provider's usage object (``gen_ai.usage.raw``), and
OpenInference an Anthropic call's web searches and fast mode only in its JSON of the
response. This module decodes those, rarely and defensively (top-level members only,
a text that is not the expected JSON adds nothing), apart from the one-pass attribute
reader in ``usage.py`` that calls it. It also holds the check every count passes,
:func:`read_count`, since a count is read alike from an attribute and from JSON.

Data flows one way: ``_vocabulary`` <- this module <- ``usage``.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

from ._vocabulary import (
    CACHE_READ,
    CACHE_WRITE,
    CACHE_WRITE_1H,
    CACHE_WRITE_5M,
    INPUT_AUDIO,
    OUTPUT_AUDIO,
    POSITION_CACHE_READ,
    POSITION_CACHE_WRITE,
    POSITION_REASONING,
    POSITION_REASONING_EXCLUDED,
    REASONING,
    RESPONSE_JSON,
    TOKEN_POSITION,
    USAGE_JSON,
    VOCABULARY,
)
from .pricing.model import TokenUsage

#: The largest token count believed: more is a broken attribute.
MAX_TOKENS = 10**12


class BadValue(ValueError):
    """A value that is no count; its message, which names the attribute, is what
    ``SpanUsage.invalid`` says."""


def read_count(value: object, key: str | None) -> int:
    """A token count from an attribute value: ints, integral floats and digit
    strings are accepted (some emitters send strings); anything else is invalid."""
    if type(value) is int:
        count = value
    elif isinstance(value, bool):
        raise BadValue(f"{key}: boolean is not a token count")
    elif isinstance(value, int):
        count = int(value)
    elif isinstance(value, float):
        if not math.isfinite(value) or value != int(value):
            raise BadValue(f"{key}: {value!r} is not a whole number")
        count = int(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            number = float(text) if text else math.nan
        except ValueError:
            raise BadValue(f"{key}: {value[:40]!r} is not a number") from None
        if not math.isfinite(number) or number != int(number):
            raise BadValue(f"{key}: {value[:40]!r} is not a whole number")
        count = int(number)
    else:
        raise BadValue(f"{key}: {type(value).__name__} is not a token count")
    if count < 0:
        raise BadValue(f"{key}: negative ({count})")
    if count > MAX_TOKENS:
        raise BadValue(f"{key}: implausibly large ({count})")
    return count


_ADK_RESPONSE_KEY, _LOGFIRE_USAGE_KEY = VOCABULARY[USAGE_JSON]


def add_usage_json(counts: list[int], key: str, value: object) -> None:
    """Fill in, from the JSON under ``key``, the counts the span's attributes leave out."""
    if key == _ADK_RESPONSE_KEY:
        _add_adk_usage_metadata(counts, value)
    else:
        _add_provider_usage(counts, value)


#: Where a provider's usage object keeps the counts Logfire's attributes leave out:
#: (position in the counts, path in the object). Anthropic's cache counts are outside its
#: input_tokens; OpenAI's cached, audio and reasoning counts are parts of its prompt and
#: completion counts (chat) or input and output counts (responses).
_PROVIDER_USAGE_PATHS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (TOKEN_POSITION[CACHE_READ], ("cache_read_input_tokens",)),
    (TOKEN_POSITION[CACHE_WRITE], ("cache_creation_input_tokens",)),
    (TOKEN_POSITION[CACHE_WRITE_5M], ("cache_creation", "ephemeral_5m_input_tokens")),
    (TOKEN_POSITION[CACHE_WRITE_1H], ("cache_creation", "ephemeral_1h_input_tokens")),
    (TOKEN_POSITION[CACHE_READ], ("prompt_tokens_details", "cached_tokens")),
    (TOKEN_POSITION[CACHE_READ], ("input_tokens_details", "cached_tokens")),
    (TOKEN_POSITION[INPUT_AUDIO], ("prompt_tokens_details", "audio_tokens")),
    (TOKEN_POSITION[OUTPUT_AUDIO], ("completion_tokens_details", "audio_tokens")),
    (TOKEN_POSITION[REASONING], ("completion_tokens_details", "reasoning_tokens")),
    (TOKEN_POSITION[REASONING], ("output_tokens_details", "reasoning_tokens")),
)


def _add_provider_usage(counts: list[int], usage: object) -> None:
    """Fill in, from Logfire's ``gen_ai.usage.raw`` (the provider's own usage object as
    JSON), the counts its attributes leave out: Logfire 5.2.0 and 6.0.0b8 write an input
    count that includes the cache, and the cache split only here. A count on the span wins
    (a slot already filled is left alone, as is every slot of a span that records a cache
    count: its instrumentation wrote the split itself). Only the object's top-level usage
    keys are read; a value that is not a JSON object adds nothing."""
    if not isinstance(usage, str) or "tokens" not in usage:
        return
    if counts[POSITION_CACHE_READ] or counts[POSITION_CACHE_WRITE]:
        return
    try:
        decoded = json.loads(usage)
    except (ValueError, RecursionError):
        return
    if not isinstance(decoded, dict):
        return
    recorded = [count != 0 for count in counts]
    for position, path in _PROVIDER_USAGE_PATHS:
        if recorded[position]:
            continue
        found: object = decoded
        for name in path:
            found = found.get(name) if isinstance(found, dict) else None
        if found is None:
            continue
        count = read_count(found, f"{_LOGFIRE_USAGE_KEY} {'.'.join(path)}")
        if count:
            counts[position] = count
            recorded[position] = True  # the first path found wins (Anthropic's before OpenAI's)


def _add_adk_usage_metadata(counts: list[int], response: object) -> None:
    """Fill in, from Google ADK's JSON of the model's response, the counts its span
    attributes leave out: ADK 1.x writes ``gen_ai.usage.input_tokens`` (Gemini's
    ``prompt_token_count``, which includes the cached tokens) and no cache count, and
    releases before ``gen_ai.usage.experimental.reasoning_tokens`` no thinking count.
    A count on the span wins. A response that is not JSON (``{}`` when ADK is told not
    to record content, ``<not serializable>``) adds nothing: the call is then priced
    as uncached. Only the top-level ``usage_metadata`` is read, so text in the
    response's content cannot pass for a count."""
    if not isinstance(response, str) or "usage_metadata" not in response:
        return
    try:
        decoded = json.loads(response)
    except (ValueError, RecursionError):
        return
    metadata = decoded.get("usage_metadata") if isinstance(decoded, dict) else None
    if not isinstance(metadata, dict):
        return
    cached = metadata.get("cached_content_token_count")
    if cached is not None and not counts[POSITION_CACHE_READ] and not counts[POSITION_CACHE_WRITE]:
        counts[POSITION_CACHE_READ] = read_count(
            cached, f"{_ADK_RESPONSE_KEY} usage_metadata.cached_content_token_count"
        )
    thoughts = metadata.get("thoughts_token_count")
    if thoughts is not None and not counts[POSITION_REASONING] and not counts[POSITION_REASONING_EXCLUDED]:
        # Gemini's candidates_token_count, ADK 1.x's output count, leaves thoughts out.
        counts[POSITION_REASONING_EXCLUDED] = read_count(
            thoughts, f"{_ADK_RESPONSE_KEY} usage_metadata.thoughts_token_count"
        )


#: Decodes the one member of a response's JSON that is read (``raw_decode`` from an offset).
_JSON_MEMBER = json.JSONDecoder()
_RESPONSE_JSON_KEY = VOCABULARY[RESPONSE_JSON][0]


def served_usage_key(response_key: str | None, usage_json_key: str | None) -> str | None:
    """The attribute that holds an Anthropic call's usage object: in the response
    OpenInference records as JSON, or as the usage itself (Logfire's raw usage)."""
    if response_key is not None:
        return response_key
    return usage_json_key if usage_json_key == _LOGFIRE_USAGE_KEY else None


def with_served(
    usage: TokenUsage, tier: str | None, key: str, value: object
) -> tuple[TokenUsage, str | None]:
    """``usage`` and ``tier`` with what an Anthropic call's usage object says beyond its
    tokens: the web searches the call ran (priced per search) and fast mode (priced as
    service tier ``fast``). The speed the call was served at beats a tier read from the
    request."""
    if key == _LOGFIRE_USAGE_KEY:
        searches, fast = _served_in_raw_usage(value)
    else:
        searches, fast = _served_by_anthropic(value)
    if searches:
        usage = replace(usage, web_searches=searches)
    return usage, "fast" if fast else tier


def _served_by_anthropic(response: object) -> tuple[int, bool]:
    """(web searches, served in fast mode) from the ``usage`` member of an Anthropic
    Messages response as JSON (OpenInference's ``output.value``, for streamed calls too).

    ``usage`` is a Message's last member as the SDK serialises it, so it is found from the
    end of the text at once, however long the content before it, and decoded only when it
    mentions a search count or a speed of ``fast`` (rarely). A text whose last member is
    not ``usage`` (another serialiser; a tool input naming a ``usage`` of its own ends
    before it) adds nothing: the call is priced for its tokens at standard speed, as
    without the JSON. Raises BadValue for a search count that is no count."""
    if not isinstance(response, str):
        return 0, False
    at = response.rfind('"usage"')
    if at < 0:
        return 0, False
    tail = response[at:]
    if "web_search_requests" not in tail and "fast" not in tail:
        return 0, False
    start = at + len('"usage"')
    while start < len(response) and response[start] in " \t\r\n:":
        start += 1
    try:
        usage, end = _JSON_MEMBER.raw_decode(response, start)
    except (ValueError, RecursionError):
        return 0, False
    if not isinstance(usage, dict) or response[end:].strip() != "}":
        return 0, False
    return _served_in(usage, f"{_RESPONSE_JSON_KEY} usage")


def _served_in_raw_usage(raw: object) -> tuple[int, bool]:
    """(web searches, served in fast mode) from Logfire's ``gen_ai.usage.raw``: Anthropic's
    usage object itself, as JSON (decoded only when it mentions either, rarely)."""
    if not isinstance(raw, str) or ("web_search_requests" not in raw and "fast" not in raw):
        return 0, False
    try:
        usage = json.loads(raw)
    except (ValueError, RecursionError):
        return 0, False
    return _served_in(usage, _LOGFIRE_USAGE_KEY) if isinstance(usage, dict) else (0, False)


def _served_in(usage: dict[str, object], where: str) -> tuple[int, bool]:
    server = usage.get("server_tool_use")
    searches = server.get("web_search_requests") if isinstance(server, dict) else None
    count = 0 if searches is None else read_count(searches, f"{where}.server_tool_use.web_search_requests")
    return count, usage.get("speed") == "fast"
