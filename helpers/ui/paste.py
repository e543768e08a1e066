"""The paste fallback: the address the browser ended on, checked like a callback."""

from __future__ import annotations

from collections.abc import Callable
from html import escape

from ..authorization import AuthorizationRequest
from ..callback import CallbackResult, parse_callback_url
from ..errors import OAuthTutorialError
from .widgets import show_widget, widgets_enabled


class PasteBox:
    """A text box for the address the browser ended on, checked by ``parse_callback_url``.

    For remote Jupyter, where the browser cannot reach the kernel's 127.0.0.1. ``result`` holds
    the accepted callback; ``on_result(result)`` is called when one is accepted.
    """

    def __init__(
        self,
        request: AuthorizationRequest,
        *,
        on_result: Callable[[CallbackResult], None] | None = None,
        widgets: bool | None = None,
    ) -> None:
        self.request = request
        self.on_result = on_result
        self.result: CallbackResult | None = None
        self.message = "Paste the whole address from the browser's address bar."
        self._widgets = widgets_enabled() if widgets is None else widgets
        self.widget = None
        if self._widgets:
            import ipywidgets as w

            self.text = w.Text(
                placeholder=request.redirect_uri + "?code=…&state=…",
                layout=w.Layout(width="100%"),
            )
            self.button = w.Button(description="Check", icon="check")
            self.button.on_click(lambda _: self.submit(self.text.value))
            self._status = w.HTML(escape(self.message))
            self.widget = w.VBox([w.HBox([self.text, self.button]), self._status])

    def submit(self, address: str) -> CallbackResult | None:
        """Check an address; returns the callback, or None (the reason is in ``message``)."""
        try:
            result = parse_callback_url(address, self.request.redirect_uri, self.request.state)
        except OAuthTutorialError as e:
            self._say(f"❌ {type(e).__name__}: {e}")
            return None
        self.result = result
        self._say(f"✅ Accepted: {result!r}")
        if self.widget is not None:
            self.text.value = ""  # the code is a credential: do not leave it on screen
        if self.on_result is not None:
            self.on_result(result)
        return result

    def _say(self, message: str) -> None:
        self.message = message
        if self._widgets:
            self._status.value = escape(message)
        else:
            print(message, flush=True)

    def show(self) -> PasteBox:
        if self._widgets:
            show_widget(self.widget)
        else:
            print(self.message + " Then call .submit(address).")
        return self

    def _ipython_display_(self) -> None:
        # The view as a cell's last expression shows itself, like a widget would.
        self.show()
