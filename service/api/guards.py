"""The two admission checks, each defined once: the API key, then a compute slot.

* :func:`check_api_key`: when ``LEARNDYN_API_KEY`` is set, a request needs
  ``Authorization: Bearer <key>`` (compared in constant time) or gets 401.
* :class:`SlotQueue`: at most ``LEARNDYN_COMPUTE_SLOTS`` computations run at once in the whole
  service, all worker processes together (:mod:`service.slots`); a request waits up to
  ``LEARNDYN_QUEUE_SECONDS`` for a slot, then gets 503 with ``Retry-After`` instead of piling
  up.

Both run before the request's body is read (:mod:`service.api.admission`).
:func:`require_api_key` is the same key check as a FastAPI dependency: it puts the bearer
scheme and the 401 into the OpenAPI schema of the routes that need the key (and checks again,
at no cost, should a route ever be reached without its admission).
"""

from __future__ import annotations

import hmac
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

import anyio
from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param
from starlette.exceptions import HTTPException

from service.api.dependencies import get_settings
from service.settings import Settings
from service.slots import ComputeSlots, Slot

BEARER = HTTPBearer(auto_error=False, description="Required when LEARNDYN_API_KEY is set.")
"""The bearer scheme: required with a key set, declared optional in the schema otherwise
(:mod:`service.api.openapi_shape`)."""

POLL_SECONDS = 0.005
"""How often a request at the head of this process's queue tries the shared slots again: a
slot freed by another worker process is taken within this (a freed slot of this process at
once, as its waiter is woken)."""


def bearer_token(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer <token>`` header ("" for any other header),
    read as :data:`BEARER` reads it."""
    scheme, token = get_authorization_scheme_param(authorization)
    return token if scheme.lower() == "bearer" else ""


def check_api_key(settings: Settings, token: str) -> None:
    """401 unless no key is set or ``token`` equals it (compared in constant time)."""
    if settings.api_key is None:
        return
    if not hmac.compare_digest(token.encode(), settings.api_key.encode()):
        raise HTTPException(
            401,
            "this endpoint needs 'Authorization: Bearer <key>' with the service's API key",
            headers={"WWW-Authenticate": "Bearer"},
        )


async def require_api_key(
    settings: Annotated[Settings, Depends(get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> None:
    """:func:`check_api_key` as a dependency (for the OpenAPI schema's security)."""
    check_api_key(settings, credentials.credentials if credentials is not None else "")


def auth_guards(settings: Settings) -> list[Any]:
    """The key's dependency, only when a key is set (so that the OpenAPI schema declares the
    bearer scheme exactly when it is needed)."""
    return [Depends(require_api_key)] if settings.api_key is not None else []


class SlotQueue:
    """This process's queue for the service's shared compute slots.

    Requests of one process first pass an in-process gate of ``slots.count`` places, first
    come first served (no process can hold more slots than that); only those through it poll
    the shared lock files, every :data:`POLL_SECONDS`, so a crowd of waiters costs no more
    system calls than ``count`` of them.
    """

    def __init__(self, slots: ComputeSlots) -> None:
        self.slots = slots
        self._gate = anyio.Semaphore(slots.count)

    @asynccontextmanager
    async def hold(self, settings: Settings) -> AsyncIterator[Slot]:
        """Hold a slot for the block; 503 with ``Retry-After`` when none is free within
        ``settings.queue_seconds``."""
        slot: Slot | None = None
        with anyio.move_on_after(settings.queue_seconds):
            slot = await self._take()
        if slot is None:
            raise HTTPException(
                503,
                f"all {settings.compute_slots} compute slots are busy; retry after "
                f"{settings.retry_after} s",
                headers={"Retry-After": str(settings.retry_after)},
            )
        try:
            yield slot
        finally:
            self.slots.release(slot)
            self._gate.release()

    async def _take(self) -> Slot:
        """Wait for the gate, then for a shared slot (cancelled by the caller's deadline).
        Free places are taken without waiting, even with no time left to wait."""
        try:
            self._gate.acquire_nowait()
        except anyio.WouldBlock:
            await self._gate.acquire()
        try:
            while (slot := self.slots.try_acquire()) is None:
                await anyio.sleep(POLL_SECONDS)
        except BaseException:
            self._gate.release()
            raise
        return slot
