"""A misspelt OTEL_PYTHON_CONFIGURATOR is named, not left to a bare "not loaded" warning.

opentelemetry-instrument matches the variable against entry-point names exactly; genai-cost's
own configurator never runs when it does not match, so the hint comes from the
``opentelemetry_pre_instrument`` hook. These run the real command.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from genai_cost.configurator_name import CONFIGURATOR_NAME, misspelt_configurator
from test_configurator import console_spans, instrument

HINT = "genai-cost's is named genai_cost, with an underscore"


@pytest.mark.parametrize("value", ["genai-cost", "Genai_Cost", "genai_costs", "genai_cost "])
def test_a_misspelt_name_is_named_and_the_right_one_given(tmp_path: Path, value: str) -> None:
    # (quoted: a stray space made "genai_cost selects no configurator ... named genai_cost")
    result = instrument(tmp_path, OTEL_PYTHON_CONFIGURATOR=value)
    assert result.returncode == 0, result.stderr
    assert f"OTEL_PYTHON_CONFIGURATOR={value!r} selects no configurator, so nothing is priced" in result.stderr
    assert HINT in result.stderr
    assert not console_spans(result.stdout)  # indeed nothing was set up: the hint is not a false alarm


@pytest.mark.parametrize("value", [CONFIGURATOR_NAME, "sdk"])
def test_the_right_name_or_another_configurator_gets_no_hint(tmp_path: Path, value: str) -> None:
    result = instrument(tmp_path, OTEL_PYTHON_CONFIGURATOR=value)
    assert result.returncode == 0, result.stderr
    assert HINT not in result.stderr


@given(st.text(max_size=40))
def test_any_value_is_judged_without_raising_and_the_exact_name_never_flagged(value: str) -> None:
    flagged = misspelt_configurator(value)
    assert isinstance(flagged, bool)
    if value == CONFIGURATOR_NAME:
        assert not flagged


@given(st.sampled_from(["-", "_", ".", " "]), st.booleans())
def test_the_name_spelt_any_usual_way_is_flagged(separator: str, upper: bool) -> None:
    value = f"genai{separator}cost"
    value = value.upper() if upper else value
    assert misspelt_configurator(value) == (value != CONFIGURATOR_NAME)


def test_unset_is_not_flagged() -> None:
    assert not misspelt_configurator(None)
    assert not misspelt_configurator("azure_monitor")
