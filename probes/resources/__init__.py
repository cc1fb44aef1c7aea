"""Resource probes over Prometheus: a fleet's hosts (node_exporter) and containers (cAdvisor).

``resources.nodes`` and ``resources.containers`` judge every host and container that Prometheus
scrapes with a fixed number of queries (one instant query per signal across the fleet, range
queries only for the onset of what crossed a threshold and for baselines), following the USE
method: utilization, saturation and errors of CPU, memory, disks and network.

Modules: :mod:`~probes.resources.promql` (every query), :mod:`~probes.resources.client` (the one
door to Prometheus, counting queries), :mod:`~probes.resources.client_nodes` and
:mod:`~probes.resources.client_containers` (I/O), :mod:`~probes.resources.judge_nodes` and
:mod:`~probes.resources.judge_containers` (pure), :mod:`~probes.resources.problem` and
:mod:`~probes.resources.onset` (dating what was found), :mod:`~probes.resources.config`
(settings both probes share), :mod:`~probes.resources.nodes` and
:mod:`~probes.resources.containers` (the probes). ``resources.host`` (psutil, this host only)
stays the zero-configuration default.
"""
