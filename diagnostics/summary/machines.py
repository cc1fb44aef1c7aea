"""One machine, one entity: the names the findings of one host go by, joined.

``resources.host`` names the local machine by its hostname (``vm``) and lists its other names
in the ``aliases`` attribute (its addresses, ``localhost``, ``127.0.0.1``, ``::1``);
``resources.nodes`` names a node_exporter target by its instance without the port
(``127.0.0.1``) with the machine's own name in ``node`` (uname's nodename). Names that any one
finding gives to the same machine are joined, so both are ``host vm``.

A loopback name (``localhost``, ``127.x``, ``::1``) taken from an instance or an entity name is
only trusted when the finding has no other name: a remote Prometheus scraping ``127.0.0.1``
is another machine, and its uname nodename says so.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from functools import lru_cache

from diagnostics.model import Finding

HOST_KINDS = frozenset({"host", "node"})
NAME_ATTRIBUTES = ("host", "node", "instance", "hostname", "nodename")
ALIASES_ATTRIBUTE = "aliases"
"""Comma-separated other names of the machine, vouched for by the probe (loopback included)."""


def strip_port(value: str) -> str:
    """``web-1:9100`` -> ``web-1``; ``[::1]:9100`` -> ``::1``; bare IPv6 stays whole."""
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    host, _, port = value.rpartition(":")
    return host if host and port.isdigit() and ":" not in host else value


@lru_cache(maxsize=4096)
def is_loopback(name: str) -> bool:
    """``localhost`` or a loopback address."""
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@lru_cache(maxsize=4096)
def _is_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def machine_names(finding: Finding) -> frozenset[str]:
    """Every name this finding gives to the machine it is on (empty when on none)."""
    entity = finding.entity
    attributes = entity.attributes
    named = {strip_port(attributes[k]) for k in NAME_ATTRIBUTES if attributes.get(k)}
    if entity.kind in HOST_KINDS:
        named.add(strip_port(entity.name))
    vouched = {n.strip() for n in attributes.get(ALIASES_ATTRIBUTE, "").split(",") if n.strip()}
    named.discard("")
    if any(not is_loopback(n) for n in named):
        named = {n for n in named if not is_loopback(n)}
    return frozenset(named | vouched)


class MachineIndex:
    """Canonical machine names, from the names findings give to the same machine."""

    def __init__(self, findings: Iterable[Finding]) -> None:
        self._parent: dict[str, str] = {}
        self._names: dict[int, tuple[Finding, frozenset[str]]] = {}
        for finding in findings:
            names = sorted(self.names_of(finding))
            for name in names:
                self._parent.setdefault(name, name)
            for other in names[1:]:
                self._join(names[0], other)
        groups: dict[str, list[str]] = {}
        for name in self._parent:
            groups.setdefault(self._find(name), []).append(name)
        self._canonical = {name: _preferred(members) for members in groups.values() for name in members}

    def names_of(self, finding: Finding) -> frozenset[str]:
        """:func:`machine_names` of ``finding``, computed once per finding."""
        cached = self._names.get(id(finding))
        if cached is not None and cached[0] is finding:
            return cached[1]
        names = machine_names(finding)
        self._names[id(finding)] = (finding, names)
        return names

    def _find(self, name: str) -> str:
        while self._parent[name] != name:
            self._parent[name] = self._parent[self._parent[name]]
            name = self._parent[name]
        return name

    def _join(self, a: str, b: str) -> None:
        ra, rb = self._find(a), self._find(b)
        if ra != rb:
            self._parent[max(ra, rb)] = min(ra, rb)

    def canonical(self, name: str) -> str:
        """The machine's preferred name (its hostname over an address), or ``name`` itself."""
        bare = strip_port(name)
        return self._canonical.get(bare, bare)

    def machine_of(self, finding: Finding) -> str | None:
        """The canonical name of the machine a host or node finding is about."""
        if finding.entity.kind not in HOST_KINDS:
            return None
        names = self.names_of(finding)
        return self.canonical(min(names)) if names else None


def _preferred(names: list[str]) -> str:
    """A hostname over an address, a non-loopback over a loopback name, then the shortest."""
    return min(names, key=lambda n: (is_loopback(n), _is_address(n), len(n), n))
