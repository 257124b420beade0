"""Fixtures of the client tests: the anyio backend, and a studies server in this process."""

from __future__ import annotations

import gc
import threading
import time
import warnings
from collections.abc import Iterator

import pytest

from service.app import create_app
from service.settings import Settings


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def study_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real uvicorn serving a fresh app (its studies in a temporary folder, one Dask
    worker process) on a free loopback port, in a thread of this process; its base URL.

    A thread rather than a subprocess, so that the app is built here from ``Settings``; a
    real server rather than an in-process transport, because httpx's ASGITransport and
    Starlette's TestClient hand back a streamed body only once it has ended, and the event
    stream is to be read as it comes.
    """
    import uvicorn

    settings = Settings(data_dir=str(tmp_path_factory.mktemp("studies")), study_workers=1)
    app = create_app(settings)
    with warnings.catch_warnings():
        # Dask's scheduler serves HTTP on port 8787 even with the dashboard off. When another
        # process on the machine holds that port, it takes another one, but warns and leaks
        # the socket of the failed bind (both errors under pytest). Start the cluster here,
        # with those two let through, and collect the socket before the filters come back.
        warnings.filterwarnings("ignore", "Port 8787 is already in use", UserWarning)
        warnings.filterwarnings("ignore", "unclosed <socket", ResourceWarning)
        app.state.studies().runner.client()
        gc.collect()
    config = uvicorn.Config(app, host="127.0.0.1", port=0, ws="none", log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="study-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True  # the lifespan closes the studies and their LocalCluster
        thread.join(timeout=60)
