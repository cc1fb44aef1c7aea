"""Live progress on stderr: a spinner per running probe, replaced by its status when it ends."""

from __future__ import annotations

import threading
import time
from types import TracebackType

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.spinner import Spinner
from rich.text import Text

from diagnostics.model import ProbeOutcome
from diagnostics.report.text import STATUS_STYLE


class LiveProgress:
    """A ProgressListener drawing one line per probe; use as a context manager."""

    def __init__(self, console: Console | None = None) -> None:
        self._console = console or Console(stderr=True)
        self._lock = threading.Lock()
        self._running: dict[str, float] = {}
        self._live = Live(
            console=self._console, refresh_per_second=12, transient=True, get_renderable=self._render
        )

    def __enter__(self) -> LiveProgress:
        self._live.__enter__()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._live.__exit__(exc_type, exc, tb)

    def started(self, probe_id: str) -> None:
        with self._lock:
            self._running[probe_id] = time.monotonic()

    def finished(self, outcome: ProbeOutcome) -> None:
        with self._lock:
            self._running.pop(outcome.probe, None)
        line = Text.assemble(
            (f"{outcome.probe:<24}", "bold"),
            (f"{outcome.status.value:<9}", STATUS_STYLE[outcome.status]),
            (f"{outcome.duration_s:6.2f}s", "dim"),
        )
        self._live.console.print(line)

    def _render(self) -> RenderableType:
        with self._lock:
            running = sorted(self._running.items())
        now = time.monotonic()
        return Group(
            *(Spinner("dots", text=Text(f"{probe_id:<24}{now - began:6.1f}s")) for probe_id, began in running)
        )
