"""The container recipe keeps the properties the deployment relies on."""

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()


def test_image_is_slim_non_root_and_health_checked():
    assert DOCKERFILE.startswith("#") and "FROM python:3.11-slim" in DOCKERFILE
    assert "\nUSER app\n" in DOCKERFILE
    assert "HEALTHCHECK" in DOCKERFILE and "/_stcore/health" in DOCKERFILE
    assert "deploy/config.toml ./.streamlit/config.toml" in DOCKERFILE


def test_image_copies_everything_the_app_reads():
    for needed in ("app.py", "app_pages", "llm_calc", "ui", "data", "requirements.txt"):
        assert f"COPY {needed}" in DOCKERFILE or f"COPY --chown=app:app {needed}" in DOCKERFILE, needed


def test_production_config_hides_tracebacks_and_limits_uploads():
    config = (ROOT / "deploy" / "config.toml").read_text()
    assert 'showErrorDetails = "none"' in config and "maxUploadSize = 50" in config
    assert "gatherUsageStats = false" in config


def test_balancer_template_upgrades_the_websocket_and_is_sticky():
    template = (ROOT / "deploy" / "nginx.conf.template").read_text()
    assert "location /_stcore/stream" in template and "proxy_set_header Upgrade $http_upgrade" in template
    assert "ip_hash;" in template and "client_max_body_size 60m" in template
