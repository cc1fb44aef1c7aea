"""The summary on top of the findings: timeline, likely cause, severity, comparison.

Everything here is deterministic and explained: no model guesses, every claim names the
findings that support it. :func:`diagnostics.summary.build.summarize` builds it; the package
itself imports nothing, so reading the ``services``/``summary`` settings stays cheap.
"""
