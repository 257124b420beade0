"""Operational routes: liveness, readiness, version. ``async def``: they never compute."""

from __future__ import annotations

import platform
import subprocess
from functools import cache
from importlib.metadata import version as dist_version
from pathlib import Path

import numba
import numpy
import scipy
from fastapi import APIRouter, Request, Response

from service.schemas import ConnectionLimits, Health, Readiness, Version
from service.server.budget import connection_budget, file_descriptor_limit
from service.settings import Settings

router = APIRouter(tags=["operations"])


@router.get("/healthz", operation_id="health")
async def health() -> Health:
    """Liveness: answers while the process is up, even when every compute slot is busy."""
    return Health(status="ok")


@router.get("/readyz", operation_id="ready", responses={503: {"model": Readiness}})
async def ready(request: Request, response: Response) -> Readiness:
    """Readiness: 200 once start-up work is done, 503 before."""
    if request.app.state.ready:
        return Readiness(ready=True, detail="ready")
    response.status_code = 503
    return Readiness(ready=False, detail="starting up")


@router.get("/version", operation_id="version")
async def version(request: Request) -> Version:
    """The service's version, its numerical stack and this worker's connection limits."""
    return Version(
        name="learndyn",
        version=dist_version("learndyn"),
        api="v1",
        python=platform.python_version(),
        numpy=numpy.__version__,
        scipy=scipy.__version__,
        numba=numba.__version__,
        commit=build_commit(),
        connections=_connections(request.app.state.settings),
    )


def _connections(settings: Settings) -> ConnectionLimits:
    """The limits the server protocol applies in this process (:mod:`service.server`)."""
    budget = connection_budget(settings.max_connections, file_descriptor_limit())
    return ConnectionLimits(
        file_descriptors=budget.file_descriptors,
        max_connections=budget.max_connections,
        header_seconds=settings.header_seconds,
        body_seconds=settings.body_seconds,
        keepalive_seconds=settings.keepalive_seconds,
        shutdown_seconds=settings.shutdown_seconds,
    )


@cache
def build_commit() -> str | None:
    """The commit of the checkout the package runs from (``git rev-parse HEAD`` beside it),
    or None: installed from a wheel, in an image, or no git."""
    try:
        done = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).resolve().parent,
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    commit = done.stdout.strip()
    return commit if done.returncode == 0 and len(commit) == 40 else None
