"""The scale-out recipe works: two replicas behind Debian's nginx (deploy/nginx.conf.template),
sticky sessions and the websocket upgrade, driven by a real browser."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from playwright.sync_api import expect

from .conftest import ROOT, UI_TIMEOUT_MS, free_port, metric, open_page, rerun, start_app, stop, wait_healthy

pytestmark = [pytest.mark.browser, pytest.mark.xdist_group("scale_out")]  # one worker starts the replicas
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.fixture(scope="module")
def balanced_url(tmp_path_factory):
    if not Path(NGINX).exists():
        if os.environ.get("CI"):
            pytest.fail("nginx is missing: apt-get install -y nginx")
        pytest.skip("nginx is missing: apt-get install -y nginx")
    secret = {"STREAMLIT_SERVER_COOKIE_SECRET": "the-same-secret-on-every-replica"}
    port_a, port_b, listen = free_port(), free_port(), free_port()
    replicas = [start_app(port_a, secret), start_app(port_b, secret)]
    prefix = tmp_path_factory.mktemp("nginx")
    config = (ROOT / "deploy" / "nginx.conf.template").read_text()
    for placeholder, value in (
        ("@PREFIX@", prefix),
        ("@PORT_A@", port_a),
        ("@PORT_B@", port_b),
        ("@LISTEN_PORT@", listen),
    ):
        config = config.replace(placeholder, str(value))
    (prefix / "nginx.conf").write_text(config)
    proxy = subprocess.Popen(
        [NGINX, "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-g", "daemon off;"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{listen}"
    wait_healthy(url, proxy)
    yield url
    for process in (proxy, *replicas):
        stop(process)


def test_a_session_through_the_load_balancer_reruns_over_the_websocket(page, balanced_url):
    """Through nginx a user changes an input and sees the result: the websocket upgrade and the
    sticky upstream work."""
    open_page(page, f"{balanced_url}/hardware_calculator")
    expect(metric(page, "KV cache")).to_have_text("1.0 GiB")
    batch = page.get_by_label("Concurrent sequences (batch)")
    batch.fill("4")
    with rerun(page):
        batch.press("Enter")
    expect(metric(page, "KV cache")).to_have_text("4.0 GiB")


def test_uploads_pass_through_the_load_balancer(page, balanced_url):
    """File uploads (a separate HTTP request) reach the replica that holds the session."""
    open_page(page, f"{balanced_url}/hardware_calculator?source=config.json")
    with rerun(page):
        page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(CONFIGS / "Llama-2-7b-hf.json"))
    expect(page.get_by_text("6.74 B parameters")).to_be_visible()


def test_every_replica_answers_its_health_check(balanced_url):
    """The HEALTHCHECK endpoint the Dockerfile uses answers through the balancer."""
    import urllib.request

    with urllib.request.urlopen(f"{balanced_url}/_stcore/health", timeout=UI_TIMEOUT_MS / 1000) as response:
        assert response.read().strip() == b"ok"
