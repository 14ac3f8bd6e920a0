"""TLS for the gateway's receivers, configured as the collector's receivers are.

The gateway often runs as a shared service that agents in other hosts or
clusters send to, and their spans carry prompts. A server certificate and key
(PEM) encrypt both receivers; a client CA file also makes them require a
certificate signed by it (mutual TLS), the collector's ``cert_file``,
``key_file`` and ``client_ca_file``.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class TlsConfigError(ValueError):
    """A certificate, key or CA file that cannot be used; the message names the file."""


@dataclass(frozen=True)
class GatewayTls:
    """The receivers' server certificate chain and key (PEM files), and the CA
    that client certificates must chain to, when clients must present one."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None

    def server_context(self) -> ssl.SSLContext:
        """An SSL context for the HTTP receiver. Raises :class:`TlsConfigError`
        naming the file that cannot be read or used."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        files = (("--tls-cert", self.cert_file), ("--tls-key", self.key_file), ("--tls-client-ca", self.client_ca_file))
        for flag, path in files:
            if path is not None and not path.is_file():
                what = "a directory, not a file" if path.is_dir() else "no such file"
                raise TlsConfigError(f"{path} ({flag}): {what}")
        try:
            # A password callable, so that OpenSSL never asks for a pass phrase on the
            # terminal (a service's start would wait there): an encrypted key is refused.
            context.load_cert_chain(self.cert_file, self.key_file, password=_no_pass_phrase)
        except _EncryptedKey:
            raise TlsConfigError(
                f"{self.key_file}: an encrypted private key (it asks for a pass phrase); give the gateway"
                f" the key unencrypted (openssl pkey -in {self.key_file} -out <file>), readable only by it"
            ) from None
        except (ssl.SSLError, OSError) as exc:
            reason = exc.reason if isinstance(exc, ssl.SSLError) else exc.strerror
            raise TlsConfigError(
                f"{self.cert_file} and {self.key_file}: not a PEM certificate chain and its matching, "
                f"unencrypted private key ({reason or exc})"
            ) from None
        if self.client_ca_file is not None:
            try:
                context.load_verify_locations(cafile=self.client_ca_file)
            except ssl.SSLError as exc:
                raise TlsConfigError(f"{self.client_ca_file}: not a PEM CA certificate ({exc.reason or exc})") from None
            context.verify_mode = ssl.CERT_REQUIRED
        return context

    def grpc_credentials(self) -> Any:
        """``grpc.ServerCredentials`` for the gRPC receiver. The files are checked
        with :meth:`server_context` first: gRPC itself reports a bad file only in
        its own log, as a port it cannot bind."""
        import grpc

        self.server_context()
        ca = self.client_ca_file.read_bytes() if self.client_ca_file is not None else None
        return grpc.ssl_server_credentials(
            [(self.key_file.read_bytes(), self.cert_file.read_bytes())],
            root_certificates=ca,
            require_client_auth=ca is not None,
        )


class _EncryptedKey(Exception):
    """Raised from the pass-phrase callable: the key is encrypted."""


def _no_pass_phrase() -> bytes:
    raise _EncryptedKey
