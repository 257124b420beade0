"""learndyn's client library: typed, sync and async, built on the service's own schemas.

Needs only httpx and pydantic (``service.schemas`` imports neither numpy nor FastAPI)::

    from clients import Client

    with Client() as client:
        print(client.train(inputs=[[1.0]], targets=[1], steps=10_000).weights)

Errors are one small tree (:mod:`clients.errors`): :class:`InvalidRequest` for a request to
fix (:class:`LocalValidationError` if the client refused it before sending, with no status;
:class:`RequestRefused` for the service's 4xx), :class:`Overloaded` to retry later,
:class:`ComputationTimeout` to ask for less, :class:`ServerError`, :class:`TransportError`,
and :class:`WaitTimeout` when a study outlasts ``wait``'s timeout.

Studies (many /train runs as one job) are submitted, followed and read the same way::

    with Client() as client:
        study = client.submit_study(spec)  # a SweepRequest, or its JSON as a dict
        done = client.wait(study.id, progress=lambda p: print(p.done, "of", p.total))
        print(done.summary.verdicts)
        for row in client.results(done.id):
            print(row.index, row.params, row.verdict)
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
    WaitTimeout,
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
    "WaitTimeout",
]
