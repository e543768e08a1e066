"""The HTTP exchanges of a ``Trace`` (already redacted), one collapsible block each."""

from __future__ import annotations

from html import escape

from ..trace import Trace
from .widgets import show_widget, widgets_enabled


class TraceView:
    """The HTTP exchanges of a ``Trace`` (already redacted), one collapsible block each."""

    def __init__(self, trace: Trace, *, widgets: bool | None = None) -> None:
        self.trace = trace
        self._widgets = widgets_enabled() if widgets is None else widgets
        self.widget = None
        if self._widgets:
            import ipywidgets as w

            self.widget = w.Accordion()
            self.refresh()

    def titles(self) -> list[str]:
        return [f"{e.method} {e.url} → {e.status}" for e in self.trace.exchanges]

    def refresh(self) -> None:
        """Redraw from the trace (after more calls were recorded)."""
        if not self._widgets:
            return
        import ipywidgets as w

        children = [
            w.HTML(f"<pre style='white-space:pre-wrap'>{escape(str(e))}</pre>")
            for e in self.trace.exchanges
        ]
        self.widget.children = children
        self.widget.titles = tuple(self.titles())
        if children:
            self.widget.selected_index = len(children) - 1

    def show(self) -> TraceView:
        if self._widgets:
            self.refresh()
            show_widget(self.widget)
        else:
            print(str(self.trace))
        return self

    def _ipython_display_(self) -> None:
        # The view as a cell's last expression shows itself, like a widget would.
        self.show()

    def __repr__(self) -> str:
        return f"TraceView({len(self.trace.exchanges)} exchange(s))"
