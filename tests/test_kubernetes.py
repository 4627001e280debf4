"""deploy/kubernetes: every manifest validated against the Kubernetes schemas kubernetes-validate ships (offline,
strict), the facts a safe deployment rests on read from the parsed YAML and tied to the code and the Dockerfile,
and `kubectl kustomize` run on the folder when kubectl is installed. The README's Ingress example is validated too.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from bot.config import PLACEHOLDER, ConfigError, Settings, load_app_config, load_settings
from bot.core.dispatch import SHUTDOWN_GRACE
from bot.slack.auth import TIMEOUT as SLACK_AUTH_TIMEOUT
from bot.web import READY_TIMEOUT
from tests.test_packaging import DOCKERFILE, README, ROOT, SECRET_VARIABLES, parse_dockerfile, stages

FOLDER = ROOT / "deploy" / "kubernetes"
# The oldest Kubernetes still widely run and the newest kubernetes-validate knows.
VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]
SETTINGS_NAMES = {field.validation_alias for field in Settings.model_fields.values()} - {None}
# What the bot cannot run without, whatever the mode.
REQUIRED_SECRETS = {"SLACK_BOT_TOKEN", "VICTOROPS_API_ID", "VICTOROPS_API_KEY", "VOBOT_DATABASE_URL"}


def _documents(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc is not None]


def _file(name: str) -> list[dict[str, Any]]:
    return _documents((FOLDER / name).read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def kustomization() -> dict[str, Any]:
    (document,) = _file("kustomization.yaml")
    return document


@pytest.fixture(scope="module")
def resources(kustomization: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every resource the kustomization lists, by kind (one of each)."""
    found = [doc for name in kustomization["resources"] for doc in _file(name)]
    by_kind = {doc["kind"]: doc for doc in found}
    assert len(by_kind) == len(found), "one resource of each kind"
    return by_kind


@pytest.fixture(scope="module")
def pod(resources: dict[str, dict[str, Any]]) -> dict[str, Any]:
    spec: dict[str, Any] = resources["Deployment"]["spec"]["template"]["spec"]
    return spec


@pytest.fixture(scope="module")
def container(pod: dict[str, Any]) -> dict[str, Any]:
    (only,) = pod["containers"]
    return only


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to open a connection fails the test: the schemas must come from the package."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"network access attempted: {args}")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


def _schema_errors(documents: list[dict[str, Any]], version: str) -> list[str]:
    errors = []
    for document in documents:
        try:
            kubernetes_validate.validate(document, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            path = "/".join(map(str, exc.absolute_path))
            errors.append(f"{document['kind']} {document['metadata']['name']}: {path}: {exc.message}")
    return errors


# ---- the schemas ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("version", VERSIONS)
def test_every_manifest_validates_against_the_kubernetes_schemas(
    resources: dict[str, dict[str, Any]], version: str, no_network: None
) -> None:
    assert set(resources) == {"Deployment", "Service", "PodDisruptionBudget", "Secret"}
    errors = _schema_errors(list(resources.values()), version)
    assert not errors, "\n".join(errors)


def test_the_schemas_catch_a_mistake(resources: dict[str, dict[str, Any]], no_network: None) -> None:
    """Strict mode: a misspelt field fails, so the test above can fail."""
    broken = yaml.safe_load(yaml.safe_dump(resources["Deployment"]))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbes"] = {}
    assert _schema_errors([broken], VERSIONS[0])


def test_the_kustomization_lists_every_file_in_the_folder(kustomization: dict[str, Any]) -> None:
    listed = set(kustomization["resources"])
    listed |= {name for generator in kustomization.get("configMapGenerator", []) for name in generator["files"]}
    present = {path.name for path in FOLDER.iterdir()} - {"kustomization.yaml"}
    assert listed == present, f"not in kustomization.yaml: {present - listed}; missing: {listed - present}"


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed: `kubectl kustomize` not run")
@pytest.mark.parametrize("version", VERSIONS)
def test_kubectl_kustomize_builds_what_validates(version: str) -> None:
    built = subprocess.run(
        ["kubectl", "kustomize", str(FOLDER)], capture_output=True, text=True, timeout=30, check=False
    )
    assert built.returncode == 0, built.stderr
    documents = _documents(built.stdout)
    errors = _schema_errors(documents, version)
    assert not errors, "\n".join(errors)
    by_kind = {doc["kind"]: doc for doc in documents}
    assert set(by_kind) == {"Deployment", "Service", "PodDisruptionBudget", "Secret", "ConfigMap"}
    # The generated ConfigMap's name carries a hash of vobot.yml, and the Deployment mounts it by that name.
    config_map = by_kind["ConfigMap"]
    volumes = {v["name"]: v for v in by_kind["Deployment"]["spec"]["template"]["spec"]["volumes"]}
    assert volumes["config"]["configMap"]["name"] == config_map["metadata"]["name"] != "vobot-config"
    assert config_map["data"]["vobot.yml"] == (FOLDER / "vobot.yml").read_text(encoding="utf-8")


# ---- the Deployment ---------------------------------------------------------------------------------------


def test_several_replicas_spread_across_nodes_and_a_disruption_budget(
    resources: dict[str, dict[str, Any]], pod: dict[str, Any]
) -> None:
    deployment = resources["Deployment"]
    assert deployment["spec"]["replicas"] >= 2
    assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, "a rolling update keeps capacity"
    labels = deployment["spec"]["selector"]["matchLabels"]
    assert deployment["spec"]["template"]["metadata"]["labels"] == labels
    (spread,) = pod["topologySpreadConstraints"]
    assert spread["topologyKey"] == "kubernetes.io/hostname" and spread["labelSelector"]["matchLabels"] == labels
    budget = resources["PodDisruptionBudget"]["spec"]
    assert budget["selector"]["matchLabels"] == labels and budget["minAvailable"] == 1
    assert resources["Service"]["spec"]["selector"] == labels


def test_the_pod_runs_as_the_images_user_unprivileged_on_a_read_only_root(
    pod: dict[str, Any], container: dict[str, Any]
) -> None:
    (user,) = [i for i in stages(parse_dockerfile(DOCKERFILE.read_text(encoding="utf-8")))[-1] if i.keyword == "USER"]
    uid, _, gid = user.args.partition(":")
    context = pod["securityContext"]
    assert context["runAsNonRoot"] is True and context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert (str(context["runAsUser"]), str(context["runAsGroup"])) == (uid, gid)
    own = container["securityContext"]
    assert own["allowPrivilegeEscalation"] is False and own["readOnlyRootFilesystem"] is True
    assert own["capabilities"] == {"drop": ["ALL"]} and own["runAsNonRoot"] is True
    assert pod["automountServiceAccountToken"] is False
    # Writable: /tmp only (an emptyDir); the configuration is mounted read-only; Python writes no .pyc.
    mounts = {m["mountPath"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    writable = {path for path, m in mounts.items() if not m.get("readOnly")}
    assert writable == {"/tmp"} and "emptyDir" in volumes[mounts["/tmp"]["name"]]
    assert _plain_env(container)["PYTHONDONTWRITEBYTECODE"] == "1"


def test_the_image_is_the_one_the_dockerfile_builds(container: dict[str, Any], kustomization: dict[str, Any]) -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert container["image"] == compose["services"]["vobot"]["image"] == "vobot"
    (image,) = kustomization["images"]
    assert image["name"] == "vobot" and "example" in image["newName"], "a placeholder registry, to be replaced"
    assert container.get("args", ["run"]) == ["run"] and "command" not in container, "the image's `vobot run`"


def _port(container: dict[str, Any], port: int | str) -> int:
    if isinstance(port, int):
        return port
    (named,) = [p["containerPort"] for p in container["ports"] if p["name"] == port]
    return int(named)


def test_probes_on_healthz_and_readyz_at_the_apps_port(
    container: dict[str, Any], resources: dict[str, dict[str, Any]]
) -> None:
    (declared,) = container["ports"]
    port = declared["containerPort"]
    assert port == int(_plain_env(container)["PORT"]) == Settings.model_fields["port"].default
    for probe, path in [("startupProbe", "/healthz"), ("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")]:
        get = container[probe]["httpGet"]
        assert get["path"] == path and _port(container, get["port"]) == port, probe
    # /readyz asks the database, then Slack, each waiting up to its timeout: the probe must outwait both.
    assert container["readinessProbe"]["timeoutSeconds"] > READY_TIMEOUT + SLACK_AUTH_TIMEOUT
    (service_port,) = resources["Service"]["spec"]["ports"]
    assert _port(container, service_port["targetPort"]) == port


def test_termination_outlasts_the_drain(pod: dict[str, Any], container: dict[str, Any]) -> None:
    command = container["lifecycle"]["preStop"]["exec"]["command"]
    assert command[0] == "sleep", "the slim image has sleep (coreutils) and nothing that needs a shell"
    pre_stop = float(command[1])
    # preStop, then SIGTERM: the call in flight gets SHUTDOWN_GRACE; the rest of the drain is local and quick.
    assert pod["terminationGracePeriodSeconds"] >= 2 * (pre_stop + SHUTDOWN_GRACE)


def test_resources_are_requested_and_limited(container: dict[str, Any]) -> None:
    resources = container["resources"]
    assert set(resources["requests"]) == set(resources["limits"]) == {"cpu", "memory"}
    request, limit = (int(resources[kind]["memory"].removesuffix("Mi")) for kind in ("requests", "limits"))
    # bench_footprint.py: 109 MB after load; the request leaves room, the limit more.
    assert 150 <= request < limit


# ---- the environment, the Secret and the ConfigMap --------------------------------------------------------


def _plain_env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"] if "value" in e}


def _secret_refs(container: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"] if "secretKeyRef" in e.get("valueFrom", {})
    }


def test_every_variable_is_one_vobot_reads(container: dict[str, Any]) -> None:
    names = [e["name"] for e in container["env"]]
    assert len(names) == len(set(names)), "a variable is set twice"
    assert set(names) - {"PYTHONDONTWRITEBYTECODE"} <= SETTINGS_NAMES, f"unknown: {set(names) - SETTINGS_NAMES}"
    assert "envFrom" not in container, "every variable named, so the tests can check each"


def test_secrets_come_from_the_secret_and_it_holds_every_key_referenced(
    container: dict[str, Any], resources: dict[str, dict[str, Any]]
) -> None:
    secret = resources["Secret"]
    refs = _secret_refs(container)
    assert {ref["name"] for ref in refs.values()} == {secret["metadata"]["name"]}
    assert all(ref["key"] == name for name, ref in refs.items()), "each key is the variable's name"
    template = secret["stringData"]
    assert set(refs) == set(template), "the template holds every key the Deployment reads, and no other"
    assert "VOBOT_DATABASE_URL" in refs and (SECRET_VARIABLES | {"VOBOT_WEBHOOK_TOKEN"}) <= set(refs)
    assert not set(_plain_env(container)) & set(refs), "no secret as a plain value"
    # Required keys must exist (the pod waits for them); the mode-dependent and optional ones may be deleted.
    assert {name for name, ref in refs.items() if not ref.get("optional")} == REQUIRED_SECRETS


def test_the_secret_template_holds_only_placeholders_that_never_run_a_bot(
    resources: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    template = resources["Secret"]["stringData"]
    assert set(template.values()) == {PLACEHOLDER} and "data" not in resources["Secret"]
    text = (FOLDER / "secret.yaml").read_text(encoding="utf-8")
    assert not re.search(r"xox[abpe]-\w|xapp-\d|://[a-z0-9_]+:[^@\s]+@", text), (
        "nothing that looks like a real token or URL"
    )
    monkeypatch.chdir(tmp_path)  # no stray .env
    with pytest.raises(ConfigError) as refused:
        load_settings(**template)
    assert sorted(p.partition(":")[0] for p in refused.value.problems) == sorted(template), "each key one line"


def test_the_config_file_is_mounted_where_vobot_config_points_and_is_valid(
    pod: dict[str, Any], container: dict[str, Any], kustomization: dict[str, Any]
) -> None:
    path = Path(_plain_env(container)["VOBOT_CONFIG"])
    mounts = {m["name"]: m for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"] if "configMap" in v}
    (name,) = volumes
    assert mounts[name]["readOnly"] is True and path.parent == Path(mounts[name]["mountPath"])
    (generator,) = kustomization["configMapGenerator"]
    assert generator["name"] == volumes[name]["configMap"]["name"] and path.name in generator["files"]
    load_app_config(FOLDER / path.name)  # raises ConfigError naming the key if the shipped file is invalid


# ---- the README's Ingress example -------------------------------------------------------------------------


def test_the_readmes_ingress_example_validates_and_exposes_only_slack_and_the_webhook(no_network: None) -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", README.read_text(encoding="utf-8"), re.DOTALL)
    (ingress,) = [d for b in blocks for d in _documents(b) if isinstance(d, dict) and d.get("kind") == "Ingress"]
    errors = _schema_errors([ingress], VERSIONS[0])
    assert not errors, "\n".join(errors)
    paths = [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert {p["path"] for p in paths} == {"/slack/events", "/victorops/webhook"}, "not /metrics to the internet"
    service = _file("service.yaml")[0]
    assert {p["backend"]["service"]["name"] for p in paths} == {service["metadata"]["name"]}
    assert {p["backend"]["service"]["port"]["name"] for p in paths} == {service["spec"]["ports"][0]["name"]}
