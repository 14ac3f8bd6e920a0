"""Spans agent frameworks really wrote (``tests/fixtures/frameworks/``, captured by running
them against ``fake_llm.py``), and what their calls cost by hand."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

TESTS = Path(__file__).parent.parent
FRAMEWORKS = TESTS / "fixtures" / "frameworks"
#: A user pricing file for the agents' own tool: get_weather at $0.002 a call.
AGENT_TOOLS = TESTS / "integration" / "apps" / "agent_tools.yaml"
#: The fake server's canned chat usage on gpt-4o: 1,000 in, 400 of them cached, 200 out.
GPT_4O_CALL = (600 * 2.50 + 400 * 1.25 + 200 * 10.00) / 1e6


def framework_spans(name: str) -> list[dict[str, Any]]:
    """The spans of ``fixtures/frameworks/<name>.json``."""
    return json.loads((FRAMEWORKS / f"{name}.json").read_text())["spans"]  # type: ignore[no-any-return]
