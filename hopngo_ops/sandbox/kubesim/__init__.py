"""A Kubernetes API simulator for the sandbox: no kube-apiserver can be installed here.

It serves namespace `hopngo` as the scenario describes it, over HTTPS on 127.0.0.1, with
enough of the real API (discovery, Table output, watches, patches, subresources, RBAC, Status
errors) that both `kubectl` and the official `kubernetes` client work against it unchanged.
Run it with `python -m hopngo_ops.sandbox.kubesim`; `hopngo_ops.sandbox.kubernetes.start`
does that for the sandbox.
"""
