"""The real ``anthropic`` client against the fake server, under opentelemetry-instrument.
Prints the trace id (hex) on its last line."""

import os

import anthropic
from opentelemetry import trace

if os.environ.get("APP_OPENLIT") == "1":
    import openlit  # instruments on init(), reusing the SDK provider opentelemetry-instrument set up

    # a local (empty) price list: by default OpenLIT downloads one from GitHub at start-up
    pricing = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openlit_pricing.json")
    openlit.init(disable_metrics=True, capture_message_content=False, pricing_json=pricing)

client = anthropic.Anthropic(base_url=os.environ["FAKE_LLM_BASE_URL"], api_key="sk-ant-test", max_retries=0, timeout=10)
messages = [{"role": "user", "content": "Say hello"}]
tracer = trace.get_tracer("anthropic_app")

with tracer.start_as_current_span(
    "invoke_agent anthropic-app",
    attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "anthropic-app"},
) as root:
    # 1. cache write (5-minute) and cache read in one call
    client.messages.create(model="claude-sonnet-4-20250514", max_tokens=100, messages=messages)
    # 2. no cache
    client.messages.create(model="claude-3-5-haiku-20241022", max_tokens=100, messages=messages)
    # 3. the same cached call, streamed
    with client.messages.stream(model="claude-sonnet-4-20250514", max_tokens=100, messages=messages) as stream:
        for _text in stream.text_stream:
            pass
    print(format(root.get_span_context().trace_id, "032x"))
