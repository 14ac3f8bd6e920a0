"""Span attributes the tests build spans from."""

from __future__ import annotations

from typing import Any


def chat_attributes(model: str, provider: str, **extra: object) -> dict[str, Any]:
    """A chat call in the OpenTelemetry GenAI vocabulary, 1,000 input and 100 output tokens;
    ``extra`` adds or replaces attributes (``**{"gen_ai.response.id": "r"}``)."""
    return {
        "gen_ai.operation.name": "chat",
        "gen_ai.provider.name": provider,
        "gen_ai.request.model": model,
        "gen_ai.usage.input_tokens": 1000,
        "gen_ai.usage.output_tokens": 100,
        **extra,
    }
