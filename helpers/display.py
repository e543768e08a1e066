r"""Text from elsewhere, made safe to show: in a terminal, and in a notebook's HTML.

    >>> from helpers.display import printable, html_table
    >>> printable("GET /\x1b[2K")
    'GET /\\x1b[2K'
    >>> html_table([("State", "<b>x</b>")])
    "<table><tr><th style='text-align:left;padding-right:1em'>State</th><td><code>&lt;b&gt;x&lt;/b&gt;</code></td></tr></table>"

Secrets are another matter: ``helpers.redact`` masks them.
"""

from __future__ import annotations

from html import escape


def printable(text: str, limit: int | None = None) -> str:
    r"""``text`` cut to ``limit`` characters (then ``…``), control and other invisible characters
    shown as escapes (``\x1b``, ``\n``, ``\u202e``): no stranger's text moves a terminal's cursor
    or paints a line of its own."""
    if limit is not None and len(text) > limit:
        text = text[:limit] + "…"
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def html_table(rows: list[tuple[str, str]]) -> str:
    """Name/value rows as a small HTML table, every value escaped (for ``_repr_html_``)."""
    body = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{escape(k)}</th>"
        f"<td><code>{escape(v)}</code></td></tr>"
        for k, v in rows
    )
    return f"<table>{body}</table>"
