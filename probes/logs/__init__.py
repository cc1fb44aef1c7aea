"""Log probes: error spikes and new error patterns from files, journald, Kubernetes, Loki,
Elasticsearch/OpenSearch and VictoriaLogs (``logs.errors``, ``logs.patterns``)."""
