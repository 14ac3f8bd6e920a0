"""One trace through two services that both send to one gateway (gateway audit, 2026-11-23).

The callee's entry span has a remote parent, so the trace has two local roots in the
gateway's roll-up. The first root to pass let go of the trace's structure (in the gateway no
start is seen, so nothing looked open): the caller's calls were on no root, the caller's root
got no totals, and the callee's root said ``complete=false``."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from genai_cost.gateway import CostGateway
from genai_cost.pricing.catalog import Catalog
from support.gateway import CHAT, CHAT_USD

CATALOG = Catalog.load()


def _two_services() -> tuple[list[ReadableSpan], list[ReadableSpan]]:
    """The spans the front and the back service export (no genai-cost in either): the front
    makes one call and asks the back, which makes two."""
    front_memory, back_memory = InMemorySpanExporter(), InMemorySpanExporter()
    front = TracerProvider(resource=Resource.create({"service.name": "front"}))
    front.add_span_processor(SimpleSpanProcessor(front_memory))
    back = TracerProvider(resource=Resource.create({"service.name": "back"}))
    back.add_span_processor(SimpleSpanProcessor(back_memory))
    front_tracer, back_tracer = front.get_tracer("front"), back.get_tracer("back")
    with front_tracer.start_as_current_span("GET /ask", kind=SpanKind.SERVER):
        with front_tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes=CHAT):
            pass
        with front_tracer.start_as_current_span("POST back", kind=SpanKind.CLIENT):
            headers: dict[str, str] = {}
            inject(headers)
            with back_tracer.start_as_current_span("POST /answer", context=extract(headers), kind=SpanKind.SERVER):
                for _ in range(2):
                    with back_tracer.start_as_current_span("chat gpt-4o", kind=SpanKind.CLIENT, attributes=CHAT):
                        pass
    front.shutdown()
    back.shutdown()
    return list(front_memory.get_finished_spans()), list(back_memory.get_finished_spans())


def _through_gateway(requests: Sequence[Sequence[ReadableSpan]]) -> dict[str, dict[str, object]]:
    memory = InMemorySpanExporter()
    gateway = CostGateway(memory, catalog=CATALOG)
    for spans in requests:
        assert gateway.accept(encode_spans(spans)).forwarded
    gateway.shutdown()
    return {span.name: dict(span.attributes or {}) for span in memory.get_finished_spans() if span.name != "chat gpt-4o"}


def _check(roots: dict[str, dict[str, object]]) -> None:
    front, back = roots["GET /ask"], roots["POST /answer"]
    assert front.get("gen_ai.trace.cost.total_usd") == pytest.approx(CHAT_USD), front  # its own call only
    assert front["gen_ai.trace.cost.llm_calls"] == 1
    assert back["gen_ai.trace.cost.total_usd"] == pytest.approx(2 * CHAT_USD)
    assert back["gen_ai.trace.cost.llm_calls"] == 2
    assert front["gen_ai.trace.cost.complete"] is True and back["gen_ai.trace.cost.complete"] is True


def test_each_service_root_gets_its_own_part_when_the_callee_sends_first() -> None:
    front, back = _two_services()
    _check(_through_gateway([back, front]))


def test_each_service_root_gets_its_own_part_in_one_request() -> None:
    front, back = _two_services()
    _check(_through_gateway([[*back, *front]]))


@settings(max_examples=60, deadline=None)
@given(
    which=st.permutations([True, True, True, False, False, False]),
    cuts=st.sets(st.integers(1, 5)),
    reorder_within=st.booleans(),
)
def test_any_interleaving_and_batching_gives_each_root_its_part(
    which: list[bool], cuts: set[int], reorder_within: bool
) -> None:
    """Each service exports its spans in the order they ended (children first), but the two
    services' exports reach the gateway interleaved in any way, in any number of requests;
    within one request the order does not matter (the gateway puts children first)."""
    front, back = _two_services()
    queues = {True: list(front), False: list(back)}
    arrived = [queues[from_front].pop(0) for from_front in which]
    bounds = [0, *sorted(cuts), len(arrived)]
    requests = [arrived[a:b] for a, b in itertools.pairwise(bounds) if a < b]
    if reorder_within:
        requests = [list(reversed(request)) for request in requests]
    _check(_through_gateway(requests))
