"""The ``services`` and ``summary`` sections: how entities relate, and the severity thresholds.

```yaml
services:
  checkout:                       # the canonical service name
    aliases: [checkout-api]       # its names elsewhere (Prometheus job, app label)
    workloads: [shop/checkout]    # Kubernetes workloads namespace/name
    databases: [orders]           # postgres target names it uses
    dependencies: [payments-api]  # dependency names it calls
    hosts: [web-1, web-2]         # hosts or nodes it runs on
    user_facing: true
summary:
  max_lag: 30m                    # a cause precedes its effect by at most this
  severity: {sev1_error_ratio: 0.2, sev2_error_ratio: 0.05, sev1_traffic_drop: 0.5, sev1_services: 3}
```
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from diagnostics.contract import Duration


class ServiceLinks(BaseModel):
    """What one service is called elsewhere and what it depends on."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    aliases: tuple[str, ...] = ()
    workloads: tuple[str, ...] = ()
    databases: tuple[str, ...] = ()
    dependencies: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()
    user_facing: bool = False


class SeverityThresholds(BaseModel):
    """When the incident is SEV1, SEV2, SEV3 or SEV4."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    sev1_error_ratio: float = Field(0.20, gt=0, le=1)
    """Error ratio of a user-facing service that makes it SEV1."""
    sev2_error_ratio: float = Field(0.05, gt=0, le=1)
    sev1_traffic_drop: float = Field(0.50, gt=0, le=1)
    """Share of a user-facing service's normal traffic lost that makes it SEV1."""
    sev1_services: int = Field(3, ge=1)
    """How many services with critical findings make it SEV1."""


class SummarySettings(BaseModel):
    """The ``summary`` section."""

    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)

    max_lag: Duration = timedelta(minutes=30)
    severity: SeverityThresholds = Field(default_factory=SeverityThresholds)
