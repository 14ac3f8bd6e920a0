"""The names genai-cost writes: span attributes, event names and metric names.

One place, so that the collector config, the alert rules, the dashboard and
the tests can be checked against exactly what the package emits.
"""

from __future__ import annotations

# ------------------------------------------------------------ per span
COST_TOTAL = "gen_ai.cost.total_usd"
COST_INPUT = "gen_ai.cost.input_usd"
COST_CACHE_READ = "gen_ai.cost.cache_read_usd"
COST_CACHE_WRITE = "gen_ai.cost.cache_write_usd"
COST_OUTPUT = "gen_ai.cost.output_usd"
COST_REQUEST = "gen_ai.cost.request_usd"
COST_CATEGORY = "gen_ai.cost.category"
COST_SOURCE = "gen_ai.cost.source"
COST_PRICING_ID = "gen_ai.cost.pricing.id"
COST_PRICING_VERSION = "gen_ai.cost.pricing.version"
COST_PRICING_EFFECTIVE = "gen_ai.cost.pricing.effective_from"
COST_ADJUSTMENTS = "gen_ai.cost.adjustments"
COST_UNPRICED = "gen_ai.cost.unpriced"
COST_UNPRICED_REASON = "gen_ai.cost.unpriced_reason"
COST_UNPRICED_DETAIL = "gen_ai.cost.unpriced_detail"
COST_REPORTED = "gen_ai.cost.reported_usd"
COST_CATALOG = "gen_ai.cost.catalog_usd"
COST_USAGE_CONVENTION = "gen_ai.cost.usage_convention"
COST_AFTER_ROOT = "gen_ai.cost.after_root"

#: Values of ``gen_ai.cost.source``.
SOURCE_CATALOG = "catalog"
SOURCE_OVERRIDE = "override"
SOURCE_SPAN = "span"

#: Values of ``gen_ai.cost.category``.
CATEGORY_LLM = "llm"
CATEGORY_EMBEDDING = "embedding"
CATEGORY_TOOL = "tool"
CATEGORY_RETRIEVAL = "retrieval"
CATEGORY_INFRA = "infra"
CATEGORY_HUMAN = "human"
CATEGORIES = (CATEGORY_LLM, CATEGORY_EMBEDDING, CATEGORY_TOOL, CATEGORY_RETRIEVAL, CATEGORY_INFRA, CATEGORY_HUMAN)

# ------------------------------------------------------------ per trace (on the local root span)
TRACE_PREFIX = "gen_ai.trace.cost."
TRACE_TOTAL = "gen_ai.trace.cost.total_usd"
TRACE_LLM_CALLS = "gen_ai.trace.cost.llm_calls"
TRACE_TOOL_CALLS = "gen_ai.trace.cost.tool_calls"
TRACE_INPUT_TOKENS = "gen_ai.trace.cost.input_tokens"
TRACE_OUTPUT_TOKENS = "gen_ai.trace.cost.output_tokens"
TRACE_CACHE_READ_TOKENS = "gen_ai.trace.cost.cache_read_tokens"
TRACE_CACHE_WRITE_TOKENS = "gen_ai.trace.cost.cache_write_tokens"
TRACE_UNPRICED_SPANS = "gen_ai.trace.cost.unpriced_spans"
TRACE_PRICED_SPANS = "gen_ai.trace.cost.priced_spans"
TRACE_BAND = "gen_ai.trace.cost.band"
TRACE_COMPLETE = "gen_ai.trace.cost.complete"
TRACE_OPEN_SPANS = "gen_ai.trace.cost.open_spans"


def trace_category_key(category: str) -> str:
    """``gen_ai.trace.cost.<category>_usd``"""
    return f"{TRACE_PREFIX}{category}_usd"


# ------------------------------------------------------------ metrics (OpenTelemetry names)
METER_NAME = "genai_cost"
#: Counter, USD; attributes: gen_ai.provider.name, gen_ai.request.model, gen_ai.operation.name, gen_ai.cost.category
METRIC_COST = "gen_ai.cost.usage"
#: Histogram, USD per trace (recorded when the local root passes the roll-up).
METRIC_TRACE_COST = "gen_ai.cost.trace"
#: Counter of spans that should have a cost and have none; attribute gen_ai.cost.unpriced_reason.
METRIC_UNPRICED = "gen_ai.cost.unpriced_spans"
#: Counter of budget limits crossed; attribute gen_ai.cost.budget.limit.
METRIC_BUDGET_EXCEEDED = "gen_ai.cost.budget.exceeded"

BUDGET_LIMIT_ATTR = "gen_ai.cost.budget.limit"
BUDGET_EVENT = "gen_ai.cost.budget_exceeded"
