"""The report's tables, shaped from an analysis: every plan side by side, names beside codes,
texts in the report's language. Nothing here computes (the study did) and nothing here
writes (:mod:`ruralnet.outputs.report` does)."""

from __future__ import annotations

import pandas as pd

from ..analysis import rules
from ..model import labels

#: Columns of ``merger_candidates.xlsx`` and the report's candidate tables.
MERGER_XLSX_COLUMNS = [
    "site_id",
    "name",
    "township",
    "kind",
    "pupils",
    "decision",
    "receiving_name",
    "minutes_walk",
    "minutes_bus",
    "spare_places",
    "class_size_after",
    "reason",
]
#: ``report/plan_sites.csv`` (the contract's columns first).
PLAN_SITE_COLUMNS = [
    "plan",
    "site_id",
    "township_code",
    "township",
    "name",
    "kind",
    "open",
    "action",
    "grades_before",
    "grades_after",
    "pupils_before",
    "pupils_after",
    "places_added",
    "classes_added",
    "kindergarten_classes_added",
    "beds_added",
    "justification",
    "receiving",
    "capacity",
    "classes",
    "class_size_after",
    "capacity_use",
    "boarders",
    "boarding_beds",
    "beds_shortfall",
    "bus_riders",
    "teachers",
]
#: ``report/assignment.csv``.
ASSIGNMENT_COLUMNS = [
    "plan",
    "village_id",
    "village",
    "origin_type",
    "township_code",
    "township",
    "stage",
    "grade_band",
    "site_id",
    "site",
    "way",
    "pupils",
    "minutes",
]
#: ``report/policy_checks.csv``.
POLICY_COLUMNS = [
    "plan",
    "township_code",
    "township",
    "rule",
    "rule_label",
    "status",
    "detail",
    "before_plan",
]
#: A township's site table in the report.
TOWN_SITE_COLUMNS = [
    "name",
    "kind",
    "action",
    "grades_after",
    "pupils_before",
    "pupils_after",
    "places_added",
    "classes_added",
    "class_size_after",
    "capacity_use",
    "boarders",
    "beds_added",
    "bus_riders",
    "justification",
    "receiving",
]
COST_ITEMS = {
    "sites": ("村小、教学点办学点", "village primaries and teaching points open"),
    "reopened": ("恢复办学点", "sites reopened"),
    "classrooms": ("新增教室", "classrooms added"),
    "places": ("新增学位", "places added"),
    "beds": ("新增床位", "beds added"),
    "boarders": ("寄宿生生活", "boarders' living"),
    "pupil_travel": ("学生上学时间（折价）", "pupils' travel time (valued)"),
    "buses": ("校车", "buses"),
    "drivers": ("校车驾驶员", "bus drivers"),
    "bus_km": ("校车里程", "bus-km"),
    "total": ("合计", "total"),
}


def plan_tables(analysis, lang: str) -> dict[str, pd.DataFrame]:
    """The contract tables of every plan, one row per plan and item (``plan_sites``,
    ``assignment``, ``policy_checks``), plus ``costs`` and ``plans`` (side by side)."""
    ctx = analysis.context
    names = ctx.village_names
    sites, assignment, policy, costs = [], [], [], []
    for name, ev in analysis.evaluations.items():
        s = ev.sites.assign(plan=name, justification=ev.sites[f"justification_{lang}"])
        sites.append(s[PLAN_SITE_COLUMNS])
        a = ev.assignment.assign(
            plan=name,
            village=ev.assignment["village_id"].map(lambda v: names.get(v, v)),
            township=ev.assignment["township_code"].map(ctx.township),
            site=ev.assignment["site_id"].map(lambda v: names.get(v, "") if pd.notna(v) else ""),
        )
        assignment.append(a[ASSIGNMENT_COLUMNS])
        policy.append(policy_for(ev.policy.assign(plan=name), lang, ctx.settings))
        if ev.costs is not None:
            costs.append(ev.costs.assign(plan=name))
    return {
        "plan_sites": pd.concat(sites, ignore_index=True),
        "assignment": pd.concat(assignment, ignore_index=True),
        "policy_checks": pd.concat(policy, ignore_index=True),
        "costs": _costs(costs, lang),
        "plans": plans_compared(analysis),
    }


def policy_for(table: pd.DataFrame, lang: str, settings) -> pd.DataFrame:
    """Policy checks in the report language: the rule's label and the detail in ``lang``."""
    out = table.assign(
        rule_label=table["rule"].map(lambda r: labels.rule_label(r, lang, settings)),
        detail=table["detail_zh" if lang == "zh" else "detail_en"],
    )
    return out[[c for c in POLICY_COLUMNS if c in out.columns]]


def _costs(parts: list[pd.DataFrame], lang: str) -> pd.DataFrame:
    if not parts:
        return pd.DataFrame(columns=["plan", "item", "item_label", "quantity", "unit_cost", "cost"])
    out = pd.concat(parts, ignore_index=True)
    out["item_label"] = out["item"].map(lambda i: labels.label(COST_ITEMS, i, lang))
    return out[["plan", "item", "item_label", "quantity", "unit", "unit_cost", "cost"]]


def costs_side_by_side(costs: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Annual cost per item (rows) and plan (columns), in the report language."""
    if costs.empty:
        return pd.DataFrame()
    wide = costs.pivot_table(index="item", columns="plan", values="cost", sort=False)
    order = [i for i in COST_ITEMS if i in wide.index]
    plans = [p for p in labels.PLANS if p in wide.columns]
    wide = wide.loc[order, plans].round(0).astype("Int64")
    wide.index = [labels.label(COST_ITEMS, i, lang) for i in wide.index]
    wide.columns = [labels.label(labels.PLANS, p, lang) for p in wide.columns]
    return wide.rename_axis(labels.label(labels.COLUMNS, "item", lang)).reset_index()


def plans_compared(analysis) -> pd.DataFrame:
    """Plans side by side: one row per plan with sites, pupils moved, additions, ways to
    school, buses, bus-km, pupil minutes, cost and failed policy checks."""
    rows = []
    current = analysis.evaluations["current"]
    for name, ev in analysis.evaluations.items():
        st = ev.stages
        buses = ev.buses
        daily = ev.rows["way"].isin(rules.DAILY)
        rows.append(
            {
                "plan": name,
                "sites_open": int(ev.sites["open"].sum()),
                "pupils": ev.pupils_before,
                "pupils_moved": ev.pupils_moved,
                "places_added": ev.sites["places_added"].sum(),
                "classes_added": ev.sites["classes_added"].sum(),
                "kindergarten_classes_added": round(ev.sites["kindergarten_classes_added"].sum()),
                "beds_added": ev.sites["beds_added"].sum(),
                "walking": st["walking"].sum(),
                "guardian": round(st["guardian"].sum()),
                "transit": round(st["transit"].sum()),
                "bus_riders": st["bus_riders"].sum(),
                "boarders": st["boarders"].sum(),
                "beyond_limits": st["beyond_limits"].sum(),
                "pupil_minutes": float(
                    (ev.rows["pupils"] * ev.rows["minutes"].fillna(0))[daily].sum()
                ),
                "teachers": int(ev.teachers.sum()),
                "teachers_change": int(ev.teachers.sum() - current.teachers.sum()),
                "buses": buses.buses_needed() if buses is not None else None,
                "buses_today": len(analysis.context.todays_buses)
                if name == "current" and analysis.context.todays_buses is not None
                else None,
                "bus_km": buses.bus_km() if buses is not None else None,
                "cost": float(ev.costs["cost"].iloc[-1]) if ev.costs is not None else None,
                "policy_failed": int((ev.policy["status"] == "failed").sum()),
            }
        )
    out = pd.DataFrame(rows)
    if analysis.context.todays_buses is None:  # no buses.csv: nothing is "today's"
        out = out.drop(columns="buses_today")
    return out


def bus_fleet(analysis, name: str, lang: str) -> pd.DataFrame:
    """Buses of a plan per school, township and county (each school its own buses):
    ``level`` (``school``, ``township``, ``county``: codes, in words in the reports),
    ``township_code, township, site_id, name, own_buses, riders, bus_km``."""
    buses = (analysis.buses or {}).get(name)
    ctx = analysis.context
    columns = ["level", "township_code", "township", "site_id", "name", "buses", "riders", "bus_km"]
    if buses is None or buses.schools.empty:
        return pd.DataFrame(columns=columns).rename(columns={"buses": "own_buses"})
    fleet = buses.fleet().groupby("site_id", as_index=False)["buses"].sum()
    runs = buses.schools[buses.schools["direction"] == "morning"].groupby("site_id")
    km = buses.schools.groupby("site_id")["bus_km"].sum()
    info = ctx.sites.set_index(ctx.sites["site_id"].astype(str))
    fleet["riders"] = fleet["site_id"].map(runs["pupils"].sum())
    fleet["bus_km"] = fleet["site_id"].map(km)
    fleet["township_code"] = fleet["site_id"].map(info["township_code"].astype(str))
    fleet["township"] = fleet["township_code"].map(ctx.township)
    fleet["name"] = fleet["site_id"].map(info["name"])
    fleet["level"] = "school"
    towns = fleet.groupby(["township_code", "township"], as_index=False)[
        ["buses", "riders", "bus_km"]
    ].sum()
    towns["level"] = "township"
    county = pd.DataFrame(
        [
            {
                "level": "county",
                "township": ctx.name,
                **fleet[["buses", "riders", "bus_km"]].sum().to_dict(),
            }
        ]
    )
    out = pd.concat([fleet, towns, county], ignore_index=True)
    return out[columns].rename(columns={"buses": "own_buses"})


def fleet_summary(buses) -> pd.DataFrame:
    """The county fleet per day and kind of bus, and the whole: ``day, bus_type, shared,
    own_runs, lower_bound, runs, pupils, bus_km, deadhead_km, fixed_bells`` (``shared``: buses
    as one county fleet; ``own_runs``: as many when no bus serves two schools;
    ``fixed_bells``: the fleet at the fixed bells, where windows let it choose;
    ``single_loads``: the fleet with one school per run; ``mixed_runs``: runs that carry two
    schools' pupils;
    ``runs_per_bus`` and ``empty_share``: runs a bus makes that day and the share of its
    kilometres driven empty). The last row is the
    county's buses: each kind of bus on its busiest day, shared and every school keeping its
    own."""
    table = buses.county_fleet.summary.rename(columns={"buses": "shared"})
    total = {
        "day": "all",
        "bus_type": "",
        "shared": buses.buses_needed(),
        "own_runs": buses.school_by_school(),
        "lower_bound": int(table.groupby("bus_type")["lower_bound"].max().sum()),
        "fixed_bells": int(table.groupby("bus_type")["fixed_bells"].max().sum()),
        "single_loads": int(table.groupby("bus_type")["single_loads"].max().sum()),
        "mixed_runs": int(table["mixed_runs"].sum()),
    }
    out = pd.concat([table, pd.DataFrame([total])], ignore_index=True)
    # how hard each bus works and how much of its driving is empty (the whole row: no single
    # day, so neither)
    out["runs_per_bus"] = (out["runs"] / out["shared"].where(out["shared"] > 0)).where(
        out["day"] != "all"
    )
    out["empty_share"] = out["deadhead_km"] / out["bus_km"].where(out["bus_km"] > 0)
    return out


#: ``report/fleet_townships.csv``: the morning's county fleet per township and for the county.
FLEET_TOWNSHIP_COLUMNS = [
    "township_code",
    "township",
    "buses",
    "runs",
    "runs_per_bus",
    "single_run_buses",
    "mixed_runs",
    "bells",
    "bus_km",
    "empty_share",
    "fixed_bells",
    "single_loads",
    "saved_by_bells",
    "saved_by_mixed",
]


def fleet_townships(buses, ctx, lang: str = "zh") -> pd.DataFrame:
    """The morning's county fleet per township and for the county (:data:`FLEET_TOWNSHIP_COLUMNS`).

    A bus belongs to the township of the school of its first run (its base): per township
    its buses, their runs (a run unloading at two schools is one), runs per bus, the buses
    that make a single run, the runs that unload more than once (two schools, or two kinds of
    runs of one site: mixed loads), their kilometres and
    the share driven empty, and the bells chosen at the township's schools (listed in
    ``lang``'s way). The county row
    (``township_code`` ``ALL``) adds what the bells and the mixed loads saved: the morning's
    buses at the fixed bells with one school per run (``fixed_bells``), with the chosen bells
    and one school per run (``single_loads``), and the differences; those are the county
    fleet's, not split by township (a bus chains schools of several)."""
    fleet = buses.county_fleet
    runs = fleet.runs[fleet.runs["day"] == "morning"].copy()
    town = dict(zip(ctx.sites["site_id"].astype(str), ctx.sites["township_code"].astype(str),
                    strict=True))  # fmt: skip
    runs["town"] = runs["site"].astype(str).map(town)
    per_run = runs.groupby(["bus_type", "bus", "run"], sort=False).agg(
        order=("order", "first"), town=("town", "first"), drops=("site", "size"),
        km=("km", "sum"), dead=("deadhead_km", "sum"),
    )  # fmt: skip
    per_run["mixed"] = (per_run["drops"] > 1).astype(int)
    per_bus = per_run.sort_values("order").groupby(level=["bus_type", "bus"]).agg(
        town=("town", "first"), runs=("order", "size"), mixed=("mixed", "sum"),
        km=("km", "sum"), dead=("dead", "sum"),
    )  # fmt: skip
    bells = fleet.bells.assign(town=fleet.bells["site_id"].astype(str).map(town))
    bells = bells[bells["bell"].astype(str) != ""]
    rows = []
    for code in sorted(set(per_bus["town"].dropna()) | set(bells["town"].dropna())):
        mine = per_bus[per_bus["town"] == code]
        rows.append({"township_code": code, "township": ctx.township(code),
                     **_fleet_row(mine, bells[bells["town"] == code], lang)})  # fmt: skip
    county = _fleet_row(per_bus, bells, lang)
    summary = fleet.summary[fleet.summary["day"] == "morning"]
    fixed, single = int(summary["fixed_bells"].sum()), int(summary["single_loads"].sum())
    county |= {"fixed_bells": fixed, "single_loads": single, "saved_by_bells": fixed - single,
               "saved_by_mixed": single - county["buses"]}  # fmt: skip
    rows.append({"township_code": "ALL", "township": ctx.name, **county})
    out = pd.DataFrame(rows, columns=FLEET_TOWNSHIP_COLUMNS)
    saved = ["fixed_bells", "single_loads", "saved_by_bells", "saved_by_mixed"]
    return out.astype(dict.fromkeys(saved, "Int64"))


def _fleet_row(per_bus: pd.DataFrame, bells: pd.DataFrame, lang: str) -> dict:
    """One row of :func:`fleet_townships` from its buses and its schools' bells."""
    n, km = len(per_bus), float(per_bus["km"].sum() + per_bus["dead"].sum())
    return {
        "buses": n,
        "runs": int(per_bus["runs"].sum()),
        "runs_per_bus": round(per_bus["runs"].sum() / n, 2) if n else None,
        "single_run_buses": int((per_bus["runs"] == 1).sum()),
        "mixed_runs": int(per_bus["mixed"].sum()),
        "bells": ("、" if lang == "zh" else ", ").join(sorted(set(bells["bell"].astype(str)))),
        "bus_km": round(km, 1),
        "empty_share": float(per_bus["dead"].sum()) / km if km > 0 else None,
    }


def cost_differences(analysis, lang: str) -> pd.DataFrame:
    """The recommended plan against every other, item by item: ``base_plan, item,
    item_label, base, plan, difference, policy`` (yuan a year, whole)."""
    parts = []
    for base, table in analysis.cost_differences.items():
        part = table.assign(
            base_plan=base,
            item_label=table["item"].map(lambda i: labels.label(COST_ITEMS, i, lang)),
            policy=table["policy_zh" if lang == "zh" else "policy_en"],
        )
        parts.append(part)
    columns = ["base_plan", "item", "item_label", "base", "plan", "difference", "policy"]
    if not parts:
        return pd.DataFrame(columns=columns)
    out = pd.concat(parts, ignore_index=True)[columns]
    for col in ("base", "plan", "difference"):
        out[col] = out[col].round(0).astype("Int64")
    return out


def costs_more(analysis, lang: str) -> list[str]:
    """A sentence for every plan the recommended plan costs more than: by how much, and the
    items (with the policy they serve) that make the difference, largest first."""
    out = []
    unit, scale = ("万元", 1e4) if lang == "zh" else (" thousand yuan", 1e3)
    for base, table in analysis.cost_differences.items():
        total = float(table.loc[table["item"] == "total", "difference"].iloc[0])
        if total <= 0:
            continue
        up = table[(table["item"] != "total") & (table["difference"] > 0)].head(3)
        zh = lang == "zh"
        policy, sep, (left, right) = (
            ("policy_zh", "；", ("（", "）")) if zh else ("policy_en", "; ", (" (", ")"))
        )
        items = sep.join(
            f"{labels.label(COST_ITEMS, r.item, lang)} +{r.difference / scale:,.0f}{unit}"
            f"{left}{getattr(r, policy)}{right}"
            for r in up.itertuples()
        )
        out.append(
            labels.text(
                "costs_more",
                lang,
                plan=labels.label(labels.PLANS, analysis.recommended, lang),
                base=labels.label(labels.PLANS, base, lang),
                amount=f"{total / scale:,.0f}{unit}",
                items=items,
            )
        )
    return out
