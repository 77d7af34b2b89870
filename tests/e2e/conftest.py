"""Browser tests: the web app served by a real uvicorn server, driven in Debian's Chromium.

Chromium is found with ``shutil.which("chromium")`` (``apt-get install -y chromium``;
``playwright install`` cannot download browsers here). Without it the tests skip with the
reason on a laptop, and fail in CI (``CI`` set), where ``.ci/run`` installs it.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import uvicorn

from labelloop.governance.service import add_user
from labelloop.project import Project
from labelloop.ui.app import create_web_app

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PASSWORD = "correct-horse-battery"


def chromium_path() -> str:
    """Debian's Chromium, or skip (fail in CI) with the reason."""
    path = shutil.which("chromium")
    if path is None:
        reason = "Debian's chromium is not installed (apt-get install -y chromium): browser tests skipped"
        if os.environ.get("CI"):
            pytest.fail(reason + " — CI must install it")
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Chromium for the whole session (each test opens its own context: no shared cookies)."""
    executable = chromium_path()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        yield chromium
        chromium.close()


#: How long a browser step may wait. Generous: on a loaded CI machine a page can take seconds; a step
#: that never happens still fails, only later.
E2E_TIMEOUT_MS = 30_000


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A fresh browser context (cookies, storage) that records console errors and CSP violations."""
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    ctx.set_default_timeout(E2E_TIMEOUT_MS)
    yield ctx
    ctx.close()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    """``create_web_app(project)`` under uvicorn in a thread; can be stopped and started again on its port."""

    def __init__(self, project: Project, port: int | None = None) -> None:
        self.project = project
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> LiveServer:
        config = uvicorn.Config(
            create_web_app(self.project), host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the test server did not start on port {self.port}")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=15)
            self._server = None
            self._thread = None


@pytest.fixture
def live_server() -> Iterator[Callable[[Project], LiveServer]]:
    """``live_server(project)`` starts a server for the project; every server is stopped after the test."""
    servers: list[LiveServer] = []

    def start(project: Project) -> LiveServer:
        server = LiveServer(project).start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


def add_member(project: Project, name: str, role: str) -> None:
    """A project member who logs in with :data:`PASSWORD`."""
    add_user(project, name, role, password=PASSWORD)


def log_in(page: Any, base_url: str, name: str, password: str = PASSWORD) -> None:
    """Log in through the login form, as a person would."""
    page.goto(f"{base_url}/login")
    page.get_by_label("User name").fill(name)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(r".*/projects/.*"))
