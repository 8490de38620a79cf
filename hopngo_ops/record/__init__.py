"""Incident records: ids and folders, redaction, manifests, verification, HTML renderings.

Layout: `<root>/YYYY/MM/DD/INC-YYYY-MMDD-NNN/` holds `NN-<notebook>.ipynb` and its `.html`,
`timeline.jsonl` and `manifest.json`.
"""

from importlib import import_module

# Lazy: the CLI reads ids and folders without paying for nbformat (manifest, verify).
_EXPORTS = {
    "INCIDENT_ID": "ids",
    "RecordError": "ids",
    "allocate_incident": "ids",
    "claim_record_path": "ids",
    "existing_incident_dir": "ids",
    "incident_dir": "ids",
    "list_incidents": "ids",
    "records_root": "ids",
    "read_manifest": "manifest",
    "REDACTED": "redact",
    "Redactor": "redact",
    "Discrepancy": "verify",
    "verify_incident": "verify",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(f"hopngo_ops.record.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'hopngo_ops.record' has no attribute {name!r}")
