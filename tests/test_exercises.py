"""The notebooks' exercises: every hidden solution passes its check, and the checks say "wrong"
(with the reason) for wrong answers and "not done" for the learner's untouched cell.

The cells are taken from the committed notebooks and run here in a fresh namespace each, so a
solution that leans on an earlier cell's variables fails. Under "Run All" they also run in
place: tests/test_notebooks.py checks that.
"""

from __future__ import annotations

import ast
import base64
import hashlib
import secrets
from pathlib import Path
from urllib.parse import quote_plus

import nbformat
import pytest

from helpers import exercises
from helpers.exercises import Verdict

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("0*.ipynb"))


def tagged(tag: str) -> list[tuple[str, str]]:
    """(id, source) of every code cell carrying ``tag``, in every notebook."""
    cells = []
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        found = [c for c in nb.cells if tag in c.metadata.get("tags", [])]
        cells += [(f"{path.stem[:2]}-{n}", c.source) for n, c in enumerate(found, 1)]
    return cells


def run_cell(source: str) -> object:
    """Run a cell's code in a fresh namespace; return its last expression's value."""
    tree = ast.parse(source)
    last = tree.body.pop()
    assert isinstance(last, ast.Expr), "an exercise cell ends with the check's call"
    namespace: dict = {}
    exec(compile(tree, "<cell>", "exec"), namespace)  # noqa: S102 - the repository's own cells
    return eval(compile(ast.Expression(last.value), "<cell>", "eval"), namespace)  # noqa: S307


def test_each_notebook_has_one_to_three_exercises_each_with_a_hidden_solution():
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        learner = [c for c in nb.cells if "exercise" in c.metadata.get("tags", [])]
        solutions = [c for c in nb.cells if "solution" in c.metadata.get("tags", [])]
        assert 1 <= len(solutions) <= 3, path.name
        assert len(learner) == len(solutions), path.name
        for cell in solutions:
            assert cell.metadata.get("jupyter", {}).get("source_hidden") is True, path.name
            index = nb.cells.index(cell)
            assert "exercise" in nb.cells[index - 2].metadata.get("tags", []), path.name


@pytest.mark.parametrize(
    "source", [s for _, s in tagged("solution")], ids=[i for i, _ in tagged("solution")]
)
def test_solution_passes_its_check(source):
    verdict = run_cell(source)
    assert isinstance(verdict, Verdict)
    assert verdict.ok, verdict


@pytest.mark.parametrize(
    "source", [s for _, s in tagged("exercise")], ids=[i for i, _ in tagged("exercise")]
)
def test_the_learners_untouched_cell_runs_and_is_not_accepted(source):
    verdict = run_cell(source)
    assert isinstance(verdict, Verdict)
    assert not verdict.ok and verdict.status in ("todo", "wrong"), verdict
    assert str(verdict).startswith(("… Not done yet", "✘ Not right yet"))


DIGEST = hashlib.sha256(exercises.RFC7636_VERIFIER.encode()).digest()
RAW_BASIC = "Basic " + base64.b64encode(b"tutorial-client:Gh+7/xQ=").decode()

WRONG = [
    (exercises.check_env, {"OAUTH_SERVICE_URL": "http://authentication.logmeininc.com"}, "problem"),
    (
        exercises.check_env,
        {
            "OAUTH_SERVICE_URL": "https://authentication.logmeininc.com",
            "OAUTH_CLIENT_ID": "made-up-client-id",
            "OAUTH_CLIENT_SECRET": "made-up-secret",
            "OAUTH_REDIRECT_URI": "http://127.0.0.1:5001/login/oauth2/code/goto",
        },
        "not the one registered",
    ),
    (exercises.check_make_state, lambda: "abc", "30 characters"),
    (exercises.check_make_state, lambda: "0" * 30, "same state"),
    (exercises.check_challenge, DIGEST.hex(), "hex"),
    (exercises.check_challenge, base64.urlsafe_b64encode(DIGEST).decode(), "padding"),
    (exercises.check_challenge, base64.b64encode(DIGEST).decode().rstrip("="), "standard base64"),
    (exercises.check_challenge, exercises.RFC7636_VERIFIER, "verifier itself"),
    (exercises.check_pkce_parameters, {"code_challenge", "code_verifier"}, "never in the URL"),
    (exercises.check_pkce_parameters, {"code_challenge", "state"}, "not part of PKCE"),
    (exercises.check_state_check, lambda q, s: q.get("state", s) == s, "no state at all"),
    (exercises.check_state_check, lambda q, s: "state" in q and q["state"] in s, "empty state"),
    (exercises.check_state_check, lambda q, s: True, "wrong state was accepted"),
    (exercises.check_tampered_state, lambda s: s, "genuine state"),
    (exercises.check_basic_decoding, ("tutorial-client", quote_plus("Gh+7/xQ=")), "form-encoding"),
    (exercises.check_basic_decoding, ("Gh+7/xQ=", "tutorial-client"), "id comes first"),
    (exercises.check_raw_basic, exercises.EXAMPLE_BASIC_HEADER, "RFC 6749 §2.3.1 header"),
    (exercises.check_raw_basic, RAW_BASIC.removeprefix("Basic "), "starts with the scheme"),
    (
        exercises.check_status_prediction,
        {"made-up token": 403, "expired token": 401, "valid token without the scope": 403},
        "RFC 6750 §3.1 says 401",
    ),
    (
        exercises.check_after_refresh,
        lambda old, r: {"access_token": r["access_token"], "refresh_token": r.get("refresh_token")},
        "keep the old one",
    ),
    (
        exercises.check_after_refresh,
        lambda old, r: {"access_token": r["access_token"], "refresh_token": old["refresh_token"]},
        "use it",
    ),
    (exercises.check_naive_forgery, lambda uri: uri + "?code=something-else", "ATTACKER_CODE"),
    (exercises.check_naive_forgery, lambda uri: "http://example.com/?code=x", "redirect URI"),
]


@pytest.mark.parametrize(
    ("check", "answer", "reason"),
    WRONG,
    ids=[f"{c.__name__}-{n}" for n, (c, _, _) in enumerate(WRONG)],
)
def test_a_wrong_answer_is_refused_with_its_reason(check, answer, reason):
    verdict = check(answer)
    assert verdict.status == "wrong", verdict
    assert reason in verdict.why, verdict


def test_the_random_module_is_refused_for_a_state():
    import random

    def make_state():
        return f"{random.getrandbits(120):030x}"

    verdict = exercises.check_make_state(make_state)
    assert not verdict.ok and "secrets" in verdict.why


def test_a_placeholder_is_not_done_for_every_check():
    checks = [getattr(exercises, n) for n in dir(exercises) if n.startswith("check_")]
    assert len(checks) == 11
    for check in checks:
        assert check(...).status == "todo", check.__name__


def test_the_tamper_check_really_sends_the_callback():
    # A tamper that keeps the state is refused before anything is sent; one that changes it
    # gets the listener's real 403, which the verdict quotes.
    verdict = exercises.check_tampered_state(lambda s: s + secrets.token_hex(1))
    assert verdict.ok and "HTTP 403" in verdict.why
