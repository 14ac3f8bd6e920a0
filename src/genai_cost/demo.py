"""The ten-step research agent of the cost-tracking article, through the real
SDK, processor and roll-up.

Its figures are the article's: GPT-4o at $2.50 / $10.00 per million tokens,
38,800 input and 3,200 output tokens (LLM $0.129), two web searches at $0.005
and three page reads at $0.001 (tools $0.013), $0.142 in all.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, SynchronousMultiSpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from . import attributes as A
from .config import CostSettings, user_cache_dir
from .pricing.catalog import Catalog, default_pricing_dir
from .processor import CostSpanProcessor
from .rollup import TraceCostExporter


@dataclass(frozen=True)
class Step:
    purpose: str
    input_tokens: int
    output_tokens: int
    tool: str | None = None


#: The article's ten steps (``002_*``): context grows as history is resent.
RESEARCH_AGENT: tuple[Step, ...] = (
    Step("parse query", 500, 100),
    Step("plan research", 800, 300),
    Step("web search", 1200, 150, "web_search"),
    Step("read page 1", 2500, 200, "read_page"),
    Step("read page 2", 3800, 200, "read_page"),
    Step("summarize findings", 4500, 500),
    Step("fact-check search", 5200, 150, "web_search"),
    Step("read verification source", 6000, 200, "read_page"),
    Step("draft report", 6800, 1000),
    Step("final formatting", 7500, 400),
)

DEMO_PRICING = "examples/research-agent.yaml"


def otlp_exporter_from_env() -> SpanExporter | None:
    """An OTLP exporter when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or the traces
    variant) is set; the protocol follows ``OTEL_EXPORTER_OTLP_PROTOCOL``."""
    if not (os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        return None
    protocol = otlp_protocol_from_env()
    if protocol == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        return GrpcExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    return HttpExporter()


def otlp_protocol_from_env() -> str:
    """``grpc`` or ``http/protobuf``, as ``OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`` or
    ``OTEL_EXPORTER_OTLP_PROTOCOL`` say (``grpc`` when unset); ValueError, naming the
    variable, for any other value: a typo must not send by another protocol unsaid."""
    for variable in ("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL"):
        raw = os.environ.get(variable, "")
        if raw.strip():
            if raw.strip() not in ("grpc", "http/protobuf"):
                raise ValueError(
                    f"{variable}={raw!r}: expected grpc or http/protobuf"
                    " (the Python OTLP exporter does not send http/json)"
                )
            return raw.strip()
    return "grpc"


def otlp_endpoint_from_env() -> str | None:
    """Where :func:`otlp_exporter_from_env`'s exporter sends, as the user set it."""
    return os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")


class _Delivery(SpanExporter):
    """An exporter that remembers whether everything it was given was delivered: the batch
    processor drops export results, and a demo that says nothing when the collector is
    down leaves the user looking for a trace that never left."""

    def __init__(self, exporter: SpanExporter) -> None:
        self._exporter = exporter
        self.delivered = 0
        self.failed = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        result = self._exporter.export(spans)
        if result is SpanExportResult.SUCCESS:
            self.delivered += len(spans)
        else:
            self.failed = True
        return result

    def shutdown(self) -> None:
        self._exporter.shutdown()

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return self._exporter.force_flush(timeout_millis)


@dataclass(frozen=True)
class DemoRun:
    #: The spans as the exporters received them.
    spans: list[ReadableSpan]
    #: The OTLP endpoint the trace was also sent to (``OTEL_EXPORTER_OTLP_ENDPOINT``), if any.
    sent_to: str | None = None
    #: Whether sending it there failed (for some or all of its spans).
    send_failed: bool = False
    #: What the catalog left out of the pricing files (``Catalog.problems``: a file that
    #: holds nothing, a discount that applies nowhere), for the command to say.
    pricing_problems: tuple[str, ...] = ()
    #: Values of those files priced as written though almost surely a unit mistake.
    pricing_doubts: tuple[str, ...] = ()


def run_demo(extra_exporters: Sequence[SpanExporter] = (), pricing_files: Sequence[str] = ()) -> DemoRun:
    """Run the agent once."""
    settings = CostSettings.from_env()
    files = [str(default_pricing_dir() / DEMO_PRICING), *settings.pricing_files, *pricing_files]
    catalog = Catalog.load(files, cache_dir=user_cache_dir())
    memory = InMemorySpanExporter()
    fanout = SynchronousMultiSpanProcessor()  # type: ignore[no-untyped-call]
    fanout.add_span_processor(SimpleSpanProcessor(TraceCostExporter(memory, bands=settings.bands)))
    otlp_exporter = otlp_exporter_from_env()
    otlp = _Delivery(otlp_exporter) if otlp_exporter is not None else None
    for exporter in (*extra_exporters, *([otlp] if otlp is not None else [])):
        fanout.add_span_processor(BatchSpanProcessor(TraceCostExporter(exporter, bands=settings.bands)))
    provider = TracerProvider(resource=Resource.create({"service.name": "genai-cost-demo"}))
    provider.add_span_processor(CostSpanProcessor(fanout, catalog=catalog, settings=settings))
    tracer = provider.get_tracer("genai_cost.demo")
    try:
        with tracer.start_as_current_span(
            "invoke_agent research-agent",
            attributes={
                "gen_ai.operation.name": "invoke_agent",
                "gen_ai.agent.name": "research-agent",
                "gen_ai.provider.name": "openai",
            },
        ):
            for number, step in enumerate(RESEARCH_AGENT, start=1):
                with tracer.start_as_current_span(
                    "chat gpt-4o",
                    kind=SpanKind.CLIENT,
                    attributes={
                        "gen_ai.operation.name": "chat",
                        "gen_ai.provider.name": "openai",
                        "gen_ai.request.model": "gpt-4o",
                        "gen_ai.response.model": "gpt-4o-2024-08-06",
                        "gen_ai.usage.input_tokens": step.input_tokens,
                        "gen_ai.usage.output_tokens": step.output_tokens,
                        "demo.step": number,
                        "demo.purpose": step.purpose,
                    },
                ):
                    pass
                if step.tool is not None:
                    with tracer.start_as_current_span(
                        f"execute_tool {step.tool}",
                        attributes={
                            "gen_ai.operation.name": "execute_tool",
                            "gen_ai.tool.name": step.tool,
                            "demo.step": number,
                        },
                    ):
                        pass
    finally:
        flushed = provider.force_flush()
        provider.shutdown()
    spans = list(memory.get_finished_spans())
    if otlp is None:
        return DemoRun(spans, pricing_problems=catalog.problems, pricing_doubts=catalog.doubts)
    failed = otlp.failed or not flushed or otlp.delivered < len(spans)
    return DemoRun(spans, otlp_endpoint_from_env(), failed, catalog.problems)


def summarize(spans: Sequence[ReadableSpan]) -> dict[str, Any]:
    """The demo's result as data: one row per span, and the trace totals."""
    rows = []
    totals: dict[str, Any] = {}
    for span in sorted(spans, key=lambda s: s.start_time or 0):
        attributes = dict(span.attributes or {})
        if span.parent is None:
            totals = {k[len(A.TRACE_PREFIX) :]: v for k, v in attributes.items() if k.startswith(A.TRACE_PREFIX)}
            continue
        rows.append(
            {
                "step": attributes.get("demo.step"),
                "span": span.name,
                "category": attributes.get(A.COST_CATEGORY),
                "input_tokens": attributes.get("gen_ai.usage.input_tokens"),
                "output_tokens": attributes.get("gen_ai.usage.output_tokens"),
                "cost_usd": attributes.get(A.COST_TOTAL),
                "pricing_id": attributes.get(A.COST_PRICING_ID),
                "unpriced_reason": attributes.get(A.COST_UNPRICED_REASON),
            }
        )
    return {"spans": rows, "trace": totals}


def render(summary: dict[str, Any]) -> str:
    lines = [
        f"{'step':>4}  {'span':<26} {'category':<9} {'in':>6} {'out':>6} {'cost USD':>10}  priced by",
        "-" * 86,
    ]
    for row in summary["spans"]:
        cost = row["cost_usd"]
        cost_text = f"{cost:10.6f}" if isinstance(cost, float) else f"{'UNPRICED':>10}"
        lines.append(
            f"{row['step'] or '':>4}  {row['span']:<26} {row['category'] or '-':<9} "
            f"{row['input_tokens'] or '':>6} {row['output_tokens'] or '':>6} {cost_text}  "
            f"{row['pricing_id'] or row['unpriced_reason'] or ''}"
        )
    trace = summary["trace"]
    lines += [
        "-" * 86,
        "trace totals (gen_ai.trace.cost.* on the root span):",
        f"  LLM    ${trace.get('llm_usd', 0.0):.3f}  ({trace.get('llm_calls')} calls, "
        f"{trace.get('input_tokens')} input / {trace.get('output_tokens')} output tokens)",
        f"  tools  ${trace.get('tool_usd', 0.0):.3f}  ({trace.get('tool_calls')} calls)",
        f"  total  ${trace.get('total_usd', 0.0):.3f}  band {trace.get('band')}, "
        f"unpriced spans {trace.get('unpriced_spans')}",
    ]
    return "\n".join(lines)


def write_span_file(spans: Sequence[ReadableSpan], path: Path) -> None:
    """The spans as one OTLP JSON document, as the collector's ``file`` exporter writes
    them (ids in hex; protobuf's own JSON mapping would write base64), so that
    ``genai-cost report`` can be tried on the demo."""
    path.write_text(span_document(spans), encoding="utf-8")


def write_span_stream(spans: Sequence[ReadableSpan], stream: TextIO) -> None:
    """:func:`write_span_file` to a text stream (``demo --save -``, for ``report -``)."""
    stream.write(span_document(spans))


def span_document(spans: Sequence[ReadableSpan]) -> str:
    """The line :func:`write_span_file` writes."""
    from google.protobuf.json_format import MessageToDict
    from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans

    document = MessageToDict(encode_spans(spans))
    for resource in document.get("resourceSpans", []):
        for scope in resource.get("scopeSpans", []):
            for span in scope.get("spans", []):
                for key in ("traceId", "spanId", "parentSpanId"):
                    if span.get(key):
                        span[key] = base64.b64decode(span[key]).hex()
    return json.dumps(document) + "\n"


def demo_pricing_path() -> Path:
    return default_pricing_dir() / DEMO_PRICING
