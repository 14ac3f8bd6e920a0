"""What ``genai-cost pricing list`` and ``pricing tools`` print for the prices of a user's own
pricing file, as a new user runs them (a real subprocess): the same word for that origin in
both listings, and USD amounts in plain decimal notation (``0.00001``, not ``1e-05``)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

from test_cli import BIN

SOURCE = "source: ours, checked: 2026-01-01"
PRICES = (
    "providers:\n"
    "  - id: acme\n"
    "    models:\n"
    f"      - {{id: acme-1, prices: [{{input: 0.00005, output: 1234567.5, {SOURCE}}}]}}\n"
    "tools:\n"
    "  - {name: my_chars, per_call: 0.00005, per_unit: 0.00001, unit_attribute: my.chars.count, unit_name: character,"
    " " + SOURCE + "}\n"
)


def _run(*args: str, pricing_file: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {key: value for key, value in os.environ.items() if key != "GENAI_COST_PRICING_FILE"}
    if pricing_file is not None:
        env["GENAI_COST_PRICING_FILE"] = str(pricing_file)
    result = subprocess.run([BIN, *args], capture_output=True, text=True, timeout=120, check=False, env=env)
    assert result.returncode == 0, result.stderr
    # The only word on stderr: acme-1's input rate, tiny on purpose (to be shown in plain
    # decimal), is doubted as a price per token, and priced as written.
    said = [line for line in result.stderr.splitlines() if "prices[0].input: 5e-05 USD per million" not in line]
    assert said == []
    return result


def _prices(tmp_path: Path) -> Path:
    path = tmp_path / "my-prices.yaml"
    path.write_text(PRICES, encoding="utf-8")
    return path


def _row(out: str, first: str) -> list[str]:
    return next(line.split() for line in out.splitlines() if line.startswith(f"{first} "))


def test_pricing_list_and_tools_name_the_origin_of_a_user_files_price_alike(tmp_path: Path) -> None:
    """``pricing list`` showed ``user`` for an entry of the user's file, ``pricing tools``
    ``override`` for a tool of the same file: now ``user`` in both (the value ``--origin``
    selects); the ``--json`` ``layer`` stays ``override`` in both, as on spans
    (``gen_ai.cost.source = override``)."""
    prices = _prices(tmp_path)
    # the file given both ways a user gives one: the variable, and --pricing-file
    listed = _row(_run("pricing", "list", "--provider", "acme", pricing_file=prices).stdout, "acme/acme-1")
    tools = _row(_run("pricing", "tools", "--pricing-file", str(prices)).stdout, "my_chars")
    assert listed[2] == "user"
    assert tools[2] == listed[2]
    shipped = _row(_run("pricing", "tools").stdout, "openai.web_search")
    assert shipped[2] == "curated"
    # the word the text shows is the one --origin selects by
    selected = _run("pricing", "list", "--origin", listed[2], "--pricing-file", str(prices)).stdout
    assert _row(selected, "acme/acme-1")[2] == "user"

    rows = json.loads(_run("pricing", "tools", "--pricing-file", str(prices), "--json").stdout)
    assert [row["layer"] for row in rows if row["name"] == "my_chars"] == ["override"]
    entries = json.loads(_run("pricing", "list", "--provider", "acme", "--json", pricing_file=prices).stdout)
    assert [(row["origin"], row["layer"]) for row in entries] == [("user", "override")]


def test_pricing_tools_prints_per_unit_and_per_call_fees_in_plain_decimal(tmp_path: Path) -> None:
    prices = _prices(tmp_path)
    out = _run("pricing", "tools", "--pricing-file", str(prices)).stdout
    line = " ".join(_row(out, "my_chars"))
    assert "per call 0.00005 per unit 0.00001 x my.chars.count (character) checked 2026-01-01 ours" in line
    assert "e-" not in line
    # the shipped tools print as before
    search = " ".join(_row(out, "openai.web_search"))
    assert "per call 0.01 per unit - checked" in search
    # --json stays numeric
    rows = json.loads(_run("pricing", "tools", "--pricing-file", str(prices), "--json").stdout)
    mine = next(row for row in rows if row["name"] == "my_chars")
    assert (mine["per_call"], mine["per_unit"]) == (0.00005, 0.00001)


def test_pricing_list_prints_rates_in_plain_decimal(tmp_path: Path) -> None:
    prices = _prices(tmp_path)
    line = _row(_run("pricing", "list", "--provider", "acme", "--pricing-file", str(prices)).stdout, "acme/acme-1")
    assert line[3:] == ["in", "0.00005", "out", "1234567.5", "cached", "-"]
    rows = json.loads(_run("pricing", "list", "--provider", "acme", "--pricing-file", str(prices), "--json").stdout)
    assert (rows[0]["input"], rows[0]["output"]) == (0.00005, 1234567.5)
