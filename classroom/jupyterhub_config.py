"""A class on one machine: JupyterHub, one shared OAuth sandbox, one class callback.

    cd classroom && jupyterhub -f jupyterhub_config.py      # then open http://127.0.0.1:8000

Read classroom/README.md first. Everything is set by environment variables with working
defaults; the hub's database, secrets and the learners' home folders go to CLASSROOM_STATE_DIR.

    CLASSROOM_PUBLIC_URL    where browsers reach the hub          (http://127.0.0.1:8000)
    CLASSROOM_LEARNERS      learners' hub names, comma-separated  (alice,bob)
    CLASSROOM_INSTRUCTORS   instructors' hub names                (teacher)
    CLASSROOM_PASSWORD      the shared hub password of the built-in "shared-password"
                            authenticator, 8 characters or more (classroom)
                            (a trial only: use a real authenticator for a class)
    CLASSROOM_STATE_DIR     the hub's state                        (classroom/.state)
    CLASSROOM_HUB_PORT, CLASSROOM_PROXY_API_PORT, CLASSROOM_SANDBOX_PORT, CLASSROOM_ROUTER_PORT
                            loopback ports of the hub API, the proxy's API and the two services
                            (8081, 8001, 8770, 8771)

Two hub services: ``oauth-sandbox`` (the sandbox; browsers reach its sign-in pages at
/services/oauth-sandbox/, kernels its token endpoint and API on 127.0.0.1) and
``oauth-callback`` (classroom/router.py: the class's one redirect URI, and the instructor page
at /services/oauth-callback/instructor).
"""

import os
import secrets
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent

c = get_config()  # noqa: F821 - JupyterHub's config loader provides it


def env(name: str, default: str) -> str:
    return os.environ.get(name) or default


PUBLIC_URL = env("CLASSROOM_PUBLIC_URL", "http://127.0.0.1:8000").rstrip("/")
LEARNERS = [n.strip() for n in env("CLASSROOM_LEARNERS", "alice,bob").split(",") if n.strip()]
INSTRUCTORS = [n.strip() for n in env("CLASSROOM_INSTRUCTORS", "teacher").split(",") if n.strip()]
STATE = Path(env("CLASSROOM_STATE_DIR", str(HERE / ".state"))).resolve()
SANDBOX_PORT = int(env("CLASSROOM_SANDBOX_PORT", "8770"))
ROUTER_PORT = int(env("CLASSROOM_ROUTER_PORT", "8771"))
STATE.mkdir(mode=0o700, parents=True, exist_ok=True)


def kept_secret(name: str) -> str:
    """A random secret made at the first start and kept (0600) in the state folder."""
    path = STATE / name
    if not path.exists():
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32))
    return path.read_text().strip()


CLASS_SECRET = kept_secret("class-secret")  # learners' sandbox passwords are HMACs under it
CLIENT_ID = "classroom"
CLIENT_SECRET = kept_secret("client-secret")
EVENTS = STATE / "progress.jsonl"  # the sandbox's: each learner's stages
CLASS_EVENTS = STATE / "class-events.jsonl"  # the callback service's: URLs built, kernels' reports
SANDBOX_FRONT = PUBLIC_URL + "/services/oauth-sandbox"
CLASS_CALLBACK = PUBLIC_URL + "/services/oauth-callback/"

# --- the hub ---------------------------------------------------------------------------------
c.JupyterHub.bind_url = PUBLIC_URL + "/"
c.JupyterHub.public_url = PUBLIC_URL + "/"  # the notebooks need the browser-facing address
c.JupyterHub.hub_port = int(env("CLASSROOM_HUB_PORT", "8081"))
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.ConfigurableHTTPProxy.command = [str(HERE / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{env('CLASSROOM_PROXY_API_PORT', '8001')}"
c.ConfigurableHTTPProxy.auth_token = kept_secret("proxy-token")  # a leftover proxy still obeys
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")

# --- who may sign in -------------------------------------------------------------------------
c.JupyterHub.authenticator_class = "shared-password"  # one password for all (JupyterHub 5.3+)
c.SharedPasswordAuthenticator.user_password = env("CLASSROOM_PASSWORD", "classroom")
c.Authenticator.allowed_users = set(LEARNERS + INSTRUCTORS)
c.JupyterHub.load_groups = {"instructors": {"users": INSTRUCTORS}}
c.JupyterHub.load_roles = [
    {
        "name": "instructor",
        "groups": ["instructors"],
        "scopes": ["access:services!service=oauth-callback"],
    },
    {
        # The instructor page lists the whole class: the hub's users (names and the admin
        # flag), less the instructors group. Nothing more: no servers, tokens or activity.
        "name": "class-roster",
        "services": ["oauth-callback"],
        "scopes": ["list:users", "read:users:name", "read:groups!group=instructors"],
    },
]

# --- each learner's server: a local process, with the notebooks handed out -------------------
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(STATE / "home" / "{username}")
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.args = ["--allow-root"] if os.geteuid() == 0 else []


def learner_home(spawner) -> Path:
    return Path(spawner.home_dir_template.format(username=spawner.user.name))


LEARNER_ENV = """\
# Your own settings. The hub sets the class's values (the sandbox, the client, the redirect
# URI) in your server's environment, and those win over this file. This file also stops the
# notebooks' search for a .env here, in your home, so none above it is read.
"""


def hand_out_notebooks(spawner) -> None:
    """Copy the tutorial's notebooks into a new learner's home (nbgitpuller does this on a
    real hub: see the README), with an .env of their own: the notebooks look for the nearest
    .env upwards from their folder, and homes under classroom/.state would otherwise reach the
    repository's, the teacher's."""
    home = learner_home(spawner)
    if not (home / "notebooks").exists():
        home.mkdir(parents=True, exist_ok=True)
        shutil.copytree(REPO / "notebooks", home / "notebooks")
    if not (home / ".env").exists():
        (home / ".env").write_text(LEARNER_ENV, "utf-8")


c.Spawner.pre_spawn_hook = hand_out_notebooks


def token_file(spawner) -> str:
    """Where this learner's notebooks save their token: in their own home. (The tutorial's
    default, the repository's root, would be one file for the whole class, and one learner's
    notebook 5 would call the API with the token another learner saved last.)"""
    return str(learner_home(spawner) / ".tokens.json")


def sandbox_password(spawner) -> str:
    from helpers.sandbox.hub import class_password

    return class_password(CLASS_SECRET.encode(), spawner.user.name)


c.Spawner.environment = {
    # The kernel's back channel: the token endpoint and the API, straight on loopback.
    "OAUTH_SERVICE_URL": f"http://127.0.0.1:{SANDBOX_PORT}",
    "GOTO_API_URL": f"http://127.0.0.1:{SANDBOX_PORT}",
    # The browser's front channel: the sign-in pages, through the hub.
    "OAUTH_AUTHORIZE_BASE_URL": SANDBOX_FRONT,
    "OAUTH_CLIENT_ID": CLIENT_ID,
    "OAUTH_CLIENT_SECRET": CLIENT_SECRET,
    "OAUTH_REDIRECT_URI": CLASS_CALLBACK,  # the class's ONE redirect URI
    "OAUTH_CLASS_ROUTER_URL": f"http://127.0.0.1:{ROUTER_PORT}/services/oauth-callback/",
    "OAUTH_SANDBOX_PASSWORD": sandbox_password,  # this learner's, and only theirs
    "OAUTH_TOKEN_FILE": token_file,  # this learner's too
}

# --- the two services ------------------------------------------------------------------------
c.JupyterHub.services = [
    {
        "name": "oauth-sandbox",
        "url": f"http://127.0.0.1:{SANDBOX_PORT}",
        "command": [
            PYTHON,
            "-m",
            "helpers.sandbox",
            "--port",
            str(SANDBOX_PORT),
            "--data-dir",
            str(STATE / "sandbox"),
            "--client-id",
            CLIENT_ID,
            "--redirect-uri",
            CLASS_CALLBACK,
            "--public-url",
            SANDBOX_FRONT + "/",
            "--events-file",
            str(EVENTS),
            "--background",  # log a line, not the client secret, into the hub's log
        ],
        # Secrets go in the environment: the hub logs a service's command line, and ps shows it
        # to every local user.
        "environment": {
            "OAUTH_SANDBOX_CLASS_SECRET": CLASS_SECRET,
            "OAUTH_SANDBOX_CLIENT_SECRET": CLIENT_SECRET,
            "PYTHONPATH": str(REPO),
        },
    },
    {
        "name": "oauth-callback",
        "url": f"http://127.0.0.1:{ROUTER_PORT}",
        "command": [PYTHON, str(HERE / "router.py")],
        "environment": {
            "OAUTH_SANDBOX_EVENTS_FILE": str(EVENTS),
            "OAUTH_CLASS_EVENTS_FILE": str(CLASS_EVENTS),
        },
        "oauth_no_confirm": True,
    },
]
