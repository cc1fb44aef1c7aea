"""A local Elasticsearch/OpenSearch for tests: real HTTP answering ``_search`` as they do.

Neither can run on this machine, so the probes' real HTTP client talks to this server. It holds
indices of JSON documents and evaluates the part of the query DSL the log probes send:
``bool`` (``filter``, ``must``, ``should`` with ``minimum_should_match``, ``must_not``),
``range`` (``gte``/``gt``/``lte``/``lt``, ``format: epoch_millis`` or ISO dates), ``term``,
``terms`` (exact, on keyword fields), ``exists``, ``match_all`` and ``query_string`` (``*``,
``field:value``, terms joined by ``OR``/``AND``, matched case-insensitively against the analysed
words of text fields, or of ``default_field``); ``size``, ``sort`` on one field, ``_source``
filtering; and the aggregations ``date_histogram`` (``fixed_interval``, ``min_doc_count``) with
``filter`` sub-aggregations. Index patterns with ``*`` and comma lists; a missing concrete index
answers 404 ``index_not_found_exception``; ``basic_auth`` is checked when set (401 otherwise).
"""

from __future__ import annotations

import base64
import fnmatch
import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

Doc = dict[str, Any]
_WORD = re.compile(r"\w+")
_INTERVALS = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


@dataclass
class EsState:
    indices: dict[str, list[Doc]] = field(default_factory=dict)
    basic_auth: tuple[str, str] | None = None
    distribution: str = "elasticsearch"


def _get(doc: Doc, path: str) -> Any:
    if path in doc:
        return doc[path]
    current: Any = doc
    for part in path.split("."):
        current = current.get(part) if isinstance(current, dict) else None
    return current


def _millis(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp() * 1000


def _string_query(query: str, doc: Doc, default_field: str | None) -> bool:
    query = query.strip()
    if query in ("*", ""):
        return True
    if " OR " in query:
        return any(_string_query(part, doc, default_field) for part in query.split(" OR "))
    if " AND " in query:
        return all(_string_query(part, doc, default_field) for part in query.split(" AND "))
    name, sep, value = query.partition(":")
    if not sep:
        name, value = default_field or "message", query
    actual = _get(doc, name)
    if actual is None:
        return False
    value = value.strip('"')
    if value == "*":
        return True
    words = {w.lower() for w in _WORD.findall(str(actual))}
    return all(w.lower() in words for w in _WORD.findall(value))


def matches(query: dict[str, Any], doc: Doc) -> bool:
    """Whether ``doc`` matches the query DSL clause ``query``."""
    ((kind, body),) = query.items()
    if kind == "match_all":
        return True
    if kind == "bool":
        clauses = lambda key: body.get(key, []) if isinstance(body.get(key, []), list) else [body[key]]  # noqa: E731
        if not all(matches(q, doc) for q in clauses("filter") + clauses("must")):
            return False
        if any(matches(q, doc) for q in clauses("must_not")):
            return False
        should = clauses("should")
        if should:
            needed = int(body.get("minimum_should_match", 1))
            return sum(matches(q, doc) for q in should) >= needed
        return True
    if kind == "range":
        ((name, bounds),) = body.items()
        value = _get(doc, name)
        if value is None:
            return False
        at = _millis(value)
        checks = {"gte": at.__ge__, "gt": at.__gt__, "lte": at.__le__, "lt": at.__lt__}
        return all(checks[op](_millis(bound)) for op, bound in bounds.items() if op in checks)
    if kind == "term":
        ((name, value),) = body.items()
        value = value.get("value") if isinstance(value, dict) else value
        return _get(doc, name) == value
    if kind == "terms":
        ((name, values),) = body.items()
        return _get(doc, name) in values
    if kind == "exists":
        return _get(doc, body["field"]) is not None
    if kind == "query_string":
        return _string_query(body["query"], doc, body.get("default_field"))
    raise ValueError(f"[{kind}] query malformed, no start_object after query name")


def _interval(text: str) -> int:
    return int(text[:-1]) * _INTERVALS[text[-1]]


def aggregate(aggs: dict[str, Any], docs: list[Doc]) -> dict[str, Any]:
    """The ``aggregations`` of an answer."""
    result: dict[str, Any] = {}
    for name, spec in aggs.items():
        sub = spec.get("aggs") or spec.get("aggregations") or {}
        if "date_histogram" in spec:
            histogram = spec["date_histogram"]
            width = _interval(histogram["fixed_interval"])
            groups: dict[int, list[Doc]] = {}
            for doc in docs:
                value = _get(doc, histogram["field"])
                if value is not None:
                    groups.setdefault(int(_millis(value) // width * width), []).append(doc)
            minimum = int(histogram.get("min_doc_count", 1))
            keys = sorted(groups)
            if minimum == 0 and keys:
                keys = list(range(keys[0], keys[-1] + width, width))
            buckets = []
            for key in keys:
                members = groups.get(key, [])
                if len(members) >= minimum:
                    bucket = {"key": key, "key_as_string": datetime.fromtimestamp(key / 1000, UTC).isoformat().replace("+00:00", "Z"),
                              "doc_count": len(members)}  # fmt: skip
                    bucket.update(aggregate(sub, members))
                    buckets.append(bucket)
            result[name] = {"buckets": buckets}
        elif "filter" in spec:
            members = [d for d in docs if matches(spec["filter"], d)]
            result[name] = {"doc_count": len(members), **aggregate(sub, members)}
        else:
            raise ValueError(f"unknown aggregation type in [{name}]")
    return result


def _source(doc: Doc, fields: list[str] | None) -> Doc:
    if fields is None:
        return doc
    kept: Doc = {}
    for name in fields:
        value = _get(doc, name)
        if value is not None:
            kept[name] = value
    return kept


class ElasticsearchServer:
    """The server thread and its state; ``load`` replaces the indices."""

    def __init__(self) -> None:
        self.state = EsState()
        self.bodies: list[dict[str, Any]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, name="es-api", daemon=True).start()

    def load(self, state: EsState) -> None:
        self.state = state
        self.bodies = []

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def search(self, pattern: str, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        names = []
        for part in pattern.split(","):
            found = [n for n in self.state.indices if fnmatch.fnmatchcase(n, part)]
            if not found and "*" not in part:
                error = {
                    "type": "index_not_found_exception",
                    "reason": f"no such index [{part}]",
                    "index": part,
                }
                return 404, {"error": {"root_cause": [error], **error}, "status": 404}
            names += found
        docs = [(n, i, d) for n in names for i, d in enumerate(self.state.indices[n])]
        query = body.get("query", {"match_all": {}})
        hits = [(n, i, d) for n, i, d in docs if matches(query, d)]
        for sort in reversed(body.get("sort", [])):
            ((name, order),) = sort.items()
            order = order.get("order", "asc") if isinstance(order, dict) else order
            hits.sort(key=lambda h: _millis(_get(h[2], name)), reverse=order == "desc")
        size = int(body.get("size", 10))
        answer: dict[str, Any] = {
            "took": 3,
            "timed_out": False,
            "_shards": {"total": 1, "successful": 1, "skipped": 0, "failed": 0},
            "hits": {
                "max_score": None,
                "hits": [
                    {
                        "_index": n,
                        "_id": f"{n}-{i}",
                        "_score": None,
                        "_source": _source(d, body.get("_source")),
                    }
                    for n, i, d in hits[:size]
                ],
            },
        }
        if body.get("track_total_hits", True) is not False:
            answer["hits"]["total"] = {"value": len(hits), "relation": "eq"}
        if body.get("aggs"):
            answer["aggregations"] = aggregate(body["aggs"], [d for _, _, d in hits])
        return 200, answer


def _handler(server: ElasticsearchServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, code: int, body: Any) -> None:
            data = json.dumps(body).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _authorized(self) -> bool:
            expected = server.state.basic_auth
            if expected is None:
                return True
            token = base64.b64encode(f"{expected[0]}:{expected[1]}".encode()).decode()
            if self.headers.get("Authorization") == f"Basic {token}":
                return True
            self._send(401, {"error": {"type": "security_exception", "reason": "unable to authenticate user"},
                             "status": 401})  # fmt: skip
            return False

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if not self._authorized():
                return
            match = re.fullmatch(r"/([^/]+)/_search", self.path.split("?")[0])
            if match is None:
                self._send(405, {"error": "Incorrect HTTP method", "status": 405})
                return
            try:
                body = json.loads(raw or b"{}")
                server.bodies.append(body)
                code, answer = server.search(match.group(1), body)
            except (ValueError, KeyError) as exc:
                error = {"type": "parsing_exception", "reason": str(exc)}
                code, answer = 400, {"error": {"root_cause": [error], **error}, "status": 400}
            self._send(code, answer)

    return Handler


@pytest.fixture(scope="session")
def elasticsearch_api() -> Iterator[ElasticsearchServer]:
    """The session's Elasticsearch-shaped server; tests ``load`` their indices."""
    server = ElasticsearchServer()
    yield server
    server.close()
