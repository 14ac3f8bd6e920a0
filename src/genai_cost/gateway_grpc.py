"""The gateway's OTLP/gRPC receiver (``TraceService/Export``), in plain gRPC or over TLS.

A module of its own because grpcio's server is made to answer for itself, and the gateway
must answer as its HTTP receiver does. A call's request arrives as bytes and is decoded
here, so that one that is not OTLP is refused, counted and logged, not answered
``INTERNAL`` by grpcio unseen. Beyond the gateway's ``max_inflight`` calls at once, a call is
answered ``UNAVAILABLE`` with RetryInfo, unread, as the HTTP receiver answers ``503`` with
``Retry-After``: what the OTLP specification asks of back-pressure. grpcio's own limit
(``maximum_concurrent_rpcs``) answers ``RESOURCE_EXHAUSTED`` without RetryInfo, which senders
that follow the specification (the Go SDK, the collector) do not retry: their batch was lost.
So grpcio's limit is set beyond the gateway's, at the threads that answer those calls, and the
calls it still refuses itself (all of those threads busy) are counted by an interceptor
(:class:`_GrpcLimitWatch`). grpc is imported only when the receiver starts. Each request goes
to :meth:`~genai_cost.gateway.CostGateway.accept`, and its answer or refusal becomes the
call's status. The metrics and logs services have handlers too, which only refuse: without
them gRPC answers their calls ``UNIMPLEMENTED`` itself, unseen, and saying nothing of why.
The standard health service (``grpc.health.v1.Health/Check``) answers as ``GET /health``
does: ``SERVING`` until the gateway stops, then ``NOT_SERVING``.
"""

from __future__ import annotations

import errno
import ipaddress
import threading
from collections.abc import Callable, Iterator
from concurrent import futures
from typing import Any, NoReturn

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from .gateway import (
    MAX_REQUEST_BYTES,
    UPSTREAM_FAILED,
    CostGateway,
    TooManySpans,
    Unavailable,
    busy_message,
    response,
    retry_trailers,
    traces_only,
    upstream_refused,
)
from .gateway_tls import GatewayTls
from .otlp_in import OtlpDecodeError, parse_protobuf


def serve_grpc(
    gateway: CostGateway, host: str = "127.0.0.1", port: int = 4317, *, workers: int = 0, tls: GatewayTls | None = None
) -> Any:
    """Serve OTLP/gRPC (``TraceService/Export``), over TLS with ``tls``; returns the
    started ``grpc.Server`` (stop it with ``server.stop(grace)``, after
    :meth:`~genai_cost.gateway.CostGateway.begin_stop`) and its bound port as
    ``server.port``. It works on the gateway's ``max_inflight`` calls at once and answers
    those beyond ``UNAVAILABLE`` on :data:`SPARE_WORKERS` threads more, unless ``workers``
    says how many threads in all (and calls at once, beyond which gRPC refuses them itself).
    Raises :class:`~genai_cost.gateway_tls.TlsConfigError` for unusable TLS files."""
    import grpc

    inflight = gateway.max_inflight
    #: Calls being read, decoded, priced or forwarded, as over HTTP: a body is up to 20 MiB.
    admission = threading.BoundedSemaphore(inflight)

    def unavailable(context: Any, message: str) -> NoReturn:
        """End the call ``UNAVAILABLE``, saying when to retry."""
        context.set_trailing_metadata(retry_trailers(message))
        context.abort(grpc.StatusCode.UNAVAILABLE, message)
        raise RuntimeError(message)  # (abort raises)

    def export(bodies: Iterator[bytes], context: Any) -> ExportTraceServiceResponse:
        # Taken as a stream of bytes (a unary call sends one message; no deserializer): gRPC
        # reads a unary request whole before the handler runs, so a call refused for
        # back-pressure would first hold a thread until its 20 MiB arrived; and gRPC's own
        # decoder would answer a body that is not protobuf INTERNAL, uncounted.
        peer = str(context.peer())
        if not admission.acquire(blocking=False):
            message = busy_message(inflight)
            gateway.refuse_busy("busy", peer, message)
            unavailable(context, message)
        try:
            accepted = gateway.accept(
                _grpc_request(gateway, next(bodies, None), peer), peer=peer, time_left_s=context.time_remaining()
            )
        except OtlpDecodeError as exc:  # counted and logged by _grpc_request
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            raise  # (abort raises)
        except Unavailable as exc:  # counted and logged by accept
            unavailable(context, str(exc))
        except TooManySpans as exc:  # not RESOURCE_EXHAUSTED: exporters retry that, to no end
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, str(exc))
            raise
        finally:
            admission.release()
        if accepted.refusal is not None:  # not UNAVAILABLE: a retry would be refused again
            context.abort(grpc.StatusCode.INTERNAL, upstream_refused(accepted.refusal))
        if not accepted.forwarded:
            unavailable(context, UPSTREAM_FAILED)
        return response(accepted)

    # Never more calls at once than threads: a call beyond is refused by gRPC at once, not
    # queued for a thread (a queue a flood of senders would make as long as it liked). The
    # spare threads answer the calls beyond ``inflight`` UNAVAILABLE, which takes them a moment
    # each (nothing is read); gRPC refuses a call itself only when every one of them is busy.
    threads = workers or inflight + SPARE_WORKERS
    watch = _GrpcLimitWatch(gateway)
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="genai-cost-gateway-grpc"),
        interceptors=[watch],
        options=[
            ("grpc.max_receive_message_length", MAX_REQUEST_BYTES),
            # gRPC sets SO_REUSEPORT by default: a second gateway (or collector) on the same
            # port would start without a word and take part of the senders' traffic.
            ("grpc.so_reuseport", 0),
        ],
        maximum_concurrent_rpcs=threads,
    )
    watch.state = getattr(server, "_state", None)
    encode = ExportTraceServiceResponse.SerializeToString
    method = grpc.stream_unary_rpc_method_handler(export, response_serializer=encode)
    # Where the traces go, for the hint the other signals' senders get (the port once bound).
    traces_at = {"endpoint": ""}

    def refuse(signal: str) -> Any:
        def export_other(bodies: Iterator[bytes], context: Any) -> bytes:
            # (a stream, unread: refused without waiting for its body, protobuf or not)
            message = traces_only(signal, traces_at["endpoint"])
            gateway.refused(f"{signal}, not traces", str(context.peer()), f"{signal} Export: {message}")
            context.abort(grpc.StatusCode.UNIMPLEMENTED, message)
            return b""  # (abort raises)

        return grpc.stream_unary_rpc_method_handler(export_other)

    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(_TRACE_SERVICE, {"Export": method}),
            grpc.method_handlers_generic_handler(_METRICS_SERVICE, {"Export": refuse("metrics")}),
            grpc.method_handlers_generic_handler(_LOGS_SERVICE, {"Export": refuse("logs")}),
            grpc.method_handlers_generic_handler(_HEALTH_SERVICE, {"Check": _health_check(grpc, gateway)}),
        )
    )
    address = f"{_bracketed(host)}:{port}"
    try:
        if tls is None:
            bound = server.add_insecure_port(address)
        else:
            bound = server.add_secure_port(address, tls.grpc_credentials())
    except RuntimeError:  # grpc's "Failed to bind": what the socket would have said
        bound = 0
    if bound == 0:
        raise OSError(errno.EADDRINUSE, "the address is in use, or not one of this machine's")
    scheme = "http" if tls is None else "https"
    traces_at["endpoint"] = f"{scheme}://{_bracketed(_named_host(host))}:{bound}"
    server.start()
    server.port = bound
    return server


#: Threads beyond the gateway's ``max_inflight`` that answer the calls beyond it ``UNAVAILABLE``.
#: Such an answer takes a thread a moment, so a few answer bursts of many; what matters is that
#: they are not the threads of the calls being worked on, which may wait on the upstream.
SPARE_WORKERS = 16


_TRACE_SERVICE = "opentelemetry.proto.collector.trace.v1.TraceService"
#: The services of the signals the gateway does not take, named as their own descriptors name them.
_METRICS_SERVICE = metrics_service_pb2.DESCRIPTOR.services_by_name["MetricsService"].full_name
_LOGS_SERVICE = logs_service_pb2.DESCRIPTOR.services_by_name["LogsService"].full_name


_HEALTH_SERVICE = "grpc.health.v1.Health"
#: ``HealthCheckResponse.ServingStatus`` values (grpc/health/v1/health.proto).
_SERVING, _NOT_SERVING = 1, 2


def _health_check(grpc: Any, gateway: CostGateway) -> Any:
    """The handler of ``grpc.health.v1.Health/Check``, as a Kubernetes ``grpc`` probe or
    ``grpc_health_probe`` calls it: ``SERVING`` while the gateway takes requests,
    ``NOT_SERVING`` once it is stopping (as ``GET /health`` answers ``503``), for the whole
    server (``""``) and for the trace service; ``NOT_FOUND`` for another service, as the
    health protocol says. ``Watch`` is not served (``UNIMPLEMENTED``): probes use ``Check``."""
    request_type, response_type = _health_messages()
    known = ("", _TRACE_SERVICE)

    def check(request: Any, context: Any) -> Any:
        if request.service not in known:
            message = f"no service {request.service!r} here: ask for '' or {_TRACE_SERVICE}"
            context.abort(grpc.StatusCode.NOT_FOUND, message)
        return response_type(status=_NOT_SERVING if gateway.stopping else _SERVING)

    return grpc.unary_unary_rpc_method_handler(
        check, request_deserializer=request_type.FromString, response_serializer=response_type.SerializeToString
    )


def _health_messages() -> tuple[Any, Any]:
    """The health protocol's two messages, built by protobuf from their descriptor (the
    few fields of grpc/health/v1/health.proto), in a pool of their own: not a dependency on
    grpcio-health-checking, whose releases require the newest grpcio and protobuf."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

    field = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(name="grpc/health/v1/health.proto", package="grpc.health.v1")
    proto.syntax = "proto3"
    request = proto.message_type.add(name="HealthCheckRequest")
    request.field.add(name="service", number=1, type=field.TYPE_STRING, label=field.LABEL_OPTIONAL)
    response = proto.message_type.add(name="HealthCheckResponse")
    statuses = response.enum_type.add(name="ServingStatus")
    for number, name in enumerate(("UNKNOWN", "SERVING", "NOT_SERVING", "SERVICE_UNKNOWN")):
        statuses.value.add(name=name, number=number)
    response.field.add(
        name="status",
        number=1,
        type=field.TYPE_ENUM,
        type_name=".grpc.health.v1.HealthCheckResponse.ServingStatus",
        label=field.LABEL_OPTIONAL,
    )
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return (
        message_factory.GetMessageClass(pool.FindMessageTypeByName("grpc.health.v1.HealthCheckRequest")),
        message_factory.GetMessageClass(pool.FindMessageTypeByName("grpc.health.v1.HealthCheckResponse")),
    )


def _grpc_request(gateway: CostGateway, body: bytes | None, peer: str) -> ExportTraceServiceRequest:
    """The request a gRPC call carries (``None``: a call that ended with none); one that is
    not OTLP/protobuf is counted and logged as refused, and raises
    :class:`~genai_cost.otlp_in.OtlpDecodeError`."""
    try:
        if body is None:
            raise OtlpDecodeError("the call carried no request message")
        return parse_protobuf(body)
    except OtlpDecodeError as exc:
        gateway.refused("not OTLP", peer, str(exc))
        raise


class _GrpcLimitWatch:
    """A gRPC server interceptor that counts (in ``requests_busy``) and logs the calls gRPC
    refuses itself, ``RESOURCE_EXHAUSTED``, beyond ``maximum_concurrent_rpcs`` (every thread of
    the receiver busy, :data:`SPARE_WORKERS`): those never reach the servicer, nor anything
    else of the gateway's.

    gRPC (``grpc._server``) runs the interceptors of every call before that check, on its
    serving thread and with its server state locked, then refuses the call when the state's
    ``active_rpc_count`` has reached ``maximum_concurrent_rpcs``. Read here, under that same
    lock, the two give the same answer as the check that follows. They are private to grpc,
    so they are read with care: a grpc release without them leaves these refusals uncounted,
    as they were (docs/gateway.md), and never fails a call."""

    def __init__(self, gateway: CostGateway) -> None:
        self.gateway = gateway
        #: The grpc server's private state (``server._state``), set once the server exists.
        self.state: Any = None

    def intercept_service(self, continuation: Callable[[Any], Any], details: Any) -> Any:
        handler = continuation(details)
        limit = getattr(self.state, "maximum_concurrent_rpcs", None)
        active = getattr(self.state, "active_rpc_count", None)
        # (no handler: gRPC answers UNIMPLEMENTED, and does not look at the limit)
        if handler is not None and isinstance(limit, int) and isinstance(active, int) and active >= limit:
            self.gateway.refuse_busy(
                "busy",
                "a gRPC client (gRPC does not name it)",
                f"{limit} gRPC calls already in progress, every thread of the receiver busy: gRPC answered "
                "RESOURCE_EXHAUSTED itself",
            )
        return handler


def _named_host(host: str) -> str:
    """``host`` as a sender would name it: not the every-address one it listens on."""
    try:
        unspecified = not host or ipaddress.ip_address(host.strip("[]")).is_unspecified
    except ValueError:  # a name
        unspecified = False
    return "<the gateway's host>" if unspecified else host


def _bracketed(host: str) -> str:
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


__all__ = ["SPARE_WORKERS", "serve_grpc"]
