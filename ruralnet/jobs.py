"""The county job and the batch job, as one runner.

:func:`analyse_county` runs the analysis of a loaded county (merger candidates, the plans
compared, their buses) and returns a :class:`CountyAnalysis`; :func:`run_county` is the
whole job for one county folder, from reading to the written report; :func:`run_counties`
runs it for many counties, one after the other or on Dask (a local cluster or a scheduler),
skipping counties whose inputs have not changed. The analysis modules compute, the output
modules write; this module only calls them in order.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ._version import __version__
from .model.errors import InputError, PlanError

log = logging.getLogger(__name__)

FINGERPRINT = ".ruralnet-fingerprint.json"
#: What the county job can write (``run_county(..., parts=...)``).
PARTS = ("overview", "catchments", "report")


@dataclass
class CountyAnalysis:
    """The analysis of one county: candidates, the plans compared, their buses.

    Attributes
    ----------
    county
        The loaded county.
    context
        Demand groups and travel times (:class:`~ruralnet.analysis.plans.PlanContext`).
    candidates, options
        Merger candidates with reasons, and the ranked receiving options behind them.
    evaluations
        Plan name (``current``, ``merger``, ``optimised``) -> its evaluation.
    recommended
        The plan the report recommends.
    buses
        Plan name -> its bus runs (:class:`~ruralnet.buses.county.CountyBuses`).
    """

    county: object
    context: object
    candidates: pd.DataFrame
    options: pd.DataFrame
    evaluations: dict
    recommended: str = "merger"
    buses: object | None = None
    seconds: dict = field(default_factory=dict)


def analyse_county(
    county, optimise: bool = True, lang: str = "zh", buses: str | None = "all"
) -> CountyAnalysis:
    """Merger candidates, then the current, merger and (optionally) optimised plans,
    evaluated, with buses for every rider of every plan and the cost of each.

    Parameters
    ----------
    county
        A loaded :class:`~ruralnet.network.county.County`.
    optimise
        Solve the plan model (the optimised plan, recommended); otherwise the merger plan is
        recommended.
    lang
        Language of the reasons (``zh`` or ``en``).
    buses
        ``"all"``: route every rider of every plan; ``"receiving"``: only the riders of the
        merger plan's receiving sites (quicker); ``"recommended"``: only the recommended
        plan's riders; ``None``: no routing.

    Raises
    ------
    PlanError
        If a plan loses or duplicates pupils, or its bus routes fail the independent check.
    """
    from .analysis.costs import plan_costs
    from .analysis.mergers import merger_candidates
    from .analysis.plans import current_plan, evaluate, merger_plan, plan_context
    from .analysis.policy import bus_checks, with_before
    from .analysis.siting import optimised_plan
    from .analysis.times import county_times

    seconds: dict = {}
    started = time.perf_counter()
    times = county_times(county)
    ctx = plan_context(county, times)
    candidates, options = merger_candidates(
        ctx.sites,
        times.site_walk,
        times.site_bus,
        county.settings,
        lang=lang,
        pupils=ctx.pupils_now,
    )
    seconds["context"] = round(time.perf_counter() - started, 2)
    current = evaluate(ctx, current_plan(ctx))
    evaluations = {
        "current": current,
        "merger": evaluate(ctx, merger_plan(ctx, candidates), current),
    }
    router = _Router(county, ctx, candidates, buses, "optimised" if optimise else "merger")
    router.route("current", current)
    if optimise:
        plan = optimised_plan(ctx, router.riders_per_bus("current"))
        evaluations["optimised"] = evaluate(ctx, plan, current)
    seconds["plans"] = round(time.perf_counter() - started - seconds["context"], 2)
    for name, ev in evaluations.items():
        if not ev.conserved:
            raise PlanError(
                f"plan {name}: pupils not conserved ({ev.pupils_before} before, "
                f"{ev.pupils_after} after, {ev.unassigned} unassigned)"
            )
        bus = router.route(name, ev)
        if bus is not None:
            rows = bus_checks(ctx, ev, bus.served(), bus.unserved)
            ref = current.policy if name != "current" else None
            ev.policy = pd.concat([ev.policy, with_before(rows, ref)], ignore_index=True)
        ev.costs = plan_costs(ctx, ev, bus)
    routed = router.routed
    seconds["buses"] = round(time.perf_counter() - started - sum(seconds.values()), 2)
    return CountyAnalysis(
        county,
        ctx,
        candidates,
        options,
        evaluations,
        recommended="optimised" if optimise else "merger",
        buses=routed or None,
        seconds=seconds,
    )


@dataclass
class YearsAnalysis:
    """The plan in phases: one analysis per year, each starting from the one before.

    Attributes
    ----------
    projection
        Pupils per site, grade and year (:class:`~ruralnet.analysis.projection.Projection`).
    phases
        Year -> that year's :class:`CountyAnalysis` (its ``current`` plan: the earlier phases'
        decisions on that year's pupils; its recommended plan: the year's phase).
    table
        :data:`~ruralnet.analysis.phases.PHASE_COLUMNS` per year and site, with ``name``,
        ``township_code``, ``small`` and ``classrooms_empty_later``.
    districts
        Year -> its learning districts (:func:`~ruralnet.analysis.districts.learning_districts`).
    """

    projection: object
    phases: dict
    table: pd.DataFrame
    districts: dict


def analyse_years(
    county, years, optimise: bool = True, lang: str = "zh", buses: str | None = "recommended"
) -> YearsAnalysis:
    """The plan year by year (see :mod:`ruralnet.analysis.phases`).

    Parameters
    ----------
    county
        A loaded county.
    years
        The phases' years (each within the enrolment year .. 2100; the projection reaches the
        last one).
    optimise, lang
        As :func:`analyse_county`.
    buses
        Which plans of each year get bus routes (default: the phase's plan only).
    """
    from .analysis.districts import learning_districts
    from .analysis.phases import (
        apply_shares,
        empty_classrooms,
        phase_table,
        transfer_shares,
        year_sites,
    )
    from .analysis.projection import project_enrolment
    from .analysis.teachers import teacher_posts

    s = county.settings
    years = sorted({int(y) for y in years})
    if not years or years[0] < s.enrolment_year:
        raise InputError(f"phase years must be {s.enrolment_year} or later, got {years}")
    seat = (county.meta.get("county") or {}).get("seat_township")
    projection = project_enrolment(
        county.sites, s, seat, horizon=max(years[-1], s.projection_horizon)
    )
    phases, tables, districts, shares, before = {}, [], {}, [], None
    for year in years:
        pupils = projection.pupils["central"][projection.years.index(year)]
        for share in shares:
            pupils = apply_shares(pupils, share)
        sites = year_sites(county.sites, pupils, before)
        analysis = analyse_county(county.with_sites(sites), optimise, lang, buses)
        ev = analysis.evaluations[analysis.recommended]
        shares.append(transfer_shares(analysis.context, ev))
        tables.append(phase_table(year, analysis.context, ev, teacher_posts(ev, s)))
        districts[year] = learning_districts(analysis.context, ev)
        phases[year], before = analysis, ev
    table = pd.concat(tables, ignore_index=True)
    facts = pd.concat(
        [a.evaluations[a.recommended].sites.assign(year=y) for y, a in phases.items()]
    )
    table["class_norm"] = facts["class_norm"].to_numpy()
    table["classes_after"] = (
        facts["classes"].fillna(0) + facts["classes_added"].fillna(0)
    ).to_numpy()
    later = _later_pupils(projection, shares, county.sites)
    table["classrooms_empty_later"] = empty_classrooms(table, later)
    return YearsAnalysis(
        projection, phases, table.drop(columns=["class_norm", "classes_after"]), districts
    )


def _later_pupils(projection, shares, sites) -> pd.DataFrame:
    """Pupils per site in every projected year, moved through every phase's decisions."""
    from .analysis.phases import apply_shares

    rows = []
    ids = sites["site_id"].astype(str).to_numpy()
    for t, year in enumerate(projection.years):
        pupils = projection.pupils["central"][t]
        for share in shares:
            pupils = apply_shares(pupils, share)
        rows.append(pd.DataFrame({"site_id": ids, "year": year, "pupils": pupils.sum(axis=1)}))
    return pd.concat(rows, ignore_index=True)


class _Router:
    """Bus routes of the plans of one analysis (identical runs solved once), each checked
    independently."""

    def __init__(self, county, ctx, candidates, buses: str | None, recommended: str):
        self.county, self.ctx, self.buses = county, ctx, buses
        self.sites = None
        if buses == "receiving":
            merges = candidates["decision"].astype(str).str.startswith("merge")
            self.sites = set(candidates.loc[merges, "receiving_site_id"])
        self.cache: dict = {}
        self.routed: dict = {}
        self.recommended = recommended

    def route(self, name: str, ev):
        from .buses.county import plan_buses

        if not self.buses or (self.buses == "recommended" and name != self.recommended):
            return None
        if name not in self.routed:
            bus = plan_buses(self.county, self.ctx, ev.rows, sites=self.sites, cache=self.cache)
            if bus.violations:
                raise PlanError(
                    f"plan {name}: bus routes failed the independent check: {bus.violations[:3]}"
                )
            self.routed[name] = bus
        return self.routed[name]

    def riders_per_bus(self, name: str) -> float | None:
        """Average riders per bus of a plan's routes (None without routes)."""
        bus = self.routed.get(name)
        if bus is None or bus.buses_needed() == 0:
            return None
        return float(bus.served()["pupils"].sum()) / bus.buses_needed()


def run_county(
    folder,
    out_dir,
    *,
    parts=("report",),
    lang: str = "zh",
    optimise: bool = True,
    settings=None,
    buses: str | None = "all",
    basemap: str = "none",
    years=None,
) -> dict:
    """The whole job for one county folder: read, analyse, write ``parts`` into ``out_dir``.

    ``years``: also the plan in phases for these years (:func:`analyse_years`), written beside
    the report.

    ``parts``: ``overview`` (travel-time tables and the county map into ``out_dir``),
    ``catchments`` (``out_dir/catchments/``), ``report`` (``out_dir/report/`` for the
    ``demo`` layout, or ``out_dir`` itself when it is the only part).

    Returns
    -------
    dict
        The county's summary row.
    """
    from .network.county import load_county
    from .outputs.files import staged_folder

    started = time.perf_counter()
    out = Path(out_dir)
    check_outputs({Path(folder): out})  # before the analysis, not after it
    county = load_county(folder, settings=settings)
    row: dict = {"county": Path(folder).name, "name": county.name, "code": county.code}
    overview = analysis = catchments = None
    if "overview" in parts:
        from .analysis.overview import county_overview

        overview = county_overview(county)
        row["overview"] = overview.summary
    phased = None
    if "report" in parts:
        analysis = analyse_county(county, optimise=optimise, lang=lang, buses=buses)
        row.update(summary_row(analysis))
        if years:
            phased = analyse_years(county, years, optimise, lang, "recommended" if buses else None)
            row["years"] = " ".join(str(y) for y in sorted(phased.phases))
    if "catchments" in parts:
        from .analysis.catchments import analyse_catchments

        catchments = analyse_catchments(county, ctx=analysis.context if analysis else None)
        row["balanced"] = bool(catchments.accounting["balanced"].all())
    from .outputs.report import write_catchments, write_county_report, write_overview

    with staged_folder(out) as tmp:  # the whole output appears at once, or not at all
        if overview is not None:
            write_overview(overview, county, tmp)
        if catchments is not None:
            write_catchments(catchments, tmp / "catchments")
        if analysis is not None:
            target = tmp / "report" if len(parts) > 1 else tmp
            write_county_report(analysis, target, lang=lang, basemap=basemap)
            if phased is not None:
                from .outputs.years import write_years_report

                write_years_report(phased, analysis, target, lang=lang)
    row["seconds"] = round(time.perf_counter() - started, 2)
    return row


def check_outputs(targets: dict) -> None:
    """Refuse output folders that would hurt: a file, a folder of other files, not writable,
    inside or above an input folder, or one folder for two counties.

    Parameters
    ----------
    targets
        Input folder -> the folder its outputs go to.

    Raises
    ------
    OutputError
        Naming the folder and the problem, before any analysis runs.
    """
    from .model.errors import OutputError
    from .outputs.files import check_replaceable

    seen: dict = {}
    inputs = [Path(f).resolve() for f in targets]
    for folder, target in targets.items():
        target = Path(target).resolve()
        if target in seen:
            raise OutputError(
                f"{seen[target]} and {folder} would both write to {target} (two county folders "
                "of the same name): rename one"
            )
        seen[target] = folder
        for f in inputs:
            if target == f or f in target.parents or target in f.parents:
                raise OutputError(
                    f"the output folder {target} is inside or above the input folder {f}: "
                    "choose a folder outside the county folders"
                )
        check_replaceable(target)


def summary_row(analysis: CountyAnalysis) -> dict:
    """A county's line of the batch summary."""
    cand = analysis.candidates
    ev = analysis.evaluations[analysis.recommended]
    before = analysis.evaluations["current"]
    return {
        "sites": len(analysis.county.sites),
        "villages": len(analysis.county.villages),
        "candidates": len(cand),
        "merges": int(cand["decision"].astype(str).str.startswith("merge").sum()),
        "kept": int((cand["decision"] == "keep").sum()),
        "restore": int((cand["decision"] == "restore").sum()),
        "pupils": ev.pupils_before,
        "beyond_before": int(before.stages["beyond_limits"].sum()),
        "beyond_after": int(ev.stages["beyond_limits"].sum()),
        "policy_failed": int((ev.policy["status"] == "failed").sum()),
        "buses": analysis.buses[analysis.recommended].buses_needed()
        if analysis.buses and analysis.recommended in analysis.buses
        else None,
    }


def _safe_county(folder, out_dir, options: dict, settings) -> dict:
    """:func:`run_county` that never raises: a failure becomes the row's ``error``."""
    folder = Path(folder)
    started = time.perf_counter()
    try:
        row = run_county(folder, Path(out_dir) / folder.name, settings=settings, **options)
        row["status"], row["error"] = "ok", ""
    except Exception as exc:  # one county's failure must not stop the batch
        log.error("county %s failed: %s: %s", folder, type(exc).__name__, exc)
        log.debug("traceback", exc_info=True)
        row = {
            "county": folder.name,
            "status": "error",
            "error": f"{type(exc).__name__}: {exc}".replace("\n", " | "),
            "seconds": round(time.perf_counter() - started, 2),
        }
    return row


def fingerprint(folder: str | Path, settings=None, options: dict | None = None) -> str:
    """Hash of a county's inputs (file names and contents), settings, options and version."""
    from .model.settings import Settings

    h = hashlib.sha256()
    folder = Path(folder)
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        h.update(str(path.relative_to(folder)).encode())
        with open(path.resolve(), "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    h.update(json.dumps((settings or Settings()).to_dict(), sort_keys=True, default=str).encode())
    h.update(json.dumps(options or {}, sort_keys=True, default=str).encode())
    h.update(__version__.encode())
    return h.hexdigest()


def _done(out: Path, folder: Path, print_: str) -> dict | None:
    """The previous summary row if the county's outputs are there and its fingerprint matches."""
    marker = out / folder.name / FINGERPRINT
    if not marker.exists():
        return None
    saved = json.loads(marker.read_text())
    if saved.get("fingerprint") != print_ or saved.get("row", {}).get("status") != "ok":
        return None
    return {**saved["row"], "status": "ok", "skipped": True}


def _task(folder: str, out_dir: str, options: dict, settings, print_: str | None) -> dict:
    """One county, as a batch task (writes the fingerprint when it succeeded)."""
    row = _safe_county(folder, out_dir, options, settings)
    if row["status"] == "ok" and print_ is not None:
        marker = Path(out_dir) / Path(folder).name / FINGERPRINT
        marker.write_text(json.dumps({"fingerprint": print_, "row": row}, default=str))
    return row


SUMMARY_INTS = (
    "sites",
    "villages",
    "candidates",
    "merges",
    "kept",
    "restore",
    "pupils",
    "beyond_before",
    "beyond_after",
    "policy_failed",
    "buses",
)


def run_counties(
    folders,
    out_dir: str | Path,
    *,
    dask: bool = False,
    scheduler: str | None = None,
    workers: int = 2,
    force: bool = True,
    settings=None,
    lang: str = "zh",
    optimise: bool = True,
    buses: str | None = "all",
    basemap: str = "none",
    progress: bool = True,
    summary_name: str = "summary.csv",
    years=None,
) -> pd.DataFrame:
    """The county job for each folder into ``OUT_DIR/<folder name>/``; the summary of all.

    A failing county is recorded with its error and the others go on.

    Parameters
    ----------
    dask
        Run on Dask distributed: a local cluster of ``workers`` processes, or the cluster at
        ``scheduler`` (``tcp://host:8786``). Otherwise one county after the other.
    force
        Rerun counties whose inputs, settings, options and ruralnet version have not changed
        (``False``: skip them, reusing their summary rows).
    summary_name
        File name of the summary in ``out_dir``.
    years
        Also the plan in phases for these years (see :func:`run_county`).
    """
    from tqdm.auto import tqdm

    out = Path(out_dir)
    folders = [Path(f).resolve() for f in folders]
    if out.is_file():
        from .model.errors import OutputError

        raise OutputError(f"{out} is a file: give a folder for the output")
    check_outputs({f: out / f.name for f in folders})
    out.mkdir(parents=True, exist_ok=True)
    options = {"lang": lang, "optimise": optimise, "buses": buses, "basemap": basemap}
    if years:
        options["years"] = sorted({int(y) for y in years})
    prints = {f: fingerprint(f, settings, options) for f in folders} if not force or dask else {}
    rows, todo = [], []
    for f in folders:
        previous = None if force else _done(out, f, prints[f])
        (rows.append(previous) if previous is not None else todo.append(f))
    log.info("%d counties to run, %d unchanged", len(todo), len(rows))
    bar = {"total": len(todo), "desc": "counties", "unit": "county", "disable": not progress}
    if dask and todo:
        rows += _on_dask(todo, out, options, settings, prints, scheduler, workers, bar)
    else:
        rows += [
            {**_task(str(f), str(out), options, settings, prints.get(f)), "skipped": False}
            for f in tqdm(todo, **bar)
        ]
    order = {f.name: i for i, f in enumerate(folders)}
    rows.sort(key=lambda r: order.get(r["county"], len(order)))
    return write_summary(rows, out / summary_name)


def _on_dask(todo, out, options, settings, prints, scheduler, workers, bar) -> list[dict]:
    from dask.distributed import Client, LocalCluster, as_completed
    from tqdm.auto import tqdm

    cluster = None
    if scheduler is None:
        cluster = LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        )
    client = Client(scheduler or cluster)
    rows = []
    try:
        futures = {
            client.submit(
                _task, str(f), str(out), options, settings, prints[f], pure=False,
                key=f"county-{f.name}-{prints[f][:8]}",
            ): f
            for f in todo
        }  # fmt: skip
        for fut in tqdm(as_completed(futures), **bar):
            try:
                rows.append({**fut.result(), "skipped": False})
            except Exception as exc:  # a worker died: still one row per county
                rows.append(
                    {
                        "county": futures[fut].name,
                        "status": "error",
                        "error": f"{type(exc).__name__}: {exc}",
                        "skipped": False,
                    }
                )
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return rows


def write_summary(rows: list[dict], path: Path) -> pd.DataFrame:
    """The province (or batch) summary: one row per county, counts as whole numbers."""
    from .outputs.files import write_table

    summary = pd.DataFrame(rows)
    for col in SUMMARY_INTS:
        if col in summary:
            summary[col] = pd.to_numeric(summary[col], errors="coerce").astype("Int64")
    write_table(summary.drop(columns=["overview"], errors="ignore"), path)
    return summary
