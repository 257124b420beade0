"""Dependencies every compute route shares: the API key, then a compute slot.

* ``require_api_key``: when ``LEARNDYN_API_KEY`` is set, a request needs
  ``Authorization: Bearer <key>`` (compared in constant time) or gets 401.
* ``compute_slot``: at most ``compute_slots`` computations run at once; a request waits up to
  ``queue_seconds`` for a slot, then gets 503 with ``Retry-After`` instead of piling up.
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException

from service.api.dependencies import get_settings
from service.settings import Settings

BEARER = HTTPBearer(auto_error=False, description="Required when LEARNDYN_API_KEY is set.")
"""The bearer scheme: required with a key set, declared optional in the schema otherwise
(:mod:`service.api.openapi_shape`)."""


async def require_api_key(
    settings: Annotated[Settings, Depends(get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> None:
    """401 unless the key is unset or the bearer token equals it."""
    if settings.api_key is None:  # pragma: no cover - only installed when a key is set
        return
    given = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(given.encode(), settings.api_key.encode()):
        raise HTTPException(
            401,
            "this endpoint needs 'Authorization: Bearer <key>' with the service's API key",
            headers={"WWW-Authenticate": "Bearer"},
        )


async def compute_slot(request: Request) -> AsyncIterator[None]:
    """Hold one of the app's compute slots for the duration of the request."""
    settings: Settings = request.app.state.settings
    slots: anyio.Semaphore = request.app.state.compute_slots
    try:
        with anyio.fail_after(settings.queue_seconds):
            await slots.acquire()
    except TimeoutError:
        raise HTTPException(
            503,
            f"all {settings.compute_slots} compute slots are busy; retry after "
            f"{settings.retry_after} s",
            headers={"Retry-After": str(settings.retry_after)},
        ) from None
    try:
        yield
    finally:
        slots.release()


def auth_guards(settings: Settings) -> list[Any]:
    """Authenticate, only when a key is set (so that the OpenAPI schema declares the bearer
    scheme exactly when it is needed): the studies' routes, which compute nothing in the
    request itself."""
    return [Depends(require_api_key)] if settings.api_key is not None else []


def compute_guards(settings: Settings) -> list[Any]:
    """The dependencies of every compute router, in order: authenticate (see
    :func:`auth_guards`), then queue for a compute slot."""
    return [*auth_guards(settings), Depends(compute_slot)]
