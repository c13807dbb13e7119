"""Write analysis results to files: the overview, the catchments, the county report.

With :mod:`ruralnet.outputs.files` and :mod:`ruralnet.outputs.maps`, the only code that writes.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from .._version import __version__
from ..analysis.catchments import ASSIGNMENT_COLUMNS, CatchmentResult
from ..analysis.mergers import CANDIDATE_COLUMNS
from ..buses.plan import ROUTE_COLUMNS
from ..buses.school_runs import RunKind
from ..model.atomic import atomic_path
from ..model.labels import ACTIONS, BOOL, DECISIONS, LEVERS, PLANS, label, text
from .charts import capacity_chart, travel_time_chart
from .files import output_folder, write_layers, write_table, write_workbook
from .maps import county_map, save_map
from .report_tables import (
    MERGER_XLSX_COLUMNS,
    TOWN_SITE_COLUMNS,
    bus_fleet,
    cost_differences,
    costs_more,
    costs_side_by_side,
    fleet_summary,
    fleet_townships,
    plan_tables,
)
from .tables import for_csv, html_table, translated


def write_overview(overview, county, out_dir: str | Path) -> dict[str, Path]:
    """Write the county overview (:func:`ruralnet.analysis.overview.county_overview`) into
    ``out_dir``: ``od_<mode>.csv``, ``nearest_<mode>.csv``, ``snaps_<mode>.csv``,
    ``summary.json`` and the offline county map ``map.html``."""
    import json

    out = Path(out_dir)
    paths = {}
    for mode in overview.od:
        for name, table in (
            ("od", overview.od[mode]),
            ("nearest", overview.nearest[mode]),
            ("snaps", overview.snaps[mode]),
        ):
            paths[f"{name}_{mode}.csv"] = write_table(table, out / f"{name}_{mode}.csv")
    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(overview.summary, ensure_ascii=False, indent=2), encoding="utf-8")
    paths["summary.json"] = out / "summary.json"
    paths["map.html"] = save_map(county_map(county), out / "map.html", offline=True)
    return paths


def write_catchments(result: CatchmentResult, out_dir: str | Path) -> dict[str, Path]:
    """Write a catchment analysis into ``out_dir``.

    Files: ``catchments.gpkg`` (layers ``catchments``: ``site_id, stage, children``;
    ``boarding``: boarding catchments; ``isochrones``), ``village_assignment.csv``
    (``village_id, stage, children, site_id, minutes, mode, boards``; ``site_id`` empty when
    unassigned), ``accessibility.csv`` (``township_code, stage, indicator, value``),
    ``boarding.csv`` (beds needed vs available per boarding site) and
    ``pupil_accounting.csv`` (children in, assigned, unassigned, in catchments, per stage).
    """
    out = output_folder(out_dir)
    paths = {
        "catchments.gpkg": write_layers(
            {
                "catchments": result.polygons,
                "boarding": result.boarding,
                "isochrones": result.isochrones,
            },
            out / "catchments.gpkg",
        ),
        "village_assignment.csv": write_table(
            for_csv(result.assignment[ASSIGNMENT_COLUMNS]), out / "village_assignment.csv"
        ),
        "accessibility.csv": write_table(
            _accessibility_for_csv(result.accessibility), out / "accessibility.csv"
        ),
        "boarding.csv": write_table(
            for_csv(result.boarding.drop(columns="geometry")), out / "boarding.csv"
        ),
        "pupil_accounting.csv": write_table(result.accounting, out / "pupil_accounting.csv"),
    }
    return paths


def _accessibility_for_csv(table: pd.DataFrame) -> pd.DataFrame:
    """The accessibility indicators as read: minutes to one decimal, counts of children and
    villages whole (the one ``value`` column holds both)."""
    minutes = table["indicator"].astype(str).str.endswith("_minutes").to_numpy()
    value = pd.to_numeric(table["value"], errors="coerce")
    rounded = [
        None if pd.isna(v) else (round(float(v), 1) if m else round(float(v)))
        for v, m in zip(value, minutes, strict=True)
    ]
    return table.assign(value=pd.Series(rounded, index=table.index, dtype=object))


def write_county_report(
    analysis,
    out_dir: str | Path,
    lang: str = "zh",
    basemap: str = "none",
    tianditu_key: str | None = None,
) -> dict[str, Path]:
    """Write one county's report into ``out_dir`` (see the README for the files).

    Every plan (current, merger, optimised) is in ``plan_sites.csv``, ``assignment.csv``,
    ``policy_checks.csv``, ``costs.csv`` and ``plans.csv``; the recommended plan's buses in
    ``routes.csv``, ``bus_runs.csv``, ``bus_fleet.csv`` and ``bus_unserved.csv``; the whole in
    ``report.html``, ``report.xlsx`` and the offline ``map.html``.
    """

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cand = analysis.candidates.assign(
        township=analysis.candidates["township_code"].map(analysis.context.township)
    )
    tables = plan_tables(analysis, lang)
    buses = analysis.evaluations[analysis.recommended].buses
    if buses is not None and buses.county_fleet is not None:  # once, for the files and pages
        tables["fleet_townships"] = fleet_townships(buses, analysis.context, lang)
    paths = {
        "merger_candidates.csv": write_table(
            for_csv(cand[[*CANDIDATE_COLUMNS, "township", "name", "receiving_name"]]),
            out / "merger_candidates.csv",
        ),
        "merger_candidates.xlsx": write_workbook(
            {SHEETS["candidates"][lang]: translated(cand[MERGER_XLSX_COLUMNS], lang)},
            out / "merger_candidates.xlsx",
        ),
    }
    for name in ("plan_sites", "assignment", "policy_checks", "costs", "plans"):
        paths[f"{name}.csv"] = write_table(for_csv(tables[name]), out / f"{name}.csv")
    paths["cost_differences.csv"] = write_table(
        for_csv(cost_differences(analysis, lang)), out / "cost_differences.csv"
    )
    if analysis.proposals is not None:
        paths["further_concentration.csv"] = write_table(
            for_csv(analysis.proposals), out / "further_concentration.csv"
        )
    with atomic_path(out / "scenario.json") as tmp:
        tmp.write_text(_scenario_json(analysis), encoding="utf-8")
    paths["scenario.json"] = out / "scenario.json"
    paths.update(_write_buses(analysis, out, lang, tables.get("fleet_townships")))
    rec = analysis.evaluations[analysis.recommended]
    paths["districts.csv"] = write_table(for_csv(rec.districts), out / "districts.csv")
    paths["districts.gpkg"] = write_layers(
        {"districts": rec.district_layer}, out / "districts.gpkg"
    )
    paths["report.xlsx"] = write_workbook(
        _workbook(analysis, tables, cand, lang), out / "report.xlsx"
    )
    paths["map.html"] = save_map(
        county_map(
            analysis.county, analysis, basemap=basemap, lang=lang, tianditu_key=tianditu_key
        ),
        out / "map.html",
        offline=basemap == "none",
    )
    with atomic_path(out / "report.html") as tmp:
        tmp.write_text(_html(analysis, tables, cand, lang), encoding="utf-8")
    paths["report.html"] = out / "report.html"
    return paths


def scenario_record(county) -> dict:
    """What ``scenario.json`` holds: the levers of the run (``county.toml`` ``[plan]`` and a
    scenario file, with their name) and every setting that differs from the defaults (what
    ``ruralnet compare`` sets side by side)."""
    record = {"name": "", "description": "", "sources": [], "levers": {}}
    record.update(getattr(county, "scenario", None) or {})
    changed = county.settings.changes()
    return {**record, "county": county.name, "code": county.code, "settings": changed}


def _scenario_json(analysis) -> str:
    record = {**scenario_record(analysis.county), "recommended": analysis.recommended}
    return json.dumps(record, ensure_ascii=False, indent=2, default=str)


SHEETS = {
    "candidates": {"zh": "撤并候选", "en": "merger candidates"},
    "plans": {"zh": "方案比较", "en": "plans"},
    "costs": {"zh": "年度费用", "en": "annual costs"},
    "policy": {"zh": "政策检查", "en": "policy checks"},
    "routes": {"zh": "校车线路", "en": "bus routes"},
    "fleet": {"zh": "校车数量", "en": "buses"},
    "county_fleet": {"zh": "全县校车统筹", "en": "county fleet"},
    "fleet_townships": {"zh": "各乡镇校车", "en": "fleet by township"},
    "bus_days": {"zh": "校车排班", "en": "bus days"},
    "bells": {"zh": "到校时间", "en": "bells"},
    "concentration": {"zh": "进一步集中方案", "en": "further concentration"},
}


def _write_buses(analysis, out: Path, lang: str, towns=None) -> dict[str, Path]:
    """The recommended plan's buses: routes, runs, fleet per school and township (``towns``:
    :func:`fleet_townships`), unserved."""

    buses = analysis.evaluations[analysis.recommended].buses
    if buses is None:
        return {}
    names = analysis.context.village_names
    routes = buses.routes.assign(stop_name=buses.routes["stop"].map(lambda v: names.get(v, v)))
    runs = buses.schools.assign(name=buses.schools["site_id"].map(lambda v: names.get(v, v)))
    unserved = buses.unserved.assign(
        stop_name=buses.unserved["stop_id"].map(lambda v: names.get(v, v)),
        name=buses.unserved["site_id"].map(lambda v: names.get(v, v)),
    )
    tables = {
        "bus_thin_pickups.csv": analysis.evaluations[analysis.recommended].thin_pickups,
        "routes.csv": routes[[*ROUTE_COLUMNS, "stop_name", "seats"]],
        "bus_runs.csv": runs,
        "bus_fleet.csv": bus_fleet(analysis, analysis.recommended, lang),
        "bus_unserved.csv": unserved,
    }
    fleet = buses.county_fleet
    if fleet is not None:
        weekly = fleet.weekly.assign(stop_name=fleet.weekly["stop"].map(lambda v: names.get(v, v)))
        lost = fleet.weekly_unserved.assign(
            direction="weekly",
            run=RunKind.WEEKLY.value,
            stop_name=fleet.weekly_unserved["stop_id"].map(lambda v: names.get(v, v)),
            name=fleet.weekly_unserved["site_id"].map(lambda v: names.get(v, v)),
        )
        tables["bus_unserved.csv"] = pd.concat([unserved, lost], ignore_index=True)
        tables["fleet.csv"] = fleet.runs
        tables["fleet_summary.csv"] = fleet_summary(buses)
        tables["fleet_townships.csv"] = towns
        tables["weekly_routes.csv"] = weekly
        tables["bells.csv"] = fleet.bells
    return {name: write_table(for_csv(t), out / name) for name, t in tables.items()}


def _workbook(analysis, tables, cand, lang) -> dict[str, pd.DataFrame]:
    """The report workbook: plans compared, costs, policy checks, candidates, a sheet per
    township, the buses."""

    rec = analysis.recommended
    sites, policy = tables["plan_sites"], tables["policy_checks"]
    sheets = {
        SHEETS["plans"][lang]: translated(tables["plans"], lang),
        SHEETS["costs"][lang]: costs_side_by_side(tables["costs"], lang),
        SHEETS["policy"][lang]: translated(
            policy[policy["plan"] == rec].drop(columns=["plan", "rule"]), lang
        ),
        SHEETS["candidates"][lang]: translated(cand[MERGER_XLSX_COLUMNS], lang),
    }
    if analysis.proposals is not None:
        sheets[SHEETS["concentration"][lang]] = translated(analysis.proposals, lang)
    for town, part in sites[sites["plan"] == rec].groupby("township_code", sort=True):
        sheets[analysis.context.township(town)] = translated(
            part[["site_id", *TOWN_SITE_COLUMNS]], lang
        )
    buses = (analysis.buses or {}).get(rec)
    if buses is not None and buses.county_fleet is not None:
        sheets[SHEETS["county_fleet"][lang]] = translated(fleet_summary(buses), lang)
        sheets[SHEETS["fleet_townships"][lang]] = translated(tables["fleet_townships"], lang)
        days = buses.county_fleet.runs.rename(columns={"run": "route"})
        sheets[SHEETS["bus_days"][lang]] = translated(days, lang)
        sheets[SHEETS["bells"][lang]] = translated(buses.county_fleet.bells, lang)
    if buses is not None and len(buses.routes):
        sheets[SHEETS["fleet"][lang]] = translated(bus_fleet(analysis, rec, lang), lang)
        names = analysis.context.village_names
        routes = buses.routes.assign(stop_name=buses.routes["stop"].map(lambda v: names.get(v, v)))
        sheets[SHEETS["routes"][lang]] = translated(routes, lang)
    return sheets


def _html(analysis, tables, cand, lang) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    s = analysis.county.settings
    rec = analysis.recommended
    ev = analysis.evaluations[rec]
    before = analysis.evaluations["current"]
    policy = tables["policy_checks"]
    sites = tables["plan_sites"]
    check_cols = ["rule_label", "status", "detail", "before_plan"]
    towns = []
    for town, part in sites[sites["plan"] == rec].groupby("township_code", sort=True):
        tc = cand[cand["township_code"].astype(str) == town]
        here = policy[(policy["plan"] == rec) & (policy["township_code"] == town)]
        towns.append(
            {
                "name": analysis.context.township(town),
                "code": town,
                "sites": html_table(part[TOWN_SITE_COLUMNS], lang),
                "candidates": html_table(
                    tc[["name", "pupils", "decision", "receiving_name", "reason"]], lang
                )
                if len(tc)
                else "",
                "policy": html_table(here[check_cols], lang),
            }
        )
    env = Environment(
        loader=PackageLoader("ruralnet.outputs", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    keys = ("summary", "plans", "costs", "costs_note", "times_chart", "capacity_chart", "policy",
            "candidates", "township", "map", "bus_runs", "bus_runs_note", "fleet")  # fmt: skip
    county_rows = policy[(policy["plan"] == rec) & (policy["township_code"] == "ALL")]
    fleet = bus_fleet(analysis, rec, lang)
    return env.get_template("report.html.j2").render(
        lang=lang,
        title=text("title", lang, county=analysis.county.name),
        county=analysis.county,
        generated=text("generated", lang, version=__version__),
        scenario=_scenario_line(analysis.county, lang),
        cards=_cards(analysis, cand, lang),
        t={k: text(k, lang) for k in keys},
        plans_table=html_table(tables["plans"], lang),
        costs_table=html_table(costs_side_by_side(tables["costs"], lang), lang),
        costs_more=costs_more(analysis, lang),
        screening_notes=screening_notes(analysis, lang),
        **_concentration_parts(analysis, lang),
        times_svg=travel_time_chart(
            before.assignment,
            ev.assignment,
            lang,
            (text_plan("current", lang), text_plan(rec, lang)),
            (s.max_walk_minutes, s.max_ride_minutes),
        ),
        capacity_svg=capacity_chart(ev.sites, lang),
        policy_table=html_table(county_rows[check_cols], lang),
        buses_table=html_table(fleet[fleet["level"] != "school"], lang) if len(fleet) else "",
        **_fleet_parts(analysis, lang, tables.get("fleet_townships")),
        candidates_table=html_table(
            cand[
                [
                    c
                    for c in MERGER_XLSX_COLUMNS
                    if c not in ("spare_places", "class_size_after", "site_id")
                ]
            ],
            lang,
        ),
        towns=towns,
        map_file="map.html",
    )


def _scenario_line(county, lang: str) -> str:
    """The scenario under the title: its name and levers (empty without levers)."""
    record = getattr(county, "scenario", None) or {}
    if not record.get("levers"):
        return ""
    names = dict(zip(county.sites["site_id"].astype(str), county.sites["name"], strict=True))
    parts = []
    for key, value in record["levers"].items():
        if key in ("keep_sites", "close_sites"):
            value = "、".join(names.get(str(v), str(v)) for v in value) or text("none", lang)
        elif isinstance(value, bool):
            value = label(BOOL, value, lang)
        parts.append(
            f"{label(LEVERS, key, lang)}：{value}"
            if lang == "zh"
            else f"{label(LEVERS, key, lang)}: {value}"
        )
    sep = "；" if lang == "zh" else "; "
    return text("scenario_line", lang, name=record.get("name") or "-", levers=sep.join(parts))


def _concentration_parts(analysis, lang: str) -> dict[str, str]:
    """The report's further-concentration section: what it is, and its sites one by one."""
    table = analysis.proposals
    if table is None:
        return {"concentration_title": "", "concentration_note": "", "concentration_table": ""}
    small = analysis.county.settings.small_site_pupils
    note = (
        text("concentration_note", lang, small=small, n=len(table))
        if len(table)
        else text("concentration_none", lang, small=small)
    )
    shown = table.drop(columns=["site_id", "township_code"])
    return {
        "concentration_title": text("concentration", lang),
        "concentration_note": note,
        "concentration_table": html_table(shown, lang) if len(table) else "",
    }


def _kept_small(cand: pd.DataFrame, sites: pd.DataFrame) -> int:
    """The small open sites of the screening that the plan keeps open."""
    small = cand.loc[~cand["decision"].isin(["stay_closed", "restore"]), "site_id"].astype(str)
    kept = sites["open"].to_numpy() & sites["site_id"].astype(str).isin(set(small)).to_numpy()
    return int(kept.sum())


def screening_notes(analysis, lang: str) -> list[str]:
    """One line per small site the recommended plan decides otherwise than the screening."""
    diff = analysis.screening_differences
    if diff is None or diff.empty:
        return []
    reason = "reason_zh" if lang == "zh" else "reason_en"
    return [
        text("screening_differs", lang, name=r.name,
             screening=label(DECISIONS, r.screening, lang), plan=label(ACTIONS, r.plan, lang),
             reason=getattr(r, reason) or "-")
        for r in diff.itertuples()
    ]  # fmt: skip


def _fleet_parts(analysis, lang: str, towns) -> dict[str, str]:
    """The report's county-fleet section: a sentence and the table per day, a sentence and
    the table per township (``towns``: :func:`fleet_townships`)."""

    buses = (analysis.buses or {}).get(analysis.recommended)
    if buses is None or buses.county_fleet is None or towns is None:
        return {
            "fleet_note": "",
            "fleet_table": "",
            "fleet_towns_note": "",
            "fleet_towns_table": "",
        }
    note = text("fleet_note", lang, shared=buses.buses_needed(), own=buses.school_by_school())
    county = towns.iloc[-1]
    towns_note = text(
        "fleet_towns_note", lang, buses=county["buses"], single=county["single_run_buses"],
        fixed=county["fixed_bells"], bells=county["saved_by_bells"], mixed=county["saved_by_mixed"],
        early=f"{analysis.county.settings.bus_early_minutes:g}",
    )  # fmt: skip
    return {
        "fleet_note": note,
        "fleet_table": html_table(fleet_summary(buses), lang),
        "fleet_towns_note": towns_note,
        "fleet_towns_table": html_table(towns.drop(columns="township_code"), lang),
    }


def _cards(analysis, cand: pd.DataFrame, lang: str) -> list[dict]:
    """The summary cards: current -> recommended plan."""

    s = analysis.county.settings
    ev = analysis.evaluations[analysis.recommended]
    before = analysis.evaluations["current"]
    buses = analysis.buses or {}

    def change(a, b) -> str:
        return f"{a:,.0f} → {b:,.0f}"

    def failed(e) -> int:
        return int((e.policy["status"] == "failed").sum())

    def stage(e, col) -> float:
        return e.stages[col].sum()

    cards = [
        (text("sites_open", lang), change(before.sites["open"].sum(), ev.sites["open"].sum())),
        (
            text("small_sites", lang, small=s.small_site_pupils),
            int((~cand["decision"].isin(["stay_closed", "restore"])).sum()),
        ),
        (text("merges", lang), int((ev.sites["action"] == "close").sum())),
        (
            text("keeps", lang),
            _kept_small(cand, ev.sites),
        ),
        (text("restore", lang), int((ev.sites["action"] == "reopen").sum())),
        (text("pupils", lang), f"{ev.pupils_before:,}"),
        (text("beyond", lang), change(stage(before, "beyond_limits"), stage(ev, "beyond_limits"))),
        (text("boarders", lang), change(stage(before, "boarders"), stage(ev, "boarders"))),
        (text("riders", lang), change(stage(before, "bus_riders"), stage(ev, "bus_riders"))),
        (text("policy_failed", lang), change(failed(before), failed(ev))),
    ]
    today = analysis.context.todays_buses
    if today is not None and analysis.recommended in buses:
        after = buses[analysis.recommended].buses_needed()
        cards.append((text("buses_today_card", lang), change(len(today), after)))
    elif "current" in buses and analysis.recommended in buses:
        cards.append(
            (
                text("buses", lang),
                change(buses["current"].buses_needed(), buses[analysis.recommended].buses_needed()),
            )
        )
    else:
        cards.append((text("buses", lang), text("buses_later", lang)))
    if before.costs is not None and ev.costs is not None:
        unit, scale = ("万元", 1e4) if lang == "zh" else (" million yuan", 1e6)
        a, b = before.costs["cost"].iloc[-1] / scale, ev.costs["cost"].iloc[-1] / scale
        digits = 0 if lang == "zh" else 1
        cards.append((text("annual_cost", lang), f"{a:,.{digits}f} → {b:,.{digits}f}{unit}"))
    return [{"label": label, "value": value} for label, value in cards]


def text_plan(name: str, lang: str) -> str:
    """A plan's name in the report language."""

    return label(PLANS, name, lang)
