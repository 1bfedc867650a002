"""docker-compose.yml and deploy/k8s validated offline (no Docker daemon or cluster here)."""

from __future__ import annotations

import importlib.resources
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "k8s"


def compose() -> dict[str, Any]:
    data = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(data, dict)
    return data


class TestCompose:
    def test_matches_the_compose_specification(self) -> None:
        schema_file = importlib.resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
        schema = json.loads(schema_file.read_text())
        for path in ("docker-compose.yml", "compose.override.yml"):
            jsonschema.validate(yaml.safe_load((ROOT / path).read_text()), schema)

    def test_every_build_has_its_dockerfile_and_every_dependency_a_healthcheck(self) -> None:
        services = compose()["services"]
        for name, service in services.items():
            if "build" in service:
                assert (ROOT / service["build"]["context"] / service["build"]["dockerfile"]).is_file(), name
            for dep, cond in (service.get("depends_on") or {}).items():
                assert dep in services, f"{name} depends on unknown {dep}"
                if cond.get("condition") == "service_healthy":
                    assert "healthcheck" in services[dep], f"{name} waits for {dep}, which has no healthcheck"
        assert {"chat-gateway-a", "chat-gateway-b", "mongo", "rabbitmq", "gateway"} <= set(services)
        assert "--replSet" in services["mongo"]["command"]

    def test_secrets_are_files_and_declared(self) -> None:
        data = compose()
        declared = set(data["secrets"])
        for name, service in data["services"].items():
            for secret in service.get("secrets", []):
                assert secret in declared, f"{name} uses undeclared secret {secret}"
            env = service.get("environment") or {}
            for key, value in env.items():
                assert not re.search(r"(SECRET|PASSWORD)$", key), f"{name}: {key} should be a *_FILE"
                if key.endswith("_FILE") and str(value).startswith("/run/secrets/"):
                    assert str(value).removeprefix("/run/secrets/") in service.get("secrets", []), (name, key)
        for secret in data["secrets"].values():
            assert "environment" in secret  # nothing secret lives in the repository

    def test_the_gateway_template_gets_every_variable_it_uses(self) -> None:
        template = (ROOT / "deploy" / "nginx" / "livecast.conf.template").read_text()
        used = set(re.findall(r"\$\{([A-Z_]+)\}", template))
        env = compose()["services"]["gateway"]["environment"]
        assert used <= set(env), used - set(env)


def k8s_documents() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        if path.name == "kustomization.yaml":
            continue
        docs += [(path.name, d) for d in yaml.safe_load_all(path.read_text()) if d]
    return docs


SCALED_OBJECT = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "properties": {
        "apiVersion": {"const": "keda.sh/v1alpha1"},
        "spec": {
            "type": "object",
            "required": ["scaleTargetRef", "triggers"],
            "properties": {
                "scaleTargetRef": {"type": "object", "required": ["name"]},
                "minReplicaCount": {"type": "integer", "minimum": 0},
                "maxReplicaCount": {"type": "integer", "minimum": 1},
                "triggers": {"type": "array", "minItems": 1, "items": {
                    "type": "object", "required": ["type", "metadata"],
                    "properties": {"type": {"enum": ["rabbitmq", "cpu", "memory"]}},
                }},
            },
        },
    },
}


class TestKubernetes:
    @pytest.mark.parametrize(("name", "doc"), k8s_documents(),
                             ids=lambda v: v if isinstance(v, str) else v.get("kind", "?"))
    def test_each_resource_is_valid(self, name: str, doc: dict[str, Any]) -> None:
        if doc["apiVersion"].startswith("keda.sh/"):
            if doc["kind"] == "ScaledObject":
                jsonschema.validate(doc, SCALED_OBJECT)
            return
        kubernetes_validate.validate(doc, "1.37.0", strict=True)

    def test_kustomization_lists_every_file(self) -> None:
        kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text())
        files = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
        resources = set(kustomization["resources"])
        assert resources - {"../observability"} == files
        assert "../observability" in resources

    def test_every_service_has_probes_secret_files_and_autoscaling(self) -> None:
        docs = [d for _, d in k8s_documents()]
        deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
        assert set(deployments) == {"stream-svc", "viewer-svc", "webhook-ingest", "notifier", "chat-gateway"}
        scaled = {d["spec"]["scaleTargetRef"]["name"] for d in docs
                  if d["kind"] in ("HorizontalPodAutoscaler", "ScaledObject")}
        assert scaled == set(deployments)
        services = {d["metadata"]["name"] for d in docs if d["kind"] == "Service"}
        assert services == set(deployments)
        for name, dep in deployments.items():
            (container,) = dep["spec"]["template"]["spec"]["containers"]
            assert container["readinessProbe"]["httpGet"]["path"] == "/readyz", name
            assert container["livenessProbe"]["httpGet"]["path"] == "/healthz", name
            volumes = dep["spec"]["template"]["spec"]["volumes"]
            assert any("secret" in v for v in volumes), name
            for env in container["env"]:
                assert not env["name"].endswith("SECRET"), f"{name}: secrets come as files"
        rabbit = [t for d in docs if d["kind"] == "ScaledObject" for t in d["spec"]["triggers"]
                  if t["type"] == "rabbitmq"]
        assert rabbit
        assert rabbit[0]["metadata"]["queueName"] == "notifier"

    def test_the_ingress_routes_every_public_prefix(self) -> None:
        (ingress,) = [d for _, d in k8s_documents() if d["kind"] == "Ingress"]
        paths = {p["path"]: p["backend"]["service"]["name"] for p in ingress["spec"]["rules"][0]["http"]["paths"]}
        assert paths["/webhooks/mux"] == "webhook-ingest"
        assert paths["/ws/live/"] == "chat-gateway"
        assert paths["/live"] == "stream-svc"
        assert "notifier" in paths.values()
        assert "viewer-svc" in paths.values()
