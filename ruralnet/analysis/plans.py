"""Plans: which sites are open, which grades they teach, where every pupil goes, and what is
added (places, classes, boarding beds).

A :class:`PlanContext` holds a county's demand groups (:mod:`ruralnet.analysis.demand`) and
their travel times to every site; a :class:`Plan` says where each group's pupils go. Three
plans are built here or in :mod:`ruralnet.analysis.siting`: the current situation
(:func:`current_plan`), the merger screening's plan (:func:`merger_plan`) and the optimised
plan (:func:`ruralnet.analysis.siting.optimised_plan`). :func:`evaluate` measures any plan
with the way-to-school rules (:mod:`ruralnet.analysis.rules`): how every pupil travels, class
sizes, places, beds, and the policy checks (:mod:`ruralnet.analysis.policy`). Every pupil is
counted before and after.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from ..model.grades import STAGES, format_grades, grade_column, offer_matrix
from ..model.kinds import class_norm
from ..model.settings import Settings
from . import rules
from .access import weighted_percentile
from .demand import catchment_sites, demand_groups
from .times import CountyTimes, county_times

log = logging.getLogger(__name__)

#: Columns of a plan's assignment (``report/assignment.csv`` adds ``plan``).
ASSIGNMENT_COLUMNS = [
    "village_id",
    "origin_type",
    "township_code",
    "stage",
    "site_id",
    "way",
    "pupils",
    "minutes",
]
#: Columns of a plan's site table (``report/plan_sites.csv`` adds ``plan``).
SITE_COLUMNS = [
    "site_id",
    "name",
    "township_code",
    "township",
    "kind",
    "open",
    "grades_before",
    "grades_after",
    "pupils_before",
    "pupils_after",
    "capacity",
    "places_added",
    "classes",
    "classes_added",
    "class_size_after",
    "capacity_use",
    "boarders",
    "boarding_beds",
    "beds_added",
    "beds_shortfall",
    "bus_riders",
    "justification_zh",
    "justification_en",
]


@dataclass
class PlanContext:
    """Everything plans are built and measured against (one county).

    Attributes
    ----------
    sites
        Every site, closed ones included (row order = matrix columns).
    groups
        Demand groups (:data:`ruralnet.analysis.demand.GROUP_COLUMNS`); ``current`` is the
        row of the site attended now (-1: none).
    walk, bus
        Minutes from each group's origin to each site (NaN: no way).
    settings
        Limits and norms.
    code, name
        County code and name.
    population
        County population (villages' total).
    township_names, village_names
        Township code -> name; village id -> name (for the tables officials read).
    village_ids
        The villages' ids, in layer order.
    catchment
        The site serving each village's grade now (villages x grade levels, -1: none;
        :func:`ruralnet.analysis.demand.catchment_sites`).
    times
        Villages x sites and sites x sites minutes (bus times NaN when the run has no buses).
    bus_metres
        Metres of the bus paths, groups x sites (for bus-km).
    """

    sites: pd.DataFrame
    groups: pd.DataFrame
    walk: np.ndarray
    bus: np.ndarray
    settings: Settings
    code: str = ""
    name: str = ""
    population: float = 0.0
    township_names: dict = field(default_factory=dict)
    village_names: dict = field(default_factory=dict)
    village_ids: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))
    catchment: np.ndarray | None = None
    times: CountyTimes | None = None
    bus_metres: np.ndarray | None = None

    @cached_property
    def offers(self) -> np.ndarray:
        """Which site teaches which grade now (sites x grade levels)."""
        return offer_matrix(self.sites["grades"])

    @cached_property
    def open_now(self) -> np.ndarray:
        """Sites open today (``status == "open"``)."""
        return (self.sites["status"].astype(str) == "open").to_numpy()

    @cached_property
    def ways(self) -> tuple[np.ndarray, np.ndarray]:
        """Way to school (codes of :mod:`~ruralnet.analysis.rules`) and minutes, groups x
        sites."""
        return rules.way_codes(
            self.groups["grade"].to_numpy()[:, None], self.walk, self.bus, self.settings
        )

    @cached_property
    def pupils_now(self) -> np.ndarray:
        """Pupils each site has today (from the demand groups)."""
        g = self.groups
        has = g["current"].to_numpy() >= 0
        return np.bincount(
            g["current"].to_numpy()[has],
            weights=g["pupils"].to_numpy()[has],
            minlength=len(self.sites),
        )

    def township(self, code) -> str:
        """The name of a township (its code when unknown)."""
        return self.township_names.get(str(code), str(code))


@dataclass
class Plan:
    """A plan over a :class:`PlanContext`.

    Attributes
    ----------
    name
        ``current``, ``merger``, ``optimised`` (or any).
    open
        Open sites after the plan (bool per site).
    flows
        Pupils of each group at each site (groups x sites).
    unassigned
        Pupils of each group the plan places nowhere.
    grades
        Grade span each site teaches after the plan (default: as now).
    places_added, classes_added, beds_added
        Per site (default: none).
    justification
        Site id -> why a small site stays open (``{"zh": ..., "en": ...}``, written next to
        it in the tables).
    meta
        Solver facts (status, optimality, objective, size, time).
    """

    name: str
    open: np.ndarray
    flows: np.ndarray
    unassigned: np.ndarray
    grades: list[str] | None = None
    places_added: np.ndarray | None = None
    classes_added: np.ndarray | None = None
    beds_added: np.ndarray | None = None
    justification: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def added(self, what: str) -> np.ndarray:
        """``places``, ``classes`` or ``beds`` added per site (zeros when none)."""
        value = getattr(self, f"{what}_added")
        return np.zeros(len(self.open)) if value is None else np.asarray(value, dtype=float)


def plan_context(
    county, times: CountyTimes | None = None, mode: str = "walk", bus: bool = True
) -> PlanContext:
    """Demand groups and travel times of a loaded county (times computed once, see
    :func:`ruralnet.analysis.times.county_times`).

    Parameters
    ----------
    county
        A loaded :class:`~ruralnet.network.county.County`.
    times
        Its time matrices, if already computed.
    mode
        Which time picks the site that serves a village now: ``walk`` or ``bus``.
    bus
        ``False``: no school buses (every bus time unknown).
    """
    times = times or county_times(county)
    villages = county.villages.reset_index(drop=True)
    sites = county.sites.reset_index(drop=True)
    settings = county.settings
    v_bus = times.village_bus if bus else np.full_like(times.village_bus, np.nan)
    s_bus = times.site_bus if bus else np.full_like(times.site_bus, np.nan)
    catchment = catchment_sites(
        villages, sites, times.village_walk, v_bus if bus else None, settings, mode
    )
    groups = demand_groups(villages, sites, times.village_walk, v_bus, settings, catchment)
    is_v = (groups["origin_type"] == "village").to_numpy()
    idx = groups["origin_index"].to_numpy()

    def rows(v_matrix, s_matrix):
        out = np.empty((len(groups), len(sites)))
        out[is_v] = v_matrix[idx[is_v]]
        out[~is_v] = s_matrix[idx[~is_v]]
        return out

    return PlanContext(
        sites,
        groups,
        rows(times.village_walk, times.site_walk),
        rows(v_bus, s_bus),
        settings,
        str(county.code),
        str(county.name),
        float(villages["population"].sum()),
        county.township_names(),
        dict(zip(villages["village_id"].astype(str), villages["name"].astype(str), strict=True))
        | dict(zip(sites["site_id"].astype(str), sites["name"].astype(str), strict=True)),
        villages["village_id"].astype(str).to_numpy(dtype=object),
        catchment,
        CountyTimes(times.village_walk, v_bus, times.site_walk, s_bus),
        rows(times.village_bus_m, times.site_bus_m) if times.village_bus_m is not None else None,
    )


def current_plan(ctx: PlanContext) -> Plan:
    """Everybody where they are now, every open site open."""
    flows = np.zeros((len(ctx.groups), len(ctx.sites)))
    cur = ctx.groups["current"].to_numpy()
    has = cur >= 0
    flows[np.flatnonzero(has), cur[has]] = ctx.groups["pupils"].to_numpy()[has]
    unassigned = np.where(has, 0, ctx.groups["pupils"].to_numpy()).astype(float)
    return Plan("current", ctx.open_now.copy(), flows, unassigned)


def merger_plan(ctx: PlanContext, candidates: pd.DataFrame) -> Plan:
    """Close every site the merger screening says to merge; its pupils go to the receiving
    site (:func:`ruralnet.analysis.mergers.merger_candidates`)."""
    pos = {sid: i for i, sid in enumerate(ctx.sites["site_id"].astype(str))}
    plan = current_plan(ctx)
    merges = candidates[candidates["decision"].astype(str).str.startswith("merge")]
    for a_id, b_id in zip(merges["site_id"], merges["receiving_site_id"], strict=True):
        a, b = pos[str(a_id)], pos[str(b_id)]
        plan.flows[:, b] += plan.flows[:, a]
        plan.flows[:, a] = 0
        plan.open[a] = False
    kept = candidates[candidates["decision"] == "keep"]
    plan.justification = {
        str(r.site_id): {"zh": r.reason_zh, "en": r.reason_en} for r in kept.itertuples()
    }
    plan.name = "merger"
    return plan


@dataclass
class PlanEvaluation:
    """A plan measured: tables for reports and the checks a county meeting asks for.

    Attributes
    ----------
    plan
        The plan.
    rows
        One row per group and site with pupils (``group, site, grade, stage, pupils, way,
        minutes``; ``way`` a code of :mod:`~ruralnet.analysis.rules`).
    assignment
        :data:`ASSIGNMENT_COLUMNS`, one row per origin, stage, site and way (unassigned
        pupils: ``site_id`` empty, way ``beyond``).
    stages
        Per stage: pupils, travel-time statistics, walking, riding, boarding, beyond.
    sites
        :data:`SITE_COLUMNS` plus details, one row per site.
    policy
        The policy checks (:func:`ruralnet.analysis.policy.policy_checks`).
    pupils_before, pupils_after, unassigned
        Totals (whole pupils).
    costs
        Annual cost item by item (:func:`ruralnet.analysis.costs.plan_costs`), once the
        plan's buses are known.
    """

    plan: Plan
    rows: pd.DataFrame
    assignment: pd.DataFrame
    stages: pd.DataFrame
    sites: pd.DataFrame
    policy: pd.DataFrame
    pupils_before: int
    pupils_after: int
    unassigned: int
    costs: pd.DataFrame | None = None

    @property
    def conserved(self) -> bool:
        """Every pupil is assigned once or listed as unassigned."""
        return self.pupils_before == self.pupils_after + self.unassigned


def evaluate(ctx: PlanContext, plan: Plan, before: PlanEvaluation | None = None) -> PlanEvaluation:
    """Measure a plan: ways to school, stages, sites, policy checks.

    Parameters
    ----------
    ctx, plan
        The context and a plan over it.
    before
        The current plan's evaluation, for the checks' ``before_plan`` column (default: the
        plan is compared with itself).
    """
    from .policy import policy_checks

    rows = flow_rows(ctx, plan)
    assignment = _assignment(ctx, plan, rows)
    stages = _stages(ctx, plan, rows)
    sites = site_table(ctx, plan, rows)
    before_total = int(ctx.groups["pupils"].sum())
    after = round(float(rows["pupils"].sum()))
    unassigned = round(float(plan.unassigned.sum()))
    ev = PlanEvaluation(
        plan, rows, assignment, stages, sites, pd.DataFrame(), before_total, after, unassigned
    )
    ev.policy = policy_checks(ctx, ev, before)
    return ev


def flow_rows(ctx: PlanContext, plan: Plan) -> pd.DataFrame:
    """The plan's flows as rows with their way to school (from the rules)."""
    gi, sj = np.nonzero(plan.flows > 0)
    code, minutes = ctx.ways
    g = ctx.groups
    return pd.DataFrame(
        {
            "group": gi,
            "site": sj,
            "grade": g["grade"].to_numpy()[gi],
            "stage": g["stage"].to_numpy()[gi],
            "township_code": g["township_code"].to_numpy()[gi],
            "pupils": plan.flows[gi, sj],
            "way": code[gi, sj],
            "minutes": minutes[gi, sj],
        }
    )


def _assignment(ctx: PlanContext, plan: Plan, rows: pd.DataFrame) -> pd.DataFrame:
    g = ctx.groups
    table = pd.DataFrame(
        {
            "village_id": g["origin_id"].to_numpy()[rows["group"]],
            "origin_type": g["origin_type"].to_numpy()[rows["group"]],
            "township_code": rows["township_code"].to_numpy(),
            "stage": rows["stage"].to_numpy(),
            "site_id": ctx.sites["site_id"].astype(str).to_numpy()[rows["site"]],
            "way": np.asarray(rules.WAYS, dtype=object)[rows["way"].to_numpy()],
            "pupils": rows["pupils"].to_numpy(),
            "minutes": rows["minutes"].to_numpy(),
        }
    )
    lost = np.flatnonzero(plan.unassigned > 0)
    if len(lost):
        table = pd.concat(
            [
                table,
                pd.DataFrame(
                    {
                        "village_id": g["origin_id"].to_numpy()[lost],
                        "origin_type": g["origin_type"].to_numpy()[lost],
                        "township_code": g["township_code"].to_numpy()[lost],
                        "stage": g["stage"].to_numpy()[lost],
                        "site_id": None,
                        "way": "beyond",
                        "pupils": plan.unassigned[lost],
                        "minutes": np.nan,
                    }
                ),
            ],
            ignore_index=True,
        )
    keys = ["village_id", "origin_type", "township_code", "stage", "site_id", "way"]
    out = (
        table.groupby(keys, sort=False, dropna=False)
        .agg(pupils=("pupils", "sum"), minutes=("minutes", "first"))
        .reset_index()
    )
    order = {st: i for i, st in enumerate(STAGES)}
    out = out.assign(_s=out["stage"].map(order)).sort_values(
        ["village_id", "_s", "site_id"], kind="stable", na_position="last"
    )
    return out[ASSIGNMENT_COLUMNS].reset_index(drop=True)


def _stages(ctx: PlanContext, plan: Plan, rows: pd.DataFrame) -> pd.DataFrame:
    out = []
    lost = ctx.groups.assign(pupils=plan.unassigned)
    for stage in STAGES:
        part = rows[rows["stage"] == stage]
        p = part["pupils"].to_numpy()
        m = part["minutes"].to_numpy()
        way = part["way"].to_numpy()
        daily = np.isin(way, (rules.WALK, rules.BUS)) & np.isfinite(m)
        out.append(
            {
                "stage": stage,
                "pupils": p.sum(),
                "mean_minutes": float(np.average(m[daily], weights=p[daily]))
                if daily.any()
                else np.nan,
                "median_minutes": weighted_percentile(np.where(daily, m, np.nan), p, 50),
                "p95_minutes": weighted_percentile(np.where(daily, m, np.nan), p, 95),
                "max_minutes": float(m[daily].max()) if daily.any() else np.nan,
                "walking": p[way == rules.WALK].sum(),
                "bus_riders": p[way == rules.BUS].sum(),
                "boarders": p[way == rules.BOARD].sum(),
                "beyond_limits": p[way == rules.BEYOND].sum(),
                "unassigned": float(lost.loc[lost["stage"] == stage, "pupils"].sum()),
            }
        )
    return pd.DataFrame(out)


def site_table(ctx: PlanContext, plan: Plan, rows: pd.DataFrame) -> pd.DataFrame:
    """One row per site: open, grades, pupils before and after, places, classes, beds,
    boarders and bus riders after the plan."""
    s = ctx.settings
    sites = ctx.sites
    n = len(sites)
    after = np.bincount(rows["site"], weights=rows["pupils"], minlength=n)
    boarders = np.bincount(
        rows["site"], weights=rows["pupils"] * (rows["way"] == rules.BOARD), minlength=n
    )
    riders = np.bincount(
        rows["site"], weights=rows["pupils"] * (rows["way"] == rules.BUS), minlength=n
    )
    grades_after = plan.grades or list(sites["grades"].astype(str))
    classes = sites["classes"].to_numpy(float) + plan.added("classes")
    capacity = sites["capacity"].to_numpy(float) + plan.added("places")
    beds = sites["boarding_beds"].fillna(0).to_numpy(float) + plan.added("beds")
    table = pd.DataFrame(
        {
            "site_id": sites["site_id"].astype(str).to_numpy(),
            "name": sites["name"].astype(str).to_numpy(),
            "township_code": sites["township_code"].astype(str).to_numpy(),
            "township": [ctx.township(t) for t in sites["township_code"]],
            "kind": sites["kind"].astype(str).to_numpy(),
            "open": plan.open,
            "grades_before": np.where(ctx.open_now, sites["grades"].astype(str), ""),
            "grades_after": np.where(plan.open, grades_after, ""),
            "pupils_before": ctx.pupils_now,
            "pupils_after": np.where(plan.open, after, 0.0),
            "capacity": sites["capacity"].to_numpy(float),
            "places_added": plan.added("places"),
            "classes": sites["classes"].to_numpy(float),
            "classes_added": plan.added("classes"),
            "class_size_after": np.where(
                plan.open & (classes > 0), after / np.where(classes > 0, classes, 1), np.nan
            ),
            "capacity_use": np.where(
                plan.open & (capacity > 0), after / np.where(capacity > 0, capacity, 1), np.nan
            ),
            "boarders": boarders,
            "boarding_beds": sites["boarding_beds"].to_numpy(float),
            "beds_added": plan.added("beds"),
            "beds_shortfall": np.maximum(0.0, boarders - beds),
            "bus_riders": riders,
            **{
                f"justification_{lang}": [
                    plan.justification.get(sid, {}).get(lang, "")
                    for sid in sites["site_id"].astype(str)
                ]
                for lang in ("zh", "en")
            },
            "class_norm": [class_norm(k, s) for k in sites["kind"]],
            "is_central_kindergarten": sites["is_central_kindergarten"].to_numpy(bool),
            "is_central_primary": sites["is_central_primary"].to_numpy(bool),
            "is_public_boarding": sites["is_public_boarding"].to_numpy(bool),
        }
    )
    return table


def grade_pupils(ctx: PlanContext, rows: pd.DataFrame) -> np.ndarray:
    """Pupils per site and grade level after a plan (sites x grade levels)."""
    out = np.zeros((len(ctx.sites), len(ctx.offers[0])))
    cols = np.array([grade_column(g) for g in rows["grade"]], dtype=np.int64)
    np.add.at(out, (rows["site"].to_numpy(), cols), rows["pupils"].to_numpy())
    return out


def taught_grades(ctx: PlanContext, flows_by_grade: np.ndarray) -> list[str]:
    """Grade spans as text from a sites x grade-levels boolean matrix."""
    from ..model.grades import GRADE_LEVELS

    return [format_grades(np.asarray(GRADE_LEVELS)[row]) for row in flows_by_grade]


def site_actions(ctx, ev) -> np.ndarray:
    """What a plan does to each site: keep, close, reopen, stay closed, fewer grades,
    expand (classes added)."""
    s = ev.sites
    was, now = ctx.open_now, s["open"].to_numpy()
    fewer = now & was & (s["grades_after"] != s["grades_before"]).to_numpy()
    grow = now & (s["classes_added"].to_numpy() > 0)
    return np.select(
        [was & ~now, ~was & now, ~was & ~now, fewer, grow],
        ["close", "reopen", "stay_closed", "reduce_grades", "expand"],
        "keep",
    )
