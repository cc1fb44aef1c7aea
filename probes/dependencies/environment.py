"""What requests would take from the environment: proxies (HTTP(S)_PROXY, ALL_PROXY, NO_PROXY)
and the CA bundle (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE).

Read once per run rather than on every request (``Session.trust_env`` re-reads and scans the
whole environment per request, which dominates a sweep of hundreds of endpoints). Per URL, the
proxy choice is requests' own (``requests.utils.get_environ_proxies``, NO_PROXY included).
"""

from __future__ import annotations

import os
import urllib.request
from dataclasses import dataclass

from probes.dependencies.config import display_url


@dataclass(frozen=True, slots=True, kw_only=True)
class TransportEnvironment:
    proxies_configured: bool
    ca_bundle: str | None


def read_environment() -> TransportEnvironment:
    proxies = urllib.request.getproxies()  # the *_proxy variables requests reads, lower or upper case
    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE") or None
    return TransportEnvironment(
        proxies_configured=any(key != "no" for key in proxies),
        ca_bundle=bundle,
    )


def proxies_for(url: str, environment: TransportEnvironment) -> dict[str, str]:
    """The proxies requests would use for ``url`` (empty when NO_PROXY excludes it)."""
    if not environment.proxies_configured:
        return {}
    from requests.utils import get_environ_proxies

    return dict(get_environ_proxies(url, no_proxy=None))


def proxy_display(url: str, proxies: dict[str, str]) -> str | None:
    """The proxy a request to ``url`` goes through, without its credentials."""
    from requests.utils import select_proxy

    proxy = select_proxy(url, proxies) if proxies else None
    return display_url(proxy) if proxy else None


def verify_setting(
    *, verify_tls: bool, ca_bundle: str | None, environment: TransportEnvironment
) -> bool | str:
    """requests' ``verify``: the entry's bundle, else the environment's, else the system's."""
    if not verify_tls:
        return False
    return ca_bundle or environment.ca_bundle or True
