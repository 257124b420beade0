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
