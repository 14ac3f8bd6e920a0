"""The real ``boto3`` bedrock-runtime client (Converse API) against the fake server,
under opentelemetry-instrument. Prints the trace id (hex) on its last line."""

import os

import boto3
from botocore.config import Config
from opentelemetry import trace

client = boto3.client(
    "bedrock-runtime",
    region_name="us-east-1",
    endpoint_url=os.environ["FAKE_LLM_BASE_URL"],
    aws_access_key_id="AKIDTEST",
    aws_secret_access_key="secret",
    config=Config(retries={"max_attempts": 1}, connect_timeout=5, read_timeout=10),
)
tracer = trace.get_tracer("bedrock_app")
with tracer.start_as_current_span("handle request") as root:
    client.converse(
        modelId="anthropic.claude-3-5-haiku-20241022-v1:0",
        messages=[{"role": "user", "content": [{"text": "Say hello"}]}],
    )
    print(format(root.get_span_context().trace_id, "032x"))
