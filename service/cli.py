"""The ``learndyn`` command: ``serve`` the API, print its ``openapi`` schema, or ``train`` and
run a ``study`` on a running service.

Whatever goes wrong is one line on stderr, ``learndyn: …``, never a traceback. Exit status: 0
done; 1 the service refused, failed or could not be reached, a study did not finish, an output
file could not be written, the reader of standard output went away (``… | head``), or the
command needs the server packages on a client-only install (``pip install learndyn`` without
``[server]``); 2 the arguments, the environment's settings or the request file are wrong
(missing, unreadable, not JSON — with its line and column —, or not a valid request).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Sequence
from importlib.metadata import version as dist_version
from typing import TYPE_CHECKING, Any

from service.settings import Settings

if TYPE_CHECKING:
    import httpx

    from clients import Client
    from service.schemas.studies import (
        CensusSummary,
        ExtrapolationSummary,
        RelaxationSummary,
        Study,
    )


SERVER_EXTRA = "pip install '.[server]' (from a clone of learndyn; it is not on PyPI)"
"""How to install what ``serve``, ``openapi`` and ``warmup`` need beyond the client."""


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``learndyn`` console script and of ``python -m service``."""
    try:
        defaults = Settings.from_env()
    except ValueError as error:  # names the variable
        print(f"learndyn: {error}", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(
        prog="learndyn", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--version", action="version", version=f"learndyn {dist_version('learndyn')}"
    )
    commands = parser.add_subparsers(dest="command")
    serve = commands.add_parser("serve", help="serve the API with uvicorn (the default)")
    serve.add_argument("--host", default=defaults.host, help="bind address [%(default)s]")
    serve.add_argument("--port", type=int, default=defaults.port, help="port [%(default)s]")
    serve.add_argument(
        "--workers", type=int, default=defaults.workers, help="worker processes [%(default)s]"
    )
    commands.add_parser("openapi", help="print the OpenAPI schema as JSON")
    train = commands.add_parser("train", help="POST a request file to a running service")
    train.add_argument("file", help="a JSON TrainRequest ('-' for standard input)")
    _add_url(train, defaults)
    train.add_argument("--json", action="store_true", help="print the raw JSON answer")
    train.add_argument(
        "--plot",
        metavar="FILE",
        help="also save the run's figure (POST /figures/train; the run is computed again): "
        "PNG if FILE ends in .png, else SVG",
    )

    study = commands.add_parser(
        "study", help="submit a study (many /train runs) to a running service, follow it"
    )
    study.add_argument(
        "file",
        help="a JSON study request, kind 'sweep', 'census' or 'extrapolation' ('-' for "
        "standard input)",
    )
    _add_url(study, defaults)
    study.add_argument("--csv", metavar="FILE", help="when it has ended, save every row as CSV")
    study.add_argument(
        "--no-wait", action="store_true", help="print the study's id once submitted, and return"
    )

    commands.add_parser("warmup", help="compile the descent kernels once (the Dockerfile's build)")
    args = parser.parse_args(argv)

    if args.command == "warmup":
        if not _server_installed("warmup", "service.core.engine.warmup"):
            return 1
        from service.core.engine import kernel
        from service.core.engine.warmup import warm_up

        kernel.configure_cache(defaults.numba_cache_dir)  # where the server will look
        warm_up()
        cached = kernel.kernels().cache_dir
        print(f"learndyn warmup: the descent kernel is compiled and cached in {cached}")
        return 0

    if args.command == "train":
        return _quiet_on_closed_pipe(lambda: _train(args.file, args.url, args.json, args.plot))

    if args.command == "study":
        if args.no_wait and args.csv:
            parser.error("--csv saves the rows of an ended study: drop --no-wait")
        return _quiet_on_closed_pipe(
            lambda: _study(args.file, args.url, csv_path=args.csv, wait=not args.no_wait)
        )

    if args.command == "openapi":
        if not _server_installed("openapi", "service.app"):
            return 1
        from service.app import create_app

        schema = create_app(defaults).openapi()
        return _quiet_on_closed_pipe(lambda: _print_json(schema))

    if not _server_installed("serve", "uvicorn", "service.app"):
        return 1
    return _serve(args, defaults)


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    """Raise the file-descriptor limit, log the connection limits, run uvicorn."""
    import logging.config

    import uvicorn

    from service.server.budget import (
        connection_budget,
        file_descriptor_limit,
        raise_file_descriptor_limit,
    )
    from service.server.options import describe, uvicorn_options
    from service.slots import export_slots_directory

    before, _ = raise_file_descriptor_limit()
    budget = connection_budget(settings.max_connections, file_descriptor_limit())
    # the "learndyn" logger alone: uvicorn applies the whole LOG_CONFIG (filters are added,
    # never replaced, by each dictConfig: twice would rate-limit twice)
    logging.config.dictConfig({**LOG_CONFIG, "filters": {}, "loggers": {"learndyn": LEARNDYN}})
    logging.getLogger("learndyn").info(describe(settings, budget, raised_from=before))
    export_slots_directory(settings.slots_dir)  # one compute budget for all the workers
    # uvicorn drains the server on SIGTERM, then re-raises the signal to the handler it found:
    # make that handler a clean exit, so a graceful shutdown exits 0.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.run(
        "service.app:app",
        host=getattr(args, "host", settings.host),
        port=getattr(args, "port", settings.port),
        workers=getattr(args, "workers", settings.workers),
        access_log=False,  # service.api.access_log writes JSON lines instead
        log_config=LOG_CONFIG,
        **uvicorn_options(settings, budget),
    )
    return 0


LEARNDYN: dict[str, object] = {"handlers": ["default"], "level": "INFO", "propagate": False}
"""The service's own logger: on stderr."""

LOG_CONFIG: dict[str, object] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(message)s"},
        "default": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "filters": {"once_per_interval": {"()": "service.server.log_limits.RateLimitFilter"}},
    "handlers": {
        "access": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "stream": "ext://sys.stdout",
        },
        "default": {"class": "logging.StreamHandler", "formatter": "default"},
    },
    "loggers": {
        "learndyn.access": {"handlers": ["access"], "level": "INFO", "propagate": False},
        "learndyn": LEARNDYN,
        "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
        # records one client can multiply: once per interval (service.server.log_limits)
        "uvicorn.error": {"filters": ["once_per_interval"]},
        "asyncio": {
            "handlers": ["default"],
            "level": "WARNING",
            "propagate": False,
            "filters": ["once_per_interval"],
        },
    },
}
"""Access logs as bare JSON lines on stdout; everything else on stderr."""


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _add_url(command: argparse.ArgumentParser, defaults: Settings) -> None:
    """The ``--url`` of a command that talks to a running service."""
    command.add_argument(
        "--url",
        default=f"http://{defaults.host}:{defaults.port}",
        help="the service's base URL (default %(default)s, from LEARNDYN_HOST and "
        "LEARNDYN_PORT: where `learndyn serve` listens)",
    )


def _server_installed(command: str, *modules: str) -> bool:
    """Whether ``modules`` import; if a package of the server extra is missing (fastapi,
    numpy, numba… on a client-only install), one line on stderr says to install it.

    A missing module of learndyn's own is a bug, not an install: it is raised."""
    try:
        for module in modules:
            importlib.import_module(module)
    except ModuleNotFoundError as error:
        if (error.name or "").partition(".")[0] in {"service", "clients"}:
            raise
        missing = f"no module named {error.name!r}" if error.name else str(error)
        print(
            f"learndyn {command} needs the server packages ({missing}): {SERVER_EXTRA}",
            file=sys.stderr,
        )
        return False
    return True


def _print_json(value: object) -> int:
    json.dump(value, sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
    return 0


def _train(path: str, url: str, raw: bool, plot: str | None = None) -> int:
    """POST the request in ``path`` to ``url`` and print the verdict and key figures; with
    ``plot``, also save the figure of the run there."""
    from pydantic import ValidationError

    from clients import Client, LearndynError
    from clients.errors import local_validation_error
    from service.schemas import TRAIN_REQUEST
    from service.vocabulary import RecordWeights

    read = _read_object(path, "a /train request")
    if read is None:
        return 2
    try:  # as the service parses it: from the JSON text
        request = TRAIN_REQUEST.validate_json(read[0])
    except ValidationError as error:
        print(f"learndyn: {path}: {local_validation_error(error)}", file=sys.stderr)
        return 2
    try:
        with Client(base_url=url) as client:
            answer = client.train(request)
            if plot is not None:
                image_format = "png" if plot.lower().endswith(".png") else "svg"
                image = client.figure_train(request, format=image_format)
                with open(plot, "wb") as out:
                    out.write(image)
    except LearndynError as error:
        print(f"learndyn: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # the figure could not be written
        print(f"learndyn: {error}", file=sys.stderr)
        return 1
    if raw:
        print(answer.model_dump_json(indent=2))
        return 0
    d = answer.divergence
    rows = [
        ("verdict", d.verdict.value),
        ("stopped by", f"{answer.stopped_by.value} at t = {answer.steps}"),
        ("error", f"{answer.error:.6g}"),
        ("accuracy", f"{answer.accuracy:.4g}"),
        ("weights", ", ".join(f"{w:.6g}" for w in answer.weights)),
        ("last step", "-" if answer.last_step is None else f"{answer.last_step:.3g}"),
        ("apparent convergence", "yes" if d.apparent_convergence else "no"),
    ]
    if d.log_rate is not None:
        per_layer = request.record.weights is RecordWeights.NORMS  # each layer's ‖b‖
        name = "log rate ‖b‖ per layer" if per_layer else "log rate b"
        rows.append((name, ", ".join(f"{b:.6g}" for b in d.log_rate)))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(d.explanation)
    for warning in answer.warnings:
        print(f"warning ({warning.code.value}): {warning.message}")
    return 0


def _read_request(path: str) -> str | None:
    """The request file's text (``-``: standard input), or None once a one-line message has
    said why it cannot be read."""
    try:
        if path == "-":
            return sys.stdin.read()
        with open(path, encoding="utf-8") as file:
            return file.read()
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) and error.strerror else error
        print(f"learndyn: {path}: {reason}", file=sys.stderr)
        return None


def _read_object(path: str, what: str) -> tuple[str, dict[str, Any]] | None:
    """The text of the file holding ``what`` (a request) and the JSON object it holds, or
    None once a one-line message has said why not: it cannot be read, is not JSON (json's
    reason, with the line and column), or holds something else than an object."""
    text = _read_request(path)
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError as error:
        print(f"learndyn: {path}: not JSON: {error}", file=sys.stderr)
        return None
    if not isinstance(value, dict):
        print(
            f"learndyn: {path}: {what} is a JSON object, not {_json_kind(value)}",
            file=sys.stderr,
        )
        return None
    return text, value


def _json_kind(value: object) -> str:
    kinds = {list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return kinds.get(type(value), "a number")


def _quiet_on_closed_pipe(run: Callable[[], int]) -> int:
    """``run()``, exiting 1 with no traceback when the reader of standard output has gone
    (``learndyn study spec.json | head -3``)."""
    try:
        code = run()
        sys.stdout.flush()  # inside the try: a write to a closed pipe fails here or earlier
        return code
    except BrokenPipeError:
        # point stdout at /dev/null: the interpreter's last flush would fail on the pipe again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 1


SUMMARY_SECONDS = 1.0
"""At most this often, the progress bar fetches the study to show its verdict counts."""


def _study(
    path: str,
    url: str,
    *,
    csv_path: str | None = None,
    wait: bool = True,
    transport: httpx.BaseTransport | None = None,
) -> int:
    """Submit the study in ``path`` to ``url``; unless not ``wait``, follow it with a progress
    bar (on stderr), print its summary and save its rows to ``csv_path``. Exit 0 when the
    study is done, 1 when it failed or was cancelled, or the service refused or could not be
    reached, 2 when the file cannot be read or is not a study request."""
    from clients import Client, LearndynError, LocalValidationError, RequestRefused

    read = _read_object(path, "a study request")
    if read is None:
        return 2
    spec = read[1]
    try:
        with Client(base_url=url, transport=transport) as client:
            study = client.submit_study(spec)
            if wait:
                study = _follow(client, study)
                if csv_path is not None:
                    rows = client.results_csv(study.id)
                    with open(csv_path, "w", encoding="utf-8", newline="") as out:
                        out.write(rows)
    except LocalValidationError as error:
        print(f"learndyn: {path}: {error}", file=sys.stderr)
        return 2
    except LearndynError as error:
        print(f"learndyn: {error}", file=sys.stderr)
        if isinstance(error, RequestRefused):  # the reasons the detail does not give
            for reason in (f"{e.field or 'body'}: {e.message}" for e in error.errors):
                if reason not in error.detail:
                    print(f"  {reason}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("learndyn: interrupted; the study runs on (DELETE it to cancel)", file=sys.stderr)
        return 130
    except OSError as error:  # the CSV file could not be written
        if isinstance(error, BrokenPipeError):
            raise
        print(f"learndyn: {error}", file=sys.stderr)
        return 1
    if not wait:
        print(f"study {study.id} {study.status.value}: {study.progress.total} points")
        print(f"{url.rstrip('/')}/studies/{study.id}")
        return 0
    _print_summary(study)
    return 0 if study.status.value == "done" else 1


def _follow(client: Client, study: Study) -> Study:
    """Wait for the study's end behind a progress bar that shows the verdict counts."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
    from rich.progress import Progress as Bar

    from service.schemas.studies import Progress

    bar = Bar(
        TextColumn("study {task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[verdicts]}"),
        console=Console(stderr=True),
    )
    with bar:
        task = bar.add_task(study.id[:8], total=study.progress.total, verdicts="")
        fetched = 0.0

        def show(progress: Progress) -> None:
            nonlocal fetched
            fields: dict[str, Any] = {}
            if time.monotonic() - fetched >= SUMMARY_SECONDS:
                fields["verdicts"] = _verdict_counts(client.study(study.id))
                fetched = time.monotonic()
            bar.update(task, completed=progress.done, total=progress.total, **fields)

        ended = client.wait(study.id, progress=show)
        bar.update(task, completed=ended.progress.done, verdicts=_verdict_counts(ended))
    return ended


def _verdict_counts(study: Study) -> str:
    from service.schemas.studies import CensusSummary, ExtrapolationSummary, RelaxationSummary

    summary = study.summary
    if isinstance(summary, CensusSummary):
        return f"minima {summary.distinct} · unresolved {summary.unresolved}"
    if isinstance(summary, RelaxationSummary):
        return " · ".join(f"{m.method} {m.successes}/{m.runs}" for m in summary.methods)
    if isinstance(summary, ExtrapolationSummary):
        overall = summary.overall
        return f"logarithmic at T {overall.applicable} of {overall.points}"
    counts = [f"{v.value} {n}" for v, n in summary.verdicts.items() if n]
    if summary.failed:
        counts.append(f"failed {summary.failed}")
    return " · ".join(counts)


def _print_census(console: Any, summary: CensusSummary) -> None:
    """A census: its minima (lowest first), then how complete it is."""
    from rich.table import Table

    table = Table("error", "location", "hits", "basin", "copies", "point", title="minima")
    for m in summary.minima:
        if m.weights is not None:
            where = "x = " + ", ".join(f"{w:.6g}" for w in m.weights)
        else:
            where = "d = " + ", ".join(f"{w:.3g}" for w in m.direction or [])
        table.add_row(
            f"{m.error:.6g}", m.location.value, str(m.hits), f"{m.basin_fraction:.3f}",
            str(m.symmetric_copies), where,
        )  # fmt: skip
    console.print(table)
    lo, hi = summary.estimated_interval
    console.print(
        f"{summary.distinct} distinct ({summary.singletons} hit once, {summary.doubletons} "
        f"twice) of {summary.identified} identified runs, {summary.unresolved} unresolved; "
        f"estimated total {summary.estimated_total:.3g} (95% {lo:.3g}–{hi:.3g}), coverage "
        f"{summary.coverage:.3f}",
        soft_wrap=True,
    )


def _print_extrapolation(console: Any, summary: ExtrapolationSummary) -> None:
    """An extrapolation: per activation, how many points were logarithmic at T, the log
    rule's median (and largest) relative errors of the weights and of E at each factor, and
    whether it predicts well."""
    from rich.table import Table

    def percent(value: float | None) -> str:
        return "–" if value is None else f"{value:.3%}"

    table = Table(
        "activation", "logarithmic at T", "c", "weights: median", "max", "E: median", "max",
        title="the log rule's relative errors at c·T",
    )  # fmt: skip
    groups = [*summary.activations.items(), ("all", summary.overall)]
    for name, group in groups:
        first = f"{group.applicable} of {group.points}"
        if not group.applicable:
            table.add_row(str(name), first, "–", "–", "–", "–", "–")
        for k, f in enumerate(group.factors if group.applicable else []):
            table.add_row(
                str(name) if k == 0 else "", first if k == 0 else "", f"{f.factor:g}",
                percent(f.weight_error_median), percent(f.weight_error_max),
                percent(f.error_relative_median), percent(f.error_relative_max),
            )  # fmt: skip
    console.print(table)
    for name, group in groups:
        verdict = group.log_rule.replace("_", " ")
        console.print(f"{name}: {verdict} — {group.explanation}", soft_wrap=True)


def _print_relaxation(console: Any, summary: RelaxationSummary) -> None:
    """A relaxation: per method, its successes with their interval, its final errors and its
    cost; then the winner."""
    from rich.table import Table

    table = Table(
        "method", "successes", "rate (95%)", "E: 10% 50% 90%", "steps to E*", "s per run",
        title=f"reaching E* = {summary.global_error} (success: E ≤ {summary.threshold})",
    )  # fmt: skip
    for m in summary.methods:
        lo, hi = m.interval
        steps = "–" if m.mean_steps_to_global is None else f"{m.mean_steps_to_global:.3g}"
        table.add_row(
            m.method, f"{m.successes} of {m.runs}", f"{m.success_rate:.2f} ({lo:.2f}–{hi:.2f})",
            " ".join(f"{e:.4g}" for e in m.error_quantiles), steps, f"{m.mean_seconds:.3g}",
        )  # fmt: skip
    console.print(table)
    console.print(f"winner: {summary.winner or 'none'} — {summary.explanation}", soft_wrap=True)


def _print_summary(study: Study) -> None:
    """The study's status, then two tables: points per verdict, and per verdict for each
    value of each axis (values as JSON, in the grid's order)."""
    from rich.console import Console
    from rich.table import Table

    from service.schemas.studies import CensusSummary, ExtrapolationSummary, RelaxationSummary
    from service.vocabulary import Verdict

    console = Console(markup=False)  # names, details and values are text: "[b]" stays "[b]"
    summary = study.summary
    name = f" ({study.name})" if study.name else ""
    p = study.progress
    console.print(
        f"study {study.id}{name} {study.status.value}: {p.done} of {p.total} points, "
        f"{p.failed} failed",
        soft_wrap=True,  # one line, however narrow the terminal: grep finds it
    )
    if study.detail:
        console.print(study.detail, soft_wrap=True)
    if isinstance(summary, CensusSummary):
        _print_census(console, summary)
        return
    if isinstance(summary, ExtrapolationSummary):
        _print_extrapolation(console, summary)
        return
    if isinstance(summary, RelaxationSummary):
        _print_relaxation(console, summary)
        return
    verdicts = [v for v in Verdict if summary.verdicts.get(v)]
    table = Table("verdict", "points", title="verdicts")
    for verdict in verdicts:
        table.add_row(verdict.value, str(summary.verdicts[verdict]))
    if summary.failed:
        table.add_row("failed", str(summary.failed))
    console.print(table)
    per_axis = Table("axis", "value", *(v.value for v in verdicts), title="per axis value")
    for axis, values in study.axes.items():
        counts = summary.per_axis.get(axis, {})
        for value in values:
            key = json.dumps(value)
            row = counts.get(key, {})
            per_axis.add_row(axis, key, *(str(row.get(v, 0)) for v in verdicts))
    console.print(per_axis)


if __name__ == "__main__":
    raise SystemExit(main())
