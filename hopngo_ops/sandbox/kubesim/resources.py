"""The resource types the simulator serves: what discovery lists and what a URL can name."""

from __future__ import annotations

from dataclasses import dataclass

READ_VERBS = ("get", "list", "watch")
ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    # Subresources served under an object's URL: "status", "scale", "log".
    subresources: tuple[str, ...] = ()
    verbs: tuple[str, ...] = ALL_VERBS
    categories: tuple[str, ...] = ()
    # Workloads count spec changes in metadata.generation; their status reports it back.
    tracks_generation: bool = False
    # Computed on read (metrics), never stored.
    virtual: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def qualified(self) -> str:
        """How error messages name the resource: `deployments.apps`, `pods`."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def qualified_kind(self) -> str:
        """How validation errors name the kind: `Deployment.apps`, `Pod`."""
        return f"{self.kind}.{self.group}" if self.group else self.kind

    @property
    def key(self) -> str:
        return f"{self.group}/{self.plural}"


def _workload(kind: str, plural: str, short: str) -> ResourceType:
    return ResourceType(
        "apps",
        "v1",
        kind,
        plural,
        short_names=(short,),
        subresources=("status", "scale"),
        categories=("all",),
        tracks_generation=True,
    )


POD = ResourceType(
    "",
    "v1",
    "Pod",
    "pods",
    short_names=("po",),
    subresources=("status", "log"),
    categories=("all",),
)
SERVICE = ResourceType("", "v1", "Service", "services", short_names=("svc",), categories=("all",))
SECRET = ResourceType("", "v1", "Secret", "secrets")
CONFIGMAP = ResourceType("", "v1", "ConfigMap", "configmaps", short_names=("cm",))
EVENT = ResourceType("", "v1", "Event", "events", short_names=("ev",))
NODE = ResourceType("", "v1", "Node", "nodes", namespaced=False, short_names=("no",))
NAMESPACE = ResourceType("", "v1", "Namespace", "namespaces", namespaced=False, short_names=("ns",))
DEPLOYMENT = _workload("Deployment", "deployments", "deploy")
REPLICASET = _workload("ReplicaSet", "replicasets", "rs")
STATEFULSET = _workload("StatefulSet", "statefulsets", "sts")
POD_METRICS = ResourceType(
    "metrics.k8s.io", "v1beta1", "PodMetrics", "pods", verbs=READ_VERBS[:2], virtual=True
)
NODE_METRICS = ResourceType(
    "metrics.k8s.io",
    "v1beta1",
    "NodeMetrics",
    "nodes",
    namespaced=False,
    verbs=READ_VERBS[:2],
    virtual=True,
)

ALL = (
    POD,
    SERVICE,
    SECRET,
    CONFIGMAP,
    EVENT,
    NODE,
    NAMESPACE,
    DEPLOYMENT,
    REPLICASET,
    STATEFULSET,
    POD_METRICS,
    NODE_METRICS,
)
BY_GROUP_PLURAL = {(r.group, r.plural): r for r in ALL}
# group -> its only served version (each group serves one).
GROUP_VERSIONS = {r.group: r.version for r in ALL}


def lookup(group: str, version: str, plural: str) -> ResourceType | None:
    rtype = BY_GROUP_PLURAL.get((group, plural))
    return rtype if rtype and rtype.version == version else None


# Not served as a resource: the autoscaling/v1 kind of the workloads' scale subresource.
SCALE = ResourceType("autoscaling", "v1", "Scale", "scale", verbs=("get", "patch", "update"))
