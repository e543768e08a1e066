"""Values shown in a notebook's HTML, every one escaped.

    >>> from helpers.display import html_table
    >>> html_table([("State", "<b>x</b>")])
    "<table><tr><th style='text-align:left;padding-right:1em'>State</th><td><code>&lt;b&gt;x&lt;/b&gt;</code></td></tr></table>"

Secrets are another matter: ``helpers.redact`` masks them (and makes text safe for a terminal).
"""

from __future__ import annotations

from html import escape


def html_table(rows: list[tuple[str, str]]) -> str:
    """Name/value rows as a small HTML table, every value escaped (for ``_repr_html_``)."""
    body = "".join(
        f"<tr><th style='text-align:left;padding-right:1em'>{escape(k)}</th>"
        f"<td><code>{escape(v)}</code></td></tr>"
        for k, v in rows
    )
    return f"<table>{body}</table>"
