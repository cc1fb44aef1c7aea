"""Talking to the Kubernetes API server: the only module of these probes that does I/O.

One ``ApiClient`` of the official client per diag run, shared by the probes (a run resource:
the runner shuts its sockets and closes it when the run ends), from ``new_client_from_config``
(or the in-cluster loader), so no global configuration is touched and refreshed tokens are never
written back (``persist_config=False``). The client's kubeconfig handling, authentication
(tokens, exec plugins, client certificates) and TLS are used as they are; requests go through
its ``param_serialize``/``call_api`` rather than the generated ``CoreV1Api``/``AppsV1Api``
wrappers, whose import alone costs over 2 s (hundreds of pydantic models), and answers are
read as raw JSON: the client's model deserialisation costs seconds for a few thousand pods
where ``json.loads`` costs milliseconds.

Every call is a read: list calls with the label selector, ``limit`` + ``continue`` pagination
and a per-call timeout bounded by the probe's deadline. Cluster-wide list calls when no
namespaces are configured, one call per namespace otherwise. A 403 on one namespace is recorded
as :class:`Forbidden` and the other namespaces are still read; a 403 on a cluster-wide call
falls back to the context's namespace.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from email.utils import parsedate_to_datetime
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlencode

from diagnostics import ErrorKind, ProbeContext, ProbeError, ProbeTimeout
from probes.kubernetes.config import KubernetesSettings
from probes.kubernetes.objects import Forbidden

CONNECT_TIMEOUT_S = 3.0
MAX_PAGES = 200
"""Pages per list call at most: 200 x 500 items bounds memory on any cluster."""
METADATA_ONLY = "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io,application/json"
"""Accept header for lists of metadata only (what Helm's release history needs, without data)."""
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")
LOG_LIMIT_BYTES = 16 * 1024

JSONObject = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Resource:
    """A kind of object the probes list, and how the client names its calls."""

    plural: str
    group: str
    """``""`` for the core API, ``apps`` for apps/v1."""
    singular: str
    """The client's method stem: ``replica_set`` -> ``list_namespaced_replica_set``."""
    namespaced: bool = True
    version: str = "v1"

    def path(self, namespace: str | None) -> str:
        """The list URL path, cluster-wide (``namespace`` None) or in one namespace."""
        root = f"/api/{self.version}" if not self.group else f"/apis/{self.group}/{self.version}"
        return f"{root}/namespaces/{namespace}/{self.plural}" if namespace else f"{root}/{self.plural}"


PODS = Resource("pods", "", "pod")
EVENTS = Resource("events", "", "event")
NODES = Resource("nodes", "", "node", namespaced=False)
SECRETS = Resource("secrets", "", "secret")
DEPLOYMENTS = Resource("deployments", "apps", "deployment")
REPLICA_SETS = Resource("replicasets", "apps", "replica_set")
STATEFUL_SETS = Resource("statefulsets", "apps", "stateful_set")
DAEMON_SETS = Resource("daemonsets", "apps", "daemon_set")
CONTROLLER_REVISIONS = Resource("controllerrevisions", "apps", "controller_revision")
SERVICES = Resource("services", "", "service")
ENDPOINT_SLICES = Resource("endpointslices", "discovery.k8s.io", "endpoint_slice")
INGRESSES = Resource("ingresses", "networking.k8s.io", "ingress")
INGRESS_CLASSES = Resource("ingressclasses", "networking.k8s.io", "ingress_class", namespaced=False)
PERSISTENT_VOLUME_CLAIMS = Resource("persistentvolumeclaims", "", "persistent_volume_claim")
PERSISTENT_VOLUMES = Resource("persistentvolumes", "", "persistent_volume", namespaced=False)
STORAGE_CLASSES = Resource("storageclasses", "storage.k8s.io", "storage_class", namespaced=False)
JOBS = Resource("jobs", "batch", "job")
CRON_JOBS = Resource("cronjobs", "batch", "cron_job")
HORIZONTAL_POD_AUTOSCALERS = Resource(
    "horizontalpodautoscalers", "autoscaling", "horizontal_pod_autoscaler", version="v2"
)
POD_DISRUPTION_BUDGETS = Resource("poddisruptionbudgets", "policy", "pod_disruption_budget")
MUTATING_WEBHOOKS = Resource(
    "mutatingwebhookconfigurations",
    "admissionregistration.k8s.io",
    "mutating_webhook_configuration",
    namespaced=False,
)
VALIDATING_WEBHOOKS = Resource(
    "validatingwebhookconfigurations",
    "admissionregistration.k8s.io",
    "validating_webhook_configuration",
    namespaced=False,
)


@dataclass(frozen=True, slots=True, kw_only=True)
class Listing:
    """The objects one list call (or one per namespace) returned."""

    resource: Resource
    items: tuple[JSONObject, ...]
    forbidden: tuple[Forbidden, ...] = ()
    readable_scopes: int = 1
    """How many of the namespaces (or the cluster-wide scope) could be read."""
    truncated: bool = False
    namespaces: tuple[str, ...] = ()
    """The configured namespaces listed (empty: cluster-wide)."""

    def covers(self, namespace: str | None) -> bool:
        """Whether the objects of ``namespace`` (of the cluster, for None) were all read.

        Judging "X does not exist" needs it: an object in a namespace RBAC refused, or beyond a
        list cut short, is unknown, not missing.
        """
        if self.readable_scopes == 0 or self.truncated:
            return False
        if not self.resource.namespaced:
            return True
        if self.namespaces and namespace not in self.namespaces:
            return False
        if not self.forbidden:
            return True
        if any(f.namespace is None for f in self.forbidden):
            return namespace is not None and any(f.read_instead == namespace for f in self.forbidden)
        return namespace not in {f.namespace for f in self.forbidden}


class KubeApi:
    """The run's API client, as one probe uses it (the run closes the client itself)."""

    def __init__(self, settings: KubernetesSettings, ctx: ProbeContext) -> None:
        self._settings = settings
        self._ctx = ctx
        self._client = ctx.resources.get(
            ("kubernetes", id(settings)), lambda: _RunClient(settings), _RunClient.close
        ).client
        self.host: str = str(self._client.configuration.host)
        self.queries: list[str] = []
        self.server_time: datetime | None = None
        """The API server's clock (its ``Date`` header): "now" for judging live state."""
        self._fallback: str | bool | None = False  # False: not looked up yet

    def __enter__(self) -> KubeApi:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        """Nothing to close here: the run's client outlives one probe (see :class:`_RunClient`)."""

    # -- list calls -----------------------------------------------------------------------

    def list_objects(
        self,
        resource: Resource,
        *,
        label_selector: str | None = None,
        field_selector: str | None = None,
        metadata_only: bool = False,
    ) -> Listing:
        """Every object of ``resource`` in the configured namespaces (or cluster-wide)."""
        selectors = {"labelSelector": label_selector, "fieldSelector": field_selector}
        query = [(k, v) for k, v in selectors.items() if v]
        scopes: Iterable[str | None] = (
            self._settings.namespaces or (None,) if resource.namespaced else (None,)
        )
        items: list[JSONObject] = []
        forbidden: list[Forbidden] = []
        readable = 0
        truncated = False
        for namespace in scopes:
            try:
                got, cut = self._paged(resource, namespace, query, metadata_only)
            except _Refused as refused:
                fallback = self._fallback_namespace() if namespace is None and resource.namespaced else None
                refusal = Forbidden(resource=resource.plural, namespace=namespace, message=refused.message)
                if fallback is None:
                    forbidden.append(refusal)
                    continue
                try:
                    got, cut = self._paged(resource, fallback, query, metadata_only)
                except _Refused as again:
                    forbidden.append(refusal)
                    forbidden.append(
                        Forbidden(resource=resource.plural, namespace=fallback, message=again.message)
                    )
                    continue
                forbidden.append(replace(refusal, read_instead=fallback))
            items += got
            truncated = truncated or cut
            readable += 1
        return Listing(
            resource=resource,
            items=tuple(items),
            forbidden=tuple(forbidden),
            readable_scopes=readable,
            truncated=truncated,
            namespaces=self._settings.namespaces if resource.namespaced else (),
        )

    def _paged(
        self, resource: Resource, namespace: str | None, query: list[tuple[str, str]], metadata_only: bool
    ) -> tuple[list[JSONObject], bool]:
        path = resource.path(namespace)
        self.queries.append(f"GET {path}" + (f"?{urlencode(query, safe='=,!()')}" if query else ""))
        accept = METADATA_ONLY if metadata_only else "application/json"
        items: list[JSONObject] = []
        token: str | None = None
        for _ in range(MAX_PAGES):
            page = [
                *query,
                ("limit", str(self._settings.page_size)),
                *([("continue", token)] if token else []),
            ]
            try:
                body = self._json(path, page, accept)
            except _Failed as failed:
                if failed.status == 410 and token:
                    return items, True  # the continue token expired: keep what was read
                raise failed.as_probe_error(f"listing {resource.plural}") from None
            items += body.get("items") or []
            token = (body.get("metadata") or {}).get("continue")
            if not token:
                return items, False
        return items, True

    def remaining(self) -> float:
        """Seconds left before the probe's deadline (optional reads stop when it runs short)."""
        return self._ctx.remaining()

    # -- single reads -----------------------------------------------------------------------

    def get(self, resource: Resource, namespace: str, name: str) -> JSONObject | None:
        """One object, or None when it is gone or not readable."""
        try:
            return self._json(f"{resource.path(namespace)}/{name}", [], "application/json")
        except (_Failed, _Refused):
            return None

    def previous_log(self, namespace: str, pod: str, container: str, *, tail_lines: int) -> str | None:
        """The last lines the previous (crashed) instance of a container wrote, or None."""
        query = [
            ("container", container),
            ("previous", "true"),
            ("tailLines", str(tail_lines)),
            ("limitBytes", str(LOG_LIMIT_BYTES)),
        ]
        try:
            data = self._request(f"{PODS.path(namespace)}/{pod}/log", query, "text/plain, */*")
        except (_Failed, _Refused):
            return None  # 400: no previous instance; 403: not allowed to read logs
        except ProbeTimeout:
            raise
        except ProbeError:
            return None  # a slow kubelet behind one log must not cost the whole diagnosis
        return data.decode("utf-8", errors="replace")

    def pod_log(
        self, namespace: str, pod: str, container: str, *, since_time: str, tail_lines: int, limit_bytes: int
    ) -> str | None:
        """A container's log lines since ``since_time``, each prefixed with its kubelet timestamp;
        None when the container has no log (not started) or reading it is not allowed."""
        query = [
            ("container", container),
            ("timestamps", "true"),
            ("sinceTime", since_time),
            ("tailLines", str(tail_lines)),
            ("limitBytes", str(limit_bytes)),
        ]
        try:
            data = self._request(f"{PODS.path(namespace)}/{pod}/log", query, "text/plain, */*")
        except (_Failed, _Refused):
            return None
        return data.decode("utf-8", errors="replace")

    # -- transport --------------------------------------------------------------------------

    def _json(self, path: str, query: list[tuple[str, str]], accept: str) -> JSONObject:
        data = self._request(path, query, accept)
        try:
            body = json.loads(data)
        except ValueError:
            raise ProbeError(
                f"the Kubernetes API at {self.host} answered with something that is not JSON",
                kind=ErrorKind.PROTOCOL,
            ) from None
        if not isinstance(body, dict):
            raise ProbeError(
                f"the Kubernetes API at {self.host} answered {type(body).__name__}", kind=ErrorKind.PROTOCOL
            )
        return body

    def _request(self, path: str, query: list[tuple[str, str]], accept: str) -> bytes:
        import urllib3
        from kubernetes.client.exceptions import ApiException

        read = self._ctx.timeout_for_call(self._settings.request_timeout.total_seconds())
        client: Any = self._client
        try:
            method, url, headers, _body, _post = client.param_serialize(
                method="GET",
                resource_path=path,
                query_params=query,
                header_params={"Accept": accept},
                auth_settings=["BearerToken"],
            )
            response = client.call_api(
                method, url, header_params=headers, _request_timeout=(min(CONNECT_TIMEOUT_S, read), read)
            )
            try:
                data: bytes = response.read()
            finally:
                response.response.release_conn()
        except ApiException as exc:  # the client's wrapping of TLS failures
            raise _Failed(exc.status or 0, str(exc.reason or ""), "", self.host).as_probe_error(
                "connecting"
            ) from None
        except urllib3.exceptions.HTTPError as exc:
            raise _transport_error(exc, self.host) from None
        self._note_time(response.headers.get("Date"))
        if response.status == 403:
            raise _Refused(_status_message(data, response.reason))
        if not 200 <= response.status <= 299:
            raise _Failed(response.status, str(response.reason or ""), _status_message(data, ""), self.host)
        return data

    def _note_time(self, header: str | None) -> None:
        if not header:
            return
        try:
            moment = parsedate_to_datetime(header)
        except (TypeError, ValueError):
            return
        if self.server_time is None or moment > self.server_time:
            self.server_time = moment

    def _fallback_namespace(self) -> str | None:
        """The context's namespace (kubectl's default), read when a cluster-wide list is refused."""
        if self._fallback is False:
            self._fallback = _context_namespace(self._settings)
        return self._fallback if isinstance(self._fallback, str) else None


class _RunClient:
    """The run's ``ApiClient`` and the sockets its pool opens, closed together by the runner."""

    def __init__(self, settings: KubernetesSettings) -> None:
        from probes.sockets import track

        self.client = _connect(settings)
        self._sockets = track(self.client.rest_client.pool_manager)

    def close(self) -> None:
        self._sockets.shut_down()  # a thread blocked on a hung API server gets an error
        self.client.close()


class _Refused(Exception):
    """A 403: recorded as Forbidden by list calls."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _Failed(Exception):
    """Any other non-2xx answer."""

    def __init__(self, status: int, reason: str, message: str, host: str) -> None:
        super().__init__(str(status))
        self.status = status
        self.reason = reason.splitlines()[0] if reason else ""
        self.message = message
        self.host = host

    def as_probe_error(self, what: str) -> ProbeError:
        if self.status == 401:
            return ProbeError(
                f"the Kubernetes API at {self.host} rejected the credentials (401 Unauthorized)",
                kind=ErrorKind.AUTH,
            )
        if self.status == 0:
            return ProbeError(f"TLS handshake with {self.host} failed: {self.reason}", kind=ErrorKind.TLS)
        detail = f": {self.message}" if self.message else ""
        kind = ErrorKind.PROTOCOL if self.status >= 500 or self.status == 404 else ErrorKind.QUERY
        return ProbeError(f"{what} at {self.host} failed with HTTP {self.status}{detail}", kind=kind)


def _status_message(body: bytes, default: str) -> str:
    """The ``message`` of the Status object the API server sends with errors."""
    try:
        status = json.loads(body) if body else {}
    except ValueError:
        status = {}
    message = status.get("message") if isinstance(status, dict) else None
    return str(message or default or "").strip()


def _transport_error(exc: Exception, host: str) -> ProbeError:
    import urllib3.exceptions as errors

    reason = getattr(exc, "reason", None) or exc
    text = str(reason)
    if "Failed to establish a new connection: " in text:
        text = text.split("Failed to establish a new connection: ", 1)[1]
    if isinstance(reason, errors.NameResolutionError):
        return ProbeError(f"cannot resolve the Kubernetes API host of {host}", kind=ErrorKind.DNS)
    if isinstance(reason, errors.SSLError):
        return ProbeError(f"TLS handshake with {host} failed: {text}", kind=ErrorKind.TLS)
    if isinstance(reason, errors.NewConnectionError):
        return ProbeError(f"cannot connect to the Kubernetes API at {host}: {text}", kind=ErrorKind.CONNECT)
    if isinstance(reason, errors.TimeoutError):
        return ProbeError(f"the Kubernetes API at {host} did not answer in time", kind=ErrorKind.TIMEOUT)
    return ProbeError(f"talking to the Kubernetes API at {host} failed: {text}", kind=ErrorKind.PROTOCOL)


def import_client() -> None:
    """Import the parts of the ``kubernetes`` client these probes use, before threads share them."""
    import kubernetes.client.exceptions
    import kubernetes.config.config_exception
    import kubernetes.config.incluster_config
    import kubernetes.config.kube_config  # noqa: F401  (imported for its side effect: loaded once)


def _connect(settings: KubernetesSettings) -> Any:
    from kubernetes import client
    from kubernetes import config as kube_config
    from kubernetes.config.config_exception import ConfigException

    config: Any = kube_config  # the loaders are untyped

    # retries=0: one attempt per call; the probe's deadline, not urllib3, decides when to give up
    configuration = client.Configuration(retries=0)
    try:
        if settings.in_cluster:
            from kubernetes.config import incluster_config

            in_cluster: Any = incluster_config
            in_cluster.InClusterConfigLoader(
                token_filename=in_cluster.SERVICE_TOKEN_FILENAME,
                cert_filename=in_cluster.SERVICE_CERT_FILENAME,
            ).load_and_set(configuration)
            return client.ApiClient(configuration=configuration)
        return config.new_client_from_config(
            config_file=settings.kubeconfig_path,
            context=settings.context,
            persist_config=False,
            client_configuration=configuration,
        )
    except (ConfigException, OSError, ValueError, KeyError, TypeError) as exc:
        source = "in-cluster service account" if settings.in_cluster else "kubeconfig"
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ProbeError(f"cannot load the {source}: {message}", kind=ErrorKind.CONFIG) from None


def _context_namespace(settings: KubernetesSettings) -> str | None:
    if settings.in_cluster:
        try:
            return SERVICE_ACCOUNT_NAMESPACE.read_text().strip() or None
        except OSError:
            return None
    from kubernetes import config as kube_config

    config: Any = kube_config
    try:
        contexts, active = config.list_kube_config_contexts(settings.kubeconfig_path)
    except Exception:  # the same file loaded a moment ago; any failure here means "no fallback"
        return None
    chosen = (
        next((c for c in contexts if c.get("name") == settings.context), None) if settings.context else active
    )
    namespace = ((chosen or {}).get("context") or {}).get("namespace")
    return str(namespace) if namespace else "default"
