"""Per-trace budgets: running spend read in-process, BudgetExceededError, the
event on the span that hit a limit, thread safety and bounded state."""

from __future__ import annotations

import threading

import pytest
from opentelemetry import trace as trace_api
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import genai_cost
from genai_cost import Budget, BudgetExceededError, BudgetLimits, CostSettings, CostSpanProcessor, TraceCostExporter
from genai_cost import attributes as A
from genai_cost.budget import set_default_budget
from genai_cost.pricing import Catalog

CATALOG = Catalog.load()
# gpt-4o: $2.50/M input, $10/M output -> 1000 in + 200 out = $0.0045
CALL_USD = 0.0045


def spans_trace_hex(memory: InMemorySpanExporter) -> str:
    """The trace id as the SDK's OTLP JSON and the backends write it."""
    (trace_id,) = {span.context.trace_id for span in memory.get_finished_spans() if span.context is not None}
    return trace_api.format_trace_id(trace_id)


def gpt4o(input_tokens=1000, output_tokens=200):
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": "openai",
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": input_tokens,
        "gen_ai.usage.output_tokens": output_tokens,
    }


def build(budget, *, batch=False):
    memory = InMemorySpanExporter()
    rollup = TraceCostExporter(memory)
    inner = BatchSpanProcessor(rollup, schedule_delay_millis=3_600_000) if batch else SimpleSpanProcessor(rollup)
    processor = CostSpanProcessor(inner, catalog=CATALOG, settings=CostSettings(), listeners=[budget])
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider, provider.get_tracer("test"), memory


@pytest.fixture
def default_budget():
    yield
    set_default_budget(None)


def test_running_spend_is_current_before_the_exporter_has_run(default_budget):
    budget = Budget(max_cost_usd=1.0)
    set_default_budget(budget)
    provider, tracer, memory = build(budget, batch=True)  # the exporter would run in an hour
    with tracer.start_as_current_span("invoke_agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
        assert genai_cost.current_spend().cost_usd == 0.0
        for step in range(1, 4):
            with tracer.start_as_current_span("chat", attributes=gpt4o()):
                pass
            spend = genai_cost.check_budget()
            assert spend.cost_usd == pytest.approx(CALL_USD * step)
            assert spend.llm_calls == step
            assert spend.by_category == {A.CATEGORY_LLM: pytest.approx(CALL_USD * step)}
    assert memory.get_finished_spans() == ()  # nothing exported yet: the spend came from the processor
    provider.shutdown()


def test_cost_limit_raises_with_spend_and_limit_and_marks_the_span_that_crossed_it(default_budget):
    budget = Budget(max_cost_usd=0.01)
    set_default_budget(budget)
    provider, tracer, memory = build(budget)
    raised = None
    with tracer.start_as_current_span("agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
        for step in range(5):
            try:
                genai_cost.check_budget()
            except BudgetExceededError as exc:
                raised = (step, exc)
                break
            with tracer.start_as_current_span(f"chat {step}", attributes=gpt4o()):
                pass
    step, exc = raised
    assert step == 3  # 0.0045, 0.009, then 0.0135 >= 0.01
    assert exc.limit == A.BUDGET_MAX_COST
    assert exc.spend == pytest.approx(3 * CALL_USD)
    assert exc.limit_value == 0.01
    assert "max_cost_usd" in str(exc) and "0.013500" in str(exc)
    spans = {s.name: s for s in memory.get_finished_spans()}
    crossing = spans["chat 2"]
    [event] = [e for e in crossing.events if e.name == A.BUDGET_EVENT]
    assert event.attributes[A.BUDGET_LIMIT_ATTR] == A.BUDGET_MAX_COST
    assert event.attributes[A.BUDGET_LIMIT_VALUE_ATTR] == 0.01
    assert event.attributes[A.BUDGET_SPEND_ATTR] == pytest.approx(3 * CALL_USD)
    assert crossing.attributes[A.BUDGET_LIMIT_ATTR] == A.BUDGET_MAX_COST
    for name in ("chat 0", "chat 1"):
        assert not spans[name].events
        assert A.BUDGET_LIMIT_ATTR not in spans[name].attributes
    assert budget.hits == 1


def test_llm_call_limit_stops_the_call_after_the_limit():
    budget = Budget(max_llm_calls=3)
    _, tracer, memory = build(budget)
    calls = 0
    with tracer.start_as_current_span("agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
        with pytest.raises(BudgetExceededError) as info:
            while True:
                budget.check()
                with tracer.start_as_current_span("chat", attributes=gpt4o()):
                    calls += 1
    assert calls == 3
    assert info.value.limit == A.BUDGET_MAX_LLM_CALLS
    assert (info.value.spend, info.value.limit_value) == (3, 3)
    marked = [s for s in memory.get_finished_spans() if s.events]
    assert len(marked) == 1


def test_tokens_per_call_limit_marks_each_oversized_call():
    budget = Budget(max_tokens_per_call=5000)
    _, tracer, memory = build(budget)
    with tracer.start_as_current_span("agent", attributes={"gen_ai.operation.name": "invoke_agent"}) as agent:
        with tracer.start_as_current_span("small", attributes=gpt4o(4000, 1000)):  # exactly 5000: allowed
            pass
        assert budget.check().max_call_tokens == 5000
        with tracer.start_as_current_span("big", attributes=gpt4o(9000, 500)):
            pass
        with tracer.start_as_current_span("bigger", attributes=gpt4o(20000, 500)):
            pass
        with pytest.raises(BudgetExceededError) as info:
            budget.check()
        trace_id = agent.get_span_context().trace_id
    assert info.value.limit == A.BUDGET_MAX_TOKENS_PER_CALL
    assert info.value.spend == 9500  # the first oversized call
    assert info.value.trace_id == trace_id
    assert info.value.trace_id_hex == format(trace_id, "032x") == spans_trace_hex(memory)
    assert info.value.trace_id_hex in str(info.value)
    spans = {s.name: s for s in memory.get_finished_spans()}
    assert not spans["small"].events
    assert [e.name for e in spans["big"].events] == [A.BUDGET_EVENT]
    assert [e.name for e in spans["bigger"].events] == [A.BUDGET_EVENT]
    assert budget.hits == 2


def test_two_limits_crossed_by_one_span_give_two_events():
    budget = Budget(max_cost_usd=0.001, max_llm_calls=1)
    _, tracer, memory = build(budget)
    with tracer.start_as_current_span("chat", attributes=gpt4o()):
        pass
    [span] = memory.get_finished_spans()
    limits = [e.attributes[A.BUDGET_LIMIT_ATTR] for e in span.events]
    assert limits == [A.BUDGET_MAX_COST, A.BUDGET_MAX_LLM_CALLS]
    assert span.attributes[A.BUDGET_LIMIT_ATTR] == "max_cost_usd,max_llm_calls"


def test_traces_are_budgeted_separately():
    budget = Budget(max_cost_usd=0.005)
    _, tracer, _ = build(budget)
    with tracer.start_as_current_span("a", attributes={"gen_ai.operation.name": "invoke_agent"}) as a:
        with tracer.start_as_current_span("chat", attributes=gpt4o(1500, 200)):  # $0.00575
            pass
        trace_a = a.get_span_context().trace_id
    with tracer.start_as_current_span("b", attributes={"gen_ai.operation.name": "invoke_agent"}) as b:
        with tracer.start_as_current_span("chat", attributes=gpt4o()):
            pass
        assert budget.check().cost_usd == pytest.approx(CALL_USD)  # b is within its budget
        trace_b = b.get_span_context().trace_id
    with pytest.raises(BudgetExceededError):
        budget.check(trace_a)
    assert budget.check(trace_b).cost_usd == pytest.approx(CALL_USD)


def test_outside_a_trace_or_without_a_budget_nothing_raises(default_budget):
    set_default_budget(None)
    assert genai_cost.check_budget() is None
    assert genai_cost.current_spend() is None
    budget = Budget(max_cost_usd=0.01)
    set_default_budget(budget)
    assert trace_api.get_current_span().get_span_context().is_valid is False
    assert genai_cost.check_budget() is None
    assert budget.spend(12345) is None  # nothing feeds this budget: its spend is not known
    build(budget)
    assert budget.spend(12345).cost_usd == 0.0  # fed, an unknown trace has spent nothing


def test_unpriced_spans_are_counted_but_cost_nothing():
    budget = Budget(max_cost_usd=0.01)
    _, tracer, _ = build(budget)
    with tracer.start_as_current_span("agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
        attrs = gpt4o()
        attrs["gen_ai.request.model"] = "no-such-model-xyz"
        with tracer.start_as_current_span("chat", attributes=attrs):
            pass
        spend = budget.check()
    assert spend.unpriced_spans == 1 and spend.cost_usd == 0.0 and spend.llm_calls == 1


def test_refused_requests_are_told_apart_from_calls_whose_cost_is_missing():
    """A stop on unpriced spans (docs/budgets.md) must not trip on rate limits: refused
    requests are billed nothing, an unknown model's calls are billed unseen."""
    budget = Budget(max_cost_usd=1.0)
    _, tracer, _ = build(budget)
    refused = {**gpt4o(), "error.type": "RateLimitError"}
    del refused["gen_ai.usage.input_tokens"], refused["gen_ai.usage.output_tokens"]
    with tracer.start_as_current_span("agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
        for _ in range(2):
            with tracer.start_as_current_span("chat", attributes=refused):
                pass
        with tracer.start_as_current_span("chat", attributes={**gpt4o(), "gen_ai.request.model": "no-such-model"}):
            pass
        # A framework's span of one call over a refused attempt (a retry inside the call):
        # the attempt is taken back from both counts.
        with tracer.start_as_current_span("chat framework", attributes=gpt4o()):
            with tracer.start_as_current_span("chat", attributes=refused):
                pass
        spend = budget.check()
    assert (spend.unpriced_spans, spend.failed_calls, spend.llm_calls) == (3, 2, 4)


def test_the_span_path_never_raises_even_if_a_budget_callback_does():
    def explode(*args):
        raise RuntimeError("callback bug")

    budget = Budget(max_cost_usd=0.001, on_exceeded=explode)
    _, tracer, memory = build(budget)
    with tracer.start_as_current_span("chat", attributes=gpt4o()):
        pass
    [span] = memory.get_finished_spans()
    assert span.attributes[A.COST_TOTAL] == pytest.approx(CALL_USD)
    assert [e.name for e in span.events] == [A.BUDGET_EVENT]


def test_exceeded_callback_is_told_name_spend_and_limit():
    seen = []
    budget = Budget(max_cost_usd=0.004, on_exceeded=lambda *args: seen.append(args))
    _, tracer, _ = build(budget)
    with tracer.start_as_current_span("chat", attributes=gpt4o()):
        pass
    assert seen == [(A.BUDGET_MAX_COST, pytest.approx(CALL_USD), 0.004)]


def _finishes_within(seconds, target):
    """Run ``target`` on a daemon thread: whether it finished in time (a deadlock must fail
    the test, not hang the suite), and what it returned or raised."""
    box = {}

    def run():
        try:
            box["result"] = target()
        except BaseException as exc:  # noqa: BLE001 - reported to the test
            box["error"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    return not thread.is_alive(), box


def test_a_callback_taking_an_application_lock_does_not_deadlock_the_agent(default_budget):
    """The callback runs on the export thread and takes a lock the agent holds around each
    step, while the agent, in that step, checks the budget. Under the pricing lock this
    deadlocked both threads (and every later flush): the agent waited for the pricing lock,
    the callback, holding it, for the agent's lock."""
    session = threading.Lock()
    told = []

    def on_exceeded(name, spend, limit):
        with session:
            told.append(name)

    budget = Budget(max_cost_usd=0.006, on_exceeded=on_exceeded)
    set_default_budget(budget)
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(
        CostSpanProcessor(
            BatchSpanProcessor(TraceCostExporter(memory), schedule_delay_millis=20),
            catalog=CATALOG,
            settings=CostSettings(),
            listeners=[budget],
        )
    )
    tracer = provider.get_tracer("test")
    stepped = threading.Event()

    def agent():
        with tracer.start_as_current_span("invoke_agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
            for _ in range(3):
                with session:
                    genai_cost.check_budget()
                    with tracer.start_as_current_span("chat", attributes=gpt4o()):
                        pass
                    stepped.wait(0.3)  # the answer is worked on: the export thread prices meanwhile

    finished, outcome = _finishes_within(20, agent)
    assert finished, "the agent deadlocked with the budget callback"
    assert isinstance(outcome.get("error"), BudgetExceededError)
    assert _finishes_within(20, lambda: provider.force_flush(5000))[0]
    assert told == [A.BUDGET_MAX_COST]
    provider.shutdown()


def test_a_callback_may_read_the_budget_from_another_thread(default_budget):
    """An executor or an event loop answering for the callback: its read of the budget
    waited for the pricing lock the callback's thread held."""
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(1)
    read = []

    def on_exceeded(name, spend, limit):
        read.append(pool.submit(budget.spend, trace_id[0]).result(timeout=10))

    budget = Budget(max_cost_usd=0.006, on_exceeded=on_exceeded)
    trace_id = []
    _, tracer, _ = build(budget, batch=True)

    def agent():
        with tracer.start_as_current_span("invoke_agent") as root:
            trace_id.append(root.get_span_context().trace_id)
            for _ in range(2):
                with tracer.start_as_current_span("chat", attributes=gpt4o()):
                    pass
            return budget.check()

    finished, outcome = _finishes_within(20, agent)
    pool.shutdown(wait=False)
    assert finished, "the budget read deadlocked"
    assert isinstance(outcome.get("error"), BudgetExceededError)
    assert [spend.cost_usd for spend in read] == [pytest.approx(2 * CALL_USD)]


def test_a_budget_not_attached_to_a_processor_runs_its_callbacks_at_once():
    from genai_cost.pricer import SpanCost

    told = []
    budget = Budget(max_cost_usd=0.001, on_exceeded=lambda *args: told.append(args[0]))
    provider = TracerProvider()
    with provider.get_tracer("t").start_as_current_span("chat") as span:
        pass
    cost = SpanCost(A.CATEGORY_LLM, CALL_USD, None, {})
    budget.on_span_cost(span, None, cost)  # type: ignore[arg-type]
    assert told == [A.BUDGET_MAX_COST]


def test_many_threads_many_traces_exact_totals():
    budget = Budget(max_cost_usd=1000.0)
    provider, tracer, _ = build(budget)
    trace_ids = {}
    lock = threading.Lock()

    def agent(n):
        with tracer.start_as_current_span(f"agent {n}", attributes={"gen_ai.operation.name": "invoke_agent"}) as root:
            for _ in range(25):
                with tracer.start_as_current_span("chat", attributes=gpt4o()):
                    pass
            with lock:
                trace_ids[n] = root.get_span_context().trace_id

    threads = [threading.Thread(target=agent, args=(n,)) for n in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for trace_id in trace_ids.values():
        spend = budget.spend(trace_id)
        assert spend.llm_calls == 25
        assert spend.cost_usd == pytest.approx(25 * CALL_USD)


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_ledgers_expire_and_are_bounded():
    clock = FakeClock()
    budget = Budget(max_cost_usd=1.0, idle_timeout_s=10, max_traces=3, clock=clock)
    _, tracer, _ = build(budget)
    ids = []
    for n in range(5):
        with tracer.start_as_current_span(f"chat {n}", attributes=gpt4o()) as span:
            ids.append(span.get_span_context().trace_id)
    assert budget.open_traces == 3  # the two oldest went first
    assert budget.spend(ids[0]).cost_usd == pytest.approx(CALL_USD)  # kept apart: paused, not forgotten
    assert budget.spend(ids[4]).cost_usd == pytest.approx(CALL_USD)
    clock.now = 11
    with tracer.start_as_current_span("later", attributes=gpt4o()):
        pass
    assert budget.open_traces == 1  # idle ledgers expired
    # At most max_traces let-go ledgers are kept apart: the oldest are forgotten.
    assert [budget.spend(trace_id).cost_usd for trace_id in ids] == [0.0, 0.0] + [pytest.approx(CALL_USD)] * 3
    budget.forget(ids[4])
    assert budget.spend(ids[4]).cost_usd == 0.0


def test_a_trace_that_pauses_past_the_idle_timeout_goes_on_from_its_spend(default_budget):
    """An agent waiting longer than the idle timeout (for a person's approval) came back to
    a spend of $0 and could spend its budget again."""
    clock = FakeClock()
    budget = Budget(max_cost_usd=2.5 * CALL_USD, idle_timeout_s=600, max_traces=3, clock=clock)
    set_default_budget(budget)
    _, tracer, _ = build(budget)
    with tracer.start_as_current_span("invoke_agent") as root:
        trace_id = root.get_span_context().trace_id
        for _ in range(2):
            with tracer.start_as_current_span("chat", attributes=gpt4o()):
                pass
        assert genai_cost.check_budget().cost_usd == pytest.approx(2 * CALL_USD)
        clock.now += 11 * 60  # the pause; meanwhile other traces come and go
        for _ in range(2):
            with tracer.start_as_current_span("other", context=Context(), attributes=gpt4o()):
                pass
        assert trace_id not in budget._ledgers  # let go, as bounded state must be
        assert genai_cost.check_budget().llm_calls == 2
        with tracer.start_as_current_span("chat", attributes=gpt4o()):
            pass
        with pytest.raises(BudgetExceededError) as stopped:
            genai_cost.check_budget()
        assert stopped.value.spend == pytest.approx(3 * CALL_USD)


def test_a_trace_that_hit_a_limit_stays_stopped_after_a_long_pause(default_budget):
    """Its ledger expired while the agent waited (for a person, a long tool): the next
    check saw $0 spent, and the agent went on to spend the budget a second time."""
    clock = FakeClock()
    budget = Budget(max_cost_usd=0.006, idle_timeout_s=600, max_traces=3, clock=clock)
    set_default_budget(budget)
    _, tracer, _ = build(budget)
    with tracer.start_as_current_span("invoke_agent") as root:
        trace_id = root.get_span_context().trace_id
        for _ in range(2):
            with tracer.start_as_current_span("chat", attributes=gpt4o()):
                pass
        budget.set_trace_limits(BudgetLimits(max_cost_usd=0.006, max_llm_calls=5))
        with pytest.raises(BudgetExceededError):
            genai_cost.check_budget()
        clock.now += 11 * 60  # the pause; meanwhile other traces come and go
        for _ in range(5):
            with tracer.start_as_current_span("other", context=Context(), attributes=gpt4o()):
                pass
        assert trace_id not in budget._ledgers  # let go, as bounded state must be
        with pytest.raises(BudgetExceededError) as stopped:
            genai_cost.check_budget()
        assert stopped.value.spend == pytest.approx(2 * CALL_USD)
        assert budget.limits_of().max_llm_calls == 5
        with tracer.start_as_current_span("chat", attributes=gpt4o()):  # it goes on anyway
            pass
        assert budget.spend().cost_usd == pytest.approx(3 * CALL_USD)
        assert budget.spend().llm_calls == 3


def test_a_sampled_out_trace_has_no_spend_rather_than_zero(default_budget):
    """No span of a trace the sampler dropped reaches the processor: its spend is not
    known. check_budget() said $0 spent, and never stopped it."""
    from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

    budget = Budget(max_cost_usd=0.001)
    set_default_budget(budget)
    provider = TracerProvider(sampler=ALWAYS_OFF)
    provider.add_span_processor(
        CostSpanProcessor(SimpleSpanProcessor(InMemorySpanExporter()), catalog=CATALOG, listeners=[budget])
    )
    tracer = provider.get_tracer("t")
    with tracer.start_as_current_span("invoke_agent"):
        with tracer.start_as_current_span("chat", attributes=gpt4o()):
            pass
        assert genai_cost.check_budget() is None
        assert genai_cost.current_spend() is None


def test_limits_from_env():
    limits = BudgetLimits.from_env(
        {
            "GENAI_COST_BUDGET_MAX_COST_USD": "0.50",
            "GENAI_COST_BUDGET_MAX_LLM_CALLS": "10",
            "GENAI_COST_BUDGET_MAX_TOKENS_PER_CALL": "8000",
        }
    )
    assert (limits.max_cost_usd, limits.max_llm_calls, limits.max_tokens_per_call) == (0.5, 10, 8000)
    assert limits.any and not limits.problems
    bad = BudgetLimits.from_env({"GENAI_COST_BUDGET_MAX_COST_USD": "-1", "GENAI_COST_BUDGET_MAX_LLM_CALLS": "2.5"})
    assert not bad.any and len(bad.problems) == 2
    assert not BudgetLimits.from_env({}).any


def test_invalid_limits_are_rejected_in_code():
    with pytest.raises(ValueError):
        Budget(max_cost_usd=0)
    with pytest.raises(ValueError):
        Budget(BudgetLimits(max_llm_calls=3), max_llm_calls=3)


def test_one_trace_can_have_its_own_limits():
    budget = Budget(max_cost_usd=0.005)
    _, tracer, _ = build(budget)
    with tracer.start_as_current_span("premium", attributes={"gen_ai.operation.name": "invoke_agent"}):
        budget.set_trace_limits(BudgetLimits(max_cost_usd=0.02))
        assert budget.limits_of().max_cost_usd == 0.02
        for _ in range(4):  # $0.018: over the default budget, within this trace's
            with tracer.start_as_current_span("chat", attributes=gpt4o()):
                pass
        assert budget.check().cost_usd == pytest.approx(4 * CALL_USD)
        with tracer.start_as_current_span("chat", attributes=gpt4o()):
            pass
        with pytest.raises(BudgetExceededError) as info:
            budget.check()
        assert info.value.limit_value == 0.02
    with tracer.start_as_current_span("standard", attributes={"gen_ai.operation.name": "invoke_agent"}):
        assert budget.limits_of().max_cost_usd == 0.005
        with tracer.start_as_current_span("chat", attributes=gpt4o(1500, 200)):
            pass
        with pytest.raises(BudgetExceededError):
            budget.check()
    budget.set_trace_limits(BudgetLimits())  # outside a trace: nothing happens


def _processor_with(budget, catalog, *, deferred):
    provider = TracerProvider()
    provider.add_span_processor(
        CostSpanProcessor(
            SimpleSpanProcessor(InMemorySpanExporter()), catalog=catalog, listeners=[budget], deferred=deferred
        )
    )
    return provider.get_tracer("test")


def test_a_spend_that_lands_on_the_limit_reaches_it(tmp_path):
    """Ten $0.01 tool calls sum to 0.09999999999999999 in floats: a $0.10 budget let an
    eleventh call through, though the docs say a hit is spend >= limit."""
    pricing = tmp_path / "cent-tool.yaml"
    pricing.write_text(
        "tools:\n  - name: cent_tool\n    category: tool\n    per_call: 0.01\n"
        "    source: test\n    checked: 2026-11-22\n"
    )
    budget = Budget(max_cost_usd=0.10)
    tracer = _processor_with(budget, Catalog.load([pricing]), deferred=True)
    calls = 0
    with tracer.start_as_current_span("invoke_agent"):
        with pytest.raises(BudgetExceededError) as stopped:
            while calls < 20:
                budget.check()
                with tracer.start_as_current_span(
                    "tool", attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "cent_tool"}
                ):
                    calls += 1
        assert budget.spend().cost_usd == 0.1
        assert budget.spend().remaining_usd(budget.limits) == 0.0
    assert calls == 10
    assert stopped.value.spend == 0.1


@pytest.mark.parametrize("deferred", [True, False])
def test_new_limits_judge_the_spend_made_so_far_alike_deferred_or_inline(deferred):
    """Inline, three calls over a new, lower limit were not a hit until a fourth call;
    deferred, the new limit was applied to calls that ended before it was set (the hit
    recorded at the second call's spend)."""
    hits = []
    budget = Budget(max_cost_usd=1.0, on_exceeded=lambda *hit: hits.append(hit))
    tracer = _processor_with(budget, CATALOG, deferred=deferred)
    with tracer.start_as_current_span("invoke_agent"):
        for _ in range(3):
            with tracer.start_as_current_span("chat", attributes=gpt4o()):
                pass
        budget.set_trace_limits(BudgetLimits(max_cost_usd=0.005, max_llm_calls=3))
        with pytest.raises(BudgetExceededError) as stopped:
            budget.check()
        assert stopped.value.spend == pytest.approx(3 * CALL_USD)
        assert stopped.value.limit_value == 0.005
        assert sorted(name for name, _, _ in hits) == [A.BUDGET_MAX_COST, A.BUDGET_MAX_LLM_CALLS]
        assert budget.hits == 2


@pytest.mark.parametrize("deferred", [True, False])
def test_raised_limits_leave_the_calls_made_before_them_judged_by_the_old_ones(deferred):
    """Deferred, raising a trace's limit un-hit calls that had ended under the old one."""
    budget = Budget(max_cost_usd=0.005)
    tracer = _processor_with(budget, CATALOG, deferred=deferred)
    with tracer.start_as_current_span("invoke_agent"):
        for _ in range(2):
            with tracer.start_as_current_span("chat", attributes=gpt4o()):
                pass
        budget.set_trace_limits(BudgetLimits(max_cost_usd=1.0))
        with pytest.raises(BudgetExceededError) as stopped:
            budget.check()  # hit before the new limits: limits already hit stay hit
        assert stopped.value.limit_value == 0.005


def test_the_spend_by_category_carries_no_float_noise():
    """cost_usd read 0.054 beside by_category {'llm': 0.053999999999999986}."""
    budget = Budget(max_cost_usd=1.0)
    _, tracer, _ = build(budget)
    with tracer.start_as_current_span("invoke_agent") as root:
        for _ in range(12):
            with tracer.start_as_current_span("chat", attributes=gpt4o()):
                pass
    spend = budget.spend(root.get_span_context().trace_id)
    assert spend.cost_usd == 0.054
    assert spend.by_category == {A.CATEGORY_LLM: 0.054}


def test_replacing_the_default_budget_is_logged_and_unsetting_is_not(default_budget, caplog):
    first, second = Budget(), Budget()
    with caplog.at_level("WARNING", logger="genai_cost"):
        set_default_budget(first)
        set_default_budget(first)  # the same one again: nothing replaced
        assert not caplog.records
        set_default_budget(second)
        assert [r.getMessage() for r in caplog.records] == [
            "genai-cost: the default budget was replaced; check_budget() no longer sees the spend "
            "and limits of the one set before (set up twice in one process?)"
        ]
        caplog.clear()
        set_default_budget(None)
        assert not caplog.records
    assert genai_cost.get_default_budget() is None
