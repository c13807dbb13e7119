"""The full pipeline on one county: time and peak memory per stage; the README main job;
how time and memory grow with county size.

Each measurement runs in a fresh process (peak RSS is per process). Usage:
``python benchmarks/bench_pipeline.py [--county DIR|CODE] [--baseline CHECKOUT] [--scaling]
[--json OUT]``

``--county`` takes a county folder or a Qingyuan county code (``441881``: generated here as
``ruralnet province --counties qingyuan --seed 0`` writes it). ``--baseline`` (a checkout of an
older commit, e.g. ``git worktree add /tmp/acfd acfd305``) runs the county's whole ``report``
and the README main job (``ruralnet demo``) with this code and with the baseline, alternately,
and prints CPU seconds (user + system), wall-clock and peak RSS of each, with the ratios.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

from bench_report import run_command  # a sibling script: run from benchmarks/ or by path


def _rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def stages(county_dir: str) -> list[dict]:
    """Run every stage once, in order, in this process."""
    warnings.simplefilter("ignore")
    import ruralnet as rn
    from ruralnet.outputs.report import write_county_report

    out = []
    t = time.perf_counter()

    def mark(name):
        nonlocal t
        now = time.perf_counter()
        out.append({"stage": name, "seconds": round(now - t, 3), "peak_rss_mb": round(_rss_mb())})
        t = now

    county = rn.load_county(county_dir)
    mark("load and validate the county")
    county.network("walk")
    mark("walk network (with DEM)")
    county.network("bus")
    mark("bus network")
    from ruralnet.analysis.evaluation import evaluate
    from ruralnet.analysis.mergers import merger_candidates
    from ruralnet.analysis.plans import current_plan, merger_plan, plan_context
    from ruralnet.analysis.siting import optimised_plan
    from ruralnet.analysis.times import county_times
    from ruralnet.buses.plan import plan_buses
    from ruralnet.study import analyse_county

    times = county_times(county)
    ctx = plan_context(county, times)
    mark("travel-time matrices and demand")
    catch = rn.analyse_catchments(county, ctx=ctx)
    mark("catchments, isochrones, accessibility")
    candidates, _ = merger_candidates(
        ctx.sites, times.site_walk, times.site_bus, county.settings, pupils=ctx.pupils_now
    )
    current = evaluate(ctx, current_plan(ctx))
    merger = evaluate(ctx, merger_plan(ctx, candidates), current)
    mark("merger candidates and plan")
    cache: dict = {}
    routed = plan_buses(county, ctx, current.rows, cache=cache)
    mark("bus routes of today's riders")
    load = routed.served()["pupils"].sum() / max(routed.buses_needed(), 1)
    best = evaluate(ctx, optimised_plan(ctx, load), current)
    mark("optimised plan (HiGHS)")
    for ev in (merger, best):
        plan_buses(county, ctx, ev.rows, cache=cache)
    mark("bus routes of the merger and optimised plans")
    analysis = analyse_county(county)  # the same again, from the run's cache of times
    mark("the whole analysis again (times cached)")
    with tempfile.TemporaryDirectory() as tmp:
        write_county_report(analysis, tmp)
    mark("report: CSV, XLSX, HTML, offline map")
    del catch
    return out


def make_county(value: str | None, tmp: Path, seed: int | None = None) -> str:
    """A county folder: the bundled county, a folder, or a generated Qingyuan county (with
    ``seed``, default as ``generate_province(seed=0)`` numbers it)."""
    from ruralnet import datasets
    from ruralnet.demo import generate_county, qingyuan_spec, write_county
    from ruralnet.demo.province import QINGYUAN_RELIEF

    if value is None:
        return str(datasets.bundled_county())
    if value not in QINGYUAN_RELIEF:
        return value
    k = list(QINGYUAN_RELIEF).index(value) if seed is None else seed
    lo, hi = QINGYUAN_RELIEF[value]
    spec = qingyuan_spec(value, low_m=lo, high_m=hi)
    return str(write_county(generate_county(spec, seed=k, cell=90.0), tmp / value))


def county_folder(value: str | None, tmp: Path, seed: int | None = None) -> str:
    """:func:`make_county` in a child process: a process's peak memory is inherited by the
    processes it starts (Linux keeps the high-water mark across exec), so the benchmark's own
    process stays small and every measured child starts from a clean slate."""
    args = ["--make-county", value or "", str(tmp)] + ([] if seed is None else [str(seed)])
    return _child(args)["folder"]


def against_baseline(county: str, baseline: Path) -> dict:
    """The county's report and the main job, this code and the baseline, alternately."""
    here = str(Path(__file__).resolve().parents[1])
    out: dict = {}
    for job, args in (("report", ["report", county]), ("main job", ["demo"])):
        for label, path in (("this code", here), ("baseline", str(baseline))):
            r = run_command(args, path)
            out.setdefault(job, {})[label] = r
            print(f"{job:8s} {label:9s} CPU {r['cpu']:7.1f} s  wall {r['wall']:7.1f} s  "
                  f"peak RSS {r['rss_mb']:6.0f} MB  buses {r.get('buses', '-')}", flush=True)  # fmt: skip
        mine, base = out[job]["this code"], out[job]["baseline"]
        print(f"{job}: this code / baseline CPU {mine['cpu'] / base['cpu']:.2f}x, "
              f"peak RSS {mine['rss_mb'] / base['rss_mb']:.2f}x", flush=True)  # fmt: skip
    return out


def _child(args: list[str]) -> dict:
    res = subprocess.run(
        [sys.executable, __file__, *args], capture_output=True, text=True, check=True
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--county",
        default=None,
        help="county folder or Qingyuan code (default: the bundled county)",
    )
    p.add_argument("--baseline", type=Path, help="checkout of an older commit to compare with")
    p.add_argument(
        "--scaling", action="store_true", help="also generate 4 real Qingyuan counties and compare"
    )
    p.add_argument("--json", type=Path, default=None)
    p.add_argument("--stages-of", help=argparse.SUPPRESS)
    p.add_argument("--make-county", nargs="+", help=argparse.SUPPRESS)
    p.add_argument("--analyse-only", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.stages_of:
        print(json.dumps(stages(args.stages_of)))
        return
    if args.make_county:
        value, tmp, *seed = args.make_county
        folder = make_county(value or None, Path(tmp), int(seed[0]) if seed else None)
        print(json.dumps({"folder": folder}))
        return
    if args.analyse_only:
        warnings.simplefilter("ignore")
        import ruralnet as rn

        t0 = time.perf_counter()
        c = rn.load_county(args.analyse_only)
        rn.analyse_county(c, buses=None)
        print(
            json.dumps(
                {
                    "seconds": time.perf_counter() - t0,
                    "peak_rss_mb": _rss_mb(),
                    "villages": len(c.villages),
                    "sites": len(c.sites),
                    "road_nodes": c.network("walk").n_nodes,
                }
            )
        )
        return

    generated = tempfile.TemporaryDirectory()
    county = county_folder(args.county, Path(generated.name))
    result = {"county": county}
    rows = _child(["--stages-of", county])
    result["stages"] = rows
    print(f"== pipeline stages on {county} (one fresh process) ==")
    for r in rows:
        print(f"{r['stage']:45} {r['seconds']:8.2f} s   peak RSS {r['peak_rss_mb']:6.0f} MB")
    print(f"{'total':45} {sum(r['seconds'] for r in rows):8.2f} s")

    here = str(Path(__file__).resolve().parents[1])
    job = run_command(["demo"], here)
    result["main_job"] = job
    print(
        f"\n== README main job (ruralnet demo on the bundled county) ==\nCPU {job['cpu']:.1f} s, "
        f"wall {job['wall']:.1f} s, peak RSS {job['rss_mb']:.0f} MB (aims: < 60 s, < 2,048 MB)"
    )

    if args.baseline:
        print(f"\n== this code against {args.baseline} (fresh processes, alternately) ==")
        result["baseline"] = against_baseline(county, args.baseline)

    if args.scaling:
        print(
            "\n== growth with county size (generated on real Qingyuan boundaries; plans, no buses) =="
        )
        result["scaling"] = []
        with tempfile.TemporaryDirectory() as tmp:
            for code in ("441825", "441826", "441823", "441881"):
                folder = county_folder(code, Path(tmp), seed=1)
                r = _child(["--analyse-only", str(folder)])
                r["code"] = code
                result["scaling"].append(r)
                print(
                    f"{code}: {r['villages']:5d} villages {r['sites']:4d} sites {r['road_nodes']:6d} road nodes  "
                    f"{r['seconds']:6.1f} s  peak RSS {r['peak_rss_mb']:5.0f} MB"
                )
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    generated.cleanup()


if __name__ == "__main__":
    main()
