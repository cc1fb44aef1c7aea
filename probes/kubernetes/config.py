"""The ``kubernetes`` section shared by deploys.rollouts and every ``workloads.*`` probe.

```yaml
kubernetes:
  context: prod-eu               # a kubeconfig context (default: the current one)
  # contexts: [prod-eu, prod-us] # or several: each probe checks every one, entities named by context
  kubeconfig: ~/.kube/config     # default: $KUBECONFIG, then ~/.kube/config
  in_cluster: false              # true: the pod's service account
  namespaces: [shop, payments]   # default: every namespace (cluster-wide list calls)
  label_selector: tier=backend   # applied to workloads, pods and CronJobs
  request_timeout: 5s            # per API call, never beyond the probe's deadline
  page_size: 500                 # items per list call (limit/continue pagination)
```

Without a section, the current context of ``$KUBECONFIG`` or ``~/.kube/config`` is used when
such a file exists; inside a pod, the service account is. With ``contexts``, every probe checks
each listed context in the same run (:mod:`probes.kubernetes.contexts`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any, Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from diagnostics import BackendSection, Duration
from diagnostics.config_values import existing_file

SERVICE_ACCOUNT_TOKEN = Path("/var/run/secrets/kubernetes.io/serviceaccount/token")
_NAMESPACE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


class KubernetesSettings(BaseModel):
    """How to reach the cluster and which part of it to look at."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    context: str | None = None
    contexts: tuple[str, ...] = ()
    """Several kubeconfig contexts, each checked by every probe; entities are named ``CONTEXT/...``."""
    kubeconfig: str | None = None
    """A path, or several joined with ``:`` as in ``$KUBECONFIG``."""
    in_cluster: bool = False
    namespaces: tuple[str, ...] = ()
    """Empty: every namespace the credentials may list, with cluster-wide list calls."""
    label_selector: str | None = None
    request_timeout: Duration = timedelta(seconds=5)
    page_size: int = Field(500, ge=10, le=5000)

    @field_validator("namespaces")
    @classmethod
    def _namespace_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not _NAMESPACE.match(name) or len(name) > 63:
                raise ValueError(f"{name!r} is not a namespace name (lower-case DNS label)")
        return tuple(dict.fromkeys(value))

    @field_validator("kubeconfig")
    @classmethod
    def _kubeconfig_exists(cls, value: str | None) -> str | None:
        for path in (value or "").split(os.pathsep):
            if path:
                existing_file(path, "kubeconfig")
        return value

    @field_validator("contexts")
    @classmethod
    def _context_names(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            if not name.strip():
                raise ValueError("a context name cannot be empty")
        return tuple(dict.fromkeys(value))

    @field_validator("label_selector")
    @classmethod
    def _selector(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError("an empty label selector selects everything: leave it out instead")
        return value.strip() if value else value

    @field_validator("request_timeout")
    @classmethod
    def _positive(cls, value: timedelta) -> timedelta:
        if value.total_seconds() <= 0:
            raise ValueError("must be longer than zero")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if self.in_cluster and (self.kubeconfig or self.context):
            raise ValueError("in_cluster: true cannot be combined with kubeconfig or context")
        if self.contexts and (self.context or self.in_cluster):
            raise ValueError(
                "contexts cannot be combined with context or in_cluster: list every context in it"
            )
        return self

    def per_context(self) -> tuple[KubernetesSettings, ...]:
        """One settings per listed context (``context`` set, ``contexts`` empty), or just these."""
        if not self.contexts:
            return (self,)
        return tuple(self.model_copy(update={"context": c, "contexts": ()}) for c in self.contexts)

    @property
    def kubeconfig_path(self) -> str | None:
        """The kubeconfig path(s) with ``~`` expanded, or None for the client's default."""
        if not self.kubeconfig:
            return None
        return os.pathsep.join(str(Path(p).expanduser()) for p in self.kubeconfig.split(os.pathsep) if p)


def from_environment(env: Mapping[str, str]) -> dict[str, Any] | None:
    """The current context of ``$KUBECONFIG`` or ``~/.kube/config``, or the service account."""
    listed = env.get("KUBECONFIG", "")
    paths = [p for p in listed.split(os.pathsep) if p]
    if any(Path(p).expanduser().is_file() for p in paths):
        return {"kubeconfig": listed}
    home = env.get("HOME")
    if home and (Path(home) / ".kube" / "config").is_file():
        return {"kubeconfig": str(Path(home) / ".kube" / "config")}
    if env.get("KUBERNETES_SERVICE_HOST") and SERVICE_ACCOUNT_TOKEN.is_file():
        return {"in_cluster": True}
    return None


SECTION = BackendSection(
    key="kubernetes",
    model=KubernetesSettings,
    setup_hint="kubernetes: {context: prod-eu}  # or kubeconfig: PATH, or in_cluster: true",
    from_environment=from_environment,
    description="The Kubernetes API server: rollouts, workloads, pods, nodes and the objects around them",
    client_modules=("urllib3", "kubernetes.client", "kubernetes.config"),
)
