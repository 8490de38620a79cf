"""Targets from profiles: overrides, secret references, and clear refusals."""

from __future__ import annotations

import pytest

from hopngo_ops.config import ProfileError, load_targets
from hopngo_ops.errors import NotFound


@pytest.fixture
def profiles(tmp_path, monkeypatch):
    monkeypatch.setenv("HOPNGO_PROFILES_DIR", str(tmp_path))
    return tmp_path


def test_example_profile_references_its_secrets():
    targets = load_targets("example")
    assert targets.production
    assert targets.postgres_password_env == "HOPNGO_POSTGRES_PASSWORD"
    assert not targets.kubeconfig.startswith("~")


def test_environment_overrides_a_profile(profiles, monkeypatch):
    (profiles / "staging.yaml").write_text("prometheus_url: http://a:9090\nnamespace: hopngo\n")
    monkeypatch.setenv("HOPNGO_PROMETHEUS_URL", "http://b:9090")
    assert load_targets("staging").prometheus_url == "http://b:9090"


def test_a_profile_holding_a_password_is_refused(profiles):
    (profiles / "leaky.yaml").write_text("postgres_password: hunter2\n")
    with pytest.raises(ProfileError, match="secret values.*postgres_password"):
        load_targets("leaky")


def test_unknown_keys_are_named(profiles):
    (profiles / "typo.yaml").write_text("prometheus: http://a:9090\n")
    with pytest.raises(ProfileError, match="unknown keys prometheus"):
        load_targets("typo")


def test_unknown_profile_lists_the_known_ones(profiles):
    (profiles / "staging.yaml").write_text("namespace: hopngo\n")
    with pytest.raises(NotFound, match="known profiles are sandbox, staging"):
        load_targets("nope")


def test_missing_field_says_how_to_set_it(profiles):
    (profiles / "bare.yaml").write_text("namespace: hopngo\n")
    with pytest.raises(ProfileError, match="HOPNGO_PROMETHEUS_URL"):
        load_targets("bare").require("prometheus_url")


def test_password_comes_from_the_named_variable_only_at_connect(profiles, monkeypatch):
    (profiles / "db.yaml").write_text(
        "postgres_dsn: host=db dbname=hopngo user=ops\npostgres_password_env: PGPW_TEST\n"
    )
    targets = load_targets("db")
    assert "s3cret" not in repr(targets)
    monkeypatch.setenv("PGPW_TEST", "s3cret")
    assert targets.postgres_conninfo().endswith("password=s3cret")


def test_sandbox_profile_when_no_sandbox_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("HOPNGO_SANDBOX_DIR", str(tmp_path / "none"))
    with pytest.raises(ProfileError, match="sandbox up"):
        load_targets("sandbox")


def test_invalid_namespace_in_a_profile(profiles):
    (profiles / "bad.yaml").write_text('namespace: "hopngo\\"} or"\n')
    with pytest.raises(ValueError, match="invalid namespace"):
        load_targets("bad")


@pytest.mark.parametrize(("value", "production"), [("True", True), ("YES", True), ("off", False)])
def test_production_flag_is_read_case_insensitively(profiles, monkeypatch, value, production):
    (profiles / "p.yaml").write_text("namespace: hopngo\n")
    monkeypatch.setenv("HOPNGO_PRODUCTION", value)
    assert load_targets("p").production is production


def test_an_unclear_production_flag_is_refused(profiles, monkeypatch):
    (profiles / "p.yaml").write_text("namespace: hopngo\n")
    monkeypatch.setenv("HOPNGO_PRODUCTION", "prod")
    with pytest.raises(ProfileError, match="production must be true or false"):
        load_targets("p")
