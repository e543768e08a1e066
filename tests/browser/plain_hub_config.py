# A JupyterHub with nothing of the class's: one learner, local-process servers, no services but
# a test-only admin one. The notebooks must find their way through jupyter-server-proxy alone.
# Started by tests/browser/test_server_proxy_hub.py, which sets the PLAIN_HUB_* variables.
import os
import sys
from pathlib import Path

c = get_config()  # noqa: F821 - JupyterHub's config loader provides it

STATE = Path(os.environ["PLAIN_HUB_STATE"])
BIN = Path(sys.executable).parent

c.JupyterHub.bind_url = os.environ["PLAIN_HUB_URL"] + "/"
c.JupyterHub.public_url = os.environ["PLAIN_HUB_URL"] + "/"  # JUPYTERHUB_PUBLIC_URL: the origin
c.JupyterHub.hub_port = int(os.environ["PLAIN_HUB_PORT"])
c.JupyterHub.db_url = f"sqlite:///{STATE / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(STATE / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(STATE / "jupyterhub.pid")
c.ConfigurableHTTPProxy.command = [os.environ["PLAIN_HUB_PROXY"]]
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{os.environ['PLAIN_HUB_PROXY_API_PORT']}"
c.ConfigurableHTTPProxy.auth_token = os.environ["PLAIN_HUB_PROXY_TOKEN"]
c.ConfigurableHTTPProxy.pid_file = str(STATE / "jupyterhub-proxy.pid")

c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = os.environ["PLAIN_HUB_PASSWORD"]
c.Authenticator.allowed_users = {"learner"}

c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(STATE / "home" / "{username}")
c.Spawner.cmd = [str(BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
c.Spawner.args = ["--allow-root"] if os.geteuid() == 0 else []
c.Spawner.environment = {
    k[len("PLAIN_HUB_ENV_") :]: v for k, v in os.environ.items() if k.startswith("PLAIN_HUB_ENV_")
}

c.JupyterHub.services = [{"name": "test-admin", "api_token": os.environ["PLAIN_HUB_ADMIN_TOKEN"]}]
c.JupyterHub.load_roles = [
    {
        "name": "test-admin",
        "services": ["test-admin"],
        "scopes": ["admin:users", "admin:servers", "read:users"],
    }
]
