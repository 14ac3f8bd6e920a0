"""The real ``boto3`` bedrock-runtime client (Converse API) against the fake server,
under opentelemetry-instrument. Prints the trace id (hex) on its last line.

``BEDROCK_MODEL_ID`` picks the model (default: Claude 3.5 Haiku, in-region);
``APP_OPENLIT=1`` switches OpenLIT on, as its users do, in code; ``BEDROCK_STREAM=1``
calls ``converse_stream`` instead of ``converse`` and reads the whole stream."""

import os

import boto3
from botocore.config import Config
from opentelemetry import trace

if os.environ.get("APP_OPENLIT") == "1":
    import openlit  # instruments on init(), reusing the SDK provider opentelemetry-instrument set up

    # a local (empty) price list: by default OpenLIT downloads one from GitHub at start-up
    pricing = os.path.join(os.path.dirname(os.path.abspath(__file__)), "openlit_pricing.json")
    openlit.init(disable_metrics=True, capture_message_content=False, pricing_json=pricing)

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
    request = {
        "modelId": os.environ.get("BEDROCK_MODEL_ID", "anthropic.claude-3-5-haiku-20241022-v1:0"),
        "messages": [{"role": "user", "content": [{"text": "Say hello"}]}],
    }
    if os.environ.get("BEDROCK_STREAM") == "1":
        events = list(client.converse_stream(**request)["stream"])
        assert any("metadata" in event for event in events), events
    else:
        client.converse(**request)
    print(format(root.get_span_context().trace_id, "032x"))
