"""Several clusters from one place: ``kubernetes: {contexts: [prod-eu, prod-us]}``.

Every Kubernetes probe derives from :class:`KubernetesProbe` and implements ``check``: one
context's list calls and judging, exactly as with a single ``context``. With ``contexts``, the
probe checks every listed context in the same run, at most :data:`MAX_PARALLEL_CONTEXTS` at once,
all within the probe's deadline (each context's calls draw on the same deadline):

- each finding's entity is named ``CONTEXT/NAME`` and carries a ``context`` attribute, so
  ``shop/checkout`` of two clusters are two entities with two fingerprints, while the summary
  still maps ``prod-eu/shop/checkout`` to service ``checkout``; every kubectl command carries
  ``--context CONTEXT``;
- a context that cannot be checked (unreachable, 401, a broken kubeconfig entry, its deadline
  share spent) becomes a ``context_unchecked`` warning naming the context and the reason, and the
  other contexts are still judged;
- the probe's outcome is an error only when no context could be checked.

With a single context (``context:`` or none), nothing changes: entity names stay ``NAME``.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from diagnostics import Entity, ErrorKind, Finding, Probe, ProbeContext, ProbeError, ProbeTimeout, Severity
from probes.kubernetes.config import SECTION, KubernetesSettings

MAX_PARALLEL_CONTEXTS = 4
"""Contexts checked at once by one probe: one slow cluster does not hold up the others."""

CheckOne = Callable[[ProbeContext, KubernetesSettings], list[Finding]]


class KubernetesProbe(Probe):
    """A probe of the ``kubernetes`` section: ``check`` one context, ``run`` checks every configured one."""

    backend_section = SECTION

    @abstractmethod
    def check(self, ctx: ProbeContext[Any], settings: KubernetesSettings) -> list[Finding]:
        """Read one context (``settings.context``) and judge what it answered."""

    def run(self, ctx: ProbeContext[Any]) -> Iterable[Finding]:
        """Check the one configured context, or each of ``contexts``."""
        settings = ctx.backend
        assert isinstance(settings, KubernetesSettings)
        if not settings.contexts:
            return self.check(ctx, settings)
        return check_each_context(ctx, settings.per_context(), self.check)

    @classmethod
    def targets(cls, backend: Any) -> str:
        """``2 contexts: prod-eu, prod-us`` with several contexts; the usual line otherwise."""
        if isinstance(backend, KubernetesSettings) and backend.contexts:
            return f"{len(backend.contexts)} contexts: {', '.join(backend.contexts)}"
        return super().targets(backend)


@dataclass(frozen=True, slots=True, kw_only=True)
class ContextResult:
    """What checking one context gave: its findings, or why it could not be checked."""

    context: str
    findings: tuple[Finding, ...] = ()
    error: ProbeError | None = None


def check_each_context(
    ctx: ProbeContext, each: Sequence[KubernetesSettings], check: CheckOne
) -> list[Finding]:
    """Check every context (bounded concurrency, one deadline); findings named by context."""
    from probes.kubernetes.client import import_client

    import_client()  # once, here: a module half-imported by one thread breaks another
    workers = min(MAX_PARALLEL_CONTEXTS, len(each))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=f"diag-{ctx.probe_id}") as pool:
        futures = [pool.submit(_check_one, ctx, settings, check) for settings in each]
        results = [future.result() for future in futures]
    return merge_contexts(results, make=ctx.finding)


def _check_one(ctx: ProbeContext, settings: KubernetesSettings, check: CheckOne) -> ContextResult:
    context = settings.context or ""
    try:
        findings = check(replace(ctx, backend=settings), settings)
    except ProbeError as error:
        return ContextResult(context=context, error=error)
    return ContextResult(context=context, findings=tuple(findings))


def merge_contexts(results: Sequence[ContextResult], *, make: Callable[..., Finding]) -> list[Finding]:
    """Every context's findings named by context, plus one warning per context not checked.

    Raises when no context could be checked: a ``ProbeTimeout`` when each ran out of time, a
    ``ProbeError`` naming every context's reason otherwise.
    """
    failed = [r for r in results if r.error is not None]
    if failed and len(failed) == len(results):
        raise _none_checked(failed)
    findings = [in_context(f, r.context) for r in results for f in r.findings]
    return findings + [_unchecked(r.context, r.error, make) for r in failed if r.error is not None]


def in_context(finding: Finding, context: str) -> Finding:
    """The finding with its entity named ``CONTEXT/NAME`` and a ``context`` attribute."""
    entity = finding.entity
    named = Entity(
        kind=entity.kind,
        name=f"{context}/{entity.name}",
        attributes={**entity.attributes, "context": context},
    )
    return replace(finding, entity=named)


def _unchecked(context: str, error: ProbeError, make: Callable[..., Finding]) -> Finding:
    return make(
        kind="context_unchecked",
        severity=Severity.WARNING,
        title=f"Kubernetes context {context} could not be checked: {error}",
        entity=Entity(kind="cluster", name=context, attributes={"context": context}),
        summary=(
            f"The other contexts were checked; {context} was not ({error.kind.value}), "
            "so nothing is known about its workloads."
        ),
        details={"context": context, "error_kind": error.kind.value, "error": str(error)},
        next_steps=[
            f"kubectl cluster-info --context {context}",
            f"kubectl auth can-i --list --context {context}",
        ],
    )


def _none_checked(failed: Sequence[ContextResult]) -> ProbeError:
    reasons = "; ".join(f"{r.context}: {r.error}" for r in failed)
    message = f"no Kubernetes context could be checked ({reasons})"
    if all(isinstance(r.error, ProbeTimeout) for r in failed):
        return ProbeTimeout(message)
    first = failed[0].error
    return ProbeError(message, kind=first.kind if first is not None else ErrorKind.INTERNAL)
