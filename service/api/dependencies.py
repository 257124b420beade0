"""FastAPI dependencies: the running app's settings and the limits of one computation."""

from __future__ import annotations

from fastapi import Request

from service.core.budget import Budget
from service.settings import Settings


def get_settings(request: Request) -> Settings:
    """The running app's settings."""
    settings: Settings = request.app.state.settings
    return settings


def get_budget(request: Request) -> Budget:
    """The running app's limits of one computation (``LEARNDYN_MAX_*``, the wall time)."""
    return get_settings(request).budget()
