"""The `hopngo-ops` command: sandbox, notebooks, run."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from hopngo_ops import sandbox
from hopngo_ops.errors import HopngoError, NotFound
from hopngo_ops.notebooks import ParameterError, list_notebooks, parameters_of
from hopngo_ops.record.commands import add_incidents_command

# Exit codes: 1 a run or command failed, 2 bad usage (argparse's too), 3 the sandbox is not up.
EXIT_FAILED, EXIT_USAGE, EXIT_NOT_UP = 1, 2, 3


def _sandbox_up(args: argparse.Namespace) -> int:
    status, started = sandbox.up(args.scenario, args.state_dir)
    if not started:
        print(
            f"sandbox already {status['state']} in {status['state_dir']} "
            f"(scenario {status['scenario']}); nothing changed. `hopngo-ops sandbox down` first "
            "to start another scenario."
        )
        return 0
    print(
        f"sandbox up in {status['ready_seconds']:.1f}s: scenario {status['scenario']}, "
        f"state in {status['state_dir']}"
    )
    for key in ("prometheus_url", "kubeconfig", "postgres_dsn", "rabbitmq_management_url"):
        print(f"  {key}: {status.get(key)}")
    return 0


def _sandbox_down(args: argparse.Namespace) -> int:
    stopped = sandbox.down(args.state_dir)
    print(f"sandbox down: stopped {', '.join(stopped)}" if stopped else "no sandbox was running")
    return 0


def _sandbox_status(args: argparse.Namespace) -> int:
    status = sandbox.read_status(args.state_dir or sandbox.default_state_dir())
    if args.json:
        print(json.dumps(status or {"state": "down"}, indent=2, sort_keys=True))
    elif status is None:
        print("no sandbox has been started here")
    else:
        print(f"sandbox {status['state']}: scenario {status['scenario']} in {status['state_dir']}")
        for proc in status.get("procs", []):
            print(f"  {proc['name']:<12} pid {proc['pid']:<8} log {proc['log']}")
    return 0 if status and status["state"] == "up" else EXIT_NOT_UP


def _run(args: argparse.Namespace) -> int:
    from hopngo_ops.runner import run_notebook  # papermill and nbformat: only when running

    parameters = _parameters_file(args.parameters_file) if args.parameters_file else {}
    parameters.update(dict(args.parameter))
    result = run_notebook(
        args.notebook,
        parameters,
        profile=args.profile,
        incident_id=args.incident,
        output_root=args.output_dir,
    )
    if result.error:
        print(f"hopngo-ops: {args.notebook} failed: {result.error}", file=sys.stderr)
    else:
        print(f"{args.notebook}: {result.status} (incident {result.incident_id})")
    print(result.path)
    return 0 if result.ok else EXIT_FAILED


def _parameters_file(path: Path) -> dict:
    try:
        values = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as err:
        raise ParameterError(f"cannot read parameters file {path}: {err}") from err
    if not isinstance(values, dict):
        raise ParameterError(f"parameters file {path} must be a mapping of name: value")
    return values


def _notebooks(args: argparse.Namespace) -> int:
    for name in list_notebooks():
        print(name)
        for p in parameters_of(name).values():
            print(f"  {p.name}: {p.type} = {p.default}  # {p.help}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="hopngo-ops", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    sandbox_cmd = commands.add_parser("sandbox", help="the local HopNGo platform")
    sandbox_verbs = sandbox_cmd.add_subparsers(dest="verb", required=True)
    state_dir = argparse.ArgumentParser(add_help=False)
    state_dir.add_argument(
        "--state-dir", type=Path, help="where the sandbox keeps its servers' data and status"
    )
    up_cmd = sandbox_verbs.add_parser("up", parents=[state_dir], help="start the servers")
    up_cmd.add_argument("--scenario", default="healthy", choices=list(sandbox.SCENARIOS))
    up_cmd.set_defaults(func=_sandbox_up)
    down_cmd = sandbox_verbs.add_parser("down", parents=[state_dir], help="stop the servers")
    down_cmd.set_defaults(func=_sandbox_down)
    status_cmd = sandbox_verbs.add_parser("status", parents=[state_dir], help="what runs")
    status_cmd.add_argument("--json", action="store_true", help="one JSON object")
    status_cmd.set_defaults(func=_sandbox_status)

    run_cmd = commands.add_parser("run", help="run a runbook notebook into the incident records")
    run_cmd.add_argument("notebook", help="a notebook name (see `hopngo-ops notebooks`)")
    run_cmd.add_argument(
        "-p",
        "--parameter",
        nargs=2,
        action="append",
        default=[],
        metavar=("NAME", "VALUE"),
        help="set a notebook parameter (typed as the notebook declares it)",
    )
    run_cmd.add_argument("-f", "--parameters-file", type=Path, help="a YAML file of parameters")
    run_cmd.add_argument("--profile", help="targets profile (default: the notebook's, sandbox)")
    run_cmd.add_argument("--incident", help="add the run to this incident (INC-YYYY-MMDD-NNN)")
    run_cmd.add_argument("--output-dir", type=Path, help="records root (default: incidents/)")
    run_cmd.set_defaults(func=_run)

    notebooks_cmd = commands.add_parser("notebooks", help="list notebooks and their parameters")
    notebooks_cmd.set_defaults(func=_notebooks)

    add_incidents_command(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ParameterError, NotFound) as err:
        print(f"hopngo-ops: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except HopngoError as err:
        print(f"hopngo-ops: error: {err}", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
