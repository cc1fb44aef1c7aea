"""Judging the certificates an HTTP check saw: days left before expiry, pure functions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from diagnostics import Finding, Measurement, Severity
from diagnostics.units import isoformat
from probes.dependencies.attempts import MakeFinding
from probes.dependencies.client_http import HttpCheck
from probes.dependencies.tls import CertificateInfo

OPENSSL = (
    "openssl s_client -connect {host}:{port} -servername {host} </dev/null"
    " | openssl x509 -noout -subject -issuer -dates"
)


@dataclass(frozen=True, slots=True, kw_only=True)
class CertificateLimits:
    warning_days: float
    critical_days: float


def certificate_details(certificate: CertificateInfo, observed_at: datetime) -> dict[str, Any]:
    return {
        "host": certificate.host,
        "subject": certificate.subject,
        "issuer": certificate.issuer,
        "not_after": isoformat(certificate.not_after),
        "days_left": round((certificate.not_after - observed_at) / timedelta(days=1), 2),
    }


def judge_certificate(check: HttpCheck, limits: CertificateLimits, *, make: MakeFinding) -> list[Finding]:
    """The soonest-expiring certificate seen by a successful connection (expired: when unverified)."""
    seen = [c for a in check.attempts for c in a.certificates]
    if not seen:
        return []
    certificate = min(seen, key=lambda c: c.not_after)
    days_left = (certificate.not_after - check.observed_at) / timedelta(days=1)
    if days_left < limits.critical_days:
        severity = Severity.CRITICAL
    elif days_left < limits.warning_days:
        severity = Severity.WARNING
    else:
        return []
    target = check.target
    parts = urlsplit(target.url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    when = f"{certificate.not_after:%Y-%m-%d %H:%MZ}"
    state = (
        f"expires in {days_left:.1f} days ({when})"
        if days_left >= 0
        else f"expired {-days_left:.1f} days ago ({when})"
    )
    return [
        make(
            kind="tls_expiry",
            severity=severity,
            title=f"{target.name}: TLS certificate of {certificate.host} {state}",
            entity=target.entity,
            summary=f"Certificate {certificate.subject!r} issued by {certificate.issuer!r}; "
            f"warning under {limits.warning_days:g} days, critical under {limits.critical_days:g}.",
            values=[
                Measurement(name="days left", value=round(days_left, 2), unit="days"),
                Measurement(name="warning under", value=limits.warning_days, unit="days"),
                Measurement(name="critical under", value=limits.critical_days, unit="days"),
            ],
            queries=[f"TLS handshake with {certificate.host} (GET {target.display_url})"],
            details=certificate_details(certificate, check.observed_at),
            onset=None,
            next_steps=[OPENSSL.format(host=certificate.host, port=port)],
        )
    ]
