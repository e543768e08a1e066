"""The instructor page's data: every learner, how far each got, and who is stuck longest.

    >>> progress = Progress(own_file=None, sandbox_file=Path("progress.jsonl"))
    >>> progress.record("alice", stage="URL built")
    >>> rows = roster(progress.learners(), names=["alice", "bob"])
    >>> render_html(rows)             # the page; as_json(rows) is its twin for scripts

Progress arrives as events, one JSON object per line, each with ``time`` and ``user``:

- ``{"stage": "signed in"}``: the sandbox's progress file (helpers/sandbox/hub.py), from
  "signed in" to "revoke";
- ``{"stage": "URL built"}``: the class callback service, when a learner's kernel registers a
  sign-in (classroom/router.py);
- ``{"error": "InvalidGrant", "message": "..."}``: a learner's kernel, when a tutorial error
  is shown (helpers/hub.py; the message comes shortened and redacted);
- ``{"exercise": "2.1", "status": "right"}``: a learner's kernel, when an exercise is checked.

A learner's *last progress* is when they first reached their furthest stage or first got an
exercise right; those who have not reached the last stage are sorted by it, longest first.
"""

from __future__ import annotations

import html
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

#: The stages of one sign-in, in order; the page shows each learner's furthest.
STAGES = ("URL built", "signed in", "allowed", "denied", "token", "API call", "refresh", "revoke")
RANK = {stage: i for i, stage in enumerate(STAGES)}
RANK["denied"] = RANK["allowed"]  # one step: the consent page's answer
#: The stage that ends the flow (notebook 5's revocation): who reached it is finished.
FINISHED = "revoke"
REFRESH_SECONDS = 5


@dataclass
class Learner:
    """One learner's progress, folded from their events."""

    name: str
    stage: str = ""  # the furthest stage reached; "" before any
    progress_at: float = 0.0  # last progress: a new furthest stage, or an exercise first right
    # (before any, their first event)
    error: str = ""  # the last tutorial error shown: its class name...
    error_message: str = ""  # ...its message, shortened and redacted by the kernel
    error_at: float = 0.0
    exercises: dict[str, str] = field(default_factory=dict)  # "2.1" -> right (once), or wrong

    @property
    def started(self) -> bool:
        return bool(self.stage or self.exercises or self.error)

    @property
    def finished(self) -> bool:
        return self.stage == FINISHED

    def apply(self, event: dict) -> None:
        """Fold one event in (events of other shapes are ignored)."""
        when = float(event["time"])
        self.progress_at = self.progress_at or when  # no progress yet: since their first event
        if "stage" in event:
            stage = str(event["stage"])
            if stage in RANK and (not self.stage or RANK[stage] > RANK[self.stage]):
                self.stage, self.progress_at = stage, max(self.progress_at, when)
        elif "exercise" in event:
            name, status = str(event["exercise"]), str(event["status"])
            if self.exercises.get(name) != "right":  # once right, solved (reports may cross)
                self.exercises[name] = status
                if status == "right":
                    self.progress_at = max(self.progress_at, when)
        elif "error" in event and when >= self.error_at:
            self.error, self.error_message = str(event["error"]), str(event.get("message", ""))
            self.error_at = when


class Progress:
    """Every learner's progress: the service's own events, and the sandbox's file as it grows.

    ``own_file`` keeps what the service records (kernels' registrations and reports) across its
    restarts; without it, they are kept in memory only. ``sandbox_file`` is read incrementally:
    each call to ``learners()`` folds only the lines appended since the last.
    """

    def __init__(self, own_file: Path | None, sandbox_file: Path | None) -> None:
        self.own_file, self.sandbox_file = own_file, sandbox_file
        self._learners: dict[str, Learner] = {}
        self._offset = 0  # how far the sandbox file has been read
        if own_file is not None and own_file.is_file():
            self._fold(own_file.read_bytes())

    def record(self, user: str, **event) -> None:
        """Keep one event of ``user`` (``stage=``, ``error=`` and ``message=``, or
        ``exercise=`` and ``status=``), stamped now."""
        event = {"time": time.time(), "user": user, **event}
        self._fold_one(event)
        if self.own_file is not None:
            with open(self.own_file, "a", encoding="utf-8") as out:
                out.write(json.dumps(event) + "\n")

    def learners(self) -> dict[str, Learner]:
        """Each learner who has an event, by name, with the sandbox's newest lines folded in."""
        if self.sandbox_file is not None:
            try:
                with open(self.sandbox_file, "rb") as events:
                    if events.seek(0, 2) < self._offset:  # emptied between two sessions
                        self._offset = 0
                    events.seek(self._offset)
                    data = events.read()
            except OSError:
                data = b""  # no sign-in yet: the sandbox makes the file at the first
            whole = data[: data.rfind(b"\n") + 1]  # a line still being written waits
            self._offset += len(whole)
            self._fold(whole)
        return self._learners

    def _fold(self, data: bytes) -> None:
        for line in data.splitlines():
            try:
                self._fold_one(json.loads(line))
            except (ValueError, KeyError, TypeError):
                continue  # a damaged line costs that line only

    def _fold_one(self, event: dict) -> None:
        name = str(event["user"])
        learner = self._learners.get(name)
        if learner is None:
            learner = self._learners[name] = Learner(name)
        learner.apply(event)


def roster(learners: dict[str, Learner], names=None) -> list[Learner]:
    """The class, most in need of help first: who has started and not finished, longest since
    their last progress first; then who has not started; then who has finished.

    ``names``: the class's learners (the hub's users); ``None`` when the hub could not say,
    and only those with events are listed."""
    names = sorted(learners) if names is None else names
    rows = [learners.get(name) or Learner(name) for name in names]

    def order(learner: Learner):
        if learner.finished:
            return (2, 0.0, learner.name)
        if not learner.started:
            return (1, 0.0, learner.name)
        return (0, learner.progress_at, learner.name)

    return sorted(rows, key=order)


def _ago(seconds: float) -> str:
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def status(learner: Learner, now: float) -> str:
    if learner.finished:
        return "finished"
    if not learner.started:
        return "not started"
    return f"{_ago(now - learner.progress_at)} since last progress"


def as_json(rows: list[Learner], note: str = "", now: float | None = None) -> dict:
    """The page as data, for scripts (``GET /services/oauth-callback/instructor.json``)."""
    now = time.time() if now is None else now
    return {
        "time": now,
        "stages": list(STAGES),
        "finished_stage": FINISHED,
        "note": note,
        "learners": [
            {
                "name": r.name,
                "status": "finished"
                if r.finished
                else ("in progress" if r.started else "not started"),
                "stage": r.stage or None,
                "last_progress": r.progress_at or None,
                "seconds_since_progress": round(now - r.progress_at) if r.progress_at else None,
                "last_error": {"error": r.error, "message": r.error_message, "time": r.error_at}
                if r.error
                else None,
                "exercises": dict(sorted(r.exercises.items())),
            }
            for r in rows
        ],
    }


MARKS = {"right": "✔", "wrong": "✘"}
STYLE = (
    "body{font-family:sans-serif;margin:1.5em}table{border-collapse:collapse}"
    "th,td{border:1px solid #ccc;padding:4px 8px;text-align:left;vertical-align:top}"
    "tr.stuck td.status{color:#b00;font-weight:bold}tr.finished{color:#080}"
    "tr.waiting{color:#666}td.error small{color:#666}"
)


def _row(r: Learner, now: float) -> str:
    kind = "finished" if r.finished else ("stuck" if r.started else "waiting")
    error = ""
    if r.error:
        error = (
            f"<b>{html.escape(r.error)}</b>: {html.escape(r.error_message)} "
            f"<small>({_ago(now - r.error_at)} ago)</small>"
        )
    exercises = " ".join(
        f"{html.escape(name)} {MARKS.get(result, '?')}"
        for name, result in sorted(r.exercises.items())
    )
    return (
        f"<tr class='{kind}'><td class='learner'>{html.escape(r.name)}</td>"
        f"<td class='stage'>{html.escape(r.stage or '—')}</td>"
        f"<td class='status'>{html.escape(status(r, now))}</td>"
        f"<td class='error'>{error}</td><td class='exercises'>{exercises}</td></tr>"
    )


def render_html(rows: list[Learner], note: str = "", now: float | None = None) -> str:
    """The instructor page: a summary line, then one row per learner, most stuck first."""
    now = time.time() if now is None else now
    started = [r for r in rows if r.started and not r.finished]
    counts = (
        f"{len(rows)} learners: {sum(not r.started for r in rows)} not started, "
        f"{len(started)} in progress, {sum(r.finished for r in rows)} finished "
        f"(reached “{FINISHED}”)."
    )
    stuck = ""
    if started:
        first = started[0]
        stuck = (
            f" Stuck longest: <b>{html.escape(first.name)}</b>, "
            f"{html.escape(status(first, now))}, at “{html.escape(first.stage or '—')}”."
        )
    body = "".join(_row(r, now) for r in rows)
    return (
        "<!doctype html><html lang='en'><meta charset='utf-8'>"
        f"<meta http-equiv='refresh' content='{REFRESH_SECONDS}'>"
        f"<title>Class progress</title><style>{STYLE}</style><h1>Class progress</h1>"
        f"<p class='summary'>{html.escape(counts)}{stuck}</p>"
        + (f"<p class='note'><b>{html.escape(note)}</b></p>" if note else "")
        + f"<p>Stages, in order: {html.escape(', '.join(STAGES))}. Exercises: ✔ right, "
        f"✘ not right yet. Refreshes every {REFRESH_SECONDS} s; the same as JSON: "
        "<a href='instructor.json'>instructor.json</a>.</p>"
        "<table><thead><tr><th>Learner</th><th>Furthest stage</th><th>Progress</th>"
        "<th>Last error</th><th>Exercises</th></tr></thead>"
        f"<tbody>{body}</tbody></table></html>"
    )
