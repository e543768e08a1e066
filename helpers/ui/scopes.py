"""Which scopes to ask for: a checkbox per scope, with what it allows."""

from __future__ import annotations

from collections.abc import Sequence

from .widgets import show_widget, widgets_enabled

#: Scopes a learner may pick, with what they allow (GoTo's messaging API).
KNOWN_SCOPES: dict[str, str] = {
    "messaging.v1.send": "send text messages (the tutorial's scope)",
    "messaging.v1.read": "read text-message conversations",
    "messaging.v1.notifications.manage": "get notified of new text messages",
}


class ScopePicker:
    """Checkboxes, one per scope; ``.scopes`` is what is ticked."""

    def __init__(
        self,
        selected: Sequence[str] = ("messaging.v1.send",),
        *,
        available: dict[str, str] | None = None,
        widgets: bool | None = None,
    ) -> None:
        self.available = dict(available or KNOWN_SCOPES)
        for scope in selected:
            self.available.setdefault(scope, "")
        self._selected = [s for s in self.available if s in selected]
        self._widgets = widgets_enabled() if widgets is None else widgets
        self.checkboxes: dict[str, object] = {}
        self.widget = None
        if self._widgets:
            import ipywidgets as w

            for scope, what in self.available.items():
                box = w.Checkbox(
                    value=scope in self._selected,
                    description=f"{scope}" + (f" — {what}" if what else ""),
                    indent=False,
                    layout=w.Layout(width="auto"),
                )
                self.checkboxes[scope] = box
            self.widget = w.VBox(list(self.checkboxes.values()))

    @property
    def scopes(self) -> tuple[str, ...]:
        if self._widgets:
            return tuple(s for s, box in self.checkboxes.items() if box.value)
        return tuple(self._selected)

    def select(self, *scopes: str) -> None:
        """Tick exactly these scopes."""
        self._selected = [s for s in self.available if s in scopes]
        for scope, box in self.checkboxes.items():
            box.value = scope in scopes

    def show(self) -> ScopePicker:
        if self._widgets:
            show_widget(self.widget)
        else:
            for scope, what in self.available.items():
                mark = "x" if scope in self.scopes else " "
                print(f"[{mark}] {scope}" + (f" — {what}" if what else ""))
        return self

    def _ipython_display_(self) -> None:
        # The view as a cell's last expression shows itself, like a widget would.
        self.show()

    def __repr__(self) -> str:
        return f"ScopePicker(scopes={' '.join(self.scopes)!r})"
