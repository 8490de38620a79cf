"""Guardrails every action passes before it previews: bounds, namespaces, production rules."""

from __future__ import annotations

from dataclasses import dataclass

from hopngo_ops.errors import GuardRefused


@dataclass(frozen=True)
class Guardrails:
    namespace: str
    production: bool
    incident_id: str
    min_replicas: int = 1
    max_replicas: int = 20
    protected_namespaces: frozenset[str] = frozenset(
        {"kube-system", "kube-public", "kube-node-lease", "default"}
    )

    def check_common(self, action: str) -> None:
        if self.namespace in self.protected_namespaces:
            raise GuardRefused(
                f"{action}: namespace {self.namespace!r} is protected; remediation acts only on "
                "application namespaces"
            )
        if self.production and not self.incident_id:
            raise GuardRefused(
                f"{action}: the profile is production, so an incident id is required "
                "(run with --incident INC-YYYY-MMDD-NNN or set incident_id)"
            )

    def check_replicas(self, action: str, replicas: int) -> None:
        if not self.min_replicas <= replicas <= self.max_replicas:
            raise GuardRefused(
                f"{action}: {replicas} replicas is outside the allowed "
                f"{self.min_replicas}..{self.max_replicas}"
            )

    @staticmethod
    def check_confirmation(action: str, expected: str, given: str | None) -> None:
        if given != expected:
            raise GuardRefused(
                f"{action}: confirmation required: type {expected!r} exactly "
                f"(got {given!r}); nothing was changed"
            )
