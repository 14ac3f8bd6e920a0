"""Tier lending between the two imports, on the structured entries (catalog_import.lend_tiers).

The merge reads the other dataset's file back (read_import) and re-renders it, so what it
must keep is exact: a file read back renders to the same bytes, lending is idempotent and
replaceable, and the two imports give the same files in either order. The shipped files are
checked too: re-lending from the shipped litellm.yaml leaves genai-prices.yaml byte for byte.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genai_cost.catalog_import import (
    TIER_BORROWER,
    TIER_LENDER,
    ImportedModel,
    ImportFile,
    ImportResult,
    lend_tiers,
    read_import,
    write_import,
)
from genai_cost.pricing import default_pricing_dir

#: Checks the catalog's data and import tooling, which do not vary with the Python or the
#: dependency versions: left out of the supported-versions runs (tests/integration).
pytestmark = pytest.mark.catalog_data

IMPORTED = default_pricing_dir() / "imported"
CHECKED = dt.date(2026, 11, 22)

# ---------------------------------------------------------------- strategies
#
# Few distinct values, so that the two datasets often name the same model at the same base
# rates (and lending happens); among them numbers JSON writes with an exponent (5e-05), which a
# YAML 1.1 loader would read as text.

RATES = st.sampled_from([1, 2, 5e-05])
TIERS = st.sampled_from(["batch", "flex", "priority", "fast"])
# Text as JSON escapes it and YAML reads it back; YAML cannot read the surrogate pairs JSON
# writes for characters beyond U+FFFF (neither can the catalog loader, so no file has them).
TEXT = st.text(st.characters(max_codepoint=0xFFFF, exclude_categories=["Cs"]), max_size=12)


@st.composite
def periods(draw: st.DrawFn, source: str, lender: bool) -> dict[str, Any]:
    period: dict[str, Any] = {"input": draw(RATES), "output": draw(RATES)}
    if draw(st.integers(0, 3)) == 0:
        period["cache_read"] = draw(RATES)
    if draw(st.integers(0, 3)) == 0:
        period["long_context"] = [{"above_input_tokens": 200_000, "input": draw(RATES)}]
    if draw(st.integers(0, 7)) == 0:
        period["time_windows"] = [{"start": "00:00", "end": "08:00", "input": draw(RATES)}]
    if draw(st.integers(0, 3)) < (3 if lender else 1):
        period["service_tiers"] = draw(
            st.dictionaries(TIERS, st.fixed_dictionaries({"input": RATES, "output": RATES}), min_size=1, max_size=3)
        )
    if draw(st.integers(0, 7)) == 0:
        period["effective_from"] = "2026-01-05"
    period["source"] = source
    period["checked"] = CHECKED.isoformat()
    return period


@st.composite
def results(draw: st.DrawFn, dataset: str) -> ImportResult:
    version = "0.2.3" if dataset == TIER_BORROWER else "1.109.1"
    models = []
    for _ in range(draw(st.integers(0, 6))):
        name = draw(st.sampled_from(["m1", "M1", "m2", "acme/m1", "ünï-m3"]))
        # a LiteLLM source names its key (never a ';': the lent note ends the source)
        key = draw(TEXT.filter(lambda t: ";" not in t))
        source = f"genai-prices {version}; https://acme" if dataset == TIER_BORROWER else f"litellm {version}: {key}"
        models.append(
            ImportedModel(
                provider=draw(st.sampled_from(["acme", "x-ai"])),
                id=name,
                kind=draw(st.sampled_from(["chat", "embedding"])),
                periods=draw(st.lists(periods(source, dataset == TIER_LENDER), min_size=1, max_size=2)),
                exact=draw(st.lists(st.sampled_from(["m1", "acme/m1", "m2", "Acme/M2"]), max_size=2, unique=True)),
                prefix=draw(st.lists(TEXT, max_size=1)),
            )
        )
    result = ImportResult(dataset, version, CHECKED, models)
    result.provider_names = {"acme": draw(TEXT), "x-ai": "xAI"}
    # a header comment is raw text: YAML refuses control characters in it (so does the catalog)
    result.skipped.update({draw(st.text(st.characters(categories=("L", "N", "P", "Zs")), max_size=12)): 2})
    return result


def _render(file: ImportFile, models: list[ImportedModel]) -> str:
    return replace(file, models=models).render()


# ------------------------------------------------------------------ properties

MERGE = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@MERGE
@given(borrower=results(TIER_BORROWER), lender=results(TIER_LENDER), other=results(TIER_LENDER))
def test_lending_is_idempotent_and_replaceable(
    borrower: ImportResult, lender: ImportResult, other: ImportResult
) -> None:
    mine = borrower.to_file().models
    lent = lend_tiers(mine, lender.to_file().models)
    assert lend_tiers(lent, lender.to_file().models) == lent
    assert lend_tiers(lent, other.to_file().models) == lend_tiers(mine, other.to_file().models)
    assert lend_tiers(lent, []) == mine
    assert borrower.to_file().models == mine  # the inputs are left as they were


@MERGE
@given(borrower=results(TIER_BORROWER), lender=results(TIER_LENDER))
def test_lending_only_adds_tiers_of_the_lender(borrower: ImportResult, lender: ImportResult) -> None:
    mine = borrower.to_file().models
    lent = lend_tiers(mine, lender.to_file().models)
    lender_tiers = [p.get("service_tiers") for m in lender.models for p in m.periods]
    for before, after in zip(mine, lent, strict=True):
        assert replace(before, periods=[]) == replace(after, periods=[])
        for was, now in zip(before.periods, after.periods, strict=True):
            own = was.get("service_tiers") or {}
            assert {k: v for k, v in now.items() if k not in ("service_tiers", "source")} == {
                k: v for k, v in was.items() if k not in ("service_tiers", "source")
            }
            tiers = now.get("service_tiers") or {}
            assert {k: tiers[k] for k in own} == own  # a tier of its own is never replaced
            added = {k: v for k, v in tiers.items() if k not in own}
            if added:
                assert now["source"].startswith(was["source"] + "; ")
                assert any(t and all(t.get(k) == v for k, v in added.items()) for t in lender_tiers)
            else:
                assert now == was


@MERGE
@given(borrower=results(TIER_BORROWER), lender=results(TIER_LENDER))
def test_a_file_read_back_renders_to_the_same_bytes(borrower: ImportResult, lender: ImportResult) -> None:
    for file in (borrower.to_file(), lender.to_file()):
        text = file.render()
        assert read_import(text, file.dataset).render() == text
    file = borrower.to_file()
    text = _render(file, lend_tiers(file.models, lender.to_file().models))
    read = read_import(text, TIER_BORROWER)
    assert read.render() == text
    in_file_order = sorted(lend_tiers(file.models, lender.to_file().models), key=lambda m: (m.provider, m.id.lower()))
    assert read.models == in_file_order


@MERGE
@given(borrower=results(TIER_BORROWER), lender=results(TIER_LENDER), newer=results(TIER_LENDER))
def test_either_import_order_gives_the_same_files(
    borrower: ImportResult, lender: ImportResult, newer: ImportResult
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        orders = {"lender first": [lender, borrower], "borrower first": [borrower, lender]}
        orders["re-imported"] = [newer, borrower, lender, borrower, lender]
        files = {}
        for name, steps in orders.items():
            directory = Path(tmp) / name.replace(" ", "-")
            for result in steps:
                write_import(result, directory)
            files[name] = {p.name: p.read_bytes() for p in sorted(directory.iterdir())}
        assert files["lender first"] == files["borrower first"] == files["re-imported"]


# ------------------------------------------------------------------ examples


def _file(dataset: str, periods: list[dict[str, Any]], model_id: str = "m1") -> ImportFile:
    return ImportFile([], dataset, f"{dataset} 1", {}, [ImportedModel("acme", model_id, "chat", periods)])


def test_a_number_json_writes_with_an_exponent_reads_back_as_that_number() -> None:
    text = _file(TIER_LENDER, [{"input": 5e-05, "output": 1e-07, "source": "litellm 1: m1"}]).render()
    assert '"input": 5e-05' in text
    assert read_import(text, TIER_LENDER).models[0].periods[0]["input"] == 5e-05


def test_a_file_read_back_is_not_tidied_again() -> None:
    # _tidy keeps a cache-read rate equal to the input one while a long-context tier is still
    # there, then drops the tier (it changes no rate): tidying that a second time would drop
    # the cache-read rate too. A file read back keeps what was written.
    result = ImportResult(TIER_BORROWER, "1", CHECKED, [])
    result.models.append(
        ImportedModel(
            "acme",
            "m1",
            "chat",
            [{"input": 1, "cache_read": 1, "output": 2, "long_context": [{"above_input_tokens": 9, "input": 1}]}],
        )
    )
    text = result.render()
    assert '{"input": 1, "cache_read": 1, "output": 2}' in text
    assert read_import(text, TIER_BORROWER).render() == text


def test_lent_tiers_go_before_the_provenance_and_are_counted_in_the_header() -> None:
    lender = _file(TIER_LENDER, [{"input": 1, "output": 2, "service_tiers": {"flex": {"input": 0.5}}, "source": "x"}])
    lender.models[0].periods[0]["source"] = "litellm 1: acme/m1"
    own = {"input": 1, "output": 2, "service_tiers": {"batch": {"input": 0.5}}, "source": "g; u", "checked": "d"}
    borrower = _file(TIER_BORROWER, [own, {"input": 3, "output": 4, "source": "g", "checked": "d"}])
    lent = lend_tiers(borrower.models, lender.models)
    assert list(lent[0].periods[0]) == ["input", "output", "service_tiers", "source", "checked"]
    assert lent[0].periods[0]["service_tiers"] == {"batch": {"input": 0.5}, "flex": {"input": 0.5}}
    assert lent[0].periods[0]["source"] == "g; u; flex tier from litellm 1: acme/m1"
    assert lent[0].periods[1] == borrower.models[0].periods[1]  # other base rates: nothing lent
    text = _render(borrower, lent)
    assert text.startswith("# Service tiers taken from LiteLLM (same provider and name, same base rates): 1 price")
    assert lend_tiers(read_import(text, TIER_BORROWER).models, []) == borrower.models


def test_a_file_with_what_the_import_does_not_write_is_refused() -> None:
    text = _file(TIER_BORROWER, [{"input": 1, "output": 2}]).render()
    with pytest.raises(ValueError, match="notes"):
        read_import(text.replace("        prices:", "        notes: hand-edited\n        prices:"), TIER_BORROWER)
    with pytest.raises(ValueError, match="origin"):
        read_import(text, TIER_LENDER)
    with pytest.raises(ValueError, match="not a genai-prices import file"):
        read_import("providers: [{models: [{}]}]\n", TIER_BORROWER)


# ---------------------------------------------------------------- the shipped files


@pytest.fixture(scope="module")
def shipped() -> tuple[str, ImportFile, ImportFile]:
    text = (IMPORTED / f"{TIER_BORROWER}.yaml").read_text(encoding="utf-8")
    lender = read_import((IMPORTED / f"{TIER_LENDER}.yaml").read_text(encoding="utf-8"), TIER_LENDER)
    return text, read_import(text, TIER_BORROWER), lender


def test_the_shipped_files_read_back_to_the_same_bytes(shipped: tuple[str, ImportFile, ImportFile]) -> None:
    text, borrower, lender = shipped
    assert borrower.render() == text
    assert lender.render() == (IMPORTED / f"{TIER_LENDER}.yaml").read_text(encoding="utf-8")


def test_relending_from_the_shipped_litellm_file_changes_nothing(shipped: tuple[str, ImportFile, ImportFile]) -> None:
    text, borrower, lender = shipped
    assert _render(borrower, lend_tiers(borrower.models, lender.models)) == text
    unlent = lend_tiers(borrower.models, [])
    assert "tier from litellm" not in _render(borrower, unlent)
    assert _render(borrower, lend_tiers(unlent, lender.models)) == text


def test_a_hand_edited_file_of_the_other_dataset_stops_the_import_naming_it(tmp_path: Path) -> None:
    """The other dataset's file is read before either file is written: edited by hand, it
    stops the import with its path named, and both files stay as they were."""
    lender = ImportResult(TIER_LENDER, "1.109.1", CHECKED, [ImportedModel("acme", "m1", "chat", [_period()])])
    borrower = ImportResult(TIER_BORROWER, "0.2.3", CHECKED, [ImportedModel("acme", "m1", "chat", [_period()])])
    lender_path = write_import(lender, tmp_path)
    lender_path.write_text(lender_path.read_text(encoding="utf-8") + "providers: []\n", encoding="utf-8")
    edited = lender_path.read_bytes()
    with pytest.raises(ValueError, match=str(lender_path)):
        write_import(borrower, tmp_path)
    assert lender_path.read_bytes() == edited
    assert not (tmp_path / f"{TIER_BORROWER}.yaml").exists()


def _period() -> dict[str, Any]:
    return {"input": 1.0, "output": 2.0, "source": "test", "checked": CHECKED.isoformat()}
