"""learndyn's client library: typed, sync and async, built on the service's own schemas.

Needs only httpx and pydantic (``service.schemas`` imports neither numpy nor FastAPI)::

    from clients import Client

    with Client() as client:
        print(client.train(inputs=[[1.0]], targets=[1], steps=10_000).weights)

Errors are one small tree (:mod:`clients.errors`): :class:`InvalidRequest` for a request to
fix (:class:`LocalValidationError` if the client refused it before sending, with no status;
:class:`RequestRefused` for the service's 4xx), :class:`Overloaded` to retry later,
:class:`ComputationTimeout` to ask for less, :class:`ServerError`, :class:`TransportError`.
"""

from clients.client import AsyncClient, Client
from clients.errors import (
    APIError,
    ComputationTimeout,
    InvalidRequest,
    LearndynError,
    LocalValidationError,
    Overloaded,
    RequestRefused,
    ServerError,
    TransportError,
)

__all__ = [
    "APIError",
    "AsyncClient",
    "Client",
    "ComputationTimeout",
    "InvalidRequest",
    "LearndynError",
    "LocalValidationError",
    "Overloaded",
    "RequestRefused",
    "ServerError",
    "TransportError",
]
