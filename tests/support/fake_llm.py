"""A local OpenAI-, Anthropic- and Bedrock-compatible HTTP server with canned usage.

The real client libraries (``openai``, ``anthropic``, ``boto3``) talk to it
over HTTP on 127.0.0.1, so the real instrumentations record the usage they
parse out of real-shaped responses. Usage is looked up by the *requested*
model in :data:`USAGE`; the response names the dated snapshot that was
"served" and echoes the requested service tier, as the real APIs do.

Endpoints: ``POST /v1/chat/completions`` (plain and SSE streaming with
``stream_options.include_usage``), ``POST /v1/embeddings`` (float and base64),
``POST /v1/responses``, ``POST /v1/messages`` (plain and SSE streaming),
``POST /model/{id}/converse`` and ``POST /model/{id}/converse-stream`` (an AWS event
stream, ``application/vnd.amazon.eventstream``). Every request is recorded in ``requests``.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

from .net import HOST


@dataclass(frozen=True)
class Usage:
    served_model: str
    input_tokens: int  # inclusive of cache reads and writes (the OpenAI convention)
    output_tokens: int  # inclusive of reasoning
    cached_tokens: int = 0
    reasoning_tokens: int = 0
    cache_write_tokens: int = 0  # Anthropic cache_creation_input_tokens (5-minute)
    cache_write_1h_tokens: int = 0
    web_searches: int = 0  # Anthropic usage.server_tool_use.web_search_requests
    speed: str | None = None  # Anthropic usage.speed ("fast": fast mode)


#: Canned usage by requested model. Tests compute the expected cost from these.
USAGE: dict[str, Usage] = {
    "gpt-4o": Usage("gpt-4o-2024-08-06", 1000, 200, cached_tokens=400),
    "gpt-4o-mini": Usage("gpt-4o-mini-2024-07-18", 2000, 300),
    "o4-mini": Usage("o4-mini-2025-04-16", 3000, 1500, cached_tokens=1000, reasoning_tokens=1000),
    "gpt-5-mini": Usage("gpt-5-mini-2025-08-07", 4000, 500, cached_tokens=2000, reasoning_tokens=200),
    "text-embedding-3-small": Usage("text-embedding-3-small", 5000, 0),
    # Anthropic: input_tokens here is the UNCACHED part, as the Messages API reports it.
    "claude-sonnet-4-20250514": Usage("claude-sonnet-4-20250514", 100, 50, cached_tokens=3000, cache_write_tokens=2000),
    "claude-3-5-haiku-20241022": Usage("claude-3-5-haiku-20241022", 1200, 80),
    # served in fast mode, after three web searches run by the model (server tools)
    "claude-opus-4-6": Usage("claude-opus-4-6", 1000, 100, web_searches=3, speed="fast"),
    # Gemini generateContent: output_tokens here INCLUDES thoughts (the API reports them apart)
    "gemini-2.5-flash": Usage("gemini-2.5-flash", 1000, 500, cached_tokens=400, reasoning_tokens=300),
    "gemini-2.5-pro": Usage("gemini-2.5-pro", 2000, 1000, reasoning_tokens=100),
    # Bedrock Converse
    "anthropic.claude-3-5-haiku-20241022-v1:0": Usage("anthropic.claude-3-5-haiku-20241022-v1:0", 1200, 80),
}


class FakeLLMServer:
    """Threaded HTTP server on a free loopback port; a context manager."""

    def __init__(self, usage: dict[str, Usage] | None = None, delay_s: float = 0.0) -> None:
        self.usage = dict(USAGE if usage is None else usage)
        self.delay_s = delay_s
        self.requests: list[tuple[str, dict[str, Any]]] = []
        server = self

        class Handler(_Handler):
            owner = server

        self._httpd = ThreadingHTTPServer((HOST, 0), Handler)
        self._httpd.daemon_threads = True
        self.port = int(self._httpd.server_address[1])
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="fake-llm", daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def start(self) -> FakeLLMServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _Handler(BaseHTTPRequestHandler):
    owner: FakeLLMServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - silence stderr
        pass

    # ------------------------------------------------------------ plumbing
    def _body(self) -> dict[str, Any]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b"{}"
        try:
            return json.loads(raw or b"{}")
        except ValueError:
            return {}

    def _json(self, payload: dict[str, Any], status: int = 200) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", "req_fake")
        self.send_header("request-id", "req_fake")
        self.end_headers()
        self.wfile.write(data)

    def _sse(self, events: list[tuple[str | None, dict[str, Any] | str]]) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        for event, data in events:
            chunk = ""
            if event:
                chunk += f"event: {event}\n"
            chunk += f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"
            self.wfile.write(chunk.encode())
            self.wfile.flush()
        self.close_connection = True

    def _usage_for(self, model: str) -> Usage | None:
        found = self.owner.usage.get(model)
        if found is None:
            self._json(
                {"error": {"message": f"fake server: no canned usage for {model!r}", "type": "invalid_request_error"}},
                404,
            )
        return found

    @property
    def _n(self) -> int:
        """This request's number: every response gets its own id, as real APIs do."""
        return len(self.owner.requests)

    def do_POST(self) -> None:  # noqa: N802
        body = self._body()
        path = self.path.split("?")[0]
        self.owner.requests.append((path, body))
        if self.owner.delay_s:
            time.sleep(self.owner.delay_s)
        if path.endswith("/chat/completions"):
            self._chat(body)
        elif path.endswith("/embeddings"):
            self._embeddings(body)
        elif path.endswith("/responses"):
            self._responses(body)
        elif path.endswith("/messages"):
            self._messages(body)
        elif path.endswith(":generateContent"):
            self._gemini(path.rsplit("/", 1)[-1][: -len(":generateContent")])
        elif path.startswith("/model/") and path.endswith("/converse"):
            self._converse(unquote(path[len("/model/") : -len("/converse")]))
        elif path.startswith("/model/") and path.endswith("/converse-stream"):
            self._converse_stream(unquote(path[len("/model/") : -len("/converse-stream")]))
        else:
            self._json({"error": {"message": f"fake server: unknown path {path}"}}, 404)

    # ------------------------------------------------------------ OpenAI
    @staticmethod
    def _openai_usage(u: Usage) -> dict[str, Any]:
        return {
            "prompt_tokens": u.input_tokens,
            "completion_tokens": u.output_tokens,
            "total_tokens": u.input_tokens + u.output_tokens,
            "prompt_tokens_details": {"cached_tokens": u.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": u.reasoning_tokens,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def _chat(self, body: dict[str, Any]) -> None:
        u = self._usage_for(str(body.get("model")))
        if u is None:
            return
        tier = body.get("service_tier") or "default"
        if tier == "auto":
            tier = "default"
        created = int(time.time())
        if body.get("stream"):
            base = {
                "id": f"chatcmpl-fake{self._n}",
                "object": "chat.completion.chunk",
                "created": created,
                "model": u.served_model,
                "service_tier": tier,
                "system_fingerprint": "fp_fake",
            }
            events: list[tuple[str | None, dict[str, Any] | str]] = [
                (
                    None,
                    {
                        **base,
                        "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
                    },
                ),
                (None, {**base, "choices": [{"index": 0, "delta": {"content": "Hello"}, "finish_reason": None}]}),
                (None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}),
            ]
            if (body.get("stream_options") or {}).get("include_usage"):
                events.append((None, {**base, "choices": [], "usage": self._openai_usage(u)}))
            events.append((None, "[DONE]"))
            self._sse(events)
            return
        self._json(
            {
                "id": f"chatcmpl-fake{self._n}",
                "object": "chat.completion",
                "created": created,
                "model": u.served_model,
                "service_tier": tier,
                "system_fingerprint": "fp_fake",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": "Hello", "refusal": None},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": self._openai_usage(u),
            }
        )

    def _embeddings(self, body: dict[str, Any]) -> None:
        u = self._usage_for(str(body.get("model")))
        if u is None:
            return
        inputs = body.get("input")
        count = len(inputs) if isinstance(inputs, list) else 1
        vector = [0.1, 0.2, 0.3, 0.4]
        encoded: object = vector
        if body.get("encoding_format") == "base64":
            encoded = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        self._json(
            {
                "object": "list",
                "data": [{"object": "embedding", "index": i, "embedding": encoded} for i in range(count)],
                "model": u.served_model,
                "usage": {"prompt_tokens": u.input_tokens, "total_tokens": u.input_tokens},
            }
        )

    def _responses(self, body: dict[str, Any]) -> None:
        u = self._usage_for(str(body.get("model")))
        if u is None:
            return
        tier = body.get("service_tier") or "default"
        output: list[dict[str, Any]] = [
            {
                "type": "message",
                "id": "msg_fake",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": "Hello", "annotations": []}],
            }
        ]
        items = body.get("input") if isinstance(body.get("input"), list) else []
        answered = any(isinstance(i, dict) and i.get("type") == "function_call_output" for i in items)
        tools = [t for t in body.get("tools") or [] if isinstance(t, dict) and t.get("type") == "function"]
        if tools and not answered:  # first turn of an agent with tools: call the first tool
            output = [
                {
                    "type": "function_call",
                    "id": "fc_fake",
                    "call_id": "call_fake",
                    "name": tools[0]["name"],
                    "arguments": json.dumps({"city": "Paris"}),
                    "status": "completed",
                }
            ]
        self._json(
            {
                "id": f"resp_fake{self._n}",
                "object": "response",
                "created_at": int(time.time()),
                "status": "completed",
                "model": u.served_model,
                "service_tier": tier,
                "output": output,
                "parallel_tool_calls": True,
                "tool_choice": "auto",
                "tools": [],
                "usage": {
                    "input_tokens": u.input_tokens,
                    "input_tokens_details": {"cached_tokens": u.cached_tokens},
                    "output_tokens": u.output_tokens,
                    "output_tokens_details": {"reasoning_tokens": u.reasoning_tokens},
                    "total_tokens": u.input_tokens + u.output_tokens,
                },
            }
        )

    # ------------------------------------------------------------ Anthropic
    @staticmethod
    def _anthropic_usage(u: Usage, output_tokens: int) -> dict[str, Any]:
        return {
            "input_tokens": u.input_tokens,
            "output_tokens": output_tokens,
            "cache_creation_input_tokens": u.cache_write_tokens + u.cache_write_1h_tokens,
            "cache_read_input_tokens": u.cached_tokens,
            "cache_creation": {
                "ephemeral_5m_input_tokens": u.cache_write_tokens,
                "ephemeral_1h_input_tokens": u.cache_write_1h_tokens,
            },
            "service_tier": "standard",
            "server_tool_use": (
                {"web_search_requests": u.web_searches, "web_fetch_requests": 0} if u.web_searches else None
            ),
            "speed": u.speed,
        }

    def _messages(self, body: dict[str, Any]) -> None:
        u = self._usage_for(str(body.get("model")))
        if u is None:
            return
        message = {
            "id": f"msg_fake{self._n}",
            "type": "message",
            "role": "assistant",
            "model": u.served_model,
            "content": [{"type": "text", "text": "Hello"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
        }
        if body.get("stream"):
            start_usage = self._anthropic_usage(u, 1)
            self._sse(
                [
                    (
                        "message_start",
                        {
                            "type": "message_start",
                            "message": {**message, "content": [], "stop_reason": None, "usage": start_usage},
                        },
                    ),
                    (
                        "content_block_start",
                        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
                    ),
                    (
                        "content_block_delta",
                        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "Hello"}},
                    ),
                    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
                    (
                        "message_delta",
                        {
                            "type": "message_delta",
                            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                            "usage": {
                                "output_tokens": u.output_tokens,
                                **(
                                    {"server_tool_use": {"web_search_requests": u.web_searches, "web_fetch_requests": 0}}
                                    if u.web_searches
                                    else {}
                                ),
                            },
                        },
                    ),
                    ("message_stop", {"type": "message_stop"}),
                ]
            )
            return
        self._json({**message, "usage": self._anthropic_usage(u, u.output_tokens)})

    # ------------------------------------------------------------ Gemini
    def _gemini(self, model: str) -> None:
        u = self._usage_for(model)
        if u is None:
            return
        usage: dict[str, Any] = {
            "promptTokenCount": u.input_tokens,
            "candidatesTokenCount": u.output_tokens - u.reasoning_tokens,
            "totalTokenCount": u.input_tokens + u.output_tokens,
        }
        if u.reasoning_tokens:
            usage["thoughtsTokenCount"] = u.reasoning_tokens
        if u.cached_tokens:
            usage["cachedContentTokenCount"] = u.cached_tokens
        self._json(
            {
                "candidates": [
                    {"content": {"role": "model", "parts": [{"text": "Hello"}]}, "finishReason": "STOP", "index": 0}
                ],
                "usageMetadata": usage,
                "modelVersion": u.served_model,
                "responseId": f"resp_fake{self._n}",
            }
        )

    # ------------------------------------------------------------ Bedrock
    @staticmethod
    def _converse_usage(u: Usage) -> dict[str, Any]:
        """Converse ``usage``: ``inputTokens`` is the fresh input only (``u.input_tokens``
        here), without the cache reads and writes; ``totalTokens`` counts all of them."""
        return {
            "inputTokens": u.input_tokens,
            "outputTokens": u.output_tokens,
            "totalTokens": u.input_tokens + u.cached_tokens + u.cache_write_tokens + u.output_tokens,
            "cacheReadInputTokens": u.cached_tokens,
            "cacheWriteInputTokens": u.cache_write_tokens,
        }

    def _converse(self, model_id: str) -> None:
        u = self._usage_for(model_id)
        if u is None:
            return
        self._json(
            {
                "output": {"message": {"role": "assistant", "content": [{"text": "Hello"}]}},
                "stopReason": "end_turn",
                "usage": self._converse_usage(u),
                "metrics": {"latencyMs": 5},
            }
        )

    def _converse_stream(self, model_id: str) -> None:
        u = self._usage_for(model_id)
        if u is None:
            return
        events: list[tuple[str, dict[str, Any]]] = [
            ("messageStart", {"role": "assistant"}),
            ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "Hel"}}),
            ("contentBlockDelta", {"contentBlockIndex": 0, "delta": {"text": "lo"}}),
            ("contentBlockStop", {"contentBlockIndex": 0}),
            ("messageStop", {"stopReason": "end_turn"}),
            ("metadata", {"usage": self._converse_usage(u), "metrics": {"latencyMs": 5}}),
        ]
        data = b"".join(event_stream_message(name, payload) for name, payload in events)
        self.send_response(200)
        self.send_header("Content-Type", "application/vnd.amazon.eventstream")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-amzn-requestid", f"req-fake{self._n}")
        self.end_headers()
        self.wfile.write(data)


def event_stream_message(event_type: str, payload: dict[str, Any]) -> bytes:
    """One message of an AWS event stream (``application/vnd.amazon.eventstream``), as
    Bedrock's ConverseStream sends it: prelude (total length, headers length, CRC32 of the
    two), string headers, JSON payload, CRC32 of everything before."""
    headers = b""
    for name, value in ((":event-type", event_type), (":content-type", "application/json"), (":message-type", "event")):
        encoded = value.encode()
        headers += bytes([len(name)]) + name.encode() + b"\x07" + struct.pack(">H", len(encoded)) + encoded
    body = json.dumps(payload).encode()
    lengths = struct.pack(">II", 12 + len(headers) + len(body) + 4, len(headers))
    message = lengths + struct.pack(">I", binascii.crc32(lengths)) + headers + body
    return message + struct.pack(">I", binascii.crc32(message))
