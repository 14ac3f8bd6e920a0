"""Budgets used the way a new user gets them wrong (an audit of the public API): each
mistake is refused where it is made, or said once, naming what to do; none leaves a
budget that reads a silent $0 or stops nothing."""

from __future__ import annotations

import copy
import logging
import multiprocessing
import pickle
import string
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry import trace as trace_api
from opentelemetry.context import Context
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import genai_cost
from genai_cost import Budget, BudgetExceededError, BudgetLimits, CostSettings, CostSpanProcessor, TraceCostExporter
from genai_cost import attributes as A
from genai_cost import budget as budget_module
from genai_cost.pricing import Catalog
from support.spans import chat_attributes

CATALOG = Catalog.load()
#: gpt-4o, 1,000 tokens in at $2.50/M and 100 out at $10/M.
CALL_USD = 0.0035
CHAT = chat_attributes("gpt-4o", "openai")


def pipeline(*listeners: Any, settings: CostSettings | None = None) -> tuple[TracerProvider, CostSpanProcessor]:
    processor = CostSpanProcessor(
        SimpleSpanProcessor(TraceCostExporter(InMemorySpanExporter())),
        catalog=CATALOG,
        settings=settings or CostSettings(),
        listeners=list(listeners),
    )
    provider = TracerProvider()
    provider.add_span_processor(processor)
    return provider, processor


def calls(tracer: trace_api.Tracer, n: int) -> None:
    for _ in range(n):
        with tracer.start_as_current_span("chat gpt-4o", attributes=CHAT):
            pass


@pytest.fixture(autouse=True)
def no_default_budget(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Each test starts as a fresh process does: no default budget, nothing said yet."""
    monkeypatch.setattr(budget_module, "_default", None)
    monkeypatch.setattr(budget_module, "_no_default_hint", None, raising=False)
    yield


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "genai_cost" and r.levelno == logging.WARNING]


# ----------------------------------------------------------- 1: a budget nothing feeds


def test_a_budget_no_processor_feeds_reads_none_and_says_so_once(caplog: pytest.LogCaptureFixture) -> None:
    """budgets.md's "In code" example with the budget left out of ``listeners``: $0.14
    spent against $0.01, and check_budget() read $0 and never raised, without a word."""
    budget = Budget(max_cost_usd=0.01)
    genai_cost.set_default_budget(budget)
    provider, processor = pipeline()  # listeners=[] : the budget is not fed
    tracer = provider.get_tracer("agent")
    with caplog.at_level(logging.WARNING, logger="genai_cost"):
        with tracer.start_as_current_span("invoke_agent") as root:
            for _ in range(4):
                calls(tracer, 10)
                assert genai_cost.check_budget() is None  # not known: not a zero, and no raise
            assert genai_cost.current_spend() is None
            assert budget.spend() is None and budget.check() is None
            assert budget.spend(root.get_span_context().trace_id) is None
    [said] = _warnings(caplog)  # once per budget, however often it is read
    assert "no CostSpanProcessor feeds" in said and "listeners=[budget]" in said
    # Fed from now on, it knows the spend of the traces that come after.
    processor.add_listener(budget)
    with tracer.start_as_current_span("invoke_agent"):
        calls(tracer, 3)
        with pytest.raises(BudgetExceededError) as stopped:
            genai_cost.check_budget()
    assert stopped.value.spend == pytest.approx(3 * CALL_USD)
    provider.shutdown()


def test_a_budget_fed_directly_without_a_processor_counts_as_fed(caplog: pytest.LogCaptureFixture) -> None:
    """A pipeline of one's own (or a test) calling on_span_cost is a feed: once it has,
    the budget answers with the spend; before, it cannot know one."""
    from genai_cost.pricer import SpanCost

    budget = Budget(max_cost_usd=1.0)
    with TracerProvider().get_tracer("t").start_as_current_span("chat") as span:
        pass
    trace_id = span.get_span_context().trace_id
    with caplog.at_level(logging.WARNING, logger="genai_cost"):
        assert budget.spend(trace_id) is None
        budget.on_span_cost(span, None, SpanCost(A.CATEGORY_LLM, CALL_USD, None, {}))  # type: ignore[arg-type]
        spent = budget.spend(trace_id)
        assert spent is not None and spent.cost_usd == CALL_USD and spent.llm_calls == 1
    assert len(_warnings(caplog)) == 1


# ------------------------------------------------- 2: limits and sizes of the wrong kind


@pytest.mark.parametrize(
    ("limits", "meant"),
    [
        pytest.param(0.50, "Budget(max_cost_usd=0.5)", id="float"),
        pytest.param(10, "Budget(max_cost_usd=10)", id="int"),
        pytest.param({"max_cost_usd": 0.5}, "Budget(max_cost_usd=0.5)", id="dict"),
        pytest.param("0.5", "Budget(max_cost_usd=0.5)", id="str"),
    ],
)
def test_a_budget_given_a_number_for_its_limits_is_refused_at_once(limits: object, meant: str) -> None:
    """Budget(0.50) was accepted: every span then failed inside the listener (logged as an
    internal pricing error) and the budget stopped nothing."""
    with pytest.raises(TypeError, match="limits") as refused:
        Budget(limits)  # type: ignore[arg-type]
    assert meant in str(refused.value)


@pytest.mark.parametrize(
    ("keywords", "error"),
    [
        pytest.param({"max_traces": 1.5}, TypeError, id="max_traces=1.5"),
        pytest.param({"max_traces": True}, TypeError, id="max_traces=True"),
        pytest.param({"max_traces": "10"}, TypeError, id="max_traces='10'"),
        pytest.param({"idle_timeout_s": "600"}, TypeError, id="idle_timeout_s='600'"),
        pytest.param({"idle_timeout_s": True}, TypeError, id="idle_timeout_s=True"),
        pytest.param({"idle_timeout_s": float("nan")}, ValueError, id="idle_timeout_s=nan"),
        # As the roll-up refuses it: a ledger never let go by time is not what a bound means.
        pytest.param({"idle_timeout_s": float("inf")}, ValueError, id="idle_timeout_s=inf"),
    ],
)
def test_bounds_of_the_wrong_kind_are_refused_by_name(keywords: dict[str, object], error: type[Exception]) -> None:
    with pytest.raises(error, match=next(iter(keywords))):
        Budget(max_cost_usd=1.0, **keywords)  # type: ignore[arg-type]


# ------------------------------------------------------------ 3: the error in a process


def test_the_budget_error_survives_pickle_and_deepcopy_whole() -> None:
    error = BudgetExceededError(A.BUDGET_MAX_COST, 0.5135, 0.5, 0x4BF92F3577B34DA6A3CE929D0E0E4736)
    error.__notes__ = ["agent run 7"]  # (what add_note() sets on Python 3.11+; 3.10 has no add_note)
    for copied in (pickle.loads(pickle.dumps(error)), copy.deepcopy(error)):
        assert type(copied) is BudgetExceededError
        assert (copied.limit, copied.spend, copied.limit_value, copied.trace_id) == (
            error.limit,
            error.spend,
            error.limit_value,
            error.trace_id,
        )
        assert str(copied) == str(error) and copied.args == error.args
        assert copied.trace_id_hex == "4bf92f3577b34da6a3ce929d0e0e4736"
        assert copied.__notes__ == ["agent run 7"]


def run_agent_in_a_worker(max_cost_usd: float) -> int:
    """An agent run in a worker process, budgeted there: steps until check_budget() stops it."""
    budget = Budget(max_cost_usd=max_cost_usd)
    provider, _ = pipeline(budget)
    genai_cost.set_default_budget(budget)
    tracer = provider.get_tracer("worker")
    with tracer.start_as_current_span("invoke_agent"):
        for step in range(100):
            genai_cost.check_budget()
            calls(tracer, 1)
    return step


def test_a_budget_hit_in_a_process_pool_worker_reaches_the_caller() -> None:
    """The error could not be rebuilt in the caller: ProcessPoolExecutor raised
    BrokenProcessPool and every other task of the pool was lost with it."""
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        with pytest.raises(BudgetExceededError) as stopped:
            pool.submit(run_agent_in_a_worker, 0.01).result(timeout=120)
        assert pool.submit(len, "the pool still works").result(timeout=60) == 20
    assert stopped.value.limit == A.BUDGET_MAX_COST
    assert stopped.value.spend == pytest.approx(3 * CALL_USD)
    assert stopped.value.limit_value == 0.01
    assert stopped.value.trace_id_hex is not None and stopped.value.trace_id_hex in str(stopped.value)


# ------------------------------------------------------- 4: set_trace_limits(2.0)


@pytest.mark.parametrize(
    ("wrong", "meant"),
    [
        pytest.param(2.0, "max_cost_usd=2.0", id="float"),
        pytest.param({"max_cost_usd": 2.0}, "max_cost_usd=2.0", id="dict"),
        pytest.param(None, "max_cost_usd=0.5", id="None"),
    ],
)
def test_a_wrong_set_trace_limits_changes_nothing(wrong: object, meant: str) -> None:
    """set_trace_limits(2.0) stored the float before failing: the trace lost every limit,
    the budget's own $0.01 included, and spent $0.04 unstopped."""
    budget = Budget(max_cost_usd=0.01)
    provider, _ = pipeline(budget)
    tracer = provider.get_tracer("agent")
    with tracer.start_as_current_span("invoke_agent"):
        with pytest.raises(TypeError, match="limits") as refused:
            budget.set_trace_limits(wrong)  # type: ignore[arg-type]
        assert f"BudgetLimits({meant})" in str(refused.value)
        assert f"dataclasses.replace(budget.limits, {meant})" in str(refused.value)
        assert budget.limits_of() is budget.limits
        steps = 0
        with pytest.raises(BudgetExceededError) as stopped:
            while steps < 12:
                budget.check()
                calls(tracer, 1)
                steps += 1
    assert steps == 3 and stopped.value.limit_value == 0.01
    provider.shutdown()


# ------------------------------------------------------------ 5: trace ids as text


def _stopped_trace() -> tuple[Budget, TracerProvider, int]:
    budget = Budget(max_cost_usd=0.005)
    provider, _ = pipeline(budget)
    with provider.get_tracer("agent").start_as_current_span("invoke_agent") as root:
        calls(provider.get_tracer("agent"), 2)
    return budget, provider, root.get_span_context().trace_id


def test_a_trace_id_in_hex_is_the_same_trace() -> None:
    """check_budget("<32 hex digits>"), the id Jaeger, Tempo and exc.trace_id_hex show,
    answered $0 for a stopped trace and never raised."""
    budget, provider, trace_id = _stopped_trace()
    genai_cost.set_default_budget(budget)
    hex_id = trace_api.format_trace_id(trace_id)
    for written in (hex_id, hex_id.upper(), "0x" + hex_id, "0X" + hex_id.upper()):
        with pytest.raises(BudgetExceededError) as stopped:
            genai_cost.check_budget(written)
        assert stopped.value.trace_id == trace_id and stopped.value.trace_id_hex == hex_id
        with pytest.raises(BudgetExceededError):
            budget.check(written)
        assert genai_cost.current_spend(written) == budget.spend(written) == budget.spend(trace_id)
    assert budget.spend(hex_id).cost_usd == pytest.approx(2 * CALL_USD)  # type: ignore[union-attr]
    budget.set_trace_limits(BudgetLimits(max_cost_usd=1.0), trace_id=hex_id)
    assert budget.limits_of(trace_id).max_cost_usd == 1.0 == budget.limits_of("0x" + hex_id).max_cost_usd
    budget.forget(hex_id)
    assert budget.spend(trace_id) == budget_module.TraceSpend(trace_id)  # forgotten: that trace, no other
    provider.shutdown()


@pytest.mark.parametrize(
    "wrong",
    [
        pytest.param("decimal", id="str(trace_id)"),
        pytest.param("4bf92f3577b34da6a3ce929d0e0e473", id="31-digits"),
        pytest.param("4bf92f3577b34da6a3ce929d0e0e4736 ", id="trailing-space"),
        pytest.param("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", id="traceparent"),
        pytest.param("0" * 32, id="hex-zero"),
        pytest.param("", id="empty"),
        pytest.param(0, id="zero"),
        pytest.param(-1, id="negative"),
        pytest.param(1 << 128, id="too-large"),
        pytest.param(1.5, id="float"),
        pytest.param(True, id="bool"),
        pytest.param(b"4bf92f3577b34da6a3ce929d0e0e4736", id="bytes"),
        pytest.param("context", id="SpanContext"),
    ],
)
def test_a_trace_id_that_is_not_one_is_refused_by_name(wrong: object) -> None:
    budget, provider, trace_id = _stopped_trace()
    if wrong == "decimal":
        wrong = str(trace_id)
    elif wrong == "context":
        wrong = trace_api.SpanContext(trace_id, 1, is_remote=False)
    queries = [
        genai_cost.check_budget,
        genai_cost.current_spend,
        budget.spend,
        budget.check,
        budget.limits_of,
        budget.forget,
        lambda t: budget.set_trace_limits(BudgetLimits(max_cost_usd=1.0), trace_id=t),
    ]
    for with_default in (None, budget):  # refused with or without a default budget
        genai_cost.set_default_budget(with_default)
        for query in queries:
            with pytest.raises((TypeError, ValueError), match="trace_id must be") as refused:
                query(wrong)
            if isinstance(wrong, str) and wrong:
                assert "32 hex digits" in str(refused.value)
    with pytest.raises(BudgetExceededError):  # nothing was changed or forgotten on the way
        budget.check(trace_id)
    provider.shutdown()


def _documented_trace_id(value: object) -> int | None:
    """What budgets.md says ``value`` names: the int, or the 32 hex digits (``0x``
    optional, any case) read as one; ``None`` when it is not a trace id."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if 0 < value < 2**128 else None
    if isinstance(value, str):
        digits = value[2:] if value[:2] in ("0x", "0X") else value
        if len(digits) == 32 and all(c in string.hexdigits for c in digits) and int(digits, 16):
            return int(digits, 16)
    return None


def _written_as_hex(trace_id: int) -> st.SearchStrategy[str]:
    """The trace id as someone might paste it: any case, 0x or not, and near misses."""
    hex_id = f"{trace_id:032x}"
    cased = st.lists(st.booleans(), min_size=32, max_size=32).map(
        lambda upper: "".join(c.upper() if u else c for c, u in zip(hex_id, upper, strict=True))
    )
    prefixed = st.tuples(st.sampled_from(["", "0x", "0X", "x", "0", "#"]), cased).map("".join)
    mutated = st.tuples(prefixed, st.integers(0, 34), st.text(max_size=2), st.integers(0, 1)).map(
        lambda m: m[0][: m[1]] + m[2] + m[0][m[1] + m[3] :]
    )
    return st.one_of(prefixed, mutated)


def test_any_text_or_int_names_the_trace_it_reads_as_or_is_refused() -> None:
    """Property: an int or text is either the trace budgets.md says it names (that trace's
    spend, not another's) or refused with an error naming trace_id; never a silent answer
    for some other key."""
    budget, provider, trace_id = _stopped_trace()
    known = budget.spend(trace_id)
    assert known is not None and known.exceeded

    @settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        st.one_of(
            _written_as_hex(trace_id),
            st.text(),
            st.text(alphabet="0123456789abcdefABCDEFxX", min_size=30, max_size=36),
            st.from_regex(r"(0[xX])?[0-9a-fA-F]{32}", fullmatch=True),
            st.integers(min_value=-(2**130), max_value=2**130),
            st.sampled_from([trace_id, 0, 1, 2**128 - 1, 2**128, True, False]),
            st.floats(),
            st.binary(max_size=34),
        )
    )
    def reads_as_documented(value: object) -> None:
        named = _documented_trace_id(value)
        try:
            spent = budget.spend(value)  # type: ignore[arg-type]
        except (TypeError, ValueError) as refused:
            assert named is None, f"{value!r} names trace {named:032x} but was refused: {refused}"
            assert "trace_id must be" in str(refused)
            return
        assert named is not None, f"{value!r} is no trace id, yet was answered: {spent}"
        assert spent is not None and spent.trace_id == named
        assert spent == (known if named == trace_id else budget_module.TraceSpend(named))

    reads_as_documented()
    provider.shutdown()


# --------------------------------------------- 6: attached, but not the default budget


def test_check_budget_without_a_default_says_once_to_set_one(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Budget(BudgetLimits.from_env()) as a listener, as configuration.md put it, without
    set_default_budget(): three calls against a one-call limit, check_budget() None each
    time, not a word."""
    budget = Budget(max_llm_calls=1)
    provider, _ = pipeline(budget)
    tracer = provider.get_tracer("agent")
    with caplog.at_level(logging.WARNING, logger="genai_cost"):
        assert genai_cost.check_budget() is None  # outside a trace: nothing to answer for anyway
        assert not _warnings(caplog)
        with tracer.start_as_current_span("invoke_agent"):
            for _ in range(3):
                calls(tracer, 1)
                assert genai_cost.check_budget() is None
                assert genai_cost.current_spend() is None
    [said] = _warnings(caplog)  # once per process
    assert "set_default_budget(budget)" in said
    genai_cost.set_default_budget(budget)
    with tracer.start_as_current_span("invoke_agent") as root:
        calls(tracer, 1)
        with pytest.raises(BudgetExceededError):
            genai_cost.check_budget()
    provider.shutdown()
    # Not a mistake, and not said: a default unset on purpose (whoever calls
    # set_default_budget knows of it: None unsets it in silence, as documented) ...
    caplog.clear()
    monkeypatch.setattr(budget_module, "_no_default_hint", None, raising=False)  # as in a fresh process
    pipeline(Budget(max_llm_calls=1))
    genai_cost.set_default_budget(None)
    with caplog.at_level(logging.WARNING, logger="genai_cost"):
        assert genai_cost.check_budget(root.get_span_context().trace_id) is None
    # ... nor a process where no processor feeds any Budget: nothing is left unchecked.
    monkeypatch.setattr(budget_module, "_no_default_hint", None, raising=False)
    with caplog.at_level(logging.WARNING, logger="genai_cost"):
        assert genai_cost.check_budget(root.get_span_context().trace_id) is None
    assert not _warnings(caplog)


# ------------------------------------------ 7: a misspelt variable, set up in code


def test_limits_from_the_environment_report_a_misspelt_variable(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """configuration.md's code set-up (settings given in code) with a budget limit missing
    its _USD: no limit, $0.14 spent against "0.1", and no log at all."""
    monkeypatch.setenv("GENAI_COST_BUDGET_MAX_COST", "0.1")
    with caplog.at_level(logging.ERROR, logger="genai_cost"):
        budget = Budget(BudgetLimits.from_env())
        pipeline(budget, settings=CostSettings(reported_cost="compare"))
    assert not budget.limits.any
    assert any(
        "GENAI_COST_BUDGET_MAX_COST is not a genai-cost variable" in r.getMessage()
        and "GENAI_COST_BUDGET_MAX_COST_USD" in r.getMessage()
        for r in caplog.records
    ), caplog.text
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="genai_cost"):  # a mapping of one's own is not the environment
        BudgetLimits.from_env({"GENAI_COST_BUDGET_MAX_COST_USD": "0.1"})
    assert not caplog.records


# ------------------------------------------ 12: paused spends forgotten past max_traces


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_paused_spend_forgotten_past_max_traces_is_said_once_and_counted(caplog: pytest.LogCaptureFixture) -> None:
    """An agent paused while six other traces ran came back to a spend of $0, and nothing
    told the operator that max_traces was too small."""
    budget = Budget(max_cost_usd=1.0, max_traces=2, clock=FakeClock())
    provider, _ = pipeline(budget)
    tracer = provider.get_tracer("agent")
    with caplog.at_level(logging.WARNING, logger="genai_cost"):
        with tracer.start_as_current_span("invoke_agent paused") as paused:
            calls(tracer, 2)
        for _ in range(6):  # 2 open and 2 paused are kept: the 3 let go first are forgotten
            with tracer.start_as_current_span("invoke_agent other", context=Context()):
                calls(tracer, 1)
    assert budget.paused_forgotten == 3
    [said] = _warnings(caplog)
    assert "max_traces=2" in said and "Budget.paused_forgotten" in said
    assert budget.spend(paused.get_span_context().trace_id).cost_usd == 0.0  # type: ignore[union-attr]
    provider.shutdown()


def test_a_budget_without_limits_counts_forgotten_spend_without_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """The zero-code set-up keeps a budget with no limit (for check_budget() to read the
    spend): past max_traces its warning spoke of limits nobody had set, beside the roll-up's."""
    budget = Budget(max_traces=2, clock=FakeClock())
    provider, _ = pipeline(budget)
    tracer = provider.get_tracer("agent")
    with caplog.at_level(logging.WARNING, logger="genai_cost"):
        for _ in range(7):
            with tracer.start_as_current_span("invoke_agent", context=Context()):
                calls(tracer, 1)
    assert budget.paused_forgotten == 3  # counted all the same
    assert _warnings(caplog) == []
    provider.shutdown()


def test_stopped_traces_forgotten_past_the_held_bound_are_counted_and_said_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Past 10,000 stopped traces (or traces with limits of their own) let go, the older
    half was dropped with no count and no word: such a trace that went on ran again."""
    clock = FakeClock()
    budget = Budget(max_cost_usd=1.0, max_traces=1, clock=clock)
    provider, _ = pipeline(budget)
    tracer = provider.get_tracer("agent")
    premium = BudgetLimits(max_cost_usd=5.0)
    held_bound = budget_module._MAX_HELD
    with caplog.at_level(logging.WARNING, logger="genai_cost"):
        first = tracer.start_span("invoke_agent first", context=Context())
        budget.set_trace_limits(premium, first.get_span_context().trace_id)
        for trace_id in range(1, held_bound + 2):  # each pushes the one before it into the held ones
            budget.set_trace_limits(premium, trace_id)
        assert budget.held_forgotten == held_bound // 2  # one more than the bound: the older half goes
        for trace_id in range(held_bound + 2, held_bound + 2 + held_bound // 2):
            budget.set_trace_limits(premium, trace_id)
    first.end()
    assert budget.held_forgotten == 2 * (held_bound // 2)  # full again: counted again, not said again
    [said] = _warnings(caplog)
    assert f"forgot {held_bound // 2} traces that hit a limit" in said and "Budget.held_forgotten" in said
    assert budget.limits_of(first.get_span_context().trace_id) == budget.limits  # forgotten: the budget's own
    assert budget.limits_of(held_bound + held_bound // 2) == premium
    provider.shutdown()


def test_the_documented_record_every_span_sampler_budgets_the_traces_it_does_not_export() -> None:
    """budgets.md's sampler, run as written: a trace outside the sample is still budgeted
    (recorded, so priced), and still not exported."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "budgets.md").read_text(encoding="utf-8")
    block = next(b for b in re.findall(r"```python\n(.*?)```", text, re.S) if "class RecordEverySpan" in b)
    namespace: dict[str, Any] = {}
    exec(compile(block.replace("TraceIdRatioBased(0.1)", "TraceIdRatioBased(0.0)"), "budgets.md", "exec"), namespace)
    provider: TracerProvider = namespace["provider"]
    memory = InMemorySpanExporter()
    budget = Budget(max_llm_calls=2)
    provider.add_span_processor(
        CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(memory)), settings=CostSettings(), listeners=[budget])
    )
    tracer = provider.get_tracer("t")
    calls = 0
    with pytest.raises(BudgetExceededError, match="max_llm_calls"):  # noqa: PT012 - the agent loop
        with tracer.start_as_current_span("agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
            for _ in range(5):
                budget.check()
                with tracer.start_as_current_span("chat gpt-4o", attributes=chat_attributes("gpt-4o", "openai")):
                    calls += 1
    provider.shutdown()
    assert calls == 2
    assert memory.get_finished_spans() == ()  # outside the sample: nothing exported


def test_a_budget_read_in_a_trace_the_caller_did_not_sample_says_no_limit_applies(caplog) -> None:  # type: ignore[no-untyped-def]
    """The default sampler follows the caller's traceparent: flags 00, and nothing is recorded."""
    import logging

    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
    from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

    from genai_cost import Budget, CostSpanProcessor, TraceCostExporter

    budget = Budget(max_llm_calls=1)
    provider = TracerProvider()  # parentbased_always_on
    provider.add_span_processor(
        CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(InMemorySpanExporter())), listeners=[budget])
    )
    tracer = provider.get_tracer("agent")
    caplog.set_level(logging.WARNING, logger="genai_cost")
    assert budget.check() is None  # outside any trace: nothing to say
    assert "does not record" not in caplog.text
    for flags, said in ((TraceFlags.DEFAULT, True), (TraceFlags.SAMPLED, False)):
        caplog.clear()
        caller = SpanContext(0x1234, 0x5678, is_remote=True, trace_flags=TraceFlags(flags))
        with tracer.start_as_current_span("request", context=trace.set_span_in_context(NonRecordingSpan(caller))):
            spend = budget.check()
            assert (spend is None) is said
            assert (budget.check() is None) is said  # read twice: said once
        assert caplog.text.count("does not record") == (1 if said else 0), caplog.text
    provider.shutdown()


def test_a_span_that_cannot_be_priced_under_a_cost_limit_is_said_once(caplog) -> None:  # type: ignore[no-untyped-def]
    """Its cost is missing from the spend: the cap may be passed unseen (a model not in the
    catalog). A failed call, billed nothing, is not a reason to say it."""
    import logging

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from genai_cost import Budget, CostSpanProcessor, TraceCostExporter
    from support.spans import chat_attributes

    caplog.set_level(logging.WARNING, logger="genai_cost")
    budgets = {"capped": Budget(max_cost_usd=0.5), "uncapped": Budget(max_llm_calls=100)}
    for name, budget in budgets.items():
        caplog.clear()
        provider = TracerProvider()
        provider.add_span_processor(
            CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(InMemorySpanExporter())), listeners=[budget])
        )
        tracer = provider.get_tracer("agent")
        with tracer.start_as_current_span("agent"):
            failed = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "gpt-4o", "error.type": "timeout"}
            with tracer.start_as_current_span("failed", attributes=failed):
                pass
            assert "could not be priced" not in caplog.text
            for _ in range(3):
                with tracer.start_as_current_span("chat", attributes=chat_attributes("gpt-6", "openai")):
                    pass
            spend = budget.check()
        provider.shutdown()
        assert spend is not None and spend.unpriced_spans == 4 and spend.cost_usd == 0
        said = caplog.text.count("could not be priced")
        assert said == (1 if name == "capped" else 0), caplog.text
        if said:
            assert "unknown_model: openai gpt-6" in caplog.text


def test_the_warning_for_an_unpriced_tool_under_a_cost_limit_names_the_tool(caplog) -> None:  # type: ignore[no-untyped-def]
    """A tool has no provider or model: the warning said "(unknown_tool: tool)", leaving the
    operator to find a trace to learn which price to add."""
    import logging

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from genai_cost import Budget, CostSpanProcessor, TraceCostExporter

    caplog.set_level(logging.WARNING, logger="genai_cost")
    budget = Budget(max_cost_usd=0.5)
    provider = TracerProvider()
    provider.add_span_processor(
        CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(InMemorySpanExporter())), listeners=[budget])
    )
    tracer = provider.get_tracer("agent")
    with tracer.start_as_current_span("agent"):
        tool = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "crawl_intranet"}
        with tracer.start_as_current_span("execute_tool crawl_intranet", attributes=tool):
            pass
        spend = budget.check()
    provider.shutdown()
    assert spend is not None and spend.unpriced_spans == 1
    assert caplog.text.count("could not be priced") == 1, caplog.text
    assert "(unknown_tool: tool 'crawl_intranet'" in caplog.text


@pytest.mark.parametrize("wrong", [0.5, "0.50", {"max_cost_usd": 0.5}])
def test_set_default_budget_refuses_what_is_no_budget(wrong: object) -> None:
    from genai_cost import get_default_budget, set_default_budget

    before = get_default_budget()
    with pytest.raises(TypeError, match="takes a Budget or None"):
        set_default_budget(wrong)  # type: ignore[arg-type]
    assert get_default_budget() is before


def test_set_default_budget_given_limits_says_to_make_a_budget_of_them() -> None:
    from genai_cost import BudgetLimits, set_default_budget

    with pytest.raises(TypeError, match=r"Budget\(limits\)"):
        set_default_budget(BudgetLimits(max_cost_usd=0.5))  # type: ignore[arg-type]


def test_an_exceeded_callback_with_a_fourth_parameter_is_told_which_trace() -> None:
    """Callbacks run on the export thread, out of the trace's context: two agents over their
    limits were told apart by nothing. Three-argument callbacks are called as before."""
    import threading

    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from genai_cost import Budget, BudgetExceededError, CostSpanProcessor, TraceCostExporter
    from support.spans import chat_attributes

    told: list[tuple[object, ...]] = []
    budget = Budget(max_llm_calls=2)
    budget.add_exceeded_callback(lambda limit, spend, limit_value, trace_id: told.append((limit, trace_id)))
    budget.add_exceeded_callback(lambda limit, spend, limit_value: told.append((limit,)))
    budget.add_exceeded_callback(lambda *args: told.append(args))  # written for three: given three
    provider = TracerProvider()
    provider.add_span_processor(
        CostSpanProcessor(BatchSpanProcessor(TraceCostExporter(InMemorySpanExporter())), listeners=[budget])
    )
    tracer = provider.get_tracer("agent")
    traces: list[int] = []

    def agent() -> None:
        with tracer.start_as_current_span("agent") as root:
            traces.append(root.get_span_context().trace_id)
            for _ in range(5):
                try:
                    budget.check()
                except BudgetExceededError:
                    return
                with tracer.start_as_current_span("chat", attributes=chat_attributes("gpt-4o", "openai")):
                    pass

    threads = [threading.Thread(target=agent) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    provider.shutdown()
    with_trace = [entry for entry in told if len(entry) == 2]
    assert sorted(trace_id for _, trace_id in with_trace) == sorted(traces)  # each agent's own
    assert {limit for limit, _ in with_trace} == {"max_llm_calls"}
    assert told.count(("max_llm_calls",)) == 2
    assert sum(1 for entry in told if len(entry) == 3) == 2


# ------------------------------------------------- a read where no trace is (an executor)


def test_a_limited_budget_read_in_an_executor_thread_says_once_that_no_limit_applies(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """loop.run_in_executor() does not carry OpenTelemetry's context: there the read
    answered None without a word, and the agent's steps ran out of their budget."""
    import asyncio

    budget = Budget(max_cost_usd=0.01)
    genai_cost.set_default_budget(budget)
    provider, _ = pipeline(budget)
    tracer = provider.get_tracer("agent")

    def step() -> object:
        return genai_cost.check_budget()

    async def agent() -> list[object]:
        loop = asyncio.get_running_loop()
        with tracer.start_as_current_span("invoke_agent", attributes={"gen_ai.operation.name": "invoke_agent"}):
            calls(tracer, 3)  # over the limit
            with pytest.raises(BudgetExceededError):
                await asyncio.to_thread(step)  # carries the context: stopped
            return [await loop.run_in_executor(None, step) for _ in range(2)]

    with caplog.at_level(logging.WARNING, logger="genai_cost"):
        assert asyncio.run(agent()) == [None, None]
    said = [message for message in _warnings(caplog) if "outside any trace" in message]
    assert len(said) == 1 and "asyncio.to_thread()" in said[0]


def test_a_budget_without_limits_read_outside_a_trace_says_nothing(caplog: pytest.LogCaptureFixture) -> None:
    budget = Budget()
    pipeline(budget)
    with caplog.at_level(logging.WARNING, logger="genai_cost"):
        assert budget.spend() is None
    assert _warnings(caplog) == []
