"""One model call, two records: the decisions behind docs/attributes.md ("One call, two
records"), for the live processor (:mod:`genai_cost.processor`) and ``genai-cost report``
(:mod:`genai_cost.report`), which applies them to span files offline.

Pure functions, no OpenTelemetry import (the report reads files without it).

:func:`adk_record` and the constants are the processor's own, imported by it. The
processor keeps inline copies of :func:`same_call_by_response_id`, :func:`twin_records`
and :func:`call_model` (in ``_call_records.CallRecords.first_record`` and ``_call_model``): they
run for every leaf call of the application, where a function call more is a cost. Both
sides are checked against each other by running the same spans through the processor and
through the report (tests/test_report_records.py).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple, Protocol

from .pricing.errors import PricingError

if TYPE_CHECKING:
    from .pricing.catalog import Catalog

#: Google ADK's tracer. ADK 1.x records each model call twice: ``call_llm`` (its whole
#: usage) around a ``generate_content`` span with input and output counts only.
ADK_SCOPE = "gcp.vertex.agent"
#: What :func:`adk_record` says a span is: ADK 1.x's thinner second record of a call, or
#: ADK's ``call_llm``, its record of one call.
ADK_PARTIAL, ADK_CALL = "partial", "call"
#: The end, for telling twins apart, of a call whose usage is also written on a log span
#: when its stream has been read (Logfire's OpenAI and Anthropic integrations): the call is
#: taken to last until its log comes.
UNTIL_ITS_LOG = 2**63


class ScopeVersion(Protocol):
    """An instrumentation scope, as far as :func:`adk_record` reads it (the SDK's
    ``InstrumentationScope``, or the report's version of a span's scope)."""

    @property
    def version(self) -> str | None: ...


def adk_record(name: object, scope: ScopeVersion | None, operation: str | None) -> str | None:
    """What a Google ADK inference span (scope :data:`ADK_SCOPE`) named ``name`` is:
    :data:`ADK_CALL` for ``call_llm``, ADK's record of one model call (its usage is that
    call's, never its children's), or :data:`ADK_PARTIAL` for the ``generate_content``
    span inside it in ADK 1.x (told apart by its scope version), which records the same
    call with no thinking and no cached tokens; ``None`` otherwise.

    (``scope`` is read only when needed: the processor passes the span's scope as it is.)"""
    if name == "call_llm":
        return ADK_CALL
    version = scope.version if scope is not None else None
    if operation == "generate_content" and version is not None and version.startswith("1."):
        return ADK_PARTIAL
    return None


class CallRecord(NamedTuple):
    """A leaf call's record as the two-records rules compare it: its span id, its
    instrumentation scope's name (``""`` for none) and when it started and ended (ns)."""

    span_id: str
    scope: str
    start: int
    end: int


def overlap(first: CallRecord, record: CallRecord) -> bool:
    """Whether the two records' time intervals overlap."""
    return first.start < record.end and record.start < first.end


def same_call_by_response_id(first: CallRecord, record: CallRecord) -> bool:
    """Whether ``record`` is a second record of the call ``first`` recorded, both carrying
    the same ``gen_ai.response.id``: yes, unless one instrumentation wrote both, one after
    the other (an OpenAI-compatible server that reuses its response ids: two calls)."""
    return first.scope != record.scope or overlap(first, record)


def twin_records(first: CallRecord, record: CallRecord) -> bool:
    """Whether ``record`` is a second record of the call ``first`` recorded, both siblings
    for the same model and the same input and output token counts (the rule for records
    with no response id): yes when *different* instrumentations wrote them and they overlap
    in time. (One instrumentation recording two identical calls side by side is two calls.)"""
    return first.scope != record.scope and overlap(first, record)


def call_model(catalog: Catalog, model: str | None, provider: str | None) -> str | None:
    """The model as the catalog knows it (its pricing id), as twins are compared: two
    records of one call may spell it differently (a framework the requested alias, the
    provider SDK the served snapshot: ``claude-sonnet-4-5`` and
    ``claude-sonnet-4-5-20250929``). The name as it is when the catalog does not know it."""
    if model is None:
        return None
    try:
        return catalog.resolve(model, provider).model.pricing_id
    except PricingError:
        return model


#: How many span ids ``gen_ai.cost.accounts_for`` names at most: a call span over thousands
#: of refused attempts (a retry loop gone wrong) must not carry a value of tens of kilobytes,
#: which a collector's message limit could drop with the batch. The rest are counted.
MAX_ACCOUNTED_IDS = 32


def accounts_for_value(span_ids: list[int]) -> str:
    """The value of ``gen_ai.cost.accounts_for`` for records of a call: their span ids (hex,
    comma-separated), the first :data:`MAX_ACCOUNTED_IDS`, then ``+N`` for the others."""
    named = ",".join(f"{span_id:016x}" for span_id in span_ids[:MAX_ACCOUNTED_IDS])
    more = len(span_ids) - MAX_ACCOUNTED_IDS
    return f"{named},+{more}" if more > 0 else named


def accounted_ids(value: str) -> tuple[list[str], int]:
    """The span ids (hex) a ``gen_ai.cost.accounts_for`` value names, and how many records it
    accounts for in all (with those past :data:`MAX_ACCOUNTED_IDS`, not named)."""
    ids: list[str] = []
    more = 0
    for part in value.split(","):
        part = part.strip().lower()
        if part.startswith("+") and part[1:].isdigit():
            more += int(part[1:])
        elif part:
            ids.append(part)
    return ids, len(ids) + more
