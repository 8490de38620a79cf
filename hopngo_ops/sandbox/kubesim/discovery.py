"""Discovery documents: /version, /api, /apis and each group version's resource list.

Plain `application/json` answers; kubectl asks for aggregated discovery first and falls back
to these when the response is not of that type.
"""

from __future__ import annotations

from hopngo_ops.sandbox.kubesim import resources as r

VERSION = {
    "major": "1",
    "minor": "30",
    "gitVersion": "v1.30.4",
    "gitCommit": "a51b3b711150f57ffc1f526a640ec058514ed596",
    "gitTreeState": "clean",
    "buildDate": "2024-08-14T19:02:46Z",
    "goVersion": "go1.22.5",
    "compiler": "gc",
    "platform": "linux/amd64",
}
SERVER_ADDRESS = [{"clientCIDR": "0.0.0.0/0", "serverAddress": "127.0.0.1"}]
# What a subresource reports in discovery: its kind, verbs and (for scale) its own group.
SUBRESOURCES = {
    "status": (None, ("get", "patch", "update")),
    "scale": ("Scale", ("get", "patch", "update")),
    "log": (None, ("get",)),
}


def core_versions() -> dict:
    return {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": SERVER_ADDRESS}


def _group(name: str) -> dict:
    version = {
        "groupVersion": f"{name}/{r.GROUP_VERSIONS[name]}",
        "version": r.GROUP_VERSIONS[name],
    }
    return {"name": name, "versions": [version], "preferredVersion": version}


def groups() -> dict:
    names = sorted(g for g in r.GROUP_VERSIONS if g)
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": [_group(g) for g in names]}


def group(name: str) -> dict | None:
    if name not in r.GROUP_VERSIONS or not name:
        return None
    return {"kind": "APIGroup", "apiVersion": "v1", **_group(name)}


def resource_list(group_name: str, version: str) -> dict | None:
    if r.GROUP_VERSIONS.get(group_name) != version:
        return None
    entries = []
    for rtype in r.ALL:
        if rtype.group != group_name:
            continue
        entries.append(
            {
                "name": rtype.plural,
                "singularName": rtype.kind.lower(),
                "namespaced": rtype.namespaced,
                "kind": rtype.kind,
                "verbs": list(rtype.verbs),
                **({"shortNames": list(rtype.short_names)} if rtype.short_names else {}),
                **({"categories": list(rtype.categories)} if rtype.categories else {}),
            }
        )
        for sub in rtype.subresources:
            kind, verbs = SUBRESOURCES[sub]
            entry = {
                "name": f"{rtype.plural}/{sub}",
                "singularName": "",
                "namespaced": rtype.namespaced,
                "kind": kind or rtype.kind,
                "verbs": list(verbs),
            }
            if kind == "Scale":
                entry.update(group="autoscaling", version="v1")
            entries.append(entry)
    group_version = f"{group_name}/{version}" if group_name else version
    return {
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": group_version,
        "resources": entries,
    }
