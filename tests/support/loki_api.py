"""A local Loki for tests: real HTTP answering Loki's JSON for the LogQL the probes send.

Loki cannot run on this machine, so the probes' real HTTP client talks to this server, which
holds streams (labels and timestamped lines) and evaluates, as Loki does:

- ``/loki/api/v1/query_range`` of a log query ``{label="v", l2=~"re"} |= "text" |~ `re```
  (streams result, ``limit``, ``direction``, range ``[start, end)``) and of the metric query
  ``sum(count_over_time(<log query> [1m]))`` (matrix result, one point per ``step`` counting
  the lines in ``(t - 1m, t]``, no point where the count is zero, as Loki omits empty steps);
- ``/loki/api/v1/patterns``: the patterns its Drain miner found in the lines of the last
  ``retain_for`` (Loki's pattern ingester keeps about 3 hours), ``<_>`` for variable parts, with
  per-step sample counts; ``patterns: false`` answers 404 as a Loki without the pattern ingester;
- ``X-Scope-OrgID`` / bearer checks when ``token`` is set (401 otherwise).
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

_MATCHER = re.compile(r'\s*([A-Za-z_]\w*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*,?')
_FILTER = re.compile(r'\s*(\|=|!=|\|~|!~)\s*(?:`([^`]*)`|"((?:[^"\\]|\\.)*)")')
_METRIC = re.compile(r"^sum\(count_over_time\((?P<log>.*)\[(?P<range>\d+)([smh])\]\)\)$", re.DOTALL)


@dataclass
class Stream:
    labels: dict[str, str]
    entries: list[tuple[int, str]] = field(default_factory=list)
    """(unix nanoseconds, line), oldest first."""


@dataclass
class LokiState:
    streams: list[Stream] = field(default_factory=list)
    patterns: bool = True
    retain_for_s: float = 3 * 3600
    token: str | None = None
    now_ns: int = 0
    """What the pattern ingester takes as now (the newest line, unless set)."""


def parse_log_query(query: str) -> tuple[list[tuple[str, str, str]], list[tuple[str, str]]]:
    """(label matchers, line filters) of ``{...} |= ... |~ ...``."""
    query = query.strip()
    if not query.startswith("{") or "}" not in query:
        raise ValueError(f"parse error : syntax error: unexpected input, expecting {{ in {query[:40]!r}")
    inside, rest = query[1:].split("}", 1)
    matchers = [(m.group(1), m.group(2), m.group(3).replace('\\"', '"')) for m in _MATCHER.finditer(inside)]
    filters = []
    position = 0
    rest = rest.strip()
    while position < len(rest):
        match = _FILTER.match(rest, position)
        if match is None:
            raise ValueError(f"parse error : syntax error: unexpected {rest[position : position + 20]!r}")
        text = match.group(2) if match.group(2) is not None else match.group(3).replace("\\\\", "\\")
        filters.append((match.group(1), text))
        position = match.end()
    return matchers, filters


def _labels_match(labels: Mapping[str, str], matchers: list[tuple[str, str, str]]) -> bool:
    for name, op, value in matchers:
        actual = labels.get(name, "")
        if (op == "=" and actual != value) or (op == "!=" and actual == value):
            return False
        if (op == "=~" and not re.fullmatch(value, actual)) or (op == "!~" and re.fullmatch(value, actual)):
            return False
    return True


def _line_match(line: str, filters: list[tuple[str, str]]) -> bool:
    for op, text in filters:
        found = (text in line) if op in ("|=", "!=") else re.search(text, line) is not None
        if found != (op in ("|=", "|~")):
            return False
    return True


class LokiServer:
    """The server thread and its state; ``load`` replaces the streams."""

    def __init__(self) -> None:
        self.state = LokiState()
        self.requests: list[tuple[str, dict[str, str]]] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, name="loki-api", daemon=True).start()

    def load(self, state: LokiState) -> None:
        self.state = state
        self.requests = []

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    # -- evaluation ---------------------------------------------------------------------------

    def select(self, query: str, start: int, end: int) -> list[tuple[Stream, list[tuple[int, str]]]]:
        matchers, filters = parse_log_query(query)
        chosen = []
        for stream in self.state.streams:
            if _labels_match(stream.labels, matchers):
                entries = [
                    (t, line) for t, line in stream.entries if start <= t < end and _line_match(line, filters)
                ]
                if entries:
                    chosen.append((stream, entries))
        return chosen

    def query_range(self, params: Mapping[str, str]) -> dict[str, Any]:
        query = params["query"]
        start, end = _ns(params["start"]), _ns(params["end"])
        metric = _METRIC.match(query.strip())
        if metric is None:
            limit = int(params.get("limit", "100"))
            picked = self.select(query, start, end + 1)
            flat = sorted(((t, line, s) for s, entries in picked for t, line in entries), key=lambda x: x[0])
            if params.get("direction", "backward") == "backward":
                flat = flat[::-1]
            flat = flat[:limit]
            streams: dict[int, dict[str, Any]] = {}
            for t, line, stream in flat:
                streams.setdefault(id(stream), {"stream": stream.labels, "values": []})["values"].append(
                    [str(t), line]
                )
            return {"status": "success", "data": {"resultType": "streams", "result": list(streams.values())}}
        unit = {"s": 1, "m": 60, "h": 3600}[metric.group(3)]
        width = int(metric.group("range")) * unit * 10**9
        step = int(float(params.get("step", "60").rstrip("s")) * 10**9)
        times = [
            t for _s, entries in self.select(metric.group("log"), start - width, end + 1) for t, _ in entries
        ]
        times.sort()
        values = []
        import bisect

        t = start
        while t <= end:
            count = bisect.bisect_right(times, t) - bisect.bisect_right(times, t - width)
            if count:
                values.append([t / 1e9, str(count)])
            t += step
        result = [{"metric": {}, "values": values}] if values else []
        return {"status": "success", "data": {"resultType": "matrix", "result": result}}

    def patterns(self, params: Mapping[str, str]) -> dict[str, Any]:
        from drain3 import TemplateMiner
        from drain3.template_miner_config import TemplateMinerConfig

        start, end = _ns(params["start"]), _ns(params["end"])
        step = int(float(params.get("step", "60").rstrip("s")) * 10**9)
        newest = max((t for s in self.state.streams for t, _ in s.entries), default=0)
        kept_from = max(start, (self.state.now_ns or newest) - int(self.state.retain_for_s * 1e9))
        config = TemplateMinerConfig()
        config.profiling_enabled = False
        config.parametrize_numeric_tokens = True
        miner = TemplateMiner(config=config)
        samples: dict[int, dict[int, int]] = {}
        for _stream, entries in self.select(params["query"], kept_from, end + 1):
            for t, line in entries:
                cluster = int(miner.add_log_message(line)["cluster_id"])
                bucket = start + (t - start) // step * step
                samples.setdefault(cluster, {}).setdefault(bucket, 0)
                samples[cluster][bucket] += 1
        data = []
        for cluster in miner.drain.clusters:
            template = re.sub(r"<\*>|<:\w+:>", "<_>", cluster.get_template())
            points = sorted(samples.get(int(cluster.cluster_id), {}).items())
            data.append({"pattern": template, "samples": [[t // 10**9, n] for t, n in points]})
        return {"status": "success", "data": data}


def _ns(text: str) -> int:
    if text.isdigit():
        return int(text)
    raise ValueError(f"invalid parameter: cannot parse {text!r} as a nanosecond timestamp")


def _handler(server: LokiServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _send(self, code: int, body: Any) -> None:
            data = (json.dumps(body) if not isinstance(body, str) else body).encode()
            self.send_response(code)
            self.send_header(
                "Content-Type", "application/json" if not isinstance(body, str) else "text/plain"
            )
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            params = {k: v[-1] for k, v in parse_qs(parts.query).items()}
            server.requests.append((parts.path, params))
            state = server.state
            if state.token and self.headers.get("Authorization") != f"Bearer {state.token}":
                self._send(401, "no org id\n")
                return
            try:
                if parts.path == "/loki/api/v1/query_range":
                    self._send(200, server.query_range(params))
                elif parts.path == "/loki/api/v1/patterns" and state.patterns:
                    self._send(200, server.patterns(params))
                else:
                    self._send(404, "404 page not found\n")
            except (ValueError, KeyError, re.error) as exc:
                self._send(400, f"{exc}\n")

    return Handler


@pytest.fixture(scope="session")
def loki_api() -> Iterator[LokiServer]:
    """The session's Loki-shaped server; tests ``load`` their streams."""
    server = LokiServer()
    yield server
    server.close()
