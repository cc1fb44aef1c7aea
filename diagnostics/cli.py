"""The ``diag`` command line. Only this module exits; everything else raises.

Exit status: 0 nothing wrong, 1 worst finding is a warning, 2 worst is critical, 3 unknown
(bad usage or configuration, or a probe could not check); critical > warning > unknown > ok.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from diagnostics.errors import DiagError
from diagnostics.report import FORMATS

EXIT_UNKNOWN = 3
logger = logging.getLogger("diag")


def _fail(message: str) -> NoReturn:
    from diagnostics.redaction import Redactor, environment_secrets

    # the second line of defence: messages quoting a value were redacted where they were made
    redact = Redactor().with_secrets(environment_secrets(os.environ))
    click.echo(f"diag: error: {redact(message)}", err=True)
    sys.exit(EXIT_UNKNOWN)


def _configure_logging(verbose: int) -> None:
    from diagnostics.redaction import Redactor, environment_secrets

    redactor = Redactor().with_secrets(environment_secrets(os.environ))

    class RedactingFilter(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            record.msg = redactor(record.getMessage())
            record.args = None
            return True

    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter("diag: %(levelname)s %(name)s: %(message)s"))
    root = logging.getLogger("diag")
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbose > 1 else logging.INFO if verbose else logging.WARNING)


config_option = click.option(
    "-c",
    "--config",
    "config_path",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Configuration file (default: $DIAG_CONFIG, ./diag.yaml, ~/.config/diag/diag.yaml).",
)

EXIT_STATUS_HELP = """\b
Exit status: 0 nothing wrong, 1 worst finding is a warning, 2 worst is
critical, 3 unknown (bad usage or configuration, or a probe could not check).
Docs: docs/ (mkdocs serve), or docs/reference/cli.md in the repository."""


class DiagGroup(click.Group):
    """Usage errors exit 3 like configuration errors, as one line on stderr."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        kwargs["standalone_mode"] = False
        try:
            result = super().main(*args, **kwargs)
        except click.exceptions.Abort:
            click.echo("diag: interrupted", err=True)
            sys.exit(130)
        except click.exceptions.UsageError as exc:
            # click's own pointer to the right help stays under the one-line error
            hint = ""
            if exc.ctx is not None:
                hint = f"\nTry '{exc.ctx.command_path} {exc.ctx.help_option_names[0]}' for help."
            _fail(exc.format_message() + hint)
        except click.exceptions.ClickException as exc:
            _fail(exc.format_message())
        except DiagError as exc:
            _fail(str(exc))
        sys.exit(result if isinstance(result, int) else 0)


@click.group(
    cls=DiagGroup,
    context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100},
    epilog="""\b
Examples:
  diag run                          diagnose now, with ./diag.yaml or the environment
  diag run -p db.locks -f json      one probe, JSON report on stdout
  diag run --at -2h --window 30m    as of two hours ago, the 30 minutes before
  diag probes show db.locks         what a probe checks, its options and defaults
  diag config check -c prod.yaml    validate a configuration, say what will run

"""
    + EXIT_STATUS_HELP,
)
@click.option("-v", "--verbose", count=True, help="Log to stderr (-vv for debug).")
@click.version_option(package_name="diag", prog_name="diag")
def cli(verbose: int) -> None:
    """Automated incident diagnostics: run the incident checklist's probes in parallel
    against the real systems and print one findings report."""
    _configure_logging(verbose)


@cli.command(
    "run",
    epilog="""\b
Examples:
  diag run                                 everything configured, report on the terminal
  diag run -p db.locks -p db.connections   only these probes
  diag run --at 2026-11-27T10:00:00Z       as of a past moment (where backends keep history)
  diag run -f json -o run.json             the JSON report (diag.report/v1) into a file
  diag run --baseline run.json             after a fix: what is new, resolved, unchanged

DURATION: 500ms, 90s, 30m, 2h, 1d, 1w, 1h30m or seconds. TIME: ISO 8601,
unix seconds, or relative to now (-2h).

"""
    + EXIT_STATUS_HELP,
)
@config_option
@click.option(
    "-p", "--probe", "probe_ids", multiple=True, metavar="ID", help="Run only this probe (repeatable)."
)
@click.option("--at", "at", metavar="TIME", help="Diagnose as of TIME: ISO 8601, unix seconds or -2h.")
@click.option("-w", "--window", metavar="DURATION", help="How far back from --at to look (default 1h).")
@click.option("-f", "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the report here.",
)
@click.option("-t", "--timeout", metavar="DURATION", help="Overall deadline of the run (default 30s).")
@click.option(
    "--progress/--no-progress", default=None, help="Live progress on stderr (default: on a terminal)."
)
@click.option(
    "--baseline",
    metavar="RUN.json",
    type=click.Path(dir_okay=False, path_type=Path),
    help="An earlier run's JSON report: say which findings are new and resolved.",
)
@click.option(
    "--incident-report",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Also write the post-incident report draft (Markdown) here.",
)
def run_command(
    config_path: Path | None,
    probe_ids: tuple[str, ...],
    at: str | None,
    window: str | None,
    fmt: str,
    output: Path | None,
    timeout: str | None,
    progress: bool | None,
    baseline: Path | None,
    incident_report: Path | None,
) -> None:
    """Run the probes and print the findings report."""
    from diagnostics.api import diagnose
    from diagnostics.report import render
    from diagnostics.report.overview import exit_status

    show_progress = sys.stderr.isatty() if progress is None else progress
    context = click.get_current_context()
    console_script = bool((context.obj or {}).get("hard_exit"))
    listener: Any = None
    if show_progress:
        from diagnostics.progress import LiveProgress

        listener = LiveProgress()
    try:
        previous = read_report(baseline) if baseline is not None else None
        arguments: dict[str, Any] = {
            "probes": probe_ids,
            "config": config_path,
            "at": at,
            "window": window,
            "timeout": timeout,
            "baseline": previous,
            # the console script's report counts its whole wall time, interpreter start-up included
            "began": _process_start() if console_script else None,
        }
        if listener is not None:
            with listener:
                diagnosis = diagnose(**arguments, listener=listener)
        else:
            diagnosis = diagnose(**arguments)
    except DiagError as exc:
        _fail(str(exc))
    report = diagnosis.report
    # styled only when the report goes to a terminal; render_text also honours NO_COLOR
    color = output is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    text = render(report, fmt, color=color)  # type: ignore[arg-type]
    if output is not None:
        _write(output, text)
    else:
        sys.stdout.write(text)
    if incident_report is not None:
        from diagnostics.report.incident import render_incident_report

        _write(incident_report, render_incident_report(report))
    if diagnosis.interrupted:
        click.echo("diag: interrupted; the report shows what finished", err=True)
    code = int(exit_status(report))
    if diagnosis.abandoned_threads and console_script:
        # a hung backend (a thread pool joined at interpreter exit) must not keep the process
        # alive past the deadline; only the console script does this, never an embedding caller
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)


def _process_start() -> float | None:
    """When this process started (Unix time), or None when the system does not say.

    On Linux from /proc (process start and uptime, both to the clock tick): psutil's
    create_time adds the boot time, which the kernel gives in whole seconds only.
    """
    import time

    try:
        stat = Path("/proc/self/stat").read_text()
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        ticks = int(stat.rsplit(")", 1)[1].split()[19])  # field 22, starttime
        return time.time() - (uptime - ticks / os.sysconf("SC_CLK_TCK"))
    except (OSError, ValueError, IndexError):
        pass
    import psutil

    try:
        return float(psutil.Process().create_time())
    except (psutil.Error, OSError):
        return None


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        _fail(f"{path}: cannot write: {exc.strerror}")


def read_report(path: Path) -> Any:
    """A Report from a ``diag run --format json`` file; ReportFormatError when it is not one."""
    import json

    from diagnostics.errors import ReportFormatError
    from diagnostics.report.serialize import report_from_dict

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ReportFormatError(f"{path}: cannot read: {exc.strerror}") from None
    except ValueError as exc:
        raise ReportFormatError(f"{path}: not JSON: {exc}") from None
    try:
        return report_from_dict(data)
    except ReportFormatError as exc:
        raise ReportFormatError(f"{path}: {exc}") from None


@cli.command(
    "report",
    epilog="""\b
Example:
  diag run -f json -o run.json && diag report --from run.json -o incident.md
""",
)
@click.option(
    "--from",
    "source",
    required=True,
    metavar="RUN.json",
    type=click.Path(dir_okay=False, path_type=Path),
    help="A run's JSON report (diag run --format json).",
)
@click.option("-f", "--format", "fmt", type=click.Choice(["markdown"]), default="markdown", show_default=True)
@click.option(
    "-o",
    "--output",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Write the draft here.",
)
def report_command(source: Path, fmt: str, output: Path | None) -> None:
    """Write the post-incident report draft from a run's JSON report."""
    from diagnostics.report.incident import render_incident_report

    try:
        report = read_report(source)
    except DiagError as exc:
        _fail(str(exc))
    text = render_incident_report(report)
    if output is not None:
        _write(output, text)
    else:
        sys.stdout.write(text)


@cli.command(
    "diff",
    epilog="""\b
Example:
  diag diff before.json after.json     findings new, resolved and unchanged
""",
)
@click.argument("old", metavar="OLD.json", type=click.Path(dir_okay=False, path_type=Path))
@click.argument("new", metavar="NEW.json", type=click.Path(dir_okay=False, path_type=Path))
@click.option("-f", "--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
def diff_command(old: Path, new: Path, fmt: str) -> None:
    """Compare two runs: findings new, resolved and unchanged (exit status: NEW's)."""
    from dataclasses import replace

    from diagnostics.report import render
    from diagnostics.report.overview import exit_status
    from diagnostics.summary.compare import compare_reports

    try:
        baseline, current = read_report(old), read_report(new)
    except DiagError as exc:
        _fail(str(exc))
    compared = replace(current, comparison=compare_reports(baseline, current))
    color = sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    sys.stdout.write(render(compared, fmt, color=color))  # type: ignore[arg-type]
    sys.exit(int(exit_status(compared)))


@cli.group(
    "probes",
    invoke_without_command=True,
    epilog="""\b
Examples:
  diag probes                   every probe by checklist item, enabled or why not
  diag probes -f json           the same as JSON
  diag probes show db.locks     one probe: what it checks, options, defaults, how to enable
""",
)
@config_option
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.pass_context
def probes_command(context: click.Context, config_path: Path | None, fmt: str) -> None:
    """List every registered probe and whether the configuration enables it."""
    if context.invoked_subcommand is not None:
        return
    from diagnostics.config import resolve_config
    from diagnostics.model import ChecklistItem
    from diagnostics.plan import plan_probes
    from diagnostics.registry import load_registry

    try:
        registry = load_registry()
        config = resolve_config(config_path, os.environ)
        plans = plan_probes(config, registry, env=os.environ)
    except DiagError as exc:
        _fail(str(exc))
    rows: list[dict[str, Any]] = []
    for plan in plans:
        if plan.broken:
            state = f"broken: {plan.broken.reason}"
        elif plan.config_error:
            state = f"cannot run: {plan.config_error}"
        elif plan.runnable:
            state = "enabled" + (f" (from {plan.backend_origin})" if plan.backend_origin else "")
        else:
            state = f"skipped: {plan.skip_reason}"
        cls = plan.probe_class
        rows.append(
            {
                "id": plan.probe_id,
                "checklist_item": plan.checklist_item.value if plan.checklist_item else None,
                "enabled": plan.runnable,
                "state": state,
                "setup_hint": plan.setup_hint,
                "description": cls.description if cls else None,
            }
        )
    if fmt == "json":
        import json

        click.echo(json.dumps(rows, indent=2))
        return
    order = {item.value: index for index, item in enumerate(ChecklistItem)}
    rows.sort(key=lambda row: (order.get(row["checklist_item"] or "", len(order)), row["id"]))
    click.echo(f"{'PROBE':<24} {'STATE':<10} DESCRIPTION")
    current: str | None = "-"
    for row in rows:
        item = row["checklist_item"]
        if item != current:
            current = item
            title = ChecklistItem(item).heading if item else "Unknown checklist item"
            click.echo(f"\n{title}")
        state = "enabled" if row["enabled"] else str(row["state"]).split(":")[0]
        click.echo(f"  {row['id']:<22} {state:<10} {row['description'] or ''}")
        if not row["enabled"]:
            reason = str(row["state"]).partition(": ")[2]
            hint = f" — add: {row['setup_hint']}" if row["setup_hint"] else ""
            click.echo(f"  {'':<22} {'':<10} {reason}{hint}")


@probes_command.command("show")
@click.argument("probe_id", metavar="ID")
def probes_show(probe_id: str) -> None:
    """Explain one probe: what it checks, its options with defaults, how to enable it."""
    from diagnostics.reference import probe_text
    from diagnostics.registry import load_registry

    registry = load_registry()
    probe_class = registry.probes.get(probe_id)
    if probe_class is None:
        if probe_id in registry.broken:
            _fail(registry.broken[probe_id].message)
        from difflib import get_close_matches

        close = get_close_matches(probe_id, registry.ids, n=1)
        suggestion = f" (did you mean {close[0]!r}?)" if close else ""
        _fail(f"no probe {probe_id!r}{suggestion}; `diag probes` lists them")
    click.echo(probe_text(probe_class), nl=False)


@cli.command(
    "serve",
    epilog="""\b
Examples:
  diag serve                                   every probe each minute, on 127.0.0.1:9799
  diag serve --listen 0.0.0.0:9799 --every 30s
  curl -s localhost:9799/metrics               the series (cached; never runs a probe)
  curl -s 'localhost:9799/probe?probe=db.locks'   run one probe now, its series
  curl -s 'localhost:9799/report?format=text'  the newest report

"""
    + EXIT_STATUS_HELP,
)
@config_option
@click.option("-l", "--listen", metavar="HOST:PORT", help="Address to bind (default 127.0.0.1:9799).")
@click.option("-e", "--every", metavar="DURATION", help="Run every probe this often (default 1m).")
@click.option("--tls-cert", metavar="FILE", help="Serve HTTPS with this certificate (PEM), with --tls-key.")
@click.option("--tls-key", metavar="FILE", help="The certificate's private key (PEM).")
def serve_command(
    config_path: Path | None, listen: str | None, every: str | None, tls_cert: str | None, tls_key: str | None
) -> None:
    """Run the probes on a schedule and serve their results to Prometheus and people."""
    import signal
    import threading

    from diagnostics.serve.service import build_service

    if (tls_cert is None) != (tls_key is None):
        _fail("--tls-cert and --tls-key go together")
    overrides: dict[str, Any] = {"listen": listen, "every": every}
    if tls_cert is not None:
        overrides["tls"] = {"cert_file": tls_cert, "key_file": tls_key}
    try:
        service = build_service(config_path, overrides=overrides)
    except DiagError as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot listen on {listen or 'the configured address'}: {exc.strerror or exc}")
    host, port = service.address
    scheme = "https" if service.settings.tls else "http"
    click.echo(
        f"diag serve: {len(service.probe_ids)} probes every {service.settings.every.total_seconds():g}s; "
        f"{scheme}://{host}:{port}/metrics",
        err=True,
    )
    stopping = threading.Event()

    def stop(signum: int, frame: object) -> None:
        if not stopping.is_set():
            stopping.set()
            threading.Thread(target=service.server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    service.start()
    try:
        service.server.serve_forever(poll_interval=0.5)
    finally:
        service.server.server_close()
        service.sweeper.stop()
    sys.exit(0)


@cli.command(
    "watch",
    epilog="""\b
Examples:
  diag watch --every 5m --state /var/lib/diag/watch.json
  diag watch --once --every 5m --state watch.json     one cycle (a CronJob every 5m)

It prints only what changed (new, worsened, improved, resolved findings) and
notifies the `notify` section's Alertmanager, Slack and webhooks of it.
""",
)
@config_option
@click.option("-e", "--every", metavar="DURATION", default="5m", show_default=True, help="How often to run.")
@click.option(
    "-s",
    "--state",
    "state_path",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Remember the findings here across restarts.",
)
@click.option("--once", is_flag=True, help="One cycle, then exit with the run's exit status.")
@click.option("-f", "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def watch_command(
    config_path: Path | None, every: str, state_path: Path | None, once: bool, fmt: str
) -> None:
    """Repeat runs and print (and notify) only what changed since the previous run."""
    import json
    import signal
    import threading
    from datetime import UTC, datetime

    from diagnostics.api import diagnose
    from diagnostics.config import resolve_config
    from diagnostics.notify.messages import webhook_payload
    from diagnostics.redaction import environment_secrets
    from diagnostics.report.overview import exit_status, headline
    from diagnostics.units import parse_duration
    from diagnostics.watch.changes import change_line
    from diagnostics.watch.loop import Cycle, Watcher, notifiers_of

    try:
        interval = parse_duration(every)
        if interval.total_seconds() < 1:
            raise ValueError("--every must be 1s or longer")
        config = resolve_config(config_path, os.environ)
        source = config.source if config.source else config_path
        watcher = Watcher(
            diagnose=lambda: diagnose(config=source).report,
            notifiers=notifiers_of(config),
            every=interval,
            redactor=config.redactor.with_secrets(environment_secrets(os.environ)),
            state_file=state_path,
        )
    except ValueError as exc:
        _fail(f"--every: {exc}")
    except DiagError as exc:
        _fail(str(exc))

    def show(cycle: Cycle) -> None:
        if fmt == "json":
            if cycle.changes:
                payload = webhook_payload(
                    cycle.changes, headline=headline(cycle.report), at=datetime.now(UTC)
                )
                click.echo(json.dumps(payload))
            return
        stamp = f"{datetime.now(UTC):%Y-%m-%dT%H:%M:%SZ}"
        for change in cycle.changes:
            click.echo(f"{stamp} {change_line(change)}")

    if once:
        try:
            cycle = watcher.cycle()
        except DiagError as exc:
            _fail(str(exc))
        show(cycle)
        sys.exit(int(exit_status(cycle.report)))
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    signal.signal(signal.SIGINT, lambda signum, frame: stop.set())
    watcher.run_forever(interval, show, stop)
    sys.exit(0)


@cli.group("config")
def config_group() -> None:
    """Check the configuration or print its JSON Schema."""


@config_group.command(
    "check",
    epilog="""\b
Example:
  diag config check -c prod.yaml    one line per probe: what it will check, or why not
""",
)
@config_option
def config_check(config_path: Path | None) -> None:
    """Validate the configuration and say what each probe will check."""
    from diagnostics.config import resolve_config
    from diagnostics.plan import plan_probes, run_settings
    from diagnostics.registry import load_registry
    from diagnostics.units import format_duration

    try:
        config = resolve_config(config_path, os.environ)
        registry = load_registry()
        plans = plan_probes(config, registry, env=os.environ)
        settings = run_settings(config)
        _check_service_sections(config)
    except DiagError as exc:
        _fail(str(exc))
    click.echo(f"{config.source or 'no configuration file: embedded defaults'}: valid")
    click.echo(
        f"window {format_duration(settings.window)}, deadline {format_duration(settings.timeout)}, "
        f"{settings.concurrency} probes at once"
    )
    hinted: set[str] = set()
    for plan in plans:
        if plan.broken:
            click.echo(f"  {plan.probe_id:<24} broken: {plan.broken.reason}")
        elif plan.config_error:
            click.echo(f"  {plan.probe_id:<24} cannot run until set: {plan.config_error}")
        elif not plan.runnable:
            # one hint per backend section, on its first probe, not one per probe
            hint = ""
            if plan.setup_hint and plan.setup_hint not in hinted:
                hinted.add(plan.setup_hint)
                hint = f" — add: {plan.setup_hint}"
            click.echo(f"  {plan.probe_id:<24} skipped: {plan.skip_reason}{hint}")
        else:
            origin = f" (from {plan.backend_origin})" if plan.backend_origin == "environment" else ""
            assert plan.probe_class is not None
            targets = config.redactor(plan.probe_class.targets(plan.backend))
            click.echo(f"  {plan.probe_id:<24} will check {targets}{origin}")


def _check_service_sections(config: Any) -> None:
    """Validate the sections only ``diag serve`` and ``diag watch`` read."""
    from diagnostics.notify.config import Notifiers
    from diagnostics.plan import validate_section
    from diagnostics.serve.config import ServeSettings

    if config.section("serve") is not None:
        validate_section(config, ("serve",), ServeSettings, config.section("serve"))
    if config.section("notify") is not None:
        validate_section(config, ("notify",), Notifiers, config.section("notify"))


@config_group.command("schema")
def config_schema() -> None:
    """Print the JSON Schema of the configuration (all registered probes)."""
    import json

    from diagnostics.config_schema import configuration_schema
    from diagnostics.registry import load_registry

    click.echo(json.dumps(configuration_schema(load_registry()), indent=2))


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: the only caller allowed to end the process abruptly."""
    cli.main(args=argv, prog_name="diag", obj={"hard_exit": True})
