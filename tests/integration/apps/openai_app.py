"""An application using the real ``openai`` client, with no OpenTelemetry code
except one application span around the work (so the calls share a trace).

Run by the tests under ``opentelemetry-instrument`` against the fake server
(``FAKE_LLM_BASE_URL``). Prints the trace id (hex) on its last line.
"""

import os

import openai
from opentelemetry import trace

if os.environ.get("APP_OPENLIT") == "1":
    import openlit  # OpenLIT instruments on init(), and reuses the SDK provider opentelemetry-instrument set up

    # a local (empty) price list: by default OpenLIT downloads one from GitHub at start-up
    pricing = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openlit_pricing.json")
    openlit.init(disable_metrics=True, capture_message_content=False, pricing_json=pricing)

client = openai.OpenAI(base_url=os.environ["FAKE_LLM_BASE_URL"] + "/v1", api_key="sk-test", max_retries=0, timeout=10)
messages = [{"role": "user", "content": "Say hello"}]
tracer = trace.get_tracer("openai_app")

with tracer.start_as_current_span(
    "invoke_agent openai-app",
    attributes={
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": "openai-app",
        # what an agent framework writes: its children's usage, summed (must not count again)
        "gen_ai.usage.input_tokens": 15000,
        "gen_ai.usage.output_tokens": 2500,
        "gen_ai.request.model": "gpt-4o",
    },
) as root:
    # 1. chat, with cached input
    client.chat.completions.create(model="gpt-4o", messages=messages)
    # 2. streaming with usage in the last chunk
    stream = client.chat.completions.create(
        model="gpt-4o-mini", messages=messages, stream=True, stream_options={"include_usage": True}
    )
    for _chunk in stream:
        pass
    # 3. embeddings (the client asks for base64)
    client.embeddings.create(model="text-embedding-3-small", input=["first", "second"])
    # 4. reasoning model on the flex tier, cached input + reasoning tokens
    client.chat.completions.create(model="o4-mini", messages=messages, service_tier="flex")
    # 5. priority tier
    client.chat.completions.create(model="gpt-5-mini", messages=messages, service_tier="priority")
    if os.environ.get("APP_RESPONSES_API") == "1":
        # 6. Responses API
        client.responses.create(model="gpt-4o", input="Say hello")
    print(format(root.get_span_context().trace_id, "032x"))
