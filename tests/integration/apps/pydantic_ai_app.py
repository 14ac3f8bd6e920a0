"""Pydantic AI agent runs against the fake OpenAI server, instrumented by Pydantic AI's
own OpenTelemetry support (Agent.instrument_all), exported by the SDK that
opentelemetry-instrument configured (with genai-cost). Two agent runs inside one
application span: each run has an aggregate `invoke_agent` span over a leaf `chat` span.
Prints the trace id (hex) on its last line."""

import os

from opentelemetry import trace
from pydantic_ai import Agent
from pydantic_ai.models.openai import OpenAIChatModel
from pydantic_ai.providers.openai import OpenAIProvider

Agent.instrument_all()
provider = OpenAIProvider(base_url=os.environ["FAKE_LLM_BASE_URL"] + "/v1", api_key="sk-test")
agent = Agent(OpenAIChatModel("gpt-4o", provider=provider), name="pydantic-agent")
mini = Agent(OpenAIChatModel("gpt-4o-mini", provider=provider), name="mini-agent")
tracer = trace.get_tracer("pydantic_ai_app")
with tracer.start_as_current_span("handle request") as root:
    agent.run_sync("Say hello")
    mini.run_sync("Say hello")
    print(format(root.get_span_context().trace_id, "032x"))
