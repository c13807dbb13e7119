"""The ``ruralnet`` command line: thin wrappers over the library (no logic of its own)."""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from pathlib import Path

from ._version import __version__


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="ruralnet",
        description="Plan a rural county's school network: sites, villages, road travel times.",
    )
    p.add_argument("--version", action="version", version=f"ruralnet {__version__}")
    p.add_argument(
        "-v", "--verbose", action="count", default=0, help="more log output (-vv: debug)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser("demo", help="run the main job on the default county (maps and tables)")
    demo.add_argument(
        "county", nargs="?", type=Path, help="county folder (default: the bundled county)"
    )
    demo.add_argument(
        "--out", type=Path, default=Path("maps/demo"), help="output folder (default maps/demo)"
    )

    net = sub.add_parser("network", help="write the road graph ruralnet routes on, as GraphML")
    net.add_argument("county", type=Path, help="county folder")
    net.add_argument("--mode", choices=("walk", "bus"), required=True)
    net.add_argument("--out", type=Path, required=True, help="output .graphml file")

    od = sub.add_parser("od", help="travel-time table between villages/sites")
    od.add_argument("county", type=Path, help="county folder")
    od.add_argument("--mode", choices=("walk", "bus"), required=True)
    od.add_argument("--from", dest="origins", choices=("villages", "sites"), default="villages")
    od.add_argument("--to", dest="destinations", choices=("villages", "sites"), default="sites")
    od.add_argument(
        "--cutoff", type=float, default=None, help="minutes; slower pairs are left empty"
    )
    od.add_argument("--out", type=Path, required=True, help="output .csv file")

    rep = sub.add_parser(
        "report", help="merger candidates, plans and reports for one or many counties"
    )
    rep.add_argument("counties", type=Path, nargs="+", help="county folders")
    rep.add_argument(
        "--out", type=Path, required=True, help="output folder (one sub-folder per county)"
    )
    rep.add_argument(
        "--lang", choices=("zh", "en"), default="zh", help="report language (default Chinese)"
    )
    rep.add_argument(
        "--no-optimise", action="store_true", help="skip the exact site-selection model"
    )
    rep.add_argument(
        "--offline",
        action="store_true",
        default=True,
        help="self-contained map with no basemap tiles (the default)",
    )
    rep.add_argument(
        "--basemap",
        choices=("none", "osm", "gaode"),
        default="none",
        help="online basemap tiles for the map instead of the offline map",
    )
    rep.add_argument(
        "--buses",
        choices=("receiving", "all", "none"),
        default="receiving",
        help="bus routes for the merger plan's receiving sites (default), every site, or none",
    )

    bat = sub.add_parser(
        "batch", help="many counties at once on Dask (local cluster or a scheduler)"
    )
    bat.add_argument("counties", type=Path, nargs="+", help="county folders")
    bat.add_argument("--out", type=Path, required=True, help="output folder")
    bat.add_argument(
        "--scheduler", default=None, help="address of a Dask scheduler (default: local cluster)"
    )
    bat.add_argument("--workers", type=int, default=2, help="worker processes of the local cluster")
    bat.add_argument("--lang", choices=("zh", "en"), default="zh")
    bat.add_argument("--no-optimise", action="store_true")
    bat.add_argument("--buses", choices=("receiving", "all", "none"), default="receiving")
    bat.add_argument(
        "--force", action="store_true", help="rerun counties whose inputs did not change"
    )

    mp = sub.add_parser("map", help="a map of a county (self-contained HTML by default)")
    mp.add_argument("county", type=Path, help="county folder")
    mp.add_argument("--out", type=Path, default=None, help="HTML file (default maps/<county>.html)")
    mp.add_argument("--basemap", choices=("none", "osm", "tianditu", "gaode"), default="none")
    mp.add_argument("--tianditu-key", default=None, help="user key for the Tianditu basemap")
    mp.add_argument("--lang", choices=("zh", "en"), default="zh")
    mp.add_argument(
        "--analysis", action="store_true", help="add catchments, mergers and bus routes"
    )

    catch = sub.add_parser("catchments", help="catchments, boarding catchments, accessibility")
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

    data = sub.add_parser(
        "demo-data", help="regenerate the bundled county (连南, real boundary and names)"
    )
    data.add_argument(
        "--seed", type=int, default=None, help="random seed (default: the bundled county's)"
    )
    data.add_argument("--out", type=Path, required=True, help="county folder to write")
    data.add_argument(
        "--county", default="441826", help="Qingyuan county code (default 441826 连南)"
    )

    prov = sub.add_parser("province", help="generate many county folders (scale tests, benchmarks)")
    prov.add_argument(
        "--counties",
        default="qingyuan",
        help="'qingyuan' (the 8 real counties) or a number of synthetic counties",
    )
    prov.add_argument("--seed", type=int, default=0)
    prov.add_argument("--cell", type=float, default=90.0, help="DEM cell size in metres")
    prov.add_argument("--out", type=Path, required=True)

    andorra = sub.add_parser(
        "andorra-county", help="write a county folder wrapping the real Andorra data"
    )
    andorra.add_argument("--out", type=Path, required=True)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``ruralnet`` command."""
    args = _parser().parse_args(argv)
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")
    # RuralnetWarnings are also logged by the library: show them once, as log lines
    from .errors import RuralnetWarning

    warnings.simplefilter("ignore", RuralnetWarning)
    if args.command is None:
        _parser().print_help()
        return 0
    from .errors import RuralnetError

    try:
        return _COMMANDS[args.command](args)
    except (RuralnetError, FileNotFoundError) as exc:
        print(f"ruralnet {args.command}: error: {exc}", file=sys.stderr)
        return 2


def _settings(args):
    from .settings import Settings

    return Settings(progress=not args.no_progress)


def _demo(args) -> int:
    from . import datasets
    from .county import load_county
    from .pipeline import county_overview

    folder = args.county or datasets.bundled_county()
    if folder is None:
        print(
            "ruralnet demo: the bundled county geodata/demo-liannan is missing; "
            "regenerate it with: ruralnet demo-data --out geodata/demo-liannan",
            file=sys.stderr,
        )
        return 2
    county = load_county(folder, settings=_settings(args))
    summary = county_overview(county, args.out)
    print(f"{county.name}: {summary['sites']} sites, {summary['villages']} villages")
    for mode, s in summary["modes"].items():
        print(
            f"  {mode}: {s['nodes']:,} nodes, {s['edges']:,} edges; "
            f"{s['villages_reaching_a_site']} villages reach a site, median "
            f"{s['median_minutes_to_nearest_site']:.1f} min to the nearest; "
            f"{len(s['far_snaps'])} far snaps flagged"
        )
    from .catchments import analyse_catchments
    from .pipeline import analyse_county
    from .report import write_catchments, write_county_report

    catchments = analyse_catchments(county)
    write_catchments(catchments, args.out / "catchments")
    analysis = analyse_county(county)
    write_county_report(analysis, args.out / "report")
    cand = analysis.candidates
    print(
        f"  catchments: every pupil accounted for: {bool(catchments.accounting['balanced'].all())}"
    )
    print(
        f"  mergers: {int(cand['decision'].str.startswith('merge').sum())} of {len(cand)} small or closed sites; "
        f"buses for the receiving schools: {analysis.buses.buses_needed()}"
    )
    print(
        f"written to {args.out}/: map.html, od_*.csv, nearest_*.csv, summary.json; catchments/; "
        f"report/report.html (+ merger_candidates.csv/.xlsx, assignment.csv, policy_checks.csv, routes.csv, map.html)"
    )
    return 0


def _network(args) -> int:
    from .county import network_for

    net = network_for(args.county, args.mode, _settings(args))
    net.to_graphml(args.out)
    print(f"{net!r} -> {args.out}")
    return 0


def _od(args) -> int:
    from .county import load_county
    from .io import write_table
    from .travel import od_matrix

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
    from .datasets import make_andorra_county

    print(make_andorra_county(args.out))
    return 0


def _report(args) -> int:
    from .report import run_batch

    summary = run_batch(
        args.counties,
        args.out,
        lang=args.lang,
        optimise=not args.no_optimise,
        progress=not args.no_progress,
        settings=_settings(args),
        buses=None if args.buses == "none" else args.buses,
        basemap=args.basemap,
    )
    for row in summary.itertuples():
        print(f"{row.county}: {row.status}" + (f" ({row.error})" if row.status != "ok" else ""))
    print(f"written to {args.out}/ (summary.csv and one folder per county)")
    return 0 if (summary["status"] == "ok").all() else 1


def _batch(args) -> int:
    from .batch import run_dask

    summary = run_dask(
        args.counties,
        args.out,
        scheduler=args.scheduler,
        workers=args.workers,
        settings=_settings(args),
        lang=args.lang,
        optimise=not args.no_optimise,
        buses=None if args.buses == "none" else args.buses,
        progress=not args.no_progress,
        force=args.force,
    )
    for row in summary.itertuples():
        state = "unchanged, skipped" if getattr(row, "skipped", False) is True else row.status
        print(f"{row.county}: {state}" + (f" ({row.error})" if row.status != "ok" else ""))
    print(f"province summary -> {args.out / 'province_summary.csv'}")
    return 0 if (summary["status"] == "ok").all() else 1


def _map(args) -> int:
    from .county import load_county
    from .maps import county_map, save_map

    county = load_county(args.county, settings=_settings(args))
    analysis = catchments = None
    if args.analysis:
        from .catchments import analyse_catchments
        from .pipeline import analyse_county

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
    from .catchments import analyse_catchments
    from .county import load_county
    from .report import write_catchments

    county = load_county(args.county, settings=_settings(args))
    result = analyse_catchments(county, mode=args.mode, bus=not args.no_bus)
    paths = write_catchments(result, args.out)
    print(result.accounting.to_string(index=False))
    print(f"written to {args.out}/: {', '.join(paths)}")
    return 0 if result.accounting["balanced"].all() else 1


def _demo_data(args) -> int:
    from .synthetic import DEMO_SEED, generate_county, liannan_spec, qingyuan_spec, write_county

    spec = liannan_spec() if args.county == "441826" else qingyuan_spec(args.county)
    seed = DEMO_SEED if args.seed is None else args.seed
    gen = generate_county(spec, seed=seed)
    write_county(gen, args.out)
    print(f"{spec.name} (seed {seed}): {gen.stats} -> {args.out}")
    return 0


def _province(args) -> int:
    from .synthetic import generate_province

    counties = args.counties if args.counties == "qingyuan" else int(args.counties)
    paths = generate_province(
        args.out, counties, seed=args.seed, cell=args.cell, progress=not args.no_progress
    )
    print(f"{len(paths)} county folders -> {args.out}")
    return 0


_COMMANDS = {
    "report": _report,
    "catchments": _catchments,
    "map": _map,
    "batch": _batch,
    "demo-data": _demo_data,
    "province": _province,
    "demo": _demo,
    "network": _network,
    "od": _od,
    "andorra-county": _andorra,
}

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
