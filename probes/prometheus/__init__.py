"""Probes over Prometheus: anomalies in key metrics, firing alerts and scrape health.

Shared building blocks for every probe that reads Prometheus (``metrics.*``, ``resources.*``):
:mod:`probes.prometheus.config` (the ``prometheus`` configuration section),
:mod:`probes.prometheus.client` (the one module that talks HTTP to Prometheus, returning the
frozen dataclasses of :mod:`probes.prometheus.model`) and :mod:`probes.prometheus.judge_series`
(pure, vectorized anomaly detection over arrays).
"""
