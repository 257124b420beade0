"""The pydantic models of learndyn's requests and responses.

This package imports pydantic and the standard library only (never numpy, scipy or FastAPI),
so the client library can use it on a machine with just httpx and pydantic.
"""

from service.schemas.common import Count, Dataset, FieldError, Flag, Problem, Real
from service.schemas.ops import ConnectionLimits, Health, Readiness, Version
from service.schemas.separability import (
    Certificate,
    MaxMargin,
    SeparabilityRequest,
    SeparabilityResponse,
    Theory,
)
from service.schemas.train import (
    TRAIN_REQUEST,
    Divergence,
    Extrapolation,
    FlowRequest,
    GdRequest,
    History,
    Network,
    OnlineRequest,
    Record,
    RunWarning,
    Stall,
    Stop,
    TrainRequest,
    TrainResponse,
    Undetermined,
)
from service.vocabulary import (
    ActivationName,
    Heading,
    Method,
    Order,
    StopReason,
    UndeterminedReason,
    Verdict,
    WarningCode,
)

__all__ = [
    "Certificate",
    "MaxMargin",
    "SeparabilityRequest",
    "SeparabilityResponse",
    "Theory",
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
    "TRAIN_REQUEST",
    "GdRequest",
    "OnlineRequest",
    "FlowRequest",
    "TrainResponse",
    "Verdict",
    "RunWarning",
    "Stall",
    "Undetermined",
    "Heading",
    "UndeterminedReason",
    "WarningCode",
    "Version",
    "ConnectionLimits",
]

from service.schemas.minima import (  # noqa: E402
    CriticalPointOut,
    CurveOut,
    CurveRequest,
    GlobalMinimum,
    Infinity,
    InfinityEndOut,
    LocalMinimumOut,
    MinimaRequest,
    MinimaResponse,
    SubspaceOut,
)

__all__ += [
    "CriticalPointOut",
    "CurveOut",
    "CurveRequest",
    "GlobalMinimum",
    "Infinity",
    "InfinityEndOut",
    "LocalMinimumOut",
    "MinimaRequest",
    "MinimaResponse",
    "SubspaceOut",
]
