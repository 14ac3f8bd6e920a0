"""What did each conversation cost, and why: a report from spans already exported.

The cost attributes are on the spans, so a file of exported spans (the collector's
``file`` exporter, a trace downloaded from Jaeger or Tempo, OTLP JSON or the Jaeger
UI's own JSON, or what the SDK's ``ConsoleSpanExporter`` printed, on standard input as
well) holds the whole answer.
:mod:`genai_cost.span_file` reads such files; this module sums their spans per trace,
per model and per tool, and lists what was not priced and why: spans flagged
``gen_ai.cost.unpriced``, and billable spans that carry no cost attribute at all (the
process that emitted them did not run genai-cost), so that a report never passes a gap
off as a zero.

Pure Python, no OpenTelemetry import: it classifies spans with
:func:`genai_cost.usage.read_span_usage`, as the processor does.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from . import attributes as A
from ._vocabulary import CONVERSATION_KEYS
from .config import env_pricing_files, user_cache_dir
from .cost_spread import CostSpread, cost_spread
from .pricing.catalog import Catalog
from .recorded_cost import RECORDED_CATEGORY_OTHER, RECORDED_REASON_UNKNOWN, RecordedCost, recorded_cost
from .records import (
    ADK_CALL,
    ADK_PARTIAL,
    ADK_SCOPE,
    UNTIL_ITS_LOG,
    CallRecord,
    accounted_ids,
    adk_record,
    call_model,
    same_call_by_response_id,
    twin_records,
)
from .span_file import ExportedSpan, Unreadable
from .usage import USAGE_ON_STREAM_LOG_SCOPES, Role, SpanUsage, counts_tokens, read_span_usage, usd_amount
from .what_if import Repricer, WhatIfTotals

__all__ = [
    "CONVERSATION_KEYS",
    "ReportSummary",
    "TraceReport",
    "render_json",
    "render_text",
    "report_traces",
    "summarize",
]

#: USD sums are rounded to this many decimal places for output only (float noise such as
#: 0.14200000000000002, not precision: a price per token is ~1e-8); sums stay exact inside.
USD_DECIMALS = 10


@dataclass(slots=True)
class CallTotals:
    """The priced calls of one catalog entry or tool in a trace. Counts are inclusive, as
    on spans: ``input_tokens`` includes the cache reads and writes, ``output_tokens`` the
    reasoning tokens."""

    calls: int = 0
    usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    reasoning_tokens: int = 0

    def add(self, other: CallTotals) -> None:
        """Adds ``other``'s calls in (a conversation's entry, over its turns)."""
        self.calls += other.calls
        self.usd += other.usd
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_read_tokens += other.cache_read_tokens
        self.cache_write_tokens += other.cache_write_tokens
        self.reasoning_tokens += other.reasoning_tokens


@dataclass(frozen=True, slots=True)
class SpanNote:
    """A span the report names: one not priced, with the reason."""

    span_id: str
    name: str
    reason: str
    detail: str = ""


@dataclass(slots=True)
class TraceReport:
    trace_id: str
    root_name: str
    spans: int = 0
    total_usd: float = 0.0
    by_category: dict[str, float] = field(default_factory=dict)
    #: ``openai/gpt-4o`` or ``tool/web_search`` -> its calls in this trace.
    by_entry: dict[str, CallTotals] = field(default_factory=dict)
    #: Spans flagged ``gen_ai.cost.unpriced`` by genai-cost, with its reason.
    unpriced: list[SpanNote] = field(default_factory=list)
    #: Billable spans with no ``gen_ai.cost.*`` attribute: never seen by genai-cost.
    not_priced_here: list[SpanNote] = field(default_factory=list)
    #: ``False`` when a local root said spans were still open as it ended.
    complete: bool = True
    #: Records of a span already counted (same trace and span id): retried exports,
    #: concatenated files, the same file given twice. The first record counts.
    duplicates_ignored: int = 0
    #: When the root span started (UTC, ISO 8601) and how long it lasted, if the file says.
    start: str | None = None
    duration_s: float | None = None
    #: The span id of the trace's root when it is not in the input (it never ended: an agent
    #: killed, or still running; or it was not exported): ``root_name`` is then its highest
    #: span found, the trace is not complete, and no start or duration is given for it.
    root_missing: str | None = None
    #: The conversation the trace is a turn of (``gen_ai.conversation.id``, OpenInference's
    #: ``session.id``, or the keys given): the value nearest the root, since a conversation
    #: is usually named where the request is handled; ``None`` when no span names one.
    conversation_id: str | None = None
    #: Other conversations spans of the trace name (a sub-agent's own session, a batch
    #: of several): said, so that a total split between them is not taken as the whole.
    other_conversation_ids: list[str] = field(default_factory=list)
    #: When the root span started, in nanoseconds since the epoch: orders the turns of a
    #: conversation (``start`` is to the millisecond; turns can start within one).
    start_ns: int | None = None
    #: With ``--what-if FROM=TO``: per ``FROM`` entry, its calls priced again with ``TO``.
    what_if: dict[str, WhatIfTotals] = field(default_factory=dict)

    @property
    def fully_priced(self) -> bool:
        """Whether its cost is all of it: nothing unpriced or never priced, its root here."""
        return not self.unpriced and not self.not_priced_here and self.root_missing is None

    def as_dict(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "root_name": self.root_name,
            "conversation_id": self.conversation_id,
            "other_conversation_ids": list(self.other_conversation_ids),
            "start": self.start,
            "duration_s": self.duration_s,
            "spans": self.spans,
            "total_usd": rounded_usd(self.total_usd),
            "by_category": {category: rounded_usd(usd) for category, usd in self.by_category.items()},
            "by_entry": {key: totals_dict(value) for key, value in self.by_entry.items()},
            "unpriced": [_note_dict(note) for note in self.unpriced],
            "not_priced_here": [_note_dict(note) for note in self.not_priced_here],
            "complete": self.complete,
            "root_missing": self.root_missing,
            "duplicates_ignored": self.duplicates_ignored,
            "what_if": what_if_dict(self.what_if),
        }


# ------------------------------------------------------------------ summing


def report_traces(
    spans: Iterable[ExportedSpan],
    *,
    catalog: Catalog | None = None,
    conversation_keys: Sequence[str] = CONVERSATION_KEYS,
    repricer: Repricer | None = None,
) -> list[TraceReport]:
    """One report per trace, the most expensive first. A span (trace and span id) counts
    once: the first record of it that carries genai-cost's attributes, else the first; the
    others are counted as ``duplicates_ignored``.

    ``catalog`` resolves model names for the rule on sibling records with no response id
    (two spellings of one model); by default the shipped catalog and the files of
    ``GENAI_COST_PRICING_FILE``, as the processor resolves them, loaded only for a trace
    that has two such records to compare. ``conversation_keys`` are the attributes that
    name a trace's conversation, best first (:attr:`TraceReport.conversation_id`).
    ``repricer`` prices the calls of some entries again with others
    (:attr:`TraceReport.what_if`)."""
    by_trace: dict[str, dict[str, ExportedSpan]] = {}
    duplicates: dict[str, int] = {}
    for span in spans:
        trace = by_trace.setdefault(span.trace_id, {})
        kept = trace.get(span.span_id)
        if kept is not None:
            duplicates[span.trace_id] = duplicates.get(span.trace_id, 0) + 1
            if _carries_cost(span) and not _carries_cost(kept):
                # The same span as priced and as it was before (files of two pipelines given
                # together): the priced record counts, whichever order the files came in.
                trace[span.span_id] = span
        else:
            trace[span.span_id] = span
    models = _CallModels(catalog)
    reports = [
        _report(trace_id, list(trace.values()), duplicates.get(trace_id, 0), models, conversation_keys, repricer)
        for trace_id, trace in by_trace.items()
    ]
    reports.sort(key=lambda report: (-report.total_usd, report.trace_id))
    return reports


def _carries_cost(span: ExportedSpan) -> bool:
    attributes = span.attributes
    return (
        A.COST_TOTAL in attributes
        or A.COST_UNPRICED in attributes
        or A.COST_DUPLICATE_OF in attributes
        or A.COST_ACCOUNTS_FOR in attributes
    )


def _conversation(
    spans: list[ExportedSpan], root: ExportedSpan, keys: Sequence[str]
) -> tuple[str | None, list[str]]:
    """The conversation ``spans`` name (the root's, else that of the first span to start
    that names one), and the others they name, sorted."""
    named: list[tuple[bool, int, str, str]] = []
    for span in spans:
        conversation = _conversation_id(span.attributes, keys)
        if conversation is not None:
            start = span.start_ns if span.start_ns is not None else _NEVER
            named.append((span is not root, start, span.span_id, conversation))
    if not named:
        return None, []
    chosen = min(named)[3]
    return chosen, sorted({conversation for *_, conversation in named} - {chosen})


#: A start later than any: a span the file gives no start for names a conversation last.
_NEVER = 2**63


def _conversation_id(attributes: Mapping[str, object], keys: Sequence[str]) -> str | None:
    """The first of ``keys`` whose value names a conversation: text that is not blank, or a
    whole number (an application's own ticket id)."""
    for key in keys:
        value = attributes.get(key)
        if isinstance(value, str):
            if value.strip():
                return value
        elif isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


def _root_missing(root: ExportedSpan, roots: list[ExportedSpan], spans: list[ExportedSpan]) -> bool:
    """Whether the trace's root is not in the input, rather than in another process: the
    highest span found has a parent that is not here, and either other spans have that
    same parent (unless each carries its totals: local roots of this service, two requests
    under one caller's span, a retry or a fan-out), or genai-cost priced the trace's spans
    and no local root carries its totals (the roll-up writes them on every local root that
    passed, a service's too)."""
    parent = root.parent_span_id
    if parent is None:
        return False
    siblings = [span for span in roots if span.parent_span_id == parent]
    if len(siblings) > 1:
        return not all(A.TRACE_TOTAL in span.attributes for span in siblings)
    return not any(A.TRACE_TOTAL in span.attributes for span in roots) and any(map(_carries_cost, spans))


def _report(
    trace_id: str,
    spans: list[ExportedSpan],
    duplicates: int,
    models: _CallModels,
    conversation_keys: Sequence[str] = CONVERSATION_KEYS,
    repricer: Repricer | None = None,
) -> TraceReport:
    ids = {span.span_id for span in spans}
    roots = [span for span in spans if span.parent_span_id not in ids]
    # The trace's own root if the file has it, else (a part of a distributed trace, several
    # local roots) the first to start: it names the request the trace began with.
    root = (
        min(roots, key=lambda span: (span.parent_span_id is not None, span.start_ns or 0, span.name))
        if roots
        else spans[0]
    )
    report = TraceReport(trace_id, root.name, spans=len(spans), duplicates_ignored=duplicates)
    report.conversation_id, report.other_conversation_ids = _conversation(spans, root, conversation_keys)
    if _root_missing(root, roots, spans):
        report.root_missing = root.parent_span_id
        report.complete = False
    elif root.start_ns is not None:
        report.start_ns = root.start_ns
        report.start = _iso(root.start_ns)
        if root.end_ns is not None and root.end_ns >= root.start_ns:
            report.duration_s = round((root.end_ns - root.start_ns) / 1e9, 6)
    usages = {span.span_id: _usage(span) for span in spans}
    adk_partials, adk_calls = _adk_records(spans, usages)
    wrappers, calls_below = _wrappers(spans, usages, adk_partials, adk_calls)
    first_records, takes_over = _first_records(spans, usages, wrappers, adk_partials, models)
    # Records a later record of their call took over (live: named in its
    # gen_ai.cost.accounts_for): flagged unpriced as they ended, but the call counts once.
    accounted = _accounted_for(spans)
    taken_by = {taken: taker for taker, taken_over in takes_over.items() for taken in taken_over}
    also: dict[str, list[str]] = {}
    for second, first in first_records.items():
        # Named on the record that is listed: a first record may itself be a second one (a
        # wrapper that ended first, and a twin of another record of its call), or taken over.
        seen = {second}
        while first in first_records and first not in seen:
            seen.add(first)
            first = first_records[first]
        also.setdefault(taken_by.get(first, first), []).append(second)
    call_ids = {
        usage.response_id
        for usage in usages.values()
        if usage.response_id is not None and usage.role in (Role.LLM, Role.EMBEDDING)
    }
    for span in spans:
        attributes = span.attributes
        if attributes.get(A.TRACE_COMPLETE) is False:
            report.complete = False
        if _INFRA_KEY in attributes:  # known per trace only, so written on the local root
            infra = attributes[_INFRA_KEY]
            amount = None if isinstance(infra, Unreadable) else usd_amount(infra)
            if amount is None:  # a share of the trace's cost that cannot be read is no $0
                why = infra.why if isinstance(infra, Unreadable) else f"not a USD amount: {infra!r}"
                report.unpriced.append(
                    SpanNote(span.span_id, span.name, A.REASON_INVALID_COST, f"{_INFRA_KEY} could not be read: {why}")
                )
            elif amount:
                _add_cost(report, A.CATEGORY_INFRA, amount)
        usage = usages[span.span_id]
        cost = _recorded_cost(attributes)
        if cost is not None and cost.total_usd is not None:
            total = cost.total_usd
            category = cost.category
            _add_cost(report, category, total)
            entry = _entry(attributes, usage, category)
            totals = report.by_entry.setdefault(entry, CallTotals())
            totals.calls += 1
            totals.usd += total
            tokens = usage.usage
            if repricer is not None and repricer.wants(entry):
                repricer.add(report.what_if, entry, tokens, total)
            if tokens is not None:
                totals.input_tokens += tokens.input_tokens
                totals.output_tokens += tokens.output_tokens
                totals.cache_read_tokens += tokens.cache_read_tokens
                totals.cache_write_tokens += tokens.cache_write_tokens
                totals.reasoning_tokens += tokens.reasoning_tokens
        elif cost is not None and span.span_id in accounted:
            continue  # its call is counted on the span that names it
        elif cost is not None:  # as the roll-up reads it: unpriced, never $0
            reason = cost.reason or RECORDED_REASON_UNKNOWN
            report.unpriced.append(SpanNote(span.span_id, span.name, reason, cost.detail))
        elif (
            _billable(usage.role)
            and span.span_id not in wrappers
            and span.span_id not in first_records
            and span.span_id not in taken_by
            and not _seen(attributes)
        ):
            what = " ".join(filter(None, (usage.provider, usage.model or usage.tool_name)))
            if span.span_id in also:
                what += f" (also recorded as span {', '.join(also[span.span_id])})"
            if span.span_id in takes_over:
                what += f" (accounts for span {', '.join(takes_over[span.span_id])})"
            report.not_priced_here.append(SpanNote(span.span_id, span.name, _NO_COST_ATTRIBUTES, what.strip()))
        elif (
            usage.role is Role.AGGREGATE
            and span.span_id not in calls_below
            and counts_tokens(attributes)
            and not _seen(attributes)
            and usage.response_id not in call_ids
        ):
            # As the processor flags it (unrecorded_calls): an agent's usage with no call
            # recorded below it is the only record of its calls (unless it copies a call
            # recorded beside it, its response id that call's).
            unrecorded = "(its calls' usage; no call recorded below it)"
            what = " ".join(filter(None, (usage.provider, usage.model, unrecorded)))
            report.not_priced_here.append(SpanNote(span.span_id, span.name, _NO_COST_ATTRIBUTES, what))
    report.by_category = dict(sorted(report.by_category.items(), key=lambda item: (-item[1], item[0])))
    report.by_entry = dict(sorted(report.by_entry.items(), key=lambda item: (-item[1].usd, item[0])))
    return report


_INFRA_KEY = A.trace_category_key(A.CATEGORY_INFRA)
#: The reason of a billable span no genai-cost saw (``NO COST ATTRIBUTES``): the report's,
#: not a ``gen_ai.cost.unpriced_reason`` (nothing was written on the span).
_NO_COST_ATTRIBUTES = "no_cost_attributes"


def _accounted_for(spans: list[ExportedSpan]) -> set[str]:
    """The span ids a priced trace's spans name in ``gen_ai.cost.accounts_for``: records of
    a call flagged unpriced as they ended, whose count a later record took over."""
    accounted: set[str] = set()
    for span in spans:
        named = span.attributes.get(A.COST_ACCOUNTS_FOR)
        if isinstance(named, str):
            accounted.update(accounted_ids(named)[0])
    return accounted


def _usage(span: ExportedSpan) -> SpanUsage:
    """The span read as the processor reads it (:func:`genai_cost.usage.read_span_usage`)."""
    return read_span_usage(
        span.attributes,
        span.scope,
        client=span.kind == "client",
        dropped_attributes=span.dropped_attributes,
        name=span.name,
    )


def _entry(attributes: Mapping[str, object], usage: SpanUsage, category: str) -> str:
    """The ``by_entry`` key of a priced span: its catalog entry (``openai/gpt-4o``,
    ``tool/web_search``), or, for a cost the span carried itself with no catalog entry
    (no ``gen_ai.cost.pricing.id``), its provider and model (or tool) marked
    ``(span cost)``; its category only when it names neither."""
    pricing_id = attributes.get(A.COST_PRICING_ID)
    if pricing_id:
        return str(pricing_id)
    if usage.model:
        name = "/".join(filter(None, (usage.provider, usage.model)))
    elif usage.tool_name:
        name = f"tool/{usage.tool_name}"
    else:
        return category
    return f"{name} (span cost)"


def _billable(role: Role) -> bool:
    return role in (Role.LLM, Role.EMBEDDING, Role.TOOL, Role.RETRIEVAL)


def _seen(attributes: Mapping[str, object]) -> bool:
    """Whether genai-cost wrote on this span (a second record of a call, say): one of its own
    keys, not any in its namespace (LiteLLM writes ``gen_ai.cost.total_cost``)."""
    return any(key in A.SPAN_COST_KEYS for key in attributes)


def _recorded_cost(attributes: Mapping[str, object]) -> RecordedCost | None:
    """What the span says it cost, read as the roll-up reads it
    (:func:`genai_cost.recorded_cost.recorded_cost`), unless one of its ``gen_ai.cost.*``
    attributes could not be read from the file: then it is unpriced (``invalid_cost``)."""
    for key, value in attributes.items():
        if isinstance(value, Unreadable) and key in A.SPAN_COST_KEYS:
            why = f"{key} could not be read: {value.why}"
            return RecordedCost(RECORDED_CATEGORY_OTHER, None, A.REASON_INVALID_COST, why)
    return recorded_cost(attributes)


_INFERENCE = (Role.LLM, Role.EMBEDDING)


def _adk_records(spans: list[ExportedSpan], usages: Mapping[str, SpanUsage]) -> tuple[dict[str, str], set[str]]:
    """Google ADK's records of its model calls (:func:`genai_cost.records.adk_record`, as
    the processor reads them): ADK 1.x's ``generate_content`` spans, each a second record of
    the ``call_llm`` above it (span id -> that parent's id), and ADK's ``call_llm`` spans."""
    partials: dict[str, str] = {}
    calls: set[str] = set()
    for span in spans:
        usage = usages[span.span_id]
        if span.scope == ADK_SCOPE and usage.role in _INFERENCE:
            record = adk_record(span.name, _ScopeOf(span.scope_version), usage.operation)
            if record == ADK_PARTIAL and span.parent_span_id is not None:
                partials[span.span_id] = span.parent_span_id
            elif record == ADK_CALL:
                calls.add(span.span_id)
    return partials, calls


class _ScopeOf(NamedTuple):
    """A span's instrumentation scope, as :func:`genai_cost.records.adk_record` reads it."""

    version: str | None


def _wrappers(
    spans: list[ExportedSpan],
    usages: Mapping[str, SpanUsage],
    adk_partials: Mapping[str, str],
    adk_calls: set[str],
) -> tuple[set[str], set[str]]:
    """Span ids of the inference spans that had an inference call below them when they
    ended (at any depth, through any span): wrappers, never priced; and of every span with
    a call recorded below it, whenever that call ended (an agent's span without one,
    counting tokens, is flagged ``unrecorded_calls``; one whose call ended after it was
    priced right by a gateway, which orders a request's spans children first). A tool or
    retrieval span with a model call inside it is still a call, priced as one.

    The processor meets spans as they end, and a call below a span reaches it only through
    spans that ended before their parent (:func:`_ended_before`). A span whose calls below
    all ended after it (a framework's span returning a stream still being read) was priced
    as the call, so it is no wrapper here either (:func:`_first_records` names the spans
    below it as its second records). Spans with no end time in the file cannot be ordered:
    they are taken to end before their parent, as nested spans do.

    As in the processor, ADK 1.x's second record of a call (``adk_partials``) passes
    nothing up, and an ADK ``call_llm`` (``adk_calls``) is a wrapper only with a call among
    its children: what ADK 1.x runs under it deeper down (tools, sub-agents) came after
    its own call."""
    by_id = {span.span_id: span for span in spans}
    above: set[str] = set()  # spans with a call below them when they ended
    directly: set[str] = set()  # ... among their children
    anywhere: set[str] = set()  # spans with a call below them, whenever it ended
    for span in spans:
        if usages[span.span_id].role in _INFERENCE and span.span_id not in adk_partials:
            ancestor = by_id.get(span.parent_span_id) if span.parent_span_id is not None else None
            while ancestor is not None and ancestor.span_id not in anywhere:
                anywhere.add(ancestor.span_id)
                ancestor = by_id.get(ancestor.parent_span_id) if ancestor.parent_span_id is not None else None
            child = span
            parent = by_id.get(child.parent_span_id) if child.parent_span_id is not None else None
            if parent is not None and _ended_before(child, parent):
                directly.add(parent.span_id)
            while parent is not None and parent.span_id not in above and _ended_before(child, parent):
                above.add(parent.span_id)
                if parent.span_id in adk_partials:
                    break
                child = parent
                parent = by_id.get(child.parent_span_id) if child.parent_span_id is not None else None
    wrappers = {
        span_id
        for span_id in above
        if usages[span_id].role in _INFERENCE
        and span_id not in adk_partials
        and (span_id in directly or span_id not in adk_calls)
    }
    return wrappers, anywhere


def _ended_before(child: ExportedSpan, parent: ExportedSpan) -> bool:
    """Whether ``child`` ended before its ``parent``, so that the processor had seen it
    when the parent ended. Without both end times, and at the same time, it did: nested
    spans end so, and the file cannot say otherwise."""
    return child.end_ns is None or parent.end_ns is None or child.end_ns <= parent.end_ns


#: How far up through spans still open a call looks for a wrapper priced before it ended:
#: the processor's ``WRAPPER_DEPTH`` (``genai_cost._call_records``), not imported (that
#: module imports OpenTelemetry, which the report runs without).
_WRAPPER_DEPTH = 4


def _wrapper_ended_first(
    span: ExportedSpan, by_id: Mapping[str, ExportedSpan], leaves: Mapping[str, bool]
) -> str | None:
    """The span id of the call above ``span`` that ended before it and was priced or
    flagged as the leaf (in ``leaves``): its parent, or an ancestor reached through spans still open when
    ``span`` ended (a middleware span between a wrapper and the call it wraps), up to
    :data:`_WRAPPER_DEPTH` levels up, as ``CallRecords.wrapper_ended_first`` finds
    it; ``None`` when there is none, or when an end time on the way is missing (nothing
    can be said of what was open)."""
    end = span.end_ns
    ancestor_id = span.parent_span_id
    if end is None:
        return None
    for _ in range(_WRAPPER_DEPTH):
        ancestor = by_id.get(ancestor_id) if ancestor_id is not None else None
        if ancestor is None or ancestor.end_ns is None:
            return None
        if ancestor.end_ns < end:  # ended before it: the processor knew only what it was
            return ancestor_id if ancestor_id in leaves else None
        ancestor_id = ancestor.parent_span_id  # still open: the processor looked above it
    return None


def _first_records(
    spans: list[ExportedSpan],
    usages: Mapping[str, SpanUsage],
    wrappers: set[str],
    adk_partials: Mapping[str, str],
    models: _CallModels,
) -> tuple[dict[str, str], dict[str, list[str]]]:
    """The second records of a call, each with the span id of its first record, and the
    records that took over the count of an earlier one (``gen_ai.cost.accounts_for``): the
    processor's rules for one call recorded twice (docs/attributes.md, "One call, two
    records"), applied to the trace's leaf inference spans as the processor meets them, in
    the order they ended (``CallRecords.first_record``, ``genai_cost._call_records``):

    - two records with the same ``gen_ai.response.id`` are one call, unless one
      instrumentation scope wrote both, one after the other (a server that reuses ids);
    - else, siblings for the same model (as the catalog knows it) and the same input and
      output token counts are one call when different scopes wrote them and they overlap
      in time (a provider SDK's span under a Logfire stream request counts as a sibling of
      the request, lasting until the log that records the stream);
    - ADK 1.x's ``generate_content`` is a second record of the ``call_llm`` above it;
    - a call that ends under an inference span that ended before it and was priced as the
      call (a framework's span that returned while the stream it wraps was still read, see
      :func:`_wrappers`; found above spans still open in between, as the processor finds
      it: :func:`_wrapper_ended_first`) is a second record of that span's call. Only a span
      that carries usage or a cost stands for the call below it: one without would take
      the call's cost with it, so the processor flags it and prices the call below, which
      takes over the call the flagged wrapper counted (once: a record ending later below
      either is a call of its own).

    The first to end is the call, except for ADK's pair, where ``call_llm`` is. Spans with
    no end time cannot be ordered: they are never taken for a wrapper that ended first."""
    seconds = dict(adk_partials)
    by_id = {span.span_id: span for span in spans}
    #: Calls met as leaves so far (``CallRecords._leaf_calls``): ``True``, with usage or a
    #: cost; ``False``, flagged unpriced without (a later record below it takes it over).
    leaves: dict[str, bool] = {}
    takes_over: dict[str, list[str]] = {}
    by_response: dict[str, CallRecord] = {}
    twins = _Twins(models)
    #: Span id -> its parent's, of Logfire's request spans of streamed calls that had ended.
    stream_requests: dict[str, str] = {}
    for span in sorted(spans, key=lambda span: span.end_ns or 0):  # as the processor meets them
        span_id, parent = span.span_id, span.parent_span_id
        usage = usages[span_id]
        if usage.role is Role.OTHER:
            if parent is not None and span.scope in USAGE_ON_STREAM_LOG_SCOPES:
                stream_requests[span_id] = parent
            continue
        if usage.role not in _INFERENCE or span_id in wrappers or span_id in adk_partials:
            continue
        wrapper = _wrapper_ended_first(span, by_id, leaves)
        if wrapper is not None and leaves[wrapper]:
            seconds[span_id] = wrapper
            continue
        recorded = usage.usage is not None or usage.reported_cost is not None
        if recorded:
            leaves[span_id] = True
        record = CallRecord(span_id, span.scope or "", span.start_ns or 0, span.end_ns or 0)
        if usage.response_id is not None:
            first = by_response.setdefault(usage.response_id, record)
            if first is not record:
                if same_call_by_response_id(first, record):
                    seconds[span_id] = first.span_id
                    continue
                by_response[usage.response_id] = record  # two calls: the later is remembered
        tokens = usage.usage
        if tokens is not None and parent is not None:
            request_parent = stream_requests.get(parent)
            if request_parent is not None:
                parent, record = request_parent, record._replace(end=UNTIL_ITS_LOG)
            twin = twins.first((parent, tokens.input_tokens, tokens.output_tokens), usage, record)
            if twin is not None:
                seconds[span_id] = twin
                continue
        if wrapper is not None:  # a record flagged without usage above it: this one takes its call over
            del leaves[wrapper]
            # Named on the record that is listed: the one taken over may have taken over another.
            takes_over[span_id] = [*takes_over.pop(wrapper, ()), wrapper]
        if not recorded:
            leaves[span_id] = False
    return seconds, takes_over


class _Twins:
    """The twin rule's first records of a trace, by parent, model (as the catalog knows
    it) and token counts: ``CallRecords.first_record``'s, but a model name is
    resolved only once two records have the same parent and counts, so that a report
    loads the catalog only when it has twins to tell apart."""

    def __init__(self, models: _CallModels) -> None:
        self._models = models
        #: (parent, input, output) -> its one record so far (with its usage, the model not
        #: resolved yet), or its records by model.
        self._records: dict[tuple[str, int, int], tuple[SpanUsage, CallRecord] | dict[str | None, CallRecord]] = {}

    def first(self, where: tuple[str, int, int], usage: SpanUsage, record: CallRecord) -> str | None:
        """The span id of the first record of the call ``record`` is a twin of, or ``None``
        (then ``record`` is the one a later twin is compared with)."""
        found = self._records.get(where)
        if found is None:
            self._records[where] = (usage, record)
            return None
        if isinstance(found, tuple):
            found = self._records[where] = {self._models.key(found[0]): found[1]}
        model = self._models.key(usage)
        twin = found.get(model)
        if twin is not None and twin_records(twin, record):
            return twin.span_id
        found[model] = record  # another call, one after the other: the later is remembered
        return None


class _CallModels:
    """Model names as the catalog knows them (:func:`genai_cost.records.call_model`), with
    the catalog loaded when first needed."""

    def __init__(self, catalog: Catalog | None) -> None:
        self._catalog = catalog

    def key(self, usage: SpanUsage) -> str | None:
        if usage.model is None:
            return None
        if self._catalog is None:
            self._catalog = runtime_catalog()
        return call_model(self._catalog, usage.model, usage.provider)


def runtime_catalog() -> Catalog:
    """The catalog the processor resolves model names with: the shipped one and the files
    of ``GENAI_COST_PRICING_FILE``, a broken one left out as the processor leaves it out."""
    catalog, _skipped = Catalog.load_lenient(env_pricing_files(), cache_dir=user_cache_dir())
    return catalog


def _add_cost(report: TraceReport, category: str, usd: float) -> None:
    report.total_usd += usd
    report.by_category[category] = report.by_category.get(category, 0.0) + usd


def _iso(nanos: int) -> str | None:
    """A time in nanoseconds since the epoch as ISO 8601 in UTC, to the millisecond."""
    try:
        moment = dt.datetime.fromtimestamp(nanos // 1_000_000_000, tz=dt.timezone.utc)
    except (OverflowError, OSError, ValueError):
        return None
    moment = moment.replace(microsecond=nanos // 1000 % 1_000_000)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def rounded_usd(amount: float) -> float:
    """A USD sum as ``--json`` prints it (:data:`USD_DECIMALS`)."""
    return round(amount, USD_DECIMALS)


def totals_dict(totals: CallTotals) -> dict[str, Any]:
    """One ``by_entry`` line of ``--json``, per trace or per conversation."""
    return {
        "calls": totals.calls,
        "usd": rounded_usd(totals.usd),
        "input_tokens": totals.input_tokens,
        "output_tokens": totals.output_tokens,
        "cache_read_tokens": totals.cache_read_tokens,
        "cache_write_tokens": totals.cache_write_tokens,
        "reasoning_tokens": totals.reasoning_tokens,
    }


def _note_dict(note: SpanNote) -> dict[str, str]:
    return {"span_id": note.span_id, "name": note.name, "reason": note.reason, "detail": note.detail}


@dataclass(frozen=True, slots=True)
class ReportSummary:
    """The totals of all the traces reported, whether listed (``--top``) or not: the one
    summary both the text and the JSON print."""

    traces: int
    total_usd: float
    #: category -> USD, the most first (then by name).
    by_category: dict[str, float]
    #: Spans flagged unpriced, in all traces.
    unpriced_spans: int
    #: Billable spans with no cost attribute (never seen by genai-cost), in all traces.
    not_priced_here_spans: int
    #: Ids of the traces whose root said spans were still open as it ended.
    incomplete_traces: list[str]
    duplicates_ignored: int
    #: How the cost of the fully priced traces spreads (``None`` for fewer than two).
    per_trace: CostSpread | None = None
    #: With ``--what-if``: the traces' :attr:`TraceReport.what_if`, added up.
    what_if: dict[str, WhatIfTotals] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "traces": self.traces,
            "total_usd": rounded_usd(self.total_usd),
            "by_category": {category: rounded_usd(usd) for category, usd in self.by_category.items()},
            "unpriced_spans": self.unpriced_spans,
            "not_priced_here_spans": self.not_priced_here_spans,
            "incomplete_traces": list(self.incomplete_traces),
            "duplicates_ignored": self.duplicates_ignored,
            "per_trace": self.per_trace.as_dict(rounded_usd) if self.per_trace is not None else None,
            "what_if": what_if_dict(self.what_if),
        }


def summarize(reports: Sequence[TraceReport]) -> ReportSummary:
    """The totals of ``reports`` (all the traces reported, after ``--trace``)."""
    categories: dict[str, float] = {}
    what_if: dict[str, WhatIfTotals] = {}
    for report in reports:
        for category, usd in report.by_category.items():
            categories[category] = categories.get(category, 0.0) + usd
        for source, repriced in report.what_if.items():
            what_if.setdefault(source, WhatIfTotals(repriced.to_id)).add(repriced)
    return ReportSummary(
        traces=len(reports),
        total_usd=sum(report.total_usd for report in reports),
        by_category=dict(sorted(categories.items(), key=lambda item: (-item[1], item[0]))),
        unpriced_spans=sum(len(report.unpriced) for report in reports),
        not_priced_here_spans=sum(len(report.not_priced_here) for report in reports),
        incomplete_traces=[report.trace_id for report in reports if not report.complete],
        duplicates_ignored=sum(report.duplicates_ignored for report in reports),
        per_trace=cost_spread([(report.trace_id, report.total_usd) for report in reports if report.fully_priced]),
        what_if=what_if,
    )


# ------------------------------------------------------------------ output


def render_json(
    reports: Sequence[TraceReport],
    shown: Sequence[TraceReport],
    problems: Sequence[str],
    skipped_output: Sequence[str] = (),
) -> str:
    """``genai-cost report --json``: ``reports`` are the traces reported (after ``--trace``),
    ``shown`` the ones listed (``--top``), ``problems`` those of reading the files,
    ``skipped_output`` the application's own output skipped among console-exporter spans.
    The top level holds the totals of all ``reports`` (:func:`summarize`)."""
    document = {
        **summarize(reports).as_dict(),
        "problems": list(problems),
        "skipped_output": list(skipped_output),
        "shown": [report.as_dict() for report in shown],
    }
    return json.dumps(document, indent=2)


def money_text(usd: float, decimals: int) -> str:
    """``$0.1420`` (``decimals`` 4); an amount that is not zero but rounds to zero is
    ``<$0.0001``, never ``$0.0000``: a cost must not read as free."""
    shown = f"${usd:.{decimals}f}"
    if usd > 0 and float(shown[1:]) == 0:
        return f"<${10**-decimals:.{decimals}f}"
    return shown


#: Control characters (C0, DEL, C1): a span's model or tool name that holds them would, printed
#: as it is, move the terminal's cursor or clear it (an escape sequence from any sender).
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def _printable(text: str) -> str:
    """``text`` from a span, with its control characters written as escapes (``\x1b``)."""
    return _CONTROL.sub(lambda found: repr(found.group())[1:-1], text)


def render_text(reports: Sequence[TraceReport], shown: Sequence[TraceReport]) -> str:
    """``genai-cost report``: the totals of ``reports``, then each of ``shown`` in detail."""
    summary = summarize(reports)
    lines = [summary_line(summary)]
    lines.extend(overview_lines("trace", summary.per_trace, summary.what_if, len(shown), len(reports)))
    for report in shown:
        lines.append("")
        when = ""
        if report.start is not None:
            when += f"  start {report.start}"
        if report.duration_s is not None:
            when += f"  duration {report.duration_s:.3f} s"
        if report.root_missing is not None:
            flag = f"  (its root, span {report.root_missing}, is not in the input: it never ended, or was not exported)"
        else:
            flag = "" if report.complete else "  (spans were still open when the root ended)"
        if report.duplicates_ignored:
            flag += f"  ({report.duplicates_ignored} duplicate span record(s) ignored)"
        flag += runaway_flag(summary.per_trace, report.total_usd) if report.fully_priced else ""
        lines.append(f"trace {report.trace_id}  {report.root_name!r}  {money_text(report.total_usd, 6)}{when}{flag}")
        if report.conversation_id is not None:
            lines.append(f"  conversation {report.conversation_id!r}" + also_named(report))
        lines.extend(cost_lines(report.by_category, report.by_entry))
        lines.extend(what_if_lines(report.what_if, "  "))
        lines.extend(note_lines(report))
    return "\n".join(lines)


def summary_line(summary: ReportSummary) -> str:
    """The first line of a text report: what all the traces reported cost, and what was not
    priced."""
    parts = ", ".join(f"{category} {money_text(usd, 4)}" for category, usd in summary.by_category.items())
    incomplete = len(summary.incomplete_traces)
    return (
        f"{summary.traces} trace(s), {money_text(summary.total_usd, 4)} in all"
        + (f" ({parts})" if parts else "")
        + f"; {summary.unpriced_spans} unpriced span(s)"
        + f"; {summary.not_priced_here_spans} billable span(s) without cost attributes"
        + (f"; {incomplete} incomplete trace(s)" if incomplete else "")
        + (f"; {summary.duplicates_ignored} duplicate span record(s) ignored" if summary.duplicates_ignored else "")
    )


def overview_lines(
    item: str, spread: CostSpread | None, what_if: Mapping[str, WhatIfTotals], shown: int, reported: int
) -> list[str]:
    """The lines between the totals and the ``item`` s listed (traces, conversations): how
    their cost spreads, the ``--what-if`` figures, and how many of them are listed."""
    lines = [spread_line(item, spread)] if spread is not None else []
    lines.extend(what_if_lines(what_if, ""))
    if shown < reported:
        lines.append(f"the {shown} most expensive:")
    return lines


def spread_line(item: str, spread: CostSpread) -> str:
    """How the cost per ``item`` (trace, conversation) spreads, over the fully priced ones."""
    over = len(spread.over_twice_median)
    return (
        f"cost per {item}, {spread.count} fully priced: median {money_text(spread.median_usd, 4)},"
        f" p90 {money_text(spread.p90_usd, 4)}, p99 {money_text(spread.p99_usd, 4)},"
        f" max {money_text(spread.max_usd, 4)}; {over} over twice the median"
    )


def what_if_lines(what_if: Mapping[str, WhatIfTotals], indent: str) -> list[str]:
    """``what if openai/gpt-4o were openai/gpt-4o-mini: 10 call(s) $0.1290 -> $0.0077 (-94.0%)``."""
    lines = []
    for source, repriced in what_if.items():
        change = repriced.change
        line = (
            f"{indent}what if {source} were {repriced.to_id}: {repriced.calls} call(s)"
            f" {money_text(repriced.usd, 6)} -> {money_text(repriced.alternative_usd, 6)}"
            + (f" ({change:+.1%})" if change is not None else "")
        )
        if repriced.not_repriced:
            line += f"; {repriced.not_repriced} call(s) not priced again (no token counts on their span)"
        lines.append(line)
    return lines


def what_if_dict(what_if: Mapping[str, WhatIfTotals]) -> dict[str, dict[str, Any]]:
    """``what_if`` in ``--json``, per trace or in all."""
    return {
        source: {
            "to": repriced.to_id,
            "calls": repriced.calls,
            "usd": rounded_usd(repriced.usd),
            "alternative_usd": rounded_usd(repriced.alternative_usd),
            "not_repriced": repriced.not_repriced,
        }
        for source, repriced in what_if.items()
    }


def runaway_flag(spread: CostSpread | None, usd: float) -> str:
    """``  (3.1x the median)`` for what costs over twice the median, else nothing."""
    times = spread.times_median(usd) if spread is not None else None
    return f"  ({times:.1f}x the median)" if times is not None else ""


def cost_lines(by_category: Mapping[str, float], by_entry: Mapping[str, CallTotals]) -> list[str]:
    """The categories, then each catalog entry and tool with its calls, cost and tokens."""
    lines = []
    if by_category:
        lines.append("  " + "  ".join(f"{category} {money_text(usd, 6)}" for category, usd in by_category.items()))
    for entry, calls in by_entry.items():
        tokens = ""
        if calls.input_tokens or calls.output_tokens:
            tokens = (
                f"  in {calls.input_tokens:,}  out {calls.output_tokens:,}  cache read {calls.cache_read_tokens:,}"
                + (f"  cache write {calls.cache_write_tokens:,}" if calls.cache_write_tokens else "")
                + (f"  reasoning {calls.reasoning_tokens:,}" if calls.reasoning_tokens else "")
            )
        lines.append(f"  {_printable(entry):<40} {calls.calls:>4} call(s)  {money_text(calls.usd, 6)}{tokens}")
    return lines


def note_lines(report: TraceReport, *, with_trace: bool = False) -> list[str]:
    """The spans of ``report`` with no price: ``UNPRICED`` with the reason, ``NO COST
    ATTRIBUTES`` for billable spans no genai-cost saw; ``with_trace`` names the trace too
    (in a conversation's list of its turns' spans)."""
    where = f"trace {report.trace_id}, " if with_trace else ""
    lines = []
    for note in report.unpriced:
        lines.append(
            f"  UNPRICED {note.name!r} ({where}span {note.span_id}): {_printable(note.reason)}"
            + (f": {_printable(note.detail)}" if note.detail else "")
        )
    for note in report.not_priced_here:
        lines.append(
            f"  NO COST ATTRIBUTES {note.name!r} ({where}span {note.span_id})"
            + (f" {_printable(note.detail)}" if note.detail else "")
            + ": the process that emitted it did not run genai-cost"
        )
    return lines


def also_named(report: TraceReport) -> str:
    """What a trace's text line adds when its spans name other conversations than its own."""
    others = report.other_conversation_ids
    if not others:
        return ""
    return "  (spans of it also name " + ", ".join(repr(other) for other in others) + ")"
