"""``deps.http``: are the HTTP(S) endpoints this service depends on up, correct, fast and trusted?

Signals, per ``url`` entry of the ``dependencies`` section, over ``attempts`` (default 3)
attempts, each on a fresh connection with its own timeout (default 5s, connect and read):

- failures told apart (finding kind): ``dns_failure``, ``connect_refused``, ``connect_timeout``,
  ``tls_error`` (expired, hostname mismatch, untrusted, handshake), ``proxy_error``,
  ``connection_error``, ``read_timeout``, ``redirect_loop`` (more than ``max_redirects``,
  default 5), ``http_status`` (default: any 2xx/3xx is fine), ``http_body`` (``expect_body``).
  More than half of the attempts failed: critical; fewer: warning.
- ``http_latency``: median of the successful attempts >= ``latency_warning`` (default 1s) or
  ``latency_critical`` (default 3s); a single attempt above critical: warning. Evidence splits
  the time into DNS, connect, TLS, processing (to the first byte) and transfer.
- ``tls_expiry``: the server certificate expires in under 14 days (warning) or 3 (critical).

HTTP(S)_PROXY, NO_PROXY and REQUESTS_CA_BUNDLE are honoured as requests does. Checks run on at
most ``concurrency`` (default 32) threads. A dependency check observes the present: findings
have no ``onset`` (no history says when the failure began) but ``seen_at`` = ``--at``, shown as
"seen now", and say so when ``--at`` lies in the past. Entries of other kinds are
left to ``deps.tcp`` and ``deps.statuspage``; with no ``url`` entry this probe finds nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from pydantic import Field

from diagnostics import ChecklistItem, Duration, Finding, Probe, ProbeContext, ProbeOptions
from probes.dependencies.config import (
    KIND_HINTS,
    SECTION,
    Dependency,
    describe_entries,
    entries_to_check,
)

if TYPE_CHECKING:
    from probes.dependencies.client_http import HttpTarget
    from probes.dependencies.environment import TransportEnvironment


class HttpOptions(ProbeOptions):
    """Defaults of ``deps.http``; each entry may override the per-dependency ones."""

    timeout: Duration = timedelta(seconds=20)
    """The whole probe's deadline (every attempt of every entry)."""
    concurrency: int = Field(32, ge=1, le=256)
    """Requests in flight at once at most."""
    attempts: int = Field(3, ge=1, le=10)
    """Requests per dependency; the findings say how many failed."""
    request_timeout: Duration = timedelta(seconds=5)
    """One request's time limit, connect to last byte."""
    latency_warning: Duration = timedelta(seconds=1)
    """A median response time this slow is a warning."""
    latency_critical: Duration = timedelta(seconds=3)
    """A median response time this slow is critical."""
    max_redirects: int = Field(5, ge=0, le=30)
    """Redirects followed before the check fails as a redirect loop."""
    max_body_bytes: int = Field(1024 * 1024, ge=1024)
    """Bytes of a body read at most (for ``expect_body``)."""
    cert_expiry_warning: Duration = timedelta(days=14)
    """A TLS certificate expiring within this is a warning."""
    cert_expiry_critical: Duration = timedelta(days=3)
    """A TLS certificate expiring within this is critical."""
    user_agent: str = "diag (deps.http)"
    """The User-Agent header sent."""


class HttpProbe(Probe):
    id = "deps.http"
    checklist_item = ChecklistItem.DEPENDENCIES
    description = "HTTP dependencies: status, body, latency by phase, TLS and its expiry, redirects"
    options_model = HttpOptions
    backend_section = SECTION

    setup_hint = KIND_HINTS["url"]

    @classmethod
    def targets(cls, backend: Any) -> str:
        return describe_entries(backend, "url")

    def run(self, ctx: ProbeContext[HttpOptions]) -> Iterable[Finding]:
        from probes.dependencies.attempts import not_checked
        from probes.dependencies.client_http import assemble, attempt_http, prepare_request
        from probes.dependencies.environment import read_environment
        from probes.dependencies.judge_http import judge_http
        from probes.dependencies.judge_tls import CertificateLimits
        from probes.dependencies.phases import ThreadSessions
        from probes.dependencies.pool import checks_deadline, sweep_attempts

        options = ctx.options
        entries = entries_to_check(ctx, "url")
        environment = read_environment()
        targets = [http_target(entry, options, environment) for entry in entries]
        prepared = {id(target): prepare_request(target) for target in targets}
        deadline, wait_until = checks_deadline(ctx)
        sessions = ThreadSessions()
        ctx.logger.debug("checking %d HTTP dependencies, %d at a time", len(targets), options.concurrency)
        try:
            made = sweep_attempts(
                targets,
                lambda target, number: attempt_http(
                    target,
                    prepared[id(target)],
                    sessions.get(),
                    deadline=deadline,
                    read_certificate_on_failure=number == 0,
                ),
                attempts=lambda target: target.attempts,
                concurrency=options.concurrency,
                deadline=deadline,
                wait_until=wait_until,
                name="diag-deps-http",
            )
        finally:
            sessions.close()
        limits = CertificateLimits(
            warning_days=options.cert_expiry_warning / timedelta(days=1),
            critical_days=options.cert_expiry_critical / timedelta(days=1),
        )
        findings: list[Finding] = []
        unchecked = []
        for target, attempts in zip(targets, made, strict=True):
            check = assemble(target, attempts)
            if check is None:
                unchecked.append(target.name)
                continue
            findings += judge_http(check, limits, at=ctx.at, make=ctx.finding)
        if unchecked:
            findings.append(
                not_checked(
                    unchecked,
                    probe_id=self.id,
                    timeout_s=options.timeout.total_seconds(),
                    make=ctx.finding,
                    at=ctx.at,
                )
            )
        return findings


def http_target(entry: Dependency, options: HttpOptions, environment: TransportEnvironment) -> HttpTarget:
    """The entry with every default filled in from the options and the environment."""
    from probes.dependencies.client_http import BodyExpectation, HttpTarget
    from probes.dependencies.environment import proxies_for, verify_setting

    assert entry.url is not None
    return HttpTarget(
        name=entry.name,
        entity=entry.entity(),
        url=entry.url,
        headers=dict(entry.headers),
        attempts=entry.attempts or options.attempts,
        timeout_s=(entry.timeout or options.request_timeout).total_seconds(),
        verify=verify_setting(
            verify_tls=entry.verify_tls, ca_bundle=entry.ca_bundle, environment=environment
        ),
        max_redirects=options.max_redirects if entry.max_redirects is None else entry.max_redirects,
        max_body_bytes=options.max_body_bytes,
        expect_status=entry.expect_status,
        expect_body=BodyExpectation(text=entry.expect_body) if entry.expect_body else None,
        latency_warning_s=(entry.latency_warning or options.latency_warning).total_seconds(),
        latency_critical_s=(entry.latency_critical or options.latency_critical).total_seconds(),
        proxies=proxies_for(entry.url, environment),
        user_agent=options.user_agent,
    )
