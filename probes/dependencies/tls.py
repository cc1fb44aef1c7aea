"""Reading a server's TLS certificate: what it names, who issued it, when it expires.

A verified connection exposes the decoded certificate through the standard library. An
unverified one (``verify_tls: false``, or the second look taken after a verification failure
to say *why* it failed) only gives the DER bytes, decoded with ``cryptography`` when it is
installed; without it the expiry of an unverified certificate is unknown.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateInfo:
    """The leaf certificate a server presented."""

    host: str
    """The host the connection went to."""
    subject: str
    issuer: str
    not_after: datetime


def _first(attributes: Iterable[Any], key: str) -> str | None:
    for rdn in attributes:
        for name, value in rdn:
            if name == key:
                return str(value)
    return None


def _from_decoded(decoded: dict[str, Any], host: str) -> CertificateInfo:
    sans = [value for _, value in decoded.get("subjectAltName", ())]
    subject = _first(decoded.get("subject", ()), "commonName") or (sans[0] if sans else "?")
    issuer_attrs = decoded.get("issuer", ())
    issuer = _first(issuer_attrs, "commonName") or _first(issuer_attrs, "organizationName") or "?"
    not_after = datetime.fromtimestamp(ssl.cert_time_to_seconds(decoded["notAfter"]), UTC)
    return CertificateInfo(host=host, subject=subject, issuer=issuer, not_after=not_after)


def from_der(der: bytes, host: str) -> CertificateInfo | None:
    """Decode a DER certificate with ``cryptography``; None when it cannot be decoded."""
    try:
        from cryptography import x509
        from cryptography.x509.oid import ExtensionOID, NameOID
    except ImportError:
        return None
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        return None  # not a certificate cryptography can parse: its expiry stays unknown

    def common_name(name: x509.Name) -> str | None:
        values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(values[0].value) if values else None

    subject = common_name(cert.subject)
    if subject is None:
        try:
            alt = cert.extensions.get_extension_for_oid(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
            names = [str(n.value) for n in alt.value]  # type: ignore[attr-defined]
            subject = names[0] if names else None
        except x509.ExtensionNotFound:
            subject = None
    issuer = common_name(cert.issuer) or cert.issuer.rfc4514_string() or "?"
    return CertificateInfo(
        host=host,
        subject=subject or cert.subject.rfc4514_string() or "?",
        issuer=issuer,
        not_after=cert.not_valid_after_utc,
    )


def from_socket(sock: ssl.SSLSocket, host: str) -> CertificateInfo | None:
    """The peer certificate of an established TLS connection."""
    try:
        decoded = sock.getpeercert()
        if decoded:
            return _from_decoded(dict(decoded), host)
        der = sock.getpeercert(binary_form=True)
    except (ValueError, KeyError, ssl.SSLError):
        return None
    return from_der(der, host) if der else None


def fetch_unverified(host: str, port: int, *, timeout: float) -> CertificateInfo | None:
    """Handshake without verification only to read the certificate (after a failed verification)."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with (
            socket.create_connection((host, port), timeout=timeout) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            der = tls.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError, ValueError):
        return None
    return from_der(der, host) if der else None
