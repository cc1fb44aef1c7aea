"""What to do about a changed flag: the call that switches it off, and its page in the UI.

Pure text, never executed by diag. Tokens appear as the environment variables the commands read
(``$UNLEASH_API_TOKEN``, ``$LD_API_TOKEN``), never their values.
"""

from __future__ import annotations

import json
import shlex

from probes.toggles.config import FlagProvider
from probes.toggles.flags import FlagInfo


def switch_command(
    entry: FlagProvider, flag: FlagInfo, environment: str, *, on: bool = False, variant: str | None = None
) -> str:
    """The one command that switches ``flag`` off (or back ``on``) in ``environment``.

    ``variant``: for flagd, the default variant to restore when switching back on.
    """
    if entry.unleash is not None:
        project = flag.project or entry.unleash.projects[0]
        url = (
            f"{entry.unleash.url}/api/admin/projects/{project}/features/{flag.name}"
            f"/environments/{environment}/{'on' if on else 'off'}"
        )
        return f'curl -fsS -X POST -H "Authorization: $UNLEASH_API_TOKEN" {shlex.quote(url)}'
    if entry.launchdarkly is not None:
        source = entry.launchdarkly
        body = json.dumps(
            {"environmentKey": environment, "instructions": [{"kind": "turnFlagOn" if on else "turnFlagOff"}]}
        )
        url = f"{source.url}/api/v2/flags/{flag.project or source.project}/{flag.name}"
        return (
            f'curl -fsS -X PATCH -H "Authorization: $LD_API_TOKEN" '
            f"-H 'Content-Type: application/json; domain-model=launchdarkly.semanticpatch' "
            f"-d {shlex.quote(body)} {shlex.quote(url)}"
        )
    path = flag.location or (entry.flagd.files[0] if entry.flagd else "flags.json")
    key = json.dumps(flag.name)
    if on:
        edit = f'.flags[{key}].state = "ENABLED"'
        if variant is not None:
            edit += f" | .flags[{key}].defaultVariant = {json.dumps(variant)}"
    elif flag.off_variant is not None:
        edit = f".flags[{key}].defaultVariant = {json.dumps(flag.off_variant)} | del(.flags[{key}].targeting)"
    else:
        edit = f'.flags[{key}].state = "DISABLED"'
    quoted = shlex.quote(path)
    return f"jq {shlex.quote(edit)} {quoted} > {quoted}.new && mv {quoted}.new {quoted}"


def ui_link(entry: FlagProvider, flag: FlagInfo, environment: str) -> str | None:
    """The flag's page in the provider's UI (None for flagd, which has none)."""
    if entry.unleash is not None:
        project = flag.project or entry.unleash.projects[0]
        return f"{entry.unleash.url}/projects/{project}/features/{flag.name}"
    if entry.launchdarkly is not None:
        source = entry.launchdarkly
        base = source.ui_url or source.url
        return (
            f"{base}/projects/{flag.project or source.project}/flags/{flag.name}/targeting?env={environment}"
        )
    return None
