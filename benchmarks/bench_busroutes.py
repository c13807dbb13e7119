"""School-bus routes vs the published reference route sets (RSRB01-08, 2,700 s ride limit).

Each school of each instance is solved on its own with the reference parameters (66 seats,
Manhattan distance, 29.333 ft/s, 19 s + 2.6 s per pupil per stop, 2,700 s maximum ride,
where a route's ride is the travel from its first stop to the school plus the service time
of every later stop). Every route found is re-checked by ``ruralnet.busroutes.check_routes``.
Prints ours vs reference routes per instance and in total, the proven lower bound on the
routes (whole stops: the exact model's optimum where HiGHS proves it, else the seats bound),
the schools proven optimal, and the time taken; writes every route to ``DIR/routes.csv``
(``instance, school_id, route, seq, stop_id``; with ``--split`` also ``pupils``, the pupils
that route picks up at that stop).

Usage: ``python benchmarks/bench_busroutes.py [--instances RSRB01 ...] [--out DIR]
[--time-limit SECONDS] [--seed N] [--split] [--no-exact]``
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import pandas as pd


def main() -> None:
    from ruralnet import datasets
    from ruralnet.busroutes import check_routes, solve
    from ruralnet.sbrp import read_instance, reference_routes, school_problem

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--instances", nargs="+", default=[f"RSRB0{i}" for i in range(1, 9)])
    p.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    p.add_argument("--time-limit", type=float, default=10.0, help="seconds per school (default 10)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--geodata", type=Path, default=None)
    p.add_argument(
        "--split", action="store_true", help="let a stop's pupils ride on more than one bus"
    )
    p.add_argument("--no-exact", action="store_true", help="PyVRP only, no exact model")
    args = p.parse_args()
    root = args.geodata or datasets.shared_geodata()
    if root is None:
        sys.exit("no shared geodata (../shared/geodata); pass --geodata")
    sbrp = Path(root) / "sbrp"
    warnings.simplefilter("ignore")  # PyVRP's penalty warnings on hard schools
    rows, routes = [], []
    print(
        f"{'instance':10} {'schools':>7} {'ours':>6} {'ref':>6} {'diff':>7} {'worse':>6} "
        f"{'bound':>6} {'optimal':>7} {'seconds':>8}"
    )
    for inst in args.instances:
        schools, stops = read_instance(sbrp / inst)
        ref = (
            reference_routes(sbrp / "routes" / "RSRB2700" / f"SBRP_{inst}.txt")
            .groupby("school_id")
            .size()
        )
        t0 = time.perf_counter()
        ours_total = worse = bound = proven = 0
        for _, school in schools.iterrows():
            problem = school_problem(school, stops)
            sol = solve(
                problem,
                time_limit_s=args.time_limit,
                seed=args.seed,
                exact=not args.no_exact,
                split=args.split,
            )
            bad = check_routes(problem, sol.routes)
            if bad or not sol.feasible or len(sol.unserved):
                raise SystemExit(f"{inst} school {school['ID']}: infeasible routes: {bad[:3]}")
            ours_total += sol.buses
            worse += sol.buses > ref.get(school["ID"], 0)
            bound += sol.meta["lower_bound"]
            proven += bool(sol.meta["optimal"])
            for k, route in enumerate(sol.routes, start=1):
                for seq, (stop, n) in enumerate(route, start=1):
                    routes.append((inst, school["ID"], k, seq, problem.stop_ids[stop - 1], n))
        seconds = time.perf_counter() - t0
        ref_total = int(ref.sum())
        rows.append((inst, len(schools), ours_total, ref_total, worse, bound, proven, seconds))
        print(
            f"{inst:10} {len(schools):7d} {ours_total:6d} {ref_total:6d} {ours_total - ref_total:+7d} {worse:6d} "
            f"{bound:6d} {proven:7d} {seconds:8.1f}",
            flush=True,
        )
    table = pd.DataFrame(
        rows,
        columns=[
            "instance",
            "schools",
            "ours",
            "reference",
            "schools_worse",
            "lower_bound",
            "proven_optimal",
            "seconds",
        ],
    )
    ours, ref = table["ours"].sum(), table["reference"].sum()
    print(
        f"{'total':10} {table['schools'].sum():7d} {ours:6d} {ref:6d} {ours - ref:+7d} "
        f"{table['schools_worse'].sum():6d} {table['lower_bound'].sum():6d} "
        f"{table['proven_optimal'].sum():7d} {table['seconds'].sum():8.1f}"
    )
    mode = "split pick-ups" if args.split else "whole stops"
    print(
        f"{mode}: routes {100 * (ours - ref) / ref:+.1f}% vs reference; {table['seconds'].sum() / table['schools'].sum():.1f} s "
        f"per school; every route checked feasible"
    )
    args.out.mkdir(parents=True, exist_ok=True)
    out = pd.DataFrame(
        routes, columns=["instance", "school_id", "route", "seq", "stop_id", "pupils"]
    )
    if not args.split:
        out = out.drop(columns="pupils")  # whole stops: every stop's pupils on its one bus
    out.to_csv(args.out / "routes.csv", index=False)
    table.to_csv(args.out / "summary.csv", index=False)
    print(f"written {args.out / 'routes.csv'}")


if __name__ == "__main__":
    main()
