"""The gateway's receivers over TLS and mutual TLS: real sockets, the SDK's own OTLP
exporters as clients, certificates made for the test by a throwaway CA."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from genai_cost.gateway import CostGateway
from genai_cost.gateway_grpc import serve_grpc
from genai_cost.gateway_http import serve_http
from genai_cost.gateway_tls import GatewayTls, TlsConfigError
from genai_cost.pricing.catalog import Catalog
from support.gateway import CHAT, CHAT_USD
from support.net import HOST


@dataclass
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    client_cert: Path
    client_key: Path
    #: A client certificate from another CA: valid, but not one the gateway trusts.
    stranger_cert: Path
    stranger_key: Path


def _key_and_cert(
    directory: Path, name: str, issuer: tuple[Any, Any] | None, *, ca: bool = False, server: bool = False
) -> tuple[Any, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    signer_key, signer_cert = issuer if issuer is not None else (key, None)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(signer_cert.subject if signer_cert is not None else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(hours=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()), critical=False)
    )
    if ca:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if server:
        builder = builder.add_extension(
            x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address(HOST))]),
            critical=False,
        )
    cert = builder.sign(signer_key, hashes.SHA256())
    (directory / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / f"{name}.key").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return key, cert


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    directory = tmp_path_factory.mktemp("pki")
    ca = _key_and_cert(directory, "ca", None, ca=True)
    _key_and_cert(directory, "server", ca, server=True)
    _key_and_cert(directory, "client", ca)
    stranger_ca = _key_and_cert(directory, "stranger-ca", None, ca=True)
    _key_and_cert(directory, "stranger", stranger_ca)
    return Pki(
        ca=directory / "ca.pem",
        server_cert=directory / "server.pem",
        server_key=directory / "server.key",
        client_cert=directory / "client.pem",
        client_key=directory / "client.key",
        stranger_cert=directory / "stranger.pem",
        stranger_key=directory / "stranger.key",
    )


def _sent() -> list[ReadableSpan]:
    memory = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "agent"}))
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("sender")
    with tracer.start_as_current_span("invoke_agent"):
        with tracer.start_as_current_span("chat gpt-4o", attributes=CHAT):
            pass
    provider.shutdown()
    return list(memory.get_finished_spans())


@pytest.fixture(autouse=True)
def _no_ca_bundle_override(monkeypatch: pytest.MonkeyPatch) -> None:
    """``requests`` lets these variables win over the exporter's own ``certificate_file``
    (psf/requests#3829); a machine that sets them would make the test CA untrusted."""
    for name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return Catalog.load()


@pytest.fixture
def gateway(catalog: Catalog) -> Iterator[tuple[CostGateway, InMemorySpanExporter]]:
    forwarded = InMemorySpanExporter()
    gateway = CostGateway(forwarded, catalog=catalog)
    yield gateway, forwarded
    gateway.shutdown()


def _priced(forwarded: InMemorySpanExporter) -> float:
    return sum(float((s.attributes or {}).get("gen_ai.cost.total_usd", 0.0)) for s in forwarded.get_finished_spans())


def _http_exporter(url: str, timeout: float = 5, **kwargs: Any) -> Any:
    """The SDK's OTLP/HTTP exporter; it retries a failed export until ``timeout`` runs out."""
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=url, timeout=timeout, **kwargs)


@contextmanager
def _https_port(cost_gateway: CostGateway, pki: Pki) -> Iterator[int]:
    """The gateway's OTLP/HTTP receiver over TLS (the test CA's server certificate) on a free port."""
    server = serve_http(cost_gateway, HOST, 0, tls=GatewayTls(pki.server_cert, pki.server_key))
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _export_over_tls(port: int, pki: Pki) -> None:
    exporter = _http_exporter(f"https://{HOST}:{port}/v1/traces", certificate_file=str(pki.ca))
    assert exporter.export(_sent()) is SpanExportResult.SUCCESS
    exporter.shutdown()


def test_otlp_http_over_tls(pki: Pki, gateway: tuple[CostGateway, InMemorySpanExporter]) -> None:
    """The SDK's HTTP exporter, trusting the test CA, sends over TLS; a client speaking plain
    HTTP to the same port is refused and counted, and the gateway serves on."""
    cost_gateway, forwarded = gateway
    with _https_port(cost_gateway, pki) as port:
        plain = _http_exporter(f"http://{HOST}:{port}/v1/traces", timeout=1)
        assert plain.export(_sent()) is SpanExportResult.FAILURE
        plain.shutdown()
        _export_over_tls(port, pki)
    assert _priced(forwarded) == pytest.approx(CHAT_USD)
    stats = cost_gateway.stats_snapshot()
    assert stats["requests"] == 1
    assert stats["requests_refused"] >= 1  # the plain-HTTP client (its exporter may retry)


def test_plain_http_to_the_tls_port_gets_a_readable_refusal(
    pki: Pki, gateway: tuple[CostGateway, InMemorySpanExporter]
) -> None:
    """A client that forgot ``https://`` used to get an empty reply (curl: "Empty reply from
    server"), which reads as a gateway crash. It now gets a 400 naming the mistake, is counted,
    and the next TLS client is served."""
    import http.client

    cost_gateway, forwarded = gateway
    with _https_port(cost_gateway, pki) as port:
        client = http.client.HTTPConnection(HOST, port, timeout=5)
        client.request("POST", "/v1/traces", body=b"x" * 100_000, headers={"Content-Type": "application/x-protobuf"})
        response = client.getresponse()
        body = response.read().decode()
        client.close()
        assert response.status == 400
        assert f"https://{HOST}:{port}/v1/traces" in body  # the address the client reached
        assert "TLS" in body
        _export_over_tls(port, pki)
    assert _priced(forwarded) == pytest.approx(CHAT_USD)
    stats = cost_gateway.stats_snapshot()
    assert stats["requests_refused"] == 1
    assert stats["requests"] == 1


def test_otlp_http_with_client_certificates(pki: Pki, gateway: tuple[CostGateway, InMemorySpanExporter]) -> None:
    """With a client CA, only clients presenting a certificate it signed get in."""
    cost_gateway, forwarded = gateway
    tls = GatewayTls(pki.server_cert, pki.server_key, client_ca_file=pki.ca)
    server = serve_http(cost_gateway, HOST, 0, tls=tls)
    url = f"https://{HOST}:{server.server_address[1]}/v1/traces"
    try:
        attempts = {
            "no certificate": {},
            "a certificate of another CA": {
                "client_certificate_file": str(pki.stranger_cert),
                "client_key_file": str(pki.stranger_key),
            },
            "a certificate of the CA": {
                "client_certificate_file": str(pki.client_cert),
                "client_key_file": str(pki.client_key),
            },
        }
        results = {}
        for what, options in attempts.items():
            succeeds = what == "a certificate of the CA"
            exporter = _http_exporter(url, timeout=5 if succeeds else 1, certificate_file=str(pki.ca), **options)
            results[what] = exporter.export(_sent())
            exporter.shutdown()
    finally:
        server.shutdown()
        server.server_close()
    assert results == {
        "no certificate": SpanExportResult.FAILURE,
        "a certificate of another CA": SpanExportResult.FAILURE,
        "a certificate of the CA": SpanExportResult.SUCCESS,
    }
    assert cost_gateway.stats_snapshot()["requests"] == 1
    assert _priced(forwarded) == pytest.approx(CHAT_USD)


@pytest.mark.parametrize("mutual", [False, True])
def test_otlp_grpc_over_tls(pki: Pki, mutual: bool, gateway: tuple[CostGateway, InMemorySpanExporter]) -> None:
    import grpc
    from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

    cost_gateway, forwarded = gateway
    tls = GatewayTls(pki.server_cert, pki.server_key, client_ca_file=pki.ca if mutual else None)
    server = serve_grpc(cost_gateway, HOST, 0, tls=tls)
    try:
        trusting = grpc.ssl_channel_credentials(root_certificates=pki.ca.read_bytes())
        with_certificate = grpc.ssl_channel_credentials(
            root_certificates=pki.ca.read_bytes(),
            private_key=pki.client_key.read_bytes(),
            certificate_chain=pki.client_cert.read_bytes(),
        )
        endpoint = f"{HOST}:{server.port}"
        if mutual:
            refused = OTLPSpanExporter(endpoint=endpoint, credentials=trusting, timeout=1)
            assert refused.export(_sent()) is SpanExportResult.FAILURE
            refused.shutdown()
        plaintext = OTLPSpanExporter(endpoint=endpoint, insecure=True, timeout=1)
        assert plaintext.export(_sent()) is SpanExportResult.FAILURE
        plaintext.shutdown()
        exporter = OTLPSpanExporter(endpoint=endpoint, credentials=with_certificate if mutual else trusting, timeout=5)
        assert exporter.export(_sent()) is SpanExportResult.SUCCESS
        exporter.shutdown()
    finally:
        server.stop(grace=None)
    assert cost_gateway.stats_snapshot()["requests"] == 1
    assert _priced(forwarded) == pytest.approx(CHAT_USD)


def test_unusable_tls_files_are_named(pki: Pki, tmp_path: Path) -> None:
    missing = tmp_path / "missing.pem"
    with pytest.raises(TlsConfigError) as raised:
        GatewayTls(missing, pki.server_key).server_context()
    assert str(raised.value) == f"{missing} (--tls-cert): no such file"
    with pytest.raises(TlsConfigError) as raised:
        GatewayTls(pki.server_cert, pki.server_key, tmp_path).server_context()
    assert str(raised.value) == f"{tmp_path} (--tls-client-ca): a directory, not a file"
    with pytest.raises(TlsConfigError, match="not a PEM certificate chain and its matching"):
        GatewayTls(pki.server_cert, pki.client_key).server_context()  # the wrong key
    not_pem = tmp_path / "ca.txt"
    not_pem.write_text("not a certificate\n")
    with pytest.raises(TlsConfigError, match=f"{not_pem}: not a PEM CA certificate"):
        GatewayTls(pki.server_cert, pki.server_key, not_pem).server_context()


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "genai_cost.cli", "gateway", "--grpc", "off", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "OTEL_TRACES_EXPORTER": "console"},
    )


def test_cli_refuses_tls_it_cannot_use(pki: Pki, tmp_path: Path) -> None:
    done = _cli("--tls-cert", str(pki.server_cert))
    assert done.returncode == 2
    assert "TLS needs both --tls-cert and --tls-key" in done.stderr
    done = _cli("--tls-cert", str(tmp_path / "nope.pem"), "--tls-key", str(pki.server_key))
    assert done.returncode == 2
    assert f"cannot use the TLS files: {tmp_path / 'nope.pem'} (--tls-cert): no such file" in done.stderr


def test_an_encrypted_key_is_refused_naming_it_and_never_asks_for_a_pass_phrase(pki: Pki, tmp_path: Path) -> None:
    """OpenSSL asked for the pass phrase on the terminal (a service's start waited there),
    then the command ended in a traceback, exit 1 (gateway audit, 2026-11-23)."""
    key = serialization.load_pem_private_key(pki.server_key.read_bytes(), password=None)
    encrypted = tmp_path / "encrypted.key"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(TlsConfigError, match="an encrypted private key"):
        GatewayTls(pki.server_cert, encrypted).server_context()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "genai_cost.cli",
            "gateway",
            "--grpc",
            "off",
            "--tls-cert",
            str(pki.server_cert),
            "--tls-key",
            str(encrypted),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "OTEL_TRACES_EXPORTER": "console"},
        start_new_session=True,  # no terminal for OpenSSL to ask on
    )
    assert done.returncode == 2, done.stderr
    assert f"{encrypted}: an encrypted private key" in done.stderr
    assert "Traceback" not in done.stderr


def test_cli_gateway_over_tls(pki: Pki) -> None:
    """The command as a user runs it, with TLS on its HTTP receiver."""
    from support.gateway import GatewayProcess

    with GatewayProcess(
        {"OTEL_TRACES_EXPORTER": "console"},
        args=("--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key)),
    ) as process:
        url = process.url.replace("http://", "https://")
        exporter = _http_exporter(url, certificate_file=str(pki.ca))
        assert exporter.export(_sent()) is SpanExportResult.SUCCESS
        exporter.shutdown()
        process.stop()
    assert process.returncode == 0, process.stderr
    assert f"OTLP/HTTP on {url}" in process.stderr
    assert f'"gen_ai.trace.cost.total_usd": {CHAT_USD}' in process.stdout
