"""A county's whole report: CPU seconds, wall-clock and peak memory, this code against a
baseline checkout in the same run; optionally where the time goes (cProfile).

Usage::

    python benchmarks/bench_report.py COUNTY_DIR [--baseline CHECKOUT] [--years Y ...]
        [--runs 1] [--profile OUT.txt]
    python benchmarks/bench_report.py --scaling COUNTY_DIR [COUNTY_DIR ...]

Each run is ``ruralnet report COUNTY_DIR`` in a fresh process (imports included); its CPU
seconds (user + system) and peak RSS are read from the process's own resource usage, beside
the wall-clock (the machines are shared: CPU seconds are the steadier figure). With
``--scaling`` this code's report of each county is measured and the growth of CPU seconds and
peak memory with the county's villages is fitted (``time ~ villages^k``). With
``--baseline`` (e.g. ``git worktree add /tmp/base <commit>``) the same is run with that code
(``PYTHONPATH``), and the ratios are printed. With ``--profile`` one more run of this code is
profiled and the functions with the most cumulative and own time are written to the file.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

#: Runs one report and prints its own resource usage as JSON (a child of the benchmark).
CHILD = """
import json, resource, sys, time
from pathlib import Path
t0 = time.perf_counter()
from ruralnet.cli import main
code = main(sys.argv[1:])
r = resource.getrusage(resource.RUSAGE_SELF)
out = {"code": code, "cpu": r.ru_utime + r.ru_stime, "wall": time.perf_counter() - t0,
       "rss_mb": r.ru_maxrss / 1024}
import pandas as pd
out_dir = Path(sys.argv[sys.argv.index("--out") + 1])
fleet = next(iter([*out_dir.glob("fleet_summary.csv"), *out_dir.glob("*/fleet_summary.csv")]), None)
if fleet is not None:  # columns: day, bus_type, shared, own_runs, lower_bound, runs, pupils, bus_km
    t = pd.read_csv(fleet)
    out["buses"] = int(t.iloc[-1, 2])
    out["bus_km"] = round(float(t.iloc[:-1, 7].sum()), 1)
print(json.dumps(out))
"""


def run(county: Path, years: list[str], pythonpath: str | None, profile: Path | None = None):
    """One report in a fresh process: ``{"cpu", "wall", "rss_mb"}`` (and ``buses``,
    ``bus_km`` where the code writes ``fleet_summary.csv``)."""
    args = ["report", str(county)] + (["--years", *years] if years else [])
    return run_command(args, pythonpath, profile)


def run_command(args: list[str], pythonpath: str | None, profile: Path | None = None):
    """``ruralnet --no-progress ARGS --out TMP`` in a fresh process, with ``pythonpath``."""
    env = dict(os.environ)
    if pythonpath:
        env["PYTHONPATH"] = pythonpath
    with tempfile.TemporaryDirectory() as tmp:
        args = ["--no-progress", *args, "--out", str(Path(tmp) / "out")]
        if profile is not None:
            stats = Path(tmp) / "stats"
            cmd = [sys.executable, "-m", "cProfile", "-o", str(stats), "-m", "ruralnet.cli", *args]
            subprocess.run(cmd, check=True, env=env, capture_output=True, cwd=tmp)
            _write_profile(stats, profile)
            return None
        done = subprocess.run(
            [sys.executable, "-c", CHILD, *args], env=env, capture_output=True, text=True, cwd=tmp
        )
    result = json.loads(done.stdout.strip().splitlines()[-1]) if done.returncode == 0 else {}
    if result.get("code") != 0:
        raise SystemExit(done.stderr[-3000:])
    return result


def _write_profile(stats: Path, out: Path) -> None:
    import io
    import pstats

    text = io.StringIO()
    p = pstats.Stats(str(stats), stream=text)
    p.sort_stats("cumulative").print_stats(45)
    p.sort_stats("tottime").print_stats(30)
    out.write_text(text.getvalue(), encoding="utf-8")


def scaling(counties: list[Path], here: str) -> None:
    """This code's report of each county, and the fitted growth with its villages."""
    import numpy as np
    import pyogrio

    rows = []
    for county in counties:
        r = run(county.resolve(), [], here)
        villages = pyogrio.read_info(county / "villages.gpkg")["features"]
        sites = pyogrio.read_info(county / "sites.gpkg")["features"]
        rows.append((county.name, sites, villages, r["cpu"], r["rss_mb"], r.get("buses")))
        print(f"{county.name}: {sites} sites, {villages} villages, CPU {r['cpu']:.1f} s, "
              f"peak RSS {r['rss_mb']:.0f} MB, {r.get('buses')} buses", flush=True)  # fmt: skip
    v = np.log([row[2] for row in rows])
    for label, k in (("CPU seconds", 3), ("peak RSS", 4)):
        slope = np.polyfit(v, np.log([row[k] for row in rows]), 1)[0]
        print(f"{label} grow as villages^{slope:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("county", type=Path, nargs="?")
    ap.add_argument("--scaling", type=Path, nargs="+", help="counties to measure this code on")
    ap.add_argument("--baseline", type=Path, help="checkout of an older commit")
    ap.add_argument("--years", nargs="*", default=[])
    ap.add_argument("--runs", type=int, default=1)
    ap.add_argument("--profile", type=Path, help="write a cProfile summary of this code here")
    a = ap.parse_args()
    here = str(Path(__file__).resolve().parents[1])
    if a.scaling:
        scaling(a.scaling, here)
        return
    a.county = a.county.resolve()
    codes = [("this code", here)] + ([("baseline", str(a.baseline))] if a.baseline else [])
    results: dict[str, list[dict]] = {}
    for _ in range(a.runs):  # alternate, so that both see the same machine load
        for label, path in codes:
            r = run(a.county, a.years, path)
            results.setdefault(label, []).append(r)
            print(f"{label:10s} CPU {r['cpu']:7.1f} s  wall {r['wall']:7.1f} s  "
                  f"peak RSS {r['rss_mb']:6.0f} MB  buses {r.get('buses', '-')}  "
                  f"bus-km (days, weekly) {r.get('bus_km', '-')}", flush=True)  # fmt: skip
    if a.baseline:
        mine, base = results["this code"], results["baseline"]

        def mean(rs, key):
            return sum(r[key] for r in rs) / len(rs)

        print(
            f"baseline / this code: CPU {mean(base, 'cpu') / mean(mine, 'cpu'):.2f}x, wall "
            f"{mean(base, 'wall') / mean(mine, 'wall'):.2f}x, peak RSS "
            f"{mean(base, 'rss_mb') / mean(mine, 'rss_mb'):.2f}x"
        )
    if a.profile:
        run(a.county, a.years, here, profile=a.profile)
        print(f"profile written to {a.profile}")


if __name__ == "__main__":
    main()
