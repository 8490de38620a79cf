"""Tamper detection: an incident folder against the hashes its manifest recorded."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hopngo_ops.record.files import file_hashes, folder_lock
from hopngo_ops.record.manifest import read_manifest


@dataclass(frozen=True)
class Discrepancy:
    problem: str  # changed | missing | added
    file: str

    def __str__(self) -> str:
        return f"{self.problem}: {self.file}"


def verify_incident(folder: Path) -> list[Discrepancy]:
    """Every file changed, missing or added since the manifest was written; [] when intact."""
    # Shared lock: a run finishing now writes its files and manifest before this reads them.
    with folder_lock(folder, shared=True):
        recorded = read_manifest(folder)["files"]
        actual = file_hashes(folder)
    return sorted(
        [
            Discrepancy("changed", f)
            for f in recorded.keys() & actual.keys()
            if recorded[f] != actual[f]
        ]
        + [Discrepancy("missing", f) for f in recorded.keys() - actual.keys()]
        + [Discrepancy("added", f) for f in actual.keys() - recorded.keys()],
        key=lambda d: (d.file, d.problem),
    )
