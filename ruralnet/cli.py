"""The ``ruralnet`` command line: thin wrappers over the library (no logic of its own)."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import warnings
from pathlib import Path

from ._version import __version__


def _common(defaults: bool) -> argparse.ArgumentParser:
    """-v and --no-progress, accepted before or after the sub-command."""
    c = argparse.ArgumentParser(add_help=False)
    keep = {} if defaults else {"default": argparse.SUPPRESS}
    c.add_argument(
        "-v",
        "--verbose",
        action="count",
        help="more log output (-vv: debug)",
        **({"default": 0} | keep),
    )
    c.add_argument("--no-progress", action="store_true", help="no progress bars", **keep)
    return c


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ruralnet",
        description="Plan a rural county's school network: sites, villages, road travel times.",
        parents=[_common(True)],
    )
    p.add_argument("--version", action="version", version=f"ruralnet {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    common = [_common(False)]
    _county_commands(sub, common)
    _report_commands(sub, common)
    _data_commands(sub, common)
    return p


def _county_commands(sub, common) -> None:
    """Commands on one county folder: demo, network, od, map, catchments."""
    demo = sub.add_parser(
        "demo", parents=common, help="run the main job on the default county (maps and tables)"
    )
    demo.add_argument(
        "county", nargs="?", type=Path, help="county folder (default: the bundled county)"
    )
    demo.add_argument(
        "--out", type=Path, default=Path("maps/demo"), help="output folder (default maps/demo)"
    )

    net = sub.add_parser(
        "network", parents=common, help="write the road graph ruralnet routes on, as GraphML"
    )
    net.add_argument("county", type=Path, help="county folder")
    net.add_argument("--mode", choices=("walk", "bus"), required=True)
    net.add_argument("--out", type=Path, required=True, help="output .graphml file")

    od = sub.add_parser("od", parents=common, help="travel-time table between villages/sites")
    od.add_argument("county", type=Path, help="county folder")
    od.add_argument("--mode", choices=("walk", "bus"), required=True)
    od.add_argument("--from", dest="origins", choices=("villages", "sites"), default="villages")
    od.add_argument("--to", dest="destinations", choices=("villages", "sites"), default="sites")
    od.add_argument(
        "--cutoff", type=float, default=None, help="minutes; slower pairs are left empty"
    )
    od.add_argument("--out", type=Path, required=True, help="output .csv file")

    mp = sub.add_parser(
        "map", parents=common, help="a map of a county (self-contained HTML by default)"
    )
    mp.add_argument("county", type=Path, help="county folder")
    mp.add_argument("--out", type=Path, default=None, help="HTML file (default maps/<county>.html)")
    mp.add_argument("--basemap", choices=("none", "osm", "tianditu", "gaode"), default="none")
    mp.add_argument("--tianditu-key", default=None, help="user key for the Tianditu basemap")
    mp.add_argument("--lang", choices=("zh", "en"), default="zh")
    mp.add_argument(
        "--analysis", action="store_true", help="add catchments, mergers and bus routes"
    )

    catch = sub.add_parser(
        "catchments", parents=common, help="catchments, boarding catchments, accessibility"
    )
    catch.add_argument("county", type=Path, help="county folder")
    catch.add_argument("--out", type=Path, required=True, help="output folder")
    catch.add_argument(
        "--mode",
        choices=("walk", "bus"),
        default="walk",
        help="travel time that picks each village's site (default walk)",
    )
    catch.add_argument(
        "--no-bus",
        action="store_true",
        help="no school buses: pupils of grades 4-9 beyond walking distance board",
    )


def _report_commands(sub, common) -> None:
    """Reports for one or many counties: report (one after the other), batch (Dask)."""
    rep = sub.add_parser(
        "report",
        parents=common,
        help="merger candidates, plans and reports for one or many counties",
    )
    rep.add_argument("counties", type=Path, nargs="+", help="county folders")
    rep.add_argument(
        "--out", type=Path, required=True, help="output folder (one sub-folder per county)"
    )
    bat = sub.add_parser(
        "batch", parents=common, help="many counties at once on Dask (local cluster or a scheduler)"
    )
    bat.add_argument("counties", type=Path, nargs="+", help="county folders")
    bat.add_argument("--out", type=Path, required=True, help="output folder")
    bat.add_argument(
        "--scheduler", default=None, help="address of a Dask scheduler (default: local cluster)"
    )
    bat.add_argument("--workers", type=int, default=2, help="worker processes of the local cluster")
    bat.add_argument(
        "--force", action="store_true", help="rerun counties whose inputs did not change"
    )
    cmp = sub.add_parser(
        "compare",
        parents=common,
        help="what changed between two runs' recommended plans (sites, pupils, buses, cost, checks)",
    )
    cmp.add_argument("run_a", type=Path, help="report folder of the first run (A)")
    cmp.add_argument("run_b", type=Path, help="report folder of the second run (B)")
    cmp.add_argument("--out", type=Path, required=True, help="output folder")
    cmp.add_argument("--lang", choices=("zh", "en"), default="zh")
    for p in (rep, bat):  # the same job either way: batch takes every option report takes
        _job_arguments(p)
        p.add_argument(
            "--scenario",
            type=Path,
            metavar="S.toml",
            help="levers to try (keep_sites, close_sites, plan_reduces_grades, keep_township, "
            "size caps, any setting) on top of each county.toml",
        )


def _job_arguments(p) -> None:
    """The options of a county's job, shared by ``report`` and ``batch``."""
    p.add_argument(
        "--lang", choices=("zh", "en"), default="zh", help="report language (default Chinese)"
    )
    p.add_argument("--no-optimise", action="store_true", help="skip the exact site-selection model")
    p.add_argument(
        "--basemap",
        choices=("none", "osm", "gaode"),
        default="none",
        help="online basemap tiles for the map instead of the offline map",
    )
    p.add_argument(
        "--buses",
        choices=("all", "receiving", "none"),
        default="all",
        help="bus routes for every rider of every plan (default), only the merger plan's "
        "receiving sites (quicker), or none",
    )
    p.add_argument(
        "--years",
        type=int,
        nargs="+",
        metavar="YEAR",
        help="also the plan over these years (e.g. --years 2025 2027 2030): enrolment projected "
        "by grade, every year's plan from one model (classrooms built or rented, closures kept)",
    )


def _job_options(args):
    """:class:`ruralnet.jobs.JobOptions` from the shared options."""
    from .jobs import JobOptions

    return JobOptions(
        lang=args.lang,
        optimise=not args.no_optimise,
        buses=args.buses,
        basemap=args.basemap,
        years=tuple(args.years or ()),
        scenario=args.scenario,
    )


def _data_commands(sub, common) -> None:
    """Commands that write sample county folders."""
    data = sub.add_parser(
        "demo-data",
        parents=common,
        help="regenerate the bundled county (连南, real boundary and names)",
    )
    data.add_argument(
        "--seed", type=int, default=None, help="random seed (default: the bundled county's)"
    )
    data.add_argument("--out", type=Path, required=True, help="county folder to write")
    data.add_argument(
        "--county", default="441826", help="Qingyuan county code (default 441826 连南)"
    )

    prov = sub.add_parser(
        "province", parents=common, help="generate many county folders (scale tests, benchmarks)"
    )
    prov.add_argument(
        "--counties",
        default="qingyuan",
        help="'qingyuan' (the 8 real counties) or a number of synthetic counties",
    )
    prov.add_argument("--seed", type=int, default=0)
    prov.add_argument("--cell", type=float, default=90.0, help="DEM cell size in metres")
    prov.add_argument("--out", type=Path, required=True)

    andorra = sub.add_parser(
        "andorra-county",
        parents=common,
        help="write a county folder wrapping the real Andorra data",
    )
    andorra.add_argument("--out", type=Path, required=True)

    nb = sub.add_parser(
        "notebooks", parents=common, help="copy the example notebooks (they run from a wheel)"
    )
    nb.add_argument("--out", type=Path, required=True, help="folder to copy them into")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ruralnet`` command."""
    args = _parser().parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    if not args.verbose:  # Dask's cluster talks at INFO on its own loggers (workers inherit it)
        os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "error")
    if args.command is None:
        _parser().print_help()
        return 0
    # SIGTERM (a job scheduler, `kill`) ends like Ctrl-C: the staging folders are removed
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:  # Ctrl-C while the libraries still load is an interruption too
        return _run(args)
    except KeyboardInterrupt as exc:
        print(f"ruralnet {args.command}: interrupted", file=sys.stderr)
        return 143 if isinstance(exc, Terminated) else 130
    finally:
        signal.signal(signal.SIGTERM, previous)


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is, so that every clean-up runs."""


def _terminated(signum, frame) -> None:
    raise Terminated()


def _run(args) -> int:
    """One command, its expected errors as one line."""
    # RuralnetWarnings are also logged by the library: show them once, as log lines
    from .model.errors import RuralnetError, RuralnetWarning

    warnings.simplefilter("ignore", RuralnetWarning)
    try:
        return _COMMANDS[args.command](args)
    except (RuralnetError, FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        message = " | ".join(line.strip() for line in str(exc).splitlines() if line.strip())
        print(f"ruralnet {args.command}: error: {message}", file=sys.stderr)
        return 2


def _settings(args):
    from .model.settings import Settings

    return Settings(progress=not args.no_progress)


def _demo(args) -> int:
    from .jobs import run_county
    from .sources.datasets import bundled_county

    folder = args.county or bundled_county()
    row = run_county(
        folder, args.out, parts=("overview", "catchments", "report"), settings=_settings(args)
    )
    print(f"{row['name']}: {row['sites']} sites, {row['villages']} villages")
    for mode, s in row["overview"]["modes"].items():
        print(
            f"  {mode}: {s['nodes']:,} nodes, {s['edges']:,} edges; "
            f"{s['villages_reaching_a_site']} villages reach a site, median "
            f"{s['median_minutes_to_nearest_site']:.1f} min to the nearest; "
            f"{len(s['far_snaps'])} far snaps flagged"
        )
    print(f"  catchments: every pupil accounted for: {row['balanced']}")
    print(
        f"  mergers: {row['merges']} of {row['candidates']} small or closed sites; "
        f"policy checks failed: {row['policy_failed']}; buses: {row['buses']}"
    )
    print(
        f"written to {args.out}/: map.html, od_*.csv, nearest_*.csv, summary.json; catchments/; "
        "report/ (report.html, report.xlsx, plan_sites.csv, assignment.csv, policy_checks.csv, "
        "routes.csv, map.html...)"
    )
    return 0


def _network(args) -> int:
    from .network.county import network_for
    from .outputs.files import write_graphml

    net = network_for(args.county, args.mode, _settings(args))
    write_graphml(net, args.out)
    print(f"{net!r} -> {args.out}")
    return 0


def _od(args) -> int:
    from .network.county import load_county
    from .network.travel import od_matrix
    from .outputs.files import write_table

    county = load_county(args.county, settings=_settings(args))
    layers = {"villages": (county.villages, "village_id"), "sites": (county.sites, "site_id")}
    (o, oid), (d, did) = layers[args.origins], layers[args.destinations]
    od = od_matrix(
        county.network(args.mode),
        o,
        d,
        origin_ids=oid,
        destination_ids=did,
        cutoff_minutes=args.cutoff,
    )
    write_table(od, args.out)
    reached = int(od["minutes"].notna().sum())
    print(f"{len(od):,} pairs ({reached:,} reachable) -> {args.out}")
    return 0


def _andorra(args) -> int:
    from .demo.andorra import make_andorra_county

    print(make_andorra_county(args.out))
    return 0


def _print_rows(summary) -> None:
    for row in summary.itertuples():
        state = "unchanged, skipped" if getattr(row, "skipped", False) is True else row.status
        print(f"{row.county}: {state}" + (f" ({row.error})" if row.status != "ok" else ""))


def _report(args) -> int:
    from .jobs import BatchOptions, run_counties

    options = _job_options(args)
    batch = BatchOptions(progress=not args.no_progress)
    summary = run_counties(args.counties, args.out, options, batch, settings=_settings(args))
    _print_rows(summary)
    print(f"written to {args.out}/ (summary.csv and one folder per county)")
    return 0 if (summary["status"] == "ok").all() else 1


def _compare(args) -> int:
    from .analysis.comparison import compare_runs
    from .outputs.comparison import write_comparison
    from .sources.runs import read_run

    comparison = compare_runs(read_run(args.run_a), read_run(args.run_b))
    paths = write_comparison(comparison, args.out, lang=args.lang)
    print(
        f"{len(comparison.sites)} site(s) decided differently, {len(comparison.checks)} check(s) "
        f"with another result, {len(comparison.settings)} setting(s) differ"
    )
    print(f"written to {args.out}/: {', '.join(paths)}")
    return 0


def _batch(args) -> int:
    from .jobs import BatchOptions, run_counties

    options = _job_options(args)
    batch = BatchOptions(
        dask=True,
        scheduler=args.scheduler,
        workers=args.workers,
        progress=not args.no_progress,
        force=args.force,
        summary_name="province_summary.csv",
    )
    summary = run_counties(args.counties, args.out, options, batch, settings=_settings(args))
    _print_rows(summary)
    print(f"province summary -> {args.out / 'province_summary.csv'}")
    return 0 if (summary["status"] == "ok").all() else 1


def _map(args) -> int:
    from .network.county import load_county
    from .outputs.maps import county_map, save_map

    county = load_county(args.county, settings=_settings(args))
    analysis = catchments = None
    if args.analysis:
        from .analysis.catchments import analyse_catchments
        from .study import analyse_county

        analysis = analyse_county(county, optimise=False, lang=args.lang)
        catchments = analyse_catchments(county)
    m = county_map(
        county,
        analysis,
        catchments,
        basemap=args.basemap,
        tianditu_key=args.tianditu_key,
        lang=args.lang,
    )
    out = args.out or Path("maps") / f"{args.county.name}.html"
    save_map(m, out, offline=args.basemap == "none")
    print(f"map -> {out}" + (" (self-contained, works offline)" if args.basemap == "none" else ""))
    return 0


def _catchments(args) -> int:
    from .analysis.catchments import analyse_catchments
    from .network.county import load_county
    from .outputs.report import write_catchments

    county = load_county(args.county, settings=_settings(args))
    result = analyse_catchments(county, mode=args.mode, bus=not args.no_bus)
    paths = write_catchments(result, args.out)
    print(result.accounting.to_string(index=False))
    print(f"written to {args.out}/: {', '.join(paths)}")
    return 0 if result.accounting["balanced"].all() else 1


def _demo_data(args) -> int:
    from .demo import DEMO_SEED, generate_county, liannan_spec, qingyuan_spec, write_county

    spec = liannan_spec() if args.county == "441826" else qingyuan_spec(args.county)
    seed = DEMO_SEED if args.seed is None else args.seed
    gen = generate_county(spec, seed=seed)
    write_county(gen, args.out)
    print(f"{spec.name} (seed {seed}): {gen.stats} -> {args.out}")
    return 0


def _province(args) -> int:
    from .demo import generate_province

    counties = args.counties if args.counties == "qingyuan" else int(args.counties)
    paths = generate_province(
        args.out, counties, seed=args.seed, cell=args.cell, progress=not args.no_progress
    )
    print(f"{len(paths)} county folders -> {args.out}")
    return 0


def _notebooks(args) -> int:
    """Copy the example notebooks; a notebook already in the folder is left as it is."""
    import shutil

    from .sources.datasets import notebooks_folder

    args.out.mkdir(parents=True, exist_ok=True)
    copied, kept = [], []
    for path in sorted(notebooks_folder().glob("*.ipynb")):
        target = args.out / path.name
        if target.exists():
            kept.append(path.name)
            continue
        shutil.copyfile(path, target)
        copied.append(path.name)
    print(
        f"{len(copied)} notebook(s) -> {args.out}"
        + (f"; kept as they were: {kept}" if kept else "")
    )
    print("open them with: jupyter lab " + str(args.out))
    return 0


_COMMANDS = {
    "report": _report,
    "compare": _compare,
    "catchments": _catchments,
    "map": _map,
    "batch": _batch,
    "demo-data": _demo_data,
    "province": _province,
    "demo": _demo,
    "network": _network,
    "od": _od,
    "andorra-county": _andorra,
    "notebooks": _notebooks,
}

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
