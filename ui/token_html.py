"""Token spans as HTML. Every piece of text is escaped: pasted markup shows as text."""

from __future__ import annotations

import html

from llm_calc.tokens import TokenSpan

PALETTE = ("#e0e7ff", "#fde68a", "#bbf7d0", "#fecaca", "#bae6fd", "#f5d0fe", "#fed7aa", "#ddd6fe")
VISIBLE_WHITESPACE = {" ": "·", "\t": "→", "\n": "↵\n", "\r": "␍"}


def spans_html(spans: list[TokenSpan], show_whitespace: bool = False, show_ids: bool = False) -> str:
    """Coloured, escaped spans; token ids in the tooltip (and inline when ``show_ids``)."""
    parts = []
    for index, span in enumerate(spans):
        text = span.text
        if show_whitespace:
            text = "".join(VISIBLE_WHITESPACE.get(ch, ch) for ch in text)
        ids = ", ".join(str(i) for i in span.token_ids)
        inline = f'<sub style="color:#6b7280;font-size:0.7em">{html.escape(ids)}</sub>' if show_ids else ""
        parts.append(
            f'<span title="{html.escape(ids, quote=True)}" '
            f'style="background:{PALETTE[index % len(PALETTE)]};border-radius:3px;padding:1px 0">'
            f"{html.escape(text)}{inline}</span>"
        )
    return (
        '<div style="white-space:pre-wrap;word-break:break-word;font-family:ui-monospace,monospace;'
        f'line-height:1.9;font-size:0.95em">{"".join(parts)}</div>'
    )
