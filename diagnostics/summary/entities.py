"""Matching entities across probes: which services, hosts and databases a finding concerns.

Names differ between systems (a Prometheus job ``checkout``, a Deployment ``shop/checkout``, a
postgres target ``orders``); the ``services`` section maps them. Without it, names still match
when they are equal: a workload's bare name, a ``service``/``job``/``app`` label and a service
entity's name are all taken as service names.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Mapping
from functools import cached_property

from diagnostics.model import Finding
from diagnostics.summary.machines import MachineIndex, strip_port
from diagnostics.summary.settings import ServiceLinks

SERVICE_ATTRIBUTES = ("service", "job", "app", "workload")
HOST_ATTRIBUTES = ("host", "node", "instance", "hostname")
NO_LINKS = ServiceLinks()
WEBHOOK_MENTION = re.compile(r'(?:calling|call) webhook \\?"([^"\\]+)\\?"')
"""How the API server names a webhook that refused a request: ``failed calling webhook "NAME"``."""


def workloads_behind(finding: Finding) -> frozenset[str]:
    """The workloads (``namespace/name``) a finding about a Service or webhook says serve it."""
    listed = finding.evidence.details.get("workloads")
    if isinstance(listed, list):
        return frozenset(w for w in listed if isinstance(w, str))
    return frozenset()


def webhooks_named(finding: Finding) -> frozenset[str]:
    """Webhooks a finding is about (a webhook entity's ``details.webhooks``), or that its text
    says refused a request (the API server's ``failed calling webhook "NAME"``)."""
    details = finding.evidence.details
    if finding.entity.kind == "webhook":
        listed = details.get("webhooks")
        return frozenset(w for w in listed if isinstance(w, str)) if isinstance(listed, list) else frozenset()
    texts = [finding.title, finding.summary, repr(dict(details))]
    return frozenset(m for text in texts for m in WEBHOOK_MENTION.findall(text))


def _bare(name: str) -> str:
    return name.rsplit("/", 1)[-1]


class EntityIndex:
    """Resolves names to canonical services using the ``services`` section."""

    def __init__(self, services: Mapping[str, ServiceLinks], machines: MachineIndex | None = None) -> None:
        self.services = services
        self.machines = machines or MachineIndex(())
        self._services_cache: dict[int, tuple[Finding, frozenset[str]]] = {}

    @cached_property
    def _names(self) -> dict[str, str]:
        names: dict[str, str] = {}
        for service, links in self.services.items():
            for name in (*links.aliases, *links.workloads):
                names.setdefault(name, service)
                names.setdefault(_bare(name), service)
        for service in self.services:
            names[service] = service
        return names

    @cached_property
    def _users(self) -> dict[str, dict[str, set[str]]]:
        """For databases, dependencies and hosts: which services use each one."""
        users: dict[str, dict[str, set[str]]] = {
            "databases": defaultdict(set),
            "dependencies": defaultdict(set),
            "hosts": defaultdict(set),
        }
        for service, links in self.services.items():
            for field, index in users.items():
                for name in getattr(links, field):
                    index[self.machines.canonical(name) if field == "hosts" else name].add(service)
        return users

    def canonical(self, name: str) -> str:
        """The configured service a name refers to, or the name itself (without namespace)."""
        return self._names.get(name) or self._names.get(_bare(name)) or _bare(name)

    def services_of(self, finding: Finding) -> frozenset[str]:
        """Every service the finding concerns (directly, or through a database, dependency, host)."""
        cached = self._services_cache.get(id(finding))
        if cached is not None and cached[0] is finding:
            return cached[1]
        services = self._services_of(finding)
        self._services_cache[id(finding)] = (finding, services)
        return services

    def _services_of(self, finding: Finding) -> frozenset[str]:
        entity = finding.entity
        attributes = entity.attributes
        names: set[str] = set()
        if entity.kind in ("service", "workload"):
            names.add(self.canonical(entity.name))
        if entity.kind in ("service", "workload", "container", "pod", "metric"):
            # a node's `job` label names its exporter, not a service: only these kinds use labels
            names |= {self.canonical(attributes[k]) for k in SERVICE_ATTRIBUTES if attributes.get(k)}
        if entity.kind == "database":
            names |= self._users["databases"].get(entity.name, set())
        if entity.kind == "dependency":
            names |= self._users["dependencies"].get(entity.name, set())
        if entity.kind in ("host", "node", "filesystem"):
            for host in self.hosts_of(finding):
                names |= self._users["hosts"].get(host, set())
        return frozenset(names)

    def hosts_of(self, finding: Finding) -> frozenset[str]:
        """Hosts or nodes the finding is on (its own name for host and node entities)."""
        entity = finding.entity
        hosts = {strip_port(entity.attributes[k]) for k in HOST_ATTRIBUTES if entity.attributes.get(k)}
        if entity.kind in ("host", "node"):
            hosts.add(strip_port(entity.name))
        # grouped findings (a workload's pods) list where each member runs
        members = finding.evidence.details.get("pods")
        if isinstance(members, list):
            hosts |= {m["node"] for m in members if isinstance(m, dict) and isinstance(m.get("node"), str)}
        # one machine, one name: `vm` and `127.0.0.1:9100` of the same machine match
        return frozenset(self.machines.canonical(h) for h in hosts)

    def databases_used_by(self, finding: Finding) -> frozenset[str]:
        """Databases used by the services the finding concerns."""
        return frozenset(db for s in self.services_of(finding) for db in self.links(s).databases)

    def dependencies_of(self, finding: Finding) -> frozenset[str]:
        """Dependencies called by the services the finding concerns."""
        return frozenset(dep for s in self.services_of(finding) for dep in self.links(s).dependencies)

    def is_user_facing(self, service: str) -> bool:
        return self.links(service).user_facing

    def links(self, service: str) -> ServiceLinks:
        """The configured links of a service (empty for an unconfigured one)."""
        return self.services.get(service) or NO_LINKS
