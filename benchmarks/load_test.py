"""Load test: N concurrent browser sessions run the main flows against one server.

    python benchmarks/load_test.py [--sessions 8] [--rounds 3]

Starts `streamlit run app.py` on a free loopback port and drives Debian's chromium with
Playwright: each session opens the token estimator (pastes text) and the hardware calculator
(changes the batch), `rounds` times. Reports p50/p95 of the time from an action to the end of the
script run it triggers, and the server's resident memory after 1 session and after N sessions
(tokenizers and catalogs are shared per process, so extra sessions should add little).
Only loopback traffic; every loop is bounded.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from playwright.async_api import TimeoutError as PlaywrightTimeout
from playwright.async_api import async_playwright

ROOT = Path(__file__).resolve().parent.parent
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
IDLE = "[data-testid='stApp'][data-test-script-state='notRunning']"
RUNNING = "[data-testid='stApp'][data-test-script-state='running']"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mib(pid: int) -> float:
    """Resident memory of the server process and its children. [MiB]"""
    total = 0
    pids = [pid] + [
        int(p) for p in subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout.split()
    ]
    for each in pids:
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return total / 1024


async def timed(page, action) -> float:
    """Seconds from an action to the end of the script run it causes."""
    start = time.perf_counter()
    await action()
    with contextlib.suppress(PlaywrightTimeout):  # the run can finish before we look
        await page.locator(RUNNING).wait_for(state="attached", timeout=2000)
    await page.locator(IDLE).wait_for(state="attached", timeout=120_000)
    return time.perf_counter() - start


async def session(browser, url: str, rounds: int, index: int) -> list[float]:
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    times = []
    for round_ in range(rounds):
        times.append(await timed(page, lambda: page.goto(f"{url}/token_estimator")))
        area = page.get_by_label("Text", exact=True)
        await area.fill(f"Session {index} round {round_}: " + "the quick brown fox jumps over the lazy dog " * 40)
        times.append(await timed(page, lambda a=area: a.press("Control+Enter")))
        times.append(await timed(page, lambda: page.goto(f"{url}/hardware_calculator")))
        batch = page.get_by_label("Concurrent sequences (batch)")
        await batch.fill(str(2 + round_))
        times.append(await timed(page, lambda b=batch: b.press("Enter")))
    assert await page.locator("[data-testid='stException']").count() == 0
    await context.close()
    return times


async def run(sessions: int, rounds: int) -> int:
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "app.py",
            "--server.headless",
            "true",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                if urllib.request.urlopen(f"{url}/_stcore/health", timeout=1).read().strip() == b"ok":
                    break
            except OSError:
                await asyncio.sleep(0.2)
        idle = rss_mib(server.pid)
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
            one = await session(browser, url, 1, 0)
            after_one = rss_mib(server.pid)
            start = time.perf_counter()
            results = await asyncio.gather(*(session(browser, url, rounds, i) for i in range(sessions)))
            wall = time.perf_counter() - start
            after_many = rss_mib(server.pid)
            await browser.close()
    finally:
        server.terminate()
        server.wait(timeout=10)
    times = sorted(t for r in results for t in r)
    p50 = statistics.median(times)
    p95 = times[min(len(times) - 1, int(0.95 * len(times)))]
    print(f"single session: {len(one)} actions, median {statistics.median(one) * 1000:.0f} ms")
    print(f"{sessions} concurrent sessions x {rounds} rounds: {len(times)} actions in {wall:.1f} s, all without error")
    print(f"time to a finished script run: p50 {p50 * 1000:.0f} ms, p95 {p95 * 1000:.0f} ms")
    print(
        f"server memory: {idle:.0f} MiB idle, {after_one:.0f} MiB after 1 session, "
        f"{after_many:.0f} MiB after {sessions + 1} sessions "
        f"(+{(after_many - after_one) / sessions:.1f} MiB per extra session)"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    return asyncio.run(run(args.sessions, args.rounds))


if __name__ == "__main__":
    sys.exit(main())
