"""The client library: a live server for the happy paths, injected transports for the rest."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from collections.abc import Callable, Iterator

import httpx
import pydantic
import pytest
from fastapi.testclient import TestClient

import clients
from clients import (
    APIError,
    AsyncClient,
    Client,
    ComputationTimeout,
    InvalidRequest,
    LearndynError,
    LocalValidationError,
    Overloaded,
    RequestRefused,
    ServerError,
    TransportError,
)
from service.app import create_app
from service.schemas import Dataset, GdRequest, TrainResponse
from service.settings import Settings
from tests.conftest import free_port


@pytest.fixture(scope="module")
def app_transport() -> Iterator[httpx.MockTransport]:
    """A sync transport that hands each request to the in-process app."""
    with TestClient(create_app(Settings())) as app_client:

        def handle(request: httpx.Request) -> httpx.Response:
            r = app_client.request(
                request.method, request.url.path, content=request.content, headers=request.headers
            )
            return httpx.Response(r.status_code, headers=r.headers, content=r.content)

        yield httpx.MockTransport(handle)


def counting(
    responses: list[Callable[[], httpx.Response]],
) -> tuple[httpx.MockTransport, list[int]]:
    """A transport answering with ``responses`` in turn; the list counts the attempts."""
    seen: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(1)
        return responses[min(len(seen), len(responses)) - 1]()

    return httpx.MockTransport(handle), seen


def problem(status: int, **headers: str) -> Callable[[], httpx.Response]:
    body = {"type": "about:blank", "title": "Busy", "status": status, "detail": "try later"}
    return lambda: httpx.Response(
        status, json=body, headers={"content-type": "application/problem+json", **headers}
    )


TIME_LIMIT = {
    "type": "urn:learndyn:time-limit",
    "title": "Gateway Timeout",
    "status": 504,
    "detail": "the computation was stopped at its wall-time limit of 120 s, after 6000000 of "
    "1000000000 steps; ask for less (or raise LEARNDYN_COMPUTE_SECONDS)",
}
"""The 504 the service answers when a computation reaches LEARNDYN_COMPUTE_SECONDS, as
``service/api/problems.py`` sends it (no ``errors``)."""


def time_limit() -> httpx.Response:
    return httpx.Response(
        504, json=TIME_LIMIT, headers={"content-type": "application/problem+json"}
    )


def ok_health() -> httpx.Response:
    return httpx.Response(200, json={"status": "ok"})


# -- live server: happy paths and a timeout ------------------------------------------------


def test_train_on_a_live_server(live_server: str) -> None:
    x = 0.0
    for _ in range(1000):
        th = math.tanh(x)
        x += 0.1 * 2.0 * (1.0 - th) * (1.0 - th * th)
    with Client(base_url=live_server) as client:
        answer = client.train(inputs=[[1.0]], targets=[1], steps=1000, learning_rate=0.1)
        assert isinstance(answer, TrainResponse)
        assert answer.weights[0] == pytest.approx(x, rel=1e-12)
        assert client.health().status == "ok"
        assert client.version().name == "learndyn"


@pytest.mark.anyio
async def test_async_train_on_a_live_server(live_server: str) -> None:
    request = GdRequest(dataset=Dataset(inputs=[[1.0]], targets=[1]), steps=100)
    async with AsyncClient(base_url=live_server) as client:
        answer = await client.train(request)
        assert answer.steps == 100 and answer.stopped_by == "steps"
        assert (await client.health()).status == "ok"
        assert (await client.version()).api == "v1"


def test_a_read_timeout_is_a_transport_error(live_server: str) -> None:
    with Client(base_url=live_server, timeout=0.3, retries=2) as client:
        with pytest.raises(TransportError) as info:
            client.train(inputs=[[1.0]], targets=[1], steps=10**9, record={"points": 10})
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)  # translated at one boundary


def test_connection_refused_is_a_transport_error() -> None:
    with Client(base_url=f"http://127.0.0.1:{free_port()}", retries=0) as client:
        with pytest.raises(TransportError) as info:
            client.health()
    assert isinstance(info.value.__cause__, httpx.ConnectError)
    assert isinstance(info.value, LearndynError)


# -- in-process app through an injected transport ----------------------------------------


def test_a_422_is_refused_by_the_service_with_the_fields(
    app_transport: httpx.MockTransport,
) -> None:
    with Client(transport=app_transport) as client:
        with pytest.raises(RequestRefused) as info:
            client.train(inputs=[[1.0, 2.0], [1.0]], targets=[1, -1])
    error = info.value
    assert error.status == 422
    assert isinstance(error, APIError) and isinstance(error, InvalidRequest)
    assert error.fields == ["dataset.inputs"]
    assert "row 1" in error.errors[0].message


def test_invalid_keyword_arguments_are_refused_before_sending() -> None:
    transport, seen = counting([ok_health])
    with Client(transport=transport) as client:
        with pytest.raises(LocalValidationError) as info:
            client.train(inputs=[[1.0]], targets=[1], learning_rate=-1.0)
    error = info.value
    assert seen == []  # nothing was sent
    assert error.status is None and not isinstance(error, APIError)
    assert isinstance(error, InvalidRequest)  # `except InvalidRequest` still catches it
    assert error.fields == ["learning_rate"]
    assert error.errors[0].loc == ["body", "learning_rate"]
    assert error.errors[0].message == "Input should be greater than 0"  # pydantic's gt=0
    assert "learning_rate: Input should be greater than 0" in str(error)
    assert "not sent" in str(error) and "422" not in str(error)
    assert isinstance(error.__cause__, pydantic.ValidationError)


def test_a_local_validation_error_names_every_field_with_its_reason() -> None:
    transport, seen = counting([ok_health])
    with Client(transport=transport) as client:
        with pytest.raises(LocalValidationError) as info:
            client.train(inputs=[[1.0, math.inf]], targets=[1], steps="10", colour="red")
    assert seen == []
    reasons = {e.field: e.message for e in info.value.errors}
    assert set(reasons) == {"dataset.inputs.0.1", "steps", "colour"}
    assert reasons["steps"] == "Input should be a valid integer"
    assert reasons["colour"] == "Extra inputs are not permitted"
    for field, reason in reasons.items():
        assert f"{field}: {reason}" in str(info.value)


def test_the_client_names_a_field_as_the_service_would(
    app_transport: httpx.MockTransport,
) -> None:
    request = GdRequest.model_construct(  # skips the local check, so the service sees it
        dataset=Dataset(inputs=[[1.0]], targets=[1]), learning_rate=-1.0
    )
    with Client(transport=app_transport) as client:
        with pytest.raises(RequestRefused) as remote:
            client.train(request)
        with pytest.raises(LocalValidationError) as local:
            client.train(inputs=[[1.0]], targets=[1], learning_rate=-1.0)
    assert remote.value.status == 422 and local.value.status is None
    assert local.value.errors == remote.value.errors


def test_the_client_names_another_methods_field_as_the_service_would(
    app_transport: httpx.MockTransport,
) -> None:
    """A flow request with ``steps`` and without ``t_max``: the same two field errors, named
    ``steps`` and ``t_max`` (not the union's ``method=flow.steps``), locally and remotely."""
    body = {"dataset": {"inputs": [[1.0]], "targets": [1]}, "method": "flow", "steps": 10}
    with Client(transport=app_transport) as client:
        remote = client._http.post("/train", json=body).json()
        with pytest.raises(LocalValidationError) as local:
            client.train(**body)
    fields = sorted(e["field"] for e in remote["errors"])
    assert fields == ["steps", "t_max"]
    assert [e.model_dump() for e in sorted(local.value.errors, key=lambda e: e.field)] == sorted(
        remote["errors"], key=lambda e: e["field"]
    )
    steps = next(e for e in remote["errors"] if e["field"] == "steps")
    assert steps["message"] == (
        "`steps` applies to method 'gd', 'online' and 'anneal' only, not to 'flow'"
    )


def test_keyword_arguments_and_request_model_agree(app_transport: httpx.MockTransport) -> None:
    with Client(transport=app_transport) as client:
        a = client.train(inputs=[[1.0], [-2.0]], targets=[1, -1], bias=True, steps=50)
        b = client.train(
            GdRequest(dataset=Dataset(inputs=[[1.0], [-2.0]], targets=[1, -1], bias=True), steps=50)
        )
    assert a == b and len(a.weights) == 2


@pytest.mark.parametrize("attempts", [1, 2, 4])
def test_retries_503_until_success(attempts: int) -> None:
    transport, seen = counting(
        [problem(503, **{"retry-after": "0"})] * (attempts - 1) + [ok_health]
    )
    with Client(transport=transport, retries=5, backoff=0.0) as client:
        assert client.health().status == "ok"
    assert len(seen) == attempts


def test_gives_up_after_the_retries_with_overloaded() -> None:
    transport, seen = counting([problem(429, **{"retry-after": "0"})])
    with Client(transport=transport, retries=2, backoff=0.0) as client:
        with pytest.raises(Overloaded) as info:
            client.health()
    assert len(seen) == 3 and info.value.status == 429 and info.value.retry_after == 0.0


def test_connect_errors_are_retried_then_translated() -> None:
    seen: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(1)
        if len(seen) < 3:
            raise httpx.ConnectError("refused", request=request)
        return ok_health()

    with Client(transport=httpx.MockTransport(handle), retries=3, backoff=0.0) as client:
        assert client.health().status == "ok"
    assert len(seen) == 3


def test_server_errors_are_not_retried() -> None:
    transport, seen = counting([problem(500)])
    with Client(transport=transport, retries=3, backoff=0.0) as client:
        with pytest.raises(ServerError) as info:
            client.health()
    assert len(seen) == 1 and info.value.status == 500 and info.value.detail == "try later"


def test_a_504_is_a_computation_timeout_and_is_not_retried() -> None:
    transport, seen = counting([time_limit, ok_health])
    with Client(transport=transport, retries=3, backoff=0.0) as client:
        with pytest.raises(ComputationTimeout) as info:
            client.health()
    error = info.value
    assert len(seen) == 1  # the same request would hit the same limit
    assert not isinstance(error, ServerError) and isinstance(error, APIError)
    assert error.status == 504 and error.title == "Gateway Timeout"
    assert error.detail == TIME_LIMIT["detail"] and error.errors == []
    assert "ask for less" in str(error)


@pytest.mark.anyio
async def test_async_a_504_is_a_computation_timeout_and_is_not_retried() -> None:
    transport, seen = counting([time_limit, ok_health])
    async with AsyncClient(transport=transport, retries=3, backoff=0.0) as client:
        with pytest.raises(ComputationTimeout) as info:
            await client.health()
    assert len(seen) == 1 and info.value.status == 504


def test_the_services_time_limit_reaches_the_client_as_a_computation_timeout() -> None:
    seen: list[int] = []
    with TestClient(create_app(Settings(compute_seconds=0.3))) as app_client:

        def handle(request: httpx.Request) -> httpx.Response:
            seen.append(1)
            r = app_client.request(
                request.method, request.url.path, content=request.content, headers=request.headers
            )
            return httpx.Response(r.status_code, headers=r.headers, content=r.content)

        with Client(transport=httpx.MockTransport(handle), retries=3, backoff=0.0) as client:
            with pytest.raises(ComputationTimeout) as info:
                client.train(inputs=[[1.0]], targets=[1], steps=10**9, record={"points": 10})
    assert len(seen) == 1
    assert "0.3 s" in info.value.detail and "of 1000000000 steps" in info.value.detail


def test_a_non_problem_error_body_still_maps() -> None:
    transport, _ = counting([lambda: httpx.Response(502, text="<html>bad gateway</html>")])
    with Client(transport=transport, retries=0) as client:
        with pytest.raises(ServerError) as info:
            client.health()
    assert info.value.status == 502 and "bad gateway" in info.value.detail


def test_api_key_is_sent_as_a_bearer_token(monkeypatch: pytest.MonkeyPatch) -> None:
    headers: list[str | None] = []

    def handle(request: httpx.Request) -> httpx.Response:
        headers.append(request.headers.get("authorization"))
        return ok_health()

    with Client(transport=httpx.MockTransport(handle), api_key="s3cret") as client:
        client.health()
    monkeypatch.setenv("LEARNDYN_API_KEY", "from-env")
    with Client(transport=httpx.MockTransport(handle)) as client:
        client.health()
    monkeypatch.delenv("LEARNDYN_API_KEY")
    with Client(transport=httpx.MockTransport(handle)) as client:
        client.health()
    assert headers == ["Bearer s3cret", "Bearer from-env", None]


@pytest.mark.anyio
async def test_async_client_in_process_maps_errors_and_retries() -> None:
    transport = httpx.ASGITransport(app=create_app(Settings()))
    async with AsyncClient(transport=transport) as client:
        with pytest.raises(RequestRefused) as info:
            await client.train(inputs=[[1.0], [1.0, 2.0]], targets=[1, -1])
        assert info.value.fields == ["dataset.inputs"] and info.value.status == 422
        with pytest.raises(LocalValidationError) as local:
            await client.train(inputs=[[1.0]], targets=[1], learning_rate=0.0)
        assert local.value.fields == ["learning_rate"] and local.value.status is None
    seen: list[int] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(1)
        return problem(503, **{"retry-after": "0"})() if len(seen) < 3 else ok_health()

    async with AsyncClient(transport=httpx.MockTransport(handle), backoff=0.0) as client:
        assert (await client.health()).status == "ok"
    assert len(seen) == 3


def test_public_names() -> None:
    assert sorted(clients.__all__) == [
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
    for name in clients.__all__:
        assert getattr(clients, name).__module__.startswith("clients.")


def test_client_imports_without_the_servers_dependencies() -> None:
    code = "import json, sys, clients\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {name.split(".")[0] for name in json.loads(out.stdout)}
    assert {"httpx", "pydantic"} <= loaded
    assert not loaded & {"numpy", "scipy", "fastapi", "starlette", "uvicorn"}


def test_readme_client_example_runs(live_server: str, capsys: pytest.CaptureFixture[str]) -> None:
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    code = readme.split("```python\n", 1)[1].split("```", 1)[0]
    assert 5 <= len(code.strip().splitlines()) <= 15
    exec(compile(code.replace("http://127.0.0.1:8000", live_server), "README", "exec"), {})
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("steps [2.76073434")
    assert lines[1] == "422 ['dataset.inputs']"


def test_cli_train_prints_a_table_and_json(live_server: str, tmp_path: object) -> None:
    from pathlib import Path

    request = Path(str(tmp_path)) / "request.json"
    request.write_text(json.dumps({"dataset": {"inputs": [[1.0]], "targets": [1]}, "steps": 300}))
    cli = [sys.executable, "-m", "service.cli", "train", str(request), "--url", live_server]
    table = subprocess.run(cli, capture_output=True, text=True, check=True).stdout
    assert "stopped by" in table and "steps at t = 300" in table and "verdict" in table
    raw = json.loads(subprocess.run([*cli, "--json"], capture_output=True, text=True).stdout)
    assert raw["steps"] == 300
    bad = subprocess.run(
        [*cli[:4], "-", "--url", live_server],
        input='{"dataset": {}}',
        capture_output=True,
        text=True,
    )
    assert bad.returncode == 2 and "dataset" in bad.stderr


def test_minima_and_separability_through_the_client(app_transport: httpx.MockTransport) -> None:
    with Client(transport=app_transport) as client:
        landscape = client.minima(inputs=[[1.0], [-3.0]], targets=[1, 1], activation="tanh")
        kinds = [(p.kind.value, round(p.x, 6)) for p in landscape.critical_points]
        assert kinds == [("min", -0.181174), ("max", 0.809004)]
        assert landscape.infinity.plus.local_min and not landscape.infinity.minus.local_min
        xor = client.separability(
            inputs=[[1.0, 1.0], [1.0, -1.0], [-1.0, 1.0], [-1.0, -1.0]],
            targets=[-1, 1, 1, -1],
            bias=True,
        )
    assert not xor.strictly_separable and not xor.weakly_separable
    assert xor.certificate is not None
    lam = xor.certificate.multipliers
    rows = [[-1, -1, -1], [1, -1, 1], [-1, 1, 1], [1, 1, -1]]  # B = diag(y)·[A | 1]
    assert min(lam) > 0
    for j in range(3):
        assert abs(sum(lam[i] * rows[i][j] for i in range(4))) < 1e-12


@pytest.mark.anyio
async def test_async_minima_and_separability_in_process() -> None:
    transport = httpx.ASGITransport(app=create_app(Settings()))
    async with AsyncClient(transport=transport) as client:
        flat = await client.minima(inputs=[[0.0], [0.0]], targets=[1, -1])
        assert flat.flat
        separable = await client.separability(inputs=[[1.0], [2.0]], targets=[1, 1])
        assert separable.strictly_separable and separable.max_margin is not None
        assert separable.max_margin.weights[0] == pytest.approx(1.0, rel=1e-12)  # min ‖w‖: w ≥ 1
        with pytest.raises(RequestRefused) as info:
            await client.minima(inputs=[[1.0, 2.0]], targets=[1])
        assert info.value.fields == ["dataset.inputs"]


def test_figures_through_the_client(app_transport: httpx.MockTransport) -> None:
    from service.schemas.minima import MinimaRequest

    with Client(transport=app_transport) as client:
        svg = client.figure_minima(inputs=[[1.0], [-3.0]], targets=[1, 1])
        assert isinstance(svg, bytes) and svg.lstrip().startswith(b"<?xml")
        assert b'id="extremum-min-plus-inf"' in svg
        request = MinimaRequest(dataset=Dataset(inputs=[[1.0], [2.0]], targets=[1, 1]))
        png = client.figure_minima(request, format="png")
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        run = GdRequest(dataset=Dataset(inputs=[[1.0]], targets=[1]), steps=200)
        assert client.figure_train(run, format="png")[:8] == b"\x89PNG\r\n\x1a\n"
        assert client.figure_train(inputs=[[1.0]], targets=[1], steps=200).startswith(b"<?xml")
        with pytest.raises(LocalValidationError) as local:
            client.figure_minima(inputs=[[1.0]], targets=[1], format="gif")
        assert local.value.fields == ["format"] and local.value.status is None
        with pytest.raises(RequestRefused) as info:  # refused by the service
            client.figure_minima(inputs=[[1.0, 2.0]], targets=[1])
        assert info.value.fields == ["dataset.inputs"]


@pytest.mark.anyio
async def test_async_figures_in_process() -> None:
    transport = httpx.ASGITransport(app=create_app(Settings()))
    async with AsyncClient(transport=transport) as client:
        svg = await client.figure_minima(inputs=[[1.0], [-3.0]], targets=[1, 1])
        assert b'id="extremum-max-1"' in svg
        png = await client.figure_train(inputs=[[1.0]], targets=[1], steps=50, format="png")
        assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_train_plot_saves_the_figure(live_server: str, tmp_path: object) -> None:
    from pathlib import Path

    folder = Path(str(tmp_path))
    request = folder / "request.json"
    request.write_text(json.dumps({"dataset": {"inputs": [[1.0]], "targets": [1]}, "steps": 300}))
    for name, magic in (("run.svg", b"<?xml"), ("run.png", b"\x89PNG\r\n\x1a\n")):
        cli = [sys.executable, "-m", "service.cli", "train", str(request), "--url", live_server]
        done = subprocess.run([*cli, "--plot", str(folder / name)], capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        assert "verdict" in done.stdout
        assert (folder / name).read_bytes().startswith(magic)
    bad = subprocess.run(
        [*cli, "--plot", str(folder / "missing" / "run.svg")], capture_output=True, text=True
    )
    assert bad.returncode == 1 and "missing" in bad.stderr
