"""The instructor page's data without a hub (classroom/roster.py): events folded from the
sandbox's file as it grows and from the service's own, the class sorted most stuck first, the
page escaped, and its JSON twin."""

from __future__ import annotations

import json

from classroom.roster import Progress, as_json, render_html, roster

NOW = 1_000_000.0


def _append(path, *events) -> None:
    with open(path, "a", encoding="utf-8") as out:
        for event in events:
            out.write(json.dumps(event) + "\n")


def test_the_sandbox_file_is_read_as_it_grows_a_half_written_line_waits(tmp_path):
    sandbox = tmp_path / "progress.jsonl"
    progress = Progress(None, sandbox)
    assert progress.learners() == {}  # no file yet: no sign-in yet
    _append(sandbox, {"time": 1, "user": "alice", "stage": "signed in"})
    assert progress.learners()["alice"].stage == "signed in"
    with open(sandbox, "a", encoding="utf-8") as out:
        out.write('{"time": 2, "user": "alice", "stage": "tok')  # the sandbox is writing it
    assert progress.learners()["alice"].stage == "signed in"
    with open(sandbox, "a", encoding="utf-8") as out:
        out.write('en"}\nnot json\n')
    assert progress.learners()["alice"].stage == "token"
    assert progress.learners()["alice"].progress_at == 2


def test_the_services_own_events_survive_its_restart(tmp_path):
    own = tmp_path / "class-events.jsonl"
    first = Progress(own, None)
    first.record("bob", stage="URL built")
    first.record("bob", exercise="2.1", status="wrong")
    first.record("bob", error="InvalidGrant", message="The code was used already.")
    again = Progress(own, None).learners()["bob"]
    assert again.stage == "URL built" and again.exercises == {"2.1": "wrong"}
    assert (again.error, again.error_message) == ("InvalidGrant", "The code was used already.")


def _class() -> dict:
    """alice: stuck at "signed in" for 20 min; bob: progressed 1 min ago; dan: finished;
    carol: never started."""
    events = [
        {"time": NOW - 1200, "user": "alice", "stage": "signed in"},
        {"time": NOW - 300, "user": "alice", "stage": "signed in"},  # again: not progress
        {"time": NOW - 200, "user": "alice", "error": "StateMismatch", "message": "<b>x</b>"},
        {"time": NOW - 100, "user": "alice", "exercise": "1.1", "status": "wrong"},
        {"time": NOW - 900, "user": "bob", "stage": "token"},
        {"time": NOW - 60, "user": "bob", "exercise": "2.1", "status": "right"},
        {"time": NOW - 59, "user": "bob", "exercise": "2.1", "status": "wrong"},  # solved still
        {"time": NOW - 50, "user": "dan", "stage": "revoke"},
        {"time": NOW - 40, "user": "teacher", "stage": "token"},  # not a learner
    ]
    progress = Progress(None, None)
    for event in events:
        progress._fold_one(event)
    return progress.learners()


def test_the_whole_class_most_stuck_first_then_not_started_then_finished():
    rows = roster(_class(), names=["alice", "bob", "carol", "dan"])
    assert [r.name for r in rows] == ["alice", "bob", "carol", "dan"]
    data = as_json(rows, now=NOW)["learners"]
    assert [(d["name"], d["status"], d["stage"], d["seconds_since_progress"]) for d in data] == [
        ("alice", "in progress", "signed in", 1200),
        ("bob", "in progress", "token", 60),
        ("carol", "not started", None, None),
        ("dan", "finished", "revoke", 50),
    ]
    assert data[0]["last_error"] == {
        "error": "StateMismatch",
        "message": "<b>x</b>",
        "time": NOW - 200,
    }
    assert data[0]["exercises"] == {"1.1": "wrong"} and data[1]["exercises"] == {"2.1": "right"}


def test_without_the_hubs_list_only_those_with_events_and_the_reason():
    rows = roster(_class(), names=None)
    assert [r.name for r in rows] == ["alice", "bob", "teacher", "dan"]
    page = render_html(rows, note="The hub's list of users could not be read", now=NOW)
    assert "could not be read" in page


def test_the_page_says_who_is_stuck_longest_and_escapes_what_learners_sent():
    page = render_html(roster(_class(), names=["alice", "bob", "carol", "dan"]), now=NOW)
    assert "4 learners: 1 not started, 2 in progress, 1 finished" in page
    assert "Stuck longest: <b>alice</b>, 20 min since last progress, at “signed in”" in page
    assert "<b>StateMismatch</b>: &lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
    assert "<td class='learner'>carol</td><td class='stage'>—</td>" in page
    assert "<td class='status'>not started</td>" in page
    assert "<td class='exercises'>2.1 ✔</td>" in page
