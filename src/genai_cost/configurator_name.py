"""A hint when ``OTEL_PYTHON_CONFIGURATOR`` almost names genai-cost's configurator.

``opentelemetry-instrument`` loads only the configurator whose entry-point name equals the
variable exactly, so ``genai-cost`` (the package's name, and the command's) or ``Genai_Cost``
configures nothing: the application runs untraced and unpriced, and the only sign is a
warning that the configurator was "not loaded" which does not say why the name did not match.
genai-cost's configurator never runs then, so this check runs from the
``opentelemetry_pre_instrument`` hook, which ``opentelemetry-instrument`` calls whatever
configurator was chosen. It must never stop the application: it reads one variable and logs.
"""

from __future__ import annotations

import difflib
import logging
import os

#: The entry-point name of :class:`genai_cost.configurator.CostConfigurator` (pyproject.toml).
CONFIGURATOR_NAME = "genai_cost"

_log = logging.getLogger("genai_cost")


def misspelt_configurator(value: str | None) -> bool:
    """Whether ``value`` was meant to select genai-cost but will not: the right name up to
    case, spaces, hyphens or dots, or one typing slip away from it."""
    if value is None or value == CONFIGURATOR_NAME:
        return False
    folded = value.strip().lower().replace("-", "_").replace(".", "_").replace(" ", "_")
    return folded == CONFIGURATOR_NAME or bool(difflib.get_close_matches(folded, [CONFIGURATOR_NAME], 1, 0.85))


def warn_if_misspelt() -> None:
    """The ``opentelemetry_pre_instrument`` hook: say what the variable should be."""
    try:
        value = os.environ.get("OTEL_PYTHON_CONFIGURATOR")
        if misspelt_configurator(value):
            _log.warning(
                "genai-cost: OTEL_PYTHON_CONFIGURATOR=%r selects no configurator, so nothing is priced"
                " (nor set up by any configurator); genai-cost's is named %s, with an underscore and"
                " nothing around it",
                value,
                CONFIGURATOR_NAME,
            )
    except Exception:  # pragma: no cover - a hint must never stop the application
        return
