"""Reading billable work out of span attributes, whatever vocabulary wrote them.

Pure: takes the attribute mapping of a span, returns a :class:`SpanUsage`. It
knows the OpenTelemetry GenAI conventions (current and deprecated names),
OpenInference, OpenLLMetry, OpenLIT, Logfire / Pydantic AI and the Vercel AI
SDK, and normalises all of them to *inclusive* counts (input includes cache,
output includes reasoning) before anything is priced.

It is on the hot path, so it makes one pass over the attributes with a single
dict lookup per attribute, instead of probing ~60 possible keys.

The vocabulary it reads (which key means what in each dialect, the roles of operation
names and span kinds, the scopes whose counts leave something out) is data in
``_vocabulary.py``; the JSON some instrumentations record beside the attributes is read
in ``_usage_json.py``. This module is the reader itself and the public API: ``Role``,
``KNOWN_KEYS``, ``USAGE_ON_STREAM_LOG_SCOPES`` and :func:`vocabulary` are imported from here.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from operator import itemgetter

from ._usage_json import MAX_TOKENS, BadValue, add_usage_json, read_count, served_usage_key, with_served
from ._vocabulary import (
    AGENT_RUN_RECORD_SCOPES,
    AGGREGATE_COUNT_KEYS,
    AI_OP,
    AI_SDK_5_CONVENTIONS,
    AI_SDK_COUNT_KEYS,
    AI_SDK_DETAIL_PREFIXES,
    BATCH,
    COST_AMOUNT,
    COST_CURRENCY,
    DATA_SOURCE,
    EXCLUSIVE_INPUT_SCOPES,
    EXCLUSIVE_OUTPUT_SCOPES,
    GENERIC_SLOTS,
    INPUT,
    INPUT_EXCLUDES_CACHE,
    INVOCATION_PARAMETERS,
    KEYS,
    NOT_CALL_SPANS,
    NOT_TOOL_RUNS,
    OI_KIND,
    OP,
    OPENAI_CLIENT_PROVIDERS,
    OPENAI_COMPATIBLE_HOSTS,
    OPENINFERENCE_ROLES,
    OPERATION_KEY,
    OPERATION_ROLES,
    OUTPUT,
    OUTPUT_EXCLUDES_REASONING,
    OUTPUT_IMAGE,
    PROVIDER,
    REASONING_EXCLUDED,
    REPORTED_COST,
    REQUEST_MODEL,
    REQUESTED_TIER,
    RESPONSE_ID,
    RESPONSE_JSON,
    RESPONSE_MODEL,
    SERVER_ADDRESS,
    SERVICE_TIER,
    SLOTS,
    TOKEN_POSITION,
    TOKEN_SLOTS,
    TOOL,
    TOTAL,
    USAGE_JSON,
    VERCEL_AGGREGATES,
)
from ._vocabulary import KNOWN_KEYS as KNOWN_KEYS
from ._vocabulary import USAGE_ON_STREAM_LOG_SCOPES as USAGE_ON_STREAM_LOG_SCOPES
from ._vocabulary import Role as Role
from ._vocabulary import vocabulary as vocabulary
from .pricing.calc import MAX_COST_USD
from .pricing.model import TokenUsage

# The tables read with ``.get``, bound again by assignment: CPython compiles ``name.get(...)``
# on a name an ``import`` bound as an attribute load (it takes the name for a module), which
# makes a bound method per call, and on any other global as the method call it is.
_KEYS, _OPERATION_ROLES, _OPENINFERENCE_ROLES = KEYS, OPERATION_ROLES, OPENINFERENCE_ROLES

#: Largest cost (USD) a span may carry and still be believed: more is a broken attribute.
#: The pricing core's bound on a computed cost, so that what it writes reads back as written.
MAX_USD = MAX_COST_USD


@dataclass(slots=True)
class SpanUsage:
    """Everything billable that one span says about itself (treat as immutable;
    not frozen because frozen dataclasses are slow to build, once per span)."""

    # Built positionally in _interpret: add new fields at the END only.
    role: Role
    operation: str | None = None
    provider: str | None = None
    model: str | None = None
    usage: TokenUsage | None = None
    #: Why the token counts could not be read (``gen_ai.usage.input_tokens: negative``).
    invalid: str | None = None
    tool_name: str | None = None
    data_source: str | None = None
    reported_cost: float | None = None
    reported_cost_key: str | None = None
    service_tier: str | None = None
    batch: bool = False
    #: How counts were normalised: ``inclusive`` or ``exclusive`` (converted).
    convention: str = "inclusive"
    #: The provider's id of the response (``gen_ai.response.id``): one call, however
    #: many instrumentations recorded it.
    response_id: str | None = None


NOT_GENAI = SpanUsage(role=Role.NONE)


def read_usage(attributes: Mapping[str, object], scope_name: str | None = None) -> SpanUsage:
    """Classify a span and read its usage. Never raises on attribute values.

    Spans from one instrumentation share their attribute keys, so the choice
    of which key fills which slot is planned once per distinct key tuple and
    memoised. Within a plan, the values that say *what* a span is (operation,
    provider, model, tier, tool) repeat from call to call, so their reading is
    memoised too; per span, only the counts, any reported cost and the
    response id are read. :func:`_interpret` is the reference the fast path
    is tested against.
    """
    shape = tuple(attributes)
    plan = _PLANS.get(shape, _UNPLANNED)
    if plan is _UNPLANNED:
        plan = _plan(shape)
        if len(_PLANS) >= _PLAN_LIMIT:
            _PLANS.clear()
        _PLANS[shape] = plan
    if plan is None:
        return NOT_GENAI
    raw = plan.token_values(attributes)
    has_io = False
    for index in plan.io_positions:
        if raw[index] is not None:
            has_io = True
            break
    memo_key = (scope_name, has_io, plan.describing(attributes))
    try:
        kind = plan.memo.get(memo_key)
    except TypeError:  # an unhashable value (a list, in a plain mapping): the reference path
        return _reference(attributes, plan.slots, scope_name)
    if kind is None:
        kind = _kind_of(attributes, plan.slots, scope_name, plan.ai_sdk_5)
        global _memoised
        _memoised += 1
        if _memoised > _MEMO_LIMIT:
            # Bounded in total, not only per plan: many shapes each with many models
            # (a gateway in front of a fleet) must not grow without end. Plans are
            # cheap to rebuild; dropping them drops their memos with them.
            _memoised = 0
            _PLANS.clear()
        elif len(plan.memo) >= _PLAN_LIMIT:
            plan.memo.clear()
        if worth_keeping(memo_key[2]):
            plan.memo[memo_key] = kind
    reported: float | None = None
    reported_key: str | None = None
    if plan.reported_key is not None:
        reported, reported_key = _reported_cost(attributes[plan.reported_key], plan.reported_key, attributes)
    response_id = _text(attributes[plan.response_key]) if plan.response_key is not None else None
    usage: TokenUsage | None = None
    invalid: str | None = None
    convention = "inclusive"
    if kind.priced and (has_io or raw.count(None) < len(raw)):
        try:
            json_key = plan.usage_json_key
            usage_json = (json_key, attributes[json_key]) if json_key is not None else None
            total = attributes[plan.total_key] if plan.total_key is not None else None
            usage, convention = _counted(raw, plan.tokens, kind.exclusive_scope, usage_json, total)
            if not (usage.input_tokens or usage.output_tokens):
                # No call reads nothing: 0 in and 0 out are a response that reported no usage
                # (AutoGen's streams without include_usage, written as zeros by OpenInference's
                # AutoGen instrumentation), not a $0 call. Read here, once, so that the pricer,
                # the leaf rule (a wrapper with zeros is no record of the call below it) and
                # genai-cost report agree.
                usage = None
        except BadValue as exc:
            invalid = str(exc)
    tier = kind.tier
    if tier is None and plan.parameters_key is not None:
        requested = _requested_tier(attributes[plan.parameters_key])
        tier = requested.lower() if requested else None
    served_key = plan.served_key
    if served_key is not None and usage is not None and kind.anthropic:
        try:
            usage, tier = with_served(usage, tier, served_key, attributes[served_key])
        except BadValue as exc:
            usage, invalid = None, str(exc)
    return SpanUsage(
        kind.role,
        kind.operation,
        kind.provider,
        kind.model,
        usage,
        invalid,
        kind.tool_name,
        kind.data_source,
        reported,
        reported_key,
        tier,
        kind.batch,
        convention,
        response_id,
    )


@dataclass(slots=True, frozen=True)
class _Kind:
    """What a span is, as read from its describing values (memoised per plan)."""

    role: Role
    operation: str | None
    provider: str | None
    model: str | None
    tool_name: str | None
    data_source: str | None
    tier: str | None
    batch: bool
    #: Its counts are priced (a call), so they are read and checked.
    priced: bool
    #: What its instrumentation leaves out of its counts for this provider
    #: (``INPUT_EXCLUDES_CACHE`` | ``OUTPUT_EXCLUDES_REASONING``).
    exclusive_scope: int
    #: Anthropic's API served it: its response JSON, if recorded, is read (_served_by_anthropic).
    anthropic: bool = False


@dataclass(slots=True)
class _Plan:
    """How to read spans with one attribute-key tuple."""

    #: (slot, key) of the best-ranked key of each slot present.
    slots: tuple[tuple[int, str], ...]
    #: Values that say what the span is, as one tuple (the memo key).
    describing: Callable[[Mapping[str, object]], tuple[object, ...]]
    #: (position in TOKEN_SLOTS, key) of the count attributes present.
    tokens: tuple[tuple[int, str], ...]
    #: The values of ``tokens``' keys, as one tuple.
    token_values: Callable[[Mapping[str, object]], tuple[object, ...]]
    #: Indexes into ``tokens`` of the input and output counts.
    io_positions: tuple[int, ...]
    reported_key: str | None
    response_key: str | None
    usage_json_key: str | None
    total_key: str | None
    #: Where an Anthropic call's web searches, speed and 1-hour cache writes are read
    #: (with_served), if anywhere.
    served_key: str | None
    parameters_key: str | None
    memo: dict[tuple[object, ...], _Kind]
    #: A Vercel AI SDK call of release 5 or older: its counts are its provider's own
    #: (:func:`_ai_sdk_5`, ``AI_SDK_5_CONVENTIONS``).
    ai_sdk_5: bool = False


#: Slots read per span, not memoised (they differ from call to call).
_PER_SPAN_SLOTS = frozenset(
    {
        *range(INPUT, OUTPUT_IMAGE + 1),
        REPORTED_COST,
        RESPONSE_ID,
        REASONING_EXCLUDED,
        USAGE_JSON,
        TOTAL,
        RESPONSE_JSON,
        # OpenInference's request JSON: tool schemas and per-call values, so as a memo key it
        # would hold megabytes and never hit; its tier is read per span (_requested_tier).
        INVOCATION_PARAMETERS,
    }
)

_UNPLANNED: _Plan | None = _Plan((), lambda _: (), (), lambda _: (), (), None, None, None, None, None, None, {})
_PLANS: dict[tuple[str, ...], _Plan | None] = {}
_PLAN_LIMIT = 4096
#: Memoised kinds across all plans (about 400 bytes each, with their keys) before all are dropped.
_MEMO_LIMIT = 32768
_memoised = 0
#: Longer names than any real model, provider or tool has are not kept in a memo (they are
#: read again each time): the memos are bounded by count, and a stream of distinct 16 KB
#: names (hostile, or a prompt in the model attribute) would otherwise hold hundreds of MB.
MAX_KEPT_TEXT = 256


def worth_keeping(values: tuple[object, ...]) -> bool:
    """Whether a memo may keep a result under ``values`` (none is a text over :data:`MAX_KEPT_TEXT`)."""
    return all(not (isinstance(value, str) and len(value) > MAX_KEPT_TEXT) for value in values)


def remote_agent_call(
    usage: SpanUsage, attributes: Mapping[str, object], scope_name: str | None = None
) -> SpanUsage:
    """The usage of an ``invoke_agent`` CLIENT span, read as a call.

    The semantic conventions' "invoke agent client span" stands for an agent that runs
    in another service (OpenAI Assistants, Bedrock Agents, Azure AI Agents): the model
    calls it made are nowhere in this process, so the usage it reports is the only
    record of them. An in-process agent's usage sums its children's and stays an
    aggregate (whose counts are not even read); this one is read as a call, priced as
    a leaf, and the leaf rule still makes it a wrapper if calls do run below it.
    Without usage it is left alone: the cost is the remote service's to record."""
    if usage.operation != "invoke_agent" or attributes.get(OPERATION_KEY) != "invoke_agent":
        return usage
    as_call = read_usage({**attributes, OPERATION_KEY: "chat"}, scope_name)
    if as_call.usage is None and as_call.reported_cost is None and as_call.invalid is None:
        return usage
    return replace(as_call, operation=usage.operation)


def counts_tokens(attributes: Mapping[str, object]) -> bool:
    """Whether a span carries a positive token count under any vocabulary's name. Asked
    only of an aggregate span (an agent's, a workflow's) with no call recorded below it,
    whose counts :func:`read_usage` does not read: they are then the only record of calls
    made without instrumentation, and the span must not pass for costing nothing."""
    for key in AGGREGATE_COUNT_KEYS:
        value = attributes.get(key)
        if value is None:
            continue
        if type(value) is int or type(value) is float:
            if value > 0:
                return True
        elif isinstance(value, str):
            text = value.strip()
            # (isdecimal, not isdigit: int() refuses a superscript "²"; and a bound on the
            # length, as int() refuses over 4,300 digits)
            if text.isdecimal() and len(text) <= 40 and int(text) > 0:
                return True
    return False


def read_span_usage(
    attributes: Mapping[str, object],
    scope_name: str | None,
    *,
    client: bool,
    dropped_attributes: int,
    name: str | None = None,
) -> SpanUsage:
    """What a span is and what it used, by everything the processor knows of it: its
    attributes (:func:`read_usage`), then what only the span itself tells
    (:func:`with_span_rules`, :func:`not_a_call`). One reading for the processor and
    ``genai-cost report``, so that a span file is read as the spans were priced."""
    usage = read_usage(attributes, scope_name)
    role = usage.role
    if role is Role.AGGREGATE or role is Role.OTHER:
        return with_span_rules(usage, attributes, scope_name, client=client, dropped_attributes=dropped_attributes)
    if (role is Role.LLM or role is Role.EMBEDDING) and (scope_name is None or scope_name in NOT_CALL_SPANS):
        return not_a_call(usage, name, scope_name)
    if role is Role.TOOL and (scope_name is None or scope_name in NOT_TOOL_RUNS):
        return not_a_tool_run(usage, scope_name)
    return usage


_ALL_NOT_CALL_ENDINGS = tuple(ending for endings in NOT_CALL_SPANS.values() for ending in endings)


def not_a_call(usage: SpanUsage, name: str | None, scope_name: str | None) -> SpanUsage:
    """``usage``, unless the span is one its instrumentation gives a model call's kind
    although it makes no call (:data:`NOT_CALL_SPANS`: LlamaIndex's request-building step),
    and it counts nothing: then it is no GenAI work. Counted, it would be one more call
    in the trace's ``llm_calls``, flagged ``missing_usage``, on every step of an agent."""
    # A file with no scopes (the console exporter's) is read by the names of every scope's.
    endings = _ALL_NOT_CALL_ENDINGS if scope_name is None else NOT_CALL_SPANS.get(scope_name)
    if (
        endings
        and name is not None
        and name.endswith(endings)
        and usage.usage is None
        and usage.reported_cost is None
    ):
        return replace(usage, role=Role.NONE)
    return usage


def not_a_tool_run(usage: SpanUsage, scope_name: str | None) -> SpanUsage:
    """``usage``, unless the span is one its instrumentation gives a tool's kind although no
    tool ran (:data:`NOT_TOOL_RUNS`: smolagents' ``final_answer``): then it is no GenAI work."""
    # A file with no scopes is read by the names of every scope's.
    names = _ALL_NOT_TOOL_RUNS if scope_name is None else NOT_TOOL_RUNS.get(scope_name)
    if names and usage.tool_name in names:
        return replace(usage, role=Role.NONE)
    return usage


_ALL_NOT_TOOL_RUNS = frozenset(name for names in NOT_TOOL_RUNS.values() for name in names)


def with_span_rules(
    usage: SpanUsage, attributes: Mapping[str, object], scope_name: str | None, *, client: bool, dropped_attributes: int
) -> SpanUsage:
    """``usage`` (of a span whose role is ``AGGREGATE`` or ``OTHER``: no other changes
    here) corrected by the span's kind (``client``: an ``invoke_agent`` CLIENT span is a
    call, :func:`remote_agent_call`) and by how many attributes the SDK dropped from it (a
    call whose model was among them, :func:`_call_whose_name_was_dropped`).

    Apart from :func:`read_span_usage` for the processor, which reads every span of the
    application and calls this for those two roles only."""
    role = usage.role
    if role is Role.AGGREGATE:
        if client:
            return remote_agent_call(usage, attributes, scope_name)
    elif role is Role.OTHER and dropped_attributes and usage.operation is None:
        return _call_whose_name_was_dropped(usage, attributes, scope_name)
    return usage


def _call_whose_name_was_dropped(
    usage: SpanUsage, attributes: Mapping[str, object], scope_name: str | None
) -> SpanUsage:
    """A span that counts tokens but names no model or operation, and whose attributes the
    SDK's count limit cut (the oldest go first: an instrumentation that sets the model at
    the start and 70 prompt messages after it loses the model): read as a call, so that it
    is flagged ``missing_model`` rather than left silently at no cost."""
    as_call = read_usage({**attributes, OPERATION_KEY: "chat"}, scope_name)
    if as_call.usage is None and as_call.invalid is None:
        return usage
    return replace(as_call, operation=None)


def _plan(shape: tuple[str, ...]) -> _Plan | None:
    """The plan for spans with these keys; ``None`` when no key makes the span
    GenAI work."""
    best: dict[int, tuple[int, str]] = {}
    for key in shape:
        spec = _KEYS.get(key)
        if spec is None:
            continue
        slot, rank = spec
        if slot not in best or rank < best[slot][0]:
            best[slot] = (rank, key)
    if not any(slot not in GENERIC_SLOTS for slot in best):
        return None
    slots = tuple((slot, key) for slot, (_, key) in best.items())
    describing_keys = tuple(key for slot, key in slots if slot not in _PER_SPAN_SLOTS)
    tokens = tuple(sorted((TOKEN_POSITION[slot], key) for slot, key in slots if slot in TOKEN_POSITION))
    io_positions = tuple(i for i, (position, _) in enumerate(tokens) if position <= 1)
    keys = dict(slots)
    return _Plan(
        slots,
        _tuple_getter(describing_keys),
        tokens,
        _tuple_getter(tuple(key for _, key in tokens)),
        io_positions,
        keys.get(REPORTED_COST),
        keys.get(RESPONSE_ID),
        keys.get(USAGE_JSON),
        keys.get(TOTAL),
        served_usage_key(keys.get(RESPONSE_JSON), keys.get(USAGE_JSON)),
        keys.get(INVOCATION_PARAMETERS),
        {},
        AI_OP in keys and _ai_sdk_5(shape),
    )


def _ai_sdk_5(keys: Iterable[str]) -> bool:
    """Whether a span with these attribute keys is a Vercel AI SDK call of release 5 or older
    (LanguageModelV2 providers, V1 in AI SDK 4): it has the SDK's own counts and none of the
    ``ai.usage.inputTokenDetails.*`` / ``outputTokenDetails.*`` that AI SDK 6 writes beside
    the inclusive totals it computes, so its counts are the provider's own, with what they
    leave out (``AI_SDK_5_CONVENTIONS``). (AI SDK 6 writes the details whenever its provider
    reports any count: an Anthropic, Bedrock or Gemini call always has them.) Told by the keys
    alone, so once per key tuple (the plan), never per span."""
    counted = False
    for key in keys:
        if key.startswith(AI_SDK_DETAIL_PREFIXES):
            return False
        if key in AI_SDK_COUNT_KEYS:
            counted = True
    return counted


def _tuple_getter(keys: tuple[str, ...]) -> Callable[[Mapping[str, object]], tuple[object, ...]]:
    """``operator.itemgetter``, always returning a tuple (it returns a bare value for one key)."""
    if len(keys) >= 2:
        return itemgetter(*keys)
    if len(keys) == 1:
        (only,) = keys
        return lambda attributes: (attributes[only],)
    return lambda _: ()


_Slots = tuple[tuple[int, str], ...]


def _found(attributes: Mapping[str, object], slots: _Slots) -> tuple[list[object], list[str | None]]:
    found: list[object] = [None] * SLOTS
    keys: list[str | None] = [None] * SLOTS
    for slot, key in slots:
        found[slot] = attributes[key]
        keys[slot] = key
    return found, keys


def _reference(
    attributes: Mapping[str, object], slots: _Slots, scope_name: str | None, *, per_call: bool = True
) -> SpanUsage:
    found, keys = _found(attributes, slots)
    return _interpret(found, keys, scope_name, attributes, per_call=per_call)


def _kind_of(attributes: Mapping[str, object], slots: _Slots, scope_name: str | None, ai_sdk_5: bool) -> _Kind:
    # (Without what the request and response JSON say: a kind is memoised for the spans of
    # its plan, the tier one call asked for and the speed it was served at are its own.)
    reference = _reference(attributes, slots, scope_name, per_call=False)
    provider = reference.provider
    return _Kind(
        reference.role,
        reference.operation,
        provider,
        reference.model,
        reference.tool_name,
        reference.data_source,
        reference.service_tier,
        reference.batch,
        reference.role is Role.LLM or reference.role is Role.EMBEDDING,
        _scope_conventions(provider, scope_name, ai_sdk_5),
        _is_anthropic(provider),
    )


def _interpret(
    found: list[object],
    keys: list[str | None],
    scope_name: str | None,
    attributes: Mapping[str, object],
    *,
    per_call: bool = True,
) -> SpanUsage:
    operation = _text(found[OP])
    role = _role(operation, _text(found[OI_KIND]), _text(found[AI_OP]))
    has_tokens = found[INPUT] is not None or found[OUTPUT] is not None
    model = _text(found[RESPONSE_MODEL]) or _text(found[REQUEST_MODEL])
    tool_name = _text(found[TOOL])
    if role is None:
        if has_tokens and model:
            role = Role.LLM  # usage + model and no kind: a call; the leaf rule catches wrappers
        elif tool_name and found[PROVIDER] is None:
            role = Role.TOOL
        else:
            role = Role.OTHER
    elif role is Role.OTHER and has_tokens:
        # A kind this module does not know (an operation name of a framework's own or
        # of a newer semconv, an OpenInference EVALUATOR or GUARDRAIL, a Vercel
        # operation) on a span that counts tokens: a call, priced when it is a leaf
        # and flagged when it cannot be, rather than left silently at no cost.
        role = Role.LLM
    if scope_name in USAGE_ON_STREAM_LOG_SCOPES or scope_name in AGENT_RUN_RECORD_SCOPES:
        role = _role_in_scope(role, has_tokens, scope_name)
    provider = _text(found[PROVIDER])
    if provider is not None and found[SERVER_ADDRESS] is not None and provider.lower() in OPENAI_CLIENT_PROVIDERS:
        provider = _served_by(found[SERVER_ADDRESS]) or provider
    reported, reported_key = _reported_cost(found[REPORTED_COST], keys[REPORTED_COST], attributes)
    tier = _text(found[SERVICE_TIER])
    if tier is None:
        tier = _text(found[REQUESTED_TIER])
    if tier is None and per_call:
        tier = _requested_tier(found[INVOCATION_PARAMETERS])
    usage: TokenUsage | None = None
    invalid: str | None = None
    convention = "inclusive"
    if (role is Role.LLM or role is Role.EMBEDDING) and (has_tokens or _any_tokens(found)):
        try:
            usage, convention = _tokens(found, keys, provider, scope_name, attributes)
            if not (usage.input_tokens or usage.output_tokens):
                usage = None  # no call reads nothing (as in read_usage)
        except BadValue as exc:
            invalid = str(exc)
    tier = tier.lower() if tier else None
    served_key = served_usage_key(keys[RESPONSE_JSON], keys[USAGE_JSON]) if per_call else None
    if served_key is not None and usage is not None and _is_anthropic(provider):
        try:
            usage, tier = with_served(usage, tier, served_key, attributes[served_key])
        except BadValue as exc:
            usage, invalid = None, str(exc)
    return SpanUsage(  # positional: this runs once per GenAI span
        role,
        operation,
        provider,
        model,
        usage,
        invalid,
        tool_name,
        _text(found[DATA_SOURCE]),
        reported,
        reported_key,
        tier,
        _flag_set(found[BATCH]),
        convention,
        _text(found[RESPONSE_ID]),
    )


def _served_by(address: object) -> str | None:
    """The provider whose OpenAI-compatible API ``address`` is (a host, or a base URL), if
    the catalog knows it by that host (``OPENAI_COMPATIBLE_HOSTS``)."""
    if not isinstance(address, str):
        return None
    host = address.strip().lower()
    if "://" in host:
        host = host.split("://", 1)[1]
    host = host.split("/", 1)[0].rsplit("@", 1)[-1].split(":", 1)[0]
    return OPENAI_COMPATIBLE_HOSTS.get(host)


def _role(operation: str | None, oi_kind: str | None, ai_op: str | None) -> Role | None:
    if operation is not None:
        return _OPERATION_ROLES.get(operation.lower(), Role.OTHER)
    if oi_kind is not None:
        return _OPENINFERENCE_ROLES.get(oi_kind.upper(), Role.OTHER)
    if ai_op is not None:
        if ai_op.endswith((".doGenerate", ".doStream")):
            return Role.LLM
        if ai_op.endswith(".doEmbed"):
            return Role.EMBEDDING
        if ai_op == "ai.toolCall":
            return Role.TOOL
        if ai_op in VERCEL_AGGREGATES:
            return Role.AGGREGATE
        return Role.OTHER
    return None


def _any_tokens(found: list[object]) -> bool:
    return any(found[slot] is not None for slot in TOKEN_SLOTS)


def _checksum(value: object) -> int:
    """A total count, used only to check the others: one that cannot be read is not a
    reason to refuse the span's counts (0: no total)."""
    try:
        return read_count(value, None)
    except BadValue:
        return 0


def _counted(
    raw: Sequence[object],
    tokens: tuple[tuple[int, str], ...],
    exclusive_scope: int,
    usage_json: tuple[str, object] | None = None,
    total: object = None,
) -> tuple[TokenUsage, str]:
    """Checked, inclusive counts from the raw values of ``tokens`` (the fast
    path's :func:`_tokens`)."""
    counts = [0] * len(TOKEN_SLOTS)
    index = 0
    for position, key in tokens:
        value = raw[index]
        index += 1
        if value is None:
            continue
        if type(value) is int and 0 <= value <= MAX_TOKENS:
            counts[position] = value
        else:
            counts[position] = read_count(value, key)
    counts.append(0 if total is None else _checksum(total))
    if usage_json is not None:
        add_usage_json(counts, *usage_json)
    return _inclusive(counts, exclusive_scope)


def _inclusive(counts: list[int], exclusive_scope: int) -> tuple[TokenUsage, str]:
    (
        input_tokens,
        output_tokens,
        cache_read,
        cache_write,
        write_5m,
        write_1h,
        reasoning,
        input_audio,
        output_audio,
        cache_read_audio,
        input_image,
        output_image,
        reasoning_excluded,
        total,
    ) = counts
    if write_5m or write_1h:
        cache_write = max(cache_write, write_5m + write_1h)
    convention = "inclusive"
    cached = cache_read + cache_write
    if cached and (
        exclusive_scope & INPUT_EXCLUDES_CACHE
        or cached > input_tokens
        or total == input_tokens + output_tokens + cached
    ):
        # Cache counts larger than the input can only mean input excludes them; so does a
        # total that counts the cache beside the input (Bedrock's, copied by Strands Agents).
        input_tokens += cache_read + cache_write
        convention = "exclusive"
    if reasoning_excluded:  # a count known to be outside the output count (Google ADK 1.x)
        output_tokens += reasoning_excluded
        reasoning = reasoning_excluded
        convention = "exclusive"
    elif reasoning and exclusive_scope & OUTPUT_EXCLUDES_REASONING:
        # Gemini's candidates count, copied as the output count (OpenLIT): thinking is outside.
        output_tokens += reasoning
        convention = "exclusive"
    elif reasoning > output_tokens:  # Google ADK leaves thinking tokens out of output
        output_tokens += reasoning
        convention = "exclusive"
    return (
        TokenUsage(
            input_tokens,
            output_tokens,
            cache_read,
            cache_write,
            min(write_1h, cache_write),
            reasoning,
            input_audio,
            cache_read_audio,
            output_audio,
            input_image,
            output_image,
        ),
        convention,
    )


def _tokens(
    found: list[object],
    keys: list[str | None],
    provider: str | None,
    scope_name: str | None,
    attributes: Mapping[str, object],
) -> tuple[TokenUsage, str]:
    """The reference path's counts (see :func:`_counted` for the fast path's)."""
    counts: list[int] = []
    for slot in TOKEN_SLOTS:
        value = found[slot]
        if value is None:
            counts.append(0)
        elif type(value) is int and 0 <= value <= MAX_TOKENS:
            counts.append(value)
        else:
            counts.append(read_count(value, keys[slot]))
    counts.append(0 if found[TOTAL] is None else _checksum(found[TOTAL]))
    json_key = keys[USAGE_JSON]
    if json_key is not None and found[USAGE_JSON] is not None:
        add_usage_json(counts, json_key, found[USAGE_JSON])
    ai_sdk_5 = keys[AI_OP] is not None and _ai_sdk_5(attributes)
    return _inclusive(counts, _scope_conventions(provider, scope_name, ai_sdk_5))


def _is_anthropic(provider: str | None) -> bool:
    """Whether Anthropic's API served the call: ``anthropic``, or the Vercel AI SDK's
    ``anthropic.messages`` (``vertex.anthropic.messages`` through Google Vertex), whose
    provider metadata holds Anthropic's usage object as it came."""
    return provider is not None and "anthropic" in provider.lower().split(".")


def _flag_set(value: object) -> bool:
    """A boolean attribute read as set: ``True``, or the number 1 some emitters write
    for it. (Values equal under ``==`` must read alike: ``read_usage`` memoises a span's
    kind by its values, and ``True == 1``; a 1 read as unset after a True read as set
    made the same flag mean two things, by the order spans came in.)"""
    return value is True or (type(value) in (int, float) and value == 1)


def _role_in_scope(role: Role, has_tokens: bool, scope_name: str) -> Role:
    """The role of a span of an instrumentation that records a call's usage on another
    span than the call's own (see ``USAGE_ON_STREAM_LOG_SCOPES``)."""
    if role is Role.LLM and not has_tokens:
        return Role.OTHER  # the call's record is another span, which counts its tokens
    if role is Role.AGGREGATE and has_tokens and scope_name in AGENT_RUN_RECORD_SCOPES:
        return Role.LLM
    return role


def _scope_conventions(provider: str | None, scope_name: str | None, ai_sdk_5: bool = False) -> int:
    """What this instrumentation leaves out of its counts for this provider: input
    *without* cache tokens, output *without* reasoning tokens (flags). ``ai_sdk_5``: the
    span is a Vercel AI SDK call of release 5 or older (:func:`_ai_sdk_5`), whatever the
    tracer it was recorded with (``experimental_telemetry.tracer`` may be any), so its
    provider alone says."""
    if not provider:
        return 0
    vendor = provider.lower()
    flags = 0
    if ai_sdk_5:
        for name, flag in AI_SDK_5_CONVENTIONS:
            if name in vendor:
                flags |= flag
    if not scope_name:
        return flags
    scope = scope_name.lower()
    if any(scope.startswith(prefix) and name in vendor for prefix, name in EXCLUSIVE_INPUT_SCOPES):
        flags |= INPUT_EXCLUDES_CACHE
    if any(scope.startswith(prefix) and name in vendor for prefix, name in EXCLUSIVE_OUTPUT_SCOPES):
        flags |= OUTPUT_EXCLUDES_REASONING
    return flags


def usd_amount(value: object) -> float | None:
    """An amount a span carries (a number, or a numeric string), or ``None`` when it is
    not one a total may include: not finite, negative, or absurd (> ``MAX_USD``, 1e15).
    One reading for a cost an instrumentation wrote and one genai-cost wrote (read back
    by the roll-up and the report), so that the two never disagree on what is an amount."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        if isinstance(value, int) and not -MAX_USD <= value <= MAX_USD:
            return None  # (more than 1e15 is no cost; one past 1.8e308 raised OverflowError in float())
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            return None
    else:
        return None
    if not math.isfinite(number) or number < 0 or number > MAX_USD:
        return None
    return number


def _reported_cost(
    value: object, key: str | None, attributes: Mapping[str, object]
) -> tuple[float | None, str | None]:
    number = usd_amount(value)
    if number is None:
        return None, None
    if key == COST_AMOUNT:
        # The semconv amount comes with its currency: a price in yen is not dollars.
        currency = attributes.get(COST_CURRENCY)
        if isinstance(currency, str) and currency.strip().upper() not in ("", "USD"):
            return None, None
    return number, key


def _requested_tier(parameters: object) -> str | None:
    """OpenInference keeps the request's parameters as JSON (``llm.invocation_parameters``)
    and records no served tier: the requested one is the best evidence there is."""
    if not isinstance(parameters, str) or "service_tier" not in parameters:
        return None
    try:
        decoded = json.loads(parameters)
    except (ValueError, RecursionError):  # (RecursionError: nested a thousand deep)
        return None
    tier = decoded.get("service_tier") if isinstance(decoded, dict) else None
    return _text(tier)


def _text(value: object) -> str | None:
    if value is None:
        return None
    if type(value) is str or isinstance(value, str):
        value = value.strip()
        return value or None
    return None
