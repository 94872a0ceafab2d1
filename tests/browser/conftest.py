"""A real `streamlit run` server and a headless Chromium for the browser tests."""

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The one timeout of every browser wait and assertion, in milliseconds. The slowest legitimate
# wait is counting the 50 MB upload with all seven shipped tokenizers: 33 s measured on a 2-core
# machine shared with other work, 69-111 s with two CPU-bound processes beside the suite as well
# (scripts/stress_tests.sh). 240 s is twice the worst seen; a passing test never waits for it,
# only a failing one does.
UI_TIMEOUT_MS = 240_000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
            return response.read().decode().strip() == "ok"
    except OSError:
        return False


def start_app(port: int, env: dict[str, str] | None = None) -> subprocess.Popen:
    """``streamlit run app.py`` on a loopback port; returns once /_stcore/health answers ok.

    The server's output goes to a file in ``test-artifacts/``, never to a pipe nobody reads: a full
    pipe (64 KiB) blocks the server's next log write, and every thread that logs after it, the
    request loop included — every later page load then hangs with no response. The file watcher is
    off, as in production (``deploy/config.toml``): the suite's own writes under the repository
    overflowed its inotify queue, and it logged a line for every overflow."""
    ARTIFACTS.mkdir(exist_ok=True)
    log = (ARTIFACTS / f"streamlit-{port}.log").open("wb")
    server = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
         "--server.port", str(port), "--server.address", "127.0.0.1", "--browser.gatherUsageStats", "false",
         "--server.fileWatcherType", "none"],
        cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})},
    )  # fmt: skip
    server.log_path = Path(log.name)
    log.close()  # the child holds its own copy of the descriptor
    wait_healthy(f"http://127.0.0.1:{port}", server)
    return server


def wait_healthy(url: str, process: subprocess.Popen, seconds: float = UI_TIMEOUT_MS / 1000) -> None:
    deadline = time.monotonic() + seconds
    while not _healthy(url):
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail(f"{url} did not become healthy:\n{_output_tail(process)}")
        time.sleep(0.2)


def _output_tail(process: subprocess.Popen) -> str:
    """The end of what a server printed: its log file (the app), or its pipe (nginx, which logs to files)."""
    path = getattr(process, "log_path", None)
    if path is not None:
        return path.read_text(errors="replace")[-2000:]
    return process.stdout.read().decode(errors="replace")[-2000:] if process.stdout else ""


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def app_url():
    """Start the app on a free port, wait until /_stcore/health says ok, stop it afterwards."""
    port = free_port()
    server = start_app(port)
    yield f"http://127.0.0.1:{port}"
    stop(server)


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        message = f"{CHROMIUM} is missing: apt-get install -y chromium"
        if os.environ.get("CI"):
            pytest.fail(message)  # never skip silently in CI
        pytest.skip(message)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=UI_TIMEOUT_MS)  # no assertion keeps Playwright's 5 s default
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=UI_TIMEOUT_MS)
        yield instance
        instance.close()


SOCKETS: dict = {}  # page -> the websockets it opened to the app, newest last


@pytest.fixture()
def page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(UI_TIMEOUT_MS)  # clicks, fills, waits
    context.set_default_navigation_timeout(UI_TIMEOUT_MS)  # goto
    page = context.new_page()
    sockets = SOCKETS[page] = []
    page.on("websocket", lambda socket: sockets.append(socket))
    yield page
    del SOCKETS[page]
    context.close()


# True once the app is connected, its first run has drawn (no skeleton) and no script run is in
# progress; checked in one predicate so that the three cannot be met at different moments.
IDLE = """() => {
    const app = document.querySelector("[data-testid='stApp']");
    return app !== null
        && app.getAttribute("data-test-connection-state") === "CONNECTED"
        && app.getAttribute("data-test-script-state") === "notRunning"
        && document.querySelector("[data-testid='stSkeleton']") === null;
}"""
POLL_MS = 100  # how often IDLE is checked: often enough not to slow a test, rarely enough not to load the CPU


def wait_until_idle(page) -> None:
    """Wait until the app is connected and no script run is in progress (no fixed sleeps)."""
    page.wait_for_function(IDLE, polling=POLL_MS, timeout=UI_TIMEOUT_MS)


def run_finished(payload: str | bytes) -> bool:
    """Whether a websocket frame from the app is the server's message that a script run ended
    (``ForwardMsg.script_finished``), not one cut short by a newer rerun."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    if isinstance(payload, str):
        return False
    message = ForwardMsg.FromString(payload)
    return (
        message.WhichOneof("type") == "script_finished"
        and message.script_finished != ForwardMsg.ScriptFinishedStatus.FINISHED_EARLY_FOR_RERUN
    )


@contextmanager
def rerun(page):
    """Wrap an action that makes the app rerun (typing, uploading, clicking a page link): waits for
    the server to say that the run it started has finished, then for the page to show it, so that
    what follows checks the result, not the page before it. ``with rerun(page): field.press("Enter")``.
    The page's own state attribute cannot tell: a fast run goes from running to notRunning before
    the browser draws the change."""
    with SOCKETS[page][-1].expect_event("framereceived", predicate=run_finished, timeout=UI_TIMEOUT_MS):
        yield
    wait_until_idle(page)


def open_page(page, url: str) -> None:
    """Navigate and wait on the app's own state (connected, first run drawn), not on the browser's
    "load" event."""
    page.goto(url, wait_until="commit")
    wait_until_idle(page)


def metric(page, label: str):
    """The value element of the st.metric whose label starts with ``label``."""
    title = page.locator("[data-testid='stMetricLabel']", has_text=re.compile(rf"^\s*{re.escape(label)}"))
    return page.locator("[data-testid='stMetric']").filter(has=title).locator("[data-testid='stMetricValue']")
