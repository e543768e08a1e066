"""The benchmarks against their targets: ``python -m bench`` (``--help`` for options).

Every figure is a median over repeated runs (p99 too where it matters); the machine is shared,
so read ratios rather than absolute numbers. Nothing here is part of the pytest suite.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NODE_DIR = REPO / "bench" / "node"
PY = sys.executable
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.sandbox_process import GOOGLE_CLIENT_ID, GOOGLE_CLIENT_SECRET, learner  # noqa: E402
from testing.ports import free_port, free_ports  # noqa: E402
from testing.scripted_browser import DEFAULT_EMAIL, DEFAULT_PASSWORD, sign_in  # noqa: E402

MS = 1000.0
STEPS = ("setup", "authorize", "login", "consent", "callback", "token")


# --- small tools ------------------------------------------------------------------------------


def median(values) -> float:
    return statistics.median(values) if values else float("nan")


def pct(values, p: float) -> float:
    values = sorted(values)
    if not values:
        return float("nan")
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def ms(seconds: float) -> str:
    return f"{seconds * MS:.1f} ms"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def node_versions() -> str:
    try:
        node = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout.strip()
    except OSError:
        return "node not found"
    lock = NODE_DIR / "package-lock.json"
    found = []
    if lock.is_file():
        packages = json.loads(lock.read_text()).get("packages", {})
        for name in ("express", "simple-oauth2"):
            found.append(f"{name} {packages.get('node_modules/' + name, {}).get('version', '?')}")
    return ", ".join([f"node {node}", *found])


def machine() -> dict[str, str]:
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    return {
        "CPU": f"{cpu_model()} ({platform.machine()})",
        "cores": f"{os.cpu_count()} logical",
        "load average at start": load,
        "OS": f"{platform.system()} {platform.release()} ({platform.platform(terse=True)})",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": ", ".join(
            f"{n} {version(n)}"
            for n in (
                "oauthlib",
                "requests-oauthlib",
                "requests",
                "urllib3",
                "google-auth-oauthlib",
                "nbclient",
                "ipykernel",
            )
        ),
        "Node.js": node_versions(),
    }


class Sandbox:
    """The sandbox in its own process (``bench/sandbox_process.py``), as a learner runs it."""

    def __init__(self, root: Path, users: int) -> None:
        self.dir = root / f"sandbox-{users}"
        self.port = free_port()
        self.proc = subprocess.Popen(
            [PY, "-m", "bench.sandbox_process", str(self.dir), str(self.port), str(users)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        self.info = json.loads(self.proc.stdout.readline())
        self.url = self.info["url"]

    def env(self, redirect_port: int) -> dict[str, str]:
        """What points ``helpers.connect.load()`` at this sandbox."""
        return {
            "OAUTH_SANDBOX_DIR": self.info["data_dir"],
            "OAUTH_SANDBOX_PORT": str(self.port),
            "OAUTH_REDIRECT_URI": f"http://127.0.0.1:{redirect_port}/login/oauth2/code/goto",
            "OAUTH_SERVICE_URL": "",
            "OAUTH_SCOPES": "",
            "GOTO_API_URL": "",
        }

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# --- 1. our full sign-in, step by step --------------------------------------------------------


def our_sign_in(email=DEFAULT_EMAIL, password=DEFAULT_PASSWORD) -> dict:
    """``python -m helpers``'s calls, in its order, with the scripted browser in the middle."""
    from helpers import connect, tokens
    from helpers.authorization import AuthorizationRequest
    from helpers.callback import CallbackListener

    t = {}
    start = time.perf_counter()
    cfg = connect.load(quiet=True)
    t["config"] = time.perf_counter() - start
    request = AuthorizationRequest.new(cfg)
    with CallbackListener(cfg.redirect_uri, request.state) as listener:
        t["setup"] = time.perf_counter() - start - t["config"]
        sign_in(request.url, email=email, password=password, timings=t)
        began = time.perf_counter()
        code = listener.wait(10).code
    t["callback"] += time.perf_counter() - began
    began = time.perf_counter()
    token = tokens.exchange(cfg, request, code)
    t["token"] = time.perf_counter() - began
    t["total"] = time.perf_counter() - start
    t["flow"] = t["total"] - t["config"]
    assert token.principal == email, token
    return t


# --- 2. the peers: google-auth-oauthlib and the Node.js tutorial's app --------------------------


def google_sign_in(sb: Sandbox) -> float:
    """``InstalledAppFlow.run_local_server`` with the scripted browser, on the same sandbox."""
    import requests
    from google_auth_oauthlib.flow import InstalledAppFlow

    class BenchFlow(InstalledAppFlow):
        # The one adaptation: GoTo (and the sandbox) accept client credentials only in an HTTP
        # Basic header, and Flow.fetch_token always puts client_secret in the body.
        def fetch_token(self, **kwargs):
            kwargs.pop("audience", None)
            if self.code_verifier:  # as Flow.fetch_token does
                kwargs.setdefault("code_verifier", self.code_verifier)
            cc = self.client_config
            return self.oauth2session.fetch_token(
                cc["token_uri"],
                auth=requests.auth.HTTPBasicAuth(cc["client_id"], cc["client_secret"]),
                include_client_id=False,
                **kwargs,
            )

        def authorization_url(self, **kwargs):
            url, state = super().authorization_url(**kwargs)
            threading.Thread(target=self._drive, args=(url,), daemon=True).start()
            return url, state

        def _drive(self, url):
            sign_in(url, email=sb.info["user_email"], password=sb.info["user_password"])

    start = time.perf_counter()
    flow = BenchFlow.from_client_config(
        {
            "installed": {
                "client_id": GOOGLE_CLIENT_ID,
                "client_secret": GOOGLE_CLIENT_SECRET,
                "auth_uri": sb.url + "/oauth/authorize",
                "token_uri": sb.url + "/oauth/token",
                "redirect_uris": ["http://127.0.0.1"],
            }
        },
        scopes=["messaging.v1.send"],
    )
    creds = flow.run_local_server(
        host="127.0.0.1", port=free_port(), open_browser=False, authorization_prompt_message=None
    )
    elapsed = time.perf_counter() - start
    assert creds.token
    return elapsed


class NodeApp:
    """``bench/node/app.js``: one node process, one sign-in per "go" line (start-up untimed)."""

    def __init__(self, sb: Sandbox) -> None:
        self.sb = sb
        env = {
            **os.environ,
            "OAUTH_SERVICE_URL": sb.url,
            "OAUTH_CLIENT_ID": sb.info["client_id"],
            "OAUTH_CLIENT_SECRET": sb.info["client_secret"],
            "OAUTH_REDIRECT_URI": f"http://127.0.0.1:{free_port()}/login/oauth2/code/goto",
            "OAUTH_SCOPES": "messaging.v1.send",
        }
        self.proc = subprocess.Popen(
            ["node", "app.js"],
            cwd=NODE_DIR,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        assert self.proc.stdout.readline().strip() == "READY"

    def sign_in(self) -> float:
        info = self.sb.info
        start = time.perf_counter()
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline().strip()
        assert line.startswith("URL "), line
        sign_in(line[4:], email=info["user_email"], password=info["user_password"])
        line = self.proc.stdout.readline().strip()
        elapsed = time.perf_counter() - start
        assert line == f"TOKEN {info['user_email']}", line
        return elapsed

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(10)


def bench_sign_ins(sb: Sandbox, runs: int) -> tuple[dict, list[float], list[float] | str]:
    """Ours, google-auth-oauthlib's and Node's, round-robin (order rotating each round), so a
    burst of load from other programs hits all three alike; one warm-up round first."""
    os.environ.update(sb.env(free_port()))
    node = NodeApp(sb) if (NODE_DIR / "node_modules").is_dir() else None

    def google() -> float:
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"  # it talks http to the local sandbox
        try:
            return google_sign_in(sb)
        finally:
            os.environ.pop("OAUTHLIB_INSECURE_TRANSPORT", None)

    clients = {"ours": our_sign_in, "google": google}
    if node is not None:
        clients["node"] = node.sign_in
    got: dict[str, list] = {name: [] for name in clients}
    try:
        for rnd in range(runs + 1):
            names = list(clients)
            names = names[rnd % len(names) :] + names[: rnd % len(names)]
            for name in names:
                value = clients[name]()
                if rnd:
                    got[name].append(value)
    finally:
        if node is not None:
            node.close()
    keys = ("config", *STEPS, "total", "flow")
    ours = {k: [s[k] for s in got["ours"]] for k in keys}
    return ours, got["google"], got.get("node", "skipped: run `npm ci --prefix bench/node` first")


# --- 3. the listener alone --------------------------------------------------------------------


def bench_listener(runs: int) -> dict:
    import requests

    from helpers.callback import CallbackListener

    start_times, stop_idle, stop_served = [], [], []
    for i in range(runs):
        port = free_port()
        uri = f"http://127.0.0.1:{port}/cb"
        listener = CallbackListener(uri, "s")
        began = time.perf_counter()
        listener.start()
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            start_times.append(time.perf_counter() - began)
        served = i % 2 == 1
        if served:  # a real callback first, so stop() also meets a finished connection
            requests.get(uri + "?code=c&state=s", timeout=5)
        began = time.perf_counter()
        listener.stop()
        with socket.socket() as s:  # rebind as the next listener would (SO_REUSEADDR)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
            s.listen()
            (stop_served if served else stop_idle).append(time.perf_counter() - began)
    return {"start": start_times, "stop_idle": stop_idle, "stop_served": stop_served}


# --- 4. the token exchange alone --------------------------------------------------------------


def bench_exchange(sb: Sandbox, runs: int) -> list[float]:
    from helpers import connect, tokens
    from helpers.authorization import AuthorizationRequest
    from helpers.callback import CallbackListener

    os.environ.update(sb.env(free_port()))
    cfg = connect.load(quiet=True)
    times = []
    for _ in range(runs + 1):
        request = AuthorizationRequest.new(cfg)
        with CallbackListener(cfg.redirect_uri, request.state) as listener:
            sign_in(request.url)
            code = listener.wait(10).code
        began = time.perf_counter()
        tokens.exchange(cfg, request, code)
        times.append(time.perf_counter() - began)
    return times[1:]


# --- 5. import time ---------------------------------------------------------------------------

IMPORTS = {
    "nothing": "pass",
    "import helpers": "import helpers",
    "import requests_oauthlib": "import requests_oauthlib",
    "the four stages": "import helpers.config, helpers.authorization, helpers.callback, "
    "helpers.tokens",
}


def bench_import(runs: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    times: dict[str, list[float]] = {k: [] for k in IMPORTS}
    for _ in range(runs):  # interleaved, so load drifts hit every variant alike
        for name, code in IMPORTS.items():
            began = time.perf_counter()
            subprocess.run([PY, "-c", code], check=True, env=env, cwd=REPO)
            times[name].append(time.perf_counter() - began)
    heavy = subprocess.run(
        [
            PY,
            "-c",
            "import helpers, sys; print(sorted(m for m in sys.modules if m in "
            "('ipywidgets', 'helpers.sandbox', 'helpers.ui', 'oauthlib', 'requests')))",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=REPO,
        check=True,
    ).stdout.strip()
    return {"times": times, "heavy_after_import_helpers": heavy}


# --- 6. the notebooks -------------------------------------------------------------------------


def bench_notebooks(root: Path) -> dict:
    from helpers.sandbox import serve_in_thread
    from testing import notebooks

    port = free_port()
    sandbox_dir = root / "nb-sandbox"
    env = notebooks.kernel_env(sandbox_dir, port, free_port(), root / "tokens.json")
    times = {}
    with serve_in_thread(sandbox_dir, port=port):
        for name, goals in notebooks.GOALS.items():
            nb, _, seconds = notebooks.execute(name, env, notebooks.NOTEBOOKS)
            text = notebooks.output_text(nb)
            times[name] = (seconds, [g for g in set(goals) if g not in text])
    return times


# --- 7. a class at once -----------------------------------------------------------------------


def _class_worker(env: dict, learners: list[int], ports: list[int], ready, go, results) -> None:
    """One worker process: its learners' flows in threads, started together on ``go``."""
    os.environ.update(env)
    from helpers import config, connect, tokens
    from helpers.authorization import AuthorizationRequest
    from helpers.callback import CallbackListener

    base = connect.load(quiet=True)
    configs = {
        i: config.validate(
            {
                "OAUTH_SERVICE_URL": base.service_url,
                "OAUTH_CLIENT_ID": base.client_id,
                "OAUTH_CLIENT_SECRET": base.client_secret,
                "OAUTH_REDIRECT_URI": f"http://127.0.0.1:{port}/login/oauth2/code/goto",
                "GOTO_API_URL": base.api_url,
            }
        )
        for i, port in zip(learners, ports, strict=True)
    }
    gate = threading.Event()

    def one(i: int) -> float:
        email, password = learner(i)
        cfg = configs[i]
        gate.wait()
        began = time.monotonic()
        request = AuthorizationRequest.new(cfg)
        with CallbackListener(cfg.redirect_uri, request.state) as listener:
            sign_in(request.url, email=email, password=password, timeout=60)
            code = listener.wait(60).code
        token = tokens.exchange(cfg, request, code, timeout=60)
        if token.principal != email:
            raise AssertionError(f"{email} got {token.principal}'s token")
        return time.monotonic() - began

    latencies, errors = [], []
    with concurrent.futures.ThreadPoolExecutor(len(learners)) as pool:
        futures = [pool.submit(one, i) for i in learners]
        ready.wait()  # every worker has its threads waiting
        go.wait()
        gate.set()
        for f in concurrent.futures.as_completed(futures):
            try:
                latencies.append(f.result())
            except Exception as exc:  # noqa: BLE001 - counted and shown
                errors.append(f"{type(exc).__name__}: {exc}"[:200])
    results.put((latencies, errors, time.monotonic()))


def bench_class(sb: Sandbox, k: int, workers: int) -> dict:
    """K learners' whole flows at once, each with its own listener (port) and its own user,
    spread over ``workers`` processes (learners are separate kernels)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    ready, go, results = ctx.Barrier(workers + 1), ctx.Event(), ctx.Queue()
    env = {**sb.env(free_port()), "PYTHONPATH": str(REPO)}
    ports = free_ports(k)
    procs = [
        ctx.Process(
            target=_class_worker,
            args=(env, list(range(w, k, workers)), ports[w::workers], ready, go, results),
        )
        for w in range(workers)
    ]
    for proc in procs:
        proc.start()
    ready.wait(120)
    began = time.monotonic()
    go.set()
    latencies, errors, ends = [], [], []
    for _ in procs:
        lat, err, end = results.get(timeout=300)
        latencies += lat
        errors += err
        ends.append(end)
    for proc in procs:
        proc.join(10)
    elapsed = max(ends) - began
    return {
        "k": k,
        "workers": workers,
        "errors": errors,
        "seconds": elapsed,
        "throughput": len(latencies) / elapsed,
        "p50": median(latencies),
        "p99": pct(latencies, 99),
    }


# --- running ----------------------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=40, help="repetitions per timing (default 40)")
    p.add_argument("--import-runs", type=int, default=15)
    p.add_argument("--class-sizes", default="50,100,200", help="K values (default 50,100,200)")
    p.add_argument("--class-repeats", type=int, default=3, help="runs per K (default 3)")
    p.add_argument(
        "--class-workers",
        type=int,
        default=os.cpu_count() or 2,
        help="processes the class's learners are spread over (default: one per core)",
    )
    p.add_argument("--no-notebooks", action="store_true", help="skip the notebook run")
    p.add_argument("--json", metavar="PATH", help="also write the raw results here")
    return p


def run(args: argparse.Namespace) -> dict:
    """Every benchmark, in order; the raw figures (seconds), by benchmark."""
    for name in ("OAUTH_SERVICE_URL", "OAUTH_CLIENT_ID", "OAUTH_CLIENT_SECRET", "OAUTH_SCOPES"):
        os.environ.pop(name, None)
    sizes = [int(x) for x in args.class_sizes.split(",") if x]
    raw: dict = {"machine": machine(), "runs": args.runs, "class_workers": args.class_workers}
    root = Path(tempfile.mkdtemp(prefix="goto-oauth-bench-"))
    sb = Sandbox(root, max(sizes, default=0))
    try:
        # 1 + 2: the sign-in, ours and the peers', round-robin
        raw["sign_in"], raw["google"], raw["node"] = bench_sign_ins(sb, args.runs)
        print("sign-in done", flush=True)
        raw["listener"] = bench_listener(args.runs)
        raw["exchange"] = bench_exchange(sb, args.runs)
        print("listener, exchange done", flush=True)
        raw["import"] = bench_import(args.import_runs)
        print("imports done", flush=True)
        if not args.no_notebooks:
            raw["notebooks"] = bench_notebooks(root)
            print("notebooks done", flush=True)
        raw["class"] = []
        for k in sizes:
            raw["class"].append(
                [bench_class(sb, k, args.class_workers) for _ in range(args.class_repeats)]
            )
            print(f"class {k} done", flush=True)
    finally:
        sb.close()
    return raw


# --- reporting --------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "met" if ok else "**not met**"


def _versus(name: str, ours: list[float], theirs: list[float] | str) -> tuple[str, ...]:
    """Ours against a peer: medians, their ratio, and the median of per-round ratios."""
    if isinstance(theirs, str):
        return (name, theirs, "≤ 1.0", "not run")
    a, b = median(ours), median(theirs)
    paired = median([x / y for x, y in zip(ours, theirs, strict=True)])
    return (
        name,
        f"ours {ms(a)} vs {ms(b)}: ratio {a / b:.2f} (paired: {paired:.2f})",
        "≤ 1.0",
        verdict(a <= b),
    )


def report(raw: dict) -> list[tuple[str, ...]]:
    """The table's rows (what, result, target, verdict) for the figures ``run`` returned."""
    ours = raw["sign_in"]
    total = median(ours["total"])
    split = ", ".join(f"{s} {median(ours[s]) * MS:.1f}" for s in ("config", *STEPS))
    rows = [
        (
            "full sign-in, machine time",
            f"{ms(total)} (p90 {ms(pct(ours['total'], 90))}); ms per step: {split}",
            "≤ 15 ms",
            verdict(total <= 0.015),
        ),
        _versus("vs google-auth-oauthlib run_local_server", ours["flow"], raw["google"]),
        _versus("vs Node.js (simple-oauth2 + Express)", ours["flow"], raw["node"]),
    ]

    lst = raw["listener"]
    start, idle, served = (median(lst[k]) for k in ("start", "stop_idle", "stop_served"))
    rows += [
        (
            "listener start → accepting",
            f"{ms(start)} (max {ms(max(lst['start']))})",
            "≤ 5 ms",
            verdict(start <= 0.005),
        ),
        (
            "listener stop() → port rebindable",
            f"idle {ms(idle)}, after a callback {ms(served)} "
            f"(max {ms(max(lst['stop_idle'] + lst['stop_served']))})",
            "≤ 20 ms",
            verdict(max(idle, served) <= 0.020),
        ),
    ]

    ex = raw["exchange"]
    rows.append(
        (
            "token exchange alone",
            f"{ms(median(ex))} (p90 {ms(pct(ex, 90))})",
            "≤ 5 ms",
            verdict(median(ex) <= 0.005),
        )
    )

    imp = raw["import"]
    t = {k: median(v) for k, v in imp["times"].items()}
    bare = t["nothing"]
    h, r = t["import helpers"] - bare, t["import requests_oauthlib"] - bare
    rows.append(
        (
            "import (fresh process, minus bare start-up)",
            f"helpers {ms(h)} vs requests_oauthlib {ms(r)}: ratio {h / r:.2f}; "
            f"wall {ms(t['import helpers'])} vs {ms(t['import requests_oauthlib'])}; "
            f"the four stage modules {ms(t['the four stages'] - bare)}; loaded by "
            f"`import helpers`: {imp['heavy_after_import_helpers']}",
            "ratio ≤ 1.2",
            verdict(h <= 1.2 * r),
        )
    )

    if "notebooks" in raw:
        nbs = raw["notebooks"]
        all_s = sum(seconds for seconds, _ in nbs.values())
        each = ", ".join(f"{k[:2]} {seconds:.1f}" for k, (seconds, _) in nbs.items())
        failed = [k for k, (_, missing) in nbs.items() if missing]
        rows.append(
            (
                "notebooks, headless, fresh kernel each",
                f"{all_s:.1f} s all together (s each: {each})"
                + (f"; goals missing in {failed}" if failed else ""),
                "≤ 30 s",
                verdict(all_s <= 30 and not failed),
            )
        )

    for results in raw["class"]:
        k = results[0]["k"]
        errs = sum(len(r["errors"]) for r in results)
        thr = median([r["throughput"] for r in results])
        p50 = median([r["p50"] for r in results])
        p99 = median([r["p99"] for r in results])
        first = next((e for r in results for e in r["errors"]), "")
        rows.append(
            (
                f"a class at once, K = {k}",
                f"{thr:.0f} flows/s ({raw['class_workers']} client processes); p50 {ms(p50)}, "
                f"p99 {ms(p99)}; {errs} errors" + (f" (first: {first})" if first else ""),
                "0 errors" + ("; ≥ 100 flows/s" if k == 200 else ""),
                verdict(errs == 0 and (k != 200 or thr >= 100)),
            )
        )
    return rows


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    print("Machine:")
    for k, v in machine().items():
        print(f"  {k}: {v}")
    print(f"Runs: {args.runs} per timing; medians unless marked.\n", flush=True)
    raw = run(args)
    print("\n| what | result (median) | target | |\n|---|---|---|---|")
    for row in report(raw):
        print("| " + " | ".join(row) + " |")
    if args.json:
        Path(args.json).write_text(json.dumps(raw, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
