"""Checks of a request's figures against the limits table (:class:`service.settings.Settings`)."""

from __future__ import annotations

from fastapi import Request

from service.api.problems import LimitExceeded
from service.settings import Settings


def get_settings(request: Request) -> Settings:
    """The running app's settings (a FastAPI dependency)."""
    settings: Settings = request.app.state.settings
    return settings


def check_size(settings: Settings, n: int, m: int) -> None:
    """n·m must not exceed ``max_cells``."""
    if n * m > settings.max_cells:
        raise LimitExceeded(
            "dataset.inputs",
            f"n·m = {n}·{m} = {n * m} exceeds the limit of {settings.max_cells} "
            "(LEARNDYN_MAX_CELLS)",
        )


def check_record(settings: Settings, points: int) -> None:
    """record.points must not exceed ``max_record_points`` (the schema's own cap is 10000)."""
    if points > settings.max_record_points:
        raise LimitExceeded(
            "record.points",
            f"record.points = {points} exceeds the limit of {settings.max_record_points} "
            "(LEARNDYN_MAX_RECORD_POINTS)",
        )


def check_work(settings: Settings, steps: int, n: int, m: int) -> None:
    """steps·n·m must not exceed ``max_work``."""
    work = steps * n * m
    if work > settings.max_work:
        raise LimitExceeded(
            "steps",
            f"steps·n·m = {steps}·{n}·{m} = {work:.3g} exceeds the work budget of "
            f"{settings.max_work:.3g} (LEARNDYN_MAX_WORK); ask for fewer steps",
        )


FLOW_EVALUATIONS = 5_000
"""An upper estimate of the flow integrator's right-hand side evaluations per request."""


def check_flow_work(settings: Settings, n: int, m: int) -> None:
    """``FLOW_EVALUATIONS·n·m·(m + 1)`` (gradients and Jacobians) must not exceed ``max_work``."""
    work = FLOW_EVALUATIONS * n * m * (m + 1)
    if work > settings.max_work:
        raise LimitExceeded(
            "dataset.inputs",
            f"method 'flow' costs about {FLOW_EVALUATIONS}·n·m·(m+1) = {work:.3g}, over the "
            f"work budget of {settings.max_work:.3g} (LEARNDYN_MAX_WORK); use fewer weights "
            "or method 'gd'",
        )
