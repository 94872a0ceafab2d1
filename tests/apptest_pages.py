"""Opening a page of the app under Streamlit's AppTest, shared by the page test modules."""

from pathlib import Path

from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def open_app_page(path: str | None = None) -> AppTest:
    """Run the entry script, switch to ``path`` (e.g. "app_pages/training.py") and check that
    the page ran without an exception."""
    at = AppTest.from_file(APP, default_timeout=60).run()
    if path is not None:
        at.switch_page(path).run()
    assert not at.exception, path
    return at


def open_app_link(path: str, params: dict[str, str | list[str]]) -> AppTest:
    """Open ``path`` as a shared link with these query parameters would (no earlier page in the
    session), and check that it ran without an exception."""
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(params)
    at.switch_page(path).run()
    assert not at.exception, (path, params)
    return at
