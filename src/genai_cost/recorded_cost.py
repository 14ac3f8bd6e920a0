"""Reading back the cost a span already carries: the ``gen_ai.cost.*`` attributes
genai-cost wrote on it in another process or an earlier run. No OpenTelemetry.

Its own module because it is the reverse of :mod:`genai_cost.pricer` (which writes
those attributes from usage) and is needed where nothing is priced: the roll-up of
spans priced elsewhere (a gateway, another service) and ``genai-cost report``, which
must read a recorded cost alike, or their totals disagree. Named for what it reads,
not :mod:`genai_cost.records`, which holds the rules for one call recorded twice.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from . import attributes as A
from .usage import usd_amount


@dataclass(frozen=True, slots=True)
class RecordedCost:
    """The cost genai-cost wrote on a span in another process (or run), as read back by
    the roll-up, the gateway and ``genai-cost report``, which must agree on it."""

    category: str
    #: ``None`` when the span is unpriced (then ``reason`` says why).
    total_usd: float | None
    reason: str | None = None
    detail: str = ""

    @property
    def priced(self) -> bool:
        return self.reason is None


#: The category of a recorded cost that names none (or not as text).
RECORDED_CATEGORY_OTHER = "other"
#: The reason of a span flagged unpriced that gives none (or not as text): not a value
#: genai-cost writes (``gen_ai.cost.unpriced_reason`` always comes with the flag).
RECORDED_REASON_UNKNOWN = "unknown"


def recorded_cost(attributes: Mapping[str, object]) -> RecordedCost | None:
    """What a span says it cost, read from the ``gen_ai.cost.*`` attributes, or ``None``
    when it carries neither a total nor an unpriced flag.

    A span that carries one of them is never dropped: a total that is no amount (text,
    NaN, negative) is unpriced (``invalid_cost``), never $0; an unpriced flag wins over a
    total written next to it (genai-cost never writes both); a missing or non-text
    category counts as ``other``."""
    raw_total = attributes.get(A.COST_TOTAL)
    flag = attributes.get(A.COST_UNPRICED)
    if raw_total is None and flag is None:
        return None
    category = attributes.get(A.COST_CATEGORY)
    if not isinstance(category, str) or not category:
        category = RECORDED_CATEGORY_OTHER
    if flag is None or flag is False:
        total = usd_amount(raw_total)
        if total is not None:
            return RecordedCost(category, total)
        if raw_total is not None:
            return RecordedCost(
                category, None, A.REASON_INVALID_COST, f"{A.COST_TOTAL} is not an amount: {raw_total!r}"
            )
    reason = attributes.get(A.COST_UNPRICED_REASON)
    detail = attributes.get(A.COST_UNPRICED_DETAIL)
    return RecordedCost(
        category,
        None,
        reason if isinstance(reason, str) and reason else RECORDED_REASON_UNKNOWN,
        detail if isinstance(detail, str) else "",
    )
