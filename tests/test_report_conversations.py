"""``genai-cost report --by conversation``: the turns (traces) of one conversation added up.

A chat, or a support ticket, is many traces: one per message. The spans are priced by the
real processor and roll-up in the OpenTelemetry SDK, written as OTLP JSON as the demo writes
them, and read back by the command, as a user would (seed 003: "what does one conversation
actually cost?", three turns of one ticket on Gemini 2.5 Flash at $0.30 / $2.50 a million).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost import CostSpanProcessor, TraceCostExporter
from genai_cost.cli import main
from genai_cost.conversations import group_conversations
from genai_cost.demo import write_span_file
from genai_cost.report import report_traces
from genai_cost.span_file import ExportedSpan
from support.capture import FIXTURES

M = 1e6
#: Gemini 2.5 Flash, per token (pricing/google.yaml)
FLASH_IN, FLASH_OUT = 0.30 / M, 2.50 / M
T0 = 1_790_000_000_000_000_000  # 2026-09-21, in nanoseconds


def _flash(tokens_in: int, tokens_out: int) -> float:
    return tokens_in * FLASH_IN + tokens_out * FLASH_OUT


Turn = Callable[..., str]


@pytest.fixture
def conversation_file(tmp_path: Path) -> tuple[Path, Turn]:
    """A file of turns, each a trace through the real processor; ``turn(...)`` makes one and
    returns its trace id, ``write()`` (the fixture's path's writer) writes them all."""
    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(memory))))
    tracer = provider.get_tracer("assistant")
    path = tmp_path / "spans.json"

    def turn(
        conversation: object,
        tokens_in: int,
        tokens_out: int,
        *,
        start_ns: int,
        key: str = "gen_ai.conversation.id",
        on_chat: dict[str, Any] | None = None,
    ) -> str:
        attributes: dict[str, Any] = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "assistant"}
        if conversation is not None:
            attributes[key] = conversation
        agent = tracer.start_span("invoke_agent assistant", attributes=attributes, start_time=start_ns)
        with trace.use_span(agent, end_on_exit=True):
            chat = {
                "gen_ai.operation.name": "chat",
                "gen_ai.provider.name": "gcp.gemini",
                "gen_ai.request.model": "gemini-2.5-flash",
                "gen_ai.usage.input_tokens": tokens_in,
                "gen_ai.usage.output_tokens": tokens_out,
                **(on_chat or {}),
            }
            tracer.start_span("chat gemini-2.5-flash", attributes=chat, start_time=start_ns + 1000).end(
                end_time=start_ns + 2000
            )
        provider.force_flush()
        write_span_file(memory.get_finished_spans(), path)
        return format(agent.get_span_context().trace_id, "032x")

    return path, turn


def _json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["report", *args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out) if out else {}


def test_the_turns_of_a_ticket_add_up_in_the_order_they_started(
    conversation_file: tuple[Path, Turn], capsys: pytest.CaptureFixture[str]
) -> None:
    path, turn = conversation_file
    # The second and third turns start within one millisecond: ordered by their nanoseconds.
    first = turn("ticket-42", 812, 96, start_ns=T0)
    third = turn("ticket-42", 540, 60, start_ns=T0 + 5_000_000_000_400)
    second = turn("ticket-42", 1240, 210, start_ns=T0 + 5_000_000_000_100)
    other = turn("ticket-7", 3000, 500, start_ns=T0 + 10, key="session.id")
    unnamed = turn(None, 100, 10, start_ns=T0 + 20)

    code, document = _json(capsys, str(path), "--by", "conversation")
    assert code == 0
    assert document["traces"] == 5
    assert document["conversations"] == 2
    assert document["traces_without_conversation"] == [unnamed]
    assert document["without_conversation_usd"] == pytest.approx(_flash(100, 10))
    ticket = _flash(812, 96) + _flash(1240, 210) + _flash(540, 60)
    assert [c["conversation_id"] for c in document["shown"]] == ["ticket-7", "ticket-42"]  # the dearest first
    shown = document["shown"][1]
    assert shown["turns"] == 3
    assert shown["total_usd"] == pytest.approx(ticket)
    assert shown["by_category"] == {"llm": pytest.approx(ticket)}
    entry = shown["by_entry"]["google/gemini-2.5-flash"]
    assert (entry["calls"], entry["input_tokens"], entry["output_tokens"]) == (3, 812 + 1240 + 540, 96 + 210 + 60)
    assert [t["trace_id"] for t in shown["traces"]] == [first, second, third]
    assert [t["total_usd"] for t in shown["traces"]] == pytest.approx(
        [_flash(812, 96), _flash(1240, 210), _flash(540, 60)]
    )
    assert shown["start"] == shown["traces"][0]["start"]
    assert shown["last_start"] == shown["traces"][2]["start"]
    assert document["shown"][0]["traces"][0]["trace_id"] == other
    # The top level sums every trace reported, named or not, as for traces.
    assert document["total_usd"] == pytest.approx(ticket + _flash(3000, 500) + _flash(100, 10))

    assert main(["report", str(path), "--by", "conversation", "--top", "1"]) == 0
    text = capsys.readouterr().out
    assert "2 conversation(s) in 4 trace(s); 1 trace(s) ($0.0001) name no conversation" in text
    assert "the 1 most expensive:" in text
    assert "conversation 'ticket-7'  1 turn(s)  $0.002150" in text
    assert "ticket-42" not in text


def test_one_conversation_turn_by_turn_and_an_unknown_one_exits_2(
    conversation_file: tuple[Path, Turn], capsys: pytest.CaptureFixture[str]
) -> None:
    path, turn = conversation_file
    ids = [turn("ticket-42", 812, 96, start_ns=T0), turn("ticket-42", 1240, 210, start_ns=T0 + 10**9)]
    turn("ticket-7", 3000, 500, start_ns=T0 + 2 * 10**9)

    assert main(["report", str(path), "--conversation", "ticket-42"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("2 trace(s), $0.0014 in all")  # the conversation's traces only
    assert lines[1] == "1 conversation(s) in 2 trace(s)"
    assert lines[3].startswith("conversation 'ticket-42'  2 turn(s)  $0.001381  start ")
    assert [line.split()[3] for line in lines if line.startswith("  turn ")] == ids

    # --by trace keeps the traces, each naming its conversation.
    code, document = _json(capsys, str(path), "--conversation", "ticket-42", "--by", "trace")
    assert code == 0
    assert sorted(t["trace_id"] for t in document["shown"]) == sorted(ids)
    assert {t["conversation_id"] for t in document["shown"]} == {"ticket-42"}

    assert main(["report", str(path), "--conversation", "ticket-9"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (
        "genai-cost report: no trace names conversation 'ticket-9' in the files"
        " (read from gen_ai.conversation.id, session.id)\n"
    )


@pytest.mark.parametrize("flag", ["--conversation", "--conversation-key"])
def test_an_empty_conversation_or_key_is_refused(
    conversation_file: tuple[Path, Turn], capsys: pytest.CaptureFixture[str], flag: str
) -> None:
    path, turn = conversation_file
    turn("ticket-42", 812, 96, start_ns=T0)
    with pytest.raises(SystemExit) as exit_:
        main(["report", str(path), flag, "  "])
    assert exit_.value.code == 2
    assert f"argument {flag}: is empty: give " in capsys.readouterr().err


def test_your_own_key_names_the_conversation_text_or_number(
    conversation_file: tuple[Path, Turn], capsys: pytest.CaptureFixture[str]
) -> None:
    path, turn = conversation_file
    turn(4242, 812, 96, start_ns=T0, key="app.ticket_id")
    turn("4242", 540, 60, start_ns=T0 + 10**9, key="app.ticket_id", on_chat={"gen_ai.conversation.id": "chat-1"})
    # By default the GenAI key is read (on the second turn's call only), the ticket not at all.
    code, document = _json(capsys, str(path), "--by", "conversation")
    assert (code, [c["conversation_id"] for c in document["shown"]]) == (0, ["chat-1"])
    assert len(document["traces_without_conversation"]) == 1

    code, document = _json(
        capsys, str(path), "--by", "conversation", "--conversation-key", "app.ticket_id", "--conversation-key", "x"
    )
    assert code == 0
    assert document["conversation_keys"] == ["app.ticket_id", "x"]
    assert [(c["conversation_id"], c["turns"]) for c in document["shown"]] == [("4242", 2)]
    assert document["shown"][0]["total_usd"] == pytest.approx(_flash(812, 96) + _flash(540, 60))


def test_a_trace_naming_two_conversations_counts_for_its_roots_and_says_the_other(
    conversation_file: tuple[Path, Turn], capsys: pytest.CaptureFixture[str]
) -> None:
    path, turn = conversation_file
    trace_id = turn("ticket-42", 812, 96, start_ns=T0, on_chat={"gen_ai.conversation.id": "sub-agent-run"})
    code, document = _json(capsys, str(path), "--by", "conversation")
    assert code == 0
    assert [c["conversation_id"] for c in document["shown"]] == ["ticket-42"]
    assert document["shown"][0]["traces"][0]["other_conversation_ids"] == ["sub-agent-run"]
    assert main(["report", str(path)]) == 0
    text = capsys.readouterr().out
    assert f"trace {trace_id}" in text
    assert "  conversation 'ticket-42'  (spans of it also name 'sub-agent-run')" in text


def test_a_conversation_id_that_moves_the_cursor_is_printed_escaped(
    conversation_file: tuple[Path, Turn], capsys: pytest.CaptureFixture[str]
) -> None:
    path, turn = conversation_file
    turn("evil\x1b[2J\x9bid", 812, 96, start_ns=T0)
    for by in ("conversation", "trace"):
        assert main(["report", str(path), "--by", by]) == 0
        text = capsys.readouterr().out
        assert "\x1b" not in text and "\x9b" not in text
        assert "'evil\\x1b[2J\\x9bid'" in text


def _fixture_spans(name: str) -> list[ExportedSpan]:
    data = json.loads((FIXTURES / f"{name}.json").read_text())
    return [
        ExportedSpan(s["trace_id"], s["span_id"], s["parent_span_id"], s["name"], s.get("scope"), s["attributes"])
        for s in data["spans"]
    ]


def test_real_shapes_pydantic_ai_two_agent_runs_in_one_request_and_google_adk() -> None:
    # Pydantic AI gives each agent run its own gen_ai.conversation.id, on the agent's span and
    # its call; the request's root names none. One trace, two runs: it counts for one, and
    # says the other.
    (report,) = report_traces(_fixture_spans("pydantic-ai"))
    runs = {"01a201ac-f44e-7482-ba0f-0f9000326f90", "01a201ac-f49e-73f4-a659-ae21b0774d38"}
    assert report.conversation_id in runs
    assert report.other_conversation_ids == sorted(runs - {report.conversation_id})
    (report,) = report_traces(_fixture_spans("google-adk"))  # ADK's session id, on its agent's spans
    assert (report.conversation_id, report.other_conversation_ids) == ("193fd242-757a-49e8-8a47-8674dc335b83", [])


def _span(trace: int, span: int, parent: int | None, attributes: dict[str, Any], start: int | None) -> ExportedSpan:
    return ExportedSpan(
        format(trace, "032x"),
        format(span, "016x"),
        None if parent is None else format(parent, "016x"),
        f"span {span}",
        None,
        attributes,
        start_ns=start,
    )


CONVERSATION = st.one_of(
    st.none(), st.sampled_from(["a", "b", " ", ""]), st.integers(-3, 3), st.booleans(), st.floats(allow_nan=True)
)


@settings(max_examples=300, deadline=None)
@given(
    traces=st.lists(
        st.lists(
            st.tuples(
                CONVERSATION,
                st.sampled_from(["gen_ai.conversation.id", "session.id", "other"]),
                st.floats(0, 1, allow_nan=False),
                st.one_of(st.none(), st.integers(0, 5)),
            ),
            min_size=1,
            max_size=4,
        ),
        max_size=6,
    )
)
def test_every_trace_counts_once_in_one_conversation_or_none(
    traces: list[list[tuple[object, str, float, int | None]]],
) -> None:
    spans = []
    for number, trace_spans in enumerate(traces, 1):
        for index, (conversation, key, usd, start) in enumerate(trace_spans, 1):
            attributes: dict[str, Any] = {"gen_ai.cost.total_usd": usd, "gen_ai.cost.category": "llm"}
            if conversation is not None:
                attributes[key] = conversation
            spans.append(_span(number, index, None if index == 1 else 1, attributes, start))
    reports = report_traces(spans)
    conversations, unnamed = group_conversations(reports)
    turns = [turn.trace_id for conversation in conversations for turn in conversation.turns]
    assert sorted(turns + [report.trace_id for report in unnamed]) == sorted(r.trace_id for r in reports)
    total = sum(c.total_usd for c in conversations) + sum(r.total_usd for r in unnamed)
    assert total == pytest.approx(sum(r.total_usd for r in reports))
    for report in reports:
        # Only text that is not blank, or a whole number (not a bool, not a float), names one.
        named = {
            str(value)
            for span in spans
            if span.trace_id == report.trace_id and (value := _first(span.attributes)) is not None
        }
        assert {report.conversation_id, *report.other_conversation_ids} - {None} == named
        if report.conversation_id is not None:
            assert report.conversation_id not in report.other_conversation_ids
    for conversation in conversations:
        assert conversation.total_usd == pytest.approx(sum(turn.total_usd for turn in conversation.turns))
        starts = [turn.start_ns for turn in conversation.turns]
        known = [start for start in starts if start is not None]
        assert known == sorted(known) and starts[: len(known)] == known  # no start: last


def _first(attributes: Any) -> object:
    for key in ("gen_ai.conversation.id", "session.id"):
        value = attributes.get(key)
        if isinstance(value, str) and value.strip():
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return value
    return None


def test_a_conversation_only_other_spans_name_is_said_where_it_is_counted(
    conversation_file: tuple[Path, Turn], capsys: pytest.CaptureFixture[str]
) -> None:
    path, turn = conversation_file
    trace_id = turn("ticket-42", 812, 96, start_ns=T0, on_chat={"gen_ai.conversation.id": "sub-agent-run"})
    assert main(["report", str(path), "--conversation", "sub-agent-run"]) == 2
    err = capsys.readouterr().err
    assert f"spans of trace {trace_id} name it, counted for conversation 'ticket-42'" in err


def test_a_turn_with_spans_not_priced_says_so(
    conversation_file: tuple[Path, Turn], capsys: pytest.CaptureFixture[str]
) -> None:
    path, turn = conversation_file
    turn("ticket-42", 812, 96, start_ns=T0)
    turn("ticket-42", 0, 0, start_ns=T0 + 10**9)  # a stream that asked for no usage: missing_usage
    assert main(["report", str(path), "--conversation", "ticket-42"]) == 0
    text = capsys.readouterr().out
    assert "2 turn(s)  $0.000484" in text and "(1 span(s) not priced)" in text
    (second,) = [line for line in text.splitlines() if line.startswith("  turn 2 ")]
    assert "$0.000000" in second and second.endswith("  (1 span(s) not priced, above)")
    assert "UNPRICED 'chat gemini-2.5-flash' (trace " in text
