"""The observability stack (Jaeger, Prometheus, Grafana) in docker-compose.yml and deploy/k8s,
validated offline: manifests, scrape targets, and a dashboard whose every query names a metric
the code exposes."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
OBS = ROOT / "deploy" / "observability"
DASHBOARD = OBS / "livecast-dashboard.json"
APP_SERVICES = {"webhook-ingest", "stream-svc", "viewer-svc", "notifier", "chat-gateway"}

#: What the dashboard must show (issue 20): one family per operator question.
REQUIRED_FAMILIES = {
    "livecast_events_consumed_total",
    "livecast_events_dead_lettered_total",
    "livecast_queue_messages",
    "livecast_dead_letter_queue_messages",
    "livecast_outbox_backlog_events",
    "livecast_outbox_oldest_unpublished_age_seconds",
    "livecast_webhook_verify_failures_total",
    "livecast_chat_sockets",
    "livecast_chat_frames_sent_total",
    "livecast_chat_slow_clients_dropped_total",
    "livecast_presence_sessions",
    "livecast_http_requests_total",
}


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


def observability_docs() -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((OBS / "observability.yaml").read_text()) if d]


def defined_metrics() -> set[str]:
    """Every ``livecast_*`` metric name declared in the libraries' and services' code."""
    names: set[str] = set()
    for path in [*ROOT.glob("libs/*/src/**/*.py"), *ROOT.glob("services/*/src/**/*.py")]:
        names |= set(re.findall(r'"(livecast_[a-z0-9_]+)"', path.read_text()))
    return names


def dashboard_exprs() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [t["expr"] for p in panels for t in p.get("targets", [])]


class TestDashboard:
    def test_panels_have_unique_ids_and_a_prometheus_query(self) -> None:
        dashboard = json.loads(DASHBOARD.read_text())
        ids = [p["id"] for p in dashboard["panels"]]
        assert len(ids) == len(set(ids))
        for panel in dashboard["panels"]:
            if panel["type"] != "row":
                assert panel["targets"], panel["title"]
                assert panel["datasource"]["uid"] == "prometheus"

    def test_every_query_names_a_metric_the_code_exposes(self) -> None:
        defined = defined_metrics()
        for expr in dashboard_exprs():
            for name in re.findall(r"livecast_[a-z0-9_]+", expr):
                base = re.sub(r"_(bucket|sum|count)$", "", name)
                assert name in defined or base in defined, f"{name} in {expr!r} is not exposed"

    def test_every_operator_question_has_a_panel(self) -> None:
        used = {n for e in dashboard_exprs() for n in re.findall(r"livecast_[a-z0-9_]+", e)}
        assert REQUIRED_FAMILIES <= used, REQUIRED_FAMILIES - used
        assert REQUIRED_FAMILIES <= defined_metrics()

    def test_no_query_groups_by_a_stream_or_account(self) -> None:
        for expr in dashboard_exprs():
            assert not re.search(r"stream_id|account_id|event_id", expr), expr


class TestCompose:
    def compose(self) -> dict[str, Any]:
        data = load(ROOT / "docker-compose.yml")
        assert isinstance(data, dict)
        return data

    def test_prometheus_scrapes_every_service_instance(self) -> None:
        services = self.compose()["services"]
        wanted = {
            f"{name}:{service['environment'].get('HTTP_PORT', '8000')}"
            for name, service in services.items()
            if "build" in service and name != "mux-sim"
        }
        config = load(OBS / "prometheus-compose.yml")
        targets = {
            t for job in config["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]
        }
        assert targets == wanted
        assert {"chat-gateway-a:8000", "chat-gateway-b:8000"} <= targets

    def test_services_export_traces_to_jaeger_and_grafana_gets_its_files(self) -> None:
        data = self.compose()
        services = data["services"]
        assert {"jaeger", "prometheus", "grafana"} <= set(services)
        for name, service in services.items():
            if "build" in service and name != "mux-sim":
                endpoint = service["environment"]["OTEL_EXPORTER_OTLP_ENDPOINT"]
                assert "jaeger:4318" in endpoint, name
        for service in ("prometheus", "grafana"):
            for volume in services[service]["volumes"]:
                source = volume.split(":")[0]
                if source.startswith("./"):
                    assert (ROOT / source).is_file(), source

    def test_grafana_data_sources_point_at_the_compose_services(self) -> None:
        sources = {d["uid"]: d["url"] for d in load(OBS / "grafana-datasources.yml")["datasources"]}
        assert sources == {"prometheus": "http://prometheus:9090", "jaeger": "http://jaeger:16686"}


class TestKubernetes:
    @pytest.mark.parametrize("doc", observability_docs(), ids=lambda d: f"{d['kind']}/{d['metadata']['name']}")
    def test_each_resource_is_valid(self, doc: dict[str, Any]) -> None:
        kubernetes_validate.validate(doc, "1.37.0", strict=True)

    def test_generated_config_maps_cover_every_mounted_one_and_their_files_exist(self) -> None:
        kustomization = load(OBS / "kustomization.yaml")
        assert kustomization["resources"] == ["observability.yaml"]
        generated = {}
        for gen in kustomization["configMapGenerator"]:
            for entry in gen["files"]:
                assert (OBS / entry.split("=")[-1]).is_file(), entry
            generated[gen["name"]] = gen
        mounted = {
            v["configMap"]["name"]
            for d in observability_docs()
            if d["kind"] == "Deployment"
            for v in d["spec"]["template"]["spec"].get("volumes", [])
            if "configMap" in v
        }
        assert mounted == set(generated)

    def test_prometheus_keeps_every_livecast_pod_on_its_http_port(self) -> None:
        config = load(OBS / "prometheus-k8s.yml")
        (job,) = config["scrape_configs"]
        keep = {tuple(r["source_labels"]): r["regex"] for r in job["relabel_configs"] if r.get("action") == "keep"}
        assert keep[("__meta_kubernetes_pod_label_app_kubernetes_io_part_of",)] == "livecast"
        assert keep[("__meta_kubernetes_pod_container_port_name",)] == "http"
        k8s = ROOT / "deploy" / "k8s"
        deployments = [
            d
            for path in k8s.glob("*.yaml")
            for d in yaml.safe_load_all(path.read_text())
            if d and d.get("kind") == "Deployment"
        ]
        assert {d["metadata"]["name"] for d in deployments} == APP_SERVICES
        for dep in deployments:
            template = dep["spec"]["template"]
            assert template["metadata"]["labels"]["app.kubernetes.io/part-of"] == "livecast"
            (container,) = template["spec"]["containers"]
            assert "http" in {p["name"] for p in container["ports"]}

    def test_services_get_the_otlp_endpoint_of_the_jaeger_service(self) -> None:
        config = load(ROOT / "deploy" / "k8s" / "config.yaml")
        assert config["data"]["OTEL_EXPORTER_OTLP_ENDPOINT"] == "http://jaeger:4318"
        services = {d["metadata"]["name"]: d for d in observability_docs() if d["kind"] == "Service"}
        assert 4318 in {p["port"] for p in services["jaeger"]["spec"]["ports"]}
