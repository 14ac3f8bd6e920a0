"""``genai-cost report`` prints names a span's sender chose (models, tools, reasons' details):
control characters in them are written as escapes, so that no sender can clear the reader's
terminal or overwrite the totals line (``gpt-4o\\x1b[2J\\r$0.00 all fine``)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genai_cost.cli import main

_CONTROL = {chr(code) for code in (*range(0x20), *range(0x7F, 0xA0))} - {"\n"}


def _span_file(path: Path, model: str, tool: str, priced_by_genai_cost: bool) -> None:
    def attribute(key: str, value: object) -> dict[str, object]:
        kind = "intValue" if isinstance(value, int) else "stringValue"
        return {"key": key, "value": {kind: str(value) if kind == "intValue" else value}}

    chat = [
        attribute("gen_ai.operation.name", "chat"),
        attribute("gen_ai.provider.name", "openai"),
        attribute("gen_ai.request.model", model),
        attribute("gen_ai.usage.input_tokens", 500),
        attribute("gen_ai.usage.output_tokens", 100),
    ]
    if priced_by_genai_cost:
        chat += [
            attribute("gen_ai.cost.unpriced", "true"),
            attribute("gen_ai.cost.unpriced_reason", "unknown_model"),
            attribute("gen_ai.cost.unpriced_detail", f"no price for {model}"),
        ]
    tool_span = [attribute("gen_ai.operation.name", "execute_tool"), attribute("gen_ai.tool.name", tool)]
    spans = [
        {"traceId": "ab" * 16, "spanId": "01" * 8, "name": "agent", "attributes": []},
        {"traceId": "ab" * 16, "spanId": "02" * 8, "parentSpanId": "01" * 8, "name": "chat", "attributes": chat},
        {"traceId": "ab" * 16, "spanId": "03" * 8, "parentSpanId": "01" * 8, "name": "tool", "attributes": tool_span},
    ]
    path.write_text(json.dumps({"resourceSpans": [{"scopeSpans": [{"spans": spans}]}]}), encoding="utf-8")


def _printed(tmp_path: Path, model: str, tool: str, priced: bool, capsys: pytest.CaptureFixture[str]) -> str:
    path = tmp_path / "spans.json"
    _span_file(path, model, tool, priced)
    main(["report", str(path)])
    return capsys.readouterr().out


@pytest.mark.parametrize("priced", [True, False])
def test_an_escape_sequence_in_a_model_name_is_printed_as_text(tmp_path: Path, capsys, priced: bool) -> None:  # type: ignore[no-untyped-def]
    out = _printed(tmp_path, "gpt-4o\x1b[2J\x1b[31m\r$0.00 all fine", "web\x1b]0;pwned\x07search", priced, capsys)
    assert not set(out) & _CONTROL, repr(out)
    assert "gpt-4o\\x1b[2J\\x1b[31m\\r$0.00 all fine" in out


@settings(max_examples=60, deadline=None)
@given(model=st.text(min_size=1, max_size=30), tool=st.text(min_size=1, max_size=30), priced=st.booleans())
def test_no_sender_string_reaches_the_terminal_as_a_control_character(
    tmp_path_factory: pytest.TempPathFactory, model: str, tool: str, priced: bool
) -> None:
    import contextlib
    import io

    path = tmp_path_factory.mktemp("escapes") / "spans.json"
    _span_file(path, model, tool, priced)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(io.StringIO()):
        main(["report", str(path)])
    assert not set(out.getvalue()) & _CONTROL, repr(out.getvalue())
