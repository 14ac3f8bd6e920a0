"""GENAI_COST_* settings: defaults, parsing, and bad values that never stop the app."""

from __future__ import annotations

import logging

import pytest

from genai_cost.config import DEFAULT_BANDS, CostSettings


def test_defaults():
    settings = CostSettings.from_env({})
    assert settings.enabled and settings.reported_cost == "prefer"
    assert settings.bands == DEFAULT_BANDS
    assert (settings.trace_idle_timeout_s, settings.max_traces) == (300.0, 10_000)
    assert settings.problems == ()


def test_values_are_read():
    settings = CostSettings.from_env(
        {
            "GENAI_COST_ENABLED": "off",
            "GENAI_COST_PRICING_FILE": "a.yaml:b.yaml",
            "GENAI_COST_REPORTED_COST": "Compare",
            "GENAI_COST_BANDS": "0.1, 1, 10",
            "GENAI_COST_TRACE_IDLE_TIMEOUT": "30",
            "GENAI_COST_MAX_TRACES": "500",
            "GENAI_COST_DEFERRED_PRICING": "false",
        }
    )
    assert not settings.deferred_pricing
    assert CostSettings().deferred_pricing
    assert not settings.enabled
    assert settings.pricing_files == ("a.yaml", "b.yaml")
    assert settings.reported_cost == "compare"
    assert settings.bands == (0.1, 1.0, 10.0)
    assert (settings.trace_idle_timeout_s, settings.max_traces) == (30.0, 500)


def test_bad_values_are_named_logged_and_replaced_by_defaults(caplog):
    with caplog.at_level(logging.ERROR, logger="genai_cost"):
        settings = CostSettings.from_env(
            {
                "GENAI_COST_ENABLED": "maybe",
                "GENAI_COST_REPORTED_COST": "trust-me",
                "GENAI_COST_BANDS": "1,0.5",
                "GENAI_COST_TRACE_IDLE_TIMEOUT": "soon",
                "GENAI_COST_MAX_TRACES": "inf",
            }
        )
    assert settings == CostSettings()
    names = ["GENAI_COST_ENABLED", "GENAI_COST_REPORTED_COST", "GENAI_COST_BANDS",
             "GENAI_COST_TRACE_IDLE_TIMEOUT", "GENAI_COST_MAX_TRACES"]
    for name in names:
        assert any(name in problem for problem in settings.problems), name
        assert name in caplog.text


def test_an_empty_variable_is_unset_for_every_option():
    """GENAI_COST_REPORTED_COST= (empty, as a compose file leaves it) was an error,
    where every other variable reads empty as unset."""
    names = ["GENAI_COST_ENABLED", "GENAI_COST_REPORTED_COST", "GENAI_COST_BANDS", "GENAI_COST_TRACE_IDLE_TIMEOUT",
             "GENAI_COST_MAX_TRACES", "GENAI_COST_DEFERRED_PRICING", "GENAI_COST_PRICING_FILE"]
    settings = CostSettings.from_env(dict.fromkeys(names, ""))
    assert settings == CostSettings()
    assert settings.problems == ()


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("GENAI_COST_BANDS", "nan"),  # was accepted: every root read band gt_nan
        ("GENAI_COST_BANDS", "0.1,inf"),
        ("GENAI_COST_BANDS", "0.1,nan"),
        ("GENAI_COST_MAX_TRACES", "2.5"),  # was cut to 2 without a word
    ],
)
def test_values_that_only_look_like_numbers_are_named_and_replaced(caplog, name, raw):
    with caplog.at_level(logging.ERROR, logger="genai_cost"):
        settings = CostSettings.from_env({name: raw})
    assert settings == CostSettings()
    assert any(name in problem for problem in settings.problems)
    assert name in caplog.text
