"""The names genai-cost writes: span attributes, event names and metric names.

One place, so that the collector config, the alert rules, the dashboard and
the tests can be checked against exactly what the package emits.
"""

from __future__ import annotations

# Values of ``gen_ai.cost.unpriced_reason``: spelled once, in the pricing core, whose
# errors carry most of them (the core does not import this module).
from .pricing.errors import REASON_AMBIGUOUS_MODEL as REASON_AMBIGUOUS_MODEL
from .pricing.errors import REASON_COST_LAYER_FAILED as REASON_COST_LAYER_FAILED
from .pricing.errors import REASON_FAILED_CALL as REASON_FAILED_CALL
from .pricing.errors import REASON_INTERNAL_ERROR as REASON_INTERNAL_ERROR
from .pricing.errors import REASON_INVALID_COST as REASON_INVALID_COST
from .pricing.errors import REASON_INVALID_USAGE as REASON_INVALID_USAGE
from .pricing.errors import REASON_MISSING_DURATION as REASON_MISSING_DURATION
from .pricing.errors import REASON_MISSING_MODEL as REASON_MISSING_MODEL
from .pricing.errors import REASON_MISSING_RATE as REASON_MISSING_RATE
from .pricing.errors import REASON_MISSING_USAGE as REASON_MISSING_USAGE
from .pricing.errors import REASON_PRICING_ERROR as REASON_PRICING_ERROR
from .pricing.errors import REASON_UNKNOWN_MODEL as REASON_UNKNOWN_MODEL
from .pricing.errors import REASON_UNKNOWN_PROVIDER as REASON_UNKNOWN_PROVIDER
from .pricing.errors import REASON_UNKNOWN_TOOL as REASON_UNKNOWN_TOOL
from .pricing.errors import REASON_UNRECORDED_CALLS as REASON_UNRECORDED_CALLS
from .pricing.errors import UNPRICED_REASONS as UNPRICED_REASONS

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
#: ``prefix`` or ``pattern`` when the model name matched a catalog rule, not a name the entry
#: lists: a variant priced as the model it starts like. Absent for a listed name.
COST_PRICING_MATCH = "gen_ai.cost.pricing.match"
COST_ADJUSTMENTS = "gen_ai.cost.adjustments"
#: In ``gen_ai.cost.adjustments``: a chat call whose span counts input tokens and no output.
ADJUSTMENT_NO_OUTPUT = "no_output_tokens"
COST_UNPRICED = "gen_ai.cost.unpriced"
COST_UNPRICED_REASON = "gen_ai.cost.unpriced_reason"
COST_UNPRICED_DETAIL = "gen_ai.cost.unpriced_detail"
COST_REPORTED = "gen_ai.cost.reported_usd"
COST_CATALOG = "gen_ai.cost.catalog_usd"
#: Provider-reported cost minus catalog cost (USD), when a span carries both.
COST_REPORTED_DIFF = "gen_ai.cost.reported_diff_usd"
#: Web-search fees and duration-priced (self-hosted GPU-second) cost, when non-zero.
COST_SEARCH = "gen_ai.cost.search_usd"
COST_COMPUTE = "gen_ai.cost.compute_usd"
COST_USAGE_CONVENTION = "gen_ai.cost.usage_convention"
COST_AFTER_ROOT = "gen_ai.cost.after_root"
#: On a second record of a call already priced in this trace (same gen_ai.response.id):
#: the span id (hex) of the record that carries the cost.
COST_DUPLICATE_OF = "gen_ai.cost.duplicate_of"
#: On the span that stands for a model call some records of which were flagged unpriced as
#: they ended (a wrapper without usage that ended before the provider's span under it; a
#: request refused inside the call): their span ids (hex, comma-separated). Those spans,
#: handed on already, keep their flag; the trace's totals and a budget count the call once.
COST_ACCOUNTS_FOR = "gen_ai.cost.accounts_for"

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
#: The category of a span genai-cost failed on (``unpriced_reason=internal_error``):
#: what it is could not be read. Not one of CATEGORIES: it never carries a cost.
CATEGORY_UNKNOWN = "unknown"
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
#: The band of a trace with unpriced spans and nothing priced: its $0 is not a cheap trace.
TRACE_BAND_UNPRICED = "unpriced"
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
#: The pipeline's own health (CostMetrics.watch_processor / watch_rollup): what it caught and
#: logged rather than let reach the application, and traces whose roots' totals are incomplete.
#: Counter of failures caught inside genai-cost; attribute METRIC_ATTR_COMPONENT.
METRIC_INTERNAL_ERRORS = "gen_ai.cost.internal_errors"
#: Counter of traces the roll-up could not hold at ``max_traces`` (their roots' totals say
#: ``complete=false``); attribute METRIC_ATTR_ROLLUP_ACTION.
METRIC_ROLLUP_OVERFLOW = "gen_ai.cost.rollup.overflow"
#: Counter of traces let go before any local root of theirs passed (no root has their totals).
METRIC_ROLLUP_WITHOUT_ROOT = "gen_ai.cost.rollup.traces_without_root"
#: Counter of spans with a cost that passed after their local root (``gen_ai.cost.after_root``).
METRIC_ROLLUP_LATE_SPANS = "gen_ai.cost.rollup.late_spans"
#: Up-down counter (a level) of the traces the roll-up holds against ``max_traces``
#: (``TraceCostExporter.running_traces``): at the bound, new traces overflow.
METRIC_ROLLUP_OPEN_TRACES = "gen_ai.cost.rollup.open_traces"
#: Counter of spans started and not ended whose open count the processor forgot at its bound
#: (``ProcessorStats.open_counts_forgotten``: 100,000 open at once, spans never ended most
#: likely): a root of a trace still running among them may say ``complete=true``.
METRIC_OPEN_SPANS_FORGOTTEN = "gen_ai.cost.open_spans_forgotten"
#: Where an internal error was caught: one of COMPONENTS.
METRIC_ATTR_COMPONENT = "gen_ai.cost.component"
COMPONENT_PROCESSOR = "processor"
COMPONENT_LISTENER = "listener"
COMPONENT_ROLLUP = "rollup"
COMPONENT_COST_LAYER = "cost_layer"
COMPONENTS = (COMPONENT_PROCESSOR, COMPONENT_LISTENER, COMPONENT_COST_LAYER, COMPONENT_ROLLUP)
#: The gateway's own: a request it could not read because of its own error (``GatewayStats.
#: internal_errors``). Reported by a gateway only, on top of COMPONENTS.
COMPONENT_GATEWAY = "gateway"
#: What the roll-up did with a trace it had no room for: one of ROLLUP_ACTIONS.
METRIC_ATTR_ROLLUP_ACTION = "gen_ai.cost.rollup.action"
#: A running trace let go for a new one (it had been idle a tenth of the idle timeout).
ROLLUP_PUSHED_OUT = "pushed_out"
#: A new trace's spans in one export batch, rolled up within the batch only (per batch).
ROLLUP_TURNED_AWAY = "turned_away"
ROLLUP_ACTIONS = (ROLLUP_PUSHED_OUT, ROLLUP_TURNED_AWAY)

#: The gateway's transport counters (``GatewayStats``, also at ``GET /health``), reported by
#: ``genai-cost gateway`` when it records metrics (CostMetrics.watch_gateway): what became of the
#: requests and spans senders sent it. Attribute METRIC_ATTR_GATEWAY_OUTCOME; the outcomes are
#: the counters of ``/health``, not a partition (some count part of another: do not sum them).
#: Counter of requests; outcome one of GATEWAY_REQUEST_OUTCOMES.
METRIC_GATEWAY_REQUESTS = "gen_ai.cost.gateway.requests"
#: Counter of spans; outcome one of GATEWAY_SPAN_OUTCOMES.
METRIC_GATEWAY_SPANS = "gen_ai.cost.gateway.spans"
METRIC_ATTR_GATEWAY_OUTCOME = "gen_ai.cost.gateway.outcome"
#: Requests taken (``requests``); spans in them (``spans_received``), a retry's again. Not the
#: requests refused whole, nor the spans left out as malformed.
GATEWAY_RECEIVED = "received"
#: Requests refused whole, for any reason (``requests_refused``), ``busy`` ones included.
GATEWAY_REFUSED = "refused"
#: Of ``refused``, those told to retry: too many in flight, no turn in time, stopping (``requests_busy``).
GATEWAY_BUSY = "busy"
#: Requests taken whose spans the upstream did not take (``requests_not_forwarded``); those
#: spans, at each attempt (``spans_not_forwarded``): a span the upstream failed twice counts twice.
GATEWAY_NOT_FORWARDED = "not_forwarded"
#: Spans left out of a taken request as malformed (``spans_rejected``).
GATEWAY_REJECTED = "rejected"
#: Of ``not_forwarded`` spans, those the upstream refused for good (``spans_refused_upstream``):
#: their senders were told not to resend them, so they are lost.
GATEWAY_REFUSED_UPSTREAM = "refused_upstream"
#: Of ``not_forwarded`` spans, those kept for a retry and let go at the store's bound before it
#: came (``spans_forgotten``): lost, unless their senders still resend them.
GATEWAY_FORGOTTEN = "forgotten"
#: Spans received again after they had been forwarded, or twice in one request (``spans_resent``).
GATEWAY_RESENT = "resent"
GATEWAY_REQUEST_OUTCOMES = (GATEWAY_RECEIVED, GATEWAY_REFUSED, GATEWAY_BUSY, GATEWAY_NOT_FORWARDED)
GATEWAY_SPAN_OUTCOMES = (
    GATEWAY_RECEIVED,
    GATEWAY_REJECTED,
    GATEWAY_NOT_FORWARDED,
    GATEWAY_REFUSED_UPSTREAM,
    GATEWAY_FORGOTTEN,
    GATEWAY_RESENT,
)

BUDGET_LIMIT_ATTR = "gen_ai.cost.budget.limit"
BUDGET_EVENT = "gen_ai.cost.budget_exceeded"

# ------------------------------------------------------------ budgets (budget.py)
#: Event attributes of BUDGET_EVENT (BUDGET_LIMIT_ATTR names the limit, as on the metric):
BUDGET_LIMIT_VALUE_ATTR = "gen_ai.cost.budget.limit_value"
BUDGET_SPEND_ATTR = "gen_ai.cost.budget.spend"
#: Values of BUDGET_LIMIT_ATTR (also the GENAI_COST_BUDGET_* option they come from).
BUDGET_MAX_COST = "max_cost_usd"
BUDGET_MAX_LLM_CALLS = "max_llm_calls"
BUDGET_MAX_TOKENS_PER_CALL = "max_tokens_per_call"
BUDGET_LIMITS = (BUDGET_MAX_COST, BUDGET_MAX_LLM_CALLS, BUDGET_MAX_TOKENS_PER_CALL)

# ------------------------------------------------------------ cost layers (layers.py)
#: Written by the application: ``true`` on a span that hands the conversation to a person.
HUMAN_ESCALATION_ATTR = "gen_ai.escalation.human"
#: Or: a span event of this name (on any span) marks one hand-off to a person.
HUMAN_ESCALATION_EVENT = "gen_ai.escalation.human"
#: Escalations one span was charged for (written with its human cost).
COST_ESCALATIONS = "gen_ai.cost.escalations"

# ------------------------------------------------------------ metric units and buckets
METRIC_COST_UNIT = "USD"
METRIC_TRACE_COST_UNIT = "USD"
METRIC_UNPRICED_UNIT = "{span}"
METRIC_BUDGET_EXCEEDED_UNIT = "{limit}"
METRIC_INTERNAL_ERRORS_UNIT = "{error}"
METRIC_ROLLUP_OVERFLOW_UNIT = "{trace}"
METRIC_ROLLUP_WITHOUT_ROOT_UNIT = "{trace}"
METRIC_ROLLUP_LATE_SPANS_UNIT = "{span}"
METRIC_ROLLUP_OPEN_TRACES_UNIT = "{trace}"
METRIC_OPEN_SPANS_FORGOTTEN_UNIT = "{span}"
METRIC_GATEWAY_REQUESTS_UNIT = "{request}"
METRIC_GATEWAY_SPANS_UNIT = "{span}"
#: Metric attribute keys of METRIC_COST (values read from the span; absent ones are left out).
METRIC_ATTR_PROVIDER = "gen_ai.provider.name"
METRIC_ATTR_MODEL = "gen_ai.request.model"
METRIC_ATTR_OPERATION = "gen_ai.operation.name"
#: Bucket bounds (USD) of the per-trace cost histograms, in the package AND in the collector
#: config (so that both sources give the same ``le`` labels). None is an integer: Prometheus 3
#: rewrites ``le="1"`` to ``"1.0"``, which breaks rules written against one or the other.
TRACE_COST_BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    0.75,
    1.25,
    2.5,
    5.5,
    10.5,
)

# ------------------------------------------------------------ metrics derived in the collector
#: The collector's ``signaltometrics`` connector derives these from span attributes
#: (collector-config.yaml). Distinct names from the package's own metrics, so the two
#: sources never add up to double; the alert rules use one or the other per service.
SPAN_METRIC_COST = "gen_ai.cost.spans.usage"
SPAN_METRIC_TRACE_COST = "gen_ai.cost.spans.trace"
SPAN_METRIC_INFRA_COST = "gen_ai.cost.spans.infra"
SPAN_METRIC_UNPRICED = "gen_ai.cost.spans.unpriced"
SPAN_METRIC_BUDGET_EXCEEDED = "gen_ai.cost.spans.budget_exceeded"


#: Every ``gen_ai.cost.*`` key genai-cost writes on a span. Other tools write in the same
#: namespace (LiteLLM's OpenTelemetry callback: ``gen_ai.cost.total_cost``,
#: ``gen_ai.cost.input_cost``, ...): a span that carries only theirs was never seen by
#: genai-cost, and is read so (``genai-cost report``: ``NO COST ATTRIBUTES``, not $0).
SPAN_COST_KEYS = frozenset(
    value for name, value in dict(globals()).items() if name.startswith("COST_") and isinstance(value, str)
)
