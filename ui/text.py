"""Putting untrusted text (uploaded names, typed card names, error messages) into markdown safely."""

import re

_MARKDOWN_SPECIALS = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=])")


def escape_markdown(text: str) -> str:
    """Backslash-escape every character Streamlit's markdown would interpret.

    Covers links and images (``[]()!``), emphasis, HTML (``<>``), LaTeX (``$``) and Streamlit's
    ``:color[...]`` and ``:material/...:`` directives (``:``), so the text shows as typed.
    """
    return _MARKDOWN_SPECIALS.sub(r"\\\1", text)
