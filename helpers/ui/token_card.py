"""The token, masked, with its principal, scopes and a live expiry."""

from __future__ import annotations

from html import escape

from ..display import html_table
from ..tokens import Token
from .widgets import show_widget, ticker, widgets_enabled


class TokenCard:
    """A token at a glance: masked values, principal, scopes and a live expiry countdown."""

    def __init__(self, token: Token, *, widgets: bool | None = None) -> None:
        self.token = token
        self._widgets = widgets_enabled() if widgets is None else widgets
        self.widget = None
        if self._widgets:
            import ipywidgets as w

            self._expiry = w.HTML(self._expiry_html())
            self.widget = w.VBox([w.HTML(self._table_html()), self._expiry])

    def rows(self) -> list[tuple[str, str]]:
        return self.token.rows()

    def expiry_text(self) -> str:
        left = self.token.expires_in
        if left is None:
            return "The server gave no lifetime."
        if left <= 0:
            return f"Expired {-left} s ago: refresh it or sign in again."
        minutes, seconds = divmod(left, 60)
        return f"Expires in {minutes} min {seconds:02d} s."

    def _table_html(self) -> str:
        return html_table(self.rows())

    def _expiry_html(self) -> str:
        colour = "#b00" if self.token.is_expired() else "#070"
        return f'<span style="color:{colour}">⏱ {escape(self.expiry_text())}</span>'

    def tick(self) -> None:
        if self._widgets:
            self._expiry.value = self._expiry_html()
        if self.token.is_expired():
            ticker.discard(self)

    def show(self) -> TokenCard:
        if self._widgets:
            show_widget(self.widget)
            ticker.add(self)
        else:
            print(str(self))
        return self

    def _ipython_display_(self) -> None:
        # The view as a cell's last expression shows itself, like a widget would.
        self.show()

    def __str__(self) -> str:
        width = max(len(k) for k, _ in self.rows())
        lines = [f"{k:<{width}}  {v}" for k, v in self.rows()]
        return "\n".join([*lines, f"{'Lifetime':<{width}}  {self.expiry_text()}"])

    def __repr__(self) -> str:
        return f"TokenCard({self.token!r})"
