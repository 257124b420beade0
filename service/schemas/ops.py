"""Operational endpoints: health, readiness, version."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Health(BaseModel):
    """Liveness: the process answers."""

    status: str = Field(description="'ok' when the process is alive.", examples=["ok"])


class Readiness(BaseModel):
    """Readiness: start-up work is done and requests will be served."""

    ready: bool
    detail: str = Field(description="What is (not yet) ready.")


class ConnectionLimits(BaseModel):
    """The connection limits of the worker process that answered (each has its own)."""

    file_descriptors: int = Field(
        description="The process's limit on open files; `learndyn serve` raises it to the hard "
        "limit at start.",
        examples=[1048576],
    )
    max_connections: int = Field(
        description="Client connections the process holds at once (LEARNDYN_MAX_CONNECTIONS, "
        "lowered to fit the file descriptors); the next one is refused with 503.",
        examples=[4096],
    )
    header_seconds: float = Field(description="A request head must arrive within this.")
    body_seconds: float = Field(description="A request body must arrive within this.")
    keepalive_seconds: int = Field(description="An idle connection is closed after this.")
    shutdown_seconds: int = Field(
        description="After SIGTERM, requests in flight get this long, then are cancelled."
    )


class Version(BaseModel):
    """The service's name and version, and the versions of its numerical stack."""

    name: str = Field(examples=["learndyn"])
    version: str = Field(examples=["0.1.0"])
    api: str = Field(description="The API version.", examples=["v1"])
    python: str
    numpy: str
    scipy: str
    numba: str
    commit: str | None = Field(
        default=None,
        description="The git commit the service runs from, when it runs from a checkout; null "
        "otherwise (an installed wheel or an image).",
    )
    connections: ConnectionLimits | None = Field(
        default=None,
        description="The connection limits of the answering worker process (null only from "
        "a service older than this field).",
    )
