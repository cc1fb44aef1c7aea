"""Finding keys for Prometheus series: light, so probe modules can import it at load time."""

from __future__ import annotations

from collections.abc import Mapping


def series_key(name: str, labels: Mapping[str, str]) -> str:
    """A finding key naming one series of a query or alert: ``name{label="value",...}``.

    Stable across runs, so findings about different series of one service keep different
    fingerprints.
    """
    pairs = ",".join(
        f'{k}="{v}"' for k, v in sorted(labels.items()) if k not in ("__name__", "alertname", "alertstate")
    )
    return f"{name}{{{pairs}}}"
