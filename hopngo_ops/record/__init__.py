"""Incident records: ids and folders, redaction, manifests, verification, HTML renderings.

Layout: `<root>/YYYY/MM/DD/INC-YYYY-MMDD-NNN/` holds `NN-<notebook>.ipynb` and its `.html`,
`timeline.jsonl` and `manifest.json`.
"""

from hopngo_ops.record.ids import (
    INCIDENT_ID,
    RecordError,
    allocate_incident,
    claim_record_path,
    existing_incident_dir,
    incident_dir,
    list_incidents,
    records_root,
)
from hopngo_ops.record.manifest import read_manifest
from hopngo_ops.record.redact import REDACTED, Redactor
from hopngo_ops.record.verify import Discrepancy, verify_incident

__all__ = [
    "INCIDENT_ID",
    "REDACTED",
    "Discrepancy",
    "RecordError",
    "Redactor",
    "allocate_incident",
    "claim_record_path",
    "existing_incident_dir",
    "incident_dir",
    "list_incidents",
    "read_manifest",
    "records_root",
    "verify_incident",
]
