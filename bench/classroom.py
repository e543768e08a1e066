"""A class signing in at once through a real JupyterHub: ``python -m bench.classroom``.

    .venv/bin/python -m bench.classroom --learners 200 --repeats 3

Starts the class's hub (classroom/jupyterhub_config.py, via testing/hubproc.py), makes
K hub users with a hub token each (what their servers' JUPYTERHUB_API_TOKEN would be), then
starts every learner's flow together, spread over one client process per core:

  the kernel registers its ``state`` with the class callback service (back channel, hub token)
  → listener up → the browser, through the hub's proxy: the sandbox's authorize page, login,
  Allow → the class callback, which looks the state up and redirects to
  ``/user/<name>/proxy/<port>/...`` → the listener → the token exchange (back channel).

The last hop goes straight to the listener's port: K single-user servers (one JupyterLab each)
do not fit on the benchmark's machine, and that hop is jupyter-server-proxy's, measured by the
tests, not the class's. Throughput = K / (first start → last token); latencies per learner.
After its token, each learner's kernel also sends the two reports a notebook sends (an exercise
checked, an error shown), outside the timed flow. Then the instructor page, with every class's
learners on it (K × repeats), is asked for ``--page-samples`` times as HTML and as JSON by a
signed-in instructor: its median time to answer.
Not part of the pytest suite; asserts no timings.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import multiprocessing
import os
import re
import sys
import tempfile
import threading
import time
from html import unescape
from pathlib import Path
from urllib.parse import urljoin

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.run import machine, median, ms, pct  # noqa: E402
from testing.hubproc import start_hub  # noqa: E402
from testing.ports import free_ports  # noqa: E402


def _form(page: str, action_end: str) -> tuple[str, dict[str, str]]:
    action = re.search(r'<form method="post" action="([^"]*' + action_end + ')"', page).group(1)
    fields = dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page))
    return unescape(action), {k: unescape(v) for k, v in fields.items()}


def _worker(hub: dict, learners: list[tuple[str, str, int]], ready, go, results) -> None:
    """One client process: its learners in threads, started together on ``go``."""
    import requests

    from helpers import config, tokens
    from helpers.authorization import AuthorizationRequest
    from helpers.callback import CallbackListener
    from helpers.hub import Seat
    from helpers.sandbox.hub import class_password

    cfg = config.validate(
        {
            "OAUTH_SERVICE_URL": hub["back"],
            "GOTO_API_URL": hub["back"],
            "OAUTH_AUTHORIZE_BASE_URL": hub["url"] + "/services/oauth-sandbox",
            "OAUTH_CLIENT_ID": "classroom",
            "OAUTH_CLIENT_SECRET": hub["client_secret"],
            "OAUTH_REDIRECT_URI": hub["url"] + "/services/oauth-callback/",
        }
    )
    secret = hub["class_secret"].encode()
    gate = threading.Event()

    def one(name: str, token: str, port: int) -> dict[str, float]:
        seat = Seat(user=name, router_url=hub["router"], api_token=token, port=port)
        browser = requests.Session()
        browser.trust_env = False
        gate.wait()
        steps: dict[str, float] = {}
        began = last = time.monotonic()

        def step(name: str) -> None:
            nonlocal last
            now = time.monotonic()
            steps[name], last = now - last, now

        request = AuthorizationRequest.new(cfg)
        seat.register(request.state)
        step("register")
        with CallbackListener(seat.listen_uri(cfg.redirect_uri), request.state) as listener:
            page = browser.get(request.url, timeout=120)
            step("authorize")
            action, fields = _form(page.text, "/oauth/login")
            fields.update(email=name, password=class_password(secret, name))
            page = browser.post(urljoin(page.url, action), data=fields, timeout=120)
            step("login")
            action, fields = _form(page.text, "/oauth/consent")
            fields["decision"] = "allow"
            answer = browser.post(
                urljoin(page.url, action), data=fields, allow_redirects=False, timeout=120
            )
            step("consent")
            routed = browser.get(answer.headers["Location"], allow_redirects=False, timeout=120)
            step("class callback")
            where = routed.headers.get("Location", "")
            prefix = f"/user/{name}/proxy/{port}"
            if routed.status_code != 302 or not where.startswith(prefix):
                raise AssertionError(f"{name}: the class callback answered {routed.status_code}")
            browser.get(f"http://127.0.0.1:{port}{where[len(prefix) :]}", timeout=120)
            code = listener.wait(120).code
            step("listener")
        got = tokens.exchange(cfg, request, code, timeout=120)
        step("token")
        if got.principal != name:
            raise AssertionError(f"{name} got {got.principal}'s token")
        steps["total"] = time.monotonic() - began
        seat.report({"exercise": "4.1", "status": "right"})
        seat.report({"error": "InvalidGrant", "message": "The code was already used."})
        steps["reports"] = time.monotonic() - last
        return steps

    timings, errors = [], []
    with concurrent.futures.ThreadPoolExecutor(len(learners)) as pool:
        futures = [pool.submit(one, *learner) for learner in learners]
        ready.wait()
        go.wait()
        gate.set()
        for f in concurrent.futures.as_completed(futures):
            try:
                timings.append(f.result())
            except Exception as exc:  # noqa: BLE001 - counted and shown
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
    results.put((timings, errors, time.monotonic()))


def one_class(hub, k: int, workers: int, run: int) -> dict:
    names = [f"r{run}l{i:03d}" for i in range(k)]
    answer = hub.api("POST", "/users", json={"usernames": names})
    assert answer.status_code == 201, answer.text[:300]
    learners = [(n, hub.user_token(n), port) for n, port in zip(names, free_ports(k), strict=True)]
    shared = {
        "url": hub.url,
        "back": f"http://127.0.0.1:{hub.sandbox_port}",
        "router": hub.router_url,
        "client_secret": hub.client_secret(),
        "class_secret": hub.class_secret().decode(),
    }
    workers = min(workers, k)
    ctx = multiprocessing.get_context("spawn")
    ready, go, results = ctx.Barrier(workers + 1), ctx.Event(), ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(shared, learners[w::workers], ready, go, results))
        for w in range(workers)
    ]
    for proc in procs:
        proc.start()
    ready.wait(300)
    began = time.monotonic()
    go.set()
    timings, errors, ends = [], [], []
    for _ in procs:
        got, err, end = results.get(timeout=600)
        timings += got
        errors += err
        ends.append(end)
    for proc in procs:
        proc.join(10)
    elapsed = max(ends) - began
    latencies = [t["total"] for t in timings]
    return {
        "k": k,
        "errors": errors,
        "seconds": elapsed,
        "throughput": len(latencies) / elapsed,
        "p50": median(latencies),
        "p99": pct(latencies, 99),
        "steps": {s: median([t[s] for t in timings]) for s in (timings[0] if timings else {})},
    }


def instructor_page(hub, samples: int) -> dict:
    """The instructor page's median time to answer, as HTML and as JSON, and its row count."""
    browser = hub.session("teacher")
    url = hub.url + "/services/oauth-callback/instructor"
    assert browser.get(url, timeout=60).status_code == 200  # the hub's OAuth round trip, once
    result = {}
    for suffix in ("", ".json"):
        times = []
        for _ in range(samples):
            began = time.perf_counter()
            answer = browser.get(url + suffix, timeout=60)
            times.append(time.perf_counter() - began)
            assert answer.status_code == 200, answer.text[:300]
        result[suffix.lstrip(".") or "html"] = median(times)
    result["learners"] = len(browser.get(url + ".json", timeout=60).json()["learners"])
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(
        prog="python -m bench.classroom", description=__doc__.split("\n")[0]
    )
    p.add_argument("--learners", type=int, default=200, help="K learners at once (default 200)")
    p.add_argument("--repeats", type=int, default=3, help="classes in a row (default 3)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 2, help="client processes")
    p.add_argument("--page-samples", type=int, default=21, help="instructor page requests")
    p.add_argument("--json", help="also write the raw results here")
    args = p.parse_args(argv)
    print(json.dumps(machine(), indent=1), flush=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        start_hub(Path(tmp), learners=(), instructors=("teacher",)) as hub,
    ):
        runs = [one_class(hub, args.learners, args.workers, r) for r in range(args.repeats)]
        page = instructor_page(hub, args.page_samples)
    for r in runs:
        print(
            f"K = {r['k']}: {r['throughput']:.0f} sign-ins/s; p50 {ms(r['p50'])}, "
            f"p99 {ms(r['p99'])}; {len(r['errors'])} errors {r['errors'][:3]}\n  median ms "
            "per step: " + ", ".join(f"{s} {v * 1000:.0f}" for s, v in r["steps"].items())
        )
    print(
        f"median of {len(runs)}: {median([r['throughput'] for r in runs]):.0f} sign-ins/s, "
        f"p99 {ms(median([r['p99'] for r in runs]))}, errors {sum(len(r['errors']) for r in runs)}"
    )
    print(
        f"instructor page, {page['learners']} learners: median {ms(page['html'])} (HTML), "
        f"{ms(page['json'])} (JSON), of {args.page_samples} each"
    )
    if args.json:
        Path(args.json).write_text(json.dumps({"classes": runs, "instructor_page": page}, indent=1))
    return 1 if any(r["errors"] for r in runs) else 0


if __name__ == "__main__":
    sys.exit(main())
