"""Who may do what: bearer tokens name users, Role rules decide each request.

`admin` may do everything. `readonly` and `remediation` get the rules of the Roles in
`deploy/rbac/` that bind them (a RoleBinding subject naming the user, or the Role named
`hopngo-ops-<user>`); without such a folder, the built-in defaults below.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from hopngo_ops.sandbox.kubesim import resources as r
from hopngo_ops.sandbox.kubesim import status

SUPERUSER = "admin"
ROLE_PREFIX = "hopngo-ops-"
ROLE_KINDS = ("Role", "ClusterRole")
BINDING_KINDS = ("RoleBinding", "ClusterRoleBinding")


@dataclass(frozen=True)
class Attributes:
    """One request as the authorizer sees it."""

    user: str
    verb: str
    group: str
    resource: str
    subresource: str = ""
    name: str = ""
    namespace: str = ""


@dataclass(frozen=True)
class Rule:
    api_groups: frozenset[str]
    resources: frozenset[str]
    verbs: frozenset[str]
    resource_names: frozenset[str] = frozenset()

    @classmethod
    def from_manifest(cls, rule: dict) -> Rule:
        return cls(
            frozenset(rule.get("apiGroups") or ()),
            frozenset(rule.get("resources") or ()),
            frozenset(rule.get("verbs") or ()),
            frozenset(rule.get("resourceNames") or ()),
        )

    def allows(self, a: Attributes) -> bool:
        resource = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
        wildcard = f"*/{a.subresource}" if a.subresource else "*"
        return (
            bool(self.api_groups & {a.group, "*"})
            and bool(self.resources & {resource, wildcard, "*"})
            and bool(self.verbs & {a.verb, "*"})
            and (not self.resource_names or a.name in self.resource_names)
        )


def _served(exclude: tuple[str, ...] = ()) -> tuple[set[str], set[str]]:
    """Every served group and resource (with subresources) except `exclude`."""
    groups, names = set(), set()
    for rtype in r.ALL:
        if rtype.plural in exclude:
            continue
        groups.add(rtype.group)
        names.add(rtype.plural)
        names.update(f"{rtype.plural}/{sub}" for sub in rtype.subresources)
    return groups, names


def default_rules() -> dict[str, tuple[Rule, ...]]:
    groups, names = _served(exclude=("secrets",))
    readonly = (Rule(frozenset(groups), frozenset(names), frozenset(r.READ_VERBS)),)
    workloads = frozenset({"deployments", "statefulsets"})
    remediation = (
        *readonly,
        Rule(frozenset({"apps"}), workloads, frozenset({"patch", "update"})),
        Rule(
            frozenset({"apps"}),
            frozenset({"deployments/scale", "statefulsets/scale"}),
            frozenset({"get", "update", "patch"}),
        ),
        Rule(frozenset({""}), frozenset({"pods"}), frozenset({"delete", "deletecollection"})),
    )
    return {"readonly": readonly, "remediation": remediation}


def load_rules(folder: Path | None) -> dict[str, tuple[Rule, ...]]:
    """Rules per user from the Role documents in `folder`, else the defaults."""
    defaults = default_rules()
    if folder is None or not folder.is_dir():
        return defaults
    roles: dict[str, list[dict]] = {}
    bound: dict[str, set[str]] = {}
    for path in sorted([*folder.glob("*.yaml"), *folder.glob("*.yml")]):
        for doc in yaml.safe_load_all(path.read_text()):
            if not isinstance(doc, dict):
                continue
            name = doc.get("metadata", {}).get("name", "")
            if doc.get("kind") in ROLE_KINDS:
                roles[name] = doc.get("rules") or []
            elif doc.get("kind") in BINDING_KINDS:
                role = doc.get("roleRef", {}).get("name", "")
                for subject in doc.get("subjects") or []:
                    bound.setdefault(subject.get("name", ""), set()).add(role)
    rules = {}
    for user, fallback in defaults.items():
        names = bound.get(user) or {f"{ROLE_PREFIX}{user}"}
        found = [Rule.from_manifest(rule) for name in names for rule in roles.get(name, [])]
        rules[user] = tuple(found) if found else fallback
    return rules


class Authorizer:
    def __init__(self, tokens: dict[str, str], rules: dict[str, tuple[Rule, ...]]):
        self._users = {token: user for user, token in tokens.items()}
        self._rules = rules

    def authenticate(self, authorization: str | None) -> str:
        """The user a `Bearer` token belongs to; 401 for none or an unknown one."""
        scheme, _, token = (authorization or "").partition(" ")
        user = self._users.get(token.strip()) if scheme.lower() == "bearer" else None
        if user is None:
            raise status.unauthorized()
        return user

    def authorize(self, a: Attributes) -> None:
        if a.user == SUPERUSER:
            return
        if any(rule.allows(a) for rule in self._rules.get(a.user, ())):
            return
        raise status.forbidden(_message(a), _details(a))


def _message(a: Attributes) -> str:
    qualified = f"{a.resource}.{a.group}" if a.group else a.resource
    subject = f'{qualified} "{a.name}"' if a.name else qualified
    resource = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    where = f' in the namespace "{a.namespace}"' if a.namespace else " at the cluster scope"
    return (
        f'{subject} is forbidden: User "{a.user}" cannot {a.verb} resource "{resource}" '
        f'in API group "{a.group}"{where}'
    )


def _details(a: Attributes) -> dict:
    details = {"group": a.group, "kind": a.resource}
    if a.name:
        details["name"] = a.name
    return details


def read_tokens(path: Path) -> dict[str, str]:
    """user -> token, from the sandbox's tokens file."""
    return json.loads(path.read_text())
