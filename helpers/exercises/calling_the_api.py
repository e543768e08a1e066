"""Notebook 5 (calling the API): status codes, and what a refresh keeps."""

from __future__ import annotations

from collections.abc import Callable

from .verdict import TODO, Verdict, exercise, not_done, right, wrong

STATUS_QUESTIONS = ("made-up token", "expired token", "valid token without the scope")


@exercise
def check_status_prediction(prediction: dict[str, int]) -> Verdict:
    """Exercise 5.1: the status an API answers in each case (RFC 6750 §3.1)."""
    if not_done(prediction) or any(not_done(v) for v in dict(prediction).values()):
        return TODO
    expected = {"made-up token": 401, "expired token": 401, "valid token without the scope": 403}
    for case, status in expected.items():
        if prediction.get(case) != status:
            why = (
                "401 invalid_token: the API does not accept the token at all (unknown, expired, "
                "revoked); renew it"
                if status == 401
                else "403 insufficient_scope: the token is valid but does not allow this call; "
                "sign in again asking for the scope"
            )
            return wrong(f"{case}: {prediction.get(case)}, but RFC 6750 §3.1 says {why}.")
    return right(
        "401 means 'renew the token', 403 means 'this token may not make this call' (RFC 6750 §3.1)."
    )


@exercise
def check_after_refresh(after_refresh: Callable[[dict, dict], dict]) -> Verdict:
    """Exercise 5.2: the tokens to keep after a refresh, fixed to keep the old refresh token."""
    if not_done(after_refresh):
        return TODO
    old = {"access_token": "AT-old", "refresh_token": "RT-old"}
    usual = after_refresh(dict(old), {"access_token": "AT-new", "expires_in": 3600})
    if not_done(usual):
        return TODO
    if usual.get("access_token") != "AT-new":
        return wrong("after a refresh the app must use the new access token.")
    if usual.get("refresh_token") != "RT-old":
        return wrong(
            "GoTo's refresh answer usually carries no refresh_token (GoTo's refresh-token "
            "page): keep the old one, or the next refresh fails and the user must sign in again."
        )
    rotated = after_refresh(
        dict(old), {"access_token": "AT-new", "refresh_token": "RT-new", "expires_in": 3600}
    )
    if rotated.get("refresh_token") != "RT-new":
        return wrong(
            "when the answer does carry a new refresh_token, use it: the server may have "
            "retired the old one (RFC 6749 §6)."
        )
    return right("the new refresh token when one comes back, otherwise the old one.")
