"""Reference text generated from the code: each probe's options and findings, and the CLI.

The same functions feed ``diag probes show ID`` and the documentation site's reference pages
(``docs/reference/probes.md``, ``docs/reference/cli.md``); a test fails while the committed
pages differ from what they produce, so defaults are written once, in the options models.
"""

from __future__ import annotations

import inspect
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import click
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from diagnostics.contract import Probe
from diagnostics.model import ChecklistItem
from diagnostics.registry import Registry
from diagnostics.units import format_duration


@dataclass(frozen=True, slots=True, kw_only=True)
class OptionDoc:
    """One option of a probe's ``probes.<id>`` section."""

    name: str
    type: str
    default: str
    description: str


def option_docs(model: type[BaseModel]) -> list[OptionDoc]:
    """The options of a model, with their types, defaults and attribute docstrings."""
    return [
        OptionDoc(
            name=name,
            type=_type_name(info.annotation),
            default=_default(info),
            description=" ".join((info.description or "").split()).replace("``", "`"),
        )
        for name, info in model.model_fields.items()
    ]


def _type_name(annotation: Any) -> str:
    if annotation is timedelta:
        return "duration"
    if isinstance(annotation, type):
        return annotation.__name__
    text = str(annotation)
    for noise in ("typing.", "datetime.", "collections.abc."):
        text = text.replace(noise, "")
    if "timedelta" in text:
        text = text.replace("timedelta", "duration")
    return text


def _default(info: FieldInfo) -> str:
    if info.default is PydanticUndefined:
        return "required" if info.default_factory is None else "(computed)"
    value = info.default
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "none"
    if isinstance(value, tuple | list | frozenset | set):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def probe_notes(probe_class: type[Probe]) -> str:
    """What a probe reads and reports: its module's docstring (signals, thresholds, findings)."""
    module = sys.modules.get(probe_class.__module__)
    text = inspect.getdoc(module) if module is not None else None
    return text or inspect.getdoc(probe_class) or ""


def enable_snippet(probe_class: type[Probe]) -> str:
    """The configuration that enables the probe."""
    section = probe_class.backend_section
    if section is None:
        return f"# on by default; to turn it off:\nprobes:\n  {probe_class.id}: {{enabled: false}}"
    return section.setup_hint


def probe_markdown(probe_class: type[Probe], heading: str = "##") -> str:
    """A probe's reference section in Markdown."""
    lines = [f"{heading} `{probe_class.id}`", "", probe_class.description + ".", ""]
    lines.append(f"Checklist item: **{probe_class.checklist_item.heading}**.")
    section = probe_class.backend_section
    if section is not None:
        lines.append(f"Reads the `{section.key}` section.")
    lines += ["", "Enable it:", "", "```yaml", enable_snippet(probe_class), "```", ""]
    lines += [
        f"Options (`probes.{probe_class.id}`):",
        "",
        "| option | type | default | meaning |",
        "|---|---|---|---|",
    ]
    for option in option_docs(probe_class.options_model):
        meaning = option.description.replace("|", "\\|")
        kind = option.type.replace("|", "\\|")
        lines.append(f"| `{option.name}` | {kind} | `{option.default}` | {meaning} |")
    notes = probe_notes(probe_class)
    if notes:
        lines += ["", "What it reads and reports:", "", "```text", notes, "```"]
    return "\n".join(lines) + "\n"


def probe_text(probe_class: type[Probe]) -> str:
    """A probe's reference for the terminal (``diag probes show ID``)."""
    lines = [f"{probe_class.id}: {probe_class.description}"]
    lines.append(f"checklist item: {probe_class.checklist_item.heading}")
    if probe_class.backend_section is not None:
        lines.append(f"reads section: {probe_class.backend_section.key}")
    lines += ["", "enable it:"]
    lines += ["  " + line for line in enable_snippet(probe_class).splitlines()]
    lines += ["", f"options (probes.{probe_class.id}):"]
    options = option_docs(probe_class.options_model)
    width = max(len(option.name) for option in options)
    for option in options:
        lines.append(f"  {option.name:<{width}}  {option.type} = {option.default}")
        if option.description:
            lines.append(f"  {'':<{width}}  {option.description}")
    notes = probe_notes(probe_class)
    if notes:
        lines += ["", "what it reads and reports:"]
        lines += [("  " + line).rstrip() for line in notes.splitlines()]
    return "\n".join(lines) + "\n"


def grouped_probes(registry: Registry) -> list[tuple[ChecklistItem, list[type[Probe]]]]:
    """Registered probes grouped by checklist item, in checklist order, ids sorted."""
    groups: list[tuple[ChecklistItem, list[type[Probe]]]] = []
    for item in ChecklistItem:
        members = sorted(
            (p for p in registry.probes.values() if p.checklist_item is item), key=lambda p: p.id
        )
        if members:
            groups.append((item, members))
    return groups


def probes_reference(registry: Registry) -> str:
    """The probe reference page: every registered probe by checklist item."""
    lines = [
        "# Probe reference",
        "",
        "<!-- generated by `python -m diagnostics.reference`: do not edit by hand -->",
        "",
        "Every probe, grouped by the checklist item it serves, with its options and defaults",
        "as the code defines them. `diag probes show ID` prints the same on a terminal.",
        "",
    ]
    for item, members in grouped_probes(registry):
        lines += [f"## {item.heading}", ""]
        lines += [probe_markdown(probe_class, heading="###") for probe_class in members]
    return "\n".join(lines).rstrip() + "\n"


def cli_reference(group: click.Group, prog: str = "diag") -> str:
    """The CLI reference page: every command's help, as ``--help`` prints it."""
    lines = [
        "# Command-line reference",
        "",
        "<!-- generated by `python -m diagnostics.reference`: do not edit by hand -->",
        "",
    ]
    for path, command in _commands(group, [prog]):
        lines += [f"## `{' '.join(path)}`", "", "```text", _help_text(command, path), "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def _commands(command: click.Command, path: list[str]) -> Iterable[tuple[list[str], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        for name in sorted(command.commands):
            yield from _commands(command.commands[name], [*path, name])


def _help_text(command: click.Command, path: list[str]) -> str:
    parent: click.Context | None = None
    for name in path[:-1]:
        parent = click.Context(click.Command(name), info_name=name, parent=parent)
    context = click.Context(
        command,
        info_name=path[-1],
        parent=parent,
        terminal_width=100,
        max_content_width=100,
        help_option_names=["-h", "--help"],
    )
    return command.get_help(context).rstrip()


def main() -> None:
    """Regenerate the reference pages under ``docs/reference/``."""
    from pathlib import Path

    from diagnostics.cli import cli
    from diagnostics.registry import load_registry

    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/reference")
    target.mkdir(parents=True, exist_ok=True)
    (target / "probes.md").write_text(probes_reference(load_registry()), encoding="utf-8")
    (target / "cli.md").write_text(cli_reference(cli), encoding="utf-8")


if __name__ == "__main__":
    main()
