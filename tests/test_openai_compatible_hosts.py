"""Calls made with the ``openai`` client to another provider's OpenAI-compatible API.

The OpenAI instrumentations name the client's provider, ``openai``, whatever host served the
call; the host is on the span (``server.address``: the official instrumentation and OpenLIT;
``gen_ai.openai.api_base``: OpenLLMetry). Read as OpenAI's, ``openai/gpt-oss-120b`` on Groq was
priced at the OpenAI entry's rates ($0.000075 instead of Groq's $0.00024, unflagged) and every
other Groq model was ``unknown_model``. A host the catalog's provider is known by now names
the provider. The attributes are those the instrumentations wrote (captured with openai 3.54.0
against Groq's path ``/openai/v1``: ``opentelemetry-instrumentation-genai-openai`` 1.3b0 and
OpenLLMetry's ``opentelemetry-instrumentation-openai`` 0.62.4).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from genai_cost.usage import read_usage
from support.frameworks import costed_pipeline

OFFICIAL = "opentelemetry.instrumentation.genai.openai"
OPENLLMETRY = "opentelemetry.instrumentation.openai.v1"

#: Groq's published rates per million tokens (the catalog's, from genai-prices 0.2.3):
#: gpt-oss-120b $0.15 / $0.075 cached / $0.60; llama-3.3-70b-versatile $0.59 / $0.79;
#: kimi-k2-instruct-0905 $1.00 / $0.50 cached / $3.00.
GPT_OSS_ON_GROQ = 600 * 0.15e-6 + 400 * 0.075e-6 + 200 * 0.60e-6
LLAMA_ON_GROQ = 1000 * 0.59e-6 + 200 * 0.79e-6
KIMI_ON_GROQ = 600 * 1.00e-6 + 400 * 0.50e-6 + 200 * 3.00e-6

OFFICIAL_GPT_OSS: dict[str, Any] = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "openai/gpt-oss-120b",
    "server.address": "api.groq.com",
    "gen_ai.response.finish_reasons": ("stop",),
    "gen_ai.response.model": "openai/gpt-oss-120b",
    "gen_ai.response.id": "chatcmpl-groq0178",
    "gen_ai.usage.input_tokens": 1000,
    "gen_ai.usage.output_tokens": 200,
    "gen_ai.usage.cache_read.input_tokens": 400,
    "gen_ai.usage.reasoning.output_tokens": 50,
    "openai.response.service_tier": "on_demand",
}
OFFICIAL_LLAMA: dict[str, Any] = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "llama-3.3-70b-versatile",
    "server.address": "api.groq.com",
    "gen_ai.response.model": "llama-3.3-70b-versatile",
    "gen_ai.response.id": "chatcmpl-groq0177",
    "gen_ai.usage.input_tokens": 1000,
    "gen_ai.usage.output_tokens": 200,
    "openai.response.service_tier": "on_demand",
}
OPENLLMETRY_KIMI: dict[str, Any] = {
    "gen_ai.operation.name": "chat",
    "gen_ai.provider.name": "openai",
    "gen_ai.request.model": "moonshotai/kimi-k2-instruct-0905",
    "gen_ai.is_streaming": False,
    "gen_ai.openai.api_base": "https://api.groq.com/openai/v1/",
    "gen_ai.response.model": "kimi-k2-instruct-0905",
    "gen_ai.response.id": "chatcmpl-groq0184",
    "openai.response.service_tier": "on_demand",
    "gen_ai.usage.total_tokens": 1200,
    "gen_ai.usage.output_tokens": 200,
    "gen_ai.usage.input_tokens": 1000,
    "gen_ai.usage.cache_read.input_tokens": 400,
}
OPENLLMETRY_GPT_OSS: dict[str, Any] = {
    **OPENLLMETRY_KIMI,
    "gen_ai.request.model": "openai/gpt-oss-120b",
    "gen_ai.response.model": "gpt-oss-120b",
    "gen_ai.usage.reasoning_tokens": 50,
}


def priced(scope: str, attributes: dict[str, Any]) -> dict[str, Any]:
    provider, memory, _ = costed_pipeline(tools_priced=False)
    provider.get_tracer(scope).start_span("chat", attributes=attributes).end()
    provider.shutdown()
    (span,) = memory.get_finished_spans()
    return dict(span.attributes or {})


@pytest.mark.parametrize(
    ("scope", "attributes", "usd", "entry"),
    [
        (OFFICIAL, OFFICIAL_GPT_OSS, GPT_OSS_ON_GROQ, "groq/openai/gpt-oss-120b"),
        (OPENLLMETRY, OPENLLMETRY_GPT_OSS, GPT_OSS_ON_GROQ, "groq/openai/gpt-oss-120b"),
        (OFFICIAL, OFFICIAL_LLAMA, LLAMA_ON_GROQ, "groq/llama-3.3-70b-versatile"),
        (OPENLLMETRY, OPENLLMETRY_KIMI, KIMI_ON_GROQ, "groq/moonshotai/kimi-k2-instruct"),
    ],
    ids=["official-gpt-oss", "openllmetry-gpt-oss", "official-llama", "openllmetry-kimi"],
)
def test_a_call_to_groqs_openai_compatible_api_is_priced_at_groqs_rates(
    scope: str, attributes: dict[str, Any], usd: float, entry: str
) -> None:
    cost = priced(scope, attributes)
    assert cost["gen_ai.cost.total_usd"] == pytest.approx(usd)
    assert cost["gen_ai.cost.pricing.id"] == entry


def test_a_call_to_openai_itself_or_an_unknown_host_is_read_as_openais() -> None:
    """Only a host the catalog knows names another provider: api.openai.com, a proxy or a
    gateway of the company's own are OpenAI's (as they were)."""
    for host in ("api.openai.com", "llm-gateway.internal", "localhost"):
        usage = read_usage({**OFFICIAL_LLAMA, "server.address": host}, OFFICIAL)
        assert usage.provider == "openai"
    assert read_usage({**OFFICIAL_GPT_OSS, "server.address": "API.GROQ.COM"}, OFFICIAL).provider == "groq"
    cost = priced(OFFICIAL, {**OFFICIAL_LLAMA, "server.address": "llm-gateway.internal"})
    assert cost["gen_ai.cost.unpriced_reason"] == "unknown_model"


def test_a_span_naming_its_provider_keeps_it_whatever_the_host() -> None:
    """The host overrides only the client's name (``openai``): a span that names the provider
    (OpenLIT's Groq instrumentation, ``groq``) keeps it."""
    usage = read_usage({**OFFICIAL_LLAMA, "gen_ai.provider.name": "groq", "server.address": "api.together.xyz"}, OFFICIAL)
    assert usage.provider == "groq"


@given(st.one_of(st.none(), st.text(max_size=60), st.integers(), st.binary(max_size=20)))
def test_any_host_value_is_read_without_raising(host: object) -> None:
    attributes = {**OPENLLMETRY_KIMI, "gen_ai.openai.api_base": host}
    if host is None:
        del attributes["gen_ai.openai.api_base"]
    usage = read_usage(attributes, OPENLLMETRY)
    assert usage.provider in ("openai", "groq")
