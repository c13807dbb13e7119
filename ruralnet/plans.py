"""Consolidation plans: which sites stay open and where every enrolled pupil goes.

Demand for plans is the recorded enrolment, placed where the pupils live: each site's pupils
of each grade are spread over the villages it serves now (nearest site teaching the grade),
in proportion to those villages' children. Pupils of a site that no village maps to stay at
the site's own location (``origin_type = "site"``). So a plan moves real enrolments, and
every pupil is counted before and after.

A :class:`Plan` lists the open sites and the pupils of every demand group at each site.
:func:`evaluate` measures it: travel times per stage, pupils beyond the limits, boarders and
beds, class sizes, capacity use, and the policy rules of DOMAIN.md per township.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .access import weighted_percentile
from .catchments import assign, split_by_grade, time_matrix
from .schema import STAGES, largest_remainder, parse_grades, stage_grades
from .settings import Settings

log = logging.getLogger(__name__)

ASSIGNMENT_COLUMNS = ["origin_id", "origin_type", "stage", "pupils", "site_id", "minutes", "mode"]
POLICY_COLUMNS = ["township", "rule", "passed", "detail"]
STAGE_OF = {g: s for s in STAGES for g in stage_grades(s)}


@dataclass
class PlanContext:
    """Everything plans are built and measured against (one county).

    Attributes
    ----------
    sites
        Open sites (the candidates), row order = matrix columns.
    groups
        Demand groups: ``origin_id, origin_type, township_code, grade, stage, pupils,
        current`` (row of ``sites`` attended now).
    walk, bus
        Minutes from each group's origin to each open site (NaN: no way).
    settings
        Limits and norms.
    all_sites
        Every site, closed ones included.
    code
        County code.
    """

    sites: pd.DataFrame
    groups: pd.DataFrame
    walk: np.ndarray
    bus: np.ndarray
    settings: Settings
    all_sites: pd.DataFrame
    code: str = ""
    population: float = 0.0


@dataclass
class Plan:
    """A plan: ``open`` (bool per site of the context) and ``flows`` (pupils, groups x sites)."""

    name: str
    open: np.ndarray
    flows: np.ndarray
    unassigned: np.ndarray
    meta: dict = field(default_factory=dict)


def plan_context(county, site_times: tuple[np.ndarray, np.ndarray] | None = None) -> PlanContext:
    """Build the demand groups and travel times of a loaded county.

    ``site_times``: walk and bus minutes between all of ``county.sites`` (as from
    :func:`ruralnet.mergers.site_times`), so they are not computed twice.
    """
    villages = county.villages.reset_index(drop=True)
    is_open = (county.sites["status"] == "open").to_numpy()
    sites = county.sites[is_open].reset_index(drop=True)
    walk_net, bus_net = county.network("walk"), county.network("bus")
    v_walk = time_matrix(walk_net, villages, sites)
    v_bus = time_matrix(bus_net, villages, sites)
    if site_times is None:
        from .mergers import site_times as all_site_times

        site_times = all_site_times(county)
    s_walk, s_bus = (m[np.ix_(is_open, is_open)] for m in site_times)
    groups = enrolled_demand(villages, sites, v_walk, v_bus, county.settings)
    is_v = (groups["origin_type"] == "village").to_numpy()
    idx = groups["origin_index"].to_numpy()
    walk = np.where(is_v[:, None], v_walk[np.where(is_v, idx, 0)], s_walk[np.where(is_v, 0, idx)])
    bus = np.where(is_v[:, None], v_bus[np.where(is_v, idx, 0)], s_bus[np.where(is_v, 0, idx)])
    return PlanContext(
        sites,
        groups,
        walk,
        bus,
        county.settings,
        county.sites.reset_index(drop=True),
        county.code,
        float(villages["population"].sum()),
    )


def enrolled_demand(villages, sites, walk, bus, settings: Settings) -> pd.DataFrame:
    """Recorded enrolment per site and grade, spread over the villages the site serves now."""
    grades = assign(villages, sites, walk, bus, settings, mode="walk")
    served = grades[(grades["children"] > 0) & (grades["site"] >= 0)]
    by_key = {key: part for key, part in served.groupby(["site", "grade"], sort=False)}
    village_ids = villages["village_id"].to_numpy()
    village_towns = villages["township_code"].to_numpy()
    rows = []
    for j, site in enumerate(sites.itertuples(index=False)):
        levels = sorted(parse_grades(site.grades))
        per_grade = split_by_grade(np.array([site.pupils]), levels)[0]
        for g, pupils in zip(levels, per_grade, strict=True):
            if pupils <= 0:
                continue
            part = by_key.get((j, g))
            if part is None:  # no village maps here: the pupils stay at the site
                rows.append(("site", j, site.site_id, site.township_code, g, int(pupils), j))
                continue
            kids = part["children"].to_numpy()
            share = largest_remainder(kids * pupils / kids.sum())
            for v, p in zip(part["village"].to_numpy(), share, strict=True):
                if p > 0:
                    rows.append(("village", int(v), village_ids[v], village_towns[v], g, int(p), j))
    groups = pd.DataFrame(
        rows,
        columns=[
            "origin_type",
            "origin_index",
            "origin_id",
            "township_code",
            "grade",
            "pupils",
            "current",
        ],
    )
    groups["stage"] = groups["grade"].map(STAGE_OF)
    return groups


def current_plan(ctx: PlanContext) -> Plan:
    """Everybody where they are now, every open site open."""
    flows = np.zeros((len(ctx.groups), len(ctx.sites)))
    flows[np.arange(len(ctx.groups)), ctx.groups["current"].to_numpy()] = ctx.groups[
        "pupils"
    ].to_numpy()
    return Plan("current", np.ones(len(ctx.sites), bool), flows, np.zeros(len(ctx.groups)))


def merger_plan(ctx: PlanContext, candidates: pd.DataFrame) -> Plan:
    """Close every site the merger screening says to merge; its pupils go to the receiving site."""
    ids = ctx.sites["site_id"].astype(str).to_numpy()
    pos = {sid: i for i, sid in enumerate(ids)}
    plan = current_plan(ctx)
    merges = candidates[candidates["decision"].astype(str).str.startswith("merge")]
    for _, m in merges.iterrows():
        a, b = pos[str(m["site_id"])], pos[str(m["receiving_site_id"])]
        plan.flows[:, b] += plan.flows[:, a]
        plan.flows[:, a] = 0
        plan.open[a] = False
    plan.name = "mergers"
    return plan


def group_costs(ctx: PlanContext) -> np.ndarray:
    """Minutes for each group at each site, or inf where the site is not allowed.

    Allowed: sites teaching the group's grade that it reaches on foot within
    ``max_walk_minutes`` or by bus within ``max_ride_minutes``; groups with no such site may
    go to the nearest site teaching their grade (they board or travel far, and are counted).
    """
    s = ctx.settings
    offers = np.array(
        [[g in parse_grades(x) for x in ctx.sites["grades"]] for g in ctx.groups["grade"]]
    )
    walk = np.where(np.isfinite(ctx.walk), ctx.walk, np.inf)
    bus = np.where(np.isfinite(ctx.bus), ctx.bus, np.inf)
    time = np.where(
        walk <= s.max_walk_minutes, walk, np.where(bus <= s.max_ride_minutes, bus, np.inf)
    )
    cost = np.where(offers, time, np.inf)
    stuck = ~np.isfinite(cost).any(axis=1)
    if stuck.any():
        fallback = np.where(offers, np.fmin(walk, bus), np.inf)
        best = np.argmin(fallback, axis=1)
        rows = np.flatnonzero(stuck & np.isfinite(fallback[np.arange(len(cost)), best]))
        cost[rows, best[rows]] = fallback[rows, best[rows]]
    return cost


def optimised_plan(
    ctx: PlanContext, justified: set[str] | None = None, time_limit: float = 120.0
) -> Plan:
    """The plan that minimises total pupil travel time under capacity and the policy rules.

    Fixed open: the three schools of every township and every site not of ``merger_kinds``.
    An open site of ``merger_kinds`` must keep at least ``small_site_pupils`` pupils, unless
    it is ``justified`` (e.g. too remote to merge). Capacities are the sites' places (a site
    over capacity today keeps at most its current pupils).
    """
    from .allocation import SiteSelection

    s = ctx.settings
    sites = ctx.sites
    three = (
        sites[["is_central_kindergarten", "is_central_primary", "is_public_boarding"]]
        .any(axis=1)
        .to_numpy()
    )
    decide = sites["kind"].isin(s.merger_kinds).to_numpy()
    fixed_open = three | ~decide
    justified = justified or set()
    min_size = np.where(
        decide & ~sites["site_id"].astype(str).isin(justified).to_numpy(), s.small_site_pupils, 0
    )
    current = current_plan(ctx).flows.sum(axis=0)
    capacity = np.fmax(sites["capacity"].to_numpy(float), current)  # never force today's pupils out
    capacity = np.where(np.isfinite(capacity), capacity, np.inf)
    model = SiteSelection.from_cost_matrix(
        group_costs(ctx),
        ctx.groups["pupils"].to_numpy(float),
        capacity=capacity,
        fixed_open=fixed_open,
        min_size=min_size,
    )
    res = model.solve(time_limit=time_limit)
    flows = np.zeros_like(res.flows)
    for i in range(len(flows)):  # whole pupils, the group total kept
        row = res.flows[i]
        if row.sum() > 0:
            flows[i] = largest_remainder(
                row * (ctx.groups["pupils"].iloc[i] - round(res.unassigned[i])) / row.sum()
            )
    unassigned = ctx.groups["pupils"].to_numpy() - flows.sum(axis=1)
    return Plan(
        "optimised",
        res.open,
        flows,
        unassigned,
        {"solver": res.status, "optimal": res.optimal, "pupil_minutes": res.objective},
    )


@dataclass
class PlanEvaluation:
    """A plan measured: tables for reports and the checks a county meeting asks for."""

    plan: Plan
    assignment: pd.DataFrame
    stages: pd.DataFrame
    sites: pd.DataFrame
    policy: pd.DataFrame
    pupils_before: int
    pupils_after: int
    unassigned: int

    @property
    def conserved(self) -> bool:
        """Every pupil is assigned once or listed as unassigned."""
        return self.pupils_before == self.pupils_after + self.unassigned


def evaluate(ctx: PlanContext, plan: Plan, justified: set[str] | None = None) -> PlanEvaluation:
    """Measure a plan (see the module docstring)."""
    s = ctx.settings
    groups = ctx.groups
    gi, sj = np.nonzero(plan.flows > 0)
    pupils = plan.flows[gi, sj]
    w, b = ctx.walk[gi, sj], ctx.bus[gi, sj]
    grade = groups["grade"].to_numpy()[gi]
    walkable = w <= s.max_walk_minutes
    rideable = ~walkable & (b <= s.max_ride_minutes)
    boards = ~walkable & ~rideable & (grade >= 4)
    mode = np.select(
        [walkable, rideable, boards, np.isfinite(w)], ["walk", "bus", "board", "walk"], "bus"
    )
    minutes = np.where(walkable | (mode == "walk"), w, b)
    rows = pd.DataFrame(
        {
            "group": gi,
            "site": sj,
            "origin_id": groups["origin_id"].to_numpy()[gi],
            "origin_type": groups["origin_type"].to_numpy()[gi],
            "stage": groups["stage"].to_numpy()[gi],
            "township_code": groups["township_code"].to_numpy()[gi],
            "grade": grade,
            "pupils": pupils,
            "site_id": ctx.sites["site_id"].to_numpy()[sj],
            "minutes": minutes,
            "mode": mode,
            "boards": boards,
            "beyond": ~walkable & ~rideable,
        }
    )
    lost = groups.assign(pupils=plan.unassigned)[plan.unassigned > 0]
    unassigned_rows = pd.DataFrame(
        {
            "origin_id": lost["origin_id"],
            "origin_type": lost["origin_type"],
            "stage": lost["stage"],
            "pupils": lost["pupils"],
            "site_id": None,
            "minutes": np.nan,
            "mode": "none",
        }
    )
    assignment = (
        rows.groupby(["origin_id", "origin_type", "stage", "site_id", "mode"], sort=False)
        .agg(pupils=("pupils", "sum"), minutes=("minutes", "first"))
        .reset_index()
    )
    assignment = pd.concat([assignment, unassigned_rows], ignore_index=True)[ASSIGNMENT_COLUMNS]
    order = {st: i for i, st in enumerate(STAGES)}
    assignment = assignment.sort_values(
        ["origin_id", "stage", "site_id"],
        key=lambda c: c.map(order) if c.name == "stage" else c,
        kind="stable",
    ).reset_index(drop=True)

    stages = []
    for stage in STAGES:
        part = rows[rows["stage"] == stage]
        p = part["pupils"].to_numpy()
        m = part["minutes"].to_numpy()
        ok = np.isfinite(m)
        stages.append(
            {
                "stage": stage,
                "pupils": p.sum(),
                "mean_minutes": float(np.average(m[ok], weights=p[ok])) if ok.any() else np.nan,
                "median_minutes": weighted_percentile(m, p, 50),
                "p95_minutes": weighted_percentile(m, p, 95),
                "max_minutes": float(m[ok].max()) if ok.any() else np.nan,
                "walking": p[part["mode"] == "walk"].sum(),
                "bus_riders": p[part["mode"] == "bus"].sum(),
                "boarders": p[part["boards"]].sum(),
                "beyond_limits": p[part["beyond"] & ~part["boards"]].sum(),
                "unassigned": float(lost.loc[lost["stage"] == stage, "pupils"].sum()),
            }
        )
    stages = pd.DataFrame(stages)

    after = plan.flows.sum(axis=0)
    boarders = np.bincount(sj, weights=pupils * boards, minlength=len(ctx.sites))
    site_table = ctx.sites[
        [
            "site_id",
            "name",
            "kind",
            "township_code",
            "pupils",
            "classes",
            "capacity",
            "boarding_beds",
        ]
    ].copy()
    site_table = site_table.rename(columns={"pupils": "pupils_before"})
    site_table["open"] = plan.open
    site_table["pupils_after"] = np.where(plan.open, after, 0)
    classes = site_table["classes"].to_numpy(float)
    site_table["class_size_after"] = np.where(
        plan.open & (classes > 0), after / np.where(classes > 0, classes, 1), np.nan
    )
    site_table["oversized"] = site_table["class_size_after"] >= s.oversized_class
    site_table["capacity_use"] = np.where(
        plan.open, after / site_table["capacity"].to_numpy(float), np.nan
    )
    site_table["boarders"] = boarders
    site_table["beds_shortfall"] = np.maximum(
        0, boarders - site_table["boarding_beds"].fillna(0).to_numpy()
    )
    policy = policy_checks(ctx, site_table, rows, justified)
    before = int(groups["pupils"].sum())
    return PlanEvaluation(
        plan,
        assignment,
        stages,
        site_table,
        policy,
        before,
        round(pupils.sum()),
        round(plan.unassigned.sum()),
    )


def policy_checks(
    ctx: PlanContext, site_table: pd.DataFrame, rows: pd.DataFrame, justified=None
) -> pd.DataFrame:
    """The DOMAIN.md policy rules per township (``township = "ALL"`` for the county)."""
    s = ctx.settings
    justified = justified or set()
    open_ = site_table[site_table["open"]]
    flags = ctx.sites[["site_id", "is_central_kindergarten", "is_public_boarding"]].set_index(
        "site_id"
    )
    out = []
    for town in sorted(ctx.all_sites["township_code"].astype(str).unique()):
        here = open_[open_["township_code"].astype(str) == town]
        street = len(town) == 9 and town[6] == "0"  # NBS codes 001-099: 街道 (urban sub-district)
        boarding = flags.loc[here["site_id"], "is_public_boarding"].any() if len(here) else False
        out.append(
            (
                town,
                "public boarding school",
                True if street else bool(boarding),
                "街道: not required"
                if street
                else ("kept" if boarding else "no public boarding school left open"),
            )
        )
        kinder = flags.loc[here["site_id"], "is_central_kindergarten"].any() if len(here) else False
        out.append(
            (
                town,
                "central kindergarten",
                bool(kinder),
                "kept" if kinder else "no central kindergarten left open",
            )
        )
        tp = here[(here["kind"] == "teaching_point") & (here["pupils_after"] < s.small_site_pupils)]
        unjust = tp[~tp["site_id"].astype(str).isin(justified)]
        detail = ", ".join(f"{r.site_id} ({r.pupils_after:.0f})" for r in tp.itertuples()) or "none"
        why = sorted(set(tp["site_id"].astype(str)) & justified)
        if why:
            detail += f"; justified (too remote to merge): {', '.join(why)}"
        out.append(
            (
                town,
                f"no teaching point under {s.small_site_pupils} pupils unless justified",
                unjust.empty,
                detail,
            )
        )
        big = here[here["oversized"]]
        out.append(
            (
                town,
                f"no class of {s.oversized_class}+",
                big.empty,
                ", ".join(f"{r.site_id} ({r.class_size_after:.0f}/class)" for r in big.itertuples())
                or "none",
            )
        )
    total_before = int(ctx.groups["pupils"].sum())
    total_after = round(rows["pupils"].sum())
    out.append(
        (
            "ALL",
            "every pupil assigned once or listed",
            True,
            f"{total_before} before, {total_after} assigned",
        )
    )
    if ctx.population >= 200_000:
        special = (ctx.sites["kind"] == "special_education").any()
        out.append(
            (
                "ALL",
                "special-education school (county of 200,000+)",
                bool(special),
                "present" if special else "missing",
            )
        )
    table = pd.DataFrame(out, columns=POLICY_COLUMNS)
    return table
