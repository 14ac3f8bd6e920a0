"""The real ``google-genai`` client (Gemini Developer API shape) against the fake
server, under opentelemetry-instrument with the official
opentelemetry-instrumentation-google-genai. Prints the trace id on its last line."""

import os

from google import genai
from google.genai import types
from opentelemetry import trace

client = genai.Client(
    api_key="test-key",
    http_options=types.HttpOptions(base_url=os.environ["FAKE_LLM_BASE_URL"], timeout=10_000),
)
tracer = trace.get_tracer("google_genai_app")
with tracer.start_as_current_span("handle request") as root:
    client.models.generate_content(model="gemini-2.5-flash", contents="Say hello")
    client.models.generate_content(model="gemini-2.5-pro", contents="Say hello")
    print(format(root.get_span_context().trace_id, "032x"))
