"""TraceCostExporter: what a trace let go (idle timeout, max_traces) before its roots passed
leaves behind. A root whose totals miss something of its trace says complete=false; a root
with nothing billable and nothing missing gets no totals."""

from __future__ import annotations

import logging

import pytest
from opentelemetry import trace as trace_api
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import CostSettings, CostSpanProcessor, TraceCostExporter
from test_rollup import CATALOG, CHAT, FakeClock, _remote_context, build

PUSHED_OUT_BY = ["idle_timeout", "max_traces"]
TRACE_ID = 0xABC


def build_bounded():
    """A roll-up holding 3 traces, for 60 s each, on a clock the test moves."""
    clock = FakeClock()
    tracer, memory, rollup = build(idle_timeout_s=60, max_traces=3, clock=clock)
    return tracer, memory, rollup, clock


def let_go(tracer, clock, pushed_out_by):
    """Make the roll-up let go the traces it holds now: after a long pause (a person in the
    loop, a long tool), or by other requests in flight, each in a trace that stays open."""
    if pushed_out_by == "idle_timeout":
        clock.now += 61
        others = 1
    else:
        clock.now += 7  # idle a tenth of the timeout: a trace active just now is not pushed out
        others = 5
    for _ in range(others):
        other = tracer.start_span("other agent", context=Context())
        tracer.start_span("chat", context=trace_api.set_span_in_context(other), attributes=CHAT).end()
    if pushed_out_by == "max_traces":
        clock.now += 7  # the others idle in their turn: the trace's next span finds room


def finished(memory, name):
    return next(s for s in memory.get_finished_spans() if s.name == name).attributes


@pytest.mark.parametrize("pushed_out_by", PUSHED_OUT_BY)
def test_a_trace_let_go_twice_before_its_root_still_says_incomplete(pushed_out_by):
    """Let go with a priced call, the trace was remembered; a plain span of it then made a
    new state that took the mark; let go again holding only that plain span, the mark was
    dropped, and the root said complete=true with the first call missing."""
    tracer, memory, rollup, clock = build_bounded()
    root = tracer.start_span("invoke_agent", attributes={"gen_ai.operation.name": "invoke_agent"})
    inside = trace_api.set_span_in_context(root)
    tracer.start_span("chat-1", context=inside, attributes=CHAT).end()
    let_go(tracer, clock, pushed_out_by)
    tracer.start_span("wait_for_human", context=inside).end()
    let_go(tracer, clock, pushed_out_by)
    tracer.start_span("chat-2", context=inside, attributes=CHAT).end()
    root.end()
    assert rollup.stats.traces_expired_without_root >= 2
    totals = finished(memory, "invoke_agent")
    assert totals["gen_ai.trace.cost.llm_calls"] == 1  # chat-1 was forgotten with the trace
    assert totals["gen_ai.trace.cost.total_usd"] == pytest.approx(0.0045)
    assert totals["gen_ai.trace.cost.complete"] is False


@pytest.mark.parametrize("pushed_out_by", PUSHED_OUT_BY)
def test_a_call_outliving_its_step_in_a_trace_let_go_meanwhile_makes_its_root_say_incomplete(pushed_out_by):
    """The step returned while the stream was read, so it passed the roll-up first; the trace
    was let go meanwhile, holding only the step's routing. The call's cost then went to a
    bucket nothing took, and the root read as a trace with nothing billable: no totals."""
    tracer, memory, _, clock = build_bounded()
    shapes = {"agent": CHAT, "plain": {"db.system": "postgresql"}}
    opened = {}
    for name, attributes in shapes.items():
        root = tracer.start_span(name, context=Context())
        step = tracer.start_span("step", context=trace_api.set_span_in_context(root))
        call = tracer.start_span(f"{name} call", context=trace_api.set_span_in_context(step),
                                 attributes=attributes)
        step.end()  # the step returns while the call is still read
        opened[name] = root, call
    let_go(tracer, clock, pushed_out_by)
    for root, call in opened.values():
        call.end()
        root.end()
    assert finished(memory, "agent call")["gen_ai.cost.total_usd"] == pytest.approx(0.0045)
    agent = finished(memory, "agent")
    assert agent["gen_ai.trace.cost.complete"] is False
    assert agent["gen_ai.trace.cost.llm_calls"] == 0  # what was placed under it: nothing, and it says so
    # The same shape with nothing billable in it: nothing is missing, so no totals.
    assert not any(key.startswith("gen_ai.trace.cost.") for key in finished(memory, "plain"))


@pytest.mark.parametrize("pushed_out_by", PUSHED_OUT_BY)
def test_the_second_request_of_a_trace_let_go_before_its_root_says_incomplete(pushed_out_by):
    """A distributed trace calls this service twice. The first request's root had passed,
    so the trace counted as one whose root was seen, and letting it go with the second
    request's priced call not yet on a root was not remembered: that root got no totals."""
    tracer, memory, _, clock = build_bounded()
    with tracer.start_as_current_span("request-1", context=_remote_context(TRACE_ID, 0x1)):
        with tracer.start_as_current_span("chat-1", attributes=CHAT):
            pass
    second = tracer.start_span("request-2", context=_remote_context(TRACE_ID, 0x2))
    tracer.start_span("chat-2", context=trace_api.set_span_in_context(second), attributes=CHAT).end()
    let_go(tracer, clock, pushed_out_by)
    second.end()
    first = finished(memory, "request-1")
    assert first["gen_ai.trace.cost.llm_calls"] == 1
    assert first["gen_ai.trace.cost.complete"] is True
    totals = finished(memory, "request-2")
    assert totals["gen_ai.trace.cost.complete"] is False
    assert totals["gen_ai.trace.cost.llm_calls"] == 0


@pytest.mark.parametrize("pushed_out_by", PUSHED_OUT_BY)
def test_the_forgotten_mark_outlives_the_first_root_that_reported_it(pushed_out_by):
    """Two requests of one trace open side by side; the second's call is forgotten with the
    trace. The first root says so; the trace, let go again after that root passed, dropped
    the mark, and the second root, whose call it was, got no totals."""
    tracer, memory, _, clock = build_bounded()
    first = tracer.start_span("request-1", context=_remote_context(TRACE_ID, 0x1))
    second = tracer.start_span("request-2", context=_remote_context(TRACE_ID, 0x2))
    tracer.start_span("chat-2", context=trace_api.set_span_in_context(second), attributes=CHAT).end()
    let_go(tracer, clock, pushed_out_by)
    first.end()
    let_go(tracer, clock, pushed_out_by)
    second.end()
    assert finished(memory, "request-1")["gen_ai.trace.cost.complete"] is False
    totals = finished(memory, "request-2")
    assert totals["gen_ai.trace.cost.complete"] is False
    assert totals["gen_ai.trace.cost.llm_calls"] == 0


def test_a_root_that_finds_a_cost_it_cannot_place_says_incomplete(monkeypatch):
    """A huge trace forgets its oldest routing (past _MAX_PASSED), and a call outliving a
    step forgotten so reaches no root: the root said complete=true without it."""
    import genai_cost.rollup as rollup_module

    monkeypatch.setattr(rollup_module, "_MAX_PASSED", 4)
    tracer, memory, _ = build()
    with tracer.start_as_current_span("agent") as agent:
        inside = trace_api.set_span_in_context(agent)
        first = tracer.start_span("step 0", context=inside)
        streamed = tracer.start_span("streamed chat", context=trace_api.set_span_in_context(first),
                                     attributes=CHAT)
        first.end()
        for step in range(1, 6):
            with tracer.start_as_current_span(f"step {step}"):
                with tracer.start_as_current_span("chat", attributes=CHAT):
                    pass
        streamed.end()
    totals = finished(memory, "agent")
    assert totals["gen_ai.trace.cost.llm_calls"] == 5
    assert totals["gen_ai.trace.cost.complete"] is False


def test_finished_requests_do_not_push_a_running_conversation_out():
    """Finished traces are held (for totals(), a late span) until their idle timeout; they
    were counted against max_traces with the running ones, so a steady stream of short
    requests (10,000 in 300 s by default) pushed a long conversation out, and its root said
    half its cost, complete=false. Now they are bounded apart."""
    tracer, memory, rollup, clock = build_bounded()
    root = tracer.start_span("invoke_agent", attributes={"gen_ai.operation.name": "invoke_agent"})
    inside = trace_api.set_span_in_context(root)
    tracer.start_span("chat-1", context=inside, attributes=CHAT).end()
    for _ in range(20):  # short requests, each finished: a root and one call
        short = tracer.start_span("short request", context=Context())
        tracer.start_span("chat", context=trace_api.set_span_in_context(short), attributes=CHAT).end()
        short.end()
        clock.now += 1
    tracer.start_span("chat-2", context=inside, attributes=CHAT).end()
    root.end()
    totals = finished(memory, "invoke_agent")
    assert totals["gen_ai.trace.cost.llm_calls"] == 2
    assert totals["gen_ai.trace.cost.complete"] is True
    assert rollup.stats.traces_expired_without_root == 0
    # The finished ones are held within their own bound: the last three, totals still readable.
    assert rollup.open_traces <= 3 + 1
    last_short = [s for s in memory.get_finished_spans() if s.name == "short request"][-1]
    assert rollup.totals(last_short.context.trace_id).llm_calls == 1


def conversations(tracer, clock, count, steps):
    """``count`` agents running at once, each ``steps`` calls, taking turns a second apart
    (as many conversations in flight interleave), then each root ending."""
    roots = [tracer.start_span(f"agent {n}", context=Context()) for n in range(count)]
    for _ in range(steps):
        for root in roots:
            tracer.start_span("chat", context=trace_api.set_span_in_context(root), attributes=CHAT).end()
            clock.now += 1
    for root in roots:
        root.end()
        clock.now += 1


def test_more_conversations_than_max_traces_do_not_push_each_other_out_in_turn():
    """Four agents at once through a roll-up holding three: each new span of one let the
    oldest go, which was the next to come, so every trace was let go between its calls and
    no root got its totals (all $0, complete=false). The three held stay whole; the fourth
    is turned away, and its root says it is incomplete."""
    tracer, memory, rollup, clock = build_bounded()  # 3 traces, 60 s idle timeout
    conversations(tracer, clock, count=4, steps=3)
    roots = {name: finished(memory, f"agent {name}") for name in range(4)}
    for name in range(3):
        assert roots[name]["gen_ai.trace.cost.llm_calls"] == 3
        assert roots[name]["gen_ai.trace.cost.total_usd"] == pytest.approx(3 * 0.0045)
        assert roots[name]["gen_ai.trace.cost.complete"] is True
    assert roots[3]["gen_ai.trace.cost.complete"] is False
    assert rollup.stats.traces_pushed_out == 0
    # its three calls, one batch each (its root came once the others' had passed: room then)
    assert rollup.stats.traces_turned_away == 3


def test_a_trace_turned_away_whose_spans_come_in_one_batch_still_gets_its_totals():
    """A short request ending while the roll-up is full: its spans reach the roll-up
    together (the batch processor's batch), so its root still gets whole totals."""
    collected = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        CostSpanProcessor(SimpleSpanProcessor(collected), catalog=CATALOG, settings=CostSettings())
    )
    tracer = provider.get_tracer("t")
    running = tracer.start_span("running agent", context=Context())
    tracer.start_span("chat", context=trace_api.set_span_in_context(running), attributes=CHAT).end()
    short = tracer.start_span("short request", context=Context())
    tracer.start_span("chat", context=trace_api.set_span_in_context(short), attributes=CHAT).end()
    short.end()
    running_call, *short_request = collected.get_finished_spans()
    memory = InMemorySpanExporter()
    rollup = TraceCostExporter(memory, idle_timeout_s=60, max_traces=1, clock=FakeClock())
    rollup.export([running_call])  # the running agent holds the one place
    rollup.export(short_request)  # one batch: the short request's call and its root
    root = finished(memory, "short request")
    assert rollup.stats.traces_turned_away == 1
    assert root["gen_ai.trace.cost.llm_calls"] == 1
    assert root["gen_ai.trace.cost.total_usd"] == pytest.approx(0.0045)
    assert root["gen_ai.trace.cost.complete"] is True
    assert rollup.open_traces == 1  # the running agent's; the short request was not kept


def test_traces_idle_a_tenth_of_the_timeout_make_room_for_new_ones():
    """Traces whose root never ends here (an agent that died, a span never ended) fill the
    roll-up: once idle a tenth of the timeout (6 s of 60), each makes room for a new trace,
    so a leak does not stop new conversations from being rolled up."""
    tracer, memory, rollup, clock = build_bounded()
    for _ in range(3):
        stale = tracer.start_span("stale agent", context=Context())
        tracer.start_span("chat", context=trace_api.set_span_in_context(stale), attributes=CHAT).end()
    clock.now += 7
    conversations(tracer, clock, count=1, steps=2)
    root = finished(memory, "agent 0")
    assert root["gen_ai.trace.cost.llm_calls"] == 2
    assert root["gen_ai.trace.cost.complete"] is True
    assert rollup.stats.traces_pushed_out == 1
    assert rollup.stats.traces_turned_away == 0


def test_a_full_roll_up_is_logged_once_naming_the_variable(caplog):
    tracer, memory, rollup, clock = build_bounded()

    def stale_agents(count):  # agents whose root never ends here
        for _ in range(count):
            agent = tracer.start_span("stale agent", context=Context())
            tracer.start_span("chat", context=trace_api.set_span_in_context(agent), attributes=CHAT).end()

    with caplog.at_level(logging.WARNING, logger="genai_cost"):
        stale_agents(5)  # two turned away
        clock.now += 7
        stale_agents(5)  # three pushed out, two turned away
    full = [r.getMessage() for r in caplog.records if "max_traces=3" in r.getMessage()]
    assert len(full) == 2, full  # turned away, and pushed out: each said once
    assert all("GENAI_COST_MAX_TRACES" in message for message in full)
    assert (rollup.stats.traces_turned_away, rollup.stats.traces_pushed_out) == (4, 3)
