"""Opening a page of the app under Streamlit's AppTest, shared by the page test modules."""

import json
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


def unseparated_numbers(at: AppTest) -> dict[str, list[str]]:
    """Per table, the numeric columns holding a value of 1,000 or more that the browser would show
    without thousands separators (no "localized" format in the column configuration)."""
    found = {}
    for index, frame in enumerate(at.dataframe):
        config = json.loads(frame.proto.columns or "{}")
        table = frame.value
        for column in table.columns:
            values = table[column]
            if values.dtype.kind not in "iuf" or not (values.abs() >= 1000).any():
                continue
            if config.get(column, {}).get("type_config", {}).get("format") != "localized":
                found.setdefault(f"table {index}", []).append(column)
    return found
