"""Spans received over OTLP, turned back into the SDK's ``ReadableSpan``.

The gateway (:mod:`genai_cost.gateway`) prices spans that other processes
export: agents written in other languages (the Vercel AI SDK), or Python
services without genai-cost. Decoding them into the very type the SDK hands
its processors lets them take the same path as spans of this process
(:class:`~genai_cost.processor.CostSpanProcessor`, then
:class:`~genai_cost.rollup.TraceCostExporter`, then any SDK exporter) instead
of a second pricing path that could drift from the first.

A request that is not OTLP at all is refused whole (:class:`OtlpDecodeError`);
a span that is malformed on its own (an id of the wrong length) is left out
and counted, with its place in the request named, so one bad span does not
lose its batch (OTLP's ``partial_success``).
"""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.common.v1.common_pb2 import InstrumentationScope as ProtoScope
from opentelemetry.proto.trace.v1.trace_pb2 import Span as ProtoSpan
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.sdk.util.instrumentation import InstrumentationScope
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags, TraceState

#: ``Span.flags`` bits (trace.proto): whether the sender knew if the parent was remote, and if it was.
_HAS_IS_REMOTE = 0x100
_IS_REMOTE = 0x200
#: OTLP's SpanKind numbers are the SDK's plus one (0 is "unspecified").
_KINDS = {1: SpanKind.INTERNAL, 2: SpanKind.SERVER, 3: SpanKind.CLIENT, 4: SpanKind.PRODUCER, 5: SpanKind.CONSUMER}
_STATUS = {0: StatusCode.UNSET, 1: StatusCode.OK, 2: StatusCode.ERROR}
#: How many problems a result names (the count covers them all).
_MAX_PROBLEMS = 5
#: OTLP/JSON fields that carry ids as hex, where protobuf's JSON mapping expects base64.
_ID_FIELDS = ("traceId", "spanId", "parentSpanId", "trace_id", "span_id", "parent_span_id")


class OtlpDecodeError(ValueError):
    """The body is not an OTLP trace export request; the message says why."""


@dataclass(frozen=True)
class ReceivedSpans:
    """The spans of one request, and those left out."""

    spans: list[ReadableSpan]
    #: Spans left out because they were malformed on their own.
    rejected: int = 0
    #: The first few reasons, each naming the span's place in the request.
    problems: tuple[str, ...] = ()


def parse_protobuf(body: bytes) -> ExportTraceServiceRequest:
    """An ``ExportTraceServiceRequest`` from OTLP/protobuf bytes."""
    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, ValueError, RecursionError) as exc:
        raise OtlpDecodeError(f"not an OTLP/protobuf trace request: {exc}") from None
    return request


def parse_json(body: bytes) -> ExportTraceServiceRequest:
    """An ``ExportTraceServiceRequest`` from OTLP/JSON.

    OTLP/JSON differs from protobuf's own JSON mapping in one way that matters
    here: trace and span ids are hex, not base64. They are converted before the
    message is parsed; an id that is not hex is left for the parser to judge.
    """
    try:
        document = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise OtlpDecodeError(f"not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise OtlpDecodeError(f"not an OTLP/JSON trace request: the top level is a {type(document).__name__}")
    for span in _json_spans(document):
        _hex_ids_to_base64(span)
        links = span.get("links")
        if isinstance(links, list):
            for link in links:
                if isinstance(link, dict):
                    _hex_ids_to_base64(link)
    request = ExportTraceServiceRequest()
    try:
        json_format.ParseDict(document, request, ignore_unknown_fields=True)
    except (json_format.ParseError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise OtlpDecodeError(f"not an OTLP/JSON trace request: {exc}") from None
    return request


def spans_of(request: ExportTraceServiceRequest) -> ReceivedSpans:
    """The request's spans as ``ReadableSpan`` objects, in the order received."""
    spans: list[ReadableSpan] = []
    problems: list[str] = []
    rejected = 0
    for r, resource_spans in enumerate(request.resource_spans):
        resource_attributes = _attributes(resource_spans.resource.attributes)
        resource = Resource(resource_attributes, resource_spans.schema_url or None)  # type: ignore[arg-type]
        for s, scope_spans in enumerate(resource_spans.scope_spans):
            scope = _scope(scope_spans.scope, scope_spans.schema_url)
            for n, span in enumerate(scope_spans.spans):
                try:
                    spans.append(_span(span, resource, scope))
                except _BadSpan as exc:
                    rejected += 1
                    if len(problems) < _MAX_PROBLEMS:
                        problems.append(f"resource_spans[{r}].scope_spans[{s}].spans[{n}]: {exc}")
    return ReceivedSpans(spans, rejected, tuple(problems))


class _BadSpan(ValueError):
    pass


def _span(span: ProtoSpan, resource: Resource, scope: InstrumentationScope | None) -> ReadableSpan:
    trace_id = _id(span.trace_id, 16, "trace_id")
    span_id = _id(span.span_id, 8, "span_id")
    flags = span.flags
    # The sender exported it, so it was sampled; the SDK's processors drop spans that say otherwise.
    trace_flags = TraceFlags(TraceFlags.SAMPLED | (flags & 0xFF))
    trace_state = _trace_state(span.trace_state)
    context = SpanContext(trace_id, span_id, is_remote=False, trace_flags=trace_flags, trace_state=trace_state)
    parent: SpanContext | None = None
    if span.parent_span_id:
        parent_id = _id(span.parent_span_id, 8, "parent_span_id")
        remote = flags & (_HAS_IS_REMOTE | _IS_REMOTE) == _HAS_IS_REMOTE | _IS_REMOTE
        parent = SpanContext(trace_id, parent_id, is_remote=remote, trace_flags=trace_flags, trace_state=trace_state)
    code = _STATUS.get(span.status.code, StatusCode.UNSET)
    status = Status(code, span.status.message or None) if code is StatusCode.ERROR else Status(code)
    received = ReadableSpan(
        name=span.name,
        context=context,
        parent=parent,
        resource=resource,
        attributes=_attributes(span.attributes),  # type: ignore[arg-type]
        events=tuple(_events(span.events)),
        links=tuple(_links(span.links)),
        kind=_KINDS.get(span.kind, SpanKind.INTERNAL),
        status=status,
        start_time=span.start_time_unix_nano,
        end_time=span.end_time_unix_nano,
        instrumentation_scope=scope,
    )
    # What the sender dropped stays known (a CostedSpan reports these).
    state = received.__dict__
    state["_dropped_attributes"] = span.dropped_attributes_count
    state["_dropped_events"] = span.dropped_events_count
    state["_dropped_links"] = span.dropped_links_count
    return received


def _id(raw: bytes, size: int, field: str) -> int:
    if len(raw) != size:
        raise _BadSpan(f"{field}: {len(raw)} bytes, expected {size}")
    value = int.from_bytes(raw, "big")
    if value == 0:
        raise _BadSpan(f"{field}: all zero (an invalid id)")
    return value


def _trace_state(header: str) -> TraceState | None:
    """The valid members of a W3C ``tracestate``: the SDK's parser drops the whole header
    for one bad member, which would lose the sender's other vendors' state."""
    if not header:
        return None
    members: dict[str, str] = {}
    for member in header.split(","):
        if member.strip(" \t"):
            for key, value in TraceState.from_header([member]).items():
                members.setdefault(key, value)
    return TraceState(list(members.items())[:32])  # (the W3C limit; more makes the SDK drop all)


def _scope(scope: ProtoScope, schema_url: str) -> InstrumentationScope | None:
    if not scope.name and not scope.version and not scope.attributes and not schema_url:
        return None
    return InstrumentationScope(
        scope.name,
        scope.version or None,
        schema_url or None,
        _attributes(scope.attributes),  # type: ignore[arg-type]
    )


def _events(events: Iterable[ProtoSpan.Event]) -> Iterator[Event]:
    for event in events:
        attributes = _bounded(event.attributes, event.dropped_attributes_count)
        yield Event(event.name, attributes, event.time_unix_nano)  # type: ignore[arg-type]


def _links(links: Iterable[ProtoSpan.Link]) -> Iterator[Link]:
    for link in links:
        if len(link.trace_id) != 16 or len(link.span_id) != 8:
            continue  # a link to nothing identifiable: the span itself is still good
        remote = link.flags & (_HAS_IS_REMOTE | _IS_REMOTE) == _HAS_IS_REMOTE | _IS_REMOTE
        context = SpanContext(
            int.from_bytes(link.trace_id, "big"),
            int.from_bytes(link.span_id, "big"),
            is_remote=remote,
            trace_flags=TraceFlags(link.flags & 0xFF),
            trace_state=_trace_state(link.trace_state),
        )
        yield Link(context, _bounded(link.attributes, link.dropped_attributes_count))  # type: ignore[arg-type]


def _bounded(pairs: Iterable[KeyValue], dropped: int) -> Mapping[str, object]:
    """The attributes, carrying the sender's count of those it dropped: the SDK reads
    (and its encoder writes) an event's or link's count only from ``BoundedAttributes``."""
    attributes = _attributes(pairs)
    if not dropped:
        return attributes
    bounded = BoundedAttributes(None, attributes, immutable=True)  # type: ignore[arg-type]
    bounded.dropped = dropped
    return bounded


def _attributes(pairs: Iterable[KeyValue]) -> dict[str, object]:
    return {pair.key: _value(pair.value) for pair in pairs}


def _value(value: AnyValue) -> object:
    """An ``AnyValue`` as the plain Python value the SDK's OTLP encoder turns back into it."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return tuple(_value(item) for item in value.array_value.values)
    if kind == "kvlist_value":
        return {pair.key: _value(pair.value) for pair in value.kvlist_value.values}
    return getattr(value, kind)


def _json_spans(document: dict[str, object]) -> Iterator[dict[str, object]]:
    for resource_spans in _dicts(document.get("resourceSpans", document.get("resource_spans"))):
        for scope_spans in _dicts(resource_spans.get("scopeSpans", resource_spans.get("scope_spans"))):
            yield from _dicts(scope_spans.get("spans"))


def _dicts(value: object) -> Iterator[dict[str, object]]:
    if isinstance(value, list):
        for item in value:
            if isinstance(item, dict):
                yield item


def _hex_ids_to_base64(record: dict[str, object]) -> None:
    for field in _ID_FIELDS:
        raw = record.get(field)
        if isinstance(raw, str) and raw:
            with contextlib.suppress(ValueError):  # not hex: perhaps base64 already; the parser decides
                record[field] = base64.b64encode(bytes.fromhex(raw)).decode("ascii")
