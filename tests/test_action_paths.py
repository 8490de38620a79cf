"""The two ways an action gets applied besides `apply` in a headless run: the alert's
freshness re-check before a destructive action, and the JupyterLab confirmation button."""

from __future__ import annotations

import nbformat
import pytest
from kubernetes import client, config

from hopngo_ops import actions
from hopngo_ops.actions.widgets import confirm_box
from hopngo_ops.record.protocol import HEADLESS_ENV
from hopngo_ops.record.timeline import read_events
from hopngo_ops.runbook import Runbook
from hopngo_ops.runner import run_notebook

INCIDENT = "INC-2026-0102-001"


@pytest.fixture
def records(tmp_path, monkeypatch):
    monkeypatch.setenv("HOPNGO_INCIDENTS_DIR", str(tmp_path))
    return tmp_path


def pod_names(sandbox: dict, service: str) -> set[str]:
    api = client.CoreV1Api(config.new_client_from_config(sandbox["kubeconfig"]))
    pods = api.list_namespaced_pod("hopngo", label_selector=f"app={service}").items
    return {p.metadata.name for p in pods}


def timeline(records) -> list[dict]:
    (folder,) = records.glob(f"*/*/*/{INCIDENT}")
    return read_events(folder)


@pytest.mark.scenario("healthy")
def test_a_destructive_action_is_skipped_when_its_alert_has_resolved(sandbox, records, monkeypatch):
    monkeypatch.setenv(HEADLESS_ENV, "1")
    before = pod_names(sandbox, "gateway")
    rb = Runbook.open(
        "service_down",
        service="gateway",
        incident_id=INCIDENT,
        apply=["delete_pods"],
        alert="ServiceDown",  # gateway is up: the alert no longer holds
    )
    report = actions.delete_pods(rb)
    assert report.result == "skipped"
    assert "ServiceDown has resolved" in report.message
    assert pod_names(sandbox, "gateway") == before
    assert [e["result"] for e in timeline(records)] == ["skipped"]


@pytest.mark.scenario("healthy")
def test_an_alert_that_cannot_be_rechecked_refuses_the_destructive_action(
    sandbox, records, monkeypatch
):
    monkeypatch.setenv(HEADLESS_ENV, "1")
    before = pod_names(sandbox, "gateway")
    rb = Runbook.open(
        "service_down", service="gateway", incident_id=INCIDENT, apply=["delete_pods"], alert="Nope"
    )
    report = actions.delete_pods(rb)
    assert report.result == "refused" and "cannot re-check alert 'Nope'" in report.message
    assert pod_names(sandbox, "gateway") == before


@pytest.mark.mutates
@pytest.mark.scenario("service_down")
def test_a_destructive_action_goes_ahead_while_its_alert_holds(sandbox, records, monkeypatch):
    monkeypatch.setenv(HEADLESS_ENV, "1")
    before = pod_names(sandbox, "booking-service")
    rb = Runbook.open(
        "service_down",
        service="booking-service",
        incident_id=INCIDENT,
        apply=["delete_pods"],
        alert="ServiceDown",
    )
    report = actions.delete_pods(rb)
    assert report.result == "applied", report.message
    after = pod_names(sandbox, "booking-service")
    assert len(after) == len(before) and not after & before
    assert [e["result"] for e in timeline(records)] == ["applied"]


@pytest.mark.mutates
@pytest.mark.scenario("healthy")
def test_the_button_applies_the_shown_preview_after_confirmation(sandbox, records, monkeypatch):
    monkeypatch.delenv(HEADLESS_ENV, raising=False)
    apps = client.AppsV1Api(config.new_client_from_config(sandbox["kubeconfig"]))
    replicas = apps.read_namespaced_deployment("consumer-service", "hopngo").spec.replicas
    rb = Runbook.open("queue_lag", service="consumer-service", incident_id=INCIDENT)
    shown = actions.scale(rb, replicas=replicas + 1)
    assert shown.result == "previewed" and shown.apply_later

    box = confirm_box(shown)
    _, sure, button, _ = box.children
    assert button.disabled  # nothing applies before the preview is acknowledged
    button.click()
    assert apps.read_namespaced_deployment("consumer-service", "hopngo").spec.replicas == replicas

    sure.value = True
    assert not button.disabled
    button.click()
    assert apps.read_namespaced_deployment("consumer-service", "hopngo").spec.replicas == (
        replicas + 1
    )
    assert [e["result"] for e in timeline(records)] == ["previewed", "applied"]
    assert {e["mode"] for e in timeline(records)} == {"interactive"}


@pytest.mark.scenario("healthy")
def test_production_needs_a_declared_incident_even_after_one_was_opened(
    sandbox, records, monkeypatch
):
    monkeypatch.setenv("HOPNGO_PRODUCTION", "true")
    monkeypatch.delenv(HEADLESS_ENV, raising=False)
    apps = client.AppsV1Api(config.new_client_from_config(sandbox["kubeconfig"]))
    replicas = apps.read_namespaced_deployment("gateway", "hopngo").spec.replicas
    rb = Runbook.open("service_down", service="gateway")
    first = actions.scale(rb, replicas=replicas + 1)
    # Auditing the refusal opened an incident folder; that is not a declared incident.
    second = actions.scale(rb, replicas=replicas + 1)
    assert [first.result, second.result] == ["refused", "refused"]
    assert "incident id is required" in second.message
    assert apps.read_namespaced_deployment("gateway", "hopngo").spec.replicas == replicas


@pytest.mark.mutates
@pytest.mark.scenario("healthy")
def test_a_headless_production_run_without_incident_applies_nothing(sandbox, records, monkeypatch):
    monkeypatch.setenv("HOPNGO_PRODUCTION", "true")
    apps = client.AppsV1Api(config.new_client_from_config(sandbox["kubeconfig"]))
    generation = apps.read_namespaced_deployment("gateway", "hopngo").metadata.generation
    result = run_notebook(
        "service_down", {"service": "gateway", "apply": ["rollout_restart"]}, output_root=records
    )
    assert result.ok, result.error
    meta = nbformat.read(result.path, as_version=4).metadata["hopngo"]
    restart = [a for a in meta["actions"] if a["action"] == "rollout_restart"]
    assert [a["result"] for a in restart] == ["refused"]
    assert apps.read_namespaced_deployment("gateway", "hopngo").metadata.generation == generation


@pytest.mark.mutates
@pytest.mark.scenario("healthy")
def test_a_preview_applies_once_however_often_the_button_is_clicked(sandbox, records, monkeypatch):
    monkeypatch.delenv(HEADLESS_ENV, raising=False)
    apps = client.AppsV1Api(config.new_client_from_config(sandbox["kubeconfig"]))
    replicas = apps.read_namespaced_deployment("auth-service", "hopngo").spec.replicas
    rb = Runbook.open("service_down", service="auth-service", incident_id=INCIDENT)
    shown = actions.scale(rb, replicas=replicas + 1)
    first, second = shown.apply_later(None), shown.apply_later(None)
    assert first is second and first.result == "applied"
    assert [e["result"] for e in timeline(records)] == ["previewed", "applied"]
