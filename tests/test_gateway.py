"""The OTLP gateway: spans received from other processes are priced and rolled up
exactly as in process, then forwarded.

Real OTLP throughout: requests are made by the SDK's own encoder and exporters
(HTTP and gRPC, over loopback sockets), and the spans are the captured shapes of
real instrumentations (tests/fixtures/spans/), replayed through the real SDK.
"""

from __future__ import annotations

import base64
import gzip
import json
import random
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pytest
from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, set_span_in_context

from genai_cost import CostSpanProcessor, TraceCostExporter
from genai_cost.gateway import CostGateway
from genai_cost.gateway_grpc import serve_grpc
from genai_cost.gateway_http import serve_http
from genai_cost.gateway_upstream import exporter_endpoint, parse_address, sends_to_itself
from genai_cost.otlp_in import OtlpDecodeError, parse_json, parse_protobuf, spans_of
from genai_cost.pricing.catalog import Catalog
from support.capture import FIXTURES, replay
from support.gateway import CHAT, CHAT_USD
from support.net import HOST, wait_for

AGENT_TOOLS = Path(__file__).resolve().parent / "integration" / "apps" / "agent_tools.yaml"
COST_PREFIXES = ("gen_ai.cost.", "gen_ai.trace.cost.")


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load([str(AGENT_TOOLS)])


def _record(build: Any) -> list[ReadableSpan]:
    """Spans made by the real SDK with no genai-cost: what a sender exports."""
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "agent-in-another-process"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    build(provider.get_tracer("sender", "1.2.3"))
    provider.shutdown()
    return list(memory.get_finished_spans())


def _agent(tracer: Any) -> None:
    with tracer.start_as_current_span("invoke_agent", kind=SpanKind.SERVER):
        for _ in range(2):
            with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes=CHAT):
                pass


def _request(spans: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
    return encode_spans(spans)


def _costs(span: ReadableSpan) -> dict[str, object]:
    return {k: v for k, v in (span.attributes or {}).items() if k.startswith(COST_PREFIXES)}


def _gateway(catalog: Catalog, exporter: SpanExporter | None = None) -> tuple[CostGateway, InMemorySpanExporter]:
    memory = InMemorySpanExporter()
    return CostGateway(exporter or memory, catalog=catalog), memory


# ------------------------------------------------------------------ decoding


def test_decoding_gives_back_what_the_sdk_encoded() -> None:
    def build(tracer: Any) -> None:
        with tracer.start_as_current_span("root", kind=SpanKind.SERVER) as root:
            root.add_event("started", {"step": 1, "tags": ("a", "b")})
            link = Link(root.get_span_context(), {"why": "retry"})
            with tracer.start_as_current_span(
                "child",
                kind=SpanKind.CLIENT,
                links=[link],
                attributes={"s": "x", "b": True, "i": -7, "f": 0.25, "ints": (1, 2), "floats": (0.5,), "strs": ("q",)},
            ) as child:
                child.set_status(Status(StatusCode.ERROR, "boom"))

    sent = _record(build)
    received = spans_of(parse_protobuf(_request(sent).SerializeToString()))
    assert received.rejected == 0
    assert len(received.spans) == len(sent)
    for original, decoded in zip(sent, received.spans):
        assert decoded.name == original.name
        assert decoded.context.trace_id == original.context.trace_id
        assert decoded.context.span_id == original.context.span_id
        assert decoded.context.trace_flags.sampled
        assert (decoded.parent is None) == (original.parent is None)
        if original.parent is not None:
            assert decoded.parent is not None
            assert decoded.parent.span_id == original.parent.span_id
            assert decoded.parent.is_remote == original.parent.is_remote
        assert decoded.kind == original.kind
        assert decoded.status.status_code == original.status.status_code
        assert decoded.status.description == original.status.description
        assert dict(decoded.attributes or {}) == dict(original.attributes or {})
        assert decoded.start_time == original.start_time
        assert decoded.end_time == original.end_time
        assert decoded.resource.attributes["service.name"] == "agent-in-another-process"
        assert decoded.instrumentation_scope is not None
        assert decoded.instrumentation_scope.name == "sender"
        assert decoded.instrumentation_scope.version == "1.2.3"
        assert [(e.name, dict(e.attributes or {}), e.timestamp) for e in decoded.events] == [
            (e.name, dict(e.attributes or {}), e.timestamp) for e in original.events
        ]
        assert [(lk.context.span_id, dict(lk.attributes or {})) for lk in decoded.links] == [
            (lk.context.span_id, dict(lk.attributes or {})) for lk in original.links
        ]
    # and the decoded spans encode to the very request they came from
    assert encode_spans(received.spans) == _request(sent)


def test_what_the_sdk_encoder_can_carry_is_kept() -> None:
    """Counts of attributes an event or link dropped, an unnamed scope's attributes and
    schema URL, and the good members of a tracestate with a bad one used to be lost."""
    request = _request(_record(_agent))
    scope_spans = request.resource_spans[0].scope_spans[0]
    scope_spans.scope.Clear()
    scope_spans.scope.attributes.add(key="only", value=AnyValue(string_value="attrs"))
    scope_spans.schema_url = "https://scope/schema"
    span = scope_spans.spans[0]
    span.trace_state = "good=1,bad key=2,other=3"
    event = span.events.add(name="e", time_unix_nano=span.start_time_unix_nano, dropped_attributes_count=2)
    event.attributes.add(key="k", value=AnyValue(int_value=1))
    link = span.links.add(trace_id=span.trace_id, span_id=scope_spans.spans[1].span_id, dropped_attributes_count=4)
    again = encode_spans(spans_of(request).spans)
    kept = again.resource_spans[0].scope_spans[0]
    assert (kept.scope.attributes, kept.schema_url) == (scope_spans.scope.attributes, "https://scope/schema")
    [out] = [s for s in kept.spans if s.span_id == span.span_id]
    assert out.trace_state == "good=1,other=3"
    assert (out.events[0].dropped_attributes_count, out.events[0].attributes) == (2, event.attributes)
    assert out.links[0].dropped_attributes_count == link.dropped_attributes_count == 4


def test_a_remote_parent_stays_remote() -> None:
    """A local root under a remote parent (a request from another service) gets the
    trace totals: the parent's remoteness travels in the span flags."""
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    remote = SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))

    def build(tracer: Any) -> None:
        with tracer.start_as_current_span("server", context=set_span_in_context(NonRecordingSpan(remote))):
            pass

    [decoded] = spans_of(_request(_record(build))).spans
    assert decoded.parent is not None and decoded.parent.is_remote


def _otlp_json(spans: Sequence[ReadableSpan]) -> bytes:
    """OTLP/JSON as the spec writes it (hex ids), from the SDK's encoder."""
    document = json_format.MessageToDict(_request(spans))
    for resource in document["resourceSpans"]:
        for scope in resource["scopeSpans"]:
            for span in scope["spans"]:
                for key in ("traceId", "spanId", "parentSpanId"):
                    if span.get(key):
                        span[key] = base64.b64decode(span[key]).hex()
    return json.dumps(document).encode()


def test_otlp_json_with_hex_ids_decodes_like_protobuf() -> None:
    sent = _record(_agent)
    from_json = spans_of(parse_json(_otlp_json(sent))).spans
    from_protobuf = spans_of(parse_protobuf(_request(sent).SerializeToString())).spans
    assert [(s.context.span_id, s.parent and s.parent.span_id, dict(s.attributes or {})) for s in from_json] == [
        (s.context.span_id, s.parent and s.parent.span_id, dict(s.attributes or {})) for s in from_protobuf
    ]


def test_malformed_spans_are_left_out_with_their_place_named() -> None:
    request = _request(_record(_agent))
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[0].trace_id = b"\x01" * 15
    spans[1].span_id = b"\x00" * 8
    received = spans_of(request)
    assert len(received.spans) == 1
    assert received.rejected == 2
    assert received.problems == (
        "resource_spans[0].scope_spans[0].spans[0]: trace_id: 15 bytes, expected 16",
        "resource_spans[0].scope_spans[0].spans[1]: span_id: all zero (an invalid id)",
    )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"\xff\xff\xff", "not an OTLP/protobuf trace request"),
        (b"\x0a\x05\x0a\x03\x0a\x01", "not an OTLP/protobuf trace request"),
    ],
)
def test_garbage_protobuf_is_refused_with_a_reason(body: bytes, message: str) -> None:
    with pytest.raises(OtlpDecodeError, match=message):
        parse_protobuf(body)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"{", "not JSON"),
        (b"[]", "the top level is a list"),
        (b'{"resourceSpans": 3}', "not an OTLP/JSON trace request"),
        (b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"name": {"a": 1}}]}]}]}', "not an OTLP/JSON trace request"),
    ],
)
def test_garbage_json_is_refused_with_a_reason(body: bytes, message: str) -> None:
    with pytest.raises(OtlpDecodeError, match=message):
        parse_json(body)


def test_a_json_id_that_is_not_hex_is_a_malformed_span() -> None:
    body = b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz", "spanId": "b7ad6b7169203331"}]}]}]}'
    received = spans_of(parse_json(body))
    assert (received.spans, received.rejected) == ([], 1)
    assert "trace_id: 1 bytes, expected 16" in received.problems[0]


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.binary(max_size=300))
def test_any_bytes_decode_or_are_refused(body: bytes) -> None:
    try:
        request = parse_protobuf(body)
    except OtlpDecodeError:
        return
    received = spans_of(request)  # whatever parsed, turning it into spans never raises
    assert len(received.spans) + received.rejected == sum(
        len(scope.spans) for resource in request.resource_spans for scope in resource.scope_spans
    )


_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=12,
)
_span_json = st.fixed_dictionaries(
    {},
    optional={
        "traceId": st.one_of(st.text(max_size=34), st.just("0af7651916cd43dd8448eb211c80319c")),
        "spanId": st.one_of(st.text(max_size=18), st.just("b7ad6b7169203331")),
        "parentSpanId": st.text(max_size=18),
        "name": _json_values,
        "kind": _json_values,
        "startTimeUnixNano": _json_values,
        "attributes": st.lists(
            st.fixed_dictionaries(
                {
                    "key": st.text(max_size=8),
                    "value": st.dictionaries(
                        st.sampled_from(
                            [
                                "stringValue",
                                "intValue",
                                "doubleValue",
                                "boolValue",
                                "arrayValue",
                                "kvlistValue",
                                "bytesValue",
                            ]
                        ),
                        _json_values,
                        max_size=1,
                    ),
                }
            ),
            max_size=3,
        ),
        "links": _json_values,
    },
)


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(_span_json, max_size=3))
def test_any_json_spans_decode_or_are_refused(spans: list[dict[str, Any]]) -> None:
    body = json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}).encode()
    try:
        request = parse_json(body)
    except OtlpDecodeError as exc:
        assert str(exc)
        return
    received = spans_of(request)
    assert len(received.spans) + received.rejected == len(spans)


# ------------------------------------------------------------------- pricing


@pytest.mark.parametrize("name", sorted(p.stem for p in FIXTURES.glob("*.json")))
def test_gateway_prices_every_captured_instrumentation_as_in_process(name: str, catalog: Catalog) -> None:
    """The same spans, priced in process and received over OTLP by the gateway, carry
    the same cost attributes span for span, the trace totals included; the request's
    order (grouped by scope, shuffled) does not matter."""
    fixture = json.loads((FIXTURES / f"{name}.json").read_text())["spans"]

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(memory)), catalog=catalog))
    in_process = replay(fixture, provider, memory).by_fixture_id
    provider.shutdown()

    raw_memory = InMemorySpanExporter()
    raw_provider = TracerProvider()
    raw_provider.add_span_processor(SimpleSpanProcessor(raw_memory))
    raw = replay(fixture, raw_provider, raw_memory)
    raw_provider.shutdown()
    shuffled = list(raw.spans)
    random.Random(name).shuffle(shuffled)
    gateway, forwarded = _gateway(catalog)
    accepted = gateway.accept(_request(shuffled))
    assert accepted.forwarded and accepted.received.rejected == 0
    by_id = {span.context.span_id: span for span in forwarded.get_finished_spans()}
    received = {fixture_id: by_id[span.context.span_id] for fixture_id, span in raw.by_fixture_id.items()}

    assert set(received) == set(in_process)

    def comparable(span: ReadableSpan, spans: dict[str, ReadableSpan]) -> dict[str, object]:
        # a second record of a call names the first by span id: the two runs have their own ids
        costs = _costs(span)
        if "gen_ai.cost.duplicate_of" in costs:
            fixture_ids = {f"{s.context.span_id:016x}": fixture_id for fixture_id, s in spans.items()}
            costs["gen_ai.cost.duplicate_of"] = fixture_ids[str(costs["gen_ai.cost.duplicate_of"])]
        return costs

    priced = 0
    for fixture_id, span in received.items():
        expected = comparable(in_process[fixture_id], in_process)
        assert comparable(span, received) == expected, f"{name}: span {span.name!r}"
        priced += "gen_ai.cost.total_usd" in expected
    assert priced, "the fixture has billable calls"


def test_a_trace_split_over_requests_is_rolled_up_whole(catalog: Catalog) -> None:
    sent = _record(_agent)  # two chats, then the agent span (the root)
    gateway, forwarded = _gateway(catalog)
    for span in sent:
        gateway.accept(_request([span]))
    [root] = [s for s in forwarded.get_finished_spans() if s.parent is None]
    assert root.attributes["gen_ai.trace.cost.total_usd"] == pytest.approx(2 * CHAT_USD)
    assert root.attributes["gen_ai.trace.cost.llm_calls"] == 2


def test_a_child_ending_just_after_its_parent_is_in_the_root_totals(catalog: Catalog) -> None:
    """The Vercel AI SDK ends an embedding call a fraction of a millisecond after the
    ai.embedMany span around it. Both arrive in one request: the root's totals include
    the call, and the call (not the wrapper) carries the cost."""

    def build(tracer: Any) -> None:
        root = tracer.start_span("embeddings", attributes={"gen_ai.operation.name": "embeddings"})
        context = set_span_in_context(root)
        call = tracer.start_span(
            "embeddings text-embedding-3-small",
            context=context,
            attributes={
                "gen_ai.operation.name": "embeddings",
                "gen_ai.provider.name": "openai",
                "gen_ai.request.model": "text-embedding-3-small",
                "gen_ai.usage.input_tokens": 5000,
            },
        )
        root.end()
        call.end()

    sent = _record(build)
    assert sent[0].name == "embeddings", "the root ended first"
    gateway, forwarded = _gateway(catalog)
    gateway.accept(_request(sent))
    out = {s.name: s for s in forwarded.get_finished_spans()}
    assert out["embeddings"].attributes["gen_ai.trace.cost.total_usd"] == pytest.approx(5000 * 0.02 / 1e6)
    call = out["embeddings text-embedding-3-small"].attributes
    assert call["gen_ai.cost.total_usd"] == pytest.approx(5000 * 0.02 / 1e6)
    assert "gen_ai.cost.after_root" not in call


def test_spans_whose_parents_form_a_cycle_are_still_forwarded(catalog: Catalog) -> None:
    request = _request(_record(_agent))
    spans = request.resource_spans[0].scope_spans[0].spans
    spans[2].parent_span_id = spans[0].span_id  # the root now has a parent: its own child
    gateway, forwarded = _gateway(catalog)
    assert gateway.accept(request).forwarded
    assert len(forwarded.get_finished_spans()) == 3


def test_a_span_id_sent_twice_as_its_own_child_is_forwarded_not_looped_on(catalog: Catalog) -> None:
    """The same span id twice, the second naming the first as parent: ordering children
    first used to stack the span under itself without end (the gateway grew until killed)."""
    request = _request(_record(_agent))
    spans = request.resource_spans[0].scope_spans[0].spans
    twin = spans.add()
    twin.CopyFrom(spans[0])
    twin.parent_span_id = spans[0].span_id
    gateway, forwarded = _gateway(catalog)
    assert gateway.accept(request).forwarded
    assert len(forwarded.get_finished_spans()) == 3  # the twin is the same span: forwarded once
    assert gateway.stats.spans_resent == 1


def test_the_same_span_twice_in_one_request_is_priced_and_rolled_up_once(catalog: Catalog) -> None:
    """A sender that puts a span in one request twice: its cost used to count twice in
    the trace's totals, and the span was forwarded twice, as a retry across requests is not."""

    def build(tracer: Any) -> None:
        with tracer.start_as_current_span("invoke_agent"):
            with tracer.start_as_current_span("chat gpt-4o", attributes=CHAT):
                pass

    sent = _record(build)
    request = _request(sent)
    spans = request.resource_spans[0].scope_spans[0].spans
    spans.add().CopyFrom(spans[0])  # the chat span again
    gateway, forwarded = _gateway(catalog)
    assert gateway.accept(request).forwarded
    assert sorted(s.name for s in forwarded.get_finished_spans()) == ["chat gpt-4o", "invoke_agent"]
    [root] = [s for s in forwarded.get_finished_spans() if s.parent is None]
    assert root.attributes["gen_ai.trace.cost.total_usd"] == pytest.approx(CHAT_USD)
    assert gateway.processor.stats.priced == 1
    assert (gateway.stats.spans_received, gateway.stats.spans_resent) == (3, 1)


def test_spans_priced_where_they_were_made_are_not_priced_again(catalog: Catalog) -> None:
    """A Python agent with genai-cost in process sends priced spans: the gateway keeps
    their cost (even when its own catalog would say otherwise) and rolls them up once."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(memory), catalog=catalog))
    _agent(provider.get_tracer("sender"))
    provider.shutdown()
    sent = list(memory.get_finished_spans())
    chats = [s for s in sent if s.name == "chat gpt-4o"]
    assert all(s.attributes["gen_ai.cost.total_usd"] == pytest.approx(CHAT_USD) for s in chats)

    cheaper = Catalog.load([str(_cheap_gpt_4o_file())])
    gateway, forwarded = _gateway(cheaper)
    gateway.accept(_request(sent))
    out = {s.context.span_id: s for s in forwarded.get_finished_spans()}
    for chat in chats:
        assert _costs(out[chat.context.span_id]) == _costs(chat)
    [root] = [s for s in out.values() if s.parent is None]
    assert root.attributes["gen_ai.trace.cost.total_usd"] == pytest.approx(2 * CHAT_USD)
    assert gateway.processor.stats.priced == 0


def _priced_in_process(build: Any, catalog: Catalog, *, with_rollup: bool = True) -> list[ReadableSpan]:
    """Spans as a Python agent with genai-cost in process exports them."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    exporter: SpanExporter = TraceCostExporter(memory) if with_rollup else memory
    provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(exporter), catalog=catalog))
    build(provider.get_tracer("sender"))
    provider.shutdown()
    return list(memory.get_finished_spans())


def _wrapper_around_the_sdk_call(tracer: Any) -> None:
    """A framework's chat span (with the call's usage) around the SDK's own chat span."""
    with tracer.start_as_current_span("invoke_agent", kind=SpanKind.SERVER):
        with tracer.start_as_current_span("framework chat", attributes=CHAT):
            with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes=CHAT):
                pass


@pytest.mark.parametrize("build", [_wrapper_around_the_sdk_call, _agent])
@pytest.mark.parametrize("with_rollup", [True, False])
def test_a_wrapper_around_a_call_priced_in_process_is_not_priced_by_the_gateway(
    catalog: Catalog, build: Any, with_rollup: bool
) -> None:
    """In process, the leaf rule priced the SDK's call and left the framework's wrapper
    (its usage is the call's) without cost attributes. The gateway passed the priced call
    on without telling its own leaf rule, so it priced the wrapper as the call: twice."""
    sent = _priced_in_process(build, catalog, with_rollup=with_rollup)
    priced_there = sum(s.attributes.get("gen_ai.cost.total_usd", 0.0) for s in sent)
    gateway, forwarded = _gateway(catalog)
    gateway.accept(_request(sent))
    out = list(forwarded.get_finished_spans())
    assert sum(s.attributes.get("gen_ai.cost.total_usd", 0.0) for s in out) == pytest.approx(priced_there)
    assert gateway.processor.stats.priced == 0
    [root] = [s for s in out if s.parent is None]
    assert root.attributes["gen_ai.trace.cost.total_usd"] == pytest.approx(priced_there)


def test_a_duplicate_record_marked_in_process_is_not_priced_by_the_gateway(catalog: Catalog) -> None:
    """Two instrumentations record one call side by side (the same response id): in
    process the second is marked ``duplicate_of`` and carries no cost. The gateway
    priced it again."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(memory), catalog=catalog))
    chat = {**CHAT, "gen_ai.response.id": "chatcmpl-1"}
    with provider.get_tracer("sender").start_as_current_span("invoke_agent", kind=SpanKind.SERVER):
        first = provider.get_tracer("sender").start_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes=chat)
        second = provider.get_tracer("another").start_span("chat", kind=SpanKind.CLIENT, attributes=chat)
        second.end()
        first.end()
    provider.shutdown()
    sent = list(memory.get_finished_spans())
    assert sum("gen_ai.cost.duplicate_of" in s.attributes for s in sent) == 1
    gateway, forwarded = _gateway(catalog)
    gateway.accept(_request(sent))
    out = list(forwarded.get_finished_spans())
    assert sum(s.attributes.get("gen_ai.cost.total_usd", 0.0) for s in out) == pytest.approx(CHAT_USD)
    [root] = [s for s in out if s.parent is None]
    assert root.attributes["gen_ai.trace.cost.total_usd"] == pytest.approx(CHAT_USD)


def test_trace_totals_written_in_process_are_kept(catalog: Catalog) -> None:
    """What only the sender's roll-up knows (an infrastructure share, spans still open
    there) stays on its root: the gateway's totals overwrote the total and left the rest."""
    sent = _priced_in_process(_agent, catalog)
    [root] = [s for s in sent if s.parent is None]
    infra_key = "gen_ai.trace.cost.infra_usd"
    extra = {"gen_ai.trace.cost.total_usd": 2 * CHAT_USD + 1.0, infra_key: 1.0, "gen_ai.trace.cost.complete": False}
    edited = [
        ReadableSpan(
            name=s.name, context=s.context, parent=s.parent, resource=s.resource, kind=s.kind,
            attributes={**s.attributes, **extra} if s is root else s.attributes,
            start_time=s.start_time, end_time=s.end_time, instrumentation_scope=s.instrumentation_scope,
        )
        for s in sent
    ]
    gateway, forwarded = _gateway(catalog)
    gateway.accept(_request(edited))
    [out_root] = [s for s in forwarded.get_finished_spans() if s.parent is None]
    assert {k: out_root.attributes[k] for k in extra} == pytest.approx(extra)


def _cheap_gpt_4o_file() -> Path:
    return Path(__file__).resolve().parent / "fixtures" / "gateway-cheap-gpt-4o.yaml"


def test_an_unknown_model_arrives_flagged(catalog: Catalog) -> None:
    unknown = {**CHAT, "gen_ai.request.model": "no-such-model-9"}

    def build(tracer: Any) -> None:
        with tracer.start_as_current_span("chat", attributes=unknown):
            pass

    gateway, forwarded = _gateway(catalog)
    gateway.accept(_request(_record(build)))
    [span] = forwarded.get_finished_spans()
    assert span.attributes["gen_ai.cost.unpriced"] is True
    assert span.attributes["gen_ai.cost.unpriced_reason"] == "unknown_model"
    assert span.attributes["gen_ai.trace.cost.unpriced_spans"] == 1


class _Failing(SpanExporter):
    def __init__(self, how: str) -> None:
        self.how = how

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.how == "raise":
            raise ConnectionError("upstream down")
        return SpanExportResult.FAILURE

    def shutdown(self) -> None:
        pass


def test_a_request_resent_after_it_was_forwarded_is_not_priced_twice(catalog: Catalog) -> None:
    """A sender whose export timed out while the gateway forwarded resends the request.
    Priced and rolled up again, its trace's totals and the cost metrics counted it twice."""
    gateway, forwarded = _gateway(catalog)
    sent = _record(_agent)
    assert gateway.accept(_request(sent)).forwarded
    assert gateway.accept(_request(sent)).forwarded  # the retry: answered as taken
    assert len(forwarded.get_finished_spans()) == len(sent)  # not forwarded again
    assert gateway.stats.spans_resent == len(sent)
    assert gateway.processor.stats.priced == 2
    trace_id = sent[0].context.trace_id
    assert gateway.rollup.totals(trace_id).total_usd == pytest.approx(2 * CHAT_USD)
    # a request with the resent spans and new ones: only the new ones go on
    late = _record(_agent)
    assert gateway.accept(_request([*sent[:1], *late])).forwarded
    assert len(forwarded.get_finished_spans()) == len(sent) + len(late)
    assert gateway.stats.spans_resent == len(sent) + 1


def test_a_request_the_upstream_failed_is_forwarded_when_resent_and_rolled_up_once(catalog: Catalog) -> None:
    """A retry after an upstream failure forwards the spans as they were priced and rolled
    up the first time: rolled up again, the trace's totals used to count the request twice."""
    memory = InMemorySpanExporter()
    failures = [SpanExportResult.FAILURE]

    class FailOnce(SpanExporter):
        def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
            return failures.pop() if failures else memory.export(spans)

    gateway, _ = _gateway(catalog, FailOnce())
    sent = _record(_agent)
    assert not gateway.accept(_request(sent)).forwarded
    late = _record(_agent)  # the retry comes with a new trace too: priced as usual
    assert gateway.accept(_request([*sent, *late])).forwarded
    out = memory.get_finished_spans()
    assert len(out) == len(sent) + len(late)
    assert all("gen_ai.cost.total_usd" in s.attributes for s in out if s.name.startswith("chat"))
    roots = [s for s in out if s.parent is None]
    assert [r.attributes["gen_ai.trace.cost.total_usd"] for r in roots] == pytest.approx([2 * CHAT_USD] * 2)
    assert gateway.rollup.totals(sent[0].context.trace_id).total_usd == pytest.approx(2 * CHAT_USD)
    assert gateway.processor.stats.priced == 4  # 2 calls each of the two traces, each priced once
    assert (gateway.stats.spans_resent, gateway.stats.spans_not_forwarded) == (0, len(sent))


@pytest.mark.parametrize("how", ["raise", "fail"])
def test_an_upstream_failure_is_not_answered_as_taken(catalog: Catalog, how: str) -> None:
    gateway, _ = _gateway(catalog, _Failing(how))
    sent = _record(_agent)
    accepted = gateway.accept(_request(sent))
    assert not accepted.forwarded
    assert gateway.stats.spans_not_forwarded == len(sent)
    # The stop summary does not read as a clean run after an outage ("0 refused" alone did).
    assert gateway.stats_snapshot()["requests_not_forwarded"] == 1
    assert gateway.summary() == (
        f"stopped after 1 request(s), 0 refused (0 to be retried), 1 not taken by the upstream: {len(sent)}"
        f" span(s) received, 0 rejected as malformed, {len(sent)} not forwarded, 0 unpriced"
    )


class _Gated(SpanExporter):
    """An upstream that takes spans only once let through: a slow or hung collector."""

    def __init__(self, fail_first: bool = False) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()
        self.memory = InMemorySpanExporter()
        self.fail_first = fail_first

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        self.entered.set()
        self.release.wait(10)
        if self.fail_first:
            self.fail_first = False
            return SpanExportResult.FAILURE
        return self.memory.export(spans)

    def shutdown(self) -> None:
        self.release.set()


def _in_thread(call: Any) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(call()), daemon=True)
    thread.start()
    return thread, out


def _post_body(url: str) -> Any:
    # (answered once the test releases the upstream, after its other steps: 5 s is short on a loaded machine)
    return lambda: _post(url + "/v1/traces", _request(_record(_agent)).SerializeToString(), "application/x-protobuf",
                         timeout=30)


def test_a_slow_upstream_builds_no_queue(catalog: Catalog) -> None:
    """Requests waiting on a hung upstream used to pile up without bound (threads and
    bodies), and GET /health waited behind them."""

    upstream = _Gated()
    gateway = CostGateway(upstream, catalog=catalog, max_inflight=2)
    server = serve_http(gateway, HOST, 0)
    url = f"http://{HOST}:{server.server_address[1]}"
    try:
        first, first_out = _in_thread(_post_body(url))
        assert upstream.entered.wait(5)
        second, second_out = _in_thread(_post_body(url))
        wait_for(lambda: gateway.inflight == 2, 5, "the second request to wait for its turn")
        started = time.monotonic()
        status, body, _ = _post(url + "/v1/traces", _request(_record(_agent)).SerializeToString(),
                                "application/x-protobuf")
        with urllib.request.urlopen(url + "/health", timeout=5) as response:
            health = json.loads(response.read())
        # neither waited for the export (held until released below, or the gate's 10 s); the
        # bound leaves room for a loaded machine
        assert time.monotonic() - started < 4
        assert status == 503
        reply = status_pb2.Status.FromString(body)
        assert reply.code == code_pb2.UNAVAILABLE and "2 requests already in flight" in reply.message
        assert health["requests_busy"] == 1 and health["requests_refused"] == 1
        upstream.release.set()
        first.join(5)
        second.join(5)
        assert first_out[0][0] == second_out[0][0] == 200
        assert len(upstream.memory.get_finished_spans()) == 6
    finally:
        upstream.release.set()
        server.shutdown()
        server.server_close()


def test_503_carries_retry_after(catalog: Catalog) -> None:
    gateway, _ = _gateway(catalog)
    server = serve_http(gateway, HOST, 0)
    try:
        gateway.begin_stop()
        request = urllib.request.Request(
            f"http://{HOST}:{server.server_address[1]}/v1/traces",
            data=_request(_record(_agent)).SerializeToString(),
            headers={"Content-Type": "application/x-protobuf"},
        )
        with pytest.raises(urllib.error.HTTPError) as error:
            urllib.request.urlopen(request, timeout=5)
        assert error.value.code == 503 and error.value.headers["Retry-After"] == "1"
        assert error.value.headers["Connection"] == "close"
    finally:
        server.shutdown()
        server.server_close()


def test_a_stop_answers_what_is_in_progress_and_refuses_the_rest(catalog: Catalog) -> None:
    """On SIGTERM, a request waiting for its turn, or sent on a kept-alive connection, used
    to be forwarded with no answer (the process exited first), or answered 200 and dropped."""
    import http.client

    upstream = _Gated()
    gateway = CostGateway(upstream, catalog=catalog)
    server = serve_http(gateway, HOST, 0)
    port = server.server_address[1]
    url = f"http://{HOST}:{port}"
    kept_alive = http.client.HTTPConnection(HOST, port, timeout=5)
    kept_alive.request("GET", "/health")
    assert kept_alive.getresponse().read()
    try:
        first, first_out = _in_thread(_post_body(url))
        assert upstream.entered.wait(5)
        waiting, waiting_out = _in_thread(_post_body(url))
        wait_for(lambda: gateway.inflight == 2, 5, "the second request to wait for its turn")
        gateway.begin_stop()
        # (a grace the steps below cannot outlast on a loaded machine: the stop must still be waiting)
        stopper, stopped = _in_thread(lambda: server.stop(30))
        waiting.join(5)
        assert waiting_out[0][0] == 503  # refused at once, not after the export
        kept_alive.request("POST", "/v1/traces", _request(_record(_agent)).SerializeToString(),
                           {"Content-Type": "application/x-protobuf"})
        answer = kept_alive.getresponse()
        assert (answer.status, answer.headers["Retry-After"]) == (503, "1")
        answer.read()
        assert stopper.is_alive()  # still waiting for the first request's answer
        upstream.release.set()
        stopper.join(5)
        first.join(5)
        assert stopped == [True]
        assert first_out[0][0] == 200
        assert len(upstream.memory.get_finished_spans()) == 3  # the first request's only
        assert (gateway.stats.requests, gateway.stats.requests_busy) == (1, 2)
    finally:
        kept_alive.close()
        upstream.release.set()


class _GrpcCallHeld(NamedTuple):
    upstream: _Gated
    gateway: CostGateway
    server: Any
    channel: Any
    export: Callable[..., Any]
    #: The call in flight, held at the upstream until ``upstream.release`` is set.
    first: threading.Thread
    first_out: list[Any]


def _grpc_with_one_call_held(catalog: Catalog, workers: int = 0) -> _GrpcCallHeld:
    """A gRPC gateway that takes one call at a time, with that one call in flight (its
    upstream holds it): the next call is beyond the limit. ``workers=1``: no thread left to
    answer it, so gRPC refuses it itself (RESOURCE_EXHAUSTED)."""
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

    upstream = _Gated()
    gateway = CostGateway(upstream, catalog=catalog, max_inflight=1)
    server = serve_grpc(gateway, HOST, 0, workers=workers)
    channel = grpc.insecure_channel(f"{HOST}:{server.port}")
    export = trace_service_pb2_grpc.TraceServiceStub(channel).Export  # type: ignore[no-untyped-call]
    first, first_out = _in_thread(lambda: export(_request(_record(_agent)), timeout=10))
    assert upstream.entered.wait(5)
    return _GrpcCallHeld(upstream, gateway, server, channel, export, first, first_out)


def test_grpc_refuses_beyond_the_limit_and_while_stopping(catalog: Catalog) -> None:
    import grpc

    upstream, gateway, server, channel, export, first, first_out = _grpc_with_one_call_held(catalog)
    try:
        with pytest.raises(grpc.RpcError) as busy:
            export(_request(_record(_agent)), timeout=5)
        assert busy.value.code() is grpc.StatusCode.UNAVAILABLE  # (not RESOURCE_EXHAUSTED: test_gateway_grpc_busy.py)
        gateway.begin_stop()
        upstream.release.set()
        first.join(5)
        assert first_out and isinstance(first_out[0], ExportTraceServiceResponse)
        with pytest.raises(grpc.RpcError) as stopping:
            export(_request(_record(_agent)), timeout=5)
        assert stopping.value.code() is grpc.StatusCode.UNAVAILABLE and "stopping" in stopping.value.details()
        assert len(upstream.memory.get_finished_spans()) == 3
    finally:
        upstream.release.set()
        channel.close()
        server.stop(grace=None)


def test_a_failing_upstream_makes_the_sdk_senders_retry(catalog: Catalog) -> None:
    """The upstream failed and the gateway answered 200 with partial_success, which the
    SDK's exporters ignore: the spans were lost with the sender none the wiser. Now 503 /
    UNAVAILABLE: the sender retries, and the retry is forwarded once priced."""
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    for transport in ("http", "grpc"):
        upstream = _Gated(fail_first=True)
        upstream.release.set()
        gateway = CostGateway(upstream, catalog=catalog)
        if transport == "http":
            server: Any = serve_http(gateway, HOST, 0)
            exporter: Any = HttpExporter(endpoint=f"http://{HOST}:{server.server_address[1]}/v1/traces", timeout=10)
        else:
            server = serve_grpc(gateway, HOST, 0)
            exporter = GrpcExporter(endpoint=f"{HOST}:{server.port}", insecure=True, timeout=10)
        try:
            assert exporter.export(_record(_agent)) is SpanExportResult.SUCCESS, transport
        finally:
            exporter.shutdown()
            if transport == "http":
                server.shutdown()
                server.server_close()
            else:
                server.stop(grace=None)
        out = upstream.memory.get_finished_spans()
        assert len(out) == 3, transport
        [root] = [s for s in out if s.parent is None]
        assert root.attributes["gen_ai.trace.cost.total_usd"] == pytest.approx(2 * CHAT_USD)
        assert gateway.processor.stats.priced == 2
        assert (gateway.stats.requests, gateway.stats.spans_not_forwarded) == (2, 3)


def test_a_request_over_the_span_limit_is_refused_before_its_spans_are_built(catalog: Catalog) -> None:
    """A 1.8 MiB gzip body of 500,000 spans took 1.1 GiB to decode and price."""
    import grpc
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

    gateway = CostGateway(InMemorySpanExporter(), catalog=catalog, max_spans=2)
    http_server = serve_http(gateway, HOST, 0)
    grpc_server = serve_grpc(gateway, HOST, 0)
    channel = grpc.insecure_channel(f"{HOST}:{grpc_server.port}")
    try:
        body = _request(_record(_agent)).SerializeToString()
        status, reply, _ = _post(f"http://{HOST}:{http_server.server_address[1]}/v1/traces", body,
                                 "application/x-protobuf")
        assert status == 413
        assert "3 spans in one request; the limit is 2" in status_pb2.Status.FromString(reply).message
        export = trace_service_pb2_grpc.TraceServiceStub(channel).Export  # type: ignore[no-untyped-call]
        with pytest.raises(grpc.RpcError) as refused:
            export(_request(_record(_agent)), timeout=5)
        assert refused.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        assert (gateway.stats.requests_refused, gateway.stats.spans_received) == (2, 0)
    finally:
        channel.close()
        grpc_server.stop(grace=None)
        http_server.shutdown()
        http_server.server_close()


# ---------------------------------------------------------------- transports


@pytest.fixture
def http_gateway(catalog: Catalog) -> Iterator[tuple[str, CostGateway, InMemorySpanExporter]]:
    gateway, memory = _gateway(catalog)
    server = serve_http(gateway, HOST, 0, max_request_bytes=64 * 1024)
    try:
        yield f"http://{HOST}:{server.server_address[1]}", gateway, memory
    finally:
        server.shutdown()
        server.server_close()


def test_the_sdk_http_exporter_delivers_to_the_gateway(http_gateway: tuple[str, CostGateway, Any]) -> None:
    from opentelemetry.exporter.otlp.proto.http import Compression
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    url, gateway, memory = http_gateway
    for compression in (Compression.NoCompression, Compression.Gzip):
        exporter = OTLPSpanExporter(endpoint=f"{url}/v1/traces", compression=compression, timeout=5)
        assert exporter.export(_record(_agent)) is SpanExportResult.SUCCESS
        exporter.shutdown()
    roots = [s for s in memory.get_finished_spans() if s.parent is None]
    assert [r.attributes["gen_ai.trace.cost.total_usd"] for r in roots] == pytest.approx([2 * CHAT_USD] * 2)
    assert gateway.stats.requests == 2


def _post(url: str, body: bytes, content_type: str, timeout: float = 5, **headers: str) -> tuple[int, bytes, str]:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": content_type, **headers})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read(), response.headers["Content-Type"]
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers["Content-Type"]


def test_otlp_json_over_http(http_gateway: tuple[str, CostGateway, Any]) -> None:
    url, _, memory = http_gateway
    status, body, content_type = _post(f"{url}/v1/traces", _otlp_json(_record(_agent)), "application/json")
    assert (status, content_type, json.loads(body)) == (200, "application/json", {})
    [root] = [s for s in memory.get_finished_spans() if s.parent is None]
    assert root.attributes["gen_ai.trace.cost.total_usd"] == pytest.approx(2 * CHAT_USD)


def test_a_chunked_body_is_read(http_gateway: tuple[str, CostGateway, Any]) -> None:
    """The OpenTelemetry JS exporters send OTLP/HTTP with chunked transfer encoding."""
    import http.client

    url, _, memory = http_gateway
    body = _request(_record(_agent)).SerializeToString()
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=5)
    chunks = iter([body[:10], body[10:]])
    connection.request(
        "POST", "/v1/traces", body=chunks, headers={"Content-Type": "application/x-protobuf"}, encode_chunked=True
    )
    response = connection.getresponse()
    assert response.status == 200, response.read()
    connection.close()
    assert len(memory.get_finished_spans()) == 3


def test_partial_success_names_the_malformed_span(http_gateway: tuple[str, CostGateway, Any]) -> None:
    url, _, memory = http_gateway
    request = _request(_record(_agent))
    request.resource_spans[0].scope_spans[0].spans[0].span_id = b"\x01"
    status, body, _ = _post(f"{url}/v1/traces", request.SerializeToString(), "application/x-protobuf")
    response = ExportTraceServiceResponse.FromString(body)
    assert status == 200
    assert response.partial_success.rejected_spans == 1
    assert "spans[0]: span_id: 1 bytes, expected 8" in response.partial_success.error_message
    assert len(memory.get_finished_spans()) == 2


@pytest.mark.parametrize(
    ("path", "body", "content_type", "headers", "status", "message"),
    [
        ("/v1/traces", b"\xff\xff", "application/x-protobuf", {}, 400, "not an OTLP/protobuf trace request"),
        ("/v1/traces", b"{", "application/json", {}, 400, "not JSON"),
        ("/v1/metrics", b"", "application/x-protobuf", {}, 404, "OTLP traces go to /v1/traces"),
        # An endpoint given without its path (OTEL_EXPORTER_OTLP_TRACES_ENDPOINT is used as is):
        # it was answered "405 ... POST /health: /health answers GET" (gateway audit, 2026-11-23).
        ("/", b"", "application/x-protobuf", {}, 404, "OTLP traces go to /v1/traces (the endpoint is missing its path)"),
        ("", b"", "application/json", {}, 404, "OTLP traces go to /v1/traces (the endpoint is missing its path)"),
        ("/v1/traces", b"x", "text/plain", {}, 415, "expected application/x-protobuf or application/json"),
        ("/v1/traces", b"x" * (64 * 1024 + 1), "application/x-protobuf", {}, 413, "the limit is 65536"),
        (
            "/v1/traces",
            gzip.compress(b"\0" * (65 * 1024)),
            "application/x-protobuf",
            {"Content-Encoding": "gzip"},
            413,
            "once decompressed",
        ),
        ("/v1/traces", b"not gzip", "application/x-protobuf", {"Content-Encoding": "gzip"}, 400, "compressed"),
        ("/v1/traces", b"x", "application/x-protobuf", {"Content-Encoding": "br"}, 415, "Content-Encoding 'br'"),
    ],
)
def test_bad_requests_get_a_status_that_says_why(
    http_gateway: tuple[str, CostGateway, Any],
    path: str,
    body: bytes,
    content_type: str,
    headers: dict[str, str],
    status: int,
    message: str,
) -> None:
    url, gateway, memory = http_gateway
    got, reply, reply_type = _post(url + path, body, content_type, **headers)
    assert got == status
    if reply_type == "application/json":
        text = json.loads(reply)["message"]
    else:
        text = status_pb2.Status.FromString(reply).message
    assert message in text
    assert gateway.stats.requests_refused == 1
    assert not memory.get_finished_spans()
    # and the gateway still works
    ok, _, _ = _post(url + "/v1/traces", _request(_record(_agent)).SerializeToString(), "application/x-protobuf")
    assert ok == 200


def test_every_member_of_a_gzip_body_is_read(http_gateway: tuple[str, CostGateway, Any]) -> None:
    """RFC 1952 allows several members; only the first used to be read: 200, spans lost."""
    url, gateway, memory = http_gateway
    body = _request(_record(_agent)).SerializeToString()
    half = len(body) // 2
    two_members = gzip.compress(body[:half]) + gzip.compress(body[half:])
    status, _, _ = _post(url + "/v1/traces", two_members, "application/x-protobuf", **{"Content-Encoding": "gzip"})
    assert status == 200
    assert len(memory.get_finished_spans()) == 3


def test_a_body_cut_short_is_refused_not_forwarded_in_part(http_gateway: tuple[str, CostGateway, Any]) -> None:
    url, gateway, memory = http_gateway
    body = _request(_record(_agent)).SerializeToString()
    # a gzip stream that stops before its end (the client died mid-send)
    status, reply, _ = _post(
        url + "/v1/traces", gzip.compress(body)[:-12], "application/x-protobuf", **{"Content-Encoding": "gzip"}
    )
    assert status == 400 and b"ends before its compressed stream does" in status_pb2.Status.FromString(reply).message.encode()
    # fewer bytes than Content-Length, then the client closes its side
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as client:
        head = f"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\nContent-Length: {len(body)}\r\n\r\n"
        client.sendall(head.encode() + body[: len(body) // 2])
        client.shutdown(socket.SHUT_WR)
        answer = client.makefile("rb").read()
    assert answer.startswith(b"HTTP/1.1 400") and b"body ended after" in answer
    assert not memory.get_finished_spans()
    assert gateway.stats.requests_refused == 2


def test_a_client_that_stalls_mid_body_is_let_go(catalog: Catalog) -> None:
    """A client that sent its headers and part of the body, then nothing, used to hold a
    gateway thread for as long as it kept the connection open."""
    gateway, memory = _gateway(catalog)
    server = serve_http(gateway, HOST, 0, read_timeout_s=0.5)
    try:
        with socket.create_connection((HOST, server.server_address[1]), timeout=10) as client:
            client.sendall(b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-protobuf\r\n"
                           b"Content-Length: 1000\r\n\r\nx")
            assert client.recv(1024) == b""  # closed by the gateway, long before the client's 10 s
        assert gateway.stats.requests_refused == 1
        assert not memory.get_finished_spans()
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("method", "path", "status", "allow"),
    [
        ("GET", "/v1/traces", 405, "POST"),
        ("PUT", "/v1/traces", 405, "POST"),
        ("DELETE", "/v1/traces", 405, "POST"),
        ("OPTIONS", "/v1/traces", 405, "POST"),
        ("POST", "/health", 405, "GET, HEAD"),
        ("GET", "/nowhere", 404, None),
        ("DELETE", "/nowhere", 404, None),
    ],
)
def test_a_wrong_method_or_path_gets_a_status_body(
    http_gateway: tuple[str, CostGateway, Any], method: str, path: str, status: int, allow: str | None
) -> None:
    """PUT, DELETE and OPTIONS used to get the standard library's 501 HTML page, GET a 404."""
    import http.client

    url, gateway, _ = http_gateway
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=5)
    connection.request(method, path, body=b"{}", headers={"Content-Type": "application/json"})
    response = connection.getresponse()
    body = json.loads(response.read())
    assert (response.status, response.headers["Allow"]) == (status, allow)
    assert body["code"] == code_pb2.INVALID_ARGUMENT and path in body["message"]
    connection.request("HEAD", "/health")  # the same connection, kept alive
    response = connection.getresponse()
    assert (response.status, response.read(), response.headers["Content-Type"]) == (200, b"", "application/json")
    connection.close()
    assert gateway.stats.requests_refused == 1


def test_health_reports_the_counters(http_gateway: tuple[str, CostGateway, Any]) -> None:
    url, _, _ = http_gateway
    _post(url + "/v1/traces", _request(_record(_agent)).SerializeToString(), "application/x-protobuf")
    with urllib.request.urlopen(url + "/health", timeout=5) as response:
        health = json.loads(response.read())
    assert health["requests"] == 1 and health["spans_received"] == 3 and health["spans_not_forwarded"] == 0


def test_the_sdk_grpc_exporter_delivers_to_the_gateway(catalog: Catalog) -> None:
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    gateway, memory = _gateway(catalog)
    server = serve_grpc(gateway, HOST, 0)
    try:
        exporter = OTLPSpanExporter(endpoint=f"{HOST}:{server.port}", insecure=True, timeout=5)
        assert exporter.export(_record(_agent)) is SpanExportResult.SUCCESS
        exporter.shutdown()
    finally:
        server.stop(grace=None)
    [root] = [s for s in memory.get_finished_spans() if s.parent is None]
    assert root.attributes["gen_ai.trace.cost.total_usd"] == pytest.approx(2 * CHAT_USD)


# ---------------------------------------------------------------------- CLI


def test_addresses_and_loops() -> None:
    assert parse_address("127.0.0.1:4318", "--http") == ("127.0.0.1", 4318)
    assert parse_address("[::1]:4317", "--grpc") == ("::1", 4317)
    for bad, why in [("4318", "expected HOST:PORT"), ("h:x", "not a number"), ("h:70000", "0-65535")]:
        with pytest.raises(ValueError, match=why):
            parse_address(bad, "--http")
    assert sends_to_itself(("localhost", 4317), [("127.0.0.1", 4317)])
    assert not sends_to_itself(("collector", 4317), [("127.0.0.1", 4317)])
    assert not sends_to_itself(("localhost", 4317), [("127.0.0.1", 4318)])
    # Listening on every address: a loop only through an address of this machine. The
    # README's container set-up (the collector on 4317 too) was refused as a loop.
    assert sends_to_itself(("127.0.0.2", 4317), [("0.0.0.0", 4317)])
    assert sends_to_itself(("localhost", 4317), [("0.0.0.0", 4317)])
    assert not sends_to_itself(("collector", 4317), [("0.0.0.0", 4317)])  # (not resolved here)
    assert not sends_to_itself(("192.0.2.1", 4317), [("0.0.0.0", 4317)])  # (TEST-NET-1: no machine's)
    # Another name of the address it listens on.
    assert sends_to_itself(("127.0.0.1", 4317), [("localhost", 4317)])

    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    assert exporter_endpoint(OTLPSpanExporter(endpoint="http://collector:4318/v1/traces")) == ("collector", 4318)


def _cli(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "genai_cost.cli", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )


def test_cli_refuses_to_forward_to_itself() -> None:
    done = _cli(
        "gateway",
        "--http",
        "off",
        "--grpc",
        "127.0.0.1:4317",
        env={"OTEL_TRACES_EXPORTER": "otlp", "OTEL_EXPORTER_OTLP_ENDPOINT": "http://localhost:4317"},
    )
    assert done.returncode == 2
    assert "where the gateway itself listens (a loop)" in done.stderr
    assert "move the gateway with --grpc." in done.stderr  # --http would not break this loop


def test_cli_names_the_http_flag_for_an_http_loop() -> None:
    done = _cli(
        "gateway",
        "--http",
        "127.0.0.1:4318",
        "--grpc",
        "127.0.0.1:4317",
        env={
            "OTEL_TRACES_EXPORTER": "otlp",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
            "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://localhost:4318/v1/traces",
        },
    )
    assert done.returncode == 2
    assert "move the gateway with --http." in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--http", "nowhere"], "--http 'nowhere': expected HOST:PORT"),
        (["--http", "off", "--grpc", "off"], "nothing to receive on"),
    ],
)
def test_cli_names_a_bad_option(args: list[str], message: str) -> None:
    done = _cli("gateway", *args)
    assert done.returncode == 2
    assert message in done.stderr


def test_cli_gateway_runs_until_stopped() -> None:
    """The command as a user runs it: console exporter upstream, spans sent by the
    SDK's HTTP exporter, SIGTERM to stop; the priced spans reach the console."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    from support.gateway import GatewayProcess

    with GatewayProcess({"OTEL_TRACES_EXPORTER": "console"}) as gateway:
        exporter = OTLPSpanExporter(endpoint=gateway.url, timeout=5)
        assert exporter.export(_record(_agent)) is SpanExportResult.SUCCESS
        gateway.stop()
    out, err = gateway.stdout, gateway.stderr
    assert gateway.returncode == 0, err
    assert f"OTLP/HTTP on {gateway.url}" in err
    assert "1 request(s), 0 refused (0 to be retried), 0 not taken by the upstream: 3 span(s) received, 0 rejected as malformed" in err
    assert '"gen_ai.trace.cost.total_usd": 0.007' in out


def test_cli_stop_answers_the_request_in_progress_despite_a_second_sigterm() -> None:
    """A second SIGTERM (or Ctrl-C) during the stop used to kill the process mid-export,
    its senders unanswered."""
    import signal
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from support.gateway import GatewayProcess

    entered, release = threading.Event(), threading.Event()

    class SlowCollector(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers["Content-Length"]))
            entered.set()
            release.wait(10)
            body = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    collector = ThreadingHTTPServer((HOST, 0), SlowCollector)
    threading.Thread(target=collector.serve_forever, daemon=True).start()
    env = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": f"http://{HOST}:{collector.server_address[1]}/v1/traces",
    }
    try:
        with GatewayProcess(env) as gateway:
            body = _request(_record(_agent)).SerializeToString()
            # (the answer comes once the collector is released, after the signals: not in 5 s on a loaded machine)
            sender, answer = _in_thread(lambda: _post(gateway.url, body, "application/x-protobuf", timeout=60))
            assert entered.wait(10)
            process = gateway._process
            assert process is not None
            process.send_signal(signal.SIGTERM)
            # Two signals at once are delivered as one: a second that came before the gateway
            # had handled the first (a loaded machine) is sent again, until the gateway says it
            # took one while stopping, bounded in time.
            deadline = time.monotonic() + 10
            while "already stopping" not in gateway.stderr_so_far() and time.monotonic() < deadline:
                sender.join(0.3)
                process.send_signal(signal.SIGTERM)
                sender.join(0.3)
            assert "already stopping" in gateway.stderr_so_far()
            assert process.poll() is None and sender.is_alive()  # still waiting for the collector
            release.set()
            sender.join(10)
            process.wait(10)  # (no further SIGTERM: it could land once the stop is done)
            gateway.stop()
        assert answer and answer[0][0] == 200
        assert gateway.returncode == 0, gateway.stderr
        assert "already stopping" in gateway.stderr
        assert "stopped after 1 request(s), 0 refused (0 to be retried), 0 not taken by the upstream" in gateway.stderr
    finally:
        release.set()
        collector.shutdown()
        collector.server_close()


# ------------------------------------------------------------------ metrics


def _metric_points(reader: Any) -> dict[str, list[Any]]:
    data = reader.get_metrics_data()
    points: dict[str, list[Any]] = {}
    for resource_metrics in data.resource_metrics if data is not None else ():
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                points.setdefault(metric.name, []).extend(metric.data.data_points)
    return points


def test_the_gateway_records_the_cost_metrics_as_in_process(catalog: Catalog) -> None:
    """The per-call cost counter (labelled with the requested model, as in process), the
    per-trace histogram and the unpriced counter, through the SDK's own MeterProvider."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    gateway = CostGateway(InMemorySpanExporter(), catalog=catalog, meter_provider=meter_provider)

    def build(tracer: Any) -> None:
        _agent(tracer)
        with tracer.start_as_current_span("chat", attributes={**CHAT, "gen_ai.request.model": "no-such-model",
                                                              "gen_ai.response.model": "no-such-model"}):
            pass

    sent = _record(build)
    gateway.accept(_request(sent))
    points = _metric_points(reader)
    # What names the sender: its service (not the instance id its SDK made up: docs/gateway.md).
    sender = {"service.name": "agent-in-another-process"}
    cost = {point.attributes["gen_ai.request.model"]: point.value for point in points["gen_ai.cost.usage"]}
    assert cost == {"gpt-4o": pytest.approx(0.007)}
    assert [dict(point.attributes) for point in points["gen_ai.cost.usage"]] == [
        {
            "gen_ai.cost.category": "llm",
            "gen_ai.provider.name": "openai",
            "gen_ai.request.model": "gpt-4o",
            "gen_ai.operation.name": "chat",
            **sender,
        }
    ]
    traces = points["gen_ai.cost.trace"]
    assert sum(point.count for point in traces) == 2  # the agent's trace and the lone call's
    assert sum(point.sum for point in traces) == pytest.approx(0.007)
    assert [dict(point.attributes) for point in traces] == [sender]
    unpriced = points["gen_ai.cost.unpriced_spans"]
    assert [(dict(point.attributes), point.value) for point in unpriced] == [
        ({"gen_ai.cost.unpriced_reason": "unknown_model", "gen_ai.cost.category": "llm", **sender}, 1)
    ]
    meter_provider.shutdown()


def test_the_gateway_reports_its_own_pipeline_health_under_its_own_service(catalog: Catalog) -> None:
    """Its processor's and roll-up's counts (watch_processor / watch_rollup) are the
    gateway's, not a sender's: no sender label. A call whose span comes in a request after
    its root's is late (its cost is on no root), and counted."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    gateway = CostGateway(InMemorySpanExporter(), catalog=catalog, meter_provider=meter_provider)
    sent = _record(_agent)
    calls = [span for span in sent if span.parent is not None]
    roots = [span for span in sent if span.parent is None]
    gateway.accept(_request(roots + calls[:1]))
    gateway.accept(_request(calls[1:]))  # the rest of the stream, after the root
    points = _metric_points(reader)
    late = points["gen_ai.cost.rollup.late_spans"]
    assert [(dict(point.attributes), point.value) for point in late] == [({}, len(calls) - 1)]
    errors = {point.attributes["gen_ai.cost.component"]: point.value for point in points["gen_ai.cost.internal_errors"]}
    assert errors == {"processor": 0, "listener": 0, "cost_layer": 0, "rollup": 0, "gateway": 0}
    assert all("service.name" not in point.attributes for point in points["gen_ai.cost.rollup.overflow"])
    # and its own counters (GET /health's), by outcome
    spans = {point.attributes["gen_ai.cost.gateway.outcome"]: point.value for point in points["gen_ai.cost.gateway.spans"]}
    assert spans == {"received": 3, "rejected": 0, "not_forwarded": 0, "refused_upstream": 0, "forgotten": 0, "resent": 0}
    meter_provider.shutdown()


def test_the_gateway_keeps_each_senders_cost_apart(catalog: Catalog) -> None:
    """Spans of two services through one gateway: the metrics carry the gateway's resource,
    so each series says which sender made it (``service.name`` of the span's resource); a
    sender that names no service is recorded without the label."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    def sent_by(service: str | None, calls: int) -> list[ReadableSpan]:
        memory = InMemorySpanExporter()
        provider = TracerProvider(resource=Resource({"service.name": service} if service else {}))
        provider.add_span_processor(SimpleSpanProcessor(memory))
        tracer = provider.get_tracer("sender")
        with tracer.start_as_current_span("invoke_agent"):
            for _ in range(calls):
                with tracer.start_as_current_span("chat gpt-4o", attributes=CHAT):
                    pass
        provider.shutdown()
        return list(memory.get_finished_spans())

    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    gateway = CostGateway(InMemorySpanExporter(), catalog=catalog, meter_provider=meter_provider)
    gateway.accept(_request(sent_by("support-bot", 1) + sent_by("research-agent", 3)))
    gateway.accept(_request(sent_by(None, 2)))
    points = _metric_points(reader)
    cost = {point.attributes.get("service.name"): point.value for point in points["gen_ai.cost.usage"]}
    assert cost == {
        "support-bot": pytest.approx(CHAT_USD),
        "research-agent": pytest.approx(3 * CHAT_USD),
        None: pytest.approx(2 * CHAT_USD),
    }
    traces = {point.attributes.get("service.name"): (point.count, point.sum) for point in points["gen_ai.cost.trace"]}
    assert traces == {
        "support-bot": (1, pytest.approx(CHAT_USD)),
        "research-agent": (1, pytest.approx(3 * CHAT_USD)),
        None: (1, pytest.approx(2 * CHAT_USD)),
    }
    meter_provider.shutdown()


def test_the_gateway_records_no_metrics_for_what_its_sender_priced_and_totalled(catalog: Catalog) -> None:
    """A Python agent with genai-cost in process records its own metrics: spans it priced,
    and traces it totalled, are not counted again by the gateway they pass through."""
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import InMemoryMetricReader

    memory = InMemorySpanExporter()
    sender = TracerProvider()
    sender.add_span_processor(
        CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(memory)), catalog=catalog)
    )
    _agent(sender.get_tracer("sender"))
    sender.shutdown()
    sent = list(memory.get_finished_spans())
    assert any("gen_ai.trace.cost.total_usd" in (s.attributes or {}) for s in sent)

    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    gateway = CostGateway(InMemorySpanExporter(), catalog=catalog, meter_provider=meter_provider)
    gateway.accept(_request(sent))
    gateway.accept(_request(_record(_agent)))  # and one sender without genai-cost
    points = _metric_points(reader)
    assert sum(point.count for point in points["gen_ai.cost.trace"]) == 1
    assert sum(point.value for point in points["gen_ai.cost.usage"]) == pytest.approx(2 * CHAT_USD)
    meter_provider.shutdown()


@pytest.fixture
def metrics_receiver(monkeypatch: Any) -> Iterator[list[Any]]:
    """A loopback OTLP/HTTP metrics receiver that keeps the requests it is sent, with the
    standard variables pointing the SDK's OTLP metric exporter at it."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest

    received: list[ExportMetricsServiceRequest] = []

    class Receiver(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append(ExportMetricsServiceRequest.FromString(body))
            self.send_response(200)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((HOST, 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        for name in ("OTEL_METRICS_EXPORTER", "GENAI_COST_METRICS"):
            monkeypatch.delenv(name, raising=False)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_PROTOCOL", "http/protobuf")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", f"http://{HOST}:{server.server_address[1]}/v1/metrics")
        yield received
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("env", "records"),
    [
        ({}, False),  # unlike the SDK's default: asked for only
        ({"OTEL_METRICS_EXPORTER": "none"}, False),
        ({"OTEL_METRICS_EXPORTER": "otlp", "GENAI_COST_METRICS": "false"}, False),
        ({"OTEL_METRICS_EXPORTER": "otlp"}, True),
    ],
)
def test_the_gateway_records_metrics_only_when_asked(
    env: dict[str, str], records: bool, monkeypatch: Any, metrics_receiver: list[Any], catalog: Catalog
) -> None:
    """Built from the standard variables, the SDK's own OTLP metric exporter, over a real
    socket to a receiver that keeps what it is sent."""
    from genai_cost.gateway_upstream import cost_meter_provider

    for name, value in env.items():
        monkeypatch.setenv(name, value)
    provider = cost_meter_provider()
    assert (provider is not None) is records
    if provider is not None:
        gateway = CostGateway(InMemorySpanExporter(), catalog=catalog, meter_provider=provider)
        gateway.accept(_request(_record(_agent)))
        provider.shutdown()  # the periodic reader's last export
        names = {
            metric.name
            for request in metrics_receiver
            for resource_metrics in request.resource_metrics
            for scope_metrics in resource_metrics.scope_metrics
            for metric in scope_metrics.metrics
        }
        assert {"gen_ai.cost.usage", "gen_ai.cost.trace"} <= names


def test_pushed_gateway_metrics_arrive_under_each_senders_resource(
    monkeypatch: Any, metrics_receiver: list[Any], catalog: Catalog
) -> None:
    """What the backend receives from the gateway looks as if each sender had recorded its own
    metrics in process: one resource per sender (so Prometheus' ``job`` and ``instance`` are
    the sender's, and the recording rules group and combine by them as for any service), the
    sender's labels taken off the points. A sender that names no service stays under the
    gateway's own resource."""
    from opentelemetry.proto.common.v1.common_pb2 import KeyValue

    from genai_cost.gateway_upstream import cost_meter_provider

    def sent_by(resource: dict[str, str], calls: int, unknown: int = 0) -> list[ReadableSpan]:
        memory = InMemorySpanExporter()
        provider = TracerProvider(resource=Resource(resource))  # type: ignore[arg-type]
        provider.add_span_processor(SimpleSpanProcessor(memory))
        tracer = provider.get_tracer("sender")
        with tracer.start_as_current_span("invoke_agent"):
            for n in range(calls + unknown):
                model = {"gen_ai.response.model": "no-such-model"} if n >= calls else {}
                with tracer.start_as_current_span("chat", attributes={**CHAT, **model}):
                    pass
        provider.shutdown()
        return list(memory.get_finished_spans())

    def plain(attributes: Sequence[KeyValue]) -> dict[str, object]:
        return {kv.key: json_format.MessageToDict(kv.value).popitem()[1] for kv in attributes}

    monkeypatch.setenv("OTEL_METRICS_EXPORTER", "otlp")
    monkeypatch.setenv("OTEL_SERVICE_NAME", "genai-cost-gateway")
    provider = cost_meter_provider()
    assert provider is not None
    gateway = CostGateway(InMemorySpanExporter(), catalog=catalog, meter_provider=provider)
    bot = {"service.name": "support-bot", "service.namespace": "shop", "service.instance.id": "pod-1"}
    gateway.accept(_request(sent_by(bot, 1, unknown=1) + sent_by({"service.name": "research-agent"}, 3)))
    gateway.accept(_request(sent_by({}, 2)))
    provider.shutdown()

    resources: dict[object, dict[str, object]] = {}
    by_service: dict[object, dict[str, list[tuple[dict[str, object], float]]]] = {}
    for resource_metrics in metrics_receiver[-1].resource_metrics:  # cumulative: the last export has it all
        resource = plain(resource_metrics.resource.attributes)
        service = resource.get("service.name")
        assert service not in resources, "one resource per sender"
        resources[service] = resource
        metrics = by_service.setdefault(service, {})
        for scope_metrics in resource_metrics.scope_metrics:
            for metric in scope_metrics.metrics:
                kind = metric.WhichOneof("data")
                for point in getattr(metric, kind).data_points:
                    value = point.sum if kind == "histogram" else point.as_double or point.as_int
                    metrics.setdefault(metric.name, []).append((plain(point.attributes), value))
    assert set(resources) == {"support-bot", "research-agent", "genai-cost-gateway"}
    own = resources["genai-cost-gateway"]["service.instance.id"]  # the gateway's: it wrote the series
    assert resources["support-bot"] == {**bot, "service.instance.id": own}
    assert resources["research-agent"] == {"service.name": "research-agent", "service.instance.id": own}
    assert "telemetry.sdk.name" in resources["genai-cost-gateway"]  # the gateway's own
    llm = {"gen_ai.cost.category": "llm", "gen_ai.provider.name": "openai", "gen_ai.request.model": "gpt-4o",
           "gen_ai.operation.name": "chat"}
    assert by_service["support-bot"] == {
        "gen_ai.cost.usage": [(llm, pytest.approx(CHAT_USD))],
        "gen_ai.cost.trace": [({}, pytest.approx(CHAT_USD))],
        "gen_ai.cost.unpriced_spans": [
            ({"gen_ai.cost.unpriced_reason": "unknown_model", "gen_ai.cost.category": "llm"}, 1)
        ],
    }
    assert by_service["research-agent"] == {
        "gen_ai.cost.usage": [(llm, pytest.approx(3 * CHAT_USD))],
        "gen_ai.cost.trace": [({}, pytest.approx(3 * CHAT_USD))],
    }
    assert by_service["genai-cost-gateway"] == {
        "gen_ai.cost.usage": [(llm, pytest.approx(2 * CHAT_USD))],
        "gen_ai.cost.trace": [({}, pytest.approx(2 * CHAT_USD))],
        # the gateway's own health: its own, under its own service, whoever sent the spans
        "gen_ai.cost.internal_errors": [
            ({"gen_ai.cost.component": component}, 0)
            for component in ("processor", "listener", "cost_layer", "rollup", "gateway")
        ],
        "gen_ai.cost.rollup.overflow": [
            ({"gen_ai.cost.rollup.action": action}, 0) for action in ("pushed_out", "turned_away")
        ],
        "gen_ai.cost.rollup.traces_without_root": [({}, 0)],
        "gen_ai.cost.rollup.late_spans": [({}, 0)],
        "gen_ai.cost.rollup.open_traces": [({}, 0)],  # the traces all finished
        "gen_ai.cost.open_spans_forgotten": [({}, 0)],
        # its own counters (GET /health's), which no sender's spans say
        "gen_ai.cost.gateway.requests": [
            ({"gen_ai.cost.gateway.outcome": outcome}, count)
            for outcome, count in (("received", 2), ("refused", 0), ("busy", 0), ("not_forwarded", 0))
        ],
        "gen_ai.cost.gateway.spans": [
            ({"gen_ai.cost.gateway.outcome": outcome}, count)
            for outcome, count in (
                ("received", 10), ("rejected", 0), ("not_forwarded", 0), ("refused_upstream", 0), ("forgotten", 0),
                ("resent", 0),
            )
        ],
    }


def test_cli_names_a_metrics_exporter_it_cannot_build() -> None:
    done = _cli("gateway", "--grpc", "off", env={"OTEL_METRICS_EXPORTER": "no-such-exporter",
                                                  "OTEL_TRACES_EXPORTER": "console"})
    assert done.returncode == 2
    assert "cannot build the metrics exporter (OTEL_METRICS_EXPORTER)" in done.stderr
    assert "no-such-exporter" in done.stderr


@pytest.mark.parametrize(
    ("variable", "value", "said"),
    [
        ("OTEL_TRACES_EXPORTER", "consol", "; OTEL_TRACES_EXPORTER can name: console, otlp,"),
        ("OTEL_METRICS_EXPORTER", "promethus", "; OTEL_METRICS_EXPORTER can name: console, otlp,"),
    ],
)
def test_cli_names_the_exporters_installed_for_a_name_none_provides(variable: str, value: str, said: str) -> None:
    """The SDK says only 'Requested component ... not found in entry point ...' (new-user audit)."""
    from importlib.metadata import entry_points

    done = _cli("gateway", "--grpc", "off", env={"OTEL_TRACES_EXPORTER": "console", variable: value})
    assert done.returncode == 2
    assert said in done.stderr
    group = "opentelemetry_metrics_exporter" if variable == "OTEL_METRICS_EXPORTER" else "opentelemetry_traces_exporter"
    installed = sorted({point.name for point in entry_points(group=group)})
    named = done.stderr.split("can name: ", 1)[1].split("\n", 1)[0].split(", ")
    assert named == (installed + ["none"] if variable == "OTEL_METRICS_EXPORTER" else installed)


def test_an_exporter_in_a_package_of_its_own_is_named_with_the_package() -> None:
    from genai_cost.gateway_upstream import exporter_not_installed

    error = RuntimeError("Requested component 'prometheus' not found in entry point 'no_such_group'")
    assert exporter_not_installed(error, "METRICS", none_too=True) == (
        "; pip install opentelemetry-exporter-prometheus for it; OTEL_METRICS_EXPORTER can name: none"
    )
    assert exporter_not_installed(RuntimeError("another failure"), "METRICS", none_too=True) == ""


def test_cli_gateway_exports_the_cost_metrics_when_it_stops() -> None:
    """With OTEL_METRICS_EXPORTER set, the command records the metrics and exports the last
    of them as it stops (the console exporter, read from its output)."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    from support.gateway import GatewayProcess

    env = {"OTEL_TRACES_EXPORTER": "console", "OTEL_METRICS_EXPORTER": "console", "OTEL_METRIC_EXPORT_INTERVAL": "600000"}
    with GatewayProcess(env) as gateway:
        exporter = OTLPSpanExporter(endpoint=gateway.url, timeout=5)
        assert exporter.export(_record(_agent)) is SpanExportResult.SUCCESS
        gateway.stop()
    assert gateway.returncode == 0, gateway.stderr
    assert "recording cost metrics (console)" in gateway.stderr
    assert '"name": "gen_ai.cost.usage"' in gateway.stdout
    assert '"name": "gen_ai.cost.trace"' in gateway.stdout
    assert '"gen_ai.request.model": "gpt-4o"' in gateway.stdout


def test_a_sender_hanging_up_before_its_answer_prints_no_traceback() -> None:
    """A client that sent a short body and closed its socket made socketserver print two
    chained tracebacks (BrokenPipeError) on the gateway's stderr; the refusal was counted."""
    from support.gateway import GatewayProcess

    with GatewayProcess({"OTEL_TRACES_EXPORTER": "console"}) as gateway:
        host, port = gateway.url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)
        for _ in range(3):
            with socket.create_connection((host, int(port)), timeout=5) as sender:
                sender.sendall(
                    b"POST /v1/traces HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                    b"Content-Length: 100\r\n\r\n{}"
                )
        # Each connection is handled on its own thread, which may count its refusal after
        # /health has answered; wait for the count, bounded in time.
        deadline = time.monotonic() + 10
        refused = None
        while refused != 3 and time.monotonic() < deadline:
            with urllib.request.urlopen(gateway.url.replace("/v1/traces", "/health"), timeout=5) as health:
                refused = json.loads(health.read())["requests_refused"]
            if refused != 3:
                time.sleep(0.05)
        assert refused == 3
        gateway.stop()
    assert "Traceback" not in gateway.stderr, gateway.stderr


def _streamed_call_under_a_wrapper_without_usage(tracer: Any) -> None:
    """A framework's chat span without usage hands a stream back (ends) before the SDK's
    span under it, which ends with the usage once the stream is read."""
    without_usage = {k: v for k, v in CHAT.items() if not k.startswith("gen_ai.usage.")}
    with tracer.start_as_current_span("invoke_agent", kind=SpanKind.SERVER) as agent:
        wrapper = tracer.start_span("framework chat", context=set_span_in_context(agent), attributes=without_usage)
        sdk = tracer.start_span("chat gpt-4o", context=set_span_in_context(wrapper), kind=SpanKind.CLIENT,
                                attributes=CHAT)
        wrapper.end()
        sdk.end()


def test_a_streamed_call_whose_wrapper_ended_first_counts_once_at_the_gateway(catalog: Catalog) -> None:
    """In one request the gateway has both records at hand and hands the call on before its
    wrapper (children first): the wrapper is a wrapper, never flagged, and the call counts
    once. (In process the wrapper is flagged as it ends, and the call takes its count over.)"""
    gateway, forwarded = _gateway(catalog)
    gateway.accept(_request(_record(_streamed_call_under_a_wrapper_without_usage)))
    spans = {s.name: s for s in forwarded.get_finished_spans()}
    assert _costs(spans["framework chat"]) == {}
    assert spans["chat gpt-4o"].attributes["gen_ai.cost.total_usd"] == pytest.approx(CHAT_USD)
    root = spans["invoke_agent"].attributes
    assert (root["gen_ai.trace.cost.llm_calls"], root["gen_ai.trace.cost.unpriced_spans"]) == (1, 0)


def test_a_streamed_call_whose_wrapper_came_in_an_earlier_request_counts_once(catalog: Catalog) -> None:
    """Across requests the gateway meets the spans as the processor does in process: the
    wrapper, flagged as it arrives, is taken over by the call arriving later."""
    sent = sorted(_record(_streamed_call_under_a_wrapper_without_usage), key=lambda s: s.end_time or 0)
    gateway, forwarded = _gateway(catalog)
    for span in sent:
        gateway.accept(_request([span]))
    spans = {s.name: s for s in forwarded.get_finished_spans()}
    wrapper, call = spans["framework chat"], spans["chat gpt-4o"]
    assert wrapper.attributes["gen_ai.cost.unpriced_reason"] == "missing_usage"
    assert call.attributes["gen_ai.cost.accounts_for"] == f"{wrapper.context.span_id:016x}"
    root = spans["invoke_agent"].attributes
    assert (root["gen_ai.trace.cost.llm_calls"], root["gen_ai.trace.cost.unpriced_spans"]) == (1, 0)
    assert root["gen_ai.trace.cost.total_usd"] == pytest.approx(CHAT_USD)


def _refused_attempt_inside_the_call(tracer: Any) -> None:
    """A framework's span of one call over the provider's attempts: one refused (a rate
    limit: ``error.type``, no usage), then the retry's answer."""
    without_usage = {k: v for k, v in CHAT.items() if not k.startswith("gen_ai.usage.")}
    with tracer.start_as_current_span("invoke_agent", kind=SpanKind.SERVER):
        with tracer.start_as_current_span("framework chat", attributes=without_usage):
            with tracer.start_as_current_span(
                "chat gpt-4o refused", kind=SpanKind.CLIENT, attributes={**without_usage, "error.type": "429"}
            ):
                pass
            with tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes=CHAT):
                pass


@pytest.mark.parametrize("build", [_streamed_call_under_a_wrapper_without_usage, _refused_attempt_inside_the_call])
@pytest.mark.parametrize("per_span", [False, True], ids=["one-request", "a-request-per-span"])
def test_a_call_whose_records_were_taken_back_in_process_counts_once_at_the_gateway(
    catalog: Catalog, build: Any, per_span: bool
) -> None:
    """Priced in process without a roll-up there: a record flagged as it ended whose call
    another took over (``gen_ai.cost.accounts_for``) is taken back by the gateway's roll-up
    too, and the span that names it, priced there, is not priced again."""
    sent = sorted(_priced_in_process(build, catalog, with_rollup=False), key=lambda s: s.end_time or 0)
    assert any("gen_ai.cost.accounts_for" in s.attributes for s in sent)
    gateway, forwarded = _gateway(catalog)
    for request in [[span] for span in sent] if per_span else [sent]:
        gateway.accept(_request(request))
    assert gateway.processor.stats.priced == gateway.processor.stats.unpriced == 0
    root = next(s for s in forwarded.get_finished_spans() if s.name == "invoke_agent").attributes
    assert (root["gen_ai.trace.cost.llm_calls"], root["gen_ai.trace.cost.unpriced_spans"]) == (1, 0)
    assert root["gen_ai.trace.cost.total_usd"] == pytest.approx(CHAT_USD)
