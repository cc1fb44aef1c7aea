"""Dependency probes: upstream HTTP endpoints, TCP services and providers' status pages.

All three read the shared ``dependencies`` section (:mod:`probes.dependencies.config`); each
checks only the entries of its kind (``url``, ``tcp`` or ``statuspage``):

- ``deps.http`` (:mod:`probes.dependencies.http`): status, body, latency, TLS, redirects;
- ``deps.tcp`` (:mod:`probes.dependencies.tcp`): connect time and failure;
- ``deps.statuspage`` (:mod:`probes.dependencies.statuspage`): a provider's declared state.
"""
