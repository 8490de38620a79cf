"""The three patch formats the apiserver accepts: JSON patch, JSON merge patch and strategic
merge patch (lists of named things merge by key instead of being replaced).
"""

from __future__ import annotations

import copy
import json

from hopngo_ops.sandbox.kubesim import status

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_MERGE_PATCH = "application/strategic-merge-patch+json"

# Strategic merge: the key each list of these names merges on (Kubernetes' patchMergeKey).
# Lists not named here are replaced as a whole, as they are for Kubernetes' atomic lists.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "imagePullSecrets": "name",
    "conditions": "type",
    "ownerReferences": "uid",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
}
# `ports` merges on containerPort in a container and on port in a Service.
PORT_KEYS = ("containerPort", "port")


class PatchError(ValueError):
    """The patch cannot be applied to this object (a 422), as opposed to an unreadable body."""


def apply(content_type: str, target: dict, body: bytes) -> dict:
    """`target` patched by `body`; an unreadable body is a 400, a failing patch a 422 cause."""
    media_type = content_type.split(";")[0].strip()
    if media_type not in status.PATCH_TYPES:
        raise status.unsupported_media_type(content_type)
    try:
        patch = json.loads(body or b"null")
    except ValueError as e:
        raise status.bad_request(f"error decoding patch: {e}") from e
    if media_type == JSON_PATCH:
        if not isinstance(patch, list):
            raise status.bad_request("json patch must be a list of operations")
        return json_patch(target, patch)
    if not isinstance(patch, dict):
        raise status.bad_request("merge patch must be a JSON object")
    if media_type == MERGE_PATCH:
        return merge_patch(target, patch)
    return strategic_merge_patch(target, patch)


def merge_patch(target: object, patch: object) -> object:
    """RFC 7386: objects merge recursively, null deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def strategic_merge_patch(target: object, patch: object, field: str = "") -> object:
    if isinstance(patch, list):
        return _merge_list(target if isinstance(target, list) else [], patch, field)
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    if patch.get("$patch") == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if patch.get("$patch") == "delete":
        return None
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            name = key.split("/", 1)[1]
            result[name] = [v for v in result.get(name, []) if v not in value]
        elif key.startswith("$"):
            # $setElementOrder/..., $retainKeys: ordering and pruning hints we need not honour.
            continue
        elif value is None:
            result.pop(key, None)
        else:
            merged = strategic_merge_patch(result.get(key), value, key)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
    return result


def _merge_list(target: list, patch: list, field: str) -> list:
    merge_key = _merge_key(field, patch)
    if merge_key is None:
        return [copy.deepcopy(item) for item in patch if not _is_directive(item)]
    result = copy.deepcopy(target)
    for item in patch:
        if not isinstance(item, dict) or merge_key not in item:
            raise PatchError(f"{field}: each item needs its merge key {merge_key!r}")
        index = next(
            (i for i, have in enumerate(result) if have.get(merge_key) == item[merge_key]), None
        )
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append({k: copy.deepcopy(v) for k, v in item.items() if k != "$patch"})
        else:
            result[index] = strategic_merge_patch(result[index], item, field)
    return result


def _merge_key(field: str, patch: list) -> str | None:
    if field == "ports":
        first = patch[0] if patch and isinstance(patch[0], dict) else {}
        return next((k for k in PORT_KEYS if k in first), None)
    return MERGE_KEYS.get(field)


def _is_directive(item: object) -> bool:
    return isinstance(item, dict) and "$patch" in item


def json_patch(target: dict, operations: list) -> dict:
    """RFC 6902: add, remove, replace, move, copy and test, with JSON pointers."""
    document = copy.deepcopy(target)
    for number, operation in enumerate(operations):
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise status.bad_request(f"json patch operation {number} needs 'op' and 'path'")
        document = _json_patch_step(document, operation)
    return document


def _json_patch_step(document: dict, operation: dict) -> dict:
    op, path = operation["op"], operation["path"]
    if op == "test":
        if _resolve(document, path) != operation.get("value"):
            raise PatchError(f"testing value {path} failed")
        return document
    if op in ("move", "copy"):
        value = copy.deepcopy(_resolve(document, operation.get("from", "")))
        if op == "move":
            document = _remove(document, operation["from"])
        return _add(document, path, value, replace=False)
    if op == "remove":
        return _remove(document, path)
    if op in ("add", "replace"):
        if "value" not in operation:
            raise status.bad_request(f"json patch {op} operation on {path} needs a value")
        return _add(document, path, copy.deepcopy(operation["value"]), replace=op == "replace")
    raise status.bad_request(f"unknown json patch operation {op!r}")


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(document: object, path: str) -> tuple[object, str]:
    parts = _pointer(path)
    if not parts:
        raise PatchError("the root cannot be patched in place")
    container = document
    for part in parts[:-1]:
        container = _child(container, part, path)
    return container, parts[-1]


def _child(container: object, part: str, path: str) -> object:
    if isinstance(container, dict) and part in container:
        return container[part]
    if isinstance(container, list) and part.isdigit() and int(part) < len(container):
        return container[int(part)]
    raise PatchError(f"path {path} does not exist")


def _resolve(document: object, path: str) -> object:
    value = document
    for part in _pointer(path):
        value = _child(value, part, path)
    return value


def _add(document: dict, path: str, value: object, *, replace: bool) -> dict:
    container, last = _parent(document, path)
    if isinstance(container, dict):
        if replace and last not in container:
            raise PatchError(f"path {path} does not exist: nothing to replace")
        container[last] = value
    elif isinstance(container, list):
        if last == "-" and not replace:
            container.append(value)
        elif last.isdigit() and int(last) <= len(container) - int(replace):
            if replace:
                container[int(last)] = value
            else:
                container.insert(int(last), value)
        else:
            raise PatchError(f"index {last} out of range in {path}")
    else:
        raise PatchError(f"path {path} does not name an object or a list")
    return document


def _remove(document: dict, path: str) -> dict:
    container, last = _parent(document, path)
    if isinstance(container, dict) and last in container:
        del container[last]
    elif isinstance(container, list) and last.isdigit() and int(last) < len(container):
        del container[int(last)]
    else:
        raise PatchError(f"path {path} does not exist: nothing to remove")
    return document
