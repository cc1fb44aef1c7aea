"""Message templates: Drain3's miner over masked messages.

Before mining, the variable parts are masked: UUIDs, IPv4/IPv6 addresses (with ports), e-mail
addresses, hex ids (``0x...`` or 8+ hex digits with a digit), file paths (under ``/var``,
``/srv``, ``/home``, ``/tmp``...: a route like ``/api/cart`` stays, its numeric parts masked)
and URLs, and numbers,
so ``timeout after 3000 ms to 10.0.0.7:5432`` and ``timeout after 2800 ms to 10.0.0.9:5432``
are one template ``timeout after <NUM> ms to <IP>``. The leading timestamp and the continuation
lines of a multi-line event (its stack frames) are left out of the template.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from typing import Any

MASKS = (
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "UUID"),
    (r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?::\d{1,5})?(?![\w.])", "IP"),
    (r"(?<![\w:])(?:[0-9a-fA-F]{1,4}:){2,7}[0-9a-fA-F]{1,4}(?![\w:])", "IP"),
    (r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", "EMAIL"),
    (r"\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)(?=[0-9a-fA-F]*[a-fA-F])[0-9a-fA-F]{8,}\b", "HEX"),
    (
        r"[a-z]+://[^\s\"']+|(?<![\w/])/(?:var|srv|home|tmp|etc|usr|opt|data|proc|dev|mnt|run|root|lib|app|sys)(?:/[\w.@%+~-]+)+/?",
        "PATH",
    ),
    (r"(?<![A-Za-z])[-+]?\d+(?:\.\d+)?(?:ms|s|m|h|us|ns|[KMG]i?B)?(?![A-Za-z])", "NUM"),
)
LEADING_TIME = re.compile(
    r"^\[?(?:\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d[.,]?\d*(?:Z|[+-]\d\d:?\d\d)?|"
    r"[A-Z][a-z]{2} {1,2}\d{1,2} \d\d:\d\d:\d\d)\]?\s*"
)
_IMPORT_LOCK = threading.Lock()


def first_line(message: str) -> str:
    """The message's first line without its leading timestamp: what its template is mined from."""
    line = message.split("\n", 1)[0]
    return LEADING_TIME.sub("", line, count=1).strip()[:1000]


def _miner() -> Any:
    with _IMPORT_LOCK:  # one thread imports drain3 while the other log probe waits
        from drain3 import TemplateMiner
        from drain3.masking import MaskingInstruction
        from drain3.template_miner_config import TemplateMinerConfig

    config = TemplateMinerConfig()
    config.profiling_enabled = False
    config.drain_sim_th = 0.5
    config.drain_depth = 4
    config.parametrize_numeric_tokens = True
    config.mask_prefix = "<"
    config.mask_suffix = ">"
    config.masking_instructions = [MaskingInstruction(pattern, name) for pattern, name in MASKS]
    return TemplateMiner(config=config)


def mine(messages: Sequence[str]) -> tuple[list[int], dict[int, str]]:
    """The template id of each message and the final text of each template.

    Ids are Drain3's cluster ids: a template merging later keeps its id, so every message of a
    family ends with the same id whichever came first.
    """
    miner = _miner()
    ids = []
    seen: dict[str, int] = {}
    for message in messages:
        line = first_line(message)
        known = seen.get(line)
        if known is not None:  # the same text again: Drain3 would find the same cluster
            ids.append(known)
            continue
        result = miner.add_log_message(line)
        cluster_id = int(result["cluster_id"])
        if len(seen) < 100_000:
            seen[line] = cluster_id
        ids.append(cluster_id)
    texts = {int(c.cluster_id): c.get_template() for c in miner.drain.clusters}
    return ids, texts
