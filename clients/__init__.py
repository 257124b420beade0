"""learndyn's client library: typed, sync and async, built on the service's own schemas.

Needs only httpx and pydantic (``service.schemas`` imports neither numpy nor FastAPI)::

    from clients import Client

    with Client() as client:
        print(client.train(inputs=[[1.0]], targets=[1], steps=10_000).weights)
"""

from clients.client import AsyncClient, Client
from clients.errors import (
    APIError,
    InvalidRequest,
    LearndynError,
    Overloaded,
    ServerError,
    TransportError,
)

__all__ = [
    "APIError",
    "AsyncClient",
    "Client",
    "InvalidRequest",
    "LearndynError",
    "Overloaded",
    "ServerError",
    "TransportError",
]
