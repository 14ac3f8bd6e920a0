"""A Google ADK 1.x agent (one LLM turn) against the fake Gemini server
(GOOGLE_GEMINI_BASE_URL), under opentelemetry-instrument. ADK 1.x's synchronous
``Runner.run`` works on a thread of its own, which starts a trace of its own, so
this app runs the agent with ``run_async`` inside its request span. Prints the
trace id on its last line."""

import asyncio
import os

from google.adk.agents import LlmAgent
from google.adk.runners import InMemoryRunner
from google.genai import types
from opentelemetry import trace

os.environ["GOOGLE_GEMINI_BASE_URL"] = os.environ["FAKE_LLM_BASE_URL"]
os.environ["GOOGLE_API_KEY"] = "test-key"
os.environ["GOOGLE_GENAI_USE_VERTEXAI"] = "false"


async def main() -> None:
    agent = LlmAgent(name="adk_agent", model="gemini-2.5-flash", instruction="Answer briefly.")
    runner = InMemoryRunner(agent=agent, app_name="adk_app")
    session = await runner.session_service.create_session(app_name="adk_app", user_id="user")
    tracer = trace.get_tracer("google_adk_app")
    with tracer.start_as_current_span("handle request") as root:
        message = types.Content(role="user", parts=[types.Part(text="Say hello")])
        async for _event in runner.run_async(user_id="user", session_id=session.id, new_message=message):
            pass
        print(format(root.get_span_context().trace_id, "032x"))


asyncio.run(main())
