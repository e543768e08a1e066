"""A check's answer: right, wrong or not done yet, and why. Shared by every notebook's checks."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from .. import hub


@dataclass(frozen=True)
class Verdict:
    """A check's answer: ``status`` is right, wrong or todo; ``why`` says why."""

    status: str
    why: str

    __post_init__ = hub.report_exercise  # on a class hub, each check reaches the instructor page

    @property
    def ok(self) -> bool:
        return self.status == "right"

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        label = {"right": "✔ Right", "wrong": "✘ Not right yet", "todo": "… Not done yet"}
        return f"{label[self.status]}: {self.why}"

    __repr__ = __str__


def right(why: str) -> Verdict:
    return Verdict("right", why)


def wrong(why: str) -> Verdict:
    return Verdict("wrong", why)


TODO = Verdict("todo", "replace the ... with your answer, then run the cell again.")


def not_done(value: object) -> bool:
    return value is Ellipsis


def source_of(function: Callable) -> str:
    try:
        return inspect.getsource(function)
    except (OSError, TypeError):
        return ""
