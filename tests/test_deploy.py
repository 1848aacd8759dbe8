"""The Kubernetes manifests and the Compose file: valid offline, and true to the image and service.

The image's facts (its numeric user, its port, its health check) are read from
the Dockerfile, the service's from the code, so that none is written down twice.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import kubernetes_validate
import pytest
import yaml

import simple_flask
from simple_flask.core.settings import Settings
from tests.support import ROOT, skip_or_fail

KUBERNETES = ROOT / "deploy" / "kubernetes"
REDIS_COMPONENT = ROOT / "deploy" / "components" / "redis"
COMPOSE = ROOT / "deploy" / "compose.yaml"
KUSTOMIZATION = ROOT / "deploy" / "kustomization.yaml"
NGINX_CONF = ROOT / "deploy" / "nginx" / "simple_flask.conf"
DOCKERFILE = ROOT / "Dockerfile"
# What `kubectl apply -f DIR` reads from a directory: files with these endings.
KUBECTL_EXTENSIONS = (".yaml", ".yml", ".json")
# The oldest Kubernetes the manifests are written for (the preStop sleep
# action is on by default from 1.30), and the newest the validator knows.
KUBERNETES_VERSIONS = ("1.30", kubernetes_validate.latest_version())
EXPECTED_OBJECTS = {
    ("Deployment", "simple-flask"),
    ("Service", "simple-flask"),
    ("HorizontalPodAutoscaler", "simple-flask"),
    ("PodDisruptionBudget", "simple-flask"),
    ("ConfigMap", "simple-flask"),
}
# What the Redis component adds to them.
REDIS_OBJECTS = {
    ("Deployment", "simple-flask-redis"),
    ("Service", "simple-flask-redis"),
    ("NetworkPolicy", "simple-flask-redis"),
}
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")


class _StrictLoader(yaml.SafeLoader):
    """A YAML loader that refuses a key given twice in one mapping, which PyYAML lets pass."""


def _no_duplicate_keys(loader, node, deep=False):
    keys = [loader.construct_object(key, deep=deep) for key, _ in node.value]
    duplicates = sorted({key for key in keys if keys.count(key) > 1}, key=str)
    if duplicates:
        raise yaml.constructor.ConstructorError(
            None, None, f"duplicate keys {duplicates}", node.start_mark
        )
    return loader.construct_mapping(node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _no_duplicate_keys)


def load_all(path: Path) -> list[dict]:
    """Return the YAML documents of `path`, empty ones left out."""
    return [doc for doc in yaml.load_all(path.read_text(), Loader=_StrictLoader) if doc]


def manifest_files() -> list[Path]:
    """The files `kubectl apply -f deploy/kubernetes/` reads, as kubectl picks them."""
    return sorted(path for path in KUBERNETES.iterdir() if path.suffix in KUBECTL_EXTENSIONS)


def redis_files() -> list[Path]:
    """The object files of the Redis component (its kustomization.yaml aside)."""
    return sorted(
        path
        for path in REDIS_COMPONENT.iterdir()
        if path.suffix in KUBECTL_EXTENSIONS and path.name != "kustomization.yaml"
    )


def objects() -> dict[tuple[str, str], dict]:
    """Every object of the plain manifests, by kind and name."""
    found = {}
    for path in manifest_files():
        for document in load_all(path):
            key = (document["kind"], document["metadata"]["name"])
            assert key not in found, f"{key} is defined twice"
            found[key] = document
    return found


def deployment() -> dict:
    """The Deployment object."""
    return objects()[("Deployment", "simple-flask")]


def container() -> dict:
    """The Deployment's one container."""
    (only,) = deployment()["spec"]["template"]["spec"]["containers"]
    return only


def dockerfile() -> dict[str, list[str]]:
    """The instructions of the Dockerfile's final stage: instruction -> arguments, in order."""
    if not DOCKERFILE.is_file():
        pytest.fail(f"{DOCKERFILE.relative_to(ROOT)} is missing; the manifests are built from it")
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    stage: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, arguments = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "FROM":
            stage = {}
        stage.setdefault(instruction, []).append(arguments.strip())
    return stage


def image_uid() -> int:
    """The numeric user id the image runs as (its last USER)."""
    user = dockerfile()["USER"][-1]
    uid = user.split(":")[0]
    assert uid.isdigit(), f"USER {user}: Kubernetes checks runAsNonRoot only with a numeric uid"
    return int(uid)


def image_gid() -> int | None:
    """The numeric group id of the image's USER, if it names one."""
    user = dockerfile()["USER"][-1]
    return int(user.split(":")[1]) if ":" in user else None


def image_port() -> int:
    """The one TCP port the image exposes."""
    (exposed,) = " ".join(dockerfile()["EXPOSE"]).split()
    port, _, protocol = exposed.partition("/")
    assert protocol in ("", "tcp"), exposed
    return int(port)


def image_healthcheck() -> list[str]:
    """The image's health check command as argv words."""
    healthcheck = dockerfile()["HEALTHCHECK"][-1]
    command = re.split(r"(?:^|\s)CMD\s+", healthcheck, maxsplit=1)[1].strip()
    return json.loads(command) if command.startswith("[") else shlex.split(command)


def port_number(port: int | str) -> int:
    """Resolve a probe's or Service's port, a number or the container port's name."""
    if isinstance(port, int):
        return port
    (named,) = [entry for entry in container()["ports"] if entry.get("name") == port]
    return named["containerPort"]


def seconds(duration: str) -> float:
    """Seconds in a Compose duration such as 20s, 1m30s or 1.5s."""
    parts = re.fullmatch(r"(?:(\d+)h)?(?:(\d+)m(?!s))?(?:(\d+(?:\.\d+)?)s)?", duration)
    assert parts and duration, f"not a duration: {duration!r}"
    hours, minutes, secs = (float(part or 0) for part in parts.groups())
    return hours * 3600 + minutes * 60 + secs


def kubectl(*arguments: str, tmp_path: Path) -> str:
    """Run a kubectl command that needs no cluster; fail the test if kubectl is missing in CI."""
    if shutil.which("kubectl") is None:
        message = "kubectl is not installed; it checks what kubectl makes of the manifests"
        skip_or_fail(message)
    # An empty configuration: nothing here may reach a cluster.
    config = tmp_path / "kubeconfig"
    config.write_text("")
    result = subprocess.run(
        ["kubectl", *arguments],
        capture_output=True,
        text=True,
        env={**os.environ, "KUBECONFIG": str(config)},
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


# --- every manifest is a valid Kubernetes object ---------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize(
    "path",
    # The plain manifests and the Redis component's objects.
    manifest_files() + redis_files(),
    ids=lambda path: str(path.relative_to(ROOT / "deploy")),
)
def test_manifest_is_valid_for_kubernetes(path, version):
    documents = load_all(path)
    assert documents, f"{path.name} holds no object"
    for document in documents:
        # strict: a misspelt or misplaced field is an error, not ignored.
        kubernetes_validate.validate(document, version, strict=True)


def test_validation_catches_a_misplaced_field():
    broken = json.loads(json.dumps(deployment()))
    broken["spec"]["template"]["spec"]["containers"][0]["readOnlyRootFileSystem"] = True
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def test_a_key_given_twice_is_refused(tmp_path):
    # The second `image:` would silently win over the first in PyYAML.
    twice = tmp_path / "twice.yaml"
    twice.write_text("kind: Pod\nspec:\n  image: a\n  image: b\n")
    with pytest.raises(yaml.constructor.ConstructorError, match="duplicate keys"):
        load_all(twice)


def test_the_directory_holds_exactly_the_service_objects():
    assert set(objects()) == EXPECTED_OBJECTS
    for key, document in objects().items():
        assert "namespace" not in document["metadata"], f"{key}: kubectl -n picks the namespace"


def test_kubectl_reads_the_directory_as_these_objects(tmp_path):
    # `label --local` reads files exactly as `apply -f` does, with no cluster.
    names = kubectl(
        "label", "--local", "-f", str(KUBERNETES), "checked=yes", "-o", "name", tmp_path=tmp_path
    ).split()
    assert sorted(names) == [
        "configmap/simple-flask",
        "deployment.apps/simple-flask",
        "horizontalpodautoscaler.autoscaling/simple-flask",
        "poddisruptionbudget.policy/simple-flask",
        "service/simple-flask",
    ]


def kustomize(directory: Path, tmp_path: Path) -> dict[tuple[str, str], dict]:
    """What `kubectl kustomize directory` builds, by kind and name."""
    built = yaml.safe_load_all(kubectl("kustomize", str(directory), tmp_path=tmp_path))
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in built}


def without_redis_component(tmp_path: Path) -> Path:
    """A copy of deploy/ whose kustomization leaves the Redis component out, as a cluster with
    a managed Redis would."""
    copy = tmp_path / "deploy"
    shutil.copytree(
        KUSTOMIZATION.parent, copy, ignore=shutil.ignore_patterns("*.py", "__pycache__")
    )
    kustomization = load_all(KUSTOMIZATION)[0]
    assert kustomization.pop("components") == ["components/redis"]
    (copy / KUSTOMIZATION.name).write_text(yaml.safe_dump(kustomization))
    return copy


def test_kustomize_without_the_redis_component_builds_the_same_objects(tmp_path):
    kustomization = load_all(KUSTOMIZATION)[0]
    assert sorted(kustomization["resources"]) == sorted(
        str(path.relative_to(KUSTOMIZATION.parent)) for path in manifest_files()
    )
    assert kustomize(without_redis_component(tmp_path), tmp_path) == objects()


def test_kustomize_with_the_redis_component_adds_redis_and_points_the_pods_at_it(tmp_path):
    built = kustomize(KUSTOMIZATION.parent, tmp_path)
    assert set(built) == EXPECTED_OBJECTS | REDIS_OBJECTS
    expected = objects()
    expected[("ConfigMap", "simple-flask")]["data"]["SIMPLE_FLASK_STATE_URL"] = state_url(built)
    # Only the ConfigMap's URL differs from the plain manifests.
    assert {key: built[key] for key in expected} == expected
    assert state_url(built) != state_url(objects())
    for key in REDIS_OBJECTS:
        assert built[key] == redis_objects()[key]


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("component", [True, False], ids=["with-redis", "without-redis"])
def test_every_object_kustomize_builds_is_valid_for_kubernetes(component, version, tmp_path):
    directory = KUSTOMIZATION.parent if component else without_redis_component(tmp_path)
    built = kustomize(directory, tmp_path)
    assert (("Deployment", "simple-flask-redis") in built) is component
    for document in built.values():
        kubernetes_validate.validate(document, version, strict=True)


# --- the Deployment ------------------------------------------------------------------------------


def test_three_replicas_roll_out_without_losing_one():
    spec = deployment()["spec"]
    assert spec["replicas"] == 3
    assert spec["strategy"]["type"] == "RollingUpdate"
    rolling = spec["strategy"]["rollingUpdate"]
    assert rolling["maxUnavailable"] == 0
    # With nothing unavailable allowed, a rollout can only go on by surging.
    assert rolling["maxSurge"] not in (0, "0%")


def test_selectors_match_the_pods():
    labels = deployment()["spec"]["template"]["metadata"]["labels"]
    selectors = {
        "Deployment": deployment()["spec"]["selector"]["matchLabels"],
        "Service": objects()[("Service", "simple-flask")]["spec"]["selector"],
        "PodDisruptionBudget": objects()[("PodDisruptionBudget", "simple-flask")]["spec"][
            "selector"
        ]["matchLabels"],
    }
    for kind, selector in selectors.items():
        assert selector and selector.items() <= labels.items(), kind


def test_image_tag_is_the_package_version():
    image = f"simple-flask:{simple_flask.__version__}"
    assert container()["image"] == image
    kustomization = load_all(KUSTOMIZATION)[0]
    assert kustomization["images"] == [{"name": "simple-flask", "newTag": simple_flask.__version__}]
    # Compose names it in full, as buildah and podman store a local build.
    assert load_all(COMPOSE)[0]["services"]["simple-flask"]["image"] == f"localhost/{image}"


def test_container_port_is_the_image_port_and_the_service_port():
    (port,) = container()["ports"]
    assert port["containerPort"] == image_port()
    assert port.get("protocol", "TCP") == "TCP"
    environment = {
        entry["name"]: entry["value"] for entry in container()["env"] if "value" in entry
    }
    # The settings the pod gives the service are ones it accepts, and it
    # listens where Kubernetes sends traffic.
    settings = Settings.from_env(environment)
    assert settings.port == port["containerPort"]
    assert settings.host in ("0.0.0.0", "::")
    service = objects()[("Service", "simple-flask")]
    (service_port,) = service["spec"]["ports"]
    assert port_number(service_port["targetPort"]) == port["containerPort"]


# Readiness depends on the sequence store; liveness and start-up never do, so
# an unreachable Redis takes pods out of rotation without restarting them.
PROBE_PATHS = {"startupProbe": "/healthz", "readinessProbe": "/readyz", "livenessProbe": "/healthz"}


@pytest.mark.parametrize("probe", PROBES)
def test_probes_ask_the_health_route_on_the_container_port(probe, client):
    check = container()[probe]["httpGet"]
    assert check.get("scheme", "HTTP") == "HTTP"
    assert port_number(check["port"]) == image_port()
    assert check["path"] == PROBE_PATHS[probe]
    # The route the probe asks for is the service's health or readiness route.
    response = client.get(check["path"])
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_liveness_gives_a_busy_pod_more_time_than_readiness():
    live, ready = container()["livenessProbe"], container()["readinessProbe"]

    def patience(probe):
        return probe.get("periodSeconds", 10) * probe.get("failureThreshold", 3)

    assert patience(live) > patience(ready)
    assert live.get("timeoutSeconds", 1) >= ready.get("timeoutSeconds", 1)


def test_termination_grace_outlasts_the_shutdown_grace():
    pod = deployment()["spec"]["template"]["spec"]
    pre_stop = container()["lifecycle"]["preStop"]["sleep"]["seconds"]
    assert pod["terminationGracePeriodSeconds"] > pre_stop + Settings().shutdown_grace


def test_the_pod_runs_as_the_image_user_with_nothing_to_spare():
    pod = deployment()["spec"]["template"]["spec"]
    security = container()["securityContext"]
    for context in (pod["securityContext"], security):
        assert context["runAsNonRoot"] is True
        assert context["runAsUser"] == image_uid() != 0
        if image_gid() is not None:
            assert context["runAsGroup"] == image_gid()
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security.get("privileged", False) is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    # Nothing to write to: no volume at all, not even an emptyDir for /tmp.
    assert "volumes" not in pod
    assert "volumeMounts" not in container()
    assert pod["automountServiceAccountToken"] is False


def test_no_service_variables_reach_the_settings():
    # Service links would put SIMPLE_FLASK_SERVICE_HOST, SIMPLE_FLASK_PORT and
    # the like into the environment, where the service reads SIMPLE_FLASK_*.
    assert deployment()["spec"]["template"]["spec"]["enableServiceLinks"] is False


def test_resources_are_guaranteed_and_one_core():
    resources = container()["resources"]
    assert resources["requests"] == resources["limits"]
    assert set(resources["requests"]) == {"cpu", "memory"}
    assert resources["requests"]["cpu"] in ("1", 1, "1000m")
    memory = re.fullmatch(r"(\d+)Mi", resources["requests"]["memory"])
    assert memory and 64 <= int(memory.group(1)) <= 1024


# --- autoscaling and disruptions -----------------------------------------------------------------


def test_autoscaler_scales_the_deployment_on_cpu():
    spec = objects()[("HorizontalPodAutoscaler", "simple-flask")]["spec"]
    assert spec["scaleTargetRef"] == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "name": "simple-flask",
    }
    assert spec["minReplicas"] == deployment()["spec"]["replicas"]
    assert spec["maxReplicas"] > spec["minReplicas"]
    (metric,) = spec["metrics"]
    assert metric["type"] == "Resource"
    assert metric["resource"]["name"] == "cpu"
    target = metric["resource"]["target"]
    assert target["type"] == "Utilization"
    assert 50 <= target["averageUtilization"] <= 90
    # Utilization is measured against the request, which must therefore exist.
    assert "cpu" in container()["resources"]["requests"]


def test_disruption_budget_lets_drains_go_on_one_pod_at_a_time():
    spec = objects()[("PodDisruptionBudget", "simple-flask")]["spec"]
    assert spec["maxUnavailable"] == 1
    assert "minAvailable" not in spec
    assert spec["maxUnavailable"] < deployment()["spec"]["replicas"]
    assert spec["unhealthyPodEvictionPolicy"] == "AlwaysAllow"


# --- the Dockerfile's contract -------------------------------------------------------------------


def test_dockerfile_runs_start_py_as_a_numeric_non_root_user():
    assert image_uid() != 0
    assert json.loads(dockerfile()["CMD"][-1]) == ["python", "start.py"]


# --- Compose -------------------------------------------------------------------------------------


def compose_services() -> dict[str, dict]:
    """Every service of the Compose file, by name."""
    document = load_all(COMPOSE)[0]
    assert set(document) <= {"name", "services", "networks", "volumes", "configs", "secrets"}
    assert {"simple-flask", "nginx", "redis"} <= set(document["services"])
    return document["services"]


def compose_service() -> dict:
    """The simple-flask service of the Compose file."""
    return compose_services()["simple-flask"]


def compose_nginx() -> dict:
    """The nginx service of the Compose file."""
    return compose_services()["nginx"]


def test_compose_runs_read_only_and_unprivileged():
    service = compose_service()
    assert service["read_only"] is True
    assert "tmpfs" not in service
    assert "volumes" not in service
    assert service["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in service["security_opt"]
    assert "privileged" not in service
    # The image's own user, not one of Compose's choosing.
    assert "user" not in service


def interpolated(text: str) -> str:
    """`text` as Compose reads it with no variable set: each ${NAME:-default} its default."""
    assert "$" not in re.sub(r"\$\{[A-Z_]+:-[^}]*\}", "", text), f"only ${{NAME:-default}}: {text}"
    return re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", text)


def published(service: dict) -> list[tuple[str, int, int]]:
    """The address, host port and container port of each port `service` publishes."""
    found = []
    for entry in service.get("ports", []):
        parts = re.fullmatch(r"(\d+\.\d+\.\d+\.\d+):(\d+):(\d+)", interpolated(entry))
        # One host port for one container port: a range (8080-8082) is a
        # port per replica, which not every engine allocates.
        assert parts, f"not ADDRESS:PORT:PORT: {entry}"
        found.append((parts.group(1), int(parts.group(2)), int(parts.group(3))))
    return found


def test_compose_follows_the_compose_specification():
    """Docker Compose v2 reads the Compose Specification: a strict parser of it accepts the file."""
    from compose_spec import PyCompose

    text = interpolated(COMPOSE.read_text())
    assert set(PyCompose.from_yaml(text).service_names()) == {"simple-flask", "nginx", "redis"}
    # The parser refuses what the specification does not allow.
    for wrong in ("mode: replicatd", "restrt: unless-stopped"):
        right = wrong.replace("replicatd", "replicated").replace("restrt", "restart")
        assert right in text
        with pytest.raises(ValueError):
            PyCompose.from_yaml(text.replace(right, wrong, 1))


def test_compose_names_every_image_in_full():
    # A name in full leaves podman no registry to choose (a short name needs
    # a search list), and Docker reads it as the short name it stands for.
    images = {name: service["image"] for name, service in compose_services().items()}
    assert images == {
        "simple-flask": f"localhost/simple-flask:{simple_flask.__version__}",
        "nginx": "docker.io/library/nginx:1.28-bookworm",
        "redis": "docker.io/library/redis:7.2.10-bookworm",
    }


def test_compose_starts_every_replica_and_publishes_nginx_alone():
    service = compose_service()
    assert service["deploy"]["mode"] == "replicated"
    assert service["deploy"]["replicas"] >= 2
    assert Settings.from_env(service["environment"]).port == image_port()
    # Replicas publish nothing: a fixed host port can be taken by one of them
    # only. nginx's is the one way in, on loopback.
    assert {name for name, each in compose_services().items() if "ports" in each} == {"nginx"}
    ((address, port, target),) = published(compose_nginx())
    assert (address, port) == ("127.0.0.1", 8000)
    assert compose_nginx()["ports"] == [f"127.0.0.1:${{SIMPLE_FLASK_NGINX_PORT:-{port}}}:{target}"]


@pytest.mark.parametrize("name", ["simple-flask", "redis"])
def test_compose_health_checks_need_no_newer_engine(name):
    healthcheck = compose_services()[name]["healthcheck"]
    # start_interval needs Docker Engine 25 and is refused by podman 4.3.
    assert set(healthcheck) <= {"test", "interval", "timeout", "retries", "start_period"}
    for key in ("interval", "timeout", "start_period"):
        assert seconds(healthcheck[key]) > 0


def test_compose_health_check_is_the_image_health_check_asking_readiness():
    healthcheck = compose_service()["healthcheck"]
    # A string, run by the image's /bin/sh: podman-compose 1.0.3 spoils a
    # list for every replica after the first. Plain words, nothing for a
    # shell to expand.
    assert isinstance(healthcheck["test"], str)
    assert re.fullmatch(r"[\w /.-]+", healthcheck["test"]), healthcheck["test"]
    # The image's command, asking /readyz: Compose has one check, and a
    # replica whose sequence store is out of reach should not count as up.
    assert shlex.split(healthcheck["test"]) == [*image_healthcheck(), "--path", "/readyz"]
    assert seconds(healthcheck["timeout"]) < seconds(healthcheck["interval"])


def test_compose_stop_grace_outlasts_the_shutdown_grace():
    assert seconds(compose_service()["stop_grace_period"]) > Settings().shutdown_grace


def test_compose_builds_from_the_dockerfile():
    build = compose_service()["build"]
    context = (COMPOSE.parent / build["context"]).resolve()
    assert context / build["dockerfile"] == DOCKERFILE
    assert DOCKERFILE.is_file()


def test_compose_limits_match_the_pod():
    limits = compose_service()["deploy"]["resources"]["limits"]
    pod = container()["resources"]["limits"]
    assert float(limits["cpus"]) == float(pod["cpu"])
    assert limits["memory"].removesuffix("M") == pod["memory"].removesuffix("Mi")


def nginx_directive(name: str) -> list[str]:
    """The arguments of every `name` directive of deploy/nginx/simple_flask.conf."""
    found = []
    for line in NGINX_CONF.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line.startswith(name + " ") and line.endswith(";"):
            found.append(line[len(name) : -1].strip())
    return found


def test_compose_puts_nginx_in_front_of_every_replica():
    nginx = compose_nginx()
    (volume,) = nginx["volumes"]
    source, target, mode = volume.split(":")
    # The shipped configuration, as the server block of nginx's http context.
    assert (COMPOSE.parent / source).resolve() == NGINX_CONF
    assert target == "/etc/nginx/conf.d/default.conf"
    assert mode == "ro"
    # Its upstream is the replicas' service name and port: one name for all of them,
    # never marked down for what one client asked for.
    assert nginx_directive("server") == [f"simple-flask:{image_port()} max_fails=0"]
    ((address, _, target_port),) = published(nginx)
    assert address == "127.0.0.1"
    assert nginx_directive("listen") == [str(target_port)]
    assert nginx["depends_on"] == {"simple-flask": {"condition": "service_healthy"}}
    assert re.fullmatch(r"docker\.io/library/nginx:\d+\.\d+(\.\d+)?-bookworm", nginx["image"])


def test_the_replicas_trust_the_one_http_client_that_reaches_them():
    environment = compose_service()["environment"]
    # Any peer: nginx has no fixed address that every Compose implementation
    # gives it (podman-compose 1.0.3 refuses ipv4_address).
    assert Settings.from_env(environment).trusted_proxy == "*"
    (network,) = compose_service()["networks"]
    # The replicas publish no port, and share their one network with nginx
    # and Redis only: nginx is the only client that can send them headers.
    assert "ports" not in compose_service()
    assert {name for name, each in compose_services().items() if network in each["networks"]} == {
        "simple-flask",
        "nginx",
        "redis",
    }
    assert compose_nginx()["networks"] == [network]
    # No fixed subnet or address to clash with the host's networks.
    assert load_all(COMPOSE)[0]["networks"] == {network: {}}


def test_compose_runs_nginx_read_only_with_few_capabilities():
    nginx = compose_nginx()
    assert nginx["read_only"] is True
    # Only its cache and pid file are written, to memory.
    assert sorted(nginx["tmpfs"]) == ["/run", "/var/cache/nginx"]
    assert nginx["cap_drop"] == ["ALL"]
    assert set(nginx["cap_add"]) <= {"CHOWN", "SETGID", "SETUID", "NET_BIND_SERVICE"}
    assert "no-new-privileges:true" in nginx["security_opt"]
    assert seconds(nginx["stop_grace_period"]) >= seconds(compose_service()["stop_grace_period"])


@pytest.mark.parametrize(
    ("duration", "expected"), [("20s", 20), ("1m30s", 90), ("1.5s", 1.5), ("1h", 3600)]
)
def test_compose_durations_are_read_right(duration, expected):
    assert seconds(duration) == expected


def test_the_deploy_page_shows_nginx_and_the_buildah_build():
    page = (ROOT / "docs" / "deploy.md").read_text()
    assert "\n## nginx in front\n" in page
    assert "\n## Building the image with buildah\n" in page
    # The address the page tells readers to try is where Compose's nginx listens.
    ((address, port, _),) = published(compose_nginx())
    assert f"curl http://{address}:{port}/Kalimaha/" in page
    assert ".ci/base-image docker.io/library/python:" in page
    # The rehearsal, with a report it printed, and the Redis component.
    assert "\n## Rehearsal\n" in page
    assert "`python -m deploy.rehearse`" in page
    assert "\nphase                 GET  failed    POST  failed\n" in page
    assert "\n### Redis, the sequence store\n" in page
    assert redis_container()["image"] in page
    for linked in re.findall(r"\]\(\.\./([^)#]+)\)", page):
        assert (ROOT / linked).exists(), linked


# --- Redis, the store of failure sequences -------------------------------------------------------


def redis_objects() -> dict[tuple[str, str], dict]:
    """Every object of the Redis component, by kind and name."""
    return {
        (document["kind"], document["metadata"]["name"]): document
        for path in redis_files()
        for document in load_all(path)
    }


def redis_pod() -> dict:
    """The pod template's spec of the Redis Deployment."""
    return redis_objects()[("Deployment", "simple-flask-redis")]["spec"]["template"]["spec"]


def redis_container() -> dict:
    """The Redis Deployment's one container."""
    (only,) = redis_pod()["containers"]
    return only


def state_url(found: dict[tuple[str, str], dict]) -> str:
    """SIMPLE_FLASK_STATE_URL as the ConfigMap among `found` gives it to the pods."""
    (reference,) = [
        entry["valueFrom"]["configMapKeyRef"]
        for entry in container()["env"]
        if entry["name"] == "SIMPLE_FLASK_STATE_URL"
    ]
    return found[("ConfigMap", reference["name"])]["data"][reference["key"]]


def test_redis_is_a_component_of_its_own():
    component = load_all(REDIS_COMPONENT / "kustomization.yaml")[0]
    # A Component, not a Kustomization: it adds to the base it is part of.
    assert component["apiVersion"] == "kustomize.config.k8s.io/v1alpha1"
    assert component["kind"] == "Component"
    assert sorted(component["resources"]) == sorted(path.name for path in redis_files())
    assert set(redis_objects()) == REDIS_OBJECTS
    # The plain manifests, for `kubectl apply -f deploy/kubernetes/`, need no Redis.
    assert Settings.from_env({"SIMPLE_FLASK_STATE_URL": state_url(objects())})
    assert state_url(objects()) == "memory://"


def test_the_pods_are_pointed_at_the_redis_service(tmp_path):
    url = urllib.parse.urlsplit(state_url(kustomize(KUSTOMIZATION.parent, tmp_path)))
    service = redis_objects()[("Service", "simple-flask-redis")]
    (port,) = service["spec"]["ports"]
    assert (url.scheme, url.hostname, url.port) == ("redis", "simple-flask-redis", port["port"])
    assert url.path == "/0"
    # The service accepts the URL.
    Settings.from_env({"SIMPLE_FLASK_STATE_URL": url.geturl()})
    # The Service reaches the Redis pod's port.
    (container_port,) = redis_container()["ports"]
    assert port["targetPort"] == container_port["name"]
    assert container_port["containerPort"] == port["port"] == 6379
    labels = redis_objects()[("Deployment", "simple-flask-redis")]["spec"]["template"]["metadata"]
    assert service["spec"]["selector"].items() <= labels["labels"].items()


def test_only_the_service_pods_may_reach_redis():
    policy = redis_objects()[("NetworkPolicy", "simple-flask-redis")]["spec"]
    labels = redis_objects()[("Deployment", "simple-flask-redis")]["spec"]["template"]["metadata"]
    assert policy["podSelector"]["matchLabels"].items() <= labels["labels"].items()
    assert policy["policyTypes"] == ["Ingress"]
    (rule,) = policy["ingress"]
    (peer,) = rule["from"]
    service_pods = deployment()["spec"]["template"]["metadata"]["labels"]
    assert peer["podSelector"]["matchLabels"].items() <= service_pods.items()
    # The Redis pod's own labels do not match: it is not its own client.
    assert not peer["podSelector"]["matchLabels"].items() <= labels["labels"].items()
    assert rule["ports"] == [{"port": "redis", "protocol": "TCP"}]


def test_redis_runs_unprivileged_on_a_read_only_root_with_a_pinned_image():
    pod, redis = redis_pod(), redis_container()
    assert re.fullmatch(r"redis:\d+\.\d+\.\d+-bookworm", redis["image"]), redis["image"]
    for context in (pod["securityContext"], redis["securityContext"]):
        assert context["runAsNonRoot"] is True
        # The official image's redis user.
        assert (context["runAsUser"], context["runAsGroup"]) == (999, 999)
        assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    security = redis["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security.get("privileged", False) is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert pod["automountServiceAccountToken"] is False
    assert pod["enableServiceLinks"] is False
    # Nothing to write: no volume, and no snapshot or append-only file.
    assert "volumes" not in pod
    arguments = redis["args"]
    assert arguments[arguments.index("--save") + 1] == ""
    assert arguments[arguments.index("--appendonly") + 1] == "no"


def test_redis_resources_are_guaranteed_and_its_memory_bounded_below_them():
    resources = redis_container()["resources"]
    assert resources["requests"] == resources["limits"]
    assert set(resources["requests"]) == {"cpu", "memory"}
    limit = re.fullmatch(r"(\d+)Mi", resources["limits"]["memory"])
    arguments = redis_container()["args"]
    maxmemory = re.fullmatch(r"(\d+)mb", arguments[arguments.index("--maxmemory") + 1])
    # Redis evicts before the kernel kills the container.
    assert limit and maxmemory and int(maxmemory.group(1)) < int(limit.group(1))
    assert arguments[arguments.index("--maxmemory-policy") + 1] == "volatile-lru"


def test_one_redis_at_a_time_and_probed():
    spec = redis_objects()[("Deployment", "simple-flask-redis")]["spec"]
    assert spec["replicas"] == 1
    # Two pods at once during a rollout would each hold sequences of their own.
    assert spec["strategy"] == {"type": "Recreate"}
    redis = redis_container()
    assert redis["readinessProbe"]["exec"]["command"] == ["redis-cli", "ping"]
    (port,) = redis["ports"]
    assert redis["livenessProbe"]["tcpSocket"]["port"] in (port["name"], port["containerPort"])


def compose_redis() -> dict:
    """The redis service of the Compose file."""
    return compose_services()["redis"]


def test_compose_runs_the_cluster_redis():
    redis = compose_redis()
    # The same image and arguments as the Redis component, the image named in full.
    assert redis["image"] == f"docker.io/library/{redis_container()['image']}"
    assert redis["command"] == ["redis-server", *redis_container()["args"]]
    user = redis_pod()["securityContext"]
    assert redis["user"] == f"{user['runAsUser']}:{user['runAsGroup']}"
    assert redis["read_only"] is True
    # The image's /data volume, in memory: the engine makes no volume for it.
    assert redis["tmpfs"] == ["/data"]
    assert redis["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in redis["security_opt"]
    # Reached by the replicas on the backend network only.
    assert "ports" not in redis
    assert redis["networks"] == compose_service()["networks"]
    assert redis["healthcheck"]["test"] == ["CMD", "redis-cli", "ping"]


def test_compose_replicas_walk_sequences_in_the_redis():
    service = compose_service()
    url = urllib.parse.urlsplit(service["environment"]["SIMPLE_FLASK_STATE_URL"])
    assert (url.scheme, url.hostname, url.port, url.path) == ("redis", "redis", 6379, "/0")
    Settings.from_env(service["environment"])
    # The replicas start once Redis answers.
    assert service["depends_on"] == {"redis": {"condition": "service_healthy"}}
