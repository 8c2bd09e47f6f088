"""MLLP over TLS with the clinic's interface engine, mutually authenticated both ways.

MLLP itself has no sign-in and sends PHI (names, dates of birth) in the clear. With TLS on,
both links are encrypted and each side proves who it is with a certificate signed by the CA
the clinic names: the outbox checks the engine's certificate (and that it is for the host in
`hl7_peer`) and shows its own; the listener accepts only an engine that shows a certificate
signed by that CA, on top of the address check.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Hl7Tls:
    """The CA that signs the engine's certificate, and our own certificate and key (PEM)."""

    ca: Path
    cert: Path
    key: Path

    def client(self) -> ssl.SSLContext:
        """For the outbox: the engine's certificate verified, ours shown."""
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(self.ca))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(str(self.cert), str(self.key))
        return context

    def server(self) -> ssl.SSLContext:
        """For the listener: ours shown, the engine's required and verified."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(self.ca))
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.verify_mode = ssl.CERT_REQUIRED
        context.load_cert_chain(str(self.cert), str(self.key))
        return context
