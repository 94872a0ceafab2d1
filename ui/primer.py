"""Previous / next links that let a reader go through the primer in order."""

from __future__ import annotations

import streamlit as st

PRIMER_ORDER = [
    ("app_pages/home.py", "Overview"),
    ("app_pages/primer_foundations.py", "Model foundations"),
    ("app_pages/primer_inference.py", "Model inference"),
    ("app_pages/primer_hardware.py", "Hardware requirements"),
    ("app_pages/primer_sources.py", "Sources"),
]


def primer_footer(current: str) -> None:
    """Links to the previous and next primer page."""
    paths = [path for path, _ in PRIMER_ORDER]
    index = paths.index(current)
    st.divider()
    previous_column, next_column = st.columns(2)
    if index > 0:
        path, title = PRIMER_ORDER[index - 1]
        previous_column.page_link(path, label=f"← {title}")
    if index < len(PRIMER_ORDER) - 1:
        path, title = PRIMER_ORDER[index + 1]
        next_column.page_link(path, label=f"{title} →")
