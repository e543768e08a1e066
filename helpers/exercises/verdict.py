"""A check's answer: right, wrong or not done yet, and why. Shared by every notebook's checks."""

from __future__ import annotations

import functools
import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass

from .. import hub


@dataclass(frozen=True)
class Verdict:
    """A check's answer: ``status`` is right, wrong or todo; ``why`` says why."""

    status: str
    why: str

    @property
    def ok(self) -> bool:
        return self.status == "right"

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        label = {"right": "✔ Right", "wrong": "✘ Not right yet", "todo": "… Not done yet"}
        return f"{label[self.status]}: {self.why}"

    __repr__ = __str__


_NUMBER = re.compile(r"\s*Exercise ([0-9]+\.[0-9]+):")


def exercise(check: Callable[..., Verdict]) -> Callable[..., Verdict]:
    """Mark ``check`` as the check of the exercise its docstring names ("Exercise 2.1: ..."):
    on a class hub, each right or wrong answer it gives reaches the instructor page."""
    number = _NUMBER.match(check.__doc__ or "")
    if number is None:
        raise ValueError(f"{check.__name__}'s docstring must start with 'Exercise N.M:'")

    @functools.wraps(check)
    def checked(*args, **kwargs) -> Verdict:
        verdict = check(*args, **kwargs)
        hub.report_exercise(number.group(1), verdict)
        return verdict

    return checked


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
