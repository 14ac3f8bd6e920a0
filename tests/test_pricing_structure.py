"""The pricing core's structure: what other modules need of the catalog goes
through its public, typed methods, never its internal tables (which change with
the compiled snapshot's format); and ``calc.cost_of``, split into small parts,
still gives the fast path's floats to the bit."""

from __future__ import annotations

import ast
import math
from pathlib import Path

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from genai_cost.pricing import Catalog, TokenUsage, calc
from genai_cost.pricing import catalog as catalog_module
from genai_cost.pricing._fastpath import fast_breakdown
from genai_cost.pricing.model import CostBreakdown, Rates
from support.pricing import synthetic

SRC = Path(__file__).resolve().parents[1] / "src" / "genai_cost"
CATALOG = SRC / "pricing" / "catalog.py"


def _trees(directory: Path) -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text(encoding="utf-8"))) for path in sorted(directory.rglob("*.py"))]


def test_no_module_outside_the_catalog_reads_its_raw_table() -> None:
    """``catalog._raw`` holds packed strings or model IR, by the snapshot's format:
    a module walking the entries uses ``Catalog.pricing_ids()``."""
    found = []
    for path, tree in _trees(SRC):
        if path == CATALOG:
            continue
        found.extend(
            f"{path.relative_to(SRC)}:{node.lineno}"
            for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and node.attr == "_raw"
        )
    assert found == []


def test_pricing_ids_are_every_entry_in_load_order() -> None:
    catalog = Catalog.load()
    ids = catalog.pricing_ids()
    assert type(ids) is tuple
    assert len(ids) == catalog.model_count > 1000
    assert ids == tuple(catalog.models)
    assert catalog.entry(ids[0]).pricing_id == ids[0]


def _bits(cost: CostBreakdown) -> tuple[object, ...]:
    """Every field, floats with their sign (``repr`` tells ``-0.0`` from ``0.0``)."""
    return tuple(repr(getattr(cost, name)) for name in CostBreakdown.__slots__)


_RATE = st.one_of(st.just(0.0), st.floats(min_value=1e-10, max_value=1e-3), st.sampled_from([2.5e-6, 1e-5, 3e-7]))
_COUNT = st.one_of(st.just(0), st.integers(0, 2_000), st.integers(0, 2_000_000))


@settings(max_examples=400, deadline=None)
@given(
    rate_in=_RATE,
    rate_out=_RATE,
    rate_read=st.one_of(st.none(), _RATE),
    rate_write=st.one_of(st.none(), _RATE),
    input_tokens=_COUNT,
    output_tokens=_COUNT,
    cached=st.floats(0.0, 1.0),
    written=st.floats(0.0, 1.0),
    check=st.booleans(),
)
def test_cost_of_gives_the_catalogs_fast_path_to_the_bit(
    rate_in: float,
    rate_out: float,
    rate_read: float | None,
    rate_write: float | None,
    input_tokens: int,
    output_tokens: int,
    cached: float,
    written: float,
    check: bool,
) -> None:
    """The catalog's fast path inlines ``calc.fast_cost``'s arithmetic rather than
    calling ``cost_of``: on plain text rates the two must stay the same floats,
    whatever shape ``cost_of`` takes."""
    rates = Rates(input=rate_in, cache_read=rate_read, cache_write=rate_write, output=rate_out)
    cache_read = int(input_tokens * cached)
    usage = TokenUsage(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        cache_read_tokens=cache_read,
        cache_write_tokens=int((input_tokens - cache_read) * written),
    )
    plan = catalog_module._fast_of(synthetic([rates]))[0]
    assert plan is not None
    fast = fast_breakdown(plan, usage, check)
    assume(fast is not None)  # (None: a total past the fast path's exact range)
    assert fast is not None
    cost = calc.cost_of(rates, usage, check=check, pricing_id="test/synthetic", effective_from="initial")
    assert math.isfinite(cost.total_usd)
    assert _bits(fast) == _bits(cost)
