"""The docs say what the code does: every option, attribute and link they name exists, and
everything the package reads or writes is documented. Drift here is how a user ends up setting
a variable nothing reads, or searching Jaeger for an attribute nothing writes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from genai_cost import attributes as A
from genai_cost.usage import KNOWN_KEYS

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [ROOT / "README.md", *DOCS]
SOURCES = sorted((ROOT / "src/genai_cost").rglob("*.py"))

_VARIABLE = re.compile(r"\bGENAI_COST_[A-Z0-9_]*[A-Z0-9]\b")


def _variables_in(text: str) -> set[str]:
    return set(_VARIABLE.findall(text))


def test_every_variable_the_package_reads_is_documented_and_every_documented_one_is_read():
    read = set().union(*(_variables_in(path.read_text()) for path in SOURCES))
    documented = _variables_in((ROOT / "docs/configuration.md").read_text())
    assert read, "no GENAI_COST_* variable found in src: the pattern is wrong"
    assert read - documented == set(), "read by the package, missing from docs/configuration.md"
    assert documented - read == set(), "in docs/configuration.md, read by nothing"


def _names(*, metrics: bool) -> dict[str, str]:
    """The span/trace attributes (or the metric names) the package emits, by constant name."""
    return {
        name: value
        for name, value in vars(A).items()
        if name.isupper() and isinstance(value, str) and value.startswith(("gen_ai.cost.", "gen_ai.trace.cost."))
        and value.endswith(".") is False and name.startswith(("METRIC_", "SPAN_METRIC_")) is metrics
    }


def test_every_attribute_the_package_writes_is_in_the_attribute_reference():
    reference = (ROOT / "docs/attributes.md").read_text()
    names = _names(metrics=False)
    assert len(names) > 20
    missing = {constant: value for constant, value in names.items() if f"`{value}`" not in reference}
    assert missing == {}, "written by the package, missing from docs/attributes.md"


def test_every_metric_the_package_or_the_collector_config_emits_is_in_the_alerting_guide():
    guide = (ROOT / "docs/alerting.md").read_text()
    names = _names(metrics=True)
    assert len(names) >= 9
    missing = {constant: value for constant, value in names.items() if f"`{value}`" not in guide}
    assert missing == {}, "emitted, missing from docs/alerting.md"


def test_every_cost_attribute_the_docs_name_is_one_the_package_writes():
    written = set(_names(metrics=False).values()) | set(_names(metrics=True).values())
    # Per-category totals are written as gen_ai.trace.cost.<category>_usd, from the category list.
    written |= {f"gen_ai.trace.cost.{category}_usd" for category in A.CATEGORIES}
    # Keys of other tools in the namespace that the package reads (LiteLLM's gen_ai.cost.total_cost).
    written |= {key for key in KNOWN_KEYS if key.startswith("gen_ai.cost.")}
    named: dict[str, set[str]] = {}
    for page in PAGES:
        for name in re.findall(r"`(gen_ai\.(?:trace\.)?cost\.[a-z0-9_.]*[a-z0-9])`", page.read_text()):
            named.setdefault(name, set()).add(page.name)
    unknown = {name: pages for name, pages in named.items() if name not in written}
    assert unknown == {}, "named in the docs, written by nothing"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_relative_links_resolve(page: Path):
    broken = []
    for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text()):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        path = target.split("#", 1)[0]
        if not (page.parent / path).exists():
            broken.append(target)
    assert broken == []


def _cells(row: str) -> int:
    """Cells of a table row; a | inside `code` or escaped as \\| does not split."""
    outside_code = re.sub(r"`[^`]*`", "", row.replace(r"\|", ""))
    return outside_code.strip().strip("|").count("|") + 1


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_tables_are_whole(page: Path):
    """A blank line inside a table ends it: the rows after render as a paragraph of pipes."""
    lines = page.read_text().splitlines()
    problems = []
    in_code = False
    index = 0
    while index < len(lines):
        line = lines[index]
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not line.startswith("|"):
            index += 1
            continue
        block = []
        while index < len(lines) and lines[index].startswith("|"):
            block.append((index + 1, lines[index]))
            index += 1
        first_line, header = block[0]
        if len(block) < 2 or not re.fullmatch(r"\|(\s*:?-+:?\s*\|)+", block[1][1].strip()):
            problems.append(f"line {first_line}: table rows without a header and separator row")
            continue
        width = _cells(header)
        problems += [f"line {number}: {_cells(row)} cells, header has {width}"
                     for number, row in block if _cells(row) != width]
    assert problems == []


def _blocks(language: str) -> list[tuple[str, str]]:
    found = []
    for page in PAGES:
        text = page.read_text()
        for match in re.finditer(rf"^```{language}\n(.*?)^```", text, re.M | re.S):
            found.append((f"{page.name}:{text[: match.start()].count(chr(10)) + 1}", match.group(1)))
    return found


_PRICING_KEYS = ("providers:", "tools:", "discounts:", "infrastructure:", "human_escalation:")
PRICING_EXAMPLES = [(where, body) for where, body in _blocks("yaml")
                    if any(line.startswith(_PRICING_KEYS) for line in body.splitlines())]
PYTHON_EXAMPLES = _blocks("python")


def test_the_docs_show_examples_of_both_kinds():
    assert len(PRICING_EXAMPLES) >= 4 and len(PYTHON_EXAMPLES) >= 6


@pytest.mark.parametrize(("where", "body"), PRICING_EXAMPLES, ids=[where for where, _ in PRICING_EXAMPLES])
def test_pricing_file_examples_are_valid_pricing_files(where: str, body: str):
    from genai_cost.pricing.files import parse_pricing_text

    parse_pricing_text(body, where)  # raises CatalogError naming the line and field


@pytest.mark.parametrize(("where", "body"), PYTHON_EXAMPLES, ids=[where for where, _ in PYTHON_EXAMPLES])
def test_python_examples_compile_and_import_what_exists(where: str, body: str):
    import importlib

    compile(body, where, "exec")
    for module, wrapped, names in re.findall(r"^from (genai_cost[\w.]*) import (?:\(([\w,\s]+)\)|([\w, ]+))", body, re.M):
        names = wrapped or names
        imported = importlib.import_module(module)
        for name in filter(None, (part.strip() for part in names.split(","))):
            assert hasattr(imported, name), f"{where}: {module} has no {name}"


#: What a snippet may take as the reader's own (their provider, their agent's steps);
#: anything else it uses must be imported or defined in it, so that it runs when pasted.
_THE_READERS_OWN = {"provider", "tracer", "exporter", "meter_provider", "plan", "run", "log"}


@pytest.mark.parametrize(("where", "body"), PYTHON_EXAMPLES, ids=[where for where, _ in PYTHON_EXAMPLES])
def test_python_examples_import_every_name_they_use(where: str, body: str):
    """docs/configuration.md's example used BatchSpanProcessor and OTLPSpanExporter
    without importing them: pasted, it raised NameError."""
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.exists():  # the runs on other Pythons and the oldest dependencies install no linter
        pytest.skip("ruff is not installed beside this interpreter (the main test run has it)")
    result = subprocess.run(
        [str(ruff), "check", "--isolated", "--select", "F821", "--output-format", "concise",
         "--stdin-filename", "snippet.py", "-"],
        input=body, capture_output=True, text=True, timeout=60,
    )
    undefined = set(re.findall(r"Undefined name `(\w+)`", result.stdout)) - _THE_READERS_OWN
    assert not undefined, f"{where}: uses {sorted(undefined)} without importing or defining them"


def test_the_catalog_size_the_pricing_page_states_is_the_shipped_one() -> None:
    from collections import Counter

    from genai_cost.pricing import Catalog

    text = (ROOT / "docs" / "pricing.md").read_text()
    found = re.search(
        r"the shipped catalog has \*\*([\d,]+)\*\* entries \(([\d,]+) curated, ([\d,]+) genai-prices,\s+"
        r"([\d,]+) LiteLLM; ([\d,]+) chat, ([\d,]+) embedding, ([\d,]+) completion\) across (\d+) providers",
        text,
    )
    assert found, "docs/pricing.md no longer states the catalog's size in the expected sentence"
    stated = [int(group.replace(",", "")) for group in found.groups()]
    models = Catalog.load().models.values()
    origins = Counter(entry.origin for entry in models)
    kinds = Counter(entry.kind for entry in models)
    providers = {entry.provider_id for entry in models}
    actual = [
        len(models),
        origins["curated"],
        origins["genai-prices"],
        origins["litellm"],
        kinds["chat"],
        kinds["embedding"],
        kinds["completion"],
        len(providers),
    ]
    assert stated == actual


def _documented_unpriced_reasons() -> set[str]:
    """The values docs/attributes.md lists for ``gen_ai.cost.unpriced_reason``: the `code`
    in its row's meaning cell outside parentheses (inside them, a reason is explained,
    naming other things: `error.type`, `OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT`)."""
    reference = (ROOT / "docs/attributes.md").read_text()
    rows = [line for line in reference.splitlines() if line.startswith(f"| `{A.COST_UNPRICED_REASON}` |")]
    assert len(rows) == 1, "docs/attributes.md no longer has one table row for the reason"
    meaning = rows[0].split("|")[2]
    depth, outside = 0, []
    for char in meaning:
        depth += (char == "(") - (char == ")")
        if depth == 0 and char != ")":
            outside.append(char)
    return set(re.findall(r"`([a-z_]+)`", "".join(outside)))


def test_the_documented_unpriced_reasons_are_those_the_package_writes():
    """``missing_duration`` and ``pricing_error`` were written on spans and documented nowhere."""
    documented = _documented_unpriced_reasons()
    assert len(documented) >= 10, documented
    assert documented - A.UNPRICED_REASONS == set(), "in docs/attributes.md, written by nothing"
    assert A.UNPRICED_REASONS - documented == set(), "written by the package, missing from docs/attributes.md"


def test_the_settling_listener_example_in_cost_layers_md_counts_spans_not_yet_exported():
    """The example a user copies: run as written, around a batch processor that would export
    in an hour, its snapshot still counts the call (it settles before reading)."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from genai_cost import SettlingListener
    from support.spans import chat_attributes

    text = (ROOT / "docs" / "cost-layers.md").read_text(encoding="utf-8")
    (code,) = [block for block in re.findall(r"```python\n(.*?)```", text, re.S) if "SpendByModel" in block]
    # As written, but exporting to memory, in an hour (the spend must not wait for it).
    code = code.replace("BatchSpanProcessor(TraceCostExporter(OTLPSpanExporter()))", "NEXT")
    assert "NEXT" in code
    namespace = {"NEXT": BatchSpanProcessor(InMemorySpanExporter(), schedule_delay_millis=3_600_000)}
    exec(code, namespace)  # noqa: S102 - the documented example itself
    assert isinstance(namespace["spend"], SettlingListener)
    provider = TracerProvider()
    provider.add_span_processor(namespace["processor"])
    attributes = chat_attributes("gpt-4o", "openai")
    with provider.get_tracer("docs").start_as_current_span("chat", attributes=attributes):
        pass
    assert namespace["spend"].snapshot() == {"gpt-4o": pytest.approx(1000 * 2.5e-6 + 100 * 10e-6)}
    provider.shutdown()


def test_the_report_json_example_has_the_keys_the_report_prints(tmp_path: Path):
    """viewing-cost.md's `report --json` example lists every key the command prints, at the
    top level and per trace (it lacked skipped_output)."""
    import json

    text = (ROOT / "docs" / "viewing-cost.md").read_text(encoding="utf-8")
    example = json.loads(text.split("`--json` prints the same figures:", 1)[1].split("```json", 1)[1].split("```", 1)[0])
    saved = tmp_path / "demo.json"
    cli = [sys.executable, "-m", "genai_cost"]
    subprocess.run([*cli, "demo", "--save", str(saved)], check=True, capture_output=True, timeout=120)
    printed = json.loads(subprocess.run([*cli, "report", str(saved), "--json"], check=True, capture_output=True,
                                        text=True, timeout=120).stdout)
    assert list(example) == list(printed)
    assert list(example["shown"][0]) == list(printed["shown"][0])
