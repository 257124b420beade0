"""The pydantic models of learndyn's requests and responses.

This package imports pydantic and the standard library only (never numpy, scipy or FastAPI),
so the client library can use it on a machine with just httpx and pydantic.
"""

from service.schemas.common import Count, Dataset, FieldError, Flag, Problem, Real
from service.schemas.ops import Health, Readiness, Version
from service.schemas.train import (
    Divergence,
    Extrapolation,
    History,
    Network,
    Record,
    Stop,
    TrainRequest,
    TrainResponse,
)
from service.vocabulary import ActivationName, Method, Order, StopReason, Verdict

__all__ = [
    "ActivationName",
    "Count",
    "Dataset",
    "Divergence",
    "Extrapolation",
    "FieldError",
    "Flag",
    "Health",
    "History",
    "Method",
    "Network",
    "Order",
    "Problem",
    "Readiness",
    "Real",
    "Record",
    "Stop",
    "StopReason",
    "TrainRequest",
    "TrainResponse",
    "Verdict",
    "Version",
]
