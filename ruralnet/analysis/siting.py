"""The plan a county can adopt: one exact model of the decisions a county makes.

Which sites close, stay, reopen or teach fewer grades; where classes (classrooms, with their
places) and boarding beds are added; which pupils walk, ride or board (the way-to-school
rules, :mod:`ruralnet.analysis.rules`); how many buses each school needs. The objective is
the county's annual cost plus the value of the pupils' travel time, with the unit costs of
the settings (illustrative defaults, set per county); the policy is hard constraints:

* every township keeps its three schools, and every site not of ``merger_kinds`` stays;
* a closed site reopens only for pupils that no open school can take within the limits (its
  reason says so), never for the pupils of a site the plan may close (no small site is
  swapped for another);
* no open teaching point or village primary under ``small_site_pupils`` unless a
  justification holds, and it is written next to the site: no receiving school within the
  limits for some of its pupils, the only site for the young grades within the young pupils'
  ride limit, or a county setting (``keep_sites``);
* pupils of a site that stays open stay there, unless the plan changes the grades it teaches
  (a village primary keeps grades 1-3 and sends 4-6 on, ``grades_after``) or the site is
  over-full even after the classes the settings allow; an over-full receiving school gets
  classes, not a bus out;
* township first (``keep_township``): a moved pupil goes to a school of another township only
  when no school of their own can take them within the limits;
* every moved pupil travels within the limits (walk, ride with the young pupils' shorter
  limit, or board from the boarding grade, at a site that can take boarders);
* no class of ``oversized_class`` or more, no site over its places (classes are added, at
  most ``max_class_growth`` of a site's classes), a bed for every boarder (beds are added);
* no school over its size cap (大校额, :func:`ruralnet.model.kinds.school_size_cap`) grows;
* buses: each rider pays a share of a bus, its driver and its kilometres at the riders per
  bus the county's current routes achieve (the routes themselves come after, for every
  plan, :mod:`ruralnet.buses`; the cost table prices the routed buses).

Models to read and to beat: the school-network models of Antunes & Peeters (Socio-Economic
Planning Sciences 34, 2000) and Teixeira & Antunes (fixed costs plus costs that grow with
capacity and attendance; closures, size reductions, expansions to standard sizes). Solved
exactly by HiGHS (``scipy.optimize.milp``); the status, gap, size and time are in
``plan.meta``.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from ..model.errors import SettingsError, SolverError
from ..model.grades import GRADE_LEVELS, format_grades, grade_column, parse_grades
from ..model.kinds import THREE_SCHOOL_FLAGS, class_norm, school_size_cap
from ..model.memory import trim_heap
from ..model.schema import largest_remainder
from . import rules
from .evaluation import flow_rows
from .plans import Plan, current_plan

log = logging.getLogger(__name__)

#: Cost of a pupil left without any place (per pupil): only when nothing else is possible.
UNASSIGNED_PENALTY = 1e9
#: Cost (yuan a year) of each further school that a village's pupils of one grade band go to:
#: one receiving school per village and band unless no single school can take them all.
SPLIT_COST = 50_000.0
#: Cost of a pupil above a site's places or classes after the allowed additions.
OVERFLOW_PENALTY = 1e7
#: Cost of a pupil left beyond the limits (where they are now): any way within the limits,
#: a reopened site included, comes first.
BEYOND_PENALTY = 1e6


def annual_pupil_cost(way, minutes, metres, settings, riders_per_bus: float) -> np.ndarray:
    """Annual cost of a pupil's way to school (yuan): travel time at ``pupil_hour_value``
    (two trips a school day; boarders two a week), a boarder's living cost, and a rider's
    share of a bus, its driver and its bus-km (there and back, morning and afternoon) at
    ``riders_per_bus``."""
    s = settings
    minutes = np.nan_to_num(np.asarray(minutes, float), nan=0.0)
    daily = minutes * 2 * s.school_days * s.pupil_hour_value / 60
    weekly = minutes * 2 * s.school_weeks * s.pupil_hour_value / 60 + s.boarder_cost_per_year
    km = np.nan_to_num(np.asarray(metres, float), nan=0.0) / 1000 * 2 * 2 * s.school_days
    bus = daily + (km * s.bus_km_cost + s.bus_cost_per_year + s.driver_cost_per_year) / max(
        riders_per_bus, 1.0
    )
    way = np.asarray(way)
    return np.select(
        [
            np.isin(way, (rules.WALK, rules.GUARDIAN, rules.TRANSIT)),
            way == rules.BUS,
            way == rules.BOARD,
        ],
        [daily, bus, weekly],
        BEYOND_PENALTY,
    )


@dataclass
class SiteFacts:
    """Per site, what the model needs (arrays in site order)."""

    decide: np.ndarray  # open now, may close or teach fewer grades
    reopen: np.ndarray  # closed now, may reopen
    receive: np.ndarray  # may take pupils from elsewhere
    boarding: np.ndarray  # may house boarders (beds now, or a boarding kind)
    mixed: np.ndarray  # teaches young and older grades (may drop the older ones)
    close: np.ndarray  # the county closes it (close_sites), unless its pupils are stuck
    capacity: np.ndarray  # places (NaN unknown)
    classes: np.ndarray  # classes (NaN unknown)
    beds: np.ndarray
    norm: np.ndarray  # class-size norm (places per added classroom)
    max_classes: np.ndarray  # classes that may be added


@dataclass
class Justification:
    """Why a small site stays open (pinned grades and the reason, in both languages)."""

    site: int
    grades: str
    zh: str
    en: str


def county_closes(ctx) -> np.ndarray:
    """The open sites the county closes by setting (``close_sites``).

    Raises
    ------
    SettingsError
        For ids that name no site, or sites that are not of ``merger_kinds`` or are one of
        the township's three schools (all named at once).
    """
    s = ctx.settings
    ids = ctx.sites["site_id"].astype(str)
    wanted = set(map(str, s.close_sites))
    problems = [f"close_sites: no site {i!r}" for i in sorted(wanted - set(ids))]
    close = ids.isin(wanted).to_numpy()
    three = ctx.sites[list(THREE_SCHOOL_FLAGS)].any(axis=1).to_numpy()
    closable = ctx.sites["kind"].isin(s.merger_kinds).to_numpy() & ~three
    for j in np.flatnonzero(close & ~closable):
        problems.append(
            f"close_sites: {ids.iloc[j]} {ctx.sites['name'].iloc[j]} is a "
            f"{ctx.sites['kind'].iloc[j]}{' (one of the three schools)' if three[j] else ''}; "
            f"only {', '.join(s.merger_kinds)} sites close"
        )
    if problems:
        raise SettingsError("; ".join(problems))
    return close & ctx.open_now


def site_facts(ctx, larger: bool | None = None) -> SiteFacts:
    """What the model knows about each site; ``larger`` (default: the setting
    ``plan_closes_larger_sites``) lets the plan close sites of ``small_site_pupils`` or more."""
    s = ctx.settings
    sites = ctx.sites
    kinds = sites["kind"].astype(str).to_numpy()
    three = sites[list(THREE_SCHOOL_FLAGS)].any(axis=1).to_numpy()
    keep = sites["site_id"].astype(str).isin(s.keep_sites).to_numpy()
    close = county_closes(ctx)
    small = ctx.open_now & np.isin(kinds, s.merger_kinds) & (ctx.pupils_now < s.small_site_pupils)
    # the policy's plan decides on the sites under small_site_pupils only; closing (or taking
    # grades from) larger sites is the further-concentration variant, or the county's lever
    scope = small | (s.plan_closes_larger_sites if larger is None else larger) | close
    decide = ctx.open_now & np.isin(kinds, s.merger_kinds) & ~three & ~keep & scope
    young = ctx.offers[:, : grade_column(s.young_max_grade) + 1].any(axis=1)
    older = ctx.offers[:, grade_column(s.young_max_grade) + 1 :].any(axis=1)
    classes = sites["classes"].to_numpy(float)
    beds = sites["boarding_beds"].fillna(0).to_numpy(float)
    closed_by_plan = (
        sites["closed_by_plan"].fillna(False).astype(bool).to_numpy()
        if "closed_by_plan" in sites
        else np.zeros(len(sites), dtype=bool)
    )
    return SiteFacts(
        decide=decide,
        reopen=~ctx.open_now & ~closed_by_plan,  # an earlier phase's closure stands
        # small sites are candidates to close, never receivers (filling them to keep them
        # open is not what the policy asks); a reopened site takes its old catchment
        # and a school at or over its size cap (大校额) takes nobody more
        receive=((~np.isin(kinds, s.non_receiving_kinds) & ~small & ~close) | ~ctx.open_now)
        & ~over_cap(ctx),
        boarding=(beds > 0)
        | np.isin(kinds, s.boarding_kinds)
        | sites["is_public_boarding"].to_numpy(bool),
        mixed=decide & young & older & s.plan_reduces_grades,
        close=close,
        capacity=sites["capacity"].to_numpy(float),
        classes=classes,
        beds=beds,
        norm=np.array([class_norm(k, s) for k in kinds], dtype=float),
        max_classes=_max_classes(ctx, classes, kinds),
    )


def over_cap(ctx) -> np.ndarray:
    """Open schools at or over their size cap today (大校额): they receive nobody more."""
    s = ctx.settings
    caps = np.array([school_size_cap(k, s) for k in ctx.sites["kind"].astype(str)], dtype=float)
    return ctx.open_now & (ctx.pupils_now >= caps)


def _max_classes(ctx, classes: np.ndarray, kinds: np.ndarray) -> np.ndarray:
    """Classes a site may add: ``max_class_growth`` of its classes (of its places at the
    norm when classes are unknown); a closed site as many as its grades need to reopen (one
    per grade, at least)."""
    s = ctx.settings
    norm = np.array([class_norm(k, s) for k in kinds], dtype=float)
    known = np.where(np.isfinite(classes), classes, ctx.sites["capacity"].to_numpy(float) / norm)
    grow = np.where(np.isfinite(known), np.ceil(s.max_class_growth * np.nan_to_num(known)), 0)
    grades = ctx.offers.sum(axis=1)
    return np.where(ctx.open_now, grow, np.maximum(grow, np.maximum(grades, 1)))


@dataclass
class PlanModel:
    """The model's data, built by :meth:`from_context`; :meth:`solve` returns the plan.

    Attributes
    ----------
    ctx
        The plan context.
    facts
        Per-site facts.
    mobile
        Groups whose site may change (their site may close or drop their grade, they are
        beyond the limits now, or their site is over-full even after the allowed classes).
    bound
        For mobile groups: the site they stay at when it keeps their grade (-1: free to
        move).
    pairs
        Allowed (group, site) pairs of the mobile groups: ``group, site, way, cost``.
    pinned
        Site -> justification, for decidable sites that must keep some grades.
    """

    ctx: object
    facts: SiteFacts
    mobile: np.ndarray
    bound: np.ndarray
    pairs: pd.DataFrame
    pinned: dict[int, Justification] = field(default_factory=dict)
    riders_per_bus: float = 56.0

    @classmethod
    def from_context(
        cls,
        ctx,
        bus_metres: np.ndarray | None = None,
        riders_per_bus: float | None = None,
        larger: bool | None = None,
    ) -> PlanModel:
        """The model of a county's plan context.

        Parameters
        ----------
        ctx
            The plan context.
        bus_metres
            Bus path lengths, groups x sites, for the riders' share of bus-km (default: the
            context's).
        riders_per_bus
            Riders a bus carries on average (default: the seats of a bus); a run measures it
            on the current plan's routes.
        larger
            Let the plan close sites of ``small_site_pupils`` or more (the further-concentration
            variant; default: the setting ``plan_closes_larger_sites``).
        """
        s = ctx.settings
        facts = site_facts(ctx, larger)
        g = ctx.groups
        cur = g["current"].to_numpy()
        code, minutes = ctx.ways
        n_groups = len(g)
        has = cur >= 0
        cur_way = np.where(has, code[np.arange(n_groups), np.maximum(cur, 0)], rules.BEYOND)
        overfull = _overfull(ctx, facts)
        bound_site = has & facts.decide[np.maximum(cur, 0)]
        free = ~has | (cur_way == rules.BEYOND) | (has & overfull[np.maximum(cur, 0)])
        mobile = bound_site | free
        cols = np.array([grade_column(x) for x in g["grade"]], dtype=np.int64)
        openable = ctx.open_now | facts.reopen
        teaches = ctx.offers[:, cols].T & openable[None, :]  # groups x sites
        within = np.isin(code, rules.WITHIN) & ~((code == rules.BOARD) & ~facts.boarding[None, :])
        allowed = teaches & within & facts.receive[None, :]
        allowed &= ~(bound_site[:, None] & facts.reopen[None, :])  # no swap of small sites
        allowed[np.arange(n_groups)[has], cur[has]] |= True  # staying is always a pair
        # free groups at a site that stays with nowhere else to go do not move: fixed
        only_stay = has & (allowed.sum(axis=1) == 1) & ~bound_site
        mobile &= ~only_stay
        allowed &= mobile[:, None]
        group_town = g["township_code"].astype(str).to_numpy()
        site_town = ctx.sites["township_code"].astype(str).to_numpy()
        if s.keep_township:  # township first: another township only when none of its own can
            same = group_town[:, None] == site_town[None, :]
            moves = allowed.copy()
            moves[np.arange(n_groups)[has], cur[has]] = False
            allowed &= same | ~(moves & same).any(axis=1)[:, None]
            allowed[np.arange(n_groups)[has], cur[has]] |= mobile[has]  # staying stays a pair
        gi, sj = np.nonzero(allowed)
        if bus_metres is None:
            bus_metres = ctx.bus_metres if ctx.bus_metres is not None else np.zeros_like(minutes)
        load = riders_per_bus or float(s.bus_seats)
        cost = annual_pupil_cost(code[gi, sj], minutes[gi, sj], bus_metres[gi, sj], s, load)
        # township first: boarding in another township is priced as the policy's last resort
        away = group_town[gi] != site_town[sj]
        cost = cost + (code[gi, sj] == rules.BOARD) * away * s.other_township_boarding_cost
        pairs = pd.DataFrame({"group": gi, "site": sj, "way": code[gi, sj], "cost": cost})
        bound = np.where(bound_site & ~free, cur, -1)
        model = cls(ctx, facts, mobile, bound, pairs, riders_per_bus=load)
        model.pinned = _pinned(model)
        return model

    def solve(self, node_limit: int | None = None):
        """Solve with HiGHS within a work limit (``node_limit`` branch-and-bound nodes, default
        the setting ``plan_solver_nodes``), so the plan does not depend on the machine's load;
        the optimised :class:`~ruralnet.analysis.plans.Plan`."""
        started = time.perf_counter()
        lp = _Builder(self).build()
        if len(lp["c"]) == 0:  # nothing to decide: no small site, nobody who may move
            meta = {"solver": "nothing to decide", "optimal": True, "objective": 0.0, "gap": 0.0,
                    "rows": 0, "columns": 0, "integers": 0, "seconds": 0.0,
                    "riders_per_bus": round(self.riders_per_bus, 2)}  # fmt: skip
            return _plan_from(self, lp, np.zeros(0), meta)
        x, meta = solve_lp(lp, node_limit or self.ctx.settings.plan_solver_nodes, started)
        meta["riders_per_bus"] = round(self.riders_per_bus, 2)
        return _plan_from(self, lp, x, meta)


def solve_lp(lp: dict, node_limit: int, started: float, what: str = "the plan model"):
    """HiGHS on a model's arrays within ``node_limit`` nodes: the solution and its ``meta``
    (status, objective, gap, size, seconds since ``started``); the matrix is given back
    before what follows.

    Raises
    ------
    SolverError
        When HiGHS finds no solution within its limits.
    """
    res = milp(
        lp["c"],
        integrality=lp["integrality"],
        bounds=Bounds(lp["lb"], lp["ub"]),
        constraints=LinearConstraint(lp["A"], lp["lo"], lp["hi"]),
        options={"node_limit": int(node_limit), "mip_rel_gap": 1e-4, "disp": False},
    )
    seconds = time.perf_counter() - started
    shape = lp.pop("A").shape  # the matrix and HiGHS's copy: given back before what follows
    trim_heap()
    if res.x is None or res.status not in (0, 1):
        raise SolverError(f"{what} was not solved: {res.message}")
    if res.status == 1:
        log.warning("%s stopped at its node limit: %s", what, res.message)
    meta = {
        "solver": res.message,
        "optimal": res.status == 0,
        "objective": float(res.fun),
        "gap": float(getattr(res, "mip_gap", 0.0) or 0.0),
        "rows": int(shape[0]),
        "columns": int(shape[1]),
        "integers": int(lp["integrality"].sum()),
        "seconds": round(seconds, 2),
    }
    return res.x, meta


def _overfull(ctx, facts: SiteFacts) -> np.ndarray:
    """Sites whose pupils exceed the places or classes they could have after the allowed
    additions: their pupils may move out."""
    s = ctx.settings
    pupils = ctx.pupils_now
    classes_max = facts.classes + facts.max_classes
    cap_max = facts.capacity + facts.max_classes * facts.norm
    over_places = np.isfinite(cap_max) & (pupils > cap_max)
    over_classes = np.isfinite(classes_max) & (pupils > (s.oversized_class - 1) * classes_max)
    return ctx.open_now & (over_places | over_classes)


def _pinned(model: PlanModel) -> dict[int, Justification]:
    """Decidable sites that must keep some grades (a group has nowhere else to go within the
    limits), or that the county pins; each with its justification."""

    ctx, s = model.ctx, model.ctx.settings
    g = ctx.groups
    pairs = model.pairs
    alternatives = pairs[pairs["site"] != g["current"].to_numpy()[pairs["group"]]]
    has_alt = np.zeros(len(g), dtype=bool)
    has_alt[alternatives["group"].to_numpy()] = True
    out: dict[int, Justification] = {}
    stuck = (model.bound >= 0) & ~has_alt
    code, _ = ctx.ways
    at_cap = over_cap(ctx)
    for site in np.unique(model.bound[stuck]):
        mine = stuck & (model.bound == site)
        grades = sorted(set(g["grade"].to_numpy()[mine]))
        young = [x for x in grades if x <= s.young_max_grade]
        # could a bus take the young ones within the older pupils' limit?
        cols = [grade_column(x) for x in young]
        teach = (
            ctx.offers[:, cols].any(axis=1)
            & (ctx.open_now | model.facts.reopen)
            & model.facts.receive
        )
        rows = np.flatnonzero(mine)
        # within the older pupils' ride limit, but not the young pupils'?
        older = s.young_max_grade + 1
        bus_ok = bool(
            len(young)
            and teach.any()
            and rules.rideable(older, ctx.bus[np.ix_(rows, np.flatnonzero(teach))], s).any()
        )
        text = format_grades(grades)
        full = at_cap & ctx.offers[:, [grade_column(x) for x in grades]].any(axis=1)
        capped = bool(np.isin(code[np.ix_(rows, np.flatnonzero(full))], rules.WITHIN).any())
        if capped:
            zh = f"{text}年级学生可接收的学校均已达到规模上限（大校额）"
            en = f"every receiving school for grades {text} is at its size cap"
        elif young and bus_ok:
            yt = format_grades(young)
            zh = f"{yt}年级学生在{s.young_ride_minutes:g}分钟内只能到达本校"
            en = f"the only site for grades {yt} within {s.young_ride_minutes:g} min"
        else:
            zh = f"{text}年级学生在限值内没有其他可接收学校"
            en = f"no receiving school within the limits for grades {text}"
        if model.facts.close[site]:
            zh, en = f"县里设定撤并（close_sites），但{zh}", f"the county closes it, but {en}"
        out[int(site)] = Justification(int(site), text, zh, en)
    keep = ctx.sites["site_id"].astype(str).isin(s.keep_sites).to_numpy()
    small_kinds = ctx.sites["kind"].isin(s.merger_kinds).to_numpy()
    for site in np.flatnonzero(keep & small_kinds & ctx.open_now):
        out[int(site)] = Justification(
            int(site), "", "县里设定保留（keep_sites）", "kept by the county (keep_sites)"
        )
    return out


class _Builder:
    """The MILP of a :class:`PlanModel` as arrays for ``scipy.optimize.milp``."""

    def __init__(self, model: PlanModel, temporary: float | None = None):
        self.m = model
        self.ctx = model.ctx
        self.s = model.ctx.settings
        self.f = model.facts
        self.temporary = temporary  # yearly cost of a temporary classroom (None: none offered)
        self.k: dict[int, int] = {}  # site -> column of the classrooms added there
        self.q: dict[int, int] = {}  # site -> column of its temporary classrooms
        self.cols: list[tuple[str, object]] = []  # (kind, key) of every column
        self.c: list[float] = []
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.integer: list[int] = []
        self.rows: list[tuple[dict[int, float], float, float]] = []

    def col(self, kind, key, cost, lb, ub, integer) -> int:
        self.cols.append((kind, key))
        self.c.append(cost)
        self.lb.append(lb)
        self.ub.append(ub)
        self.integer.append(int(integer))
        return len(self.cols) - 1

    def row(self, coef: dict[int, float], lo: float, hi: float) -> None:
        if coef:
            self.rows.append((coef, lo, hi))

    def build(self) -> dict:
        m, s, f = self.m, self.s, self.f
        g = self.ctx.groups
        pupils = g["pupils"].to_numpy(float)
        grade = g["grade"].to_numpy()
        pairs = m.pairs
        target = set(pairs["site"].unique())
        self.y, self.r = {}, {}
        for j in np.flatnonzero(
            f.decide | (f.reopen & np.isin(np.arange(len(f.decide)), list(target)))
        ):
            pinned = int(j) in m.pinned
            cost = s.site_cost_per_year + (s.reopen_cost_per_year if f.reopen[j] else 0.0)
            most = 0.0 if f.close[j] and not pinned else 1.0  # the county closes it
            self.y[j] = self.col("y", j, cost, 1.0 if pinned else 0.0, most, True)
            if f.mixed[j]:
                keep_older = (
                    pinned
                    and m.pinned[int(j)].grades
                    and any(x > s.young_max_grade for x in _levels(m.pinned[int(j)].grades))
                )
                self.r[j] = self.col("r", j, 0.0, 0.0, 0.0 if keep_older else 1.0, True)
        self.x = [
            self.col("x", a, float(cost * pupils[gi]), 0.0, 1.0, False)
            for a, (gi, cost) in enumerate(zip(pairs["group"], pairs["cost"], strict=True))
        ]
        self.u = {
            i: self.col("u", i, UNASSIGNED_PENALTY * pupils[i], 0.0, 1.0, False)
            for i in np.flatnonzero(m.mobile)
        }
        self._assignment(pairs, grade)
        self._one_school(pairs, pupils, grade)
        self._site_rows(pairs, pupils, grade)
        return {
            "c": np.array(self.c),
            "lb": np.array(self.lb),
            "ub": np.array(self.ub),
            "integrality": np.array(self.integer),
            "A": self._matrix(),
            "lo": np.array([lo for _, lo, _ in self.rows]),
            "hi": np.array([hi for _, _, hi in self.rows]),
            "cols": self.cols,
            "y": self.y,
            "r": self.r,
            "x": self.x,
            "u": self.u,
        }

    def teach(self, j: int, grade: int) -> dict[int, float]:
        """The expression 'site j teaches this grade after the plan' (empty: always)."""
        if j not in self.y:
            return {}
        expr = {self.y[j]: 1.0}
        if j in self.r and grade > self.s.young_max_grade:
            expr[self.r[j]] = -1.0
        return expr

    def _assignment(self, pairs: pd.DataFrame, grade: np.ndarray) -> None:
        by_group: dict[int, dict[int, float]] = {i: {u: 1.0} for i, u in self.u.items()}
        for a, (i, j) in enumerate(zip(pairs["group"], pairs["site"], strict=True)):
            by_group[i][self.x[a]] = 1.0
            teach = self.teach(int(j), int(grade[i]))
            if not teach:
                continue
            coef = {self.x[a]: 1.0, **{k: -v for k, v in teach.items()}}
            if self.m.bound[i] == j:  # pupils of a site that keeps their grade stay there
                self.row(coef, 0.0, 0.0)
            else:
                self.row(coef, -np.inf, 0.0)
        for row in by_group.values():
            self.row(row, 1.0, 1.0)
        for j, r in self.r.items():
            self.row({r: 1.0, self.y[j]: -1.0}, -np.inf, 0.0)

    def _one_school(self, pairs: pd.DataFrame, pupils: np.ndarray, grade: np.ndarray) -> None:
        """A village's pupils of one grade band go to one school: each further school costs
        :data:`SPLIT_COST` (paid only when no single school can take them all)."""
        gi = pairs["group"].to_numpy(int)
        origin = self.ctx.groups["origin_id"].to_numpy()[gi]
        codes, keys = pd.factorize(rules.village_band(origin, grade[gi]), sort=True)
        site = pairs["site"].to_numpy(int)
        # by key, then site, then pair: the order the model's rows and columns were made in
        order = np.lexsort((np.arange(len(pairs)), site, codes))
        for chunk in np.split(order, np.flatnonzero(np.diff(codes[order])) + 1):
            if not len(chunk) or len(np.unique(site[chunk])) < 2:
                continue
            key = keys[codes[chunk[0]]]
            most = float(pupils[np.unique(gi[chunk])].sum())
            z = {}
            for here in np.split(chunk, np.flatnonzero(np.diff(site[chunk])) + 1):
                j = site[here[0]]
                z[j] = self.col("z", (key, j), 0.0, 0.0, 1.0, True)
                load = {self.x[a]: float(pupils[gi[a]]) for a in here}
                self.row({**load, z[j]: -most}, -np.inf, 0.0)
            extra = self.col("w", key, SPLIT_COST, 0.0, np.inf, False)
            self.row({**dict.fromkeys(z.values(), 1.0), extra: -1.0}, -np.inf, 1.0)

    def _site_rows(self, pairs: pd.DataFrame, pupils: np.ndarray, grade: np.ndarray) -> None:
        """Places, classes, minimum size, beds and buses of every site that pairs reach."""
        s, f, m = self.s, self.f, self.m
        fixed = _fixed_loads(m)
        class_max = s.oversized_class - 1
        by_site = dict(tuple(pairs.assign(a=np.arange(len(pairs))).groupby("site")))
        for j in sorted(by_site):  # sites no mobile pupil can reach need no variables
            part = by_site.get(j, pairs.iloc[:0].assign(a=[]))
            a = part["a"].to_numpy(int)
            d = pupils[part["group"].to_numpy(int)]
            load = {self.x[k]: v for k, v in zip(a, d, strict=True)}
            known_cls = np.isfinite(f.classes[j])
            classes = f.classes[j] if known_cls else f.capacity[j] / f.norm[j]
            classes = 0.0 if not np.isfinite(classes) and f.reopen[j] else classes
            added: list[int] = []  # classrooms added, permanent and temporary
            if np.isfinite(classes) and f.max_classes[j] > 0:
                self.k[j] = self.col(
                    "k",
                    j,
                    s.classroom_cost_per_year + f.norm[j] * s.place_cost_per_year,
                    0.0,
                    f.max_classes[j],
                    True,
                )
                added.append(self.k[j])
                if self.temporary is not None:
                    self.q[j] = self.col("q", j, self.temporary, 0.0, f.max_classes[j], True)
                    added.append(self.q[j])
            if np.isfinite(f.capacity[j]):
                o = self.col("o", ("places", j), OVERFLOW_PENALTY, 0.0, np.inf, False)
                self.row(
                    {**load, o: -1.0, **dict.fromkeys(added, -f.norm[j])},
                    -np.inf,
                    f.capacity[j] - fixed["pupils"][j],
                )
            if known_cls:
                o = self.col("o", ("classes", j), OVERFLOW_PENALTY, 0.0, np.inf, False)
                self.row(
                    {**load, o: -1.0, **dict.fromkeys(added, -class_max)},
                    -np.inf,
                    class_max * classes - fixed["pupils"][j],
                )
            cap = school_size_cap(str(self.ctx.sites["kind"].iloc[j]), s)
            if np.isfinite(cap):  # 大校额: an over-large school never grows
                o = self.col("o", ("size", j), OVERFLOW_PENALTY, 0.0, np.inf, False)
                most = max(cap, float(self.ctx.pupils_now[j]))
                self.row({**load, o: -1.0}, -np.inf, most - fixed["pupils"][j])
            if f.decide[j] and int(j) not in m.pinned and j in self.y:
                self.row({**load, self.y[j]: -float(s.small_site_pupils)}, 0.0, np.inf)
            board = part["way"].to_numpy() == rules.BOARD
            if board.any() or fixed["boarders"][j] > f.beds[j]:
                b = self.col("b", j, s.bed_cost_per_year, 0.0, np.inf, False)
                coef = {self.x[k_]: v for k_, v in zip(a[board], d[board], strict=True)}
                self.row({**coef, b: -1.0}, -np.inf, f.beds[j] - fixed["boarders"][j])

    def _matrix(self):
        return rows_matrix(self.rows, len(self.cols))


def rows_matrix(rows: list, columns: int) -> sp.csr_matrix:
    """Rows ``(coefficients by column, low, high)`` as a sparse matrix of ``columns``."""
    data, ri, ci = [], [], []
    for r, (coef, _, _) in enumerate(rows):
        for col, v in coef.items():
            ri.append(r)
            ci.append(col)
            data.append(v)
    return sp.csr_matrix((data, (ri, ci)), shape=(len(rows), columns))


def _levels(text: str) -> frozenset[int]:

    return parse_grades(text)


def _fixed_loads(model: PlanModel) -> dict:
    """Pupils, boarders and riders per site of the groups that do not move."""
    ctx = model.ctx
    g = ctx.groups
    n = len(ctx.sites)
    cur = g["current"].to_numpy()
    stay = ~model.mobile & (cur >= 0)
    code, _ = ctx.ways
    way = code[np.flatnonzero(stay), cur[stay]]
    d = g["pupils"].to_numpy(float)[stay]
    sites = cur[stay]
    return {
        "pupils": np.bincount(sites, weights=d, minlength=n),
        "boarders": np.bincount(sites, weights=d * (way == rules.BOARD), minlength=n),
    }


def _plan_from(model: PlanModel, lp: dict, x: np.ndarray, meta: dict):
    """The plan in whole pupils, with the additions its flows need."""

    ctx, s, f = model.ctx, model.ctx.settings, model.facts
    g = ctx.groups
    pupils = g["pupils"].to_numpy()
    plan = current_plan(ctx)
    flows = plan.flows
    flows[model.mobile] = 0.0
    share = np.zeros((len(g), len(ctx.sites)))
    pairs = model.pairs
    share[pairs["group"].to_numpy(), pairs["site"].to_numpy()] = np.clip(x[lp["x"]], 0, 1)
    for i in np.flatnonzero(model.mobile):
        row = share[i]
        if row.sum() > 1e-9:
            placed = round(float(pupils[i] * min(1.0, row.sum())))
            flows[i] = largest_remainder(row * placed / row.sum())
    unassigned = (pupils - flows.sum(axis=1)).astype(float)
    is_open = ctx.open_now.copy()
    teaches = ctx.offers & ctx.open_now[:, None]
    for j, col in lp["y"].items():
        is_open[j] = x[col] > 0.5
        teaches[j] = ctx.offers[j] & is_open[j]
    for j, col in lp["r"].items():
        if x[col] > 0.5:
            teaches[j, grade_column(s.young_max_grade) + 1 :] = False
    near_home = (
        kindergarten_near_home(ctx, flows, unassigned, is_open, teaches)
        if s.kindergarten_classes_near_home
        else {}
    )
    grades = [format_grades(np.asarray(GRADE_LEVELS)[row]) if row.any() else "" for row in teaches]
    plan = Plan("optimised", is_open, flows, unassigned, grades=grades, meta=meta)
    k_classes = np.zeros(len(ctx.sites))
    for j, n in near_home.items():
        k_classes[j] = np.ceil(n / s.class_size_kindergarten)
    _additions(plan, ctx, f, k_classes)
    plan.justification = {
        str(ctx.sites["site_id"].iloc[j]): {"zh": just.zh, "en": just.en}
        for j, just in model.pinned.items()
        if is_open[j]
    }
    for j, n in near_home.items():
        sid = str(ctx.sites["site_id"].iloc[j])
        zh = (
            f"附设幼儿班{k_classes[j]:.0f}个：{n:.0f}名幼儿在步行或家长接送"
            f"{s.escort_minutes:g}分钟内没有幼儿园"
        )
        en = (f"{k_classes[j]:.0f} kindergarten class(es) added: {n:.0f} children have no "
              f"kindergarten within the walk or a guardian's {s.escort_minutes:g} minutes")  # fmt: skip
        before = plan.justification.get(sid)
        plan.justification[sid] = (
            {"zh": f"{before['zh']}；{zh}", "en": f"{before['en']}; {en}"}
            if before
            else {"zh": zh, "en": en}
        )
    for j in np.flatnonzero(is_open & ~ctx.open_now):
        n = int(flows[:, j].sum())
        plan.justification[str(ctx.sites["site_id"].iloc[j])] = {
            "zh": f"恢复办学：{n}名学生否则超出上学时间限值",
            "en": f"reopened: otherwise {n} pupils are beyond the limits",
        }
    return plan


def kindergarten_near_home(ctx, flows, unassigned, is_open, teaches) -> dict[int, float]:
    """Kindergarten places near home (村级幼儿园 / 附设幼儿班): children the plan leaves beyond
    every limit (no kindergarten within the walk or a guardian's escort) go to the nearest open
    site of ``kindergarten_class_kinds`` they can walk to or be brought to, which gets a
    kindergarten class for them (``flows``, ``unassigned`` and ``teaches`` are changed in
    place).

    Returns
    -------
    dict
        Site row -> kindergarten children it takes this way.
    """
    s = ctx.settings
    code, minutes = ctx.ways
    g = ctx.groups
    kinds = ctx.sites["kind"].astype(str).to_numpy()
    host = is_open & np.isin(kinds, s.kindergarten_class_kinds)
    added: dict[int, float] = {}
    for i in np.flatnonzero(g["grade"].to_numpy() <= 0):
        beyond = (code[i] == rules.BEYOND) & (flows[i] > 0)
        n = float(unassigned[i] + flows[i, beyond].sum())
        near = host & np.isin(code[i], (rules.WALK, rules.GUARDIAN))
        if n <= 0 or not near.any():
            continue
        j = int(np.argmin(np.where(near, minutes[i], np.inf)))
        flows[i, beyond] = 0.0
        flows[i, j] += n
        unassigned[i] = 0.0
        teaches[j, grade_column(int(g["grade"].iloc[i]))] = True
        added[j] = added.get(j, 0.0) + n
    return added


def _additions(plan, ctx, f: SiteFacts, kindergarten_classes=None) -> None:
    """Classes (with their places) and beds each open site needs for the plan's pupils;
    ``kindergarten_classes`` added near home come on top."""

    s = ctx.settings
    rows = flow_rows(ctx, plan)
    n = len(ctx.sites)
    after = np.bincount(rows["site"], weights=rows["pupils"], minlength=n)
    boarders = np.bincount(
        rows["site"], weights=rows["pupils"] * (rows["way"] == rules.BOARD), minlength=n
    )
    classes = np.where(np.isfinite(f.classes), f.classes, f.capacity / f.norm)
    need_cls = np.ceil(after / (s.oversized_class - 1) - 1e-9) - np.nan_to_num(classes, nan=np.inf)
    need_cap = np.ceil((after - np.nan_to_num(f.capacity, nan=np.inf)) / f.norm - 1e-9)
    added = np.clip(np.fmax(need_cls, need_cap), 0, f.max_classes)
    added = np.where(plan.open, np.nan_to_num(added), 0)
    k = np.zeros(n) if kindergarten_classes is None else np.asarray(kindergarten_classes, float)
    plan.classes_added = added + k
    plan.places_added = np.where(np.isfinite(f.capacity), added * f.norm, 0)
    plan.places_added = plan.places_added + k * s.class_size_kindergarten
    plan.kindergarten_classes_added = k
    plan.beds_added = np.where(plan.open & f.boarding, np.ceil(np.maximum(0, boarders - f.beds)), 0)


def optimised_plan(
    ctx,
    riders_per_bus: float | None = None,
    node_limit: int | None = None,
    larger: bool | None = None,
):
    """The optimised plan of a county (see the module docstring; ``riders_per_bus``: the
    average load of the county's buses, default the seats of a bus)."""
    model = PlanModel.from_context(ctx, riders_per_bus=riders_per_bus, larger=larger)
    return model.solve(node_limit)
