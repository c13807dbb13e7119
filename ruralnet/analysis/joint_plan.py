"""The plan over several years as one decision (issue #28): one HiGHS model of every phase.

Each phase year has the one-year model of :mod:`ruralnet.analysis.siting` on that year's
projected pupils (its policy, its rules, its costs); the years are tied together:

* a site the plan closes stays closed in every later year, a site it reopens stays open, a
  site that drops its older grades does not take them back;
* classrooms are **permanent**: those added by a year are there in every later year, and a
  classroom is paid for at least ``classroom_min_years`` years (or the years left to the
  horizon, if more) from the year it is built (its annualised ``classroom_cost_per_year``
  with ``place_cost_per_year`` for its places), while a **temporary** classroom (rented or
  modular, ``temporary_classroom_cost_per_year``) is paid only in the years it stands. So the
  model builds only where the pupils need a classroom long enough to pay for it against the
  temporary one; each site's needs are split into built and temporary classrooms exactly
  (:func:`classroom_split`), and :func:`year_classrooms` shows that comparison per site;
* each phase counts for the years until the next one (the last for the years to
  ``projection_horizon``), later years discounted at ``discount_rate``.

The references do the same in one model: Antunes & Peeters (Socio-Economic Planning Sciences
34, 2000; EJOR 130, 2001) and Haase & Müller (Omega 41, 2013). The phases' plans come out as
one-year :class:`~ruralnet.analysis.plans.Plan` objects, evaluated as any plan.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..model.memory import trim_heap
from .plans import Plan
from .projection import whole_pupils
from .siting import PlanModel, _Builder, _plan_from, rows_matrix, site_facts, solve_lp

log = logging.getLogger(__name__)


@dataclass
class JointPlan:
    """The phases' plans of one model.

    Attributes
    ----------
    years
        The phase years, in order.
    plans
        Year -> its :class:`~ruralnet.analysis.plans.Plan` (``name`` ``optimised``).
    classrooms
        Per site and year where its pupils need added classrooms: :data:`CLASSROOM_COLUMNS`
        (:func:`year_classrooms`).
    weights
        Year -> the (discounted) years its phase counts for.
    meta
        Solver status, objective, size and seconds.
    """

    years: list[int]
    plans: dict[int, Plan]
    classrooms: pd.DataFrame
    weights: dict[int, float]
    meta: dict = field(default_factory=dict)


def phase_weights(years: list[int], horizon: int, rate: float) -> dict[int, float]:
    """The years each phase counts for, discounted at ``rate`` from the first: a phase lasts
    until the next one, the last until ``horizon`` (at least its own year)."""
    ends = [*years[1:], max(horizon, years[-1]) + 1]
    return {
        y: float(sum((1 + rate) ** -(t - years[0]) for t in range(y, end)))
        for y, end in zip(years, ends, strict=True)
    }


def joint_plan(
    contexts: dict,
    riders_per_bus: float | None = None,
    node_limit: int | None = None,
) -> JointPlan:
    """The plan of every phase year from one model (see the module docstring).

    Parameters
    ----------
    contexts
        Year -> the plan context of that year's projected pupils (the sites as they are now:
        the model decides every year's closures itself).
    riders_per_bus
        The average load of the county's buses (default: a bus's seats).
    node_limit
        HiGHS branch-and-bound nodes (default: the setting ``plan_solver_nodes``).

    Raises
    ------
    SolverError
        When HiGHS finds no plan within its limits.
    """
    started = time.perf_counter()
    years = sorted(contexts)
    s = contexts[years[0]].settings
    weights = phase_weights(years, s.projection_horizon, s.discount_rate)
    models = {y: PlanModel.from_context(contexts[y], riders_per_bus=riders_per_bus) for y in years}
    builders = {
        y: _Builder(models[y], temporary=s.temporary_classroom_cost_per_year) for y in years
    }
    lps = {y: builders[y].build() for y in years}
    offsets = dict(zip(years, np.cumsum([0] + [len(lps[y]["c"]) for y in years[:-1]]), strict=True))
    lp = _stacked(years, lps, builders, offsets, weights, s)
    for y in years:  # copied into the stacked matrix: given back before the solve
        del lps[y]["A"]
    del builders
    trim_heap()
    x, meta = solve_lp(lp, node_limit or s.plan_solver_nodes, started, "the plan over the years")
    meta["years"] = years
    plans = {}
    for y in years:
        part = x[offsets[y] : offsets[y] + len(lps[y]["c"])]
        plans[y] = _plan_from(models[y], lps[y], part, dict(meta, year=y))
    return JointPlan(years, plans, year_classrooms(plans, contexts, weights), weights, meta)


def _stacked(years, lps, builders, offsets, weights, settings) -> dict:
    """The years' models side by side, each year's costs weighted by its years, permanent
    classrooms paid by the year they are built, and the rows that tie the years
    (:class:`_Links`)."""
    c = np.concatenate([lps[y]["c"] * weights[y] for y in years])
    for y in years:
        for col in builders[y].k.values():
            c[offsets[y] + col] = 0.0
    extra_c, extra_lb, extra_ub, extra_int, rows = _Links(
        years, builders, offsets, weights, settings
    ).build()
    blocks = sp.block_diag([lps[y]["A"] for y in years], format="csr")
    blocks = sp.hstack([blocks, sp.csr_matrix((blocks.shape[0], len(extra_c)))], format="csr")
    return {
        "c": np.concatenate([c, extra_c]),
        "integrality": np.concatenate([*(lps[y]["integrality"] for y in years), extra_int]),
        "lb": np.concatenate([*(lps[y]["lb"] for y in years), extra_lb]),
        "ub": np.concatenate([*(lps[y]["ub"] for y in years), extra_ub]),
        "A": sp.vstack([blocks, rows_matrix(rows, blocks.shape[1])], format="csr"),
        "lo": np.concatenate([*(lps[y]["lo"] for y in years), [r[1] for r in rows]]),
        "hi": np.concatenate([*(lps[y]["hi"] for y in years), [r[2] for r in rows]]),
    }


class _Links:
    """The rows and columns that tie the years' models together."""

    def __init__(self, years, builders, offsets, weights, settings):
        self.years, self.b, self.off, self.w, self.s = years, builders, offsets, weights, settings
        self.n = sum(len(b.c) for b in builders.values())
        self.c: list[float] = []
        self.lb: list[float] = []
        self.ub: list[float] = []
        self.integer: list[int] = []
        self.rows: list[tuple[dict[int, float], float, float]] = []
        self.built: dict[tuple[int, int], int] = {}  # (site, year) -> column

    def col(self, cost: float, ub: float) -> int:
        self.c.append(cost)
        self.lb.append(0.0)
        self.ub.append(ub)
        self.integer.append(1)
        return self.n + len(self.c) - 1

    def at(self, year: int, local: int) -> int:
        return int(self.off[year] + local)

    def build(self):
        for name, closes in (("y", True), ("r", False)):
            self._monotone(name, closes)
        self._classrooms()
        return (np.array(self.c), np.array(self.lb), np.array(self.ub),
                np.array(self.integer), self.rows)  # fmt: skip

    def _monotone(self, name: str, decreasing: bool) -> None:
        """A site closed stays closed and a site reopened stays open (``y``); grades dropped
        stay dropped (``r``: once 1, 1 after)."""
        for earlier, later in zip(self.years, self.years[1:], strict=False):
            a, b = getattr(self.b[earlier], name), getattr(self.b[later], name)
            for j in sorted(set(a) & set(b)):
                before, after = self.at(earlier, a[j]), self.at(later, b[j])
                if name == "r" or not self.b[earlier].f.decide[j]:
                    self.rows.append(({after: 1.0, before: -1.0}, 0.0, np.inf))  # stays
                elif decreasing:
                    self.rows.append(({after: 1.0, before: -1.0}, -np.inf, 0.0))

    def _classrooms(self) -> None:
        """Permanent classrooms never go away, and each built is paid for at least
        ``classroom_min_years`` years (or the years left, if more), discounted to its year."""
        s = self.s
        last = max(s.projection_horizon, self.years[-1])
        previous: dict[int, int] = {}
        for y in self.years:
            b = self.b[y]
            for j, local in sorted(b.k.items()):
                k = self.at(y, local)
                yearly = s.classroom_cost_per_year + b.f.norm[j] * s.place_cost_per_year
                paid = paid_years(y, self.years[0], last, s)
                built = self.col(yearly * paid, b.f.max_classes[j])
                self.built[j, y] = built
                row = {k: 1.0, built: -1.0}
                if j in previous:
                    row[previous[j]] = -1.0
                    self.rows.append(({k: 1.0, previous[j]: -1.0}, 0.0, np.inf))
                self.rows.append((row, -np.inf, 0.0))
                previous[j] = k


def paid_years(year: int, first: int, last: int, settings) -> float:
    """The discounted years a permanent classroom built in ``year`` is paid for: to the
    horizon ``last``, at least ``classroom_min_years``, discounted from the ``first`` phase."""
    span = max(last - year + 1, settings.classroom_min_years)
    return float(
        sum((1 + settings.discount_rate) ** -(t - first) for t in range(year, year + span))
    )


#: Per site and year: the added classrooms its pupils need (beyond its own), how they are
#: given (permanent ones built that year and standing by then, temporary ones that year), the
#: permanent ones standing empty ``years_ahead`` later, and for the years a site builds or
#: rents: the (discounted) years it needs added classrooms, and building against renting;
#: ``reason_zh/en`` says why each classroom built that year is built and each rented rented.
CLASSROOM_COLUMNS = ["site_id", "year", "needed", "built", "permanent", "temporary",
                     "empty_later", "years_needed", "cost_built", "cost_temporary",
                     "reason_zh", "reason_en"]  # fmt: skip


def year_classrooms(plans: dict, contexts: dict, weights: dict, years_ahead: int = 3):
    """:data:`CLASSROOM_COLUMNS` for the sites that need added classrooms in some year:
    each site's needs split into permanent and temporary classrooms by
    :func:`classroom_split`, at the model's prices (a permanent classroom paid for at least
    ``classroom_min_years`` years, discounted to its year)."""
    years = sorted(plans)
    s = contexts[years[0]].settings
    last = max(s.projection_horizon, years[-1])
    need = np.vstack([np.nan_to_num(np.asarray(plans[y].classes_added, float)) for y in years]).T
    norm = site_facts(contexts[years[0]]).norm
    # after the horizon the last phase's need is taken to last another classroom_min_years
    # (a virtual phase: without it, a classroom needed from the last phase on is never built)
    tail = sum((1 + s.discount_rate) ** -(t - years[0])
               for t in range(last + 1, last + s.classroom_min_years))  # fmt: skip
    w = np.array([*(weights[y] for y in years), tail])
    need = np.hstack([need, need[:, -1:]])
    paid = np.array([paid_years(y, years[0], last, s) for y in [*years, last + 1]])
    rows = []
    for j in np.flatnonzero(need.max(axis=1) > 0):
        yearly = s.classroom_cost_per_year + norm[j] * s.place_cost_per_year
        site = _SiteRooms(need[j], w, yearly * paid, s, [*years, last + 1])
        sid = str(contexts[years[0]].sites["site_id"].iloc[j])
        for t, y in enumerate(years):
            later = next((u for u in range(t, len(years)) if years[u] >= y + years_ahead), -1)
            rows.append((sid, y, *site.row(t, later)))
    return pd.DataFrame(rows, columns=CLASSROOM_COLUMNS)


class _SiteRooms:
    """One site's added classrooms over the phases (the last a virtual one after the
    horizon): split into built and rented (:func:`classroom_split`), each phase's row of
    :data:`CLASSROOM_COLUMNS` with the comparison that decided it."""

    def __init__(self, need: np.ndarray, weights: np.ndarray, build: np.ndarray, settings, years):
        self.need, self.w, self.build, self.s, self.years = need, weights, build, settings, years
        self.rent = settings.temporary_classroom_cost_per_year
        self.built, self.temporary = classroom_split(need, weights, build, self.rent)
        self.stock = np.cumsum(self.built)
        self.needed = float(weights[need > 0].sum())

    def used(self, t: int, level: int) -> float:
        """The discounted years from phase ``t`` on in which the site needs ``level`` added
        classrooms or more."""
        return float(self.w[t:][self.need[t:] >= level].sum())

    def idle(self, t: int) -> tuple[int, int] | None:
        """The first later phase within ``classroom_min_years`` of phase ``t`` in which some of
        the classrooms built at ``t`` stand empty, and how many: ``(year, classrooms)``."""
        y0, built = self.years[t], int(self.built[t])
        for u in range(t + 1, len(self.years) - 1):  # the real phases (not the virtual one)
            if self.years[u] >= y0 + self.s.classroom_min_years:
                break
            empty = min(built, max(0, int(self.stock[u] - self.need[u])))
            if empty:
                return self.years[u], empty
        return None

    def row(self, t: int, later: int) -> tuple:
        """Phase ``t``'s row of :data:`CLASSROOM_COLUMNS` (after ``site_id, year``); ``later``
        the phase three years on whose pupils count the classrooms empty then."""
        built, rented, stock = int(self.built[t]), int(self.temporary[t]), int(self.stock[t])
        empty = min(built, max(0, stock - int(self.need[later]))) if built else 0
        n = max(built, rented)
        zh, en = [], []
        if built:  # the least used of those built: still cheaper built than rented
            yrs = self.used(t, stock)
            cheaper = self.build[t] < self.rent * yrs
            zh.append(
                f"新建教室{built}间：每间至少需用约{yrs:.1f}年，新建每间{self.build[t]:,.0f}元"
                f"（至少按{self.s.classroom_min_years}年计费），租用同样年数{self.rent * yrs:,.0f}元"
            )
            en.append(
                f"{built} classroom(s) built: each needed at least about {yrs:.1f} years; "
                f"building one costs {self.build[t]:,.0f} yuan (paid for at least "
                f"{self.s.classroom_min_years} years), renting it as long {self.rent * yrs:,.0f}"
            )
            idle = self.idle(t)
            if idle:
                y, k = idle
                zh.append(
                    f"其中{k}间{y}年闲置（建成后不到{self.s.classroom_min_years}年）"
                    + ("，仍比租用省" if cheaper else "")
                )
                en.append(f"{k} of them empty in {y} (fewer than {self.s.classroom_min_years} "
                          "years after building)" + (", still cheaper than renting" if cheaper else ""))  # fmt: skip
        if rented:  # the most used of those rented
            yrs = self.used(t, stock + 1)
            zh.append(
                f"租用临时教室{rented}间：每间至多需用约{yrs:.1f}年，租用{self.rent * yrs:,.0f}元，"
                f"新建每间{self.build[t]:,.0f}元"
            )
            en.append(
                f"{rented} temporary classroom(s): each needed at most about {yrs:.1f} years; "
                f"renting costs {self.rent * yrs:,.0f} yuan, building one {self.build[t]:,.0f}"
            )
            if self.rent * yrs > self.build[t] and self.built[t + 1 :].sum():
                y = self.years[int(np.flatnonzero(self.built[t + 1 :])[0]) + t + 1]
                zh.append(f"{y}年起新建")
                en.append(f"built from {y} on")
        return (int(self.need[t]), built, stock, rented, empty, round(self.needed, 1),
                round(n * self.build[t]), round(n * self.rent * self.needed),
                "；".join(zh), "; ".join(en))  # fmt: skip


def classroom_split(
    need: np.ndarray, weights: np.ndarray, build_cost: np.ndarray, temporary_cost: float
) -> tuple[np.ndarray, np.ndarray]:
    """The cheapest way to give a site the added classrooms it needs each phase: permanent
    ones (never removed; ``build_cost[t]`` each, built in phase ``t``) and temporary ones
    (``temporary_cost`` a year, for the phase's ``weights[t]`` years), by dynamic programming
    over the permanent stock (on a tie, fewer permanent).

    Returns
    -------
    built, temporary
        Per phase: permanent classrooms built then, temporary classrooms standing then.
    """
    need = np.maximum(np.round(np.asarray(need, float)), 0).astype(int)
    top = int(need.max()) if len(need) else 0
    levels = np.arange(top + 1)
    cost = np.full(top + 1, np.inf)  # cheapest so far ending with each permanent stock
    cost[0] = 0.0  # none built before the first phase
    choice = []
    for t, n in enumerate(need):
        step = np.full((top + 1, top + 1), np.inf)  # previous stock x stock now
        for p in levels:
            grow = levels >= p
            step[p, grow] = cost[p] + build_cost[t] * (levels[grow] - p)
        step += temporary_cost * weights[t] * np.maximum(n - levels, 0)[None, :]
        best_prev = np.argmin(step, axis=0)  # the first (fewest permanent) on a tie
        cost = step[best_prev, levels]
        choice.append(best_prev)
    stock = np.zeros(len(need), dtype=int)
    if len(need):
        stock[-1] = int(np.argmin(cost))
        for t in range(len(need) - 1, 0, -1):
            stock[t - 1] = int(choice[t][stock[t]])
    built = np.diff(np.concatenate([[0], stock]))
    return built, np.maximum(need - stock, 0)


def joint_table(table: pd.DataFrame, joint: JointPlan, lang: str = "zh") -> pd.DataFrame:
    """The phases' table (:func:`ruralnet.analysis.phases.phase_table` of every year, each
    against the sites as they are now) read as one plan: a site closed by an earlier year
    ``stay_closed``, grades dropped earlier ``keep``; ``classes_added`` the permanent
    classrooms built that year (``places_added`` their places) and ``temporary_classrooms``
    those rented that year; beds as added over the earlier years; with
    ``classrooms_empty_later`` from :func:`year_classrooms`; ``reason`` in ``lang``: the
    site's reason that year (``site_reason``), the year an earlier closure was made, why its
    classrooms of that year are built or rented (:func:`year_classrooms`) and its beds."""
    out = table.copy().reset_index(drop=True)
    out["_order"] = np.arange(len(out))
    key = ["site_id", "year"]
    rooms = joint.classrooms.set_index(key)
    idx = pd.MultiIndex.from_frame(out[key])
    per_class = (out["places_added"] / out["classes_added"].where(out["classes_added"] > 0)).fillna(
        0
    )
    built = rooms["built"].reindex(idx).fillna(0).astype(int).to_numpy()
    out["temporary_classrooms"] = rooms["temporary"].reindex(idx).fillna(0).astype(int).to_numpy()
    out["classrooms_empty_later"] = (
        rooms["empty_later"].reindex(idx).fillna(0).astype(int).to_numpy()
    )
    norm = per_class.groupby(out["site_id"]).transform("max").to_numpy()
    out["places_added"] = np.round(built * norm).astype(int)
    out["classes_added"] = built
    out["rooms_reason"] = rooms[f"reason_{lang}"].reindex(idx).fillna("").to_numpy()
    out = out.sort_values(["site_id", "year"], kind="stable")
    first = out["site_id"].ne(out["site_id"].shift())
    before = out["action"].shift().where(~first)
    beds = out.groupby("site_id")["beds_added"].cummax()
    out["beds_added"] = (beds - beds.groupby(out["site_id"]).shift().fillna(0)).astype(int)
    out.loc[out["action"].eq("close") & before.isin(["close", "stay_closed"]), "action"] = (
        "stay_closed"
    )
    for again in ("reduce_grades", "reopen"):  # decided by an earlier year: kept since
        out.loc[out["action"].eq(again) & before.eq(again), "action"] = "keep"
    rented = out["temporary_classrooms"] > 0
    out.loc[out["action"].eq("expand") & ~rented & (out["classes_added"] == 0), "action"] = "keep"
    out["reason"] = _reasons(out, lang)
    out = out.sort_values("_order").drop(columns=["_order", "rooms_reason", "site_reason"])
    return out.reset_index(drop=True)


def _reasons(out: pd.DataFrame, lang: str) -> list[str]:
    """Each row's reason in the plan over the years (rows sorted by site and year)."""
    closing = out["year"].where(out["action"].eq("close")).groupby(out["site_id"]).ffill()
    zh = lang == "zh"
    reasons = []
    for r, since in zip(out.itertuples(), closing, strict=True):
        parts = [r.site_reason, r.rooms_reason]
        if r.action == "stay_closed" and pd.notna(since):
            parts.insert(0, f"{since:.0f}年已撤并" if zh else f"closed in {since:.0f}")
        if r.beds_added > 0:
            parts.append(f"新增床位{r.beds_added}张" if zh else f"{r.beds_added} beds added")
        reasons.append(("；" if zh else "; ").join(p for p in parts if p))
    return reasons


def first_year_difference(one_year: Plan, joint_first: Plan, ctx) -> dict:
    """How the first year of the plan over the years differs from the one-year plan of that
    year: the sites open in one and not the other, and the classrooms each adds (the joint
    plan sees the later years' pupils: it may keep a site the one-year plan closes, or rent
    where that one builds). ``{"same": bool, "opened": [...], "closed": [...],
    "classes_one_year": n, "classes_joint": n}`` (site ids)."""
    ids = ctx.sites["site_id"].astype(str).to_numpy()
    opened = ids[joint_first.open & ~one_year.open].tolist()
    closed = ids[~joint_first.open & one_year.open].tolist()
    a = int(np.nansum(one_year.classes_added))
    b = int(np.nansum(joint_first.classes_added))
    return {"same": not opened and not closed and a == b, "opened": opened, "closed": closed,
            "classes_one_year": a, "classes_joint": b}  # fmt: skip


#: ``variants.csv``: the plan over the years under each births variant, side by side.
VARIANT_COLUMNS = ["variant", "year", "pupils", "sites_open", "closed", "reopened",
                   "classrooms_needed"]  # fmt: skip


def variant_rows(variant: str, plans: dict, open_now: np.ndarray, projection) -> list[dict]:
    """One births variant's plan over the years, one row a year (:data:`VARIANT_COLUMNS`):
    its pupils, the sites it keeps open and closes (against ``open_now``, the plan context's)
    and the classrooms its pupils need added, for the variants side by side."""
    return [
        {"variant": variant, "year": y,
         "pupils": int(whole_pupils(projection.pupils[variant][projection.years.index(y)]).sum()),
         "sites_open": int(plans[y].open.sum()), "closed": int((open_now & ~plans[y].open).sum()),
         "reopened": int((~open_now & plans[y].open).sum()),
         "classrooms_needed": int(np.nansum(np.asarray(plans[y].classes_added, float)))}
        for y in sorted(plans)
    ]  # fmt: skip
