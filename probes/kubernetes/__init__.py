"""Kubernetes probes: what changed in the cluster (rollouts, Helm upgrades) and what is failing.

``deploys.rollouts`` (:mod:`probes.kubernetes.rollouts`), ``workloads.pods``
(:mod:`probes.kubernetes.pods`) and ``workloads.nodes`` (:mod:`probes.kubernetes.nodes`) share
the top-level ``kubernetes`` section (:mod:`probes.kubernetes.backend`). One module talks to
the API server (:mod:`probes.kubernetes.collect`); everything else is pure: parsing JSON into
frozen values (:mod:`probes.kubernetes.parse`), rebuilding revision histories
(:mod:`probes.kubernetes.history`) and judging (``judge_*``).
"""
