"""Cost-correctness audit of 2026-11-23 (catalog 2026.11.22): the pricing findings, priced by
hand from the source rates (USD per million tokens); each test fails on the catalog as it was."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from genai_cost.pricing import Catalog, TokenUsage

M = 1_000_000
TODAY = dt.datetime(2026, 11, 23, 12, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def cost(catalog: Catalog, model: str, provider: str, *, batch: bool = False, **usage: int) -> float:
    return catalog.price(TokenUsage(**usage), model, provider, at=TODAY, batch=batch).total_usd


def test_gpt_5_5_pro_batch_keeps_the_long_context_cliff_at_half_price(catalog: Catalog) -> None:
    """Explicit batch rates (15 / 90) billed a 300k-token batch request flat; LiteLLM 1.109.1
    and the catalog's gpt-5.4-pro bill every token of it at half the long-context rates."""
    assert cost(catalog, "gpt-5.5-pro", "openai", batch=True, input_tokens=300_000, output_tokens=1_000) == (
        pytest.approx(300_000 * 30.00 / M + 1_000 * 135.00 / M)
    )
    below = cost(catalog, "gpt-5.5-pro", "openai", batch=True, input_tokens=200_000, output_tokens=1_000)
    assert below == pytest.approx(200_000 * 15.00 / M + 1_000 * 90.00 / M)
    assert cost(catalog, "gpt-5.4-pro", "openai", batch=True, input_tokens=300_000, output_tokens=1_000) == (
        pytest.approx(300_000 * 30.00 / M + 1_000 * 135.00 / M)
    )


@pytest.mark.parametrize(
    ("model", "rates"),
    [
        ("publishers/google/models/gemini-2.5-pro", (1.25, 10.00)),
        ("projects/my-project/locations/us-central1/publishers/google/models/gemini-2.5-pro", (1.25, 10.00)),
        ("projects/p/locations/global/publishers/anthropic/models/claude-sonnet-4-5@20250929", (3.00, 15.00)),
    ],
)
def test_a_vertex_model_named_by_its_full_resource_path_is_priced(
    catalog: Catalog, model: str, rates: tuple[float, float]
) -> None:
    """Vertex AI's SDKs and REST API name a model by its full resource path; only the part
    from ``publishers/`` was stripped, so the full path was an unknown model."""
    assert cost(catalog, model, "gcp.vertex_ai", input_tokens=1_000, output_tokens=100) == pytest.approx(
        1_000 * rates[0] / M + 100 * rates[1] / M
    )


_VERTEX_PREFIXES = ("vertex_ai/", "publishers/google/models/", "publishers/anthropic/models/")


@given(
    project=st.from_regex(r"[a-z][a-z0-9-]{0,20}", fullmatch=True),
    location=st.from_regex(r"[a-z0-9-]{1,20}", fullmatch=True),
    rest=st.sampled_from(
        ["vertex_ai/", "models/", "", "publishers/google/", "publishers/meta/models/", *_VERTEX_PREFIXES]
    )
    | st.text(st.characters(min_codepoint=33, max_codepoint=126), max_size=30),
    model=st.sampled_from(["gemini-2.5-pro", "claude-sonnet-4-5", ""]),
)
def test_a_resource_path_is_stripped_only_through_a_publishers_models_prefix(
    project: str, location: str, rest: str, model: str
) -> None:
    """After the project and location, only a publisher's models prefix is stripped (the
    provider's other prefixes, ``vertex_ai/``, are not part of a resource path); anything
    else is left whole, for the catalog to refuse or match as it would any name."""
    from genai_cost.pricing.catalog import _strip_prefixes

    name = f"projects/{project}/locations/{location}/{rest}{model}"
    stripped = _strip_prefixes(name, _VERTEX_PREFIXES)
    if rest.startswith(_VERTEX_PREFIXES[1:]):
        assert stripped == name.split("/models/", 1)[1]
    else:
        assert stripped == name
