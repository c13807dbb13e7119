"""A batch of generated counties on Dask: 1 worker vs 2 workers, same counties, same run.

Usage: ``python benchmarks/bench_batch.py [--counties 6] [--cell 200]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings
from pathlib import Path


def main() -> None:
    warnings.simplefilter("ignore")
    from ruralnet.demo import generate_province
    from ruralnet.jobs import BatchOptions, JobOptions, run_counties

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--counties", type=int, default=6)
    p.add_argument(
        "--cell", type=float, default=200.0, help="DEM cell of the generated counties (m)"
    )
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folders = generate_province(
            Path(tmp) / "province", args.counties, seed=21, cell=args.cell, progress=False
        )
        times = {}
        for workers in (1, 2):
            t0 = time.perf_counter()
            summary = run_counties(
                folders,
                Path(tmp) / f"out{workers}",
                JobOptions(optimise=True, buses="receiving"),
                BatchOptions(dask=True, workers=workers, progress=False, force=True),
            )
            times[workers] = time.perf_counter() - t0
            assert (summary["status"] == "ok").all(), summary
            print(
                f"{workers} worker(s): {times[workers]:7.1f} s for {len(folders)} counties "
                f"({summary['villages'].sum()} villages, {summary['sites'].sum()} sites)",
                flush=True,
            )
    print(f"speed-up 2 vs 1 workers: {times[1] / times[2]:.2f}x (aim: at least 1.7x)")


if __name__ == "__main__":
    main()
