"""`hopngo-ops incidents list | show ID | verify ID`: read and check the incident records."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from hopngo_ops.findings import SEVERITIES
from hopngo_ops.record.files import MANIFEST
from hopngo_ops.record.ids import existing_incident_dir, list_incidents, records_root
from hopngo_ops.record.manifest import read_manifest
from hopngo_ops.record.verify import verify_incident

# verify: the record differs from its manifest.
EXIT_TAMPERED = 1


def add_incidents_command(commands: argparse._SubParsersAction) -> None:
    root = argparse.ArgumentParser(add_help=False)
    root.add_argument("--output-dir", type=Path, help="records root (default: incidents/)")
    incidents = commands.add_parser("incidents", help="list, show and verify incident records")
    verbs = incidents.add_subparsers(dest="verb", required=True)
    verbs.add_parser("list", parents=[root], help="every incident").set_defaults(func=_list)
    show = verbs.add_parser("show", parents=[root], help="an incident's runs, findings, files")
    show.add_argument("incident", help="INC-YYYY-MMDD-NNN")
    show.add_argument("--json", action="store_true", help="print the manifest as it is")
    show.set_defaults(func=_show)
    verify = verbs.add_parser(
        "verify", parents=[root], help="check every file against the manifest's SHA-256"
    )
    verify.add_argument("incident", help="INC-YYYY-MMDD-NNN")
    verify.set_defaults(func=_verify)


def _list(args: argparse.Namespace) -> int:
    root = args.output_dir or records_root()
    ids = list_incidents(root)
    if not ids:
        print(f"no incidents under {root}")
        return 0
    print(f"{'incident':<19} {'date':<10} {'status':<9} {'notebooks':<40} worst finding")
    for incident_id in ids:
        folder = existing_incident_dir(root, incident_id)
        date = "-".join(folder.parts[-4:-1])
        if not (folder / MANIFEST).exists():
            print(f"{incident_id:<19} {date:<10} {'-':<9} {'-':<40} (no run has finished)")
            continue
        manifest = read_manifest(folder)
        notebooks = ", ".join(r.get("notebook") or r["record"] for r in manifest["runs"])
        status = manifest["status"] or "-"
        print(f"{incident_id:<19} {date:<10} {status:<9} {notebooks:<40} {_worst(manifest)}")
    return 0


def _show(args: argparse.Namespace) -> int:
    folder = existing_incident_dir(args.output_dir or records_root(), args.incident)
    manifest = read_manifest(folder)
    if args.json:
        print(json.dumps(manifest, indent=2, sort_keys=True))
        return 0
    print(f"{manifest['incident_id']}: {manifest['status']} (worst finding: {_worst(manifest)})")
    print(f"  folder: {folder}")
    print(f"  from {manifest['started_at']} to {manifest['finished_at']}")
    print(f"  profiles: {', '.join(manifest['profiles']) or '-'}")
    print(f"  hopngo-ops {manifest['hopngo_ops_version']}, runbook {manifest['runbook_commit']}")
    print("runs:")
    for run in manifest["runs"]:
        error = f": {run['error']}" if run.get("error") else ""
        print(f"  {run['record']:<32} {run['status']:<9} {run.get('started_at', '')}{error}")
    print("findings:")
    for finding in manifest["findings"]:
        print(f"  [{finding['severity']}] {finding['check']}: {finding['message']}")
    print("actions:")
    for action in manifest["actions"]:
        print(f"  {action['at']} {action['action']} {action['target']}: {action['result']}")
    print(f"files: {len(manifest['files'])} hashed (SHA-256) in {MANIFEST}")
    return 0


def _verify(args: argparse.Namespace) -> int:
    folder = existing_incident_dir(args.output_dir or records_root(), args.incident)
    problems = verify_incident(folder)
    for problem in problems:
        print(f"{args.incident}: {problem}")
    if problems:
        return EXIT_TAMPERED
    files = len(read_manifest(folder)["files"])
    print(f"{args.incident}: intact, {files} files match {MANIFEST}")
    return 0


def _worst(manifest: dict) -> str:
    """The first finding of the incident's worst severity, as one line."""
    ranked = sorted(manifest["findings"], key=lambda f: -SEVERITIES.index(f["severity"]))
    if not ranked:
        return "-"
    worst = ranked[0]
    return f"{worst['severity']}: {worst['check']}: {worst['message']}"
