"""``deploy/kubernetes/`` against the Kubernetes API's schemas
(``kubernetes-validate``, strict: an unknown or misspelt field fails) and
against itself: the Service, the autoscaler, the disruption budget and the
network policy point at the gateway's pods and port, the grace periods
outlast the gateway's own, the kustomizations list what exists."""

from __future__ import annotations

import copy
import shutil
import subprocess
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from gateway.settings import Settings
from tests.deploy.files import (
    BASE,
    DEPLOY,
    OVERLAY,
    base_resource,
    configured,
    kubernetes_files,
    manifests,
)

VERSIONS = ("1.30.0", "1.37.0")
"""The oldest Kubernetes these files are for, and the newest the package ships."""


def problems(resources: list[dict[str, Any]], version: str) -> list[str]:
    found = []
    for resource in resources:
        try:
            kubernetes_validate.validate(resource, version, strict=True)
        except kubernetes_validate.ValidationError as error:
            where = "/".join(map(str, error.absolute_path))
            name = f"{resource['kind']} {resource['metadata']['name']}"
            found.append(f"{name} {where}: {error.message}")
    return found


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize(
    "path", list(kubernetes_files()), ids=lambda p: str(p.relative_to(DEPLOY))
)
def test_manifest_follows_the_kubernetes_schemas(path: Path, version: str) -> None:
    assert problems(manifests(path), version) == []


def test_strict_validation_refuses_a_misspelt_field() -> None:
    deployment = copy.deepcopy(base_resource("Deployment", "customer-graph"))
    container = deployment["spec"]["template"]["spec"]["containers"][0]
    container["readinesProbe"] = container.pop("readinessProbe")
    assert problems([deployment], VERSIONS[0]) != []


def test_kustomizations_list_every_manifest_and_only_those() -> None:
    base = yaml.safe_load((BASE / "kustomization.yaml").read_text())
    listed = set(base["resources"])
    present = {p.name for p in BASE.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == present
    overlay = yaml.safe_load((OVERLAY / "kustomization.yaml").read_text())
    for resource in overlay["resources"]:
        assert (OVERLAY / resource).exists(), resource
    images = {image["name"] for image in overlay["images"]}
    for path in BASE.glob("*.yaml"):
        for resource in manifests(path):
            for container in pod_spec(resource).get("containers", []):
                assert container["image"].split(":")[0] in images


def pod_spec(resource: dict[str, Any]) -> dict[str, Any]:
    template = resource.get("spec", {}).get("template", {})
    spec: dict[str, Any] = template.get("spec", {})
    return spec


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl not installed")
def test_example_overlay_renders_to_valid_manifests(tmp_path: Path) -> None:
    """kubectl's kustomize builds the overlay (with the example secrets file
    standing in for the one an operator writes), and what it renders is as
    valid as the base. Skipped without kubectl: the base, all but the
    overlay's few lines, is validated above without it."""
    shutil.copytree(DEPLOY / "kubernetes", tmp_path / "kubernetes")
    overlay = tmp_path / "kubernetes" / OVERLAY.relative_to(DEPLOY / "kubernetes")
    shutil.copy(DEPLOY / "gateway.env.example", overlay / "gateway.env")
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(overlay)],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    resources = [doc for doc in yaml.safe_load_all(rendered) if doc]
    assert {r["metadata"].get("namespace", "customer-graph") for r in resources} == {
        "customer-graph"
    }
    base = [r for p in kubernetes_files() if p.parent == BASE for r in manifests(p)]
    assert len(resources) == len(base) + 2  # and the overlay's Namespace, Ingress
    for version in VERSIONS:
        assert problems(resources, version) == []


def gateway_container() -> dict[str, Any]:
    deployment = base_resource("Deployment", "customer-graph")
    container: dict[str, Any] = pod_spec(deployment)["containers"][0]
    return container


def config() -> Settings:
    return configured(base_resource("ConfigMap", "customer-graph")["data"])


def test_gateway_grace_period_covers_the_drain_and_the_shutdown() -> None:
    spec = pod_spec(base_resource("Deployment", "customer-graph"))
    pre_stop = gateway_container()["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[0] == "sleep"
    drain_and_shutdown = int(pre_stop[1]) + config().shutdown_grace_seconds
    assert spec["terminationGracePeriodSeconds"] > drain_and_shutdown


def test_worker_grace_period_covers_its_jobs_in_flight() -> None:
    spec = pod_spec(base_resource("Deployment", "customer-graph-worker"))
    settings = config()
    assert settings.jobs_shutdown_seconds is not None
    assert spec["terminationGracePeriodSeconds"] > settings.jobs_shutdown_seconds
    assert settings.jobs_worker is False  # jobs in the worker Deployment only


def test_service_autoscaler_and_budget_select_the_gateway_pods() -> None:
    deployment = base_resource("Deployment", "customer-graph")
    labels = deployment["spec"]["template"]["metadata"]["labels"]
    worker = base_resource("Deployment", "customer-graph-worker")
    worker_labels = worker["spec"]["template"]["metadata"]["labels"]
    service = base_resource("Service", "customer-graph")
    for selector in (
        service["spec"]["selector"],
        base_resource("PodDisruptionBudget", "customer-graph")["spec"]["selector"][
            "matchLabels"
        ],
        deployment["spec"]["selector"]["matchLabels"],
    ):
        assert selector.items() <= labels.items()
        assert not selector.items() <= worker_labels.items()
    target = base_resource("HorizontalPodAutoscaler", "customer-graph")["spec"]
    assert target["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert target["minReplicas"] >= 2
    port_names = {port["name"] for port in gateway_container()["ports"]}
    assert service["spec"]["ports"][0]["targetPort"] in port_names


def test_network_policy_opens_the_gateway_port_and_the_backing_services() -> None:
    port = gateway_container()["ports"][0]["containerPort"]
    ingress = base_resource("NetworkPolicy", "customer-graph-ingress")["spec"]
    assert [p["port"] for rule in ingress["ingress"] for p in rule["ports"]] == [port]
    egress = base_resource("NetworkPolicy", "customer-graph-egress")["spec"]
    opened = {p["port"] for rule in egress["egress"] for p in rule["ports"]}
    assert opened == {53, 5432, 6379, 443}


def test_pods_run_unprivileged_on_a_read_only_root() -> None:
    for kind, name in (
        ("Deployment", "customer-graph"),
        ("Deployment", "customer-graph-worker"),
        ("Job", "customer-graph-migrate"),
    ):
        spec = pod_spec(base_resource(kind, name))
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["securityContext"]["runAsUser"] == 10001  # the Dockerfile's
        assert spec["automountServiceAccountToken"] is False
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["readOnlyRootFilesystem"] is True
            assert context["allowPrivilegeEscalation"] is False
            assert "memory" in container["resources"]["limits"]


def test_example_ingress_routes_to_the_gateway_service() -> None:
    ingress = next(r for r in manifests(OVERLAY / "ingress.yaml"))
    backend = ingress["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]
    service = base_resource("Service", "customer-graph")
    assert backend["name"] == service["metadata"]["name"]
    assert backend["port"]["name"] in {p["name"] for p in service["spec"]["ports"]}
    timeout = ingress["metadata"]["annotations"][
        "nginx.ingress.kubernetes.io/proxy-read-timeout"
    ]
    assert int(timeout) >= 3600  # subscriptions stay open
