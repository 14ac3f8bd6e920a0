"""The gateway's OTLP/HTTP receiver: ``POST /v1/traces`` (protobuf or JSON, optionally
gzip) and ``GET /health``, in plain HTTP or over TLS.

A module of its own because HTTP is most of what the gateway must get right by hand: it is
served by the standard library's ``http.server`` (no web framework), which leaves to its
user what a receiver open to other hosts needs. Here a body is read whole and bounded
(``Content-Length`` or chunked, compressed or not) before anything of it is forwarded; at
most the gateway's ``max_inflight`` requests are read at once, and at most
:data:`MAX_HTTP_CONNECTIONS` connections held, each closed after :data:`READ_TIMEOUT_S` of
silence; a TLS handshake runs on the connection's own thread, and a plain-HTTP request to the
TLS port is answered with the mistake, as are a TLS handshake or gRPC's HTTP/2 sent to the
plain port, and metrics or logs sent where only traces are taken (what a sender cannot act on
unless told, and an operator cannot see unless counted and logged); a stop waits for the
answers due, not for idle connections. Each request decoded goes to
:meth:`~genai_cost.gateway.CostGateway.accept`, and its answer, or its refusal, is written as
OTLP/HTTP says (a ``google.rpc.Status`` body).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import re
import socket
import ssl
import sys
import threading
import zlib
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from google.protobuf import json_format
from google.rpc import code_pb2, status_pb2

from .gateway import (
    MAX_REQUEST_BYTES,
    RETRY_AFTER_S,
    STOP_GRACE_S,
    UPSTREAM_FAILED,
    CostGateway,
    TooManySpans,
    Unavailable,
    busy_message,
    now_and_then,
    response,
    traces_only,
    upstream_refused,
)
from .gateway_tls import GatewayTls
from .otlp_in import OtlpDecodeError, parse_json, parse_protobuf

_log = logging.getLogger("genai_cost.gateway")

#: How long a client may take over the TLS handshake before its connection is dropped.
_TLS_HANDSHAKE_TIMEOUT_S = 10.0
#: How long a connection may send nothing (between requests, or mid-body) before it is
#: closed: a stalled or vanished client must not hold a thread for ever.
READ_TIMEOUT_S = 60.0
#: How much of a plain-HTTP request to a TLS port is read (and dropped) after answering it.
_PLAIN_HTTP_DRAIN_BYTES = 8 * 1024 * 1024
_PROTOBUF = "application/x-protobuf"
_JSON = "application/json"
#: The paths of the OTLP signals the gateway does not take, by signal: what an exporter sends
#: when ``OTEL_EXPORTER_OTLP_ENDPOINT``, which serves every signal, names the gateway.
_OTHER_SIGNALS = {"/v1/metrics": "metrics", "/v1/logs": "logs"}
#: How an HTTP/2 client begins (RFC 9113 section 3.4): gRPC, or ``curl --http2-prior-knowledge``.
_HTTP2_PREFACE = b"PRI * HTTP/2.0"
#: The first byte of a TLS record that carries a handshake (RFC 8446 section 5.1): a ClientHello.
_TLS_HANDSHAKE_RECORD = b"\x16"
#: A ``Host`` header fit to be quoted back in a hint (and logged): a name or address and a port.
_HOST_HEADER = re.compile(r"[A-Za-z0-9.\-]{1,253}(:[0-9]{1,5})?|\[[0-9A-Fa-f:.]{2,45}\](:[0-9]{1,5})?")
#: Connections at most open on the HTTP receiver (each has a thread, kept while it is idle
#: for the read timeout); beyond it a new one is closed at once, and its sender retries.
MAX_HTTP_CONNECTIONS = 256


def serve_http(
    gateway: CostGateway,
    host: str = "127.0.0.1",
    port: int = 4318,
    *,
    max_request_bytes: int = MAX_REQUEST_BYTES,
    tls: GatewayTls | None = None,
    read_timeout_s: float = READ_TIMEOUT_S,
) -> GatewayHttpServer:
    """Serve OTLP/HTTP (``POST /v1/traces``, protobuf or JSON, optionally gzip)
    on a thread of its own, over TLS with ``tls``; ``GET /health`` answers with
    the gateway's counters. Stop it with :meth:`GatewayHttpServer.stop` (after
    :meth:`~genai_cost.gateway.CostGateway.begin_stop`), or
    ``server.shutdown(); server.server_close()``.
    Raises :class:`~genai_cost.gateway_tls.TlsConfigError` for unusable TLS files."""

    class Handler(_OtlpHttpHandler):
        pass

    Handler.gateway = gateway
    Handler.max_request_bytes = max_request_bytes
    Handler.admission = threading.BoundedSemaphore(gateway.max_inflight)
    Handler.timeout = read_timeout_s  # (the socket timeout StreamRequestHandler.setup sets)
    context = tls.server_context() if tls is not None else None
    server = GatewayHttpServer((host, port), Handler)
    server.tls = context
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, name="genai-cost-gateway-http", daemon=True)
    thread.start()
    return server


class GatewayHttpServer(ThreadingHTTPServer):
    """Counts the requests its handlers are working on, so that a stop can wait for
    their answers without waiting for connections kept alive with nothing to say."""

    #: The TLS context, or ``None`` for plain HTTP.
    tls: ssl.SSLContext | None = None

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler]) -> None:
        # (an instance attribute, read as the socket is made: the class's is IPv4's alone)
        self.address_family = _address_family(address[0])
        super().__init__(address, handler)
        self._answering = 0
        self._answered = threading.Condition()
        self._connections = 0
        self._connections_lock = threading.Lock()
        #: Connections closed at once because MAX_HTTP_CONNECTIONS were open.
        self.connections_refused = 0

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            full = self._connections >= MAX_HTTP_CONNECTIONS
            if full:
                self.connections_refused += 1
            else:
                self._connections += 1
        if full:
            # Closed before a thread is made for it: a thread per idle connection is
            # otherwise unbounded (a sender that opens and stalls holds one for the read timeout).
            if now_and_then(self.connections_refused):
                _log.warning(
                    "genai-cost gateway: %d connections open; closing new ones, this one from %s (%d so far)",
                    MAX_HTTP_CONNECTIONS,
                    _host_of(client_address),
                    self.connections_refused,
                )
            self.shutdown_request(request)
            return
        super().process_request(request, client_address)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._connections_lock:
                self._connections -= 1

    def request_began(self) -> None:
        with self._answered:
            self._answering += 1

    def request_ended(self) -> None:
        with self._answered:
            self._answering -= 1
            self._answered.notify_all()

    def stop(self, grace_s: float = STOP_GRACE_S) -> bool:
        """Stop accepting connections, wait (``grace_s`` at most) until every request
        read so far has its answer, and close. Whether none was left unanswered."""
        self.shutdown()
        with self._answered:
            done = self._answered.wait_for(lambda: self._answering == 0, grace_s)
        self.server_close()
        return done

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A sender that hangs up before its answer (a timeout of its own) is not the
        gateway's failure: its request was counted as it was answered. Anything else is
        logged with its traceback, through logging rather than socketserver's print."""
        failure = sys.exc_info()[1]
        host = _host_of(client_address)
        if isinstance(failure, ConnectionError):
            _log.info("genai-cost gateway: %s hung up before its answer (%s)", host, type(failure).__name__)
            return
        _log.error("genai-cost gateway: failed on a request from %s", host, exc_info=failure)

    def get_request(self) -> tuple[socket.socket, Any]:
        connection, address = super().get_request()
        if self.tls is not None:
            # The handshake is left to the connection's own thread (_OtlpHttpHandler.handle):
            # here it would hold up every other client's accept while one is slow.
            connection = self.tls.wrap_socket(connection, server_side=True, do_handshake_on_connect=False)
        return connection, address


def _address_family(host: str) -> socket.AddressFamily:
    """The family of the socket that listens on ``host``. The standard library's server makes
    an IPv4 one whatever the host, so ``--http [::1]:4318`` failed at start ("Address family
    for hostname not supported"). A name is IPv4 when it has an IPv4 address (``localhost``,
    which senders reach as 127.0.0.1), else IPv6 when it has one of those; else IPv4, and
    binding says what is wrong with it."""
    try:
        return socket.AF_INET6 if ipaddress.ip_address(host).version == 6 else socket.AF_INET
    except ValueError:  # a name, not an address
        pass
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.getaddrinfo(host, None, family, socket.SOCK_STREAM)
        except (OSError, UnicodeError):
            continue
        return family
    return socket.AF_INET


def _host_of(client_address: Any) -> str:
    """The sender's address as logs name it (the host of ``(host, port)``)."""
    host = client_address[0] if isinstance(client_address, tuple) and client_address else client_address
    return str(host)


def _local_address(connection: socket.socket) -> str:
    """``host:port`` the client reached (not the ``0.0.0.0`` the gateway listens on), for a
    hint; a placeholder once the client is gone (a hint must not fail the answer)."""
    try:
        local = connection.getsockname()
    except OSError:
        return "<the gateway's address>"
    return f"[{local[0]}]:{local[1]}" if ":" in local[0] else f"{local[0]}:{local[1]}"


def _refuse_plain_http(connection: ssl.SSLSocket) -> None:
    """Answer a client that forgot ``https://`` in plain HTTP, so that it reads the mistake
    instead of an empty reply."""
    message = (
        f"This port serves OTLP over TLS: send to https://{_local_address(connection)}/v1/traces "
        "(OTEL_EXPORTER_OTLP_ENDPOINT=https://..., and trust the gateway's certificate)."
    )
    _answer_and_drain(connection, HTTPStatus.BAD_REQUEST, message, raw=True)


def _plain_answer(status: HTTPStatus, message: str) -> bytes:
    """A whole HTTP/1.1 answer in plain text: what a client that spoke the wrong protocol may
    still show, and what a person trying the port by hand reads."""
    body = f"{message}\n".encode()
    head = (
        f"HTTP/1.1 {status.value} {status.phrase}\r\nContent-Type: text/plain; charset=utf-8\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    ).encode()
    return head + body


def _answer_and_drain(connection: socket.socket, status: HTTPStatus, message: str, *, raw: bool = False) -> None:
    """Send :func:`_plain_answer`, then :func:`_drain_until_closed`. ``raw``: past the TLS
    layer of an ``SSLSocket`` whose handshake never happened. Never raises."""
    try:
        if raw:
            socket.socket.sendall(connection, _plain_answer(status, message))
        else:
            connection.sendall(_plain_answer(status, message))
    except (OSError, ValueError):  # (ssl.SSLError is an OSError) gone: it will never read it
        return
    _drain_until_closed(connection, raw=raw)


def _drain_until_closed(connection: socket.socket, *, raw: bool = False) -> None:
    """After an answer that ends the connection, read what the client still sends until it
    hangs up (a second at most between reads): closing on unread data would reset the
    connection before the client reads the answer. Never raises: a client that is gone has
    the answer or will never read it."""
    plain = socket.socket
    try:
        if raw:
            plain.shutdown(connection, socket.SHUT_WR)
        else:
            connection.shutdown(socket.SHUT_WR)  # (an SSLSocket's TLS ends here: what follows is drained raw)
        connection.settimeout(1.0)
        drained = 0
        while drained < _PLAIN_HTTP_DRAIN_BYTES:
            chunk = plain.recv(connection, 65536) if raw else connection.recv(65536)
            if not chunk:
                break
            drained += len(chunk)
    except (OSError, ValueError):  # (ssl.SSLError is an OSError)
        pass


class _OtlpHttpHandler(BaseHTTPRequestHandler):
    gateway: CostGateway
    max_request_bytes: int
    #: Requests being read, decoded, priced or forwarded (see do_POST).
    admission: threading.BoundedSemaphore
    server_version = "genai-cost-gateway"
    protocol_version = "HTTP/1.1"

    def handle(self) -> None:
        connection = self.connection
        if isinstance(connection, ssl.SSLSocket):
            try:
                connection.settimeout(_TLS_HANDSHAKE_TIMEOUT_S)
                first = socket.socket.recv(connection, 1, socket.MSG_PEEK)
                if not first:
                    # Connected and closed before a byte: a TCP probe (a load balancer's, a
                    # Kubernetes tcpSocket check), not a request, refused or otherwise.
                    self.close_connection = True
                    return
                if first.isalpha():  # an HTTP request line, where a TLS record (0x16) was due
                    self.gateway.refused("plain HTTP to the TLS port", self._peer, "sent plain HTTP to the TLS port")
                    _refuse_plain_http(connection)
                    self.close_connection = True
                    return
                connection.do_handshake()
                connection.settimeout(self.timeout)
            except (OSError, ValueError) as exc:  # ssl.SSLError is an OSError
                # A client speaking plain HTTP, without the client certificate asked for,
                # or not trusting the gateway's: refused, counted and logged.
                self.gateway.refused("TLS handshake failed", self._peer, f"TLS handshake failed: {exc}")
                self.close_connection = True
                return
        elif not self._plain_start():
            self.close_connection = True
            return
        super().handle()

    def _plain_start(self) -> bool:
        """Whether a plain-HTTP connection goes on to be read as HTTP. A TLS ClientHello (an
        ``https://`` endpoint for a gateway started without TLS) may hold no line end to stop
        the standard library's request-line read, which then waits out the read timeout, and
        is otherwise answered an HTML page, uncounted: it is answered at once, and counted and
        logged, where the operator can see it."""
        connection = self.connection
        try:
            first = connection.recv(1, socket.MSG_PEEK)
        except OSError:  # nothing sent for the read timeout, or a reset: as the request-line read would
            return False
        if first != _TLS_HANDSHAKE_RECORD:
            return bool(first)  # (b"": a TCP probe, connected and closed before a byte)
        message = (
            f"This port is plain HTTP: use http://{_local_address(connection)}/v1/traces "
            "(OTEL_EXPORTER_OTLP_ENDPOINT=http://...), or start the gateway with TLS (--tls-cert, --tls-key)."
        )
        self.gateway.refused("TLS to the plain-HTTP port", self._peer, f"began a TLS handshake. {message}")
        _answer_and_drain(connection, HTTPStatus.BAD_REQUEST, message)
        return False

    _in_request = False

    @property
    def _peer(self) -> str:
        return _host_of(self.client_address)

    def parse_request(self) -> bool:
        # The request line has arrived: from here until its answer is written, a stop waits.
        self._in_request = True
        self.server.request_began()  # type: ignore[attr-defined]
        if getattr(self, "raw_requestline", b"").startswith(_HTTP2_PREFACE):
            self._refuse_http2()
            return False
        return super().parse_request()

    def _refuse_http2(self) -> None:
        """A gRPC client (HTTP/2) pointed at this port: the standard library answered it
        ``505`` with an HTML page, uncounted, and gRPC tells its user only that the server
        speaks HTTP/1.x. Counted and logged here, naming the port it meant."""
        self.close_connection = True
        message = (
            "This port speaks OTLP over HTTP/1.1 (POST /v1/traces): gRPC goes to the gateway's --grpc port "
            "(4317 by default), or send OTLP/HTTP here (OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf)."
        )
        self.gateway.refused("HTTP/2 to the HTTP/1.1 port", self._peer, f"sent HTTP/2 (gRPC?). {message}")
        _answer_and_drain(self.connection, HTTPStatus.HTTP_VERSION_NOT_SUPPORTED, message)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """What the standard library refuses before a handler runs (a request line or header
        too long, a malformed request line, an unknown method) is answered in plain text and
        counted and logged as every refusal is, rather than with an HTML page nobody sees."""
        self.close_connection = True
        try:
            status = HTTPStatus(code)
        except ValueError:
            status = HTTPStatus.BAD_REQUEST
        text = message or status.phrase
        line = (getattr(self, "requestline", "") or "")[:100]
        self.gateway.refused(f"{status.value} {status.phrase}", self._peer, f"{text} ({line!r})" if line else text)
        body = f"{text}\n".encode("utf-8", "replace")
        if self.request_version == "HTTP/0.9":
            # (what a request line with no readable version is taken for: answered bare, with
            # no status line, the client would read the body alone as if all were well)
            self.request_version = self.protocol_version
        self.send_response(status)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD" and status >= 200 and status not in (204, 205, 304):
            self.wfile.write(body)
        # (what is left of a request line or header too long would reset the answer away)
        _drain_until_closed(self.connection)

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        finally:
            if self._in_request:
                self._in_request = False
                self.server.request_ended()  # type: ignore[attr-defined]

    def do_POST(self) -> None:
        content_type = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        is_json = content_type == _JSON
        path = self._path()
        if path == "/health":
            self._drain()
            self._wrong_method()
            return
        try:
            signal = _OTHER_SIGNALS.get(path)
            if signal is not None:
                self._drain()
                raise _Refused(
                    HTTPStatus.NOT_FOUND,
                    self._traces_only(signal),
                    reason=f"{signal}, not traces",
                    detail=path,
                    phrase=_traces_only_phrase(signal),
                )
            if path != "/v1/traces":
                self._drain()
                # (a POST to "/" is an endpoint given without its path: that is what it needs)
                missing = "" if path else " (the endpoint is missing its path)"
                raise _Refused(
                    HTTPStatus.NOT_FOUND, f"no such path {self.path!r}: OTLP traces go to /v1/traces{missing}"
                )
            if content_type not in (_PROTOBUF, _JSON):
                self._drain()
                raise _Refused(
                    HTTPStatus.UNSUPPORTED_MEDIA_TYPE,
                    f"Content-Type {content_type or '(none)'!r}: expected {_PROTOBUF} or {_JSON}",
                )
            # At most max_inflight requests are read, decoded, priced or forwarded at once: a
            # body is up to 20 MiB inflated, so one read before the in-flight check would let
            # a burst of small gzip requests take gigabytes. The rest are told to retry, unread.
            if not self.admission.acquire(blocking=False):
                self.close_connection = True
                message = busy_message(self.gateway.max_inflight)
                self.gateway.refuse_busy("busy", self._peer, message)
                raise Unavailable(message)
            try:
                body = self._body()
                request = parse_json(body) if is_json else parse_protobuf(body)
                del body
                accepted = self.gateway.accept(request, peer=self._peer)
            finally:
                self.admission.release()
        except _Refused as refused:
            reason = refused.reason or f"{refused.status.value} {refused.status.phrase}"
            detail = f"{self.command} {refused.detail}: {refused.message}" if refused.detail else refused.message
            self.gateway.refused(reason, self._peer, detail)
            message = _status_message(code_pb2.INVALID_ARGUMENT, refused.message)
            self._reply(refused.status, message, is_json, refused.phrase)
            return
        except Unavailable as exc:  # counted and logged where it was raised
            self._unavailable(str(exc), is_json)
            return
        except TooManySpans as exc:  # counted and logged by accept
            message = _status_message(code_pb2.INVALID_ARGUMENT, str(exc))
            self._reply(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, message, is_json)
            return
        except OtlpDecodeError as exc:
            self.gateway.refused("not OTLP", self._peer, str(exc))
            self._reply(HTTPStatus.BAD_REQUEST, _status_message(code_pb2.INVALID_ARGUMENT, str(exc)), is_json)
            return
        except OSError as exc:  # (TimeoutError: nothing sent for read_timeout_s) no one to answer
            self.close_connection = True
            self.gateway.refused("not read", self._peer, f"request not read: {exc}")
            return
        except Exception:
            self.gateway.failed()
            _log.exception("genai-cost gateway: could not read a request")
            message = _status_message(code_pb2.INTERNAL, "the gateway could not read the request")
            self._reply(HTTPStatus.INTERNAL_SERVER_ERROR, message, is_json)
            return
        if accepted.refusal is not None:  # not 503: a retry would be refused again, to no end
            status = _status_message(code_pb2.INTERNAL, upstream_refused(accepted.refusal))
            self._reply(HTTPStatus.INTERNAL_SERVER_ERROR, status, is_json)
            return
        if not accepted.forwarded:
            self._unavailable(UPSTREAM_FAILED, is_json)
            return
        self._reply(HTTPStatus.OK, response(accepted), is_json)

    def _traces_only(self, signal: str) -> str:
        """:func:`~genai_cost.gateway.traces_only`, naming the gateway as the client reached it."""
        host = self.headers.get("Host") or ""
        if not _HOST_HEADER.fullmatch(host):  # (quoted back and logged: a plain host:port only)
            host = _local_address(self.connection)
        scheme = "https" if isinstance(self.connection, ssl.SSLSocket) else "http"
        return traces_only(signal, f"{scheme}://{host}/v1/traces", " (OTLP traces go to /v1/traces)")

    def _unavailable(self, message: str, is_json: bool) -> None:
        """503 with ``Retry-After``: the OTLP exporters send such a request again."""
        status = _status_message(code_pb2.UNAVAILABLE, message)
        body = json_format.MessageToJson(status, indent=None).encode() if is_json else status.SerializeToString()
        self._send(
            HTTPStatus.SERVICE_UNAVAILABLE, _JSON if is_json else _PROTOBUF, body, {"Retry-After": str(RETRY_AFTER_S)}
        )

    def _path(self) -> str:
        return self.path.split("?")[0].rstrip("/")

    def _route(self) -> str:
        """The path, ``/`` read as ``/health`` (for a GET or HEAD: a POST there is a sender's)."""
        return self._path() or "/health"

    def do_GET(self) -> None:
        self._drain()
        if self._route() == "/health":
            self._health()
        else:
            self._wrong_method()

    def do_HEAD(self) -> None:
        self._drain()
        if self._route() == "/health":
            self._health(head=True)
        else:
            self._wrong_method(head=True)

    def _health(self, head: bool = False) -> None:
        """``200`` while the gateway takes requests, ``503`` once it is stopping: a load balancer
        or a readiness probe reads the status, and a stopping gateway only refuses, so it is
        to be taken out of rotation. An upstream that is slow or fails leaves it ``200``: the
        gateway keeps what the upstream failed to take and tells its senders to retry, and
        every gateway behind that upstream would fail together, taken out of rotation (or
        restarted, by a liveness probe, losing what they keep) with nothing brought back. The
        counters say that instead (``spans_not_forwarded``). Answered at once, an export under
        way or not."""
        stopping = self.gateway.stopping
        body = {"status": "stopping" if stopping else "serving", **self.gateway.stats_snapshot()}
        status = HTTPStatus.SERVICE_UNAVAILABLE if stopping else HTTPStatus.OK
        self._send(status, _JSON, json.dumps(body).encode(), head=head)

    def _wrong_method(self, head: bool = False) -> None:
        """405 naming the methods the path takes (404 for a path there is not, or for a signal
        the gateway does not take, with how to send it elsewhere), with a Status body, in JSON
        unless the client sent protobuf."""
        path = self._route()
        is_json = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower() != _PROTOBUF
        reason = phrase = ""
        if path in _OTHER_SIGNALS:
            signal = _OTHER_SIGNALS[path]
            status, allow, text, reason = HTTPStatus.NOT_FOUND, "", self._traces_only(signal), f"{signal}, not traces"
            phrase = _traces_only_phrase(signal)
        elif path == "/v1/traces":
            status, allow, text = HTTPStatus.METHOD_NOT_ALLOWED, "POST", "OTLP traces are POSTed to /v1/traces"
        elif path == "/health":
            status, allow, text = HTTPStatus.METHOD_NOT_ALLOWED, "GET, HEAD", "/health answers GET (and HEAD)"
        else:
            status, allow, text = HTTPStatus.NOT_FOUND, "", f"no such path {self.path!r}: OTLP traces go to /v1/traces"
        self.gateway.refused(reason or f"{status.value} {status.phrase}", self._peer, f"{self.command} {path}: {text}")
        message = _status_message(code_pb2.INVALID_ARGUMENT, f"{self.command} {path}: {text}")
        body = json_format.MessageToJson(message, indent=None).encode() if is_json else message.SerializeToString()
        headers = {"Allow": allow} if allow else {}
        self._send(status, _JSON if is_json else _PROTOBUF, body, headers, head=head, phrase=phrase)

    def do_PUT(self) -> None:
        self._drain()
        self._wrong_method()

    do_DELETE = do_PATCH = do_OPTIONS = do_PUT

    def _body(self) -> bytes:
        raw_length = self.headers.get("Content-Length")
        if raw_length is None:
            if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
                body = self._chunked()  # what the OpenTelemetry JS exporters send
            else:
                self.close_connection = True
                raise _Refused(HTTPStatus.LENGTH_REQUIRED, "Content-Length (or chunked Transfer-Encoding) is required")
        else:
            body = self._sized(raw_length)
        return self._decoded(body)

    def _sized(self, raw_length: str) -> bytes:
        try:
            length = int(raw_length)
        except ValueError:
            self.close_connection = True
            raise _Refused(HTTPStatus.BAD_REQUEST, f"Content-Length {raw_length!r} is not a number") from None
        if length < 0 or length > self.max_request_bytes:
            self.close_connection = True
            raise _Refused(
                HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"body of {length} bytes; the limit is {self.max_request_bytes}"
            )
        body = self.rfile.read(length)
        if len(body) < length:  # the client stopped sending: never forward half a request
            self.close_connection = True
            raise _Refused(HTTPStatus.BAD_REQUEST, f"body ended after {len(body)} of its {length} bytes")
        return body

    def _chunked(self) -> bytes:
        """A body sent in chunks (RFC 9112 section 7.1), bounded like any other."""
        parts: list[bytes] = []
        size_so_far = 0
        while True:
            line = self.rfile.readline(1024)
            try:
                size = int(line.split(b";")[0].strip(), 16)
            except ValueError:
                self.close_connection = True
                raise _Refused(HTTPStatus.BAD_REQUEST, f"bad chunk size line {line[:40]!r}") from None
            if size == 0:
                while self.rfile.readline(1024).strip():  # trailers, until the blank line
                    pass
                return b"".join(parts)
            size_so_far += size
            if size < 0 or size_so_far > self.max_request_bytes:
                self.close_connection = True
                raise _Refused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"chunked body over {self.max_request_bytes} bytes")
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                self.close_connection = True
                raise _Refused(HTTPStatus.BAD_REQUEST, f"chunk ended after {len(chunk)} of its {size} bytes")
            parts.append(chunk)
            self.rfile.readline(8)  # the CRLF after the chunk

    def _decoded(self, body: bytes) -> bytes:
        encoding = (self.headers.get("Content-Encoding") or "identity").strip().lower()
        if encoding == "gzip":
            return self._decompressed(body, zlib.MAX_WBITS | 16)
        if encoding == "deflate":
            return self._decompressed(body, zlib.MAX_WBITS)
        if encoding != "identity":
            raise _Refused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"Content-Encoding {encoding!r}: expected gzip or none")
        return body

    def _decompressed(self, body: bytes, wbits: int) -> bytes:
        """Every member of the stream (gzip allows several, and Go's reader, the
        Collector's, reads them all), and only a stream that ends: a cut one would
        forward part of the request as if it were all of it."""
        parts: list[bytes] = []
        size = 0
        remaining = body
        while True:
            inflater = zlib.decompressobj(wbits)
            try:
                out = inflater.decompress(remaining, self.max_request_bytes + 1 - size)
            except zlib.error as exc:
                raise _Refused(HTTPStatus.BAD_REQUEST, f"body is not valid compressed data: {exc}") from None
            size += len(out)
            if size > self.max_request_bytes:
                raise _Refused(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    f"body exceeds {self.max_request_bytes} bytes once decompressed",
                )
            if not inflater.eof:
                raise _Refused(HTTPStatus.BAD_REQUEST, "compressed body ends before its compressed stream does")
            parts.append(out)
            remaining = inflater.unused_data
            if not remaining:
                return b"".join(parts)

    def _drain(self) -> None:
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = -1
        if 0 < length <= self.max_request_bytes:
            self.rfile.read(length)
        elif length or self.headers.get("Transfer-Encoding"):  # a body not worth reading
            self.close_connection = True

    def _reply(self, status: HTTPStatus, message: Any, is_json: bool, phrase: str = "") -> None:
        if is_json:
            self._send(status, _JSON, json_format.MessageToJson(message, indent=None).encode(), phrase=phrase)
        else:
            self._send(status, _PROTOBUF, message.SerializeToString(), phrase=phrase)

    def _send(
        self,
        status: HTTPStatus,
        content_type: str,
        body: bytes,
        headers: dict[str, str] | None = None,
        head: bool = False,
        phrase: str = "",
    ) -> None:
        """``phrase``: a reason phrase in place of the status's own, for the senders that log it
        and not the body (the Python SDK's OTLP/HTTP exporters)."""
        self.send_response(status, phrase or None)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.gateway.stopping or self.close_connection:
            # A kept-alive connection's next request would only be refused, or the body of
            # this one was left unread: the client is told the connection ends here.
            self.send_header("Connection", "close")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("genai-cost gateway: %s " + format, self.address_string(), *args)


class _Refused(Exception):
    """A request refused with ``status`` and ``message``, counted and logged under ``reason``
    (the status when none: a mistake of its own is logged apart from every other 404), with
    the method and ``detail`` (the path) when given, and answered with ``phrase`` as reason
    phrase when given."""

    def __init__(
        self, status: HTTPStatus, message: str, *, reason: str = "", detail: str = "", phrase: str = ""
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason
        self.detail = detail
        #: The answer's reason phrase, when not the status's own.
        self.phrase = phrase


def _traces_only_phrase(signal: str) -> str:
    """The reason phrase of the answer to ``signal`` sent here: the Python SDK's OTLP/HTTP
    exporters log the status and this phrase, never the body."""
    return (
        f"Not Found: the genai-cost gateway takes traces only; send {signal} to your collector "
        f"(OTEL_EXPORTER_OTLP_{signal.upper()}_ENDPOINT)"
    )


def _status_message(code: int, message: str) -> status_pb2.Status:
    return status_pb2.Status(code=code, message=message)


__all__ = ["MAX_HTTP_CONNECTIONS", "READ_TIMEOUT_S", "RETRY_AFTER_S", "GatewayHttpServer", "serve_http"]
