"""The ``learndyn`` command: ``serve`` the API, or print its ``openapi`` schema."""

from __future__ import annotations

import argparse
import json
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
    commands.add_parser("warmup", help="compile the descent kernels once (the Dockerfile's build)")
    args = parser.parse_args(argv)

    if args.command == "warmup":
        from service.core.warmup import warm_up

        print(f"learndyn warmup: {warm_up()} runs")
        return 0

    if args.command == "openapi":
        from service.app import create_app

        json.dump(create_app(defaults).openapi(), sys.stdout, indent=2, sort_keys=True)
        sys.stdout.write("\n")
        return 0

    import uvicorn

    uvicorn.run(
        "service.app:app",
        host=getattr(args, "host", defaults.host),
        port=getattr(args, "port", defaults.port),
        workers=getattr(args, "workers", defaults.workers),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
