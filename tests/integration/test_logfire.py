"""Logfire's own LLM instrumentations (``logfire.instrument_anthropic()`` /
``logfire.instrument_openai()``) with the real clients against the fake server, with
genai-cost in Logfire's pipeline, read back from rotel.

Logfire owns the tracer provider: the apps (``apps/logfire_*_app.py``) add genai-cost as
``logfire.configure(additional_span_processors=[CostSpanProcessor(BatchSpanProcessor(
TraceCostExporter(OTLPSpanExporter(...))))])`` and run with plain ``python``, not
``opentelemetry-instrument``.

A streamed call is recorded in two spans: the request span (``Message with ...`` /
``Chat Completion with ...``), which ends as the stream begins and has no usage, and a log
span (``logfire.span_type=log``), ``streaming response from ... took ...s``, with the usage
and ``operation.cost``. Logfire starts that log span under a context it re-attaches from a
carrier, so its parent, the app's ``handle request`` span, arrives marked remote although it
is open in the same process. genai-cost must price the log span as a local child: priced,
no trace totals of its own, counted in the root's.

Logfire writes ``operation.cost`` (from genai-prices, installed in the venv) on every span
with usage; under the default policy ``prefer`` genai-cost uses it (``gen_ai.cost.source=span``)
and keeps its own catalog figure in ``gen_ai.cost.catalog_usd``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from support.apps import clean_env, run_printing_trace_id
from support.fake_llm import FakeLLMServer
from support.rotel import ReceivedSpan, RotelCollector
from support.venvs import OTEL_PINS, require_venv

pytestmark = pytest.mark.integration

APPS = Path(__file__).resolve().parent / "apps"
M = 1e6
# logfire 5.3.0 and 5.4.0 need certifi>=2026.10.19, which the registry here does not serve yet.
# genai-prices is what Logfire computes operation.cost with (it is optional for Logfire).
PINS = [
    "logfire==5.2.0",
    "anthropic==2.12.0",
    "openai==3.54.0",
    "genai-prices==0.2.3",
    *OTEL_PINS,
]

# The usage the fake server sends (tests/support/fake_llm.py USAGE), priced by hand from the
# published rates (the same figures as `genai-cost price ... --json`).
# claude-sonnet-4: $3 in, $0.30 cache read, $3.75 cache write (5 min), $15 out
SONNET = (100 * 3.00 + 3000 * 0.30 + 2000 * 3.75 + 50 * 15.00) / M  # 0.00945
# Logfire 5.2.0 writes an inclusive gen_ai.usage.input_tokens (5100) but the cache split only
# inside gen_ai.usage.raw (JSON), which genai-cost reads: read as 5100 fresh input tokens, the
# catalog's figure would be (5100 * 3.00 + 50 * 15.00) / M = 0.01605.
HAIKU = (1200 * 0.80 + 80 * 4.00) / M  # 0.00128
# gpt-4o: $2.50 in, $1.25 cached, $10 out; gpt-4o-mini $0.15 / $0.60; text-embedding-3-small $0.02
GPT_4O = (600 * 2.50 + 400 * 1.25 + 200 * 10.00) / M  # 0.004
GPT_4O_MINI = (2000 * 0.15 + 300 * 0.60) / M  # 0.00048
EMBEDDING = 5000 * 0.02 / M  # 0.0001

STREAM_LOG = "streaming response from {request_data[model]!r} took {duration:.2f}s"


def run_app(venv: Path, script: Path, collector: RotelCollector, env: dict[str, str], timeout_s: float = 60) -> str:
    """Run ``script`` with the venv's plain python (Logfire configures the provider itself),
    exporting OTLP gRPC to ``collector``. Returns the trace id it prints on its last line."""
    command = [str(venv / "bin" / "python"), str(script)]
    return run_printing_trace_id(command, script, clean_env(APP_OTLP_ENDPOINT=collector.grpc_endpoint, **env), timeout_s)


def trace_totals(span: ReceivedSpan) -> list[str]:
    return [k for k in span.typed if k.startswith("gen_ai.trace.cost.")]


def check_stream_log_span(spans: list[ReceivedSpan], root: ReceivedSpan, expected: float, catalog: float) -> None:
    """The streamed call's usage is on Logfire's log span: priced as the call, a local child of
    the root (its exported parent), with no trace totals of its own."""
    (log,) = [s for s in spans if s.name == STREAM_LOG]
    attrs = log.typed
    assert attrs["logfire.span_type"].raw == "log"
    assert log.parent_id == root.span_id
    assert attrs["gen_ai.cost.total_usd"].type == "Double"
    assert attrs["gen_ai.cost.total_usd"].value == pytest.approx(expected, rel=1e-9)
    assert attrs["operation.cost"].value == pytest.approx(expected, rel=1e-9)
    assert attrs["gen_ai.cost.source"].raw == "span"
    assert attrs["gen_ai.cost.catalog_usd"].value == pytest.approx(catalog, rel=1e-9)
    assert "gen_ai.cost.unpriced" not in attrs
    # a local child: it is not a local root, so it carries none of the trace totals
    assert trace_totals(log) == [], trace_totals(log)


def check_request_spans(
    requests: list[ReceivedSpan], priced: dict[str, tuple[float, float]], streamed_model: str
) -> None:
    """Each request span with usage is priced from Logfire's operation.cost; the streamed call's
    request span (no usage) is neither priced nor flagged unpriced."""
    with_usage = [s for s in requests if "gen_ai.usage.input_tokens" in s.typed]
    (stream_request,) = [s for s in requests if "gen_ai.usage.input_tokens" not in s.typed]
    assert stream_request.typed["gen_ai.request.model"].raw == streamed_model
    assert "gen_ai.cost.unpriced" not in stream_request.typed, stream_request.typed.get("gen_ai.cost.unpriced_reason")
    assert "gen_ai.cost.total_usd" not in stream_request.typed
    assert trace_totals(stream_request) == []

    assert len(with_usage) == len(priced)
    for span in with_usage:
        key = span.typed["gen_ai.response.id"].raw
        expected, catalog = priced[key]
        attrs = span.typed
        assert attrs["gen_ai.cost.total_usd"].type == "Double", key
        assert attrs["gen_ai.cost.total_usd"].value == pytest.approx(expected, rel=1e-9), key
        assert attrs["operation.cost"].value == pytest.approx(expected, rel=1e-9), key
        assert attrs["gen_ai.cost.source"].raw == "span", key
        assert attrs["gen_ai.cost.catalog_usd"].value == pytest.approx(catalog, rel=1e-9), key
        assert "gen_ai.cost.unpriced" not in attrs, key
        assert trace_totals(span) == [], key


ANTHROPIC_CASES = [
    pytest.param(False, id="logfire-only"),
    # anthropic 2.x emits its own span per request unless ANTHROPIC_OPEN_TELEMETRY=false, through the
    # global provider (Logfire's). Logfire suppresses it for plain calls but not for the streamed one:
    # the SDK's `anthropic.messages.create` span, with the usage and the cache split, is under the
    # request span and ends long before Logfire's log span beside it records the same usage (no
    # response id in 5.2.0). They were priced twice (0.02963, 4 calls); the SDK's span, which ends
    # first, is now the call's record and the log its duplicate.
    pytest.param(True, id="logfire+sdk-spans"),
]


@pytest.mark.parametrize("sdk_spans", ANTHROPIC_CASES)
def test_logfire_anthropic(rotel_collector: RotelCollector, sdk_spans: bool) -> None:
    venv = require_venv("logfire", PINS)
    with FakeLLMServer() as fake:
        env = {"FAKE_LLM_BASE_URL": fake.base_url, "ANTHROPIC_OPEN_TELEMETRY": "true" if sdk_spans else "false"}
        trace_id = run_app(venv, APPS / "logfire_anthropic_app.py", rotel_collector, env)
        assert [(path, body.get("model"), bool(body.get("stream"))) for path, body in fake.requests] == [
            ("/v1/messages", "claude-sonnet-4-20250514", False),
            ("/v1/messages", "claude-3-5-haiku-20241022", False),
            ("/v1/messages", "claude-sonnet-4-20250514", True),
        ]
    spans = rotel_collector.trace(trace_id, expected=6 if sdk_spans else 5)
    (root,) = [s for s in spans if s.is_root]
    assert root.name == "handle request"
    sdk = [s for s in spans if s.scope == "com.anthropic.sdk.python"]
    assert len(sdk) == (1 if sdk_spans else 0)

    # the trace total first: that is what a lost or double-counted call breaks
    totals = root.typed
    assert totals["gen_ai.trace.cost.total_usd"].type == "Double"
    assert totals["gen_ai.trace.cost.total_usd"].value == pytest.approx(SONNET + HAIKU + SONNET, rel=1e-9)
    assert totals["gen_ai.trace.cost.llm_calls"].value == 3
    assert totals["gen_ai.trace.cost.priced_spans"].value == 3
    assert totals["gen_ai.trace.cost.unpriced_spans"].value == 0
    assert totals["gen_ai.trace.cost.complete"].type == "Bool"
    assert totals["gen_ai.trace.cost.complete"].value is True
    priced = [s for s in spans if "gen_ai.cost.total_usd" in s.typed]
    observed = Counter(round(s.typed["gen_ai.cost.total_usd"].value, 12) for s in priced)
    assert observed == Counter(round(c, 12) for c in (SONNET, HAIKU, SONNET))

    lf = [s for s in spans if s.scope == "logfire.anthropic"]
    assert all(s.scope_version == "5.2.0" for s in lf)
    if sdk_spans:
        (sdk_call,) = sdk
        (log,) = [s for s in spans if s.name == STREAM_LOG]
        assert sdk_call.typed["gen_ai.cost.total_usd"].value == pytest.approx(SONNET, rel=1e-9)
        assert sdk_call.typed["gen_ai.cost.source"].raw == "catalog"
        assert log.typed["gen_ai.cost.duplicate_of"].raw == sdk_call.span_id
        assert "gen_ai.cost.total_usd" not in log.typed and log.parent_id == root.span_id
    else:
        check_stream_log_span(spans, root, SONNET, SONNET)
    requests = [s for s in lf if s.name == "Message with {request_data[model]!r}"]
    assert len(requests) == 3
    check_request_spans(
        requests,
        {"msg_fake1": (SONNET, SONNET), "msg_fake2": (HAIKU, HAIKU)},
        "claude-sonnet-4-20250514",
    )
    if not sdk_spans:
        # Logfire 5.2.0 records the cache counts only in gen_ai.usage.raw, read from there
        assert totals["gen_ai.trace.cost.input_tokens"].value == 5100 + 1200 + 5100
        assert totals["gen_ai.trace.cost.output_tokens"].value == 50 + 80 + 50
        assert totals["gen_ai.trace.cost.cache_read_tokens"].value == 3000 + 3000
        assert totals["gen_ai.trace.cost.cache_write_tokens"].value == 2000 + 2000


def test_logfire_openai(rotel_collector: RotelCollector) -> None:
    venv = require_venv("logfire", PINS)
    with FakeLLMServer() as fake:
        trace_id = run_app(venv, APPS / "logfire_openai_app.py", rotel_collector, {"FAKE_LLM_BASE_URL": fake.base_url})
        assert [(path, body.get("model"), bool(body.get("stream"))) for path, body in fake.requests] == [
            ("/v1/chat/completions", "gpt-4o", False),
            ("/v1/chat/completions", "gpt-4o-mini", True),
            ("/v1/embeddings", "text-embedding-3-small", False),
            ("/v1/responses", "gpt-4o", False),
        ]
    spans = rotel_collector.trace(trace_id, expected=6)
    (root,) = [s for s in spans if s.is_root]
    assert root.name == "handle request"

    totals = root.typed
    assert totals["gen_ai.trace.cost.total_usd"].value == pytest.approx(
        GPT_4O + GPT_4O_MINI + EMBEDDING + GPT_4O, rel=1e-9
    )
    assert totals["gen_ai.trace.cost.embedding_usd"].value == pytest.approx(EMBEDDING, rel=1e-9)
    assert totals["gen_ai.trace.cost.llm_calls"].value == 3
    assert totals["gen_ai.trace.cost.priced_spans"].value == 4
    assert totals["gen_ai.trace.cost.unpriced_spans"].value == 0
    assert totals["gen_ai.trace.cost.complete"].value is True

    lf = [s for s in spans if s.scope == "logfire.openai"]
    assert len(lf) == 5
    assert all(s.scope_version == "5.2.0" for s in lf)
    check_stream_log_span(spans, root, GPT_4O_MINI, GPT_4O_MINI)
    requests = [s for s in lf if s.name != STREAM_LOG]
    # Logfire records no response id on the embeddings span: key it apart
    (embedding,) = [s for s in requests if s.name == "Embedding Creation with {request_data[model]!r}"]
    assert embedding.typed["gen_ai.cost.total_usd"].value == pytest.approx(EMBEDDING, rel=1e-9)
    assert embedding.typed["gen_ai.cost.category"].raw == "embedding"
    assert embedding.typed["gen_ai.cost.source"].raw == "span"
    check_request_spans(
        [s for s in requests if s is not embedding],
        {"chatcmpl-fake1": (GPT_4O, GPT_4O), "resp_fake4": (GPT_4O, GPT_4O)},
        "gpt-4o-mini",
    )


# Claude Opus 4.6 in fast mode (6x: $30 in, $150 out per million) after three web searches
# ($10 / 1,000): the fake server's claude-opus-4-6 (1,000 in, 100 out).
OPUS_FAST_SEARCHED = (1000 * 30.00 + 100 * 150.00) / M + 3 * 0.01
# What Logfire's own operation.cost (genai-prices 0.2.3) says: the searches, at standard speed.
OPUS_STANDARD_SEARCHED = (1000 * 5.00 + 100 * 25.00) / M + 3 * 0.01


def test_logfire_anthropic_fast_mode_and_web_searches_in_the_raw_usage(rotel_collector: RotelCollector) -> None:
    """Logfire writes Anthropic's usage object whole (``gen_ai.usage.raw``): its
    ``server_tool_use`` and ``speed`` are read there, on the call's span and on the streamed
    call's log span. Logfire's own ``operation.cost`` (genai-prices, at list price) misses
    fast mode: the catalog's price is the span's cost, the list price beside it."""
    venv = require_venv("logfire", PINS)
    with FakeLLMServer() as fake:
        env = {"FAKE_LLM_BASE_URL": fake.base_url, "ANTHROPIC_OPEN_TELEMETRY": "false"}
        trace_id = run_app(venv, APPS / "logfire_anthropic_server_tools_app.py", rotel_collector, env)
        assert len(fake.requests) == 2
    spans = rotel_collector.trace(trace_id, expected=4)
    calls = [s for s in spans if "gen_ai.cost.total_usd" in s.typed]
    assert len(calls) == 2, [s.name for s in spans]
    for call in calls:
        assert call.typed["operation.cost"].value == pytest.approx(OPUS_STANDARD_SEARCHED, rel=1e-9), call.name
        assert call.typed["gen_ai.cost.total_usd"].value == pytest.approx(OPUS_FAST_SEARCHED, rel=1e-9), call.name
        assert call.typed["gen_ai.cost.source"].value == "catalog"
        assert call.typed["gen_ai.cost.reported_usd"].value == pytest.approx(OPUS_STANDARD_SEARCHED, rel=1e-9)
        assert call.typed["gen_ai.cost.reported_diff_usd"].value == pytest.approx(
            OPUS_STANDARD_SEARCHED - OPUS_FAST_SEARCHED, rel=1e-9
        )
