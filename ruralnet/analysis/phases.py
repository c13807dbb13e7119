"""The plan in phases: each year's plan starts from the one before.

A phase is one year's plan, made with the same model as the one-year plan on that year's
projected pupils. What an earlier phase decided stays decided: a site it closed is closed
(its pupils, also those who enter later, go where that phase sent them), grades it dropped
stay dropped, places, classrooms and beds it built are there. Each phase's pupils are the
projection "as if nothing changed" (:mod:`ruralnet.analysis.projection`), moved through every
earlier phase's decisions (:func:`transfer_shares`, :func:`apply_shares`).

The phases are then read together (:func:`phase_table`): what happens to each site in each
year, and classrooms built in one year that stand empty a few years later
(:func:`empty_classrooms`), which the report says.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from ..model.errors import InputError
from ..model.grades import GRADE_LEVELS, grade_column
from .demand import GRADE_COLUMNS
from .projection import whole_pupils

PHASE_COLUMNS = [
    "year",
    "site_id",
    "action",
    "pupils",
    "places_added",
    "classes_added",
    "beds_added",
    "teachers",
]


def phase_years(years) -> tuple[int, ...]:
    """The phases' years as given, checked: whole years, each once, in increasing order.

    A repeated or unordered list is refused rather than silently reordered: each phase starts
    from the one before, so the order is the plan.

    Raises
    ------
    InputError
        Naming every problem: years that are not whole, repeated years, the order.
    """
    problems, out = [], []
    for y in years or ():
        try:
            f = float(y)
        except (TypeError, ValueError):
            f = float("nan")
        if not np.isfinite(f) or f != int(f):
            problems.append(f"{y!r} is not a whole year")
        else:
            out.append(int(f))
    repeated = sorted({y for y in out if out.count(y) > 1})
    if repeated:
        problems.append(f"repeated: {repeated}")
    if out != sorted(out) and not repeated:
        problems.append(f"not in increasing order: {out} (give {sorted(out)})")
    if problems:
        raise InputError("phase years: " + "; ".join(problems))
    return tuple(out)


def transfer_shares(ctx, ev) -> np.ndarray:
    """Where a plan sends the pupils of each site and grade: ``sites x grades x sites``
    shares (each site and grade's row sums to 1).

    A site and grade without pupils in the plan's year borrows the site's shares over all its
    grades; a site with none at all keeps them when it stays open, else sends them to the
    nearest open site (by bus, else on foot).
    """
    n = len(ctx.sites)
    g = ctx.groups
    cur = g["current"].to_numpy()
    cols = np.array([grade_column(x) for x in g["grade"]], dtype=np.int64)
    has = cur >= 0
    # (site, grade) of today x groups, times the flows (dense or sparse): sites x grades x sites
    today = sp.csr_matrix(
        (np.ones(int(has.sum())), (cur[has] * len(GRADE_LEVELS) + cols[has], np.flatnonzero(has))),
        shape=(n * len(GRADE_LEVELS), len(g)),
    )
    out = np.asarray((today @ sp.csr_matrix(ev.plan.flows)).todense()).reshape(
        n, len(GRADE_LEVELS), n
    )
    totals = out.sum(axis=2, keepdims=True)
    site_total = out.sum(axis=1)  # sites x sites
    is_open = ev.sites["open"].to_numpy()
    times = np.where(np.isfinite(ctx.times.site_bus), ctx.times.site_bus, ctx.times.site_walk)
    for c in range(n):
        fallback = np.zeros(n)
        if site_total[c].sum() > 0:
            fallback = site_total[c] / site_total[c].sum()
        elif is_open[c]:
            fallback[c] = 1.0
        else:
            t = np.where(is_open, times[c], np.inf)
            fallback[int(np.argmin(t))] = 1.0
        for k in range(len(GRADE_LEVELS)):
            if totals[c, k, 0] > 0:
                out[c, k] /= totals[c, k, 0]
            else:
                out[c, k] = fallback
    return out


def apply_shares(pupils: np.ndarray, shares: np.ndarray) -> np.ndarray:
    """Sites x grades pupils moved as a phase moved them."""
    return np.einsum("cg,cgj->jg", pupils, shares)


def year_sites(sites: pd.DataFrame, pupils: np.ndarray, before=None) -> pd.DataFrame:
    """The sites layer of a phase's year.

    Its pupils (per grade when the roster gives grades, so that every year is checked on the
    same basis as the one-year plan), and what the earlier phases decided (``before``: the last
    phase's evaluation): sites closed by a phase stay closed for good (``closed_by_plan``: no
    later phase reopens them), grades, places, classes and beds as after it.
    """
    out = sites.copy().reset_index(drop=True)
    whole = whole_pupils(pupils)
    if before is not None:
        s = before.sites.reset_index(drop=True)
        is_open = s["open"].to_numpy()
        whole[~is_open] = 0
        was_open = (out["status"].fillna("open") == "open").to_numpy()
        out["closed_by_plan"] = was_open & ~is_open
        out["status"] = np.where(
            is_open, "open", np.where(out["status"] == "merged", "merged", "closed")
        )
        out["grades"] = np.where(is_open, s["grades_after"].fillna(out["grades"]), out["grades"])
        for col, add in (
            ("capacity", "places_added"),
            ("classes", "classes_added"),
            ("boarding_beds", "beds_added"),
        ):
            out[col] = (s[col] + s[add].fillna(0)).to_numpy()
    if any(c in sites.columns for c in GRADE_COLUMNS.values()):
        for g in GRADE_LEVELS:
            out[GRADE_COLUMNS[g]] = whole[:, grade_column(g)]
    out["pupils"] = whole.sum(axis=1)
    return out


def phase_table(
    year: int, ctx, ev, open_before: np.ndarray | None = None, lang: str = "zh"
) -> pd.DataFrame:
    """One year's phase, one row per site: :data:`PHASE_COLUMNS` plus ``name, township_code,
    small`` (a site of the merger kinds under ``small_site_pupils`` in that year, open before
    the plan (``open_before``, default: open now): that year's wave of candidates), ``reason``
    (the site's justification in ``lang``: why it closes, stays although small, what is added
    for whom) and ``site_reason`` (the same without the additions)."""
    s = ev.sites
    is_open = ctx.open_now if open_before is None else np.asarray(open_before, dtype=bool)
    ids = s["site_id"].astype(str)
    return pd.DataFrame(
        {
            "year": year,
            "site_id": ids,
            "action": ev.sites["action"].to_numpy(),
            "pupils": s["pupils_after"].round().astype(int),
            "places_added": s["places_added"].fillna(0).astype(int),
            "classes_added": s["classes_added"].fillna(0).astype(int),
            "beds_added": s["beds_added"].fillna(0).astype(int),
            "teachers": ids.map(ev.teachers).fillna(0).astype(int).to_numpy(),
            "name": s["name"],
            "township_code": s["township_code"].astype(str),
            "small": is_open
            & s["kind"].isin(ctx.settings.merger_kinds).to_numpy()
            & (ctx.pupils_now < ctx.settings.small_site_pupils),
            "reason": s[f"justification_{lang}"].fillna("").astype(str).to_numpy(),
            "site_reason": s[f"site_reason_{lang}"].fillna("").astype(str).to_numpy(),
        }
    )


def empty_classrooms(phases: pd.DataFrame, later: pd.DataFrame, years_ahead: int = 3) -> pd.Series:
    """Classrooms built in a phase that stand empty ``years_ahead`` years later (or in the
    last year projected): per phase row, the classrooms more than the pupils of then need.

    Parameters
    ----------
    phases
        :func:`phase_table` rows of every year, with ``class_norm`` and ``classes_after``.
    later
        ``site_id, year, pupils``: the pupils of every site and year after the plan.
    """
    last = int(later["year"].max())
    out = pd.Series(0, index=phases.index, dtype=int)
    pupils = later.set_index(["site_id", "year"])["pupils"]
    for i, row in phases[phases["classes_added"] > 0].iterrows():
        year = min(int(row["year"]) + years_ahead, last)
        then = pupils.get((row["site_id"], year), row["pupils"])
        needed = int(np.ceil(then / row["class_norm"])) if row["class_norm"] > 0 else 0
        out[i] = int(max(0, min(row["classes_added"], row["classes_after"] - needed)))
    return out


def later_pupils(projection, shares: list[np.ndarray], sites: pd.DataFrame) -> pd.DataFrame:
    """Pupils per site in every projected year, moved through every phase's decisions:
    ``site_id, year, pupils``.

    Parameters
    ----------
    projection
        The enrolment projection (:class:`ruralnet.analysis.projection.Projection`).
    shares
        Each phase's :func:`transfer_shares`, in order.
    sites
        The sites, in the projection's order.
    """
    rows = []
    ids = sites["site_id"].astype(str).to_numpy()
    for t, year in enumerate(projection.years):
        pupils = projection.pupils["central"][t]
        for share in shares:
            pupils = apply_shares(pupils, share)
        rows.append(pd.DataFrame({"site_id": ids, "year": year, "pupils": pupils.sum(axis=1)}))
    return pd.concat(rows, ignore_index=True)
