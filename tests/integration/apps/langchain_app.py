"""LangChain (``langchain-openai``) against the fake OpenAI server, under
opentelemetry-instrument with the official LangChain and OpenAI instrumentations:
LangChain's chat span wraps the OpenAI client's chat span for the same call.
Prints the trace id (hex) on its last line."""

import os

from langchain_openai import ChatOpenAI, OpenAIEmbeddings
from opentelemetry import trace

BASE = os.environ["FAKE_LLM_BASE_URL"] + "/v1"
tracer = trace.get_tracer("langchain_app")
with tracer.start_as_current_span("handle request") as root:
    ChatOpenAI(model="gpt-4o", base_url=BASE, api_key="sk-test", max_retries=0).invoke("Say hello")
    ChatOpenAI(model="o4-mini", base_url=BASE, api_key="sk-test", max_retries=0, service_tier="flex").invoke("Hi")
    OpenAIEmbeddings(
        model="text-embedding-3-small",
        base_url=BASE,
        api_key="sk-test",
        max_retries=0,
        check_embedding_ctx_length=False,
    ).embed_documents(["first", "second"])
    print(format(root.get_span_context().trace_id, "032x"))
