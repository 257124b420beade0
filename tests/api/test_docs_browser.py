"""/docs and /redoc render every operation in a real headless Chromium, offline.

A live uvicorn on a loopback port serves the app; Debian's Chromium (``/usr/bin/chromium``,
installed by ``python3 run.py test`` where it is missing) loads both pages through
playwright, which only drives it (``playwright install`` is never run). Every request the
pages make is checked: one to a host other than the loopback fails the test (and is aborted,
so it never leaves the machine). Screenshots go to the test's temporary directory.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from service.app import create_app
from service.settings import Settings

SCHEMA = create_app(Settings()).openapi()
METHODS = ("get", "put", "post", "delete", "patch")
OPERATIONS = [
    (method, path, op)
    for path, item in SCHEMA["paths"].items()
    for method, op in item.items()
    if method in METHODS
]
LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TIMEOUT_MS = 60_000


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.skip(
            "!!! CHROMIUM IS NOT INSTALLED: the browser test of /docs and /redoc DID NOT RUN. "
            "`python3 run.py test` installs it with apt-get when run as root on Debian; "
            "elsewhere install Debian's `chromium` package by hand. !!!"
        )
    return found


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    port = free_port()
    data = tmp_path_factory.mktemp("data")  # the studies the page submits, apart from the checkout
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "service.app:app", "--host", "127.0.0.1"]
        + ["--port", str(port), "--log-level", "warning"],
        cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "LEARNDYN_DATA_DIR": str(data), "LEARNDYN_STUDY_WORKERS": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, "uvicorn exited during start-up"
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "uvicorn did not answer /healthz within 60 s"
            time.sleep(0.2)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=30)


@dataclass
class Traffic:
    """What the pages asked for: every URL, the ones that left the loopback, and errors."""

    urls: list[str] = field(default_factory=list)
    outside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def is_loopback(url: str) -> bool:
    parts = urlsplit(url)
    if parts.scheme in ("data", "blob", "about"):
        return True
    return parts.hostname in LOOPBACK


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Any, Traffic]]:
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    traffic = Traffic()
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1280, "height": 900},
            env={**os.environ, "HOME": str(profile)},
        )

        def guard(route: Any) -> None:
            url = route.request.url
            if is_loopback(url):
                route.continue_()
            else:
                traffic.outside.append(url)
                route.abort()

        context.route("**/*", guard)
        context.on("request", lambda request: traffic.urls.append(request.url))
        context.on("weberror", lambda error: traffic.errors.append(f"page error: {error.error}"))
        context.on(
            "console",
            lambda msg: (
                traffic.errors.append(f"console: {msg.text}") if msg.type == "error" else None
            ),
        )
        try:
            yield context, traffic
        finally:
            context.close()


def assert_offline(traffic: Traffic, base_url: str) -> None:
    assert not traffic.outside, f"the page asked for non-loopback URLs: {traffic.outside}"
    assert all(is_loopback(u) for u in traffic.urls), traffic.urls
    assert any(u.startswith(f"{base_url}/docs-assets/") for u in traffic.urls), traffic.urls
    assert not traffic.errors, traffic.errors


@pytest.mark.slow  # 35-40 s (Chromium); tests/api/test_docs.py checks the offline assets by default
def test_swagger_ui_renders_every_operation_offline(
    browser: tuple[Any, Traffic], base_url: str, tmp_path: Path
) -> None:
    context, traffic = browser
    page = context.new_page()
    page.goto(f"{base_url}/docs", wait_until="networkidle", timeout=TIMEOUT_MS)
    page.wait_for_selector(".opblock-summary-path", timeout=TIMEOUT_MS)
    assert page.title() == "learndyn — Swagger UI"
    assert ("post", "/train") in {(m, p) for m, p, _ in OPERATIONS}
    for method, path, _ in OPERATIONS:
        block = page.locator(f'.opblock-{method}:has(.opblock-summary-path[data-path="{path}"])')
        assert block.count() == 1, f"{method.upper()} {path} is not rendered by Swagger UI"
        assert block.locator(".opblock-summary-method").inner_text() == method.upper()
    assert page.locator(".opblock").count() == len(OPERATIONS)

    # The named request examples are offered in the operation's example drop-down, and the
    # first one, executed from the page, gets 200.
    for method, path, op in OPERATIONS:
        named = op.get("requestBody", {}).get("content", {}).get("application/json", {})
        named = named.get("examples", {})
        if not named:
            continue
        block = page.locator(f'.opblock-{method}:has(.opblock-summary-path[data-path="{path}"])')
        block.locator(".opblock-summary").click()
        select = block.locator(".examples-select select").first
        select.wait_for(timeout=TIMEOUT_MS)
        offered = select.locator("option").all_inner_texts()
        for name, example in named.items():
            assert example["summary"] in offered, (path, name, offered)
        # "Try it out" is on: Execute sends the selected example to the service, which answers
        # with the operation's success code (200, or 202 for a study accepted)
        block.locator("button.execute").click()
        status = block.locator(".live-responses-table .response .response-col_status").first
        status.wait_for(timeout=TIMEOUT_MS)
        success = min(code for code in op["responses"] if code.startswith("2"))
        assert status.inner_text().strip().startswith(success), (path, status.inner_text())
    shot = tmp_path / "swagger-ui.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
    page.close()
    assert_offline(traffic, base_url)


def test_redoc_renders_every_operation_offline(
    browser: tuple[Any, Traffic], base_url: str, tmp_path: Path
) -> None:
    context, traffic = browser
    page = context.new_page()
    page.goto(f"{base_url}/redoc", wait_until="networkidle", timeout=TIMEOUT_MS)
    page.wait_for_selector('[data-section-id*="operation/"]', timeout=TIMEOUT_MS)
    assert page.title() == "learndyn — ReDoc"
    for method, path, op in OPERATIONS:
        section_id = f"operation/{op['operationId']}"
        if op.get("tags"):
            section_id = f"tag/{op['tags'][0]}/{section_id}"
        menu = page.locator(f'li[data-item-id="{section_id}"] .operation-type.{method}')
        assert menu.count() == 1, f"{method.upper()} {path} is not in ReDoc's menu"
        text = page.locator(f'[data-section-id="{section_id}"]').inner_text()
        assert f"{method.upper()}\n{path}" in text, f"{method.upper()} {path} not rendered"
        named = op.get("requestBody", {}).get("content", {}).get("application/json", {})
        for example in list(named.get("examples", {}).values())[:1]:
            assert example["summary"] in text, (path, "first example not shown")
    shot = tmp_path / "redoc.png"
    page.screenshot(path=str(shot), full_page=False)
    assert shot.stat().st_size > 10_000
    print(f"screenshot: {shot}")
    page.close()
    assert_offline(traffic, base_url)
