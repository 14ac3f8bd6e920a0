"""An OpenAI Agents SDK agent with one function tool, against the fake server
(Responses API), under opentelemetry-instrument with the official
opentelemetry-instrumentation-genai-openai-agents and -openai instrumentations.
The agent calls the model, runs the tool, calls the model again.
Prints the trace id (hex) on its last line."""

import os

from agents import Agent, Runner, function_tool, set_default_openai_client
from agents.tracing.processors import default_exporter
from openai import AsyncOpenAI
from opentelemetry import trace

BASE = os.environ["FAKE_LLM_BASE_URL"]
# The SDK's own trace exporter posts to OpenAI's servers: keep it on loopback (and it has no key).
default_exporter().endpoint = BASE + "/v1/traces/ingest"
set_default_openai_client(AsyncOpenAI(base_url=BASE + "/v1", api_key="sk-test", max_retries=0), use_for_tracing=False)


@function_tool
def get_weather(city: str) -> str:
    """The weather in a city."""
    return f"sunny in {city}"


agent = Agent(name="weather-agent", instructions="Answer about the weather.", model="gpt-4o", tools=[get_weather])
tracer = trace.get_tracer("openai_agents_app")
with tracer.start_as_current_span("handle request") as root:
    Runner.run_sync(agent, "What is the weather in Paris?")
    print(format(root.get_span_context().trace_id, "032x"))
