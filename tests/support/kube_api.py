"""A local Kubernetes API server for tests: real HTTP, Kubernetes-shaped JSON, one per session.

No real API server runs on this machine, so the probes' real ``kubernetes`` client talks over
real HTTP to this one (a thread on 127.0.0.1). It serves, from the objects of the loaded
:class:`Cluster`, the endpoints the probes call:

- lists, cluster-wide and per namespace, of every kind in :data:`RESOURCES` (core v1, apps,
  discovery.k8s.io, networking.k8s.io, storage.k8s.io, batch, autoscaling/v2, policy,
  admissionregistration.k8s.io), at the version each group is served at (404 otherwise),
  honouring ``labelSelector``, ``fieldSelector``, ``limit``/``continue`` and the
  ``as=PartialObjectMetadataList`` Accept header;
- single reads ``.../namespaces/{ns}/{resource}/{name}`` and ``.../pods/{name}/log``
  (``container``, ``previous``, ``tailLines``, ``limitBytes``; for the cluster's timed logs also
  ``sinceTime``, ``sinceSeconds`` and ``timestamps``, the RFC 3339 prefix the kubelet writes,
  with ``limitBytes`` cutting the end of the answer as the kubelet does);
- bearer-token authentication (401 Status otherwise) and RBAC-like 403 Status objects for the
  cluster's forbidden namespaces and resources (a cluster-wide list is refused when any
  namespace is, as RBAC does for namespace-scoped roles).

Fixtures: ``kube_api`` (session: the server and kubeconfig files pointing at it, plus one at a
closed port) and ``kube_cluster`` (per test: load a :class:`Cluster`, emptied afterwards).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from tests.support.kube_meta import SERVICE_ACCOUNT
from tests.support.ports import free_port

Obj = dict[str, Any]
TOKEN = "kube-test-token-9f3b1c7d2e"
"""The bearer token the kubeconfig carries: tests assert it never shows up in findings."""

RESOURCES: Mapping[str, tuple[str, str, bool]] = {
    # kind: (plural, group, namespaced)
    "Pod": ("pods", "", True),
    "Event": ("events", "", True),
    "Secret": ("secrets", "", True),
    "Node": ("nodes", "", False),
    "Deployment": ("deployments", "apps", True),
    "ReplicaSet": ("replicasets", "apps", True),
    "StatefulSet": ("statefulsets", "apps", True),
    "DaemonSet": ("daemonsets", "apps", True),
    "ControllerRevision": ("controllerrevisions", "apps", True),
    "Service": ("services", "", True),
    "EndpointSlice": ("endpointslices", "discovery.k8s.io", True),
    "Ingress": ("ingresses", "networking.k8s.io", True),
    "IngressClass": ("ingressclasses", "networking.k8s.io", False),
    "PersistentVolumeClaim": ("persistentvolumeclaims", "", True),
    "PersistentVolume": ("persistentvolumes", "", False),
    "StorageClass": ("storageclasses", "storage.k8s.io", False),
    "Job": ("jobs", "batch", True),
    "CronJob": ("cronjobs", "batch", True),
    "HorizontalPodAutoscaler": ("horizontalpodautoscalers", "autoscaling", True),
    "PodDisruptionBudget": ("poddisruptionbudgets", "policy", True),
    "MutatingWebhookConfiguration": ("mutatingwebhookconfigurations", "admissionregistration.k8s.io", False),
    "ValidatingWebhookConfiguration": (
        "validatingwebhookconfigurations",
        "admissionregistration.k8s.io",
        False,
    ),
}
GROUP_VERSIONS: Mapping[str, str] = {"": "v1", "autoscaling": "v2"}
"""The version each group is served at (v1 unless listed)."""
PLURALS = {plural: (kind, group, namespaced) for kind, (plural, group, namespaced) in RESOURCES.items()}
_PATH = re.compile(
    r"^/(?:api/(?P<core>v1)|apis/(?P<group>[a-z0-9.]+)/(?P<version>v[0-9a-z]+))"
    r"(?:/namespaces/(?P<namespace>[^/]+))?/(?P<plural>[a-z]+)(?:/(?P<name>[^/]+))?(?:/(?P<sub>log))?$"
)


@dataclass
class Cluster:
    """A cluster state: objects by kind, container logs, what RBAC refuses."""

    objects: dict[str, list[Obj]] = field(default_factory=dict)
    logs: dict[tuple[str, str, str, bool], str] = field(default_factory=dict)
    """(namespace, pod, container, previous) -> log text."""
    timed_logs: dict[tuple[str, str, str], list[tuple[datetime, str]]] = field(default_factory=dict)
    """(namespace, pod, container) -> the current container's lines with the kubelet's times."""
    forbidden_namespaces: frozenset[str] = frozenset()
    forbidden_resources: frozenset[str] = frozenset()
    """Plurals refused everywhere (``secrets``, ``nodes``...)."""

    @classmethod
    def of(
        cls,
        *objects: Obj | Iterable[Obj],
        logs: Mapping[tuple[str, str, str, bool], str] | None = None,
        timed_logs: Mapping[tuple[str, str, str], list[tuple[datetime, str]]] | None = None,
        forbidden_namespaces: Iterable[str] = (),
        forbidden_resources: Iterable[str] = (),
    ) -> Cluster:
        """A cluster holding ``objects`` (single objects or iterables of them), sorted by kind."""
        cluster = cls(
            logs=dict(logs or {}),
            timed_logs=dict(timed_logs or {}),
            forbidden_namespaces=frozenset(forbidden_namespaces),
            forbidden_resources=frozenset(forbidden_resources),
        )
        for item in objects:
            for obj in [item] if isinstance(item, dict) else item:
                plural = RESOURCES[obj["kind"]][0]
                cluster.objects.setdefault(plural, []).append(obj)
        return cluster


@dataclass(frozen=True)
class Request:
    """One request the server received."""

    method: str
    path: str
    query: Mapping[str, str]
    accept: str


# -- selectors --------------------------------------------------------------------------------

_REQUIREMENT = re.compile(
    r"^\s*(?P<key>[A-Za-z0-9./_-]+)\s*(?:(?P<op>==|=|!=)\s*(?P<value>[A-Za-z0-9._-]*)"
    r"|\s+(?P<setop>in|notin)\s*\((?P<values>[^)]*)\))?\s*$"
)


def _split_selector(text: str) -> list[str]:
    parts, depth, current = [], 0, ""
    for char in text:
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
            continue
        depth += {"(": 1, ")": -1}.get(char, 0)
        current += char
    parts.append(current)
    return [p for p in parts if p.strip()]


def label_matches(selector: str, labels: Mapping[str, str]) -> bool:
    """Kubernetes label selector semantics: ``a=b,c!=d,e in (f,g),!h,i``."""
    for part in _split_selector(selector):
        part = part.strip()
        if part.startswith("!"):
            if part[1:].strip() in labels:
                return False
            continue
        match = _REQUIREMENT.match(part)
        if not match:
            raise ValueError(f"unable to parse requirement: {part!r}")
        key, op, value = match["key"], match["op"], match["value"]
        if match["setop"]:
            values = {v.strip() for v in match["values"].split(",")}
            if (match["setop"] == "in") != (labels.get(key) in values):
                return False
        elif op in ("=", "=="):
            if labels.get(key) != value:
                return False
        elif op == "!=":
            if labels.get(key) == value:
                return False
        elif key not in labels:
            return False
    return True


def _field(obj: Obj, path: str) -> str:
    current: Any = obj
    for part in path.split("."):
        current = current.get(part) if isinstance(current, dict) else None
    return "" if current is None else str(current)


def field_matches(selector: str, obj: Obj) -> bool:
    """Field selectors: ``type=Warning,involvedObject.kind=Pod,status.phase!=Running``."""
    for part in _split_selector(selector):
        key, op, value = re.split(r"(!=|==|=)", part.strip(), maxsplit=1)
        actual = _field(obj, key)
        if (op == "!=") == (actual == value):
            return False
    return True


# -- the server -------------------------------------------------------------------------------


class KubeApiServer:
    """The server thread, the loaded cluster, the requests received and the kubeconfig files."""

    def __init__(self, directory: Path) -> None:
        self.cluster = Cluster()
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, name="kube-api", daemon=True)
        self._thread.start()
        self.kubeconfig = write_kubeconfig(directory / "kubeconfig", self.url)
        self.unreachable_kubeconfig = write_kubeconfig(
            directory / "unreachable-kubeconfig", closed_port_url()
        )

    def load(self, cluster: Cluster) -> None:
        with self._lock:
            self.cluster = cluster
            self.requests = []

    def reset(self) -> None:
        self.load(Cluster())

    def record(self, request: Request) -> None:
        with self._lock:
            self.requests.append(request)

    def paths(self) -> list[str]:
        return [r.path for r in self.requests]

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def closed_port_url() -> str:
    """A URL nothing listens on (the port was bound, then released)."""
    return f"http://127.0.0.1:{free_port()}"


def write_kubeconfig(path: Path, server: str) -> Path:
    """A kubeconfig with contexts ``test-admin`` (current, namespace shop), ``prod-eu`` and ``bad-token``."""
    config = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "test", "cluster": {"server": server}}],
        "users": [
            {"name": "diag-reader", "user": {"token": TOKEN}},
            {"name": "intruder", "user": {"token": "not-the-right-token"}},
        ],
        "contexts": [
            {
                "name": "test-admin",
                "context": {"cluster": "test", "user": "diag-reader", "namespace": "shop"},
            },
            {"name": "prod-eu", "context": {"cluster": "test", "user": "diag-reader"}},
            {"name": "bad-token", "context": {"cluster": "test", "user": "intruder"}},
        ],
        "current-context": "test-admin",
        "preferences": {},
    }
    path.write_text(yaml.safe_dump(config))
    return path


def _status(code: int, reason: str, message: str, details: Obj | None = None) -> Obj:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "details": details or {},
        "code": code,
    }


def _handler_for(api: KubeApiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # headers and body in one segment, sent at once: no Nagle/delayed-ACK stall per request
        disable_nagle_algorithm = True
        wbufsize = 1 << 16

        def log_message(self, format: str, *args: Any) -> None:
            return

        def _send(self, code: int, body: Obj | str, content_type: str = "application/json") -> None:
            data = (json.dumps(body) if isinstance(body, dict) else body).encode()
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Audit-Id", "7c1f2a4e-0b6d-4d8e-9a51-3f2c1e0d9b77")
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            query = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
            api.record(Request("GET", parts.path, query, self.headers.get("Accept", "")))
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._send(401, _status(401, "Unauthorized", "Unauthorized"))
                return
            match = _PATH.match(parts.path)
            if not match or match["plural"] not in PLURALS:
                self._send(404, _status(404, "NotFound", "the server could not find the requested resource"))
                return
            kind, group, namespaced = PLURALS[match["plural"]]
            version = match["core"] or match["version"]
            if (
                (match["group"] or "") != group
                or version != GROUP_VERSIONS.get(group, "v1")
                or (match["namespace"] and not namespaced)
            ):
                self._send(404, _status(404, "NotFound", "the server could not find the requested resource"))
                return
            cluster = api.cluster
            denied = self._denied(
                cluster, match["plural"], group, match["namespace"], namespaced, match["sub"]
            )
            if denied is not None:
                self._send(403, denied)
                return
            if match["sub"] == "log":
                self._log(cluster, match["namespace"], match["name"], query)
            elif match["name"]:
                self._get(cluster, match["plural"], match["namespace"], match["name"])
            else:
                self._list(cluster, kind, match["plural"], group, match["namespace"], query)

        def _denied(
            self,
            cluster: Cluster,
            plural: str,
            group: str,
            namespace: str | None,
            namespaced: bool,
            sub: str | None,
        ) -> Obj | None:
            resource = f"{plural}/{sub}" if sub else plural
            verb = "get" if sub else "list"
            where = f'in the namespace "{namespace}"' if namespace else "at the cluster scope"
            refused = plural in cluster.forbidden_resources or (
                namespaced
                and (
                    namespace in cluster.forbidden_namespaces
                    or (not namespace and cluster.forbidden_namespaces)
                )
            )
            if not refused:
                return None
            return _status(
                403,
                "Forbidden",
                f'{plural} is forbidden: User "{SERVICE_ACCOUNT}" cannot {verb} resource "{resource}" '
                f'in API group "{group}" {where}',
                {"kind": plural},
            )

        def _list(
            self,
            cluster: Cluster,
            kind: str,
            plural: str,
            group: str,
            namespace: str | None,
            query: Mapping[str, str],
        ) -> None:
            items = [
                o
                for o in cluster.objects.get(plural, [])
                if namespace is None or o["metadata"].get("namespace") == namespace
            ]
            try:
                if query.get("labelSelector"):
                    items = [
                        o
                        for o in items
                        if label_matches(query["labelSelector"], o["metadata"].get("labels") or {})
                    ]
                if query.get("fieldSelector"):
                    items = [o for o in items if field_matches(query["fieldSelector"], o)]
            except ValueError as exc:
                self._send(400, _status(400, "BadRequest", str(exc)))
                return
            items.sort(key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"]))
            offset = 0
            if query.get("continue"):
                offset = json.loads(base64.urlsafe_b64decode(query["continue"]))["start"]
            limit = int(query["limit"]) if query.get("limit") else len(items)
            page = items[offset : offset + limit]
            rest = len(items) - offset - len(page)
            list_meta: Obj = {"resourceVersion": "48299999"}
            if rest > 0:
                token = {"v": "meta.k8s.io/v1", "rv": 48299999, "start": offset + len(page)}
                list_meta["continue"] = base64.urlsafe_b64encode(json.dumps(token).encode()).decode()
                list_meta["remainingItemCount"] = rest
            if "as=PartialObjectMetadataList" in self.headers.get("Accept", ""):
                body: Obj = {
                    "kind": "PartialObjectMetadataList",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": list_meta,
                    "items": [
                        {
                            "kind": "PartialObjectMetadata",
                            "apiVersion": "meta.k8s.io/v1",
                            "metadata": o["metadata"],
                        }
                        for o in page
                    ],
                }
            else:
                # list items carry no kind/apiVersion, like the real API server's
                body = {
                    "kind": f"{kind}List",
                    "apiVersion": f"{group}/{GROUP_VERSIONS.get(group, 'v1')}" if group else "v1",
                    "metadata": list_meta,
                    "items": [{k: v for k, v in o.items() if k not in ("kind", "apiVersion")} for o in page],
                }
            self._send(200, body)

        def _get(self, cluster: Cluster, plural: str, namespace: str | None, name: str) -> None:
            for obj in cluster.objects.get(plural, []):
                if obj["metadata"]["name"] == name and obj["metadata"].get("namespace") == namespace:
                    self._send(200, obj)
                    return
            self._send(
                404, _status(404, "NotFound", f'{plural} "{name}" not found', {"name": name, "kind": plural})
            )

        def _log(
            self, cluster: Cluster, namespace: str | None, pod: str | None, query: Mapping[str, str]
        ) -> None:
            found = next(
                (
                    p
                    for p in cluster.objects.get("pods", [])
                    if p["metadata"]["name"] == pod and p["metadata"].get("namespace") == namespace
                ),
                None,
            )
            if found is None:
                self._send(404, _status(404, "NotFound", f'pods "{pod}" not found'))
                return
            container = query.get("container") or found["spec"]["containers"][0]["name"]
            previous = query.get("previous") == "true"
            timed = cluster.timed_logs.get((namespace or "", pod or "", container))
            if timed is not None and not previous:
                self._send(200, _timed_log(timed, query), "text/plain")
                return
            text = cluster.logs.get((namespace or "", pod or "", container, previous))
            if text is None:
                which = "previous terminated" if previous else "current"
                self._send(
                    400,
                    _status(400, "BadRequest", f'{which} container "{container}" in pod "{pod}" not found'),
                )
                return
            if query.get("tailLines"):
                lines = text.splitlines(keepends=True)
                text = "".join(lines[-int(query["tailLines"]) :])
            if query.get("limitBytes"):
                text = text.encode()[-int(query["limitBytes"]) :].decode(errors="ignore")
            self._send(200, text, "text/plain")

    return Handler


def _timed_log(lines: list[tuple[datetime, str]], query: Mapping[str, str]) -> str:
    """What the kubelet answers for a container's log: since, tail, timestamps, then the byte limit."""
    if query.get("sinceTime"):
        since = datetime.fromisoformat(query["sinceTime"].replace("Z", "+00:00"))
        lines = [(t, line) for t, line in lines if t >= since]
    elif query.get("sinceSeconds"):
        since = datetime.now(UTC) - timedelta(seconds=int(query["sinceSeconds"]))
        lines = [(t, line) for t, line in lines if t >= since]
    if query.get("tailLines"):
        lines = lines[-int(query["tailLines"]) :] if int(query["tailLines"]) else []
    stamped = query.get("timestamps") == "true"
    text = "".join(
        (t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond:06d}000Z " if stamped else "") + line + "\n"
        for t, line in lines
    )
    if query.get("limitBytes"):
        text = text.encode()[: int(query["limitBytes"])].decode(errors="ignore")
    return text


@pytest.fixture(scope="session")
def kube_api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KubeApiServer]:
    """The session's Kubernetes API server, with kubeconfigs at ``.kubeconfig`` (and unreachable)."""
    server = KubeApiServer(tmp_path_factory.mktemp("kube"))
    yield server
    server.close()


@pytest.fixture
def kube_cluster(kube_api: KubeApiServer) -> Iterator[KubeApiServer]:
    """The server, emptied after the test; call ``.load(Cluster.of(...))`` to stage a cluster."""
    kube_api.reset()
    yield kube_api
    kube_api.reset()
