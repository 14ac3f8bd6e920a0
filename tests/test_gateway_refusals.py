"""What the gateway answers, counts and logs when it refuses a request, or its upstream does.

Real sockets throughout: the senders are the SDK's own OTLP exporters (or raw HTTP / gRPC
calls for what an exporter would not send), the gateway forwards with the SDK's own OTLP
exporters, and its upstream is a real HTTP or gRPC server answering a chosen status.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import grpc
import pytest
from google.rpc import code_pb2, status_pb2
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace.export import SpanExportResult

from genai_cost.gateway import CostGateway
from genai_cost.gateway_grpc import serve_grpc
from genai_cost.gateway_http import serve_http
from genai_cost.gateway_upstream import FanOutExporter
from genai_cost.pricing.catalog import Catalog
from support.net import HOST, free_port
from test_gateway import _agent, _Gated, _grpc_with_one_call_held, _post, _record, _request

_EXPORT = "/opentelemetry.proto.collector.trace.v1.TraceService/Export"

#: The OTLP exporters report the upstream's status to their self-telemetry hook from SDK 1.42
#: on; with older SDKs (the oldest supported is 1.40) the gateway cannot tell a refusal for good
#: from a failure, and answers every upstream failure as retryable (docs/limitations.md).
_STATUS_HOOK = callable(getattr(getattr(HttpExporter(), "_metrics", None), "export_operation", None))
needs_status_hook = pytest.mark.skipif(
    not _STATUS_HOOK, reason="SDK < 1.42: no status hook in the OTLP exporters; every upstream failure is retryable"
)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


# ------------------------------------------------------------------ upstreams


class _HttpUpstream:
    """An OTLP/HTTP upstream that answers every request with ``status`` (a collector refusing
    the data with 400, or down with 503), counting the requests it got."""

    def __init__(self, status: int) -> None:
        upstream = self
        self.requests = 0

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                upstream.requests += 1
                body = status_pb2.Status(code=code_pb2.INVALID_ARGUMENT, message="refused").SerializeToString()
                self.send_response(status)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer((HOST, 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://{HOST}:{self._server.server_address[1]}/v1/traces"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


class _GrpcUpstream:
    """An OTLP/gRPC upstream that ends every call with ``code``, counting the calls."""

    def __init__(self, code: grpc.StatusCode) -> None:
        from concurrent import futures

        self.calls = 0

        def export(body: bytes, context: Any) -> bytes:
            self.calls += 1
            context.abort(code, "refused by the test's upstream")
            raise AssertionError("abort raises")

        handler = grpc.method_handlers_generic_handler(
            "opentelemetry.proto.collector.trace.v1.TraceService",
            {"Export": grpc.unary_unary_rpc_method_handler(export)},
        )
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        self._server.add_generic_rpc_handlers((handler,))
        self.port = self._server.add_insecure_port(f"{HOST}:0")
        self._server.start()

    def close(self) -> None:
        self._server.stop(grace=None)


@pytest.fixture
def refusing_http() -> Iterator[_HttpUpstream]:
    upstream = _HttpUpstream(400)
    try:
        yield upstream
    finally:
        upstream.close()


def _http_gateway(gateway: CostGateway) -> tuple[str, Any]:
    server = serve_http(gateway, HOST, 0)
    return f"http://{HOST}:{server.server_address[1]}/v1/traces", server


def _stop_http(server: Any) -> None:
    server.shutdown()
    server.server_close()


# ------------------------------------------------- 1. refused upstream for good


@needs_status_hook
def test_an_upstream_refusal_for_good_is_answered_as_not_to_be_retried(
    catalog: Catalog, refusing_http: _HttpUpstream
) -> None:
    """The upstream answered 400 (the data refused) and the gateway answered the sender 503:
    the SDK's exporter then sent the same batch again and again until its own timeout, each
    attempt refused again. Now 500 / INTERNAL, which no OTLP exporter retries: one attempt."""
    gateway = CostGateway(HttpExporter(endpoint=refusing_http.url, timeout=5), catalog=catalog)
    url, server = _http_gateway(gateway)
    sender = HttpExporter(endpoint=url, timeout=5)
    try:
        assert sender.export(_record(_agent)) is SpanExportResult.FAILURE
        status, body, _ = _post(url, _request(_record(_agent)).SerializeToString(), "application/x-protobuf")
    finally:
        sender.shutdown()
        _stop_http(server)
    assert status == 500
    reply = status_pb2.Status.FromString(body)
    assert reply.code == code_pb2.INTERNAL
    assert "refused the spans for good (HTTP 400)" in reply.message
    # one attempt each (the sender's, then the one posted): the sender did not retry
    assert gateway.stats.requests == 2 and refusing_http.requests == 2
    assert gateway.stats.spans_not_forwarded == gateway.stats.spans_refused_upstream == 6


@needs_status_hook
def test_a_grpc_upstream_refusal_for_good_is_answered_internal_over_grpc(catalog: Catalog) -> None:
    """The same over gRPC both ways: the upstream's INVALID_ARGUMENT is not answered UNAVAILABLE,
    which the sender's exporter retried until its timeout."""
    upstream = _GrpcUpstream(grpc.StatusCode.INVALID_ARGUMENT)
    gateway = CostGateway(GrpcExporter(endpoint=f"{HOST}:{upstream.port}", insecure=True, timeout=5), catalog=catalog)
    server = serve_grpc(gateway, HOST, 0)
    sender = GrpcExporter(endpoint=f"{HOST}:{server.port}", insecure=True, timeout=5)
    channel = grpc.insecure_channel(f"{HOST}:{server.port}")
    try:
        assert sender.export(_record(_agent)) is SpanExportResult.FAILURE
        export = trace_service_pb2_grpc.TraceServiceStub(channel).Export  # type: ignore[no-untyped-call]
        with pytest.raises(grpc.RpcError) as refused:
            export(_request(_record(_agent)), timeout=5)
    finally:
        sender.shutdown()
        channel.close()
        server.stop(grace=None)
        upstream.close()
    assert refused.value.code() is grpc.StatusCode.INTERNAL
    assert "refused the spans for good (gRPC INVALID_ARGUMENT)" in refused.value.details()
    assert gateway.stats.requests == 2 and upstream.calls == 2
    assert gateway.stats.spans_refused_upstream == 6


def test_an_upstream_that_is_down_is_still_answered_as_retryable(catalog: Catalog) -> None:
    """Only a status the OTLP specification says not to retry is a refusal for good: an
    upstream answering 503, or not listening at all, gets the sender's retry (503, kept spans)."""
    down = _HttpUpstream(503)
    closed = f"http://{HOST}:{free_port()}/v1/traces"
    try:
        for endpoint in (down.url, closed):
            gateway = CostGateway(HttpExporter(endpoint=endpoint, timeout=1), catalog=catalog)
            url, server = _http_gateway(gateway)
            try:
                status, body, _ = _post(url, _request(_record(_agent)).SerializeToString(), "application/x-protobuf")
            finally:
                _stop_http(server)
            assert status == 503, endpoint
            assert status_pb2.Status.FromString(body).code == code_pb2.UNAVAILABLE
            health = gateway.stats_snapshot()
            assert (health["spans_not_forwarded"], health.get("spans_refused_upstream", 0)) == (3, 0)
    finally:
        down.close()


@needs_status_hook
def test_a_fan_out_is_refused_for_good_only_when_every_failing_exporter_was(
    catalog: Catalog, refusing_http: _HttpUpstream
) -> None:
    """With several exporters, one that is merely down may take the spans on a retry."""
    closed = f"http://{HOST}:{free_port()}/v1/traces"
    both_refuse = FanOutExporter([HttpExporter(endpoint=refusing_http.url, timeout=1) for _ in range(2)])
    one_down = FanOutExporter(
        [HttpExporter(endpoint=refusing_http.url, timeout=1), HttpExporter(endpoint=closed, timeout=1)]
    )
    refused = CostGateway(both_refuse, catalog=catalog).accept(_request(_record(_agent)))
    retryable = CostGateway(one_down, catalog=catalog).accept(_request(_record(_agent)))
    assert (refused.forwarded, refused.refusal) == (False, "HTTP 400; HTTP 400")
    assert (retryable.forwarded, retryable.refusal) == (False, None)


@needs_status_hook
def test_spans_refused_for_good_are_not_kept_for_a_retry(catalog: Catalog, refusing_http: _HttpUpstream) -> None:
    """Kept, spans a sender was told not to resend would only push out of the store the spans
    of senders told to retry."""
    gateway = CostGateway(HttpExporter(endpoint=refusing_http.url, timeout=1), catalog=catalog)
    sent = _record(_agent)
    assert not gateway.accept(_request(sent)).forwarded
    assert not gateway.accept(_request(sent)).forwarded  # resent all the same
    assert gateway.processor.stats.priced == 4  # priced again: not taken from the store
    assert gateway.stats.spans_resent == 0


# --------------------------------------------------- 2. gRPC refusals counted


def test_grpcs_own_refusal_beyond_its_call_limit_is_counted_and_logged(
    catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    """gRPC answers RESOURCE_EXHAUSTED itself beyond maximum_concurrent_rpcs, before the
    servicer: /health counted none of these, while the same refusal over HTTP was counted.
    (The receiver now answers the calls beyond its limit UNAVAILABLE itself, on threads kept
    for that: gRPC refuses one only with no thread left, here with ``workers`` no more than
    the calls allowed; test_gateway_grpc_busy.py.)"""
    upstream, gateway, server, channel, export, first, first_out = _grpc_with_one_call_held(catalog, workers=1)
    try:
        with caplog.at_level(logging.WARNING, logger="genai_cost.gateway"):
            for _ in range(2):
                with pytest.raises(grpc.RpcError) as busy:
                    export(_request(_record(_agent)), timeout=5)
                assert busy.value.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
        snapshot = gateway.stats_snapshot()
        upstream.release.set()
        first.join(5)
        assert isinstance(first_out[0], ExportTraceServiceResponse)
    finally:
        upstream.release.set()
        channel.close()
        server.stop(grace=None)
    assert (snapshot["requests_refused"], snapshot["requests_busy"]) == (2, 2)
    assert (gateway.stats.requests, gateway.stats.requests_busy) == (1, 2)  # the admitted call is no refusal
    [line] = [r.getMessage() for r in caplog.records if "RESOURCE_EXHAUSTED" in r.getMessage()]  # the 1st of 2
    assert "busy, 1 so far" in line and "a gRPC client" in line


def test_grpc_refusals_by_the_servicer_are_counted_as_over_http(catalog: Catalog) -> None:
    """What the servicer aborts (too many spans: INVALID_ARGUMENT; a stop: UNAVAILABLE) counts
    as the same refusal over HTTP counts. (So it did before: a guard, next to the two below.)"""
    gateway = CostGateway(_Gated(), catalog=catalog, max_spans=2)
    server = serve_grpc(gateway, HOST, 0)
    channel = grpc.insecure_channel(f"{HOST}:{server.port}")
    export = trace_service_pb2_grpc.TraceServiceStub(channel).Export  # type: ignore[no-untyped-call]
    try:
        with pytest.raises(grpc.RpcError) as too_many:
            export(_request(_record(_agent)), timeout=5)
        gateway.begin_stop()
        with pytest.raises(grpc.RpcError) as stopping:
            export(_request(_record(_agent)), timeout=5)
    finally:
        channel.close()
        server.stop(grace=None)
    assert too_many.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert stopping.value.code() is grpc.StatusCode.UNAVAILABLE
    assert (gateway.stats.requests_refused, gateway.stats.requests_busy, gateway.stats.requests) == (2, 1, 0)


def test_a_grpc_body_that_is_not_protobuf_is_refused_and_counted_as_over_http(catalog: Catalog) -> None:
    """gRPC's own decoder answered it INTERNAL ("Exception deserializing request!"), counted
    nowhere; the same bytes over HTTP are answered 400 with why, and counted."""
    gateway = CostGateway(_Gated(), catalog=catalog)
    server = serve_grpc(gateway, HOST, 0)
    channel = grpc.insecure_channel(f"{HOST}:{server.port}")
    raw = channel.unary_unary(_EXPORT)  # bytes in, bytes out: what no exporter would send
    try:
        with pytest.raises(grpc.RpcError) as garbage:
            raw(b"\xff\xff\xff not protobuf", timeout=5)
    finally:
        channel.close()
        server.stop(grace=None)
    assert garbage.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert "not an OTLP/protobuf trace request" in garbage.value.details()
    assert (gateway.stats.requests_refused, gateway.stats.requests) == (1, 0)


# ------------------------------------------------------- 3. refusals logged


def _warnings(caplog: pytest.LogCaptureFixture, words: str) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and words in r.getMessage()]


def test_refusals_are_logged_with_reason_and_peer_now_and_then(
    catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    """Refusals were counted, never logged: /health said how many, nothing said why or from
    whom. One line each would flood the log under a sender retrying in a loop, so each reason
    is logged at its 1st, 10th, 100th and every 1000th refusal; a flood of one reason does not
    keep another from its first line."""
    gateway = CostGateway(_Gated(), catalog=catalog)
    server = serve_http(gateway, HOST, 0, max_request_bytes=1024)
    url = f"http://{HOST}:{server.server_address[1]}"
    try:
        with caplog.at_level(logging.WARNING, logger="genai_cost.gateway"):
            for _ in range(12):
                assert _post(url + "/v1/traces", b"\xff\xff not protobuf", "application/x-protobuf")[0] == 400
            assert _post(url + "/v1/traces", b"x" * 2048, "application/x-protobuf")[0] == 413
            assert _post(url + "/nowhere", b"", "application/x-protobuf")[0] == 404
    finally:
        _stop_http(server)
    malformed = _warnings(caplog, "(not OTLP")
    assert len(malformed) == 2  # the 1st and the 10th of 12
    assert "refused a request from 127.0.0.1 (not OTLP, 1 so far): not an OTLP/protobuf" in malformed[0]
    assert "(not OTLP, 10 so far)" in malformed[1]
    [too_large] = _warnings(caplog, "(413 ")  # (Request Entity Too Large; Content Too Large on 3.13)
    assert "127.0.0.1" in too_large and "the limit is 1024" in too_large
    [not_found] = _warnings(caplog, "(404 Not Found, 1 so far)")
    assert "/nowhere" in not_found
    assert gateway.stats.requests_refused == 14


@needs_status_hook
def test_busy_and_upstream_refusals_are_logged_with_their_peer(
    catalog: Catalog, refusing_http: _HttpUpstream, caplog: pytest.LogCaptureFixture
) -> None:
    gateway = CostGateway(HttpExporter(endpoint=refusing_http.url, timeout=1), catalog=catalog)
    url, server = _http_gateway(gateway)
    grpc_server = serve_grpc(gateway, HOST, 0)
    channel = grpc.insecure_channel(f"{HOST}:{grpc_server.port}")
    try:
        with caplog.at_level(logging.WARNING, logger="genai_cost.gateway"):
            assert _post(url, _request(_record(_agent)).SerializeToString(), "application/x-protobuf")[0] == 500
            with pytest.raises(grpc.RpcError):
                channel.unary_unary(_EXPORT)(b"\xff\xff", timeout=5)
            gateway.begin_stop()
            assert _post(url, _request(_record(_agent)).SerializeToString(), "application/x-protobuf")[0] == 503
    finally:
        channel.close()
        grpc_server.stop(grace=None)
        _stop_http(server)
    [upstream] = _warnings(caplog, "(upstream refused, 1 so far)")
    assert "from 127.0.0.1" in upstream and "refused its 3 span(s) for good (HTTP 400" in upstream
    [grpc_garbage] = _warnings(caplog, "(not OTLP, 1 so far)")
    assert "from ipv4:127.0.0.1:" in grpc_garbage
    [stopping] = _warnings(caplog, "(stopping, 1 so far)")
    assert "from 127.0.0.1" in stopping and "the gateway is stopping" in stopping


@needs_status_hook
def test_cli_gateway_answers_an_upstream_refusal_for_good_and_logs_it(refusing_http: _HttpUpstream) -> None:
    """The command as a user runs it, its upstream exporter built from the standard variables
    (the SDK's own entry point): the refusal for good reaches the sender and the log."""
    from support.gateway import GatewayProcess

    env = {
        "OTEL_TRACES_EXPORTER": "otlp",
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "http/protobuf",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": refusing_http.url,
    }
    with GatewayProcess(env) as gateway:
        sender = HttpExporter(endpoint=gateway.url, timeout=5)
        try:
            assert sender.export(_record(_agent)) is SpanExportResult.FAILURE
        finally:
            sender.shutdown()
        gateway.stop()
    assert gateway.returncode == 0, gateway.stderr
    assert refusing_http.requests == 1  # the sender did not retry
    assert "(upstream refused, 1 so far): the upstream refused its 3 span(s) for good (HTTP 400" in gateway.stderr
    assert (
        "1 request(s), 0 refused (0 to be retried), 1 not taken by the upstream: 3 span(s) received, 0 rejected as"
        " malformed, 3 not forwarded" in gateway.stderr
    )


@pytest.mark.skipif(_STATUS_HOOK, reason="the SDK's exporters have the status hook")
def test_without_the_status_hook_an_upstream_refusal_stays_retryable(refusing_http: _HttpUpstream) -> None:
    """The documented fallback (SDK 1.40, 1.41): nothing to read, so the exporter is not watched
    and a refusal for good is answered as any failure is, 503."""
    from genai_cost.gateway import _watch

    assert _watch(HttpExporter(endpoint=refusing_http.url)) is None


# ------------------------------- 4. refused before the handler: the wrong protocol


def _answer(port: int, sent: bytes) -> bytes:
    """What the gateway answers ``sent`` with, read until it closes the connection."""
    import socket

    with socket.create_connection((HOST, port), timeout=10) as client:
        client.sendall(sent)
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
    return answer


def test_a_grpc_client_at_the_http_port_is_told_counted_and_logged(
    catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    """A gRPC exporter pointed at the HTTP port (4318 for 4317) opens with the HTTP/2 preface:
    the standard library answered 505 with an HTML page, counted nowhere, logged nowhere."""
    gateway = CostGateway(_Gated(), catalog=catalog)
    server = serve_http(gateway, HOST, 0)
    port = server.server_address[1]
    channel = grpc.insecure_channel(f"{HOST}:{port}")
    try:
        with caplog.at_level(logging.WARNING, logger="genai_cost.gateway"):
            export = trace_service_pb2_grpc.TraceServiceStub(channel).Export  # type: ignore[no-untyped-call]
            with pytest.raises(grpc.RpcError) as refused:
                export(_request(_record(_agent)), timeout=5)
            by_hand = _answer(port, b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
    finally:
        channel.close()
        _stop_http(server)
    assert refused.value.code() is grpc.StatusCode.UNAVAILABLE  # (gRPC: "an http1.x server")
    head, _, body = by_hand.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 505 ") and b"Content-Type: text/plain" in head
    assert body.decode().startswith("This port speaks OTLP over HTTP/1.1 (POST /v1/traces): gRPC goes to the")
    assert gateway.stats.requests == 0 and gateway.stats.requests_refused >= 2  # (gRPC may try twice)
    [line] = _warnings(caplog, "(HTTP/2 to the HTTP/1.1 port, 1 so far)")
    assert "from 127.0.0.1" in line and "gRPC goes to the gateway's --grpc port (4317 by default)" in line


def test_https_to_the_plain_http_port_is_told_counted_and_logged(
    catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    """An https:// endpoint for a gateway started without TLS: the ClientHello has no line end
    for the request-line read to stop at, so the client waited out the read timeout (or, with
    a newline byte in it by chance, got an HTML 400), uncounted either way. Now answered at once,
    in plain text naming the mistake, counted and logged."""
    import socket
    import ssl

    gateway = CostGateway(_Gated(), catalog=catalog)
    server = serve_http(gateway, HOST, 0, read_timeout_s=5)  # (the old wait, shortened)
    port = server.server_address[1]
    client_side = ssl.create_default_context()
    client_side.check_hostname = False
    client_side.verify_mode = ssl.CERT_NONE
    # A real ClientHello, as the ssl module writes it, to read the answer to it as bytes
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    hello = client_side.wrap_bio(incoming, outgoing, server_hostname="gateway")
    with pytest.raises(ssl.SSLWantReadError):
        hello.do_handshake()
    try:
        with caplog.at_level(logging.WARNING, logger="genai_cost.gateway"):
            with socket.create_connection((HOST, port), timeout=10) as raw, pytest.raises(ssl.SSLError):
                with client_side.wrap_socket(raw, server_hostname="gateway"):
                    pass
            answered = _answer(port, outgoing.read())
    finally:
        _stop_http(server)
    head, _, body = answered.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ") and b"Content-Type: text/plain" in head
    assert body.decode() == (
        f"This port is plain HTTP: use http://{HOST}:{port}/v1/traces (OTEL_EXPORTER_OTLP_ENDPOINT=http://...), "
        "or start the gateway with TLS (--tls-cert, --tls-key).\n"
    )
    assert (gateway.stats.requests_refused, gateway.stats.requests) == (2, 0)
    [line] = _warnings(caplog, "(TLS to the plain-HTTP port, 1 so far)")
    assert "from 127.0.0.1" in line and "This port is plain HTTP" in line


@pytest.mark.parametrize(
    ("sent", "status", "says"),
    [
        (b"BREW /v1/traces HTTP/1.1\r\nHost: x\r\n\r\n", 501, "Unsupported method ('BREW')"),
        (b"GET /health HTTP/1.1\r\nX: " + b"y" * 70_000 + b"\r\n\r\n", 431, "Line too long"),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414, "URI Too Long"),
        (b"GET / HTTP/1.1 extra\r\n\r\n", 400, "Bad request"),
    ],
)
def test_what_the_http_server_refuses_before_the_handler_is_plain_text_and_counted(
    catalog: Catalog, caplog: pytest.LogCaptureFixture, sent: bytes, status: int, says: str
) -> None:
    """The standard library's own refusals (before a do_* method runs) were HTML pages, counted
    nowhere: now as every other refusal, counted in requests_refused and logged under their status."""
    gateway = CostGateway(_Gated(), catalog=catalog)
    server = serve_http(gateway, HOST, 0)
    try:
        with caplog.at_level(logging.WARNING, logger="genai_cost.gateway"):
            answered = _answer(server.server_address[1], sent)
    finally:
        _stop_http(server)
    head, _, body = answered.partition(b"\r\n\r\n")
    assert head.startswith(f"HTTP/1.1 {status} ".encode()) and b"Content-Type: text/plain" in head
    assert b"<html" not in body.lower() and says.encode() in body
    assert gateway.stats.requests_refused == 1
    [line] = _warnings(caplog, f"({status} ")
    assert "from 127.0.0.1" in line and says in line
