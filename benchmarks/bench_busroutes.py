"""School-bus routes vs the published reference route sets (RSRB01-08, 2,700 s ride limit).

Each school of each instance is solved on its own with the reference parameters (66 seats,
Manhattan distance, 29.333 ft/s, 19 s + 2.6 s per pupil per stop, 2,700 s maximum ride,
where a route's ride is the travel from its first stop to the school plus the service time
of every later stop). Every route found is re-checked by ``ruralnet.buses.routing.check_routes``.
Prints ours vs reference routes per instance and in total, the proven lower bound on the
routes (whole stops: the exact model's optimum where HiGHS proves it, else the seats bound),
the schools proven optimal, and the time taken; writes every route to ``DIR/routes.csv``
(``instance, school_id, route, seq, stop_id``; with ``--split`` also ``pupils``, the pupils
that route picks up at that stop).

Any instance of the benchmark works (``--instances CSCB01``); ``--max-ride 5400`` compares
with the 5,400 s reference sets. ``--check DIR/routes.csv`` re-checks a routes file written by
this script (or anyone else) against the instances, independently of the solve.

Usage: ``python benchmarks/bench_busroutes.py [--instances RSRB01 ...] [--out DIR]
[--time-limit SECONDS] [--seed N] [--split] [--no-exact] [--max-ride 2700]
[--check ROUTES_CSV]``
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import pandas as pd


def main() -> None:
    from ruralnet.buses.routing import check_routes, solve
    from ruralnet.demo.sbrp import benchmark_folder, read_instance, reference_routes, school_problem

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
    p.add_argument("--max-ride", type=int, default=2700, choices=[2700, 5400])
    p.add_argument("--check", type=Path, default=None, help="re-check a routes.csv and exit")
    args = p.parse_args()
    sbrp = benchmark_folder(args.geodata)
    if args.check:
        sys.exit(recheck(args.check, sbrp, args.max_ride))
    warnings.simplefilter("ignore")  # PyVRP's penalty warnings on hard schools
    rows, routes = [], []
    print(
        f"{'instance':10} {'schools':>7} {'ours':>6} {'ref':>6} {'diff':>7} {'worse':>6} "
        f"{'bound':>6} {'optimal':>7} {'seconds':>8}"
    )
    for inst in args.instances:
        schools, stops = read_instance(sbrp / inst)
        ref = (
            reference_routes(_reference_file(sbrp, inst, args.max_ride)).groupby("school_id").size()
        )
        t0 = time.perf_counter()
        ours_total = worse = bound = proven = 0
        for _, school in schools.iterrows():
            problem = school_problem(school, stops, max_ride_s=args.max_ride)
            sol = solve(
                problem,
                iterations=10**9,  # the published times are the budget here
                time_limit_s=args.time_limit,
                seed=args.seed,
                exact=not args.no_exact,
                split=args.split,
            )
            bad = check_routes(problem, sol.routes)
            if bad or len(sol.unserved):
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


def _reference_file(sbrp: Path, instance: str, max_ride: int) -> Path:
    """The reference route set of an instance (``routes/RSRB2700/SBRP_RSRB01.txt``)."""
    return sbrp / "routes" / f"{instance[:4]}{max_ride}" / f"SBRP_{instance}.txt"


def recheck(path: Path, sbrp: Path, max_ride: int = 2700) -> int:
    """Re-check every route of a routes.csv; print the violations, return 1 if any."""
    from ruralnet.buses.routing import check_routes
    from ruralnet.demo.sbrp import read_instance, school_problem

    table = pd.read_csv(path, dtype={"instance": str, "school_id": str, "stop_id": str})
    bad = []
    for inst, part in table.groupby("instance"):
        schools, stops = read_instance(sbrp / inst)
        for _, school in schools.iterrows():
            problem = school_problem(school, stops, max_ride_s=max_ride)
            index = {sid: i + 1 for i, sid in enumerate(problem.stop_ids)}
            mine = part[part["school_id"] == school["ID"]].sort_values(["route", "seq"])
            unknown = sorted(set(mine["stop_id"]) - set(index))
            bad += [f"{inst} {school['ID']}: stop {u} is not this school's" for u in unknown]
            routes = [
                [
                    (
                        index[r.stop_id],
                        int(r.pupils)
                        if "pupils" in mine
                        else int(problem.pupils[index[r.stop_id] - 1]),
                    )
                    for r in rows.itertuples()
                    if r.stop_id in index
                ]
                for _, rows in mine.groupby("route")
            ]
            bad += [f"{inst} {school['ID']}: {v}" for v in check_routes(problem, routes)]
    for line in bad:
        print(line)
    print(
        f"{path}: {len(table)} stops on {table.groupby(['instance', 'school_id', 'route']).ngroups} "
        f"routes checked, {len(bad)} violations"
    )
    return 1 if bad else 0


if __name__ == "__main__":
    main()
