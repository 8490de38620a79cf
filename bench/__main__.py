"""`python -m bench [NAME...]`: run the benchmarks, print and save their figures."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from bench import notebook_run, sandbox_up

BENCHMARKS = {"sandbox_up": sandbox_up.measure, "notebook_run": notebook_run.measure}


def main(argv: list[str]) -> int:
    chosen = argv or list(BENCHMARKS)
    results = {}
    for name in chosen:
        print(f"bench {name} ...", flush=True)
        results[name] = BENCHMARKS[name]()
        print(json.dumps(results[name], indent=2))
    out = Path(__file__).parent / "results" / f"{time.strftime('%Y%m%d-%H%M%S')}.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"saved {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
