"""The gateway's gRPC receiver beyond its call limit: back-pressure a sender retries.

grpcio's own limit (``maximum_concurrent_rpcs``) answered the calls beyond it
``RESOURCE_EXHAUSTED`` with no RetryInfo, which the OTLP specification says not to retry (the
Go SDK and the collector drop the batch). The receiver now answers them ``UNAVAILABLE`` with a
RetryInfo delay, as its HTTP side answers ``503`` with ``Retry-After``, and counts them as it
does. Real gRPC clients over loopback, against a real receiver.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import grpc
import pytest
from google.rpc import code_pb2, status_pb2
from google.rpc.error_details_pb2 import RetryInfo
from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from opentelemetry.sdk.trace.export import SpanExportResult

from genai_cost.gateway import CostGateway
from genai_cost.gateway_grpc import serve_grpc
from genai_cost.pricing.catalog import Catalog
from support.net import HOST, wait_for
from test_gateway import _agent, _Gated, _grpc_with_one_call_held, _in_thread, _record, _request

#: The codes the OTLP specification says to retry, without RESOURCE_EXHAUSTED (retryable only
#: with RetryInfo): what the Go SDK and the collector's exporter retry.
_SPEC_RETRYABLE = "CANCELLED,DEADLINE_EXCEEDED,ABORTED,OUT_OF_RANGE,UNAVAILABLE,DATA_LOSS"


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


def _retry_delay(error: grpc.RpcError) -> tuple[float | None, float | None]:
    """The delay the answer's RetryInfo gives, as the Python SDK reads it (its own trailer) and
    as Go reads it (the ``google.rpc.Status`` details); ``None`` where there is none."""
    trailers = dict(error.trailing_metadata() or ())  # type: ignore[attr-defined]
    plain = None
    if "google.rpc.retryinfo-bin" in trailers:
        info = RetryInfo.FromString(trailers["google.rpc.retryinfo-bin"])
        plain = info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    in_status = None
    if "grpc-status-details-bin" in trailers:
        status = status_pb2.Status.FromString(trailers["grpc-status-details-bin"])
        assert status.code == code_pb2.UNAVAILABLE and status.message == error.details()  # type: ignore[attr-defined]
        for detail in status.details:
            info = RetryInfo()
            if detail.Unpack(info):
                in_status = info.retry_delay.seconds + info.retry_delay.nanos / 1e9
    return plain, in_status


def test_a_call_beyond_the_limit_is_answered_unavailable_with_retry_info_and_counted(
    catalog: Catalog, caplog: pytest.LogCaptureFixture
) -> None:
    upstream, gateway, server, channel, export, first, first_out = _grpc_with_one_call_held(catalog)
    try:
        with caplog.at_level(logging.WARNING, logger="genai_cost.gateway"):
            started = time.monotonic()
            with pytest.raises(grpc.RpcError) as busy:
                export(_request(_record(_agent)), timeout=10)
            waited = time.monotonic() - started
        snapshot = gateway.stats_snapshot()
        upstream.release.set()
        first.join(10)
        assert isinstance(first_out[0], ExportTraceServiceResponse)
        assert isinstance(export(_request(_record(_agent)), timeout=10), ExportTraceServiceResponse)
    finally:
        upstream.release.set()
        channel.close()
        server.stop(grace=None)
    assert busy.value.code() is grpc.StatusCode.UNAVAILABLE, busy.value.details()
    assert "1 requests already in flight" in busy.value.details()
    assert _retry_delay(busy.value) == (1.0, 1.0)
    assert waited < 3  # refused at once, not after the call in flight (held up to 10 s)
    # As over HTTP (its 503s): a refusal to be retried, nothing of it priced.
    assert (snapshot["requests_refused"], snapshot["requests_busy"], snapshot["requests"]) == (1, 1, 1)
    assert gateway.stats.requests == 2 and len(upstream.memory.get_finished_spans()) == 6
    [line] = [r.getMessage() for r in caplog.records if "refused a request" in r.getMessage()]
    assert "busy, 1 so far" in line and "ipv4:127.0.0.1:" in line  # the sender named, as over HTTP


def test_a_burst_beyond_the_limit_is_answered_at_once_and_never_resource_exhausted(catalog: Catalog) -> None:
    """Twelve calls at once while the one call allowed is held: each is answered UNAVAILABLE
    without waiting for it, and none RESOURCE_EXHAUSTED."""
    upstream, gateway, server, channel, export, first, first_out = _grpc_with_one_call_held(catalog)
    body = _request(_record(_agent))
    codes: list[Any] = []
    lock = threading.Lock()

    def call() -> None:
        try:
            export(body, timeout=10)
            code = grpc.StatusCode.OK
        except grpc.RpcError as exc:
            code = exc.code()  # type: ignore[attr-defined]
        with lock:
            codes.append(code)

    try:
        started = time.monotonic()
        threads = [threading.Thread(target=call, daemon=True) for _ in range(12)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        waited = time.monotonic() - started
        assert first.is_alive()  # the call in flight is still held: nothing waited for it
        upstream.release.set()
        first.join(10)
    finally:
        upstream.release.set()
        channel.close()
        server.stop(grace=None)
    assert codes == [grpc.StatusCode.UNAVAILABLE] * 12
    assert waited < 5
    assert (gateway.stats.requests_busy, gateway.stats.requests_refused, gateway.stats.requests) == (12, 12, 1)


def test_a_sender_that_follows_the_specification_retries_and_delivers(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The SDK's own gRPC exporter made to retry what the OTLP specification says to retry, as
    the Go SDK and the collector do: told RESOURCE_EXHAUSTED without RetryInfo, it gave up and
    its batch was lost; told UNAVAILABLE, it retries after the delay given, and delivers."""
    monkeypatch.setenv("OTEL_PYTHON_EXPORTER_OTLP_GRPC_RETRYABLE_ERROR_CODES", _SPEC_RETRYABLE)
    upstream = _Gated()
    gateway = CostGateway(upstream, catalog=catalog, max_inflight=1)
    server = serve_grpc(gateway, HOST, 0)
    holder = GrpcExporter(endpoint=f"{HOST}:{server.port}", insecure=True, timeout=20)
    sender = GrpcExporter(endpoint=f"{HOST}:{server.port}", insecure=True, timeout=20)
    if {code.name for code in getattr(sender, "_retryable_error_codes", ())} != set(_SPEC_RETRYABLE.split(",")):
        pytest.skip("this SDK's gRPC exporter does not take its retryable codes from the variable")
    try:
        first, first_out = _in_thread(lambda: holder.export(_record(_agent)))
        assert upstream.entered.wait(10)
        second, second_out = _in_thread(lambda: sender.export(_record(_agent)))
        wait_for(lambda: gateway.stats.requests_busy >= 1, 10, "the sender to be told to retry")
        upstream.release.set()
        first.join(20)
        second.join(20)
    finally:
        upstream.release.set()
        holder.shutdown()
        sender.shutdown()
        server.stop(grace=None)
    assert first_out == [SpanExportResult.SUCCESS]
    assert second_out == [SpanExportResult.SUCCESS]
    assert len(upstream.memory.get_finished_spans()) == 6
