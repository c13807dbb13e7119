"""Plans: which sites are open, which grades they teach, where every pupil goes, and what is
added (places, classes, boarding beds).

A :class:`PlanContext` holds a county's demand groups (:mod:`ruralnet.analysis.demand`) and
their travel times to every site; a :class:`Plan` says where each group's pupils go. Three
plans are built here or in :mod:`ruralnet.analysis.siting`: the current situation
(:func:`current_plan`), the merger screening's plan (:func:`merger_plan`) and the optimised
plan (:func:`ruralnet.analysis.siting.optimised_plan`). A plan is measured in one place:
:func:`ruralnet.analysis.evaluation.evaluate`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from ..model.errors import InputError
from ..model.grades import grade_column, offer_matrix
from ..model.settings import Settings
from . import rules
from .demand import catchment_sites, demand_groups, village_urban
from .group_matrix import GroupMatrix
from .times import CountyTimes, county_times

log = logging.getLogger(__name__)


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
        Minutes from each group's origin to each site (NaN: no way), groups x sites: an
        array, or a :class:`~ruralnet.analysis.group_matrix.GroupMatrix` (each origin's row
        kept once), which indexes the same.
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
        Metres of the bus paths, groups x sites (for bus-km), held like ``walk``.
    todays_buses
        Today's school buses as the county lists them (``buses.csv``), or ``None``: then the
        current plan's buses are those needed under the rules.
    village_urban
        Whether each village is urban (:func:`ruralnet.analysis.demand.village_urban`), in
        layer order (``None``: every village rural).
    """

    sites: pd.DataFrame
    groups: pd.DataFrame
    walk: np.ndarray | GroupMatrix
    bus: np.ndarray | GroupMatrix
    settings: Settings
    code: str = ""
    name: str = ""
    population: float = 0.0
    township_names: dict = field(default_factory=dict)
    village_names: dict = field(default_factory=dict)
    village_ids: np.ndarray = field(default_factory=lambda: np.array([], dtype=object))
    catchment: np.ndarray | None = None
    times: CountyTimes | None = None
    bus_metres: np.ndarray | GroupMatrix | None = None
    todays_buses: pd.DataFrame | None = None
    village_urban: np.ndarray | None = None

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
        sites: worked out once per origin, grade class (:func:`rules.grade_class`: the grades
        the rules treat alike) and urban flag, and read for each group from there (a county's
        groups repeat each origin once per grade)."""
        grade = self.groups["grade"].to_numpy()
        walk, bus = self.walk, self.bus
        if not (isinstance(walk, GroupMatrix) and isinstance(bus, GroupMatrix)):
            return rules.way_codes(grade[:, None], np.asarray(walk), np.asarray(bus),
                                   self.settings, self.urban[:, None])  # fmt: skip
        key = np.stack([walk.origin, bus.origin, rules.grade_class(grade, self.settings),
                        self.urban.astype(np.int64)])  # fmt: skip
        _, first, back = np.unique(key, axis=1, return_index=True, return_inverse=True)
        code, minutes = rules.way_codes(
            grade[first][:, None], walk.rows[walk.origin[first]], bus.rows[bus.origin[first]],
            self.settings, self.urban[first][:, None],
        )  # fmt: skip
        back = back.ravel()
        return code[back], minutes[back]

    @cached_property
    def urban(self) -> np.ndarray:
        """Whether each demand group lives in an urban committee (all rural when the groups
        do not say)."""
        g = self.groups
        return g["urban"].to_numpy(bool) if "urban" in g else np.zeros(len(g), dtype=bool)

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
        Pupils of each group at each site (groups x sites): a dense array as a plan is built;
        a sparse matrix (``scipy.sparse.csr_matrix``) in the evaluations an analysis keeps.
    unassigned
        Pupils of each group the plan places nowhere.
    grades
        Grade span each site teaches after the plan (default: as now).
    places_added, classes_added, beds_added
        Per site (default: none).
    kindergarten_classes_added
        Kindergarten classes added near home per site (part of ``classes_added``).
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
    kindergarten_classes_added: np.ndarray | None = None
    justification: dict = field(default_factory=dict)
    meta: dict = field(default_factory=dict)

    def added(self, what: str) -> np.ndarray:
        """``places``, ``classes`` or ``beds`` added per site (zeros when none)."""
        value = getattr(self, f"{what}_added")
        return np.zeros(len(self.open)) if value is None else np.asarray(value, dtype=float)


#: The most demand groups x sites one plan takes: the plan holds several matrices of that size
#: (times, ways, metres, flows; 8 bytes a cell), and 40 million cells are some 2 GB of them.
MAX_PLAN_CELLS = 40_000_000


def check_plan_size(groups: int, sites: int) -> None:
    """Refuse a county too large for one plan, before its matrices are built.

    Raises
    ------
    InputError
        Naming the demand groups, the sites and what to do.
    """
    cells = int(groups) * int(sites)
    if cells > MAX_PLAN_CELLS:
        raise InputError(
            f"the county is too large for one plan: {groups:,} demand groups (villages and "
            f"grades) x {sites:,} sites = {cells:,} cells, more than {MAX_PLAN_CELLS:,} (about "
            f"{cells * 8 * 6 / 2**30:.0f} GB of matrices); plan it by parts (a county folder per "
            "group of townships) or with fewer demand points (a larger spread_min_population)"
        )


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
    check_plan_size(len(groups), len(sites))
    is_v = (groups["origin_type"] == "village").to_numpy()
    idx = groups["origin_index"].to_numpy()

    origin = np.where(is_v, idx, len(villages) + idx)

    def rows(v_matrix, s_matrix):  # each group's row is its origin's: kept once per origin
        return GroupMatrix(np.vstack([v_matrix, s_matrix]).astype(float, copy=False), origin)

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
        getattr(county, "buses", None),
        village_urban(villages),
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


def grade_pupils(ctx: PlanContext, rows: pd.DataFrame) -> np.ndarray:
    """Pupils per site and grade level after a plan (sites x grade levels)."""
    out = np.zeros((len(ctx.sites), len(ctx.offers[0])))
    cols = np.array([grade_column(g) for g in rows["grade"]], dtype=np.int64)
    np.add.at(out, (rows["site"].to_numpy(), cols), rows["pupils"].to_numpy())
    return out
