"""Reading the usage instrumentations record as JSON beside a span's attributes.

Some counts are on no attribute: Google ADK keeps the cached (and, in older 1.x
releases, the thinking) tokens only in its JSON of the model's response, Logfire the
cache split only in the provider's usage object (``gen_ai.usage.raw``), the Vercel AI
SDK the cache writes (and more, up to release 5) only in its provider metadata
(``ai.response.providerMetadata``), and OpenInference an Anthropic call's web searches,
fast mode and 1-hour cache writes only in its JSON of the response. This module decodes
those, rarely and defensively (known members only, a text that is not the expected JSON
adds nothing), apart from the one-pass attribute reader in ``usage.py`` that calls it.
It also holds the check every count passes, :func:`read_count`, since a count is read
alike from an attribute and from JSON.

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


_ADK_RESPONSE_KEY, _LOGFIRE_USAGE_KEY, _AI_SDK_METADATA_KEY = VOCABULARY[USAGE_JSON]


def add_usage_json(counts: list[int], key: str, value: object) -> None:
    """Fill in, from the JSON under ``key``, the counts the span's attributes leave out."""
    if key == _ADK_RESPONSE_KEY:
        _add_adk_usage_metadata(counts, value)
    elif key == _LOGFIRE_USAGE_KEY:
        _add_provider_usage(counts, value)
    else:
        _add_ai_sdk_provider_metadata(counts, value)


def mentions_count(text: str, name: str) -> bool:
    """Whether ``text`` (JSON) gives the member ``name`` a positive number anywhere: the cheap
    check that decides whether a JSON text is worth decoding for that count (most calls
    write no cache, think not, are served at 1-hour TTL never). A count written as a string
    or a negative one does not pass: it is read as absent, as any text that is not the
    expected JSON."""
    needle = f'"{name}"'
    at = text.find(needle)
    while at >= 0:
        at += len(needle)
        while at < len(text) and text[at] in " \t\r\n:":
            at += 1
        if at < len(text) and text[at] in "123456789":
            return True
        at = text.find(needle, at)
    return False


#: What a Vercel AI SDK provider keeps in its provider metadata that the span's counts leave
#: out: (the provider's member, ((position in the counts, path in the member), ...)); the first
#: path found for a position wins. ``@ai-sdk/anthropic`` 2.x keeps Anthropic's usage object
#: whole (``usage``; AI SDK 5 writes no cache read count on a generate span, and no cache write
#: count at all) and 1.x (AI SDK 4) the two cache counts; the 1-hour part of the writes is in
#: the usage object only, in every release. ``@ai-sdk/google`` 2.x keeps Gemini's
#: ``usageMetadata`` (AI SDK 5 writes no thinking or cache count on a generate span).
#: ``@ai-sdk/amazon-bedrock`` 3.x keeps the cache writes (the reads are in the stream span's
#: ``ai.usage.cachedInputTokens`` only: a generate span loses them).
_AI_SDK_METADATA_PATHS: tuple[tuple[str, tuple[tuple[int, tuple[str, ...]], ...]], ...] = (
    (
        "anthropic",
        (
            (POSITION_CACHE_READ, ("usage", "cache_read_input_tokens")),
            (POSITION_CACHE_READ, ("cacheReadInputTokens",)),
            (POSITION_CACHE_WRITE, ("usage", "cache_creation_input_tokens")),
            (POSITION_CACHE_WRITE, ("cacheCreationInputTokens",)),
            (TOKEN_POSITION[CACHE_WRITE_1H], ("usage", "cache_creation", "ephemeral_1h_input_tokens")),
        ),
    ),
    (
        "google",
        (
            (POSITION_REASONING, ("usageMetadata", "thoughtsTokenCount")),
            (POSITION_CACHE_READ, ("usageMetadata", "cachedContentTokenCount")),
        ),
    ),
    ("bedrock", ((POSITION_CACHE_WRITE, ("usage", "cacheWriteInputTokens")),)),
)


_POSITION_WRITE_1H = TOKEN_POSITION[CACHE_WRITE_1H]


def _add_ai_sdk_provider_metadata(counts: list[int], metadata: object) -> None:
    """Fill in, from the Vercel AI SDK's ``ai.response.providerMetadata`` (JSON keyed by
    provider), the counts its attributes leave out (see ``_AI_SDK_METADATA_PATHS``). A count
    on the span wins: a position already filled is left alone. The 1-hour writes read here
    are at most the writes counted (a part of them). Decoded only when the text gives a
    positive count to a name whose position is still empty (``mentions_count``), so the
    metadata of a call with no cache and no thinking, and of any OpenAI call, costs a few
    substring searches."""
    if not isinstance(metadata, str):
        return
    wanted: list[tuple[str, tuple[tuple[int, tuple[str, ...]], ...]]] = []
    for member, paths in _AI_SDK_METADATA_PATHS:
        if f'"{member}"' in metadata and any(
            not counts[position] and mentions_count(metadata, path[-1]) for position, path in paths
        ):
            wanted.append((member, paths))
    if not wanted:
        return
    try:
        decoded = json.loads(metadata)
    except (ValueError, RecursionError):
        return
    if not isinstance(decoded, dict):
        return
    written_1h = counts[_POSITION_WRITE_1H]
    for member, paths in wanted:
        _fill_from(counts, decoded.get(member), paths, f"{_AI_SDK_METADATA_KEY} {member}.")
    if counts[_POSITION_WRITE_1H] != written_1h:
        counts[_POSITION_WRITE_1H] = min(counts[_POSITION_WRITE_1H], counts[POSITION_CACHE_WRITE])


def _fill_from(
    counts: list[int], found_in: object, paths: tuple[tuple[int, tuple[str, ...]], ...], where: str
) -> None:
    """Fill the empty positions of ``counts`` from the ``paths`` of a decoded JSON object
    (the first path found for a position wins; a missing or null member adds nothing).
    ``where`` and the path name a count that is no count (BadValue)."""
    recorded = [count != 0 for count in counts]
    for position, path in paths:
        if recorded[position]:
            continue
        found: object = found_in
        for name in path:
            found = found.get(name) if isinstance(found, dict) else None
        if found is None:
            continue
        count = read_count(found, f"{where}{'.'.join(path)}")
        if count:
            counts[position] = count
            recorded[position] = True


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
    # (the first path found wins: Anthropic's before OpenAI's)
    _fill_from(counts, decoded, _PROVIDER_USAGE_PATHS, f"{_LOGFIRE_USAGE_KEY} ")


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
    OpenInference records as JSON, as the usage itself (Logfire's raw usage), or in the
    Vercel AI SDK's provider metadata (``anthropic.usage``, passed through as Anthropic sent it)."""
    if response_key is not None:
        return response_key
    return usage_json_key if usage_json_key in (_LOGFIRE_USAGE_KEY, _AI_SDK_METADATA_KEY) else None


def with_served(
    usage: TokenUsage, tier: str | None, key: str, value: object
) -> tuple[TokenUsage, str | None]:
    """``usage`` and ``tier`` with what an Anthropic call's usage object says beyond its
    counts: the web searches the call ran (priced per search), fast mode (priced as service
    tier ``fast``) and the part of its cache writes with the 1-hour TTL (priced at the 1-hour
    rate; at most the writes counted, and only where no 1-hour count was read already). The
    speed the call was served at beats a tier read from the request."""
    want_1h = usage.cache_write_1h_tokens == 0 and usage.cache_write_tokens > 0
    if key == _LOGFIRE_USAGE_KEY:
        found, where = _usage_in_raw_usage(value, want_1h), _LOGFIRE_USAGE_KEY
    elif key == _AI_SDK_METADATA_KEY:
        found, where = _usage_in_ai_sdk_metadata(value, want_1h), f"{_AI_SDK_METADATA_KEY} anthropic.usage"
    else:
        found, where = _usage_in_response(value, want_1h), f"{_RESPONSE_JSON_KEY} usage"
    if found is None:
        return usage, tier
    searches, fast = _served_in(found, where)
    if want_1h:
        written_1h = _written_1h(found, where)
        if written_1h:
            usage = replace(usage, cache_write_1h_tokens=min(written_1h, usage.cache_write_tokens))
    if searches:
        usage = replace(usage, web_searches=searches)
    return usage, "fast" if fast else tier


#: The member of Anthropic's ``usage.cache_creation`` with the writes of the 1-hour TTL.
_WRITES_1H = "ephemeral_1h_input_tokens"


def _worth_decoding(text: str, want_1h: bool) -> bool:
    """Whether an Anthropic usage object (as JSON text) may say more than its counts: a search
    count, a speed of ``fast`` or (``want_1h``: the span counts cache writes, and no 1-hour
    part of them) a positive count of 1-hour writes. Rarely: most calls say none of these."""
    return (
        "web_search_requests" in text or "fast" in text or (want_1h and mentions_count(text, _WRITES_1H))
    )


def _usage_in_response(response: object, want_1h: bool) -> dict[str, object] | None:
    """The ``usage`` member of an Anthropic Messages response as JSON (OpenInference's
    ``output.value``, for streamed calls too), when it may say more than the counts
    (:func:`_worth_decoding`).

    ``usage`` is a Message's last member as the SDK serialises it, so it is found from the
    end of the text at once, however long the content before it, and decoded only then. A
    text whose last member is not ``usage`` (another serialiser; a tool input naming a
    ``usage`` of its own ends before it) gives none: the call is priced for its tokens at
    standard speed, every write at the 5-minute rate, as without the JSON."""
    if not isinstance(response, str):
        return None
    at = response.rfind('"usage"')
    if at < 0 or not _worth_decoding(response[at:], want_1h):
        return None
    start = at + len('"usage"')
    while start < len(response) and response[start] in " \t\r\n:":
        start += 1
    try:
        usage, end = _JSON_MEMBER.raw_decode(response, start)
    except (ValueError, RecursionError):
        return None
    if not isinstance(usage, dict) or response[end:].strip() != "}":
        return None
    return usage


def _usage_in_raw_usage(raw: object, want_1h: bool) -> dict[str, object] | None:
    """Logfire's ``gen_ai.usage.raw`` (Anthropic's usage object itself, as JSON), decoded when
    it may say more than the counts (:func:`_worth_decoding`)."""
    if not isinstance(raw, str) or not _worth_decoding(raw, want_1h):
        return None
    try:
        usage = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return usage if isinstance(usage, dict) else None


def _usage_in_ai_sdk_metadata(metadata: object, want_1h: bool) -> dict[str, object] | None:
    """Anthropic's usage object in the Vercel AI SDK's ``ai.response.providerMetadata``
    (``{"anthropic": {"usage": {...}}}``), decoded when it may say more than the counts
    (:func:`_worth_decoding`). The SDK's spans count neither searches nor speed elsewhere."""
    if not isinstance(metadata, str) or not _worth_decoding(metadata, want_1h):
        return None
    try:
        decoded = json.loads(metadata)
    except (ValueError, RecursionError):
        return None
    anthropic = decoded.get("anthropic") if isinstance(decoded, dict) else None
    usage = anthropic.get("usage") if isinstance(anthropic, dict) else None
    return usage if isinstance(usage, dict) else None


def _served_by_anthropic(response: object) -> tuple[int, bool]:
    """(web searches, served in fast mode) from an Anthropic Messages response as JSON
    (see :func:`_usage_in_response`). Raises BadValue for a search count that is no count."""
    usage = _usage_in_response(response, False)
    return (0, False) if usage is None else _served_in(usage, f"{_RESPONSE_JSON_KEY} usage")


def _served_in(usage: dict[str, object], where: str) -> tuple[int, bool]:
    server = usage.get("server_tool_use")
    searches = server.get("web_search_requests") if isinstance(server, dict) else None
    count = 0 if searches is None else read_count(searches, f"{where}.server_tool_use.web_search_requests")
    return count, usage.get("speed") == "fast"


def _written_1h(usage: dict[str, object], where: str) -> int:
    """The cache writes with the 1-hour TTL an Anthropic usage object counts (0: none said)."""
    creation = usage.get("cache_creation")
    written = creation.get(_WRITES_1H) if isinstance(creation, dict) else None
    return 0 if written is None else read_count(written, f"{where}.cache_creation.{_WRITES_1H}")
