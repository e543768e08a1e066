"""classroom/z2jh-values.yaml is valid YAML naming only keys of the Zero to JupyterHub chart.

The chart's keys below are from its ``jupyterhub/values.schema.yaml`` (the schema ``helm``
validates values against); below the free-form ones (``hub.config``, ``hub.services``,
``hub.extraFiles``, ``singleuser.extraEnv``, Kubernetes objects) nothing is checked here.
"""

from __future__ import annotations

from pathlib import Path

import yaml

VALUES = Path(__file__).resolve().parents[2] / "classroom" / "z2jh-values.yaml"

#: Chart keys used by the file, as dotted paths.
CHART_KEYS = {
    "hub",
    "hub.config",
    "hub.services",
    "hub.extraFiles",
    "hub.service",
    "hub.service.extraPorts",
    "hub.networkPolicy",
    "hub.networkPolicy.ingress",
    "singleuser",
    "singleuser.image",
    "singleuser.image.name",
    "singleuser.image.tag",
    "singleuser.defaultUrl",
    "singleuser.extraEnv",
    "singleuser.networkPolicy",
    "singleuser.networkPolicy.egress",
    "proxy",
    "proxy.https",
    "proxy.https.enabled",
    "proxy.https.hosts",
    "proxy.https.letsencrypt",
    "proxy.https.letsencrypt.contactEmail",
    "cull",
    "cull.enabled",
    "cull.timeout",
}
#: Below these, the content is JupyterHub's, Kubernetes' or ours, not the chart's.
FREE_FORM = {
    "hub.config",
    "hub.services",
    "hub.extraFiles",
    "hub.service.extraPorts",
    "hub.networkPolicy.ingress",
    "singleuser.extraEnv",
    "singleuser.networkPolicy.egress",
    "proxy.https.hosts",
}


def _paths(data, prefix=""):
    for key, value in data.items():
        path = f"{prefix}{key}"
        yield path
        if isinstance(value, dict) and path not in FREE_FORM:
            yield from _paths(value, path + ".")


def test_the_helm_values_are_yaml_naming_only_chart_keys():
    values = yaml.safe_load(VALUES.read_text("utf-8"))
    used = set(_paths(values))
    assert used <= CHART_KEYS, sorted(used - CHART_KEYS)


def test_the_helm_values_wire_the_class_callback_as_the_single_user_config_expects():
    values = yaml.safe_load(VALUES.read_text("utf-8"))
    env = values["singleuser"]["extraEnv"]
    service = values["hub"]["services"]["oauth-callback"]
    port = service["url"].rsplit(":", 1)[1]
    assert env["OAUTH_CLASS_ROUTER_URL"] == f"http://hub:{port}/services/oauth-callback/"
    assert env["OAUTH_REDIRECT_URI"].endswith("/services/oauth-callback/")
    assert {p["port"] for p in values["hub"]["service"]["extraPorts"]} == {int(port)}
    files = values["hub"]["extraFiles"]
    mount = files["classroom-router"]["mountPath"]
    assert service["command"][-1] == mount
    # router.py imports roster.py from its own folder
    assert files["classroom-roster"]["mountPath"] == str(Path(mount).with_name("roster.py"))
    roles = {r["name"]: r for r in values["hub"]["config"]["JupyterHub"]["load_roles"]}
    assert roles["instructor"]["scopes"] == ["access:services!service=oauth-callback"]
    # the service's own role is the one in classroom/jupyterhub_config.py
    assert roles["class-roster"]["services"] == ["oauth-callback"]
    assert roles["class-roster"]["scopes"] == [
        "list:users",
        "read:users:name",
        "read:groups!group=instructors",
    ]
