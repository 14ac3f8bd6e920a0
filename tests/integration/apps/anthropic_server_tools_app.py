"""The real ``anthropic`` client against the fake server, under opentelemetry-instrument: one
call of Claude Opus 4.6 served in fast mode after three web searches run by the model, then the
same call streamed. Prints the trace id (hex) on its last line."""

import os

import anthropic
from opentelemetry import trace

client = anthropic.Anthropic(base_url=os.environ["FAKE_LLM_BASE_URL"], api_key="sk-ant-test", max_retries=0, timeout=10)
messages = [{"role": "user", "content": "What happened in the news today?"}]
tools = [{"type": "web_search_20250305", "name": "web_search", "max_uses": 5}]
tracer = trace.get_tracer("anthropic_server_tools_app")

with tracer.start_as_current_span(
    "invoke_agent news-agent",
    attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "news-agent"},
) as root:
    client.messages.create(model="claude-opus-4-6", max_tokens=100, messages=messages, tools=tools)
    with client.messages.stream(model="claude-opus-4-6", max_tokens=100, messages=messages, tools=tools) as stream:
        for _text in stream.text_stream:
            pass
    print(format(root.get_span_context().trace_id, "032x"))
