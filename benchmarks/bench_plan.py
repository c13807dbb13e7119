"""The plan model on a county: its size, HiGHS's time and memory, and what it achieves
against the merger screening's plan measured in the same run.

Usage: ``python benchmarks/bench_plan.py [--county DIR | --code 441881] [--no-buses]
[--years 2025 2027 2030 [--phases]]``. Without ``--county`` the largest Qingyuan county (英德 441881) is
generated on its real boundary and names (seed 0). Each run is one fresh process; peak RSS
covers it all. ``--years`` times the plan in phases instead (``analyse_years``, each year's
plan with its buses unless ``--no-buses``): one model of every year, or with ``--phases``
each year from the one before (run both, each in a fresh process, to compare: the CPU
seconds, peak RSS, and classrooms built and standing empty three years on are printed).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
import warnings
from pathlib import Path


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--county", type=Path, default=None)
    p.add_argument("--code", default="441881")
    p.add_argument("--no-buses", action="store_true", help="skip routing the three plans")
    p.add_argument("--years", type=int, nargs="+", help="the plan in phases for these years")
    p.add_argument("--phases", action="store_true", help="with --years: phase by phase")
    args = p.parse_args()
    warnings.simplefilter("ignore")
    import ruralnet as rn
    from ruralnet.analysis.costs import plan_costs
    from ruralnet.analysis.evaluation import evaluate
    from ruralnet.analysis.mergers import merger_candidates
    from ruralnet.analysis.plans import current_plan, merger_plan, plan_context
    from ruralnet.analysis.siting import PlanModel
    from ruralnet.analysis.times import county_times

    folder = args.county
    if folder is None:
        from ruralnet.demo import generate_county, qingyuan_spec, write_county

        folder = Path(tempfile.mkdtemp()) / args.code
        t = time.perf_counter()
        write_county(generate_county(qingyuan_spec(args.code), seed=0), folder)
        print(f"generated {args.code} in {time.perf_counter() - t:.1f} s")
    county = rn.load_county(folder, rn.Settings(progress=False))
    if args.years:
        return phased(county, args.years, not args.no_buses, joint=not args.phases)
    t0 = time.perf_counter()
    times = county_times(county)
    ctx = plan_context(county, times)
    t1 = time.perf_counter()
    cand, _ = merger_candidates(
        ctx.sites, times.site_walk, times.site_bus, county.settings, pupils=ctx.pupils_now
    )
    current = evaluate(ctx, current_plan(ctx))
    merger = evaluate(ctx, merger_plan(ctx, cand), current)
    load, routed, cache = None, {}, {}
    if not args.no_buses:  # riders per bus of today's routes price the model's riders
        from ruralnet.buses.plan import plan_buses

        tb = time.perf_counter()
        routed["current"] = plan_buses(county, ctx, current.rows, cache=cache)
        load = routed["current"].served()["pupils"].sum() / max(routed["current"].buses_needed(), 1)
        print(
            f"  buses of the current plan: {routed['current'].buses_needed()} ({time.perf_counter() - tb:.1f} s)"
        )
    t2 = time.perf_counter()
    model = PlanModel.from_context(ctx, riders_per_bus=load)
    plan = model.solve()
    t3 = time.perf_counter()
    best = evaluate(ctx, plan, current)
    m = plan.meta
    print(
        f"{county.name}: {len(county.sites)} sites, {len(county.villages)} villages, "
        f"{len(ctx.groups):,} demand groups, {int(ctx.groups['pupils'].sum()):,} pupils"
    )
    print(f"times and demand: {t1 - t0:.1f} s; merger screening and plan: {t2 - t1:.1f} s")
    print(
        f"plan model: {m['rows']:,} rows x {m['columns']:,} columns ({m['integers']} integer), "
        f"{m['solver']}, gap {m['gap']:.1e}; build + solve {t3 - t2:.1f} s (HiGHS {m['seconds']} s), "
        f"riders per bus {m['riders_per_bus']}"
    )
    costs = {}
    if not args.no_buses:
        from ruralnet.buses.plan import plan_buses

        for name, ev in (("merger", merger), ("optimised", best)):
            tb = time.perf_counter()
            routed[name] = plan_buses(county, ctx, ev.rows, cache=cache)
            print(
                f"  buses of the {name} plan: {routed[name].buses_needed()} ({time.perf_counter() - tb:.1f} s)"
            )
        for name, ev in (("current", current), ("merger", merger), ("optimised", best)):
            costs[name] = plan_costs(ctx, ev, routed[name])["cost"].iloc[-1]
    for name, ev in (("current", current), ("merger", merger), ("optimised", best)):
        failed = int((ev.policy["status"] == "failed").sum())
        cost = f", {costs[name] / 1e4:,.0f} 万元/年" if name in costs else ""
        print(
            f"{name:>9}: {int(ev.sites['open'].sum())} sites open, {failed} checks failed, "
            f"{int(ev.stages['beyond_limits'].sum())} pupils beyond the limits{cost}"
        )
    if costs:
        print(f"optimised / merger annual cost: {costs['optimised'] / costs['merger']:.3f}")
    print(f"peak RSS {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:,.0f} MB")


def phased(county, years, buses: bool, joint: bool = True) -> None:
    """Time and memory of the plan over the years (one model, or phase by phase)."""
    from ruralnet.outputs.years import years_summary
    from ruralnet.study import analyse_years

    t0 = time.perf_counter()
    result = analyse_years(county, years, buses="recommended" if buses else None, joint=joint)
    seconds = time.perf_counter() - t0
    r = resource.getrusage(resource.RUSAGE_SELF)
    print(f"{county.name}: {len(county.sites)} sites, {len(county.villages)} villages")
    summary = years_summary(result)
    print(summary.to_string(index=False))
    how = "one model" if joint else "phase by phase"
    print(f"{how} {years}: {seconds:.1f} s wall, {r.ru_utime + r.ru_stime:.1f} s CPU (with "
          f"loading); peak RSS {r.ru_maxrss / 1024:,.0f} MB; classrooms built "
          f"{int(summary['classes_added'].sum())}, empty three years on "
          f"{int(summary['classrooms_empty_later'].sum())}, temporary "
          f"{int(summary.get('temporary_classrooms', summary['classes_added'] * 0).sum())}")  # fmt: skip


if __name__ == "__main__":
    main()
