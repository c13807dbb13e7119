"""A county study: the analysis the report, the maps and the batch are made from.

:func:`analyse_county` finds the merger candidates, builds the current, merger and optimised
plans, routes their buses and evaluates each plan once
(:func:`ruralnet.analysis.evaluation.evaluate`): a :class:`CountyAnalysis` holds everything
the outputs show, so the writers only format. :func:`analyse_years` is the plan in phases
(:mod:`ruralnet.analysis.phases`). The study sits between the buses and the outputs: it calls
the analysis and the bus planning, never the writers.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass, field, replace
from enum import StrEnum

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .analysis.concentration import concentration_proposals
from .analysis.costs import cost_difference, larger_sites_policy
from .analysis.evaluation import PlanEvaluation, conserved, evaluate, flow_rows
from .analysis.joint_plan import (
    VARIANT_COLUMNS,
    JointPlan,
    first_year_difference,
    joint_plan,
    joint_table,
    variant_rows,
)
from .analysis.mergers import merger_candidates, screening_against_plan
from .analysis.phases import (
    apply_shares,
    empty_classrooms,
    later_pupils,
    phase_table,
    phase_years,
    transfer_shares,
    year_sites,
)
from .analysis.plans import Plan, PlanContext, current_plan, merger_plan, plan_context
from .analysis.projection import Projection, project_enrolment
from .analysis.siting import optimised_plan
from .analysis.times import county_times
from .buses.plan import CountyBuses, plan_buses
from .model.errors import InputError, PlanError
from .model.memory import trim_heap
from .network.county import County

log = logging.getLogger(__name__)


class BusScope(StrEnum):
    """Which plans of an analysis get bus routes."""

    ALL = "all"  #: every rider of every plan
    RECEIVING = "receiving"  #: only the riders of the merger plan's receiving sites (quicker)
    RECOMMENDED = "recommended"  #: only the recommended plan's riders
    NONE = "none"  #: no routing


def bus_scope(value: str | BusScope | None) -> BusScope:
    """A :class:`BusScope` from its name (``None``: no routing).

    Raises
    ------
    InputError
        For a name that is not a scope, listing the scopes.
    """
    if value is None:
        return BusScope.NONE
    try:
        return BusScope(value)
    except ValueError:
        raise InputError(
            f"buses must be one of {', '.join(s.value for s in BusScope)}, got {value!r}"
        ) from None


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
        Plan name (``current``, ``merger``, ``optimised``, and ``concentrated``, the
        further-concentration variant) -> its complete evaluation (with its buses where
        routed).
    recommended
        The plan the report recommends.
    cost_differences
        Other plan -> where the recommended plan costs more or less than it, item by item,
        with the policy each item serves (:func:`ruralnet.analysis.costs.cost_difference`).
    screening_differences
        The small sites the screening and the recommended plan decide differently, with the
        plan's reason (:func:`ruralnet.analysis.mergers.screening_against_plan`).
    proposals
        The further-concentration variant site by site
        (:func:`ruralnet.analysis.concentration.concentration_proposals`; ``None`` without it).
    seconds
        Seconds spent on the context, the plans and the buses.
    """

    county: County
    context: PlanContext
    candidates: pd.DataFrame
    options: pd.DataFrame
    evaluations: dict[str, PlanEvaluation]
    recommended: str = "merger"
    cost_differences: dict[str, pd.DataFrame] = field(default_factory=dict)
    screening_differences: pd.DataFrame | None = None
    proposals: pd.DataFrame | None = None
    seconds: dict = field(default_factory=dict)

    @property
    def buses(self) -> dict[str, CountyBuses] | None:
        """Plan name -> its bus runs, for the plans that were routed (``None``: none)."""
        routed = {n: ev.buses for n, ev in self.evaluations.items() if ev.buses is not None}
        return routed or None

    @property
    def roads(self):
        """The county's roads as lines by class, for the map (read once with the county)."""
        return self.county.road_lines()


def analyse_county(
    county: County,
    optimise: bool = True,
    lang: str = "zh",
    buses: str | BusScope | None = BusScope.ALL,
    variant: bool = True,
    previous_buses: dict | None = None,
    context: PlanContext | None = None,
    plan: Plan | None = None,
) -> CountyAnalysis:
    """Merger candidates, then the current, merger and (optionally) optimised plans and the
    further-concentration variant, each with buses for its riders and evaluated once.

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
        Which plans get bus routes (:class:`BusScope`, or its name).
    variant
        With ``optimise``, also the further-concentration variant (``concentrated``: the plan
        model may close larger sites too), proposed site by site, never recommended; not when
        the county's settings already let the recommended plan close larger sites.
    previous_buses
        The ``chosen`` runs of an earlier :class:`~ruralnet.buses.plan.CountyBuses` (the year
        before's, in :func:`analyse_years`): each plan's fleet starts from it.
    context, plan
        The county's plan context if already built, and an optimised plan already made on it
        (a year of the plan over several years, :mod:`ruralnet.analysis.joint_plan`): taken
        instead of solving the one-year model.

    Raises
    ------
    PlanError
        If a plan loses or duplicates pupils, or its bus routes fail the independent check.
    InputError
        For an unknown ``buses`` scope.
    """
    scope = bus_scope(buses)
    seconds: dict = {}
    started = time.perf_counter()
    ctx = context if context is not None else plan_context(county, county_times(county))
    trim_heap()  # the matrices' temporaries
    candidates, options = merger_candidates(
        ctx.sites, ctx.times.site_walk, ctx.times.site_bus, county.settings, lang=lang,
        pupils=ctx.pupils_now,
    )  # fmt: skip
    seconds["context"] = round(time.perf_counter() - started, 2)
    recommended = "optimised" if optimise else "merger"
    router = _Router(county, ctx, candidates, scope, recommended, previous_buses)
    current = router.evaluate(current_plan(ctx))
    evaluations = {"current": current}
    evaluations["merger"] = router.evaluate(merger_plan(ctx, candidates), current)
    proposals = None
    if optimise:
        proposals = _optimised(ctx, router, evaluations, variant, plan)
    seconds["plans_and_buses"] = round(time.perf_counter() - started - seconds["context"], 2)
    best = evaluations[recommended]
    larger = larger_sites_policy(county.settings.small_site_pupils)
    differences = {
        name: cost_difference(ev.costs, best.costs, larger if name == "concentrated" else None)
        for name, ev in evaluations.items()
        if name != recommended and ev.costs is not None and best.costs is not None
    }
    screening = screening_against_plan(candidates, best.sites)
    return CountyAnalysis(
        county, ctx, candidates, options, evaluations, recommended, differences, screening,
        proposals, seconds,
    )  # fmt: skip


def _optimised(
    ctx, router: _Router, evaluations: dict, variant: bool, given: Plan | None = None
) -> pd.DataFrame | None:
    """The optimised plan (``given``, or solved here), and the further-concentration variant
    with its proposals (unless the settings already let the recommended plan close larger
    sites), added to ``evaluations``."""
    current = evaluations["current"]
    riders = _riders_per_bus(current.buses)
    made = given if given is not None else optimised_plan(ctx, riders)
    evaluations["optimised"] = router.evaluate(made, current)
    if not variant or ctx.settings.plan_closes_larger_sites:
        return None
    plan = replace(optimised_plan(ctx, riders, larger=True), name="concentrated")
    evaluations["concentrated"] = router.evaluate(plan, current)
    return concentration_proposals(ctx, evaluations["optimised"], evaluations["concentrated"])


def _riders_per_bus(buses: CountyBuses | None) -> float | None:
    """Average riders per bus of a plan's routes (None without routes)."""
    if buses is None or buses.buses_needed() == 0:
        return None
    return float(buses.served()["pupils"].sum()) / buses.buses_needed()


class _Router:
    """Routes and evaluates the plans of one analysis (identical runs solved once), each
    plan's routes checked independently."""

    def __init__(self, county, ctx, candidates, scope: BusScope, recommended: str, previous=None):
        self.county, self.ctx, self.scope, self.previous = county, ctx, scope, previous
        self.sites = None
        if scope is BusScope.RECEIVING:
            merges = candidates["decision"].astype(str).str.startswith("merge")
            self.sites = set(candidates.loc[merges, "receiving_site_id"])
        # runs of identical content (site, stops, pupils, seats, limit) are solved once per
        # county and settings: across the plans of one analysis and the phases of the years
        key = ("buses", json.dumps(county.settings.to_dict(), sort_keys=True, default=str))
        self.cache: dict = county.cache.setdefault(key, {})
        self.recommended = recommended

    def evaluate(self, plan: Plan, before: PlanEvaluation | None = None) -> PlanEvaluation:
        """The plan's buses (where the scope routes it), then its one evaluation."""
        ok, n_before, after, unassigned = conserved(self.ctx, plan)
        if not ok:
            raise PlanError(
                f"plan {plan.name}: pupils not conserved ({n_before} before, {after} after, "
                f"{unassigned} unassigned)"
            )
        rows = flow_rows(self.ctx, plan)
        buses = None
        if self._routes(plan.name):
            buses = plan_buses(
                self.county, self.ctx, rows, self.sites, cache=self.cache, previous=self.previous
            )
            if buses.violations:
                raise PlanError(
                    f"plan {plan.name}: bus routes failed the independent check: "
                    f"{buses.violations[:3]}"
                )
        out = evaluate(self.ctx, plan, before, buses, rows)
        # what is kept of the plan's flows is sparse (most groups go to one site): the dense
        # groups x sites matrix of each plan held the later plan models above 1 GB
        out = replace(out, plan=replace(plan, flows=sp.csr_matrix(plan.flows)))
        trim_heap()  # the routing's and the evaluation's temporaries, before the next plan
        return out

    def _routes(self, name: str) -> bool:
        if self.scope is BusScope.NONE:
            return False
        if self.scope is BusScope.RECOMMENDED:
            return name == self.recommended
        return True


@dataclass
class YearsAnalysis:
    """The plan in phases: one analysis per year, each starting from the one before.

    Attributes
    ----------
    projection
        Pupils per site, grade and year (:class:`~ruralnet.analysis.projection.Projection`).
    phases
        Year -> that year's :class:`CountyAnalysis` (its ``current`` plan: the sites as they
        are now on that year's pupils, or phase by phase the earlier phases' decisions; its
        recommended plan: the year's plan), kept lean: those two evaluations only, their
        plans' flows sparse, no plan context.
    table
        :data:`~ruralnet.analysis.phases.PHASE_COLUMNS` per year and site, with ``name``,
        ``township_code``, ``small`` and ``classrooms_empty_later`` (and from one model
        ``temporary_classrooms`` and ``robust``).
    districts
        Year -> its learning districts (the recommended plan's
        :attr:`~ruralnet.analysis.evaluation.PlanEvaluation.districts`).
    district_layers
        Year -> one polygon per district.
    joint
        The plan of every year from one model (:class:`~ruralnet.analysis.joint_plan.JointPlan`;
        ``None`` when planned phase by phase).
    """

    projection: Projection
    phases: dict[int, CountyAnalysis]
    table: pd.DataFrame
    districts: dict
    district_layers: dict = field(default_factory=dict)
    joint: JointPlan | None = None


def _phase_record(analysis: CountyAnalysis) -> CountyAnalysis:
    """What is kept of a phase once the next one has what it needs: its current and
    recommended evaluations (their flows already sparse), and no plan context (the groups x
    sites matrices of every phase held the years' plan at three times the one-year memory)."""
    kept = {name: analysis.evaluations[name] for name in ("current", analysis.recommended)}
    return replace(analysis, context=None, evaluations=kept)


def analyse_years(
    county: County,
    years,
    optimise: bool = True,
    lang: str = "zh",
    buses: str | BusScope | None = BusScope.RECOMMENDED,
    joint: bool = True,
) -> YearsAnalysis:
    """The plan year by year: with ``joint`` (and ``optimise``) one model of every year
    (:mod:`ruralnet.analysis.joint_plan`), else each year's plan from the one before
    (:mod:`ruralnet.analysis.phases`).

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
    joint
        Plan every year in one model (default); ``False``: phase by phase, each year's plan
        from the one before.
    """
    s = county.settings
    years = list(phase_years(years))
    if not years or years[0] < s.enrolment_year or years[-1] > s.projection_horizon:
        raise InputError(
            f"phase years must lie within {s.enrolment_year}-{s.projection_horizon} (the "
            f"enrolment year and the setting projection_horizon), got {years}"
        )
    info = county.meta.get("county") or {}
    projection = project_enrolment(
        county.sites, s, info.get("seat_township"), horizon=max(years[-1], s.projection_horizon),
        urban_share=info.get("urban_share"),
    )  # fmt: skip
    if joint and optimise:
        return _joint_years(county, years, projection, lang, buses)
    phases, tables, districts, layers, shares, before = {}, [], {}, {}, [], None
    for year in years:
        pupils = projection.pupils["central"][projection.years.index(year)]
        for share in shares:
            pupils = apply_shares(pupils, share)
        sites = year_sites(county.sites, pupils, before)
        # each year's fleet starts from the year before's (the same runs where riders are the same)
        fleet = before.buses.chosen if before is not None and before.buses is not None else None
        analysis = analyse_county(
            _year_county(county, sites, year),
            optimise,
            lang,
            buses,
            variant=False,
            previous_buses=fleet,
        )
        ev = analysis.evaluations[analysis.recommended]
        shares.append(transfer_shares(analysis.context, ev))
        tables.append(phase_table(year, analysis.context, ev, lang=lang))
        districts[year], layers[year] = ev.districts, ev.district_layer
        phases[year], before = _phase_record(analysis), ev
        trim_heap()
    table = pd.concat(tables, ignore_index=True)
    facts = pd.concat(
        [a.evaluations[a.recommended].sites.assign(year=y) for y, a in phases.items()]
    )
    table["class_norm"] = facts["class_norm"].to_numpy()
    table["classes_after"] = (
        facts["classes"].fillna(0) + facts["classes_added"].fillna(0)
    ).to_numpy()
    later = later_pupils(projection, shares, county.sites)
    table["classrooms_empty_later"] = empty_classrooms(table, later)
    return YearsAnalysis(
        projection,
        phases,
        table.drop(columns=["class_norm", "classes_after", "site_reason"]),
        districts,
        layers,
    )


def _joint_years(county: County, years: list[int], projection, lang: str, buses) -> YearsAnalysis:
    """:func:`analyse_years` with every year's plan from one model: each year's context on
    its projected pupils (the sites as they are now), the joint plan, then each year
    evaluated (with its buses, each year's fleet from the year before's) and read together
    (:func:`ruralnet.analysis.joint_plan.joint_table`); the same model on the low and high
    projections first (their memory given back before the central one's), for the decisions
    that hold under all three."""
    others, rows = _variants_open(county, years, projection)  # first: memory given back
    counties, contexts = _year_contexts(county, years, projection, "central")
    joint = joint_plan(contexts)
    rows += variant_rows("central", joint.plans, contexts[years[0]].open_now, projection)
    order = {"low": 0, "central": 1, "high": 2}
    rows.sort(key=lambda r: (r["year"], order[r["variant"]]))
    joint.meta["variants"] = pd.DataFrame(rows, columns=VARIANT_COLUMNS)
    first = years[0]
    joint.meta["first_year"] = first_year_difference(
        optimised_plan(contexts[first]), joint.plans[first], contexts[first]
    )
    phases, tables, districts, layers, fleet, was_open = {}, [], {}, {}, None, None
    for year in years:
        analysis = analyse_county(
            counties.pop(year), True, lang, buses, variant=False, previous_buses=fleet,
            context=contexts.pop(year), plan=joint.plans[year],
        )  # fmt: skip
        ev = analysis.evaluations[analysis.recommended]
        joint.plans[year] = ev.plan  # its flows sparse, as every kept evaluation's
        tables.append(phase_table(year, analysis.context, ev, was_open, lang))
        districts[year], layers[year] = ev.districts, ev.district_layer
        fleet = ev.buses.chosen if ev.buses is not None else None
        was_open = ev.sites["open"].to_numpy()
        phases[year] = _phase_record(analysis)
        del analysis
        trim_heap()
    ids = county.sites["site_id"].astype(str).to_numpy()
    robust = {
        y: dict(zip(ids, (joint.plans[y].open == others[y]).all(axis=0).tolist(), strict=True))
        for y in years
    }
    table = joint_table(pd.concat(tables, ignore_index=True), joint, lang)
    table["robust"] = [
        robust[y][sid] for y, sid in zip(table["year"], table["site_id"], strict=True)
    ]
    return YearsAnalysis(projection, phases, table, districts, layers, joint=joint)


def _variants_open(county: County, years: list[int], projection) -> tuple[dict, list]:
    """Year -> which sites the low and high projections' joint plans keep open that year
    (variants x sites): a decision the central plan shares with both is robust; and each
    variant's rows of :func:`variant_rows`."""
    out: dict = {y: [] for y in years}
    rows: list = []
    for variant in ("low", "high"):
        contexts = _year_contexts(county, years, projection, variant)[1]
        open_now = contexts[years[0]].open_now
        plans = joint_plan(contexts).plans
        del contexts
        for y in years:
            out[y].append(plans[y].open)
        rows += variant_rows(variant, plans, open_now, projection)
        del plans
        trim_heap()
    return {y: np.vstack(v) for y, v in out.items()}, rows


def _year_contexts(county: County, years: list[int], projection, variant: str):
    """Year -> the county in that year (its projected sites, ``variant`` of the projection,
    where they are now), and year -> its plan context."""
    counties, contexts = {}, {}
    for year in years:
        pupils = projection.pupils[variant][projection.years.index(year)]
        counties[year] = _year_county(county, year_sites(county.sites, pupils), year)
        contexts[year] = plan_context(counties[year], county_times(counties[year]))
    return counties, contexts


def _year_county(county: County, sites, year: int) -> County:
    """The county in a phase year: its sites of that year, and no minimum size of a site
    before ``small_site_rule_year`` (the rule, its checks and its wave of candidates from that
    year on)."""
    out = county.with_sites(sites)
    s = county.settings
    if year < s.small_site_rule_year:
        out = replace(out, settings=s.replace(small_site_pupils=0))
    return out
