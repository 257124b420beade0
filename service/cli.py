"""The ``learndyn`` command: ``serve`` the API, or print its ``openapi`` schema."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from collections.abc import Sequence

from service.settings import Settings


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``learndyn`` console script and of ``python -m service``."""
    defaults = Settings.from_env()
    parser = argparse.ArgumentParser(prog="learndyn", description=__doc__)
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
    train.add_argument("--url", default=f"http://{defaults.host}:{defaults.port}")
    train.add_argument("--json", action="store_true", help="print the raw JSON answer")
    train.add_argument(
        "--plot",
        metavar="FILE",
        help="also save the run's figure (POST /figures/train; the run is computed again): "
        "PNG if FILE ends in .png, else SVG",
    )

    commands.add_parser("warmup", help="compile the descent kernels once (the Dockerfile's build)")
    args = parser.parse_args(argv)

    if args.command == "warmup":
        from service.core.engine.warmup import warm_up

        warm_up()
        print("learndyn warmup: the descent kernel is compiled and cached")
        return 0

    if args.command == "train":
        return _train(args.file, args.url, args.json, args.plot)

    if args.command == "openapi":
        from service.app import create_app

        json.dump(create_app(defaults).openapi(), sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
        return 0

    try:
        import uvicorn
    except ImportError:
        print("learndyn serve needs the server extra: pip install 'learndyn[server]'")
        return 1

    # uvicorn drains the server on SIGTERM, then re-raises the signal to the handler it found:
    # make that handler a clean exit, so a graceful shutdown exits 0.
    signal.signal(signal.SIGTERM, _exit_cleanly)
    uvicorn.run(
        "service.app:app",
        host=getattr(args, "host", defaults.host),
        port=getattr(args, "port", defaults.port),
        workers=getattr(args, "workers", defaults.workers),
        access_log=False,  # service.api.access_log writes JSON lines instead
        log_config=LOG_CONFIG,
        timeout_graceful_shutdown=int(defaults.compute_seconds) + 5,
    )
    return 0


LOG_CONFIG: dict[str, object] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(message)s"},
        "default": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
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
        "learndyn": {"handlers": ["default"], "level": "INFO", "propagate": False},
        "uvicorn": {"handlers": ["default"], "level": "INFO", "propagate": False},
    },
}
"""Access logs as bare JSON lines on stdout; everything else on stderr."""


def _exit_cleanly(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _train(path: str, url: str, raw: bool, plot: str | None = None) -> int:
    """POST the request in ``path`` to ``url`` and print the verdict and key figures; with
    ``plot``, also save the figure of the run there."""
    from clients import Client, LearndynError
    from service.schemas import TrainRequest

    text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    try:
        with Client(base_url=url) as client:
            request = TrainRequest.model_validate_json(text)
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
    except ValueError as error:  # the file is not a valid TrainRequest
        print(f"learndyn: {path}: {error}", file=sys.stderr)
        return 2
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
        rows.append(("log rate b", ", ".join(f"{b:.6g}" for b in d.log_rate)))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    print(d.explanation)
    for warning in answer.warnings:
        print(f"warning ({warning.code.value}): {warning.message}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
