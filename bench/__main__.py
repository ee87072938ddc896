"""``python -m bench [NAME ...]``: run the benchmarks and print their ratios.

Each ``bench/bench_<name>.py`` has ``async def run() -> list[Result]``. A result compares Perch
with a baseline measured in the same process, so machines of different speed agree on it.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import sys
from pathlib import Path

from bench.common import Result


def available() -> list[str]:
    return sorted(p.stem.removeprefix("bench_") for p in Path(__file__).parent.glob("bench_*.py"))


async def run(names: list[str]) -> list[Result]:
    results: list[Result] = []
    for name in names:
        print(f"==> {name}", file=sys.stderr, flush=True)
        module = importlib.import_module(f"bench.bench_{name}")
        results.extend(await module.run())
    return results


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "names", nargs="*", help=f"benchmarks to run (default: all of {available()})"
    )
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    results = asyncio.run(run(args.names or available()))
    if args.json:
        print(json.dumps([r.as_dict() for r in results], indent=2))
        return
    for result in results:
        print(result.line())


if __name__ == "__main__":
    main()
