"""The FastAPI application: routers, the error model, limits and docs.

``create_app(settings)`` builds an app; ``app`` is the one uvicorn serves by default.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib.metadata import version

import anyio
import anyio.to_thread
from fastapi import FastAPI

from service.api import figures as figures_api
from service.api import minima, ops, train
from service.api import separability as separability_api
from service.api import studies as studies_api
from service.api.access_log import AccessLogMiddleware
from service.api.body_limit import BodyLimitMiddleware
from service.api.body_timeout import BodyTimeoutMiddleware
from service.api.cors import ProblemCORSMiddleware
from service.api.docs import install_docs
from service.api.guards import SlotQueue, auth_guards
from service.api.openapi_shape import install_openapi_shape
from service.api.problems import install_problem_handlers, problem_responses
from service.core.engine import kernel
from service.core.engine.warmup import warm_up
from service.settings import Settings
from service.slots import ComputeSlots
from service.studies import StudiesHandle

DESCRIPTION = """\
learndyn answers questions about the learning dynamics of backpropagation, after
E. D. Sontag, *Some remarks on the backpropagation algorithm for neural net learning* (1988).

**Conventions.** Data are n examples: inputs u^i ∈ R^m (the rows of the n×m matrix A) and
targets y_i ∈ {+1, −1}; `bias: true` appends a constant input 1 (its weight comes last).
The error is `E(x) = Σ_i (θ(A_i·x) − y_i)²`, with no factor 1/2 (the paper's (**)); with
`B = diag(y)·A` it equals `Σ_i (1 − θ(B_i·x))²`. Gradient descent is
`x_{t+1} = x_t − η·∇E(x_t)` and t counts steps (passes over the data for `online`).

**Activations** θ, odd and onto (−1, 1), and the tails of 1 − θ(z) as z → ∞:
`tanh` (2e^(−2z)), `logistic` = 2/(1+e^(−z)) − 1 (2e^(−z)), `arctan` = (2/π)·atan
((2/π)/z), `erf` (e^(−z²)/(z√π)).

Errors are RFC 9457 problem details (`application/problem+json`). Numbers in responses are
always finite; nothing non-finite is ever sent as a number.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the service with ``settings`` (default: from the environment)."""
    settings = settings or Settings.from_env()

    async def warm_up_then_ready(app: FastAPI) -> None:
        # compile (or load from the cache) the descent kernel off the event loop
        try:
            await anyio.to_thread.run_sync(app.state.warm_up)
        except Exception:
            logging.getLogger("learndyn").exception("kernel warm-up failed; not ready")
            return
        # What start-up made (modules, the compiled kernel) lives as long as the process: out
        # of the collector's sight, a full collection walks only what requests made, and a
        # thread parsing a large body stalls the event loop for less (service.api.admission).
        # Once per process: where apps come and go (tests), freezing again would keep the
        # apps before it alive for good.
        if gc.get_freeze_count() == 0:
            gc.collect()
            gc.freeze()
        app.state.ready = True

    studies = StudiesHandle(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        kernel.configure_cache(settings.numba_cache_dir)
        warming = asyncio.create_task(warm_up_then_ready(app))
        if studies.stored():  # resume the studies a previous run left unfinished
            await anyio.to_thread.run_sync(studies)
        yield
        app.state.ready = False
        await warming
        await anyio.to_thread.run_sync(studies.close)

    app = FastAPI(
        title="learndyn",
        version=version("learndyn"),
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.ready = False
    # one budget for every worker process of the service (file locks: service.slots)
    slots = ComputeSlots(settings.compute_slots, settings.slots_dir or None)
    app.state.slot_queue = SlotQueue(slots)
    app.state.warm_up = warm_up
    app.state.studies = studies
    install_problem_handlers(app)
    # added last = outermost: ids and logs see every answer, 413s included
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(BodyTimeoutMiddleware, seconds=settings.body_seconds)
    if settings.cors_origins:
        app.add_middleware(
            ProblemCORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["authorization", "content-type", "x-request-id"],
            expose_headers=["x-request-id", "retry-after"],
        )
    app.add_middleware(AccessLogMiddleware)
    guards = auth_guards(settings)  # the slot: the routers' ComputeRoute (api.admission)
    auth = problem_responses(401) if settings.api_key is not None else None
    for compute in (train.router, minima.router, separability_api.router):
        app.include_router(compute, dependencies=guards, responses=auth)
    app.include_router(figures_api.router, dependencies=guards, responses=auth)
    app.include_router(studies_api.router, dependencies=guards, responses=auth)
    app.include_router(ops.router)
    install_docs(app)
    install_openapi_shape(app, key_required=settings.api_key is not None)
    return app


app = create_app()
