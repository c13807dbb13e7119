"""Same input, same bytes: the county report written twice, file by file, and its cost.

Usage::

    python benchmarks/bench_repro.py [COUNTY_DIR] [--baseline CHECKOUT] [--runs 2] [--load 3]

Runs ``ruralnet report COUNTY_DIR`` ``--runs`` times, each in a fresh process, and compares
every output file of the runs byte for byte (the later runs beside ``--load`` busy processes,
as on a shared machine); prints the files that differ, and each run's CPU seconds (user +
system of the child) beside its wall-clock. With ``--baseline`` (a checkout of
an older commit, e.g. ``git worktree add /tmp/old fd061d4``) the same is done with that code
(``PYTHONPATH``) in the same session, and the ratio of CPU seconds is printed.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _run(county: Path, out: Path, pythonpath: str | None) -> tuple[float, float]:
    """One report in a fresh process: (CPU seconds, wall seconds)."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "ruralnet.cli", "--no-progress", "report", str(county), "--out",
         str(out)],
        check=True, env=env, capture_output=True, cwd=out.parent,  # not this checkout
    )  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, time.perf_counter() - t0


def _busy() -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", "while True: pass"])


def _different(a: Path, b: Path) -> tuple[int, list[str]]:
    files = sorted(p.relative_to(a) for p in a.rglob("*") if p.is_file())
    differ = [
        str(f)
        for f in files
        if not (b / f).is_file() or (a / f).read_bytes() != (b / f).read_bytes()
    ]
    return len(files), differ


def measure(county: Path, runs: int, pythonpath: str | None, label: str, load: int) -> float:
    """Print one code's runs (every run after the first beside ``load`` busy processes, as on
    a shared machine); return its mean CPU seconds."""
    work = Path(tempfile.mkdtemp(prefix="repro-"))
    cpus = []
    for k in range(runs):
        hogs = [_busy() for _ in range(load if k else 0)]
        try:
            cpu, wall = _run(county, work / f"run{k}", pythonpath)
        finally:
            for h in hogs:
                h.kill()
        cpus.append(cpu)
        extra = f" (beside {len(hogs)} busy processes)" if hogs else ""
        print(f"{label}: run {k + 1}: {cpu:.1f} s CPU, {wall:.1f} s wall{extra}")
    for k in range(1, runs):
        n, differ = _different(work / "run0", work / f"run{k}")
        print(f"{label}: run 1 vs run {k + 1}: {n - len(differ)} of {n} files identical")
        for name in differ:
            print(f"    differs: {name}")
    return sum(cpus) / len(cpus)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("county", nargs="?", type=Path, default=None)
    p.add_argument("--baseline", type=Path, default=None, help="checkout of an older commit")
    p.add_argument("--runs", type=int, default=2)
    p.add_argument("--load", type=int, default=3, help="busy processes beside the later runs")
    args = p.parse_args()
    if args.county is None:
        from ruralnet.sources.datasets import bundled_county

        args.county = bundled_county()
    now = measure(args.county, args.runs, None, "this commit", args.load)
    if args.baseline is not None:
        old = measure(args.county, args.runs, str(args.baseline.resolve()), "baseline", args.load)
        print(f"CPU seconds per report: this commit / baseline = {now / old:.2f}")


if __name__ == "__main__":
    main()
