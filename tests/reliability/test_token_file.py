"""The token file under SIGKILL: 200 child processes saving in a loop, each killed at a random
moment; then rotating refreshes killed at random moments.

The file must always hold one whole token (the old or the new one, never a mix), be readable,
and have mode 0600. A kill between the temporary file's creation and its rename leaves that
temporary file (a token) behind: the battery counts them, and checks the next save clears them. With rotation, a kill between the server's
rotation and the save necessarily loses the chain (the server has already retired the old
refresh token); a kill anywhere else must lose nothing.
"""

from __future__ import annotations

import multiprocessing
import os
import random
import signal
import stat
import threading
import time

import pytest

from helpers.config import OAuthConfig
from helpers.errors import InvalidGrant
from helpers.sandbox import serve_in_thread
from helpers.tokens import Token, TokenStore, refresh
from tests.sandbox.flows import tokens_for

from . import _savers

CHILDREN = 200
ROTATION_KILLS = 40


@pytest.fixture(scope="module")
def ctx():
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload(["helpers.tokens", "tests.reliability._savers"])
    return context


def run_and_kill(ctx, target, args, rng, longest: float) -> None:
    proc = ctx.Process(target=target, args=args, daemon=True)
    proc.start()
    time.sleep(rng.uniform(0, longest))
    os.kill(proc.pid, signal.SIGKILL)
    proc.join(10)
    assert proc.exitcode == -signal.SIGKILL, proc.exitcode


def settle_requests(limit: float = 10.0) -> None:
    """Wait until the in-thread sandbox has answered every request it was sent.

    A child killed just after sending its refresh leaves that request inside the server. If the
    parent refreshed before the server got to it, the two would race, and rotation's reuse
    detection would revoke the whole family: the next child would then die by itself.
    """
    deadline = time.monotonic() + limit
    while any(t.name.endswith("(process_request_thread)") for t in threading.enumerate()):
        assert time.monotonic() < deadline, "the sandbox is still answering a request after 10 s"
        time.sleep(0.005)


def leftovers(folder) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.endswith(".tmp")]


def test_200_savers_killed_at_random_moments_never_leave_a_broken_token_file(tmp_path, ctx):
    path = tmp_path / "tokens.json"
    rng = random.Random(1)
    TokenStore(path).save(_savers.token(-1, 0))
    last_child = -1
    changed = 0
    for child in range(CHILDREN):
        run_and_kill(ctx, _savers.save_loop, (str(path), child), rng, 0.04)
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        saved = TokenStore(path).load()  # readable, whole JSON
        tag = saved.access_token.removeprefix("access-")
        owner, n = (int(x) for x in tag.rsplit("-", 1))
        assert saved == _savers.token(owner, n).__class__(**{**saved.to_dict()})
        assert (saved.refresh_token, saved.principal, saved.scopes) == (
            f"refresh-{tag}",
            f"p-{tag}",
            (f"s-{tag}",),
        ), "the file mixes two saves"
        assert saved.expires_at == float(n)
        assert owner >= last_child, "the file went back to an older token"
        changed += owner != last_child
        last_child = owner
    tmp_files = leftovers(tmp_path)
    assert len(tmp_files) <= CHILDREN  # at most one per kill
    for name in tmp_files:
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600
    # The next save clears leftovers older than a minute (a save lasts milliseconds).
    for name in tmp_files:
        os.utime(tmp_path / name, (time.time() - 120, time.time() - 120))
    TokenStore(path).save(_savers.token(CHILDREN, 0))
    assert leftovers(tmp_path) == []
    print(
        f"\n{CHILDREN} savers SIGKILLed: file always whole and 0600; it changed hands "
        f"{changed} times; {len(tmp_files)} temporary files left behind by kills mid-write"
    )


def test_rotating_refreshes_killed_at_random_moments_lose_only_inside_the_rotation_window(
    tmp_path, ctx, standin_listener, clean_env
):
    rng = random.Random(2)
    with serve_in_thread(tmp_path / "rotate", refresh_mode="rotate") as sandbox:
        config = OAuthConfig(
            service_url=sandbox.url,
            client_id=sandbox.info.client_id,
            client_secret=sandbox.info.client_secret,
            redirect_uri=standin_listener,
            scopes=("messaging.v1.send",),
            api_url=sandbox.url,
        )
        path, progress = tmp_path / "tokens.json", tmp_path / "progress.log"
        store = TokenStore(path)

        def sign_in() -> None:
            data = tokens_for(sandbox, standin_listener)
            store.save(
                Token(access_token=data["access_token"], refresh_token=data["refresh_token"])
            )

        sign_in()
        outside = inside = lost_inside = 0
        for _ in range(ROTATION_KILLS):
            progress.write_text("")
            run_and_kill(ctx, _savers.refresh_loop, (str(path), str(progress), config), rng, 0.08)
            settle_requests()
            steps = progress.read_text().split()
            in_window = bool(steps) and steps[-2] == "R"
            current = store.load()
            assert stat.S_IMODE(path.stat().st_mode) == 0o600
            try:
                store.save(refresh(config, current, timeout=5))  # the next run carries on
                inside += in_window
                outside += not in_window
            except InvalidGrant:
                assert in_window, "a kill outside the refresh-to-save window lost the token"
                inside += 1
                lost_inside += 1
                sign_in()
    assert outside >= 5 and inside >= 1, (outside, inside)
    print(
        f"\n{ROTATION_KILLS} rotating refreshes SIGKILLed: {outside} kills outside the "
        f"refresh-to-save window lost nothing; {inside} inside it, of which {lost_inside} lost "
        "the sign-in (the server had rotated; the new refresh token never reached the disk)"
    )
