"""The JSON Schema of the whole configuration, composed from the registered probes."""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from diagnostics.notify.config import Notifiers
from diagnostics.plan import RunSettings
from diagnostics.registry import Registry
from diagnostics.serve.config import ServeSettings
from diagnostics.summary.settings import ServiceLinks, SummarySettings


def configuration_schema(registry: Registry) -> dict[str, Any]:
    """A draft 2020-12 schema: core sections, every backend section, every probe's options."""
    definitions: dict[str, Any] = {}

    def schema_of(model: Any) -> dict[str, Any]:
        schema = TypeAdapter(model).json_schema(mode="validation", ref_template="#/$defs/{model}")
        definitions.update(schema.pop("$defs", {}))
        return schema

    properties: dict[str, Any] = {
        "run": schema_of(RunSettings),
        "services": schema_of(dict[str, ServiceLinks]),
        "summary": schema_of(SummarySettings),
        "serve": schema_of(ServeSettings),
        "notify": schema_of(Notifiers),
    }
    sections = {}
    for probe_class in registry.probes.values():
        section = probe_class.backend_section
        if section is not None and section.key not in sections:
            sections[section.key] = section
    for key in sorted(sections):
        schema = schema_of(sections[key].model)
        schema["description"] = sections[key].description or f"Backend section {key}"
        properties[key] = schema
    probe_options = {
        probe_id: schema_of(registry.probes[probe_id].options_model) for probe_id in sorted(registry.probes)
    }
    properties["probes"] = {
        "type": "object",
        "description": "Per-probe settings, keyed by probe id.",
        "properties": probe_options,
        "additionalProperties": False,
    }
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://diag.dev/schemas/diag-config.schema.json",
        "title": "diag configuration",
        "type": "object",
        "properties": properties,
        "additionalProperties": False,
        "$defs": definitions,
    }
