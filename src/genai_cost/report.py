"""What did each conversation cost, and why: a report from spans already exported.

The cost attributes are on the spans, so a file of exported spans (the collector's
``file`` exporter, a trace downloaded from Jaeger or Tempo) holds the whole answer.
This module reads such files and sums them per trace, per model and per tool, and
lists what was not priced and why: spans flagged ``gen_ai.cost.unpriced``, and
billable spans that carry no cost attribute at all (the process that emitted them
did not run genai-cost), so that a report never passes a gap off as a zero.

Pure Python, no OpenTelemetry import: it reads OTLP JSON with pydantic and
classifies spans with :func:`genai_cost.usage.read_usage`, as the processor does.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from . import attributes as A
from .pricer import usd_amount
from .pricing.files import dotted_path
from .usage import Role, read_usage

__all__ = ["ExportedSpan", "SpanFileError", "TraceReport", "read_span_file", "report_traces"]


class SpanFileError(ValueError):
    """A span file that cannot be read, or parts of it. ``problems`` name the file, the
    line (for JSON lines) and the field; ``spans`` are those read from the rest."""

    def __init__(self, problems: list[str], spans: list[ExportedSpan]) -> None:
        self.problems = problems
        self.spans = spans
        super().__init__("\n".join(problems))


@dataclass(frozen=True, slots=True)
class ExportedSpan:
    trace_id: str  #: 32 lower-case hex digits
    span_id: str  #: 16 lower-case hex digits
    parent_span_id: str | None
    name: str
    scope: str | None
    attributes: Mapping[str, object]


@dataclass(slots=True)
class CallTotals:
    """The priced calls of one catalog entry or tool in a trace."""

    calls: int = 0
    usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0


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

    def as_dict(self) -> dict[str, Any]:
        return {
            "trace_id": self.trace_id,
            "root_name": self.root_name,
            "spans": self.spans,
            "total_usd": self.total_usd,
            "by_category": dict(self.by_category),
            "by_entry": {key: _totals_dict(value) for key, value in self.by_entry.items()},
            "unpriced": [_note_dict(note) for note in self.unpriced],
            "not_priced_here": [_note_dict(note) for note in self.not_priced_here],
            "complete": self.complete,
        }


# ------------------------------------------------------------------ reading


class _Lenient(BaseModel):
    # OTLP carries much more than a report needs (resource, events, links, status...).
    model_config = ConfigDict(extra="ignore", frozen=True)


class _ArrayValue(_Lenient):
    values: list[_AnyValue] = []


class _AnyValue(_Lenient):
    # Field names as OTLP JSON spells them; int64 arrives as a JSON string, which lax mode reads.
    stringValue: str | None = None
    boolValue: bool | None = None
    intValue: int | None = None
    doubleValue: float | None = None
    arrayValue: _ArrayValue | None = None

    def plain(self) -> object:
        for value in (self.stringValue, self.boolValue, self.intValue, self.doubleValue):
            if value is not None:
                return value
        if self.arrayValue is not None:
            return tuple(item.plain() for item in self.arrayValue.values)
        return None


_ArrayValue.model_rebuild()


class _KeyValue(_Lenient):
    key: str
    value: _AnyValue = _AnyValue()


class _Span(_Lenient):
    traceId: str
    spanId: str
    parentSpanId: str = ""
    name: str = ""
    attributes: list[_KeyValue] = []


class _Scope(_Lenient):
    name: str = ""


class _ScopeSpans(_Lenient):
    scope: _Scope | None = None
    spans: list[_Span] = []


class _ResourceSpans(_Lenient):
    scopeSpans: list[_ScopeSpans] = []


class _TracesData(_Lenient):
    resourceSpans: list[_ResourceSpans] = []


def read_span_file(path: Path) -> list[ExportedSpan]:
    """The spans in an OTLP JSON file: one document (``{"resourceSpans": [...]}``, or as
    Jaeger's API (``{"result": ...}``) or Tempo's (``{"batches": [...]}``) wrap it), or one
    document per line, as the collector's ``file`` exporter writes. Raises
    :class:`SpanFileError` naming every broken line and field, with the spans of the rest."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise SpanFileError([f"{path}: cannot read span file: {reason}"], []) from None
    spans: list[ExportedSpan] = []
    problems: list[str] = []
    try:
        whole: object = json.loads(text)
    except ValueError:
        documents: Iterable[tuple[str, object | ValueError]] = _json_lines(text, str(path))
    else:
        documents = [(str(path), whole)]
    for where, document in documents:
        if isinstance(document, ValueError):
            problems.append(f"{where}: not JSON: {document}")
            continue
        try:
            spans.extend(_spans_of(document, where))
        except _DocumentError as exc:
            problems.extend(exc.problems)
    if problems:
        raise SpanFileError(problems, spans)
    return spans


class _DocumentError(Exception):
    def __init__(self, problems: list[str]) -> None:
        self.problems = problems


def _json_lines(text: str, label: str) -> Iterator[tuple[str, object | ValueError]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                yield f"{label}:{number}", json.loads(line)
            except ValueError as exc:
                yield f"{label}:{number}", exc


def _spans_of(document: object, where: str) -> list[ExportedSpan]:
    if isinstance(document, dict):
        if isinstance(document.get("result"), dict):  # Jaeger v2 API (api/v3)
            document = document["result"]
        elif isinstance(document.get("trace"), dict):  # Tempo API v2
            document = document["trace"]
        if isinstance(document, dict) and "batches" in document and "resourceSpans" not in document:
            document = {"resourceSpans": document["batches"]}  # Tempo API v1
    if not isinstance(document, dict) or "resourceSpans" not in document:
        raise _DocumentError([f"{where}: not OTLP JSON: expected an object with 'resourceSpans'"])
    try:
        data = _TracesData.model_validate(document)
    except ValidationError as exc:
        located = [f"{where}: {dotted_path(error['loc'])}: {error['msg']}" for error in exc.errors()]
        raise _DocumentError(located) from None
    spans: list[ExportedSpan] = []
    problems: list[str] = []
    for r, resource in enumerate(data.resourceSpans):
        for s, scope_spans in enumerate(resource.scopeSpans):
            scope = scope_spans.scope.name if scope_spans.scope is not None else None
            for i, span in enumerate(scope_spans.spans):
                at = f"resourceSpans[{r}].scopeSpans[{s}].spans[{i}]"
                trace_id, span_id = _id(span.traceId, 16), _id(span.spanId, 8)
                parent = _id(span.parentSpanId, 8) if span.parentSpanId else None
                if trace_id is None or span_id is None or (span.parentSpanId and parent is None):
                    problems.append(f"{where}: {at}: trace or span id is neither hex nor base64 of the right length")
                    continue
                attributes = {kv.key: kv.value.plain() for kv in span.attributes}
                spans.append(ExportedSpan(trace_id, span_id, parent, span.name, scope or None, attributes))
    if problems:
        raise _DocumentError(problems)
    return spans


def _id(text: str, size: int) -> str | None:
    """Hex, as OTLP JSON has it, or base64, as protobuf's JSON mapping (Tempo) has it."""
    if len(text) == 2 * size:
        try:
            return bytes.fromhex(text).hex()
        except ValueError:
            pass
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return raw.hex() if len(raw) == size and any(raw) else None


# ------------------------------------------------------------------ summing


def report_traces(spans: Iterable[ExportedSpan]) -> list[TraceReport]:
    """One report per trace, the most expensive first."""
    by_trace: dict[str, list[ExportedSpan]] = {}
    for span in spans:
        by_trace.setdefault(span.trace_id, []).append(span)
    reports = [_report(trace_id, trace_spans) for trace_id, trace_spans in by_trace.items()]
    reports.sort(key=lambda report: (-report.total_usd, report.trace_id))
    return reports


def _report(trace_id: str, spans: list[ExportedSpan]) -> TraceReport:
    ids = {span.span_id for span in spans}
    roots = [span for span in spans if span.parent_span_id not in ids]
    root = min(roots, key=lambda span: (span.parent_span_id is not None, span.name)) if roots else spans[0]
    report = TraceReport(trace_id, root.name, spans=len(spans))
    usages = {span.span_id: read_usage(span.attributes, span.scope) for span in spans}
    wrappers = _spans_above_inference(spans, usages)
    for span in spans:
        attributes = span.attributes
        if attributes.get(A.TRACE_COMPLETE) is False:
            report.complete = False
        infra = usd_amount(attributes.get(A.trace_category_key(A.CATEGORY_INFRA)))
        if infra:  # known per trace only, so written on the local root, not on a span
            _add_cost(report, A.CATEGORY_INFRA, infra)
        total = usd_amount(attributes.get(A.COST_TOTAL))
        if total is not None:
            category = str(attributes.get(A.COST_CATEGORY) or "other")
            _add_cost(report, category, total)
            entry = str(attributes.get(A.COST_PRICING_ID) or category)
            totals = report.by_entry.setdefault(entry, CallTotals())
            totals.calls += 1
            totals.usd += total
            tokens = usages[span.span_id].usage
            if tokens is not None:
                totals.input_tokens += tokens.input_tokens
                totals.output_tokens += tokens.output_tokens
                totals.cache_read_tokens += tokens.cache_read_tokens
        elif attributes.get(A.COST_TOTAL) is not None:  # as the roll-up does: unpriced, not $0
            report.unpriced.append(SpanNote(span.span_id, span.name, "invalid_cost",
                                            f"{A.COST_TOTAL} is not an amount: {attributes.get(A.COST_TOTAL)!r}"))
        elif attributes.get(A.COST_UNPRICED) is True:
            report.unpriced.append(SpanNote(
                span.span_id, span.name, str(attributes.get(A.COST_UNPRICED_REASON) or "unknown"),
                str(attributes.get(A.COST_UNPRICED_DETAIL) or ""),
            ))
        elif _billable(usages[span.span_id].role) and span.span_id not in wrappers and not _seen(attributes):
            usage = usages[span.span_id]
            what = " ".join(filter(None, (usage.provider, usage.model or usage.tool_name)))
            report.not_priced_here.append(SpanNote(span.span_id, span.name, "no_cost_attributes", what))
    report.by_entry = dict(sorted(report.by_entry.items(), key=lambda item: (-item[1].usd, item[0])))
    return report


def _billable(role: Role) -> bool:
    return role in (Role.LLM, Role.EMBEDDING, Role.TOOL, Role.RETRIEVAL)


def _seen(attributes: Mapping[str, object]) -> bool:
    """Whether genai-cost wrote on this span (a second record of a call, say)."""
    return any(key.startswith("gen_ai.cost.") for key in attributes)


def _spans_above_inference(spans: list[ExportedSpan], usages: Mapping[str, Any]) -> set[str]:
    """Span ids with an inference call below them: wrappers, never priced (the leaf rule)."""
    parents = {span.span_id: span.parent_span_id for span in spans}
    above: set[str] = set()
    for span in spans:
        if usages[span.span_id].role in (Role.LLM, Role.EMBEDDING):
            parent = parents.get(span.span_id)
            while parent is not None and parent in parents and parent not in above:
                above.add(parent)
                parent = parents[parent]
    return above


def _add_cost(report: TraceReport, category: str, usd: float) -> None:
    report.total_usd += usd
    report.by_category[category] = report.by_category.get(category, 0.0) + usd


def _totals_dict(totals: CallTotals) -> dict[str, Any]:
    return {"calls": totals.calls, "usd": totals.usd, "input_tokens": totals.input_tokens,
            "output_tokens": totals.output_tokens, "cache_read_tokens": totals.cache_read_tokens}


def _note_dict(note: SpanNote) -> dict[str, str]:
    return {"span_id": note.span_id, "name": note.name, "reason": note.reason, "detail": note.detail}
