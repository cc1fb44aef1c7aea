"""Kubernetes probes: what changed in the cluster (rollouts, Helm upgrades) and what is failing.

``deploys.rollouts`` (:mod:`probes.kubernetes.rollouts`), ``workloads.pods``
(:mod:`probes.kubernetes.pods`), ``workloads.nodes`` (:mod:`probes.kubernetes.nodes`) and the
probes of the objects around workloads, ``workloads.replicas``, ``workloads.services``,
``workloads.storage``, ``workloads.batch``, ``workloads.autoscaling`` and
``workloads.admission``, share the top-level ``kubernetes`` section
(:mod:`probes.kubernetes.config`). One module talks to the API server
(:mod:`probes.kubernetes.client`); what each probe lists is in
:mod:`probes.kubernetes.client_workloads` and :mod:`probes.kubernetes.client_cluster`;
everything else is pure: parsing JSON into frozen values (:mod:`probes.kubernetes.parse`,
:mod:`probes.kubernetes.parse_cluster`), rebuilding revision histories
(:mod:`probes.kubernetes.history`), evaluating CronJob schedules (:mod:`probes.kubernetes.cron`)
and judging (``judge_*``).
"""
