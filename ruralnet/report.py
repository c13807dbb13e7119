"""Write analysis results to files (the only module besides the CLI that writes)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from .catchments import ASSIGNMENT_COLUMNS, CatchmentResult
from .io import atomic_path, write_layers, write_table
from .mergers import CANDIDATE_COLUMNS


def write_catchments(result: CatchmentResult, out_dir: str | Path) -> dict[str, Path]:
    """Write a catchment analysis into ``out_dir``.

    Files: ``catchments.gpkg`` (layers ``catchments``: ``site_id, stage, children``;
    ``boarding``: boarding catchments; ``isochrones``), ``village_assignment.csv``
    (``village_id, stage, children, site_id, minutes, mode, boards``; ``site_id`` empty when
    unassigned), ``accessibility.csv`` (``township_code, stage, indicator, value``),
    ``boarding.csv`` (beds needed vs available per boarding site) and
    ``pupil_accounting.csv`` (children in, assigned, unassigned, in catchments, per stage).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
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
            result.assignment[ASSIGNMENT_COLUMNS], out / "village_assignment.csv"
        ),
        "accessibility.csv": write_table(result.accessibility, out / "accessibility.csv"),
        "boarding.csv": write_table(result.boarding.drop(columns="geometry"), out / "boarding.csv"),
        "pupil_accounting.csv": write_table(result.accounting, out / "pupil_accounting.csv"),
    }
    return paths


MERGER_XLSX_COLUMNS = [
    "site_id",
    "name",
    "kind",
    "township_code",
    "pupils",
    "decision",
    "receiving_site_id",
    "receiving_name",
    "minutes_walk",
    "minutes_bus",
    "spare_places",
    "class_size_after",
    "reason",
]


def _translated(table: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Values (kinds, decisions, stages, modes) and headers in the report language."""
    from .labels import COLUMNS, DECISIONS, KINDS, MODES, STAGES, label, rule_label

    out = table.copy()
    for col, tab in (("kind", KINDS), ("decision", DECISIONS), ("stage", STAGES), ("mode", MODES)):
        if col in out:
            out[col] = out[col].map(lambda v, tab=tab: label(tab, v, lang))
    if "rule" in out:
        out["rule"] = out["rule"].map(lambda r: rule_label(r, lang))
    if "detail" in out and lang == "zh":
        from .labels import DETAILS_ZH

        def zh(value):
            value = str(value)
            for en, cn in DETAILS_ZH.items():
                value = value.replace(en, cn)
            return value

        out["detail"] = out["detail"].map(zh)
    if "passed" in out:
        out["passed"] = out["passed"].map(
            lambda v: ("通过" if v else "未通过") if lang == "zh" else ("yes" if v else "NO")
        )
    return out.rename(columns={c: label(COLUMNS, c, lang) for c in out.columns})


def _html_table(table: pd.DataFrame, lang: str, floats: int = 1) -> str:
    shown = _translated(table, lang)
    return shown.to_html(
        index=False, na_rep="", float_format=lambda v: f"{v:,.{floats}f}", border=0, escape=True
    )


def write_county_report(
    analysis,
    out_dir: str | Path,
    lang: str = "zh",
    basemap: str = "none",
    tianditu_key: str | None = None,
) -> dict[str, Path]:
    """Write one county's merger report into ``out_dir`` (see the README for the files)."""
    from datetime import date

    from jinja2 import Environment, PackageLoader, select_autoescape

    from .charts import capacity_chart, travel_time_chart
    from .labels import text
    from .plans import ASSIGNMENT_COLUMNS, POLICY_COLUMNS

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    cand = analysis.candidates
    ev = analysis.evaluations[analysis.recommended]
    before = analysis.evaluations["current"]
    paths = {
        "merger_candidates.csv": write_table(
            cand[CANDIDATE_COLUMNS], out / "merger_candidates.csv"
        ),
        "merger_candidates.xlsx": write_table(
            _translated(cand[MERGER_XLSX_COLUMNS].round(1), lang),
            out / "merger_candidates.xlsx",
            sheet_name="撤并候选" if lang == "zh" else "merger candidates",
        ),
        "assignment.csv": write_table(ev.assignment[ASSIGNMENT_COLUMNS], out / "assignment.csv"),
        "policy_checks.csv": write_table(ev.policy[POLICY_COLUMNS], out / "policy_checks.csv"),
        "plan_sites.csv": write_table(ev.sites, out / "plan_sites.csv"),
    }
    buses = analysis.buses
    if buses is not None:
        from .buses import ROUTE_COLUMNS

        paths["routes.csv"] = write_table(buses.routes[ROUTE_COLUMNS], out / "routes.csv")
        paths["bus_runs.csv"] = write_table(buses.schools, out / "bus_runs.csv")
        paths["bus_unserved.csv"] = write_table(buses.unserved, out / "bus_unserved.csv")
    from .maps import county_map, save_map

    offline = basemap == "none"
    paths["map.html"] = save_map(
        county_map(
            analysis.county, analysis, basemap=basemap, lang=lang, tianditu_key=tianditu_key
        ),
        out / "map.html",
        offline=offline,
    )

    rows = []
    for name, e in analysis.evaluations.items():
        for st in e.stages.itertuples():
            rows.append(
                {
                    text("plan", lang): text(name, lang),
                    "stage": st.stage,
                    "pupils": int(st.pupils),
                    text("mean", lang): st.mean_minutes,
                    text("p95", lang): st.p95_minutes,
                    text("beyond", lang): st.beyond_limits,
                    text("boarders", lang): st.boarders,
                    text("open_sites", lang): int(e.sites["open"].sum()),
                }
            )
    plans_table = _html_table(pd.DataFrame(rows), lang)
    merges = cand["decision"].astype(str).str.startswith("merge")
    cards = [
        {
            "label": text("sites_open", lang),
            "value": f"{int(before.sites['open'].sum())} → {int(ev.sites['open'].sum())}",
        },
        {
            "label": text("small_sites", lang),
            "value": int(
                (cand["decision"] != "stay_closed").sum() - (cand["decision"] == "restore").sum()
            ),
        },
        {"label": text("merges", lang), "value": int(merges.sum())},
        {"label": text("keeps", lang), "value": int((cand["decision"] == "keep").sum())},
        {"label": text("restore", lang), "value": int((cand["decision"] == "restore").sum())},
        {"label": text("pupils", lang), "value": f"{ev.pupils_before:,}"},
        {
            "label": text("beyond", lang),
            "value": f"{int(before.stages['beyond_limits'].sum())} → {int(ev.stages['beyond_limits'].sum())}",
        },
        {
            "label": text("boarders", lang),
            "value": f"{int(before.stages['boarders'].sum())} → {int(ev.stages['boarders'].sum())}",
        },
        {
            "label": text("policy_failed", lang),
            "value": f"{int((~before.policy['passed']).sum())} → {int((~ev.policy['passed']).sum())}",
        },
        {
            "label": text("buses", lang),
            "value": buses.buses_needed() if buses is not None else text("buses_later", lang),
        },
    ]
    site_cols = [
        "site_id",
        "name",
        "kind",
        "pupils_before",
        "pupils_after",
        "classes",
        "class_size_after",
        "capacity",
        "capacity_use",
        "boarders",
        "boarding_beds",
        "open",
    ]
    towns = []
    for town in sorted(ev.sites["township_code"].astype(str).unique()):
        here = ev.sites[ev.sites["township_code"].astype(str) == town]
        tc = cand[cand["township_code"].astype(str) == town]
        towns.append(
            {
                "code": town,
                "sites": _html_table(here[site_cols], lang),
                "candidates": _html_table(
                    tc[["site_id", "name", "pupils", "decision", "receiving_name", "reason"]], lang
                )
                if len(tc)
                else "",
                "policy": _html_table(
                    ev.policy[ev.policy["township"] == town][POLICY_COLUMNS], lang
                ),
            }
        )
    env = Environment(
        loader=PackageLoader("ruralnet", "templates"), autoescape=select_autoescape(["html", "j2"])
    )
    html = env.get_template("report.html.j2").render(
        lang=lang,
        title=text("title", lang, county=analysis.county.name),
        county=analysis.county,
        generated=f"{text('generated', lang)} · {date.today().isoformat()}",
        cards=cards,
        t={
            k: text(k, lang)
            for k in (
                "summary",
                "plans",
                "times_chart",
                "capacity_chart",
                "policy",
                "candidates",
                "township",
                "map",
            )
        },
        plans_table=plans_table,
        times_svg=travel_time_chart(
            before.assignment,
            ev.assignment,
            lang,
            (text("current", lang), text(analysis.recommended, lang)),
        ),
        capacity_svg=capacity_chart(ev.sites, lang),
        policy_table=_html_table(ev.policy[POLICY_COLUMNS], lang),
        buses_table=_html_table(buses.schools, lang)
        if buses is not None and len(buses.schools)
        else "",
        candidates_table=_html_table(
            cand[
                [
                    c
                    for c in MERGER_XLSX_COLUMNS
                    if c not in ("receiving_site_id", "spare_places", "class_size_after")
                ]
            ],
            lang,
        ),
        towns=towns,
        map_file="map.html",
    )
    with atomic_path(out / "report.html") as tmp:
        tmp.write_text(html, encoding="utf-8")
    paths["report.html"] = out / "report.html"
    return paths


def process_county(
    folder,
    out_dir,
    lang: str = "zh",
    optimise: bool = True,
    settings=None,
    buses: str | None = "receiving",
    basemap: str = "none",
) -> dict:
    """Load, analyse and report one county into ``out_dir / <folder name>``; never raises.

    Returns the county's summary row (``status`` is ``ok`` or ``error`` with the message).
    """
    import logging
    import time

    from .county import load_county
    from .pipeline import analyse_county

    folder = Path(folder)
    row = {"county": folder.name, "status": "ok", "error": ""}
    started = time.perf_counter()
    try:
        county = load_county(folder, settings=settings)
        analysis = analyse_county(county, optimise=optimise, lang=lang, buses=buses)
        write_county_report(analysis, Path(out_dir) / folder.name, lang=lang, basemap=basemap)
        cand = analysis.candidates
        ev = analysis.evaluations[analysis.recommended]
        before = analysis.evaluations["current"]
        row.update(
            name=county.name,
            code=county.code,
            sites=len(county.sites),
            villages=len(county.villages),
            candidates=len(cand),
            merges=int(cand["decision"].astype(str).str.startswith("merge").sum()),
            kept=int((cand["decision"] == "keep").sum()),
            restore=int((cand["decision"] == "restore").sum()),
            pupils=ev.pupils_before,
            beyond_before=int(before.stages["beyond_limits"].sum()),
            beyond_after=int(ev.stages["beyond_limits"].sum()),
            policy_failed=int((~ev.policy["passed"]).sum()),
            buses=analysis.buses.buses_needed() if analysis.buses is not None else None,
        )
    except Exception as exc:  # one county's failure must not stop the batch
        log = logging.getLogger(__name__)
        log.error("county %s failed: %s: %s", folder, type(exc).__name__, exc)
        log.debug("traceback", exc_info=True)
        row.update(status="error", error=f"{type(exc).__name__}: {exc}".replace("\n", " | "))
    row["seconds"] = round(time.perf_counter() - started, 2)
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


def write_summary(rows: list[dict], path: Path) -> pd.DataFrame:
    """The province (or batch) summary: one row per county, counts as whole numbers."""
    summary = pd.DataFrame(rows)
    for col in SUMMARY_INTS:
        if col in summary:
            summary[col] = pd.to_numeric(summary[col], errors="coerce").astype("Int64")
    write_table(summary, path)
    return summary


def run_batch(
    folders,
    out_dir: str | Path,
    lang: str = "zh",
    optimise: bool = True,
    progress: bool = True,
    settings=None,
    buses: str | None = "receiving",
    basemap: str = "none",
) -> pd.DataFrame:
    """The whole analysis for each county folder, one after the other; a failing county is
    recorded and the rest go on. Writes ``OUT_DIR/<folder name>/`` per county and
    ``OUT_DIR/summary.csv``. For many counties at once use :func:`ruralnet.batch.run_dask`."""
    from tqdm.auto import tqdm

    out = Path(out_dir)
    rows = [
        process_county(f, out, lang, optimise, settings, buses, basemap)
        for f in tqdm(list(folders), desc="counties", unit="county", disable=not progress)
    ]
    return write_summary(rows, out / "summary.csv")
