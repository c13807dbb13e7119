"""One fleet for many schools vs the best published fleets (Bertsimas, Delarue & Martin, PNAS
2019) on the school-bus benchmark (RSRB01-08, CSCB01-08).

The reference's rules (``src/selection.jl``, ``src/scenarios.jl``, ``src/load.jl`` of
``mitschoolbus/SchoolBusRouting``): a school's bell time is its ``AMEARLY`` read as HHMM; a bus
dwells 154.4 s at a school; buses leave one yard freely; distances are Manhattan, driven at
29.3333 ft/s; a stop takes 19 s + 2.6 s per pupil; a run's duration is the service of every
stop (its first included) plus the travel to the school; a bus may do run ``r`` of school
``s2`` after school ``s1`` when ``bell(s1) + travel(s1 -> first stop of r) + duration(r) +
dwell <= bell(s2)``; a bus serves a school at most once. Whole stops (each on one bus), 66
seats, and the ride limit of ``bench_busroutes.py`` (travel from the first stop to the school
plus the service of every later stop).

Prints per instance: schools, stops, our buses, the PNAS best, our lower bound, the runs, the
seconds; then the totals per benchmark family. Writes ``DIR/fleet.csv`` (``instance, bus,
order, school_id, run, seq, stop_id``: one row per stop visit; ``order`` = position of the run
in the bus's day, ``seq`` = position of the stop in the run) and ``DIR/fleet_summary.csv``.

``--check DIR/fleet.csv`` re-checks a written file from the instance files alone (this file's
own code, not ruralnet's): every stop once, seats, ride limit, and every bus's day.

``--rules mixed``: the rules of Park, Tae & Kim (EJOR 217, 2012), under which a run may carry
pupils of several schools and each school is unloaded inside its window ``[AMEARLY, AMLATE]``
(:mod:`ruralnet.buses.mixed`: travel ``floor(Manhattan ft / 29.3333333)`` s, service
``floor(19 + 2.6 n)`` s at a stop and ``floor(29 + 1.9 n)`` s at a school, 66 seats at every
point, a pupil's ride from the bus's arrival at their stop to its arrival at their school,
waiting allowed anywhere). Its ``fleet.csv`` has one row per event: ``instance, bus, order,
run, seq, action, stop_id, school_id``. ``--replay PARK_DIR`` (the unzipped
``SBRP_Benchmark`` of their distribution, e.g. from the public repository
``lanxuedang/SBRP-School-Bus-Routing-Problem``) writes their published fleets in that form and
checks them; ``--check`` re-checks any such file. Without ``--replay`` it solves each
instance: single-school runs at the windows' ends, then a start of unloading for every run
inside its school's window (:func:`ruralnet.buses.bells.arrival_slots`: starts at most
``--slot-minutes`` (5) apart; 0: one start a school, :func:`~ruralnet.buses.bells.choose_bells`)
with mixed schools for every chain of up to ``--mixed-schools`` (2) schools, each at most
``--mixed-gap`` seconds from the one before
(default 0: none; within the time limit their routing costs the large instances more than it
saves, BENCHMARKS.md), each stage half the time limit; every fleet is checked as events before it is
written.

Usage: ``python benchmarks/bench_fleet.py [--rules pnas|mixed] [--instances RSRB01 ...]
[--max-ride 2700|5400] [--time-limit SECONDS] [--per-school SECONDS] [--seed N] [--out DIR]
[--check FLEET_CSV] [--replay PARK_DIR] [--mixed-gap SECONDS] [--mixed-schools N]
[--slot-minutes M]``
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

SEATS, SPEED, STOP_S, PER_PUPIL_S, DWELL_S = 66, 29.3333, 19.0, 2.6, 154.4
ALL = [f"{b}0{i}" for b in ("RSRB", "CSCB") for i in range(1, 9)]
MIXED_ALL = ALL + [f"CSCB{i:02d}" for i in range(9, 17)]


def main() -> None:
    from ruralnet.demo.sbrp import benchmark_folder

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--instances", nargs="+", default=ALL)
    p.add_argument("--max-ride", type=int, default=2700, choices=[2700, 5400])
    p.add_argument("--time-limit", type=float, default=600.0, help="seconds per instance")
    p.add_argument("--per-school", type=float, default=1.0, help="seconds per school routing")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("benchmarks/out"))
    p.add_argument("--geodata", type=Path, default=None)
    p.add_argument("--check", type=Path, default=None, help="re-check a fleet.csv and exit")
    p.add_argument("--rules", choices=["pnas", "mixed"], default="pnas")
    p.add_argument("--replay", type=Path, default=None, help="Park et al.'s SBRP_Benchmark folder")
    p.add_argument(
        "--mixed-gap",
        type=float,
        default=0.0,
        help="--rules mixed: mixed schools for pairs of schools at most this many seconds "
        "apart (default 0: none; see BENCHMARKS.md)",
    )
    p.add_argument(
        "--mixed-schools",
        type=int,
        default=2,
        help="--rules mixed with --mixed-gap: the most schools a mixed run unloads at",
    )
    p.add_argument(
        "--slot-minutes",
        type=float,
        default=5.0,
        help="--rules mixed: each run unloads at its own start in its school's window, the "
        "starts at most this far apart (0: one start a school)",
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log the solver's progress")
    args = p.parse_args()
    if args.verbose:
        import logging

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
        logging.getLogger("ruralnet.buses.exact").setLevel(logging.WARNING)
    sbrp = benchmark_folder(args.geodata)
    if args.check and _is_mixed(args.check):
        sys.exit(recheck_mixed(args.check, sbrp, args.max_ride))
    if args.check:
        sys.exit(recheck(args.check, sbrp, args.max_ride))
    warnings.simplefilter("ignore")  # PyVRP's penalty warnings on hard schools
    if args.rules == "mixed":
        sys.exit(replay_mixed(args, sbrp))
    best = pd.read_csv(sbrp / "bks_pnas_tableS1.csv")
    best = best[best["max_ride_s"] == args.max_ride].set_index("benchmark")["best_buses_PNAS"]
    head = f"{'instance':9} {'schools':>7} {'stops':>6} {'buses':>6} {'PNAS':>5} {'diff':>5}"
    print(f"{head} {'bound':>6} {'runs':>5} {'seconds':>8}", flush=True)
    rows, visits = [], []
    for inst in args.instances:
        row, table = _solve(sbrp, inst, args, int(best.get(inst, -1)))
        rows.append(row)
        visits.append(table)
        print(_line(row), flush=True)
        _write(args.out, pd.concat(visits), pd.DataFrame(rows))  # a long run keeps what it did
    summary = pd.DataFrame(rows)
    for family, part in summary.groupby(summary["instance"].str[:4], sort=False):
        total = part.drop(columns="instance").sum().to_dict()
        total = {k: (v if k == "seconds" else int(v)) for k, v in total.items()}
        total["instance"] = family
        print(_line(total) + f"   {100 * (total['buses'] / total['pnas'] - 1):+.1f}% vs PNAS")
    print(f"written {args.out / 'fleet.csv'}; every bus's day checked")


def _write(out: Path, visits: pd.DataFrame, summary: pd.DataFrame) -> None:
    """Write fleet.csv and fleet_summary.csv, each through a temporary file."""
    out.mkdir(parents=True, exist_ok=True)
    for name, frame in (("fleet.csv", visits), ("fleet_summary.csv", summary)):
        tmp = out / f".{name}.tmp"
        frame.to_csv(tmp, index=False)
        tmp.replace(out / name)


def _solve(sbrp: Path, inst: str, args, pnas: int) -> tuple[dict, pd.DataFrame]:
    from ruralnet.buses.run_pool import FleetOptions, plan_fleet
    from ruralnet.demo.sbrp import fleet_problem, read_instance

    schools, stops = read_instance(sbrp / inst)
    t0 = time.perf_counter()
    problem = fleet_problem(schools, stops, max_ride_s=args.max_ride)
    options = FleetOptions(  # the published times are the budget here, not work limits
        per_school_iterations=10**9,
        polish_iterations=10**9,
        time_limit_s=args.time_limit,
        per_school_s=args.per_school,
        polish_s=10.0,
        seed=args.seed,
    )
    sol = plan_fleet(problem, options)
    seconds = time.perf_counter() - t0
    table = sol.stops(problem).drop(columns="pupils")
    table.insert(0, "instance", inst)
    bad = _violations(table, schools, stops, args.max_ride)
    if bad:
        raise SystemExit(f"{inst}: the fleet fails the check: {bad[:3]}")
    row = {
        "instance": inst,
        "schools": len(schools),
        "stops": len(stops),
        "buses": sol.buses,
        "pnas": pnas,
        "bound": sol.lower_bound,
        "runs": len(sol.runs),
        "seconds": round(seconds, 1),
    }
    return row, table


def _line(r) -> str:
    return (
        f"{r['instance']:9} {r['schools']:7d} {r['stops']:6d} {r['buses']:6d} {r['pnas']:5d} "
        f"{r['buses'] - r['pnas']:+5d} {r['bound']:6d} {r['runs']:5d} {r['seconds']:8.1f}"
    )


def _violations(
    table: pd.DataFrame, schools: pd.DataFrame, stops: pd.DataFrame, max_ride: float
) -> list[str]:
    """Every rule of the benchmark, recomputed from the instance files."""
    bad = []
    st = stops.set_index("ID")
    sc = schools.set_index("ID")
    bell = {i: (v // 100) * 3600 + (v % 100) * 60 for i, v in sc["AMEARLY"].astype(int).items()}
    seen = table["stop_id"].value_counts()
    bad += [f"stop {s} visited {n} times" for s, n in seen[seen > 1].items()]
    bad += [f"stop {s} not visited" for s in sorted(set(st.index) - set(seen.index))]
    bad += [f"unknown stop {s}" for s in sorted(set(seen.index) - set(st.index))]
    table = table[table["stop_id"].isin(st.index)]
    for bus, day in table.groupby("bus"):
        runs = []  # (school, first stop xy, duration)
        for order, run in day.sort_values(["order", "seq"]).groupby("order", sort=True):
            school = run["school_id"].iloc[0]
            s = st.loc[run["stop_id"]]
            if run["school_id"].nunique() > 1 or (s["EP_ID"] != school).any():
                bad.append(f"bus {bus} run {order}: stops of another school")
                continue
            xy = np.vstack(
                [s[["X_COORD", "Y_COORD"]].to_numpy(float), sc.loc[[school], ["X", "Y"]]]
            )
            travel = np.abs(np.diff(xy, axis=0)).sum() / SPEED
            service = STOP_S + PER_PUPIL_S * s["STUDENT_COUNT"].to_numpy(float)
            if s["STUDENT_COUNT"].sum() > SEATS:
                bad.append(f"bus {bus} run {order}: {s['STUDENT_COUNT'].sum()} pupils")
            if travel + service[1:].sum() > max_ride + 1e-6:
                bad.append(f"bus {bus} run {order}: ride {travel + service[1:].sum():.1f} s")
            runs.append((school, xy[0], travel + service.sum()))
        schools_of_bus = [r[0] for r in runs]
        if len(set(schools_of_bus)) < len(schools_of_bus):
            bad.append(f"bus {bus} serves a school twice")
        for (s1, _, _), (s2, first, duration) in itertools.pairwise(runs):
            deadhead = np.abs(sc.loc[s1, ["X", "Y"]].to_numpy(float) - first).sum() / SPEED
            if bell[s1] + deadhead + duration + DWELL_S > bell[s2] + 1e-6:
                bad.append(f"bus {bus}: cannot reach school {s2}'s run after school {s1}")
    return bad


def recheck(path: Path, sbrp: Path, max_ride: int = 2700) -> int:
    """Re-check a fleet.csv against the instance files; print what fails, return 1 if any."""
    table = pd.read_csv(path, dtype={"instance": str, "school_id": str, "stop_id": str})
    bad = []
    for inst, part in table.groupby("instance"):
        schools = pd.read_csv(sbrp / inst / "Schools.txt", sep="\t", dtype={"ID": str})
        stops = pd.read_csv(sbrp / inst / "Stops.txt", sep="\t", dtype={"ID": str, "EP_ID": str})
        bad += [f"{inst}: {v}" for v in _violations(part, schools, stops, max_ride)]
    for line in bad:
        print(line)
    buses = table.groupby("instance")["bus"].nunique()
    print(f"{path}: {len(table)} stop visits, {buses.sum()} buses checked, {len(bad)} violations")
    return 1 if bad else 0


#: Park, Tae & Kim's published fleets (buses; their solution files, counted by bench_fleet.py
#: --rules mixed --replay), by ride limit.
PARK = {
    2700: dict(zip(MIXED_ALL, [30, 29, 56, 59, 98, 89, 154, 157, 30, 30, 55, 62, 116, 120, 175,
                               175, 27, 32, 51, 68, 130, 113, 200, 184], strict=True)),
    5400: dict(zip(MIXED_ALL, [27, 23, 47, 46, 79, 72, 134, 142, 24, 22, 41, 43, 97, 102, 133,
                               141, 23, 25, 39, 46, 102, 89, 166, 137], strict=True)),
}  # fmt: skip


def solve_mixed(args, sbrp: Path) -> int:
    """Our fleets under the mixed rules: single-school runs, the bells chosen inside the
    windows (:mod:`ruralnet.buses.bells`), every fleet checked as events."""
    instances = MIXED_ALL if args.instances == ALL else args.instances
    print(f"{'instance':9} {'schools':>7} {'stops':>6} {'buses':>6} {'Park':>5} {'diff':>5} "
          f"{'bound':>6} {'runs':>5} {'seconds':>8} {'single':>6} {'mixed':>5}", flush=True)  # fmt: skip
    rows, tables = [], []
    for inst in instances:
        row, events = _solve_mixed(sbrp, inst, args)
        rows.append(row)
        tables.append(events.assign(instance=inst))
        print(_line({**row, "pnas": row["park"]}) + f" {row['single']:6d} {row['mixed_runs']:5d}",
              flush=True)  # fmt: skip
        fleet = pd.concat(tables, ignore_index=True)
        _write(args.out, fleet[["instance", *fleet.columns[:-1]]], pd.DataFrame(rows))
    summary = pd.DataFrame(rows)
    for family, part in summary.groupby(summary["instance"].str[:4], sort=False):
        mine, theirs = part["buses"].sum(), part["park"].sum()
        print(f"{family}: {mine} buses, Park et al. {theirs} ({100 * (mine / theirs - 1):+.1f} %)")
    print(f"written {args.out / 'fleet.csv'} (one row per event); every fleet checked")
    return 0


def _solve_mixed(sbrp: Path, inst: str, args) -> tuple[dict, pd.DataFrame]:
    from ruralnet.buses.bells import arrival_slots, choose_bells, with_starts
    from ruralnet.buses.mixed import MixedRules, check_mixed, fleet_events
    from ruralnet.buses.run_pool import FleetOptions, plan_fleet
    from ruralnet.demo.sbrp import mixed_fleet_problem, mixed_pairs

    schools, stops, table, windows, travel = _mixed_inputs(sbrp, inst)
    t0 = time.perf_counter()
    base = mixed_fleet_problem(schools, stops, args.max_ride)  # bells: each window's end
    options = FleetOptions(  # the time is the budget here (two halves), not work limits
        per_school_iterations=10**9, polish_iterations=10**9, time_limit_s=args.time_limit / 2,
        per_school_s=args.per_school, polish_s=10.0, seed=args.seed,
    )  # fmt: skip
    cache: dict = {}
    first = plan_fleet(base, options, cache=cache)
    early, late = np.array([windows[str(i)] for i in schools["ID"]]).T
    if args.slot_minutes > 0:  # a start for every run, chosen with the runs
        tuned = arrival_slots(base, early, late, args.slot_minutes * 60.0)
    else:  # one start a school
        tuned = with_starts(base, choose_bells(base, early, late, first.runs)[0])
    if args.mixed_gap > 0:  # mixed schools at the chosen bells, from the first fleet's runs
        tuned = mixed_pairs(schools, stops, tuned, args.mixed_gap, args.mixed_schools)
    second = plan_fleet(tuned, options, pool=first.runs, cache=cache)
    problem, sol = (tuned, second) if second.buses <= first.buses else (base, first)
    single = first.buses
    events = fleet_events(problem, sol)
    bad = check_mixed(events, table, windows, travel, MixedRules(max_ride_s=args.max_ride))
    if bad:
        raise SystemExit(f"{inst}: the fleet fails the mixed rules: {bad[:3]}")
    seats = MixedRules().seats
    bound = int(np.ceil(table.groupby("school_id")["pupils"].sum() / seats).max())
    row = {
        "instance": inst, "schools": len(schools), "stops": len(stops), "buses": sol.buses,
        "park": PARK[args.max_ride].get(inst, -1), "bound": bound, "runs": len(sol.runs),
        "single": single, "mixed_runs": int(sum(len(problem.drops[r.school]) > 1 for r in sol.runs)),
        "seconds": round(time.perf_counter() - t0, 1),
    }  # fmt: skip
    return row, events


def _is_mixed(path: Path) -> bool:
    return "action" in pd.read_csv(path, nrows=0).columns


def _mixed_inputs(sbrp: Path, inst: str):
    """An instance read once: schools, stops (as in the files and as the checker reads them),
    the windows and the travel times of Park et al.'s rules."""
    from ruralnet.demo.sbrp import manhattan_travel, read_instance, windows

    schools, stops = read_instance(sbrp / inst)
    table = stops.rename(columns={"ID": "stop_id", "EP_ID": "school_id", "STUDENT_COUNT": "pupils"})
    return schools, stops, table, windows(schools), manhattan_travel(schools, stops)


def recheck_mixed(path: Path, sbrp: Path, max_ride: int = 2700) -> int:
    """Re-check a mixed-rule fleet.csv (one row per event) against the instance files."""
    from ruralnet.buses.mixed import MixedRules, check_mixed

    table = pd.read_csv(path, dtype={"instance": str, "school_id": str, "stop_id": str})
    bad = []
    for inst, part in table.groupby("instance"):
        _, _, stops, windows, travel = _mixed_inputs(sbrp, inst)
        rules = MixedRules(max_ride_s=float(max_ride))
        bad += [f"{inst}: {v}" for v in check_mixed(part, stops, windows, travel, rules)]
    for line in bad:
        print(line)
    buses = table.groupby("instance")["bus"].nunique()
    print(f"{path}: {len(table)} events, {buses.sum()} buses checked, {len(bad)} violations")
    return 1 if bad else 0


def replay_mixed(args, sbrp: Path) -> int:
    """Park et al.'s published fleets under the mixed rules: written as events, checked."""
    from ruralnet.buses.mixed import EVENT_COLUMNS, MixedRules, check_mixed
    from ruralnet.demo.sbrp import park_events

    if args.replay is None:
        return solve_mixed(args, sbrp)
    instances = MIXED_ALL if args.instances == ALL else args.instances
    tables, rows = [], []
    print(f"{'instance':9} {'schools':>7} {'stops':>6} {'buses':>6} {'runs':>5} {'mixed':>5} "
          f"{'violations':>10}")  # fmt: skip
    for inst in instances:
        schools, _, stops, windows, travel = _mixed_inputs(sbrp, inst)
        events = park_events(args.replay / inst[:4] / inst / f"solution_{args.max_ride}.txt")
        bad = check_mixed(events, stops, windows, travel, MixedRules(max_ride_s=args.max_ride))
        picks = events[events["action"] == "pickup"]
        per_run = picks.groupby(["bus", "order"])["school_id"].nunique()
        row = {"instance": inst, "schools": len(schools), "stops": len(stops),
               "buses": events["bus"].nunique(), "runs": len(per_run),
               "mixed": int((per_run > 1).sum()), "violations": len(bad)}  # fmt: skip
        rows.append(row)
        tables.append(events.assign(run=events["run"].astype(str)).assign(instance=inst))
        print(f"{inst:9} {row['schools']:7d} {row['stops']:6d} {row['buses']:6d} {row['runs']:5d} "
              f"{row['mixed']:5d} {row['violations']:10d}", flush=True)  # fmt: skip
    summary = pd.DataFrame(rows)
    for family, part in summary.groupby(summary["instance"].str[:4], sort=False):
        print(f"{family}: {part['buses'].sum()} buses, {part['violations'].sum()} violations")
    fleet = pd.concat(tables, ignore_index=True)[["instance", *EVENT_COLUMNS]]
    _write(args.out, fleet, summary)
    print(f"written {args.out / 'fleet.csv'} (Park et al.'s fleets, one row per event)")
    return 1 if summary["violations"].sum() else 0


if __name__ == "__main__":
    main()
