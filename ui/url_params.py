"""Saying which link parameters were ignored.

Streamlit seeds a widget bound to the URL (``bind="query-params"``) from the link, and when the
value is not one the widget accepts (``?batch=abc``, ``?model=Nope``, a number out of range) it
drops or corrects it without a word. A page calls :func:`read_link` before its widgets and
:func:`report_ignored` after them; the second compares what the link asked for with what the widgets
now hold and shows one warning naming each parameter that was not taken as given, and the value used.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui.text import escape_markdown

Link = dict[str, list[str]]


def read_link() -> Link:
    """The query parameters that this run seeds widgets from, as the link gave them: those of
    widgets not yet in the session (a first visit, or arriving from another page). Called before
    the widgets; later reruns change the URL from the widgets, not the other way round."""
    return {key: st.query_params.get_all(key) for key in st.query_params if key not in st.session_state}


def _url_form(key: str, value: Any) -> Any | None:
    """``value`` written as the bound widget ``key`` writes it in the URL, and the link's text
    parsed the same way, or None when Streamlit's widget records are not available."""
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        state = get_script_run_ctx().session_state._state
        binding = state.query_params.get_binding_for_param(key)
        metadata = state._new_widget_state.widget_metadata[binding.widget_id]
        return metadata.serializer(value), metadata.value_type
    except (AttributeError, KeyError, TypeError):
        return None


def _spells(raw: list[str], key: str, value: Any) -> bool:
    """Whether the link's ``raw`` text means the widget's current ``value`` (``?flash=True`` and
    ``?batch=01`` do; ``?batch=abc`` does not)."""
    from streamlit.runtime.state.query_params import parse_url_param

    written = _url_form(key, value)
    if written is None:
        return raw == [str(value)]
    serialized, value_type = written
    try:
        parsed = parse_url_param(raw[0] if len(raw) == 1 else raw, value_type)
    except (ValueError, TypeError, IndexError):
        return False
    if isinstance(serialized, list) and not isinstance(parsed, list):
        parsed = [parsed]
    return parsed == serialized


def _shown(key: str, value: Any) -> str:
    written = _url_form(key, value)
    shown = value if written is None else written[0]
    if isinstance(shown, list | tuple):
        return ", ".join(str(v) for v in shown) or "none"
    return f"{shown:,}" if isinstance(shown, int | float) and not isinstance(shown, bool) else str(shown)


def ignored_params(link: Link) -> dict[str, tuple[str, str]]:
    """Each bound parameter of ``link`` that the widgets did not take as given: key -> (what the link
    said, the value used instead)."""
    ignored = {}
    for key, raw in link.items():
        if key not in st.session_state or _url_form(key, st.session_state[key]) is None:
            continue  # not a widget bound on this page
        if st.query_params.get_all(key) == raw:
            continue  # kept as given
        value = st.session_state[key]
        if not _spells(raw, key, value):
            ignored[key] = (", ".join(raw), _shown(key, value))
    return ignored


def report_ignored(link: Link, where: Any = st) -> None:
    """One warning naming every link parameter that was ignored or corrected, and the value used;
    ``where`` is a container drawn earlier when the page's last bound widget comes further down."""
    ignored = ignored_params(link)
    if ignored:
        parts = "; ".join(
            f"{escape_markdown(key)} = “{escape_markdown(given)}” (using {escape_markdown(used)})"
            for key, (given, used) in ignored.items()
        )
        where.warning(f"The link had values this page cannot use, so they were ignored: {parts}.")
