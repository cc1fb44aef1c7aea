"""``diag serve``: the probes on a schedule, their results as Prometheus series and reports."""
