"""What each conversation cost: the traces of a report grouped by the conversation they name.

A chat turn, an inbound message, a request is one trace; a conversation, a ticket, a
session is many, each turn its own trace. The live roll-up cannot add them up: the turns
of one conversation reach different processes (each replica of a service sees some), and
a total written on a root would be the part one process saw, read as the whole. A file of
the exported spans holds every turn, so ``genai-cost report --by conversation`` adds them
up here, from the per-trace reports of :mod:`genai_cost.report`, by the conversation
each trace names (:attr:`~genai_cost.report.TraceReport.conversation_id`).

Pure Python, no OpenTelemetry import.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .cost_spread import CostSpread, cost_spread
from .report import (
    CallTotals,
    TraceReport,
    also_named,
    cost_lines,
    money_text,
    note_lines,
    overview_lines,
    rounded_usd,
    runaway_flag,
    summarize,
    summary_line,
    totals_dict,
)

__all__ = ["ConversationReport", "group_conversations", "render_conversations_json", "render_conversations_text"]


@dataclass(slots=True)
class ConversationReport:
    """The turns (traces) of one conversation and what they cost together."""

    conversation_id: str
    #: The traces that name it, in the order they started (those with no start last).
    turns: list[TraceReport] = field(default_factory=list)
    total_usd: float = 0.0
    by_category: dict[str, float] = field(default_factory=dict)
    by_entry: dict[str, CallTotals] = field(default_factory=dict)

    @property
    def start(self) -> str | None:
        """When its first turn started (UTC, ISO 8601), if the files say."""
        return self.turns[0].start if self.turns else None

    @property
    def last_start(self) -> str | None:
        """When its last turn started, if the files say."""
        starts = [turn.start for turn in self.turns if turn.start is not None]
        return starts[-1] if starts else None

    @property
    def unpriced_spans(self) -> int:
        return sum(len(turn.unpriced) for turn in self.turns)

    @property
    def not_priced_here_spans(self) -> int:
        return sum(len(turn.not_priced_here) for turn in self.turns)

    @property
    def fully_priced(self) -> bool:
        """Whether its cost is all of it: every turn's is (:attr:`TraceReport.fully_priced`)."""
        return all(turn.fully_priced for turn in self.turns)

    @property
    def incomplete_turns(self) -> list[str]:
        """The trace ids of its turns whose root said spans were still open, or is missing."""
        return [turn.trace_id for turn in self.turns if not turn.complete]

    def as_dict(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "turns": len(self.turns),
            "start": self.start,
            "last_start": self.last_start,
            "total_usd": rounded_usd(self.total_usd),
            "by_category": {category: rounded_usd(usd) for category, usd in self.by_category.items()},
            "by_entry": {key: totals_dict(value) for key, value in self.by_entry.items()},
            "unpriced_spans": self.unpriced_spans,
            "not_priced_here_spans": self.not_priced_here_spans,
            "incomplete_turns": self.incomplete_turns,
            "traces": [turn.as_dict() for turn in self.turns],
        }


def group_conversations(reports: Sequence[TraceReport]) -> tuple[list[ConversationReport], list[TraceReport]]:
    """The conversations ``reports`` name, the most expensive first (then by id), and the
    reports that name none (in the order given)."""
    conversations: dict[str, ConversationReport] = {}
    unnamed: list[TraceReport] = []
    for report in reports:
        if report.conversation_id is None:
            unnamed.append(report)
            continue
        conversation = conversations.get(report.conversation_id)
        if conversation is None:
            conversation = conversations[report.conversation_id] = ConversationReport(report.conversation_id)
        conversation.turns.append(report)
        conversation.total_usd += report.total_usd
        for category, usd in report.by_category.items():
            conversation.by_category[category] = conversation.by_category.get(category, 0.0) + usd
        for key, calls in report.by_entry.items():
            conversation.by_entry.setdefault(key, CallTotals()).add(calls)
    for conversation in conversations.values():
        conversation.turns.sort(key=lambda turn: (turn.start_ns is None, turn.start_ns or 0, turn.trace_id))
        conversation.by_category = dict(sorted(conversation.by_category.items(), key=lambda item: (-item[1], item[0])))
        conversation.by_entry = dict(sorted(conversation.by_entry.items(), key=lambda item: (-item[1].usd, item[0])))
    ranked = sorted(conversations.values(), key=lambda found: (-found.total_usd, found.conversation_id))
    return ranked, unnamed


def conversation_spread(conversations: Sequence[ConversationReport]) -> CostSpread | None:
    """How the cost of the fully priced conversations spreads (``None`` for fewer than two)."""
    priced = [conversation for conversation in conversations if conversation.fully_priced]
    return cost_spread([(conversation.conversation_id, conversation.total_usd) for conversation in priced])


def render_conversations_text(
    reports: Sequence[TraceReport],
    conversations: Sequence[ConversationReport],
    shown: Sequence[ConversationReport],
    unnamed: Sequence[TraceReport],
    keys: Sequence[str],
) -> str:
    """``genai-cost report --by conversation``: the totals of all ``reports`` (as for
    traces), how many conversations they make, then each of ``shown`` with its turns."""
    turns = sum(len(conversation.turns) for conversation in conversations)
    line = f"{len(conversations)} conversation(s) in {turns} trace(s)"
    if unnamed:
        usd = sum((report.total_usd for report in unnamed), 0.0)
        line += (
            f"; {len(unnamed)} trace(s) ({money_text(usd, 4)}) name no conversation"
            f" (read from {', '.join(keys)}): not listed here; --by trace lists them"
        )
    summary = summarize(reports)
    lines = [summary_line(summary), line]
    spread = conversation_spread(conversations)
    lines.extend(overview_lines("conversation", spread, summary.what_if, len(shown), len(conversations)))
    for conversation in shown:
        lines.append("")
        when = ""
        if conversation.start is not None:
            when += f"  start {conversation.start}"
        last = conversation.last_start
        if last is not None and len(conversation.turns) > 1:
            when += f"  last turn {last}"
        incomplete = len(conversation.incomplete_turns)
        flag = f"  ({incomplete} incomplete turn(s))" if incomplete else ""
        unpriced = conversation.unpriced_spans + conversation.not_priced_here_spans
        if unpriced:
            flag += f"  ({unpriced} span(s) not priced)"
        flag += runaway_flag(spread, conversation.total_usd) if conversation.fully_priced else ""
        lines.append(
            f"conversation {conversation.conversation_id!r}  {len(conversation.turns)} turn(s)"
            f"  {money_text(conversation.total_usd, 6)}{when}{flag}"
        )
        lines.extend(cost_lines(conversation.by_category, conversation.by_entry))
        for turn in conversation.turns:
            lines.extend(note_lines(turn, with_trace=True))
        for number, turn in enumerate(conversation.turns, 1):
            start = f"  start {turn.start}" if turn.start is not None else ""
            state = "" if turn.complete else "  (incomplete)"
            unpriced = len(turn.unpriced) + len(turn.not_priced_here)
            if unpriced:  # its cost is then a part: never read as all of it
                state += f"  ({unpriced} span(s) not priced, above)"
            lines.append(
                f"  turn {number:<3} trace {turn.trace_id}  {turn.root_name!r}  {money_text(turn.total_usd, 6)}"
                f"{start}{state}{also_named(turn)}"
            )
    return "\n".join(lines)


def render_conversations_json(
    reports: Sequence[TraceReport],
    conversations: Sequence[ConversationReport],
    shown: Sequence[ConversationReport],
    unnamed: Sequence[TraceReport],
    keys: Sequence[str],
    problems: Sequence[str],
    skipped_output: Sequence[str] = (),
) -> str:
    """``genai-cost report --by conversation --json``: the same top level as for traces (the
    totals of all ``reports``), then the conversations."""
    document = {
        **summarize(reports).as_dict(),
        "problems": list(problems),
        "skipped_output": list(skipped_output),
        "conversation_keys": list(keys),
        "conversations": len(conversations),
        "traces_without_conversation": [report.trace_id for report in unnamed],
        "without_conversation_usd": rounded_usd(sum((report.total_usd for report in unnamed), 0.0)),
        "per_conversation": spread.as_dict(rounded_usd) if (spread := conversation_spread(conversations)) else None,
        "shown": [conversation.as_dict() for conversation in shown],
    }
    return json.dumps(document, indent=2)
