"""Matching entities across probes: which services, hosts and databases a finding concerns.

Names differ between systems (a Prometheus job ``checkout``, a Deployment ``shop/checkout``, a
postgres target ``orders``); the ``services`` section maps them. Without it, names still match
when they are equal: a workload's bare name, a ``service``/``job``/``app`` label and a service
entity's name are all taken as service names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from diagnostics.model import Finding
from diagnostics.summary.settings import ServiceLinks

SERVICE_ATTRIBUTES = ("service", "job", "app", "workload")
HOST_ATTRIBUTES = ("host", "node", "instance", "hostname")


def _strip_port(value: str) -> str:
    host, _, port = value.rpartition(":")
    return host if host and port.isdigit() else value


@dataclass(frozen=True, slots=True)
class EntityIndex:
    """Resolves names to canonical services using the ``services`` section."""

    services: Mapping[str, ServiceLinks]

    def canonical(self, name: str) -> str:
        """The configured service a name refers to, or the name itself."""
        bare = name.rsplit("/", 1)[-1]
        for service, links in self.services.items():
            if name == service or name in links.aliases or name in links.workloads:
                return service
            if bare == service or bare in links.aliases:
                return service
        return bare

    def services_of(self, finding: Finding) -> frozenset[str]:
        """Every service the finding concerns (directly, or through a database, dependency, host)."""
        entity = finding.entity
        names: set[str] = set()
        attributes = entity.attributes
        if entity.kind in ("service", "workload"):
            names.add(self.canonical(entity.name))
        if entity.kind in ("service", "workload", "container", "pod", "metric"):
            # a node's `job` label names its exporter, not a service: only these kinds use labels
            names |= {self.canonical(attributes[k]) for k in SERVICE_ATTRIBUTES if attributes.get(k)}
        if entity.kind == "database":
            names |= {s for s, links in self.services.items() if entity.name in links.databases}
        if entity.kind == "dependency":
            names |= {s for s, links in self.services.items() if entity.name in links.dependencies}
        hosts = self.hosts_of(finding)
        if hosts and entity.kind in ("host", "node", "filesystem"):
            names |= {s for s, links in self.services.items() if hosts & set(links.hosts)}
        return frozenset(names)

    def hosts_of(self, finding: Finding) -> frozenset[str]:
        """Hosts or nodes the finding is on (its own name for host and node entities)."""
        entity = finding.entity
        hosts = {_strip_port(entity.attributes[k]) for k in HOST_ATTRIBUTES if entity.attributes.get(k)}
        if entity.kind in ("host", "node"):
            hosts.add(_strip_port(entity.name))
        return frozenset(hosts)

    def databases_of(self, finding: Finding) -> frozenset[str]:
        if finding.entity.kind == "database":
            return frozenset({finding.entity.name})
        return frozenset(db for service in self.services_of(finding) for db in self.links(service).databases)

    def dependencies_of(self, finding: Finding) -> frozenset[str]:
        """Dependencies called by the services the finding concerns."""
        return frozenset(
            dep for service in self.services_of(finding) for dep in self.links(service).dependencies
        )

    def is_user_facing(self, service: str) -> bool:
        return self.links(service).user_facing

    def links(self, service: str) -> ServiceLinks:
        """The configured links of a service (empty for an unconfigured one)."""
        return self.services.get(service) or ServiceLinks()
