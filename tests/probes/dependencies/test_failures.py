"""Telling failure kinds apart from the exception chain, with reasons that never quote the URL."""

from __future__ import annotations

import socket
import ssl

import requests

from probes.dependencies.failures import Failure, TlsProblem, classify

URL_WITH_SECRET = (
    "HTTPSConnectionPool(host='pay.test', port=443): Max retries exceeded with url: /x?token=s3cr3t"
)


def chained(outer: BaseException, inner: BaseException) -> BaseException:
    outer.__cause__ = inner
    return outer


def test_reset_connection() -> None:
    failure = classify(
        chained(
            requests.ConnectionError(URL_WITH_SECRET), ConnectionResetError(104, "Connection reset by peer")
        )
    )
    assert failure.kind is Failure.CONNECTION
    assert failure.reason == "connection reset by peer"


def test_dns_reason_is_the_resolver_message() -> None:
    failure = classify(
        chained(requests.ConnectionError(URL_WITH_SECRET), socket.gaierror(-2, "Name or service not known"))
    )
    assert failure.kind is Failure.DNS
    assert failure.reason == "Name or service not known"


def test_proxy_error_is_its_own_kind() -> None:
    failure = classify(
        chained(
            requests.exceptions.ProxyError(URL_WITH_SECRET),
            OSError("Tunnel connection failed: 403 Forbidden"),
        )
    )
    assert failure.kind is Failure.PROXY
    assert failure.reason == "Tunnel connection failed: 403 Forbidden"


def test_handshake_failure_without_verification_error() -> None:
    error = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    error.reason = "WRONG_VERSION_NUMBER"
    failure = classify(chained(requests.exceptions.SSLError(URL_WITH_SECRET), error))
    assert failure.kind is Failure.TLS
    assert failure.tls_problem is TlsProblem.HANDSHAKE
    assert failure.reason == "WRONG_VERSION_NUMBER"


def test_reasons_never_quote_the_request_url() -> None:
    for error in (requests.ConnectionError(URL_WITH_SECRET), requests.ReadTimeout(URL_WITH_SECRET)):
        assert "s3cr3t" not in classify(error).reason
    assert classify(requests.ReadTimeout(URL_WITH_SECRET)).kind is Failure.READ_TIMEOUT


def test_a_certificate_that_cannot_be_decoded_has_no_known_expiry() -> None:
    from probes.dependencies.tls import from_der

    assert from_der(b"not a certificate", "payments.internal") is None
