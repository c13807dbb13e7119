"""The plan in phases, written: enrolment by year, the phases, the districts of each year, a
timeline per township and for the county, a workbook sheet per year and a map layer per year
(:func:`write_years_report`)."""

from __future__ import annotations

from pathlib import Path

import folium
import geopandas as gpd
import numpy as np
import pandas as pd

from ..analysis.phases import PHASE_COLUMNS
from ..model.atomic import atomic_path
from ..model.labels import ACTIONS, label, text
from .charts import timeline_chart
from .files import write_layers, write_table, write_workbook
from .maps import (
    add_boundaries,
    add_features,
    add_roads,
    add_title,
    base_map,
    finish,
    note_in_legend,
    save_map,
)
from .tables import for_csv, html_table, translated

#: ``report/phases.csv``: the contract columns, then names and flags (``temporary_classrooms``
#: and ``robust`` from the plan over the years in one model) and each row's ``reason``.
PHASE_FILE_COLUMNS = [
    *PHASE_COLUMNS,
    "name",
    "township_code",
    "small",
    "classrooms_empty_later",
    "temporary_classrooms",
    "robust",
    "reason",
]


def _phase_columns(table: pd.DataFrame) -> list[str]:
    """The file's columns this table has (a plan phase by phase has no temporary classrooms
    and no variants)."""
    return [c for c in PHASE_FILE_COLUMNS if c in table]


STAGE_OF = {f"k{i}": "kindergarten" for i in (1, 2, 3)} | {
    f"g{i}": ("primary" if i <= 6 else "junior") for i in range(1, 10)
}


def years_summary(years) -> pd.DataFrame:
    """One row per phase: pupils, sites open, what was built, teachers, buses, checks."""
    rows = []
    for year, a in years.phases.items():
        ev = a.evaluations[a.recommended]
        part = years.table[years.table["year"] == year]
        buses = ev.buses
        rows.append(
            {
                "year": year,
                "pupils": int(part["pupils"].sum()),
                "sites_open": int(ev.sites["open"].sum()),
                "small": int(part["small"].sum()),
                "closed": int((part["action"] == "close").sum()),
                "places_added": int(part["places_added"].sum()),
                "classes_added": int(part["classes_added"].sum()),
                "beds_added": int(part["beds_added"].sum()),
                "classrooms_empty_later": int(part["classrooms_empty_later"].sum()),
                "temporary_classrooms": int(part.get("temporary_classrooms", pd.Series(0)).sum()),
                "teachers": int(part["teachers"].sum()),
                "buses": buses.buses_needed() if buses is not None else None,
                "policy_failed": int((ev.policy["status"] == "failed").sum()),
            }
        )
    return pd.DataFrame(rows)


def write_years_report(years, analysis, out_dir: str | Path, lang: str = "zh") -> dict[str, Path]:
    """Write the phased plan beside a county's report (see the README for the files).

    Parameters
    ----------
    years
        The :class:`~ruralnet.study.YearsAnalysis`.
    analysis
        The one-year analysis (its districts layer is kept in ``districts.gpkg``).
    """

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    enrolment = years.projection.table()
    phases = years.table[_phase_columns(years.table)]
    summary = years_summary(years)
    paths = {
        "enrolment_by_year.csv": write_table(enrolment, out / "enrolment_by_year.csv"),
        "phases.csv": write_table(for_csv(phases), out / "phases.csv"),
        "years_summary.csv": write_table(for_csv(summary), out / "years_summary.csv"),
    }
    layers = {"districts": analysis.evaluations[analysis.recommended].district_layer}
    for year, layer in years.district_layers.items():
        layers[f"districts_{year}"] = layer
    paths["districts.gpkg"] = write_layers(layers, out / "districts.gpkg")
    paths["years.xlsx"] = write_workbook(
        _sheets(years, enrolment, summary, lang), out / "years.xlsx"
    )
    rooms = _classrooms(years, lang) if years.joint is not None else None  # file and page
    with atomic_path(out / "years.html") as tmp:
        tmp.write_text(_html(years, analysis, enrolment, summary, lang, rooms), encoding="utf-8")
    paths["years.html"] = out / "years.html"

    if years.joint is not None:
        paths["classrooms.csv"] = write_table(for_csv(rooms), out / "classrooms.csv")
        variants = years.joint.meta.get("variants")
        if variants is not None:
            paths["variants.csv"] = write_table(for_csv(variants), out / "variants.csv")
    paths["years_map.html"] = save_map(_years_map(years, analysis, lang), out / "years_map.html")
    return paths


def _classrooms(years, lang: str) -> pd.DataFrame:
    """The plan's classrooms per site and year, with the site's name and the reason in
    ``lang`` (see :data:`ruralnet.analysis.joint_plan.CLASSROOM_COLUMNS`)."""
    t = years.joint.classrooms
    names = years.table.drop_duplicates("site_id").set_index("site_id")["name"]
    out = t.drop(columns=["reason_zh", "reason_en"]).assign(reason=t[f"reason_{lang}"])
    out.insert(1, "name", out["site_id"].map(names))
    return out


def _joint_parts(years, analysis, lang: str, rooms) -> dict:
    """The years page's parts of a plan made in one model: its method, the first year
    against the one-year plan, and the build-or-rent comparison per site (``rooms``:
    :func:`_classrooms`)."""
    if years.joint is None:
        return {"joint_method": text("years_phases_method", lang)}
    s = analysis.county.settings
    first = years.joint.meta.get("first_year") or {}
    year = years.joint.years[0]
    note = (
        text("first_year_same", lang, year=year)
        if first.get("same", True)
        else text("first_year_differs", lang, year=year, opened=len(first["opened"]),
                  closed=len(first["closed"]), joint=first["classes_joint"],
                  one=first["classes_one_year"])
    )  # fmt: skip
    shown = rooms[(rooms["built"] > 0) | (rooms["temporary"] > 0)]
    shown = shown[["site_id", "name", "year", "needed", "built", "temporary", "years_needed",
                   "cost_built", "cost_temporary", "reason"]]  # fmt: skip
    words = dict(min_years=s.classroom_min_years, rate=f"{s.discount_rate:.0%}",
                 temporary=f"{s.temporary_classroom_cost_per_year:,.0f}")  # fmt: skip
    variants = years.joint.meta.get("variants")
    return {
        "variants_title": text("variants_title", lang),
        "variants_note": text("variants_note", lang),
        "variants": html_table(variants, lang) if variants is not None else "",
        "joint_method": text("years_joint_method", lang, **words),
        "first_year": note,
        "classrooms_title": text("classrooms_title", lang),
        "classrooms_note": text("classrooms_note", lang, min_years=s.classroom_min_years),
        "classrooms": html_table(shown, lang) if len(shown) else "",
    }


def _sheets(years, enrolment: pd.DataFrame, summary: pd.DataFrame, lang: str) -> dict:

    zh = lang == "zh"
    sheets = {("分年度概况" if zh else "years"): translated(summary, lang)}
    for year in sorted(years.phases):
        part = years.table[years.table["year"] == year]
        sheets[f"{year}年" if zh else str(year)] = translated(part[_phase_columns(part)], lang)
    central = enrolment[enrolment["variant"] == "central"]
    pivot = central.pivot_table(index="site_id", columns="year", values="pupils", aggfunc="sum")
    pivot.columns = [str(c) for c in pivot.columns]
    names = years.table.drop_duplicates("site_id").set_index("site_id")["name"]
    table = pivot.fillna(0).astype(int).reset_index()
    table.insert(1, "name", table["site_id"].map(names))
    sheets["分年度学生数" if zh else "pupils by year"] = translated(table, lang)
    variants = years.joint.meta.get("variants") if years.joint is not None else None
    if variants is not None:
        sheets["出生人口情景" if zh else "births variants"] = translated(variants, lang)
    return sheets


def _stage_years(enrolment: pd.DataFrame, sites: pd.DataFrame, town: str | None) -> pd.DataFrame:
    e = enrolment
    if town is not None:
        ids = set(sites.loc[sites["township_code"].astype(str) == town, "site_id"].astype(str))
        e = e[e["site_id"].isin(ids)]
    return (
        e.assign(stage=e["grade"].map(STAGE_OF))
        .groupby(["year", "stage", "variant"], as_index=False)["pupils"]
        .sum()
    )


def _html(years, analysis, enrolment, summary, lang, rooms=None) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    sites = analysis.county.sites
    ctx = analysis.context
    opened = years.table.groupby(["year", "township_code"])["action"].apply(
        lambda a: int((~a.isin(["close", "stay_closed"])).sum())
    )
    charts = [(text("county_line", lang, county=analysis.county.name),
               timeline_chart(_stage_years(enrolment, sites, None), summary, lang))]  # fmt: skip
    for town in sorted(sites["township_code"].astype(str).unique()):
        per = opened.xs(town, level="township_code").rename("sites_open").reset_index()
        charts.append(
            (ctx.township(town), timeline_chart(_stage_years(enrolment, sites, town), per, lang))
        )
    changes = {
        year: html_table(part[part["action"] != "keep"][_phase_columns(part)], lang)
        for year, part in years.table.groupby("year")
    }
    env = Environment(
        loader=PackageLoader("ruralnet.outputs", "templates"),
        autoescape=select_autoescape(["html", "j2"]),
    )
    return env.get_template("years.html.j2").render(
        lang=lang,
        title=text("years_title", lang, county=analysis.county.name),
        method=text("years_method", lang, base=analysis.county.settings.enrolment_year),
        summary=html_table(summary, lang),
        charts=charts,
        changes=changes,
        t={k: text(k, lang) for k in ("years_summary", "timeline", "changes", "map")},
        **_joint_parts(years, analysis, lang, rooms),
    )


def _years_map(years, analysis, lang: str) -> folium.Map:
    """One layer per year: each site by what that year's phase does to it."""

    county = analysis.county
    b = county.boundary.bounds if county.boundary is not None else tuple(county.sites.total_bounds)
    m = base_map(b, "none", None, lang)
    colours = {"close": "#d7301f", "keep": "#3182bd", "expand": "#31a354", "reopen": "#756bb1",
               "reduce_grades": "#fd8d3c", "stay_closed": "#969696"}  # fmt: skip
    add_roads(analysis.roads if analysis.roads is not None else county.road_lines(), m)
    add_boundaries(county.boundary, county.townships, m)
    for action in dict.fromkeys(years.table["action"]):  # the legend: the colours drawn
        note_in_legend(m, f"action:{action}", colours.get(action, "#3182bd"), "dot")

    xy = county.sites.set_index(county.sites["site_id"].astype(str)).geometry
    for n, (year, part) in enumerate(years.table.groupby("year")):
        g = gpd.GeoDataFrame(part, geometry=xy.reindex(part["site_id"]).to_numpy(), crs=4326)
        styles = [
            {"radius": round(3 + np.log1p(max(r.pupils, 0)), 2),
             "color": colours.get(r.action, "#3182bd"), "fill": True, "fillColor": colours.get(r.action, "#3182bd"),
             "fillOpacity": 0.7}
            for r in part.itertuples()
        ]  # fmt: skip
        tips = [
            f"{r.name} · {label(ACTIONS, r.action, lang)} · {r.pupils}" for r in part.itertuples()
        ]
        name = f"{year}年" if lang == "zh" else str(year)
        add_features(g, name, styles, tips, m, class_name="ruralnet-site", show=n == 0)
    zh = lang == "zh"
    first, last = min(years.phases), max(years.phases)
    add_title(
        m,
        f"{county.name}分年度调整图" if zh else f"{county.name}: the plan year by year",
        f"{first}—{last}年，每年一层" if zh else f"{first}-{last}, one layer a year",
    )
    return finish(m)
