"""Capture span shapes from real instrumentations into ``tests/fixtures/spans/``,
and replay them through the real SDK with genai-cost.

Capturing runs an app of ``tests/integration/apps`` under ``opentelemetry-instrument``
with ``GENAI_COST_ENABLED=false`` (so the spans are exactly what the instrumentation
wrote), exports to rotel, and stores the received spans with their OTLP types kept
(``Int`` -> int, ``Double`` -> float). The JavaScript captures (Vercel AI SDK) run a
node script with an in-memory exporter instead. Regenerate with::

    .venv/bin/python -m support.capture            # from tests/, needs the tool venvs
    .venv/bin/python -m support.capture openai-official vercel-ai-sdk-6

The fixtures are then replayed by ``tests/integration/test_span_fixtures.py`` (fast,
no network, no venvs): the spans are re-created with the same tree, names, scopes
and attributes through a real ``TracerProvider`` whose pipeline is
``CostSpanProcessor(SimpleSpanProcessor(TraceCostExporter(InMemorySpanExporter())))``.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.trace import SpanKind, set_span_in_context

from .fake_llm import Usage
from .rotel import ReceivedSpan

TESTS = Path(__file__).resolve().parents[1]
FIXTURES = TESTS / "fixtures" / "spans"
APPS = TESTS / "integration" / "apps"

_SLICE_ITEM = re.compile(r"(Str|Int|Double|Bool)\((.*?)\)(?:, |$)")


def _value(type_: str, raw: str) -> object:
    if type_ == "Int":
        return int(raw)
    if type_ == "Double":
        return float(raw)
    if type_ == "Bool":
        return raw == "true"
    if type_ == "Slice":
        return [_value(t, r) for t, r in _SLICE_ITEM.findall(raw)]
    return raw


def received_to_json(spans: Iterable[ReceivedSpan]) -> list[dict[str, Any]]:
    out = []
    for span in spans:
        out.append(
            {
                "name": span.name,
                "trace_id": span.trace_id,
                "span_id": span.span_id,
                "parent_span_id": span.parent_id or None,
                "scope": span.scope,
                **({"scope_version": span.scope_version} if span.scope_version else {}),
                "kind": span.kind.replace("SPAN_KIND_", "") or "INTERNAL",
                "attributes": {k: _value(v.type, v.raw) for k, v in span.typed.items()},
            }
        )
    return out


# ---------------------------------------------------------------- replay


@dataclass
class Replayed:
    spans: list[ReadableSpan]
    #: fixture span id -> the replayed (exported, enriched) span
    by_fixture_id: dict[str, ReadableSpan] = field(default_factory=dict)


def replay(fixture_spans: Sequence[dict[str, Any]], provider: TracerProvider, exporter: Any) -> Replayed:
    """Re-create the fixture's spans (same tree, names, scopes, kinds, attributes)
    through ``provider``; children end before their parents, as in real life."""
    ids = {s["span_id"] for s in fixture_spans}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for span in fixture_spans:
        parent = span["parent_span_id"] if span["parent_span_id"] in ids else None
        children.setdefault(parent, []).append(span)
    names: dict[int, str] = {}

    def emit(span: dict[str, Any], context: Any) -> None:
        tracer = provider.get_tracer(span.get("scope") or "fixture", span.get("scope_version"))
        kind = getattr(SpanKind, span.get("kind") or "INTERNAL", SpanKind.INTERNAL)
        live = tracer.start_span(span["name"], context=context, kind=kind, attributes=span["attributes"])
        names[live.get_span_context().span_id] = span["span_id"]
        for child in children.get(span["span_id"], []):
            emit(child, set_span_in_context(live))
        live.end()

    for root in children.get(None, []):
        emit(root, None)
    return _replayed(provider, exporter, names)


def _replayed(provider: TracerProvider, exporter: Any, names: dict[int, str]) -> Replayed:
    """What the replay exported, each span found by its fixture id (``names``: replayed span
    id -> fixture span id)."""
    provider.force_flush()
    finished = list(exporter.get_finished_spans())
    result = Replayed(finished)
    for span in finished:
        result.by_fixture_id[names[span.context.span_id]] = span
    return result


def replay_in_time(fixture_spans: Sequence[dict[str, Any]], provider: TracerProvider, exporter: Any) -> Replayed:
    """:func:`replay` for fixtures that kept their times (``start_ns``, ``end_ns``): each span
    starts and ends when it did, in that order, so spans that overlap without being nested
    (two instrumentations' records of one call) overlap here too. A span whose parent is not
    in the fixture starts a trace of its own, as it did."""
    ids = {s["span_id"] for s in fixture_spans}
    events = sorted(
        [(s["start_ns"], 1, n) for n, s in enumerate(fixture_spans)]
        + [(s["end_ns"], 0, n) for n, s in enumerate(fixture_spans)]
    )
    base = 1_700_000_000_000_000_000
    live: dict[str, Any] = {}
    names: dict[int, str] = {}
    for at, starts, n in events:
        span = fixture_spans[n]
        if not starts:
            live[span["span_id"]].end(end_time=base + at)
            continue
        parent = span["parent_span_id"]
        context = set_span_in_context(live[parent]) if parent in ids else Context()
        tracer = provider.get_tracer(span.get("scope") or "fixture", span.get("scope_version"))
        kind = getattr(SpanKind, span.get("kind") or "INTERNAL", SpanKind.INTERNAL)
        started = tracer.start_span(
            span["name"], context=context, kind=kind, attributes=span["attributes"], start_time=base + at
        )
        live[span["span_id"]] = started
        names[started.get_span_context().span_id] = span["span_id"]
    return _replayed(provider, exporter, names)


def adk_1_sub_agent_spans() -> list[dict[str, Any]]:
    """Google ADK 1.x runs the tools and sub-agents a model call asked for under its
    call_llm: the captured spans of one call (google-adk-1.json), with a sub-agent
    (invoke_agent > call_llm > generate_content) under a tool under the outer call_llm.
    Span ids ``...a0`` to ``...a7``: a2 and a6 are the calls, a3 and a7 their thinner records."""
    by_name = {span["name"]: span for span in json.loads((FIXTURES / "google-adk-1.json").read_text())["spans"]}

    def copy_of(name: str, span_id: str, parent: str | None) -> dict[str, Any]:
        return {**copy.deepcopy(by_name[name]), "span_id": span_id, "parent_span_id": parent}

    tool = {
        "name": "execute_tool research_agent",
        "span_id": "00000000000000a4",
        "parent_span_id": "00000000000000a2",
        "scope": "gcp.vertex.agent",
        "scope_version": by_name["call_llm"]["scope_version"],
        "kind": "INTERNAL",
        "attributes": {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "research_agent"},
    }
    return [
        copy_of("handle request", "00000000000000a0", None),
        copy_of("invoke_agent adk_agent", "00000000000000a1", "00000000000000a0"),
        copy_of("call_llm", "00000000000000a2", "00000000000000a1"),
        copy_of("generate_content gemini-2.5-flash", "00000000000000a3", "00000000000000a2"),
        tool,
        copy_of("invoke_agent adk_agent", "00000000000000a5", "00000000000000a4"),
        copy_of("call_llm", "00000000000000a6", "00000000000000a5"),
        copy_of("generate_content gemini-2.5-flash", "00000000000000a7", "00000000000000a6"),
    ]


# ---------------------------------------------------------------- capture


@dataclass(frozen=True)
class Capture:
    name: str
    app: str
    venv: str
    pins: tuple[str, ...]
    env: tuple[tuple[str, str], ...] = ()
    expected_spans: int = 2
    what: str = ""
    #: Canned usage beside ``fake_llm.USAGE`` (requested model, usage): a shape the default
    #: answers do not show.
    usage: tuple[tuple[str, Usage], ...] = ()


def _python_captures() -> list[Capture]:
    # pins are imported from the tests that own them, so fixtures and tests agree
    sys.path.insert(0, str(TESTS / "integration"))
    import test_anthropic_bedrock_official as ab
    import test_google_adk as adk
    import test_google_genai as gg
    import test_langchain as lc
    import test_openai_agents as oa
    import test_openai_official as oo
    import test_pydantic_ai as pa
    import test_thirdparty_anthropic as ta
    import test_thirdparty_openai as tp

    tools = str(APPS / "agent_tools.yaml")
    return [
        Capture(
            "openai-official",
            "openai_app.py",
            "genai-openai",
            tuple(oo.PINS),
            (("APP_RESPONSES_API", "1"),),
            7,
            "official OpenAI instrumentation: chat, stream, embeddings, flex, priority, Responses",
        ),
        Capture(
            "anthropic-official",
            "anthropic_app.py",
            "genai-anthropic",
            tuple(ab.ANTHROPIC_PINS),
            (),
            7,
            "official Anthropic instrumentation over anthropic's own SDK spans; cache write + read",
        ),
        Capture(
            "bedrock-official",
            "bedrock_app.py",
            "genai-bedrock",
            tuple(ab.BEDROCK_PINS),
            (),
            2,
            "official Bedrock instrumentation, Converse",
        ),
        Capture(
            "openllmetry-openai",
            "openai_app.py",
            "openllmetry",
            tuple(tp.CASES["openllmetry"][0]),
            (("APP_RESPONSES_API", "1"),),
            7,
            "OpenLLMetry OpenAI instrumentation",
        ),
        Capture(
            "openinference-openai",
            "openai_app.py",
            "openinference",
            tuple(tp.CASES["openinference"][0]),
            (("APP_RESPONSES_API", "1"),),
            7,
            "OpenInference OpenAI instrumentation (llm.* keys)",
        ),
        Capture(
            "openlit-openai",
            "openai_app.py",
            "openlit",
            tuple(tp.CASES["openlit"][0]),
            (("APP_RESPONSES_API", "1"), ("APP_OPENLIT", "1")),
            7,
            "OpenLIT OpenAI instrumentation",
        ),
        Capture(
            "openllmetry-anthropic",
            "anthropic_app.py",
            "openllmetry-anthropic",
            tuple(ta.VENVS["openllmetry-anthropic"][0]),
            (("ANTHROPIC_OPEN_TELEMETRY", "false"),),
            4,
            "OpenLLMetry Anthropic instrumentation (anthropic's own spans off)",
        ),
        Capture(
            "openllmetry-anthropic-sdk-spans",
            "anthropic_app.py",
            "openllmetry-anthropic",
            tuple(ta.VENVS["openllmetry-anthropic"][0]),
            (("ANTHROPIC_OPEN_TELEMETRY", "true"),),
            7,
            "OpenLLMetry Anthropic instrumentation AND anthropic's own spans: siblings for the same request",
        ),
        Capture(
            "openinference-anthropic",
            "anthropic_app.py",
            "openinference-anthropic",
            tuple(ta.VENVS["openinference-anthropic"][0]),
            (("ANTHROPIC_OPEN_TELEMETRY", "false"),),
            4,
            "OpenInference Anthropic instrumentation (anthropic's own spans off)",
        ),
        Capture(
            "openinference-anthropic-server-tools",
            "anthropic_server_tools_app.py",
            "openinference-anthropic",
            tuple(ta.VENVS["openinference-anthropic"][0]),
            (("ANTHROPIC_OPEN_TELEMETRY", "false"),),
            3,
            "OpenInference Anthropic instrumentation: Claude Opus 4.6 in fast mode after three web searches"
            " (usage.speed and usage.server_tool_use, in output.value only), called and streamed",
        ),
        Capture(
            "openinference-anthropic-1h-cache",
            "anthropic_app.py",
            "openinference-anthropic",
            tuple(ta.VENVS["openinference-anthropic"][0]),
            (("ANTHROPIC_OPEN_TELEMETRY", "false"),),
            4,
            "OpenInference Anthropic instrumentation: cache writes with the 1-hour TTL (1,500 of 2,000),"
            " whose split is in output.value only (usage.cache_creation), called and streamed",
            (
                (
                    "claude-sonnet-4-20250514",
                    Usage(
                        "claude-sonnet-4-20250514",
                        100,
                        50,
                        cached_tokens=3000,
                        cache_write_tokens=500,
                        cache_write_1h_tokens=1500,
                    ),
                ),
            ),
        ),
        Capture(
            "openlit-anthropic",
            "anthropic_app.py",
            "openlit-anthropic",
            tuple(ta.VENVS["openlit-anthropic"][0]),
            (("APP_OPENLIT", "1"),),
            4,
            "OpenLIT Anthropic instrumentation: input reported WITHOUT cache tokens",
        ),
        Capture(
            "pydantic-ai",
            "pydantic_ai_app.py",
            "pydantic-ai",
            tuple(pa.PINS),
            (),
            5,
            "Pydantic AI agent runs: invoke_agent over chat, operation.cost",
        ),
        Capture(
            "openai-agents",
            "openai_agents_app.py",
            "genai-openai-agents",
            tuple(oa.PINS),
            (("OPENAI_API_KEY", ""), ("GENAI_COST_PRICING_FILE", tools)),
            6,
            "OpenAI Agents SDK: invoke_workflow > invoke_agent > chat x2 + execute_tool",
        ),
        Capture(
            "langchain-official",
            "langchain_app.py",
            "genai-langchain",
            tuple(lc.PINS),
            (),
            4,
            "official LangChain + OpenAI instrumentations",
        ),
        Capture(
            "google-genai-official",
            "google_genai_app.py",
            "genai-google",
            tuple(gg.PINS),
            (),
            3,
            "official google-genai instrumentation; thinking tokens",
        ),
        Capture(
            "google-adk",
            "google_adk_app.py",
            "google-adk",
            tuple(adk.PINS),
            (("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "google-genai"),),
            4,
            "Google ADK's own spans (scope gcp.vertex.agent)",
        ),
        Capture(
            "google-adk-1",
            "google_adk_1_app.py",
            "google-adk-1",
            tuple(adk.PINS_1),
            (("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "google-genai"),),
            5,
            "Google ADK 1.x's own spans: call_llm around its generate_content",
        ),
    ]


def _versions(venv: Path, pins: Sequence[str]) -> dict[str, str]:
    return dict(pin.split("==", 1) for pin in pins if "==" in pin)


def capture_python(capture: Capture) -> dict[str, Any]:
    from .apps import run_instrumented
    from .fake_llm import USAGE, FakeLLMServer
    from .rotel import RotelCollector
    from .venvs import ensure_venv

    venv = ensure_venv(capture.venv, capture.pins)
    with FakeLLMServer({**USAGE, **dict(capture.usage)}) as fake, RotelCollector() as collector:
        env = {"FAKE_LLM_BASE_URL": fake.base_url, "GENAI_COST_ENABLED": "false", **dict(capture.env)}
        trace_id = run_instrumented(venv, APPS / capture.app, collector, env=env)
        spans = collector.trace(trace_id, expected=capture.expected_spans)
    return {
        "source": {
            "what": capture.what,
            "captured": date.today().isoformat(),
            "how": f"tests/integration/apps/{capture.app} under opentelemetry-instrument, GENAI_COST_ENABLED=false, "
            "against tests/support/fake_llm.py; spans as received by rotel",
            "packages": _versions(venv, capture.pins),
        },
        "spans": received_to_json(spans),
    }


JS_CAPTURES = {
    "vercel-ai-sdk-7": (
        "node-aisdk",
        {
            "ai": "7.0.173",
            "@ai-sdk/otel": "1.0.173",
            "@ai-sdk/openai": "4.0.118",
            "@opentelemetry/sdk-trace-base": "2.12.1",
        },
        "Vercel AI SDK 7 with the @ai-sdk/otel integration (registerTelemetry): invoke_agent > step > chat; embeddings",
    ),
    "vercel-ai-sdk-6": (
        "node-aisdk6",
        {"ai": "6.0.322", "@ai-sdk/openai": "3.0.141", "@opentelemetry/sdk-trace-base": "2.12.1"},
        "Vercel AI SDK 6 built-in experimental_telemetry: ai.generateText > ai.generateText.doGenerate; "
        "ai.embedMany > ai.embedMany.doEmbed",
    ),
    "vercel-ai-sdk-5": (
        "node-aisdk5",
        {
            "ai": "5.0.277",
            "@ai-sdk/anthropic": "2.0.112",
            "@ai-sdk/google": "2.0.108",
            "@ai-sdk/amazon-bedrock": "3.0.137",
            "@ai-sdk/openai": "2.0.130",
            "@opentelemetry/sdk-trace-base": "2.12.1",
        },
        "Vercel AI SDK 5 (LanguageModelV2 providers) built-in experimental_telemetry: generateText (doGenerate) "
        "and streamText (doStream) with Anthropic (cache read + 5-minute and 1-hour writes), Google Gemini "
        "(thinking, cache read), Amazon Bedrock Converse (cache read + write) and OpenAI chat",
    ),
    "vercel-ai-sdk-6-providers": (
        "node-aisdk6-providers",
        {
            "ai": "6.0.322",
            "@ai-sdk/anthropic": "3.0.139",
            "@ai-sdk/google": "3.0.141",
            "@ai-sdk/amazon-bedrock": "4.0.186",
            "@opentelemetry/sdk-trace-base": "2.12.1",
        },
        "Vercel AI SDK 6 (LanguageModelV3 providers) built-in experimental_telemetry: the Anthropic, Google "
        "Gemini and Amazon Bedrock calls of vercel-ai-sdk-5, whose counts AI SDK 6 makes inclusive",
    ),
}

#: Canned usage a JS capture needs beside ``fake_llm.USAGE`` (by requested model).
JS_USAGE: dict[str, dict[str, Usage]] = {
    "vercel-ai-sdk-5": {
        # 1,500 of the 2,000 written tokens with the 1-hour TTL: the split is only in the
        # provider's raw usage, which AI SDK 5 keeps in ai.response.providerMetadata
        "claude-sonnet-4-0": Usage(
            "claude-sonnet-4-20250514", 100, 50, cached_tokens=1000, cache_write_tokens=500, cache_write_1h_tokens=1500
        ),
        # Converse: inputTokens is the uncached input (100), beside 3,000 read and 2,000 written
        "anthropic.claude-sonnet-4-20250514-v1:0": Usage(
            "anthropic.claude-sonnet-4-20250514-v1:0", 100, 50, cached_tokens=3000, cache_write_tokens=2000
        ),
    },
}
JS_USAGE["vercel-ai-sdk-6-providers"] = JS_USAGE["vercel-ai-sdk-5"]


def capture_js(name: str) -> dict[str, Any]:
    """Runs ``tests/support/js/<name>.mjs`` with node in ``.test-tools/<dir>`` (npm-installed pins)."""
    from .fake_llm import USAGE, FakeLLMServer
    from .venvs import TOOLS

    directory, packages, what = JS_CAPTURES[name]
    workdir = TOOLS / directory
    workdir.mkdir(parents=True, exist_ok=True)
    script = Path(__file__).resolve().parent / "js" / f"{name}.mjs"
    (workdir / "capture.mjs").write_text(script.read_text())
    if not (workdir / "node_modules").exists():
        (workdir / "package.json").write_text(json.dumps({"name": directory, "private": True, "type": "module"}))
        subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                *[f"{k}@{v}" for k, v in packages.items()],
                "@opentelemetry/api",
                "@opentelemetry/context-async-hooks",
            ],
            cwd=workdir,
            check=True,
            timeout=300,
        )
    with FakeLLMServer({**USAGE, **JS_USAGE.get(name, {})}) as fake:
        done = subprocess.run(
            ["node", "capture.mjs"],
            cwd=workdir,
            env={**os.environ, "FAKE_LLM_BASE_URL": fake.base_url},
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
    spans = json.loads(done.stdout)
    for span in spans:
        span.setdefault("kind", "INTERNAL")
        for key in ("server.port", "gen_ai.client.operation.duration"):
            span["attributes"].pop(key, None)
    return {
        "source": {
            "what": what,
            "captured": date.today().isoformat(),
            "how": f"node tests/support/js/{name}.mjs (in-memory exporter) against tests/support/fake_llm.py",
            "packages": packages,
        },
        "spans": spans,
    }


def main(argv: Sequence[str]) -> int:
    FIXTURES.mkdir(parents=True, exist_ok=True)
    python = {c.name: c for c in _python_captures()}
    wanted = list(argv) or [*python, *JS_CAPTURES]
    for name in wanted:
        data = capture_js(name) if name in JS_CAPTURES else capture_python(python[name])
        path = FIXTURES / f"{name}.json"
        path.write_text(json.dumps(data, indent=1, sort_keys=False) + "\n")
        print(f"{path.relative_to(TESTS.parent)}: {len(data['spans'])} spans")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
