"""Demand: who needs a school place, where they live, and which site serves them now.

One demand basis per run (setting ``demand_basis``), used by every analysis and output:

* ``enrolled`` (default): each site's recorded pupils, grade by grade, placed in the villages
  the site serves now (its catchment for that grade, :func:`catchment_sites`) in proportion to
  their children; a site that no village maps to keeps its pupils at its own location
  (``origin_type = "site"``). Every pupil has a current site.
* ``census``: the villages' children by grade (from the census age bands), at the site that
  serves the village now, or unassigned when no site teaching the grade can be reached.

The demand is a table of groups: one row per origin (village or site) and grade level, with
its pupils, whether they live in an urban committee (``urban``, :func:`village_urban`) and
the row of the site they attend now (``current``, -1 if none).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..model.grades import (
    GRADE_COLUMNS,
    GRADE_LEVELS,
    STAGE_OF_GRADE,
    grade_column,
    offer_matrix,
    split_by_grade,
)
from ..model.schema import as_bool
from ..model.settings import Settings
from ..sources.population import grade_children
from . import rules

GROUP_COLUMNS = [
    "origin_type",
    "origin_index",
    "origin_id",
    "township_code",
    "grade",
    "stage",
    "pupils",
    "current",
    "urban",
]


def village_urban(villages: pd.DataFrame) -> np.ndarray:
    """Whether each village is urban (a residents' committee, 居委会/社区, of the county seat or a
    town): the layer's ``urban`` column where given; else the NBS code of its committee
    (``committee_code``, or the first 12 digits of ``village_id``), whose last three digits
    are 001-199 for residents' committees and 200-399 for village committees; else a name
    ending in 社区 or 居委会."""
    n = len(villages)
    if "urban" in villages.columns:
        given = villages["urban"].map(lambda v: as_bool(v, blank=pd.NA)).astype(object)
        given = given.where(given.notna(), None)
    else:
        given = pd.Series([None] * n, index=villages.index, dtype=object)
    code_col = "committee_code" if "committee_code" in villages.columns else "village_id"
    codes = villages[code_col].astype(str).str.slice(0, 12) if code_col in villages else None
    by_code = (
        codes.map(lambda c: int(c[9:12]) < 200 if len(c) == 12 and c.isdigit() else None)
        if codes is not None
        else pd.Series([None] * n, index=villages.index, dtype=object)
    )
    names = villages["committee_name"] if "committee_name" in villages else villages.get("name")
    by_name = (
        names.astype(str).str.endswith(("社区", "居委会"))
        if names is not None
        else pd.Series(False, index=villages.index)
    )
    out = given.where(given.notna(), by_code).where(lambda x: x.notna(), by_name)
    return out.astype(bool).to_numpy()


def site_urban(sites: pd.DataFrame, near: np.ndarray, walk: np.ndarray) -> np.ndarray:
    """Whether the pupils placed at a site itself (no village maps to it) are urban: the sites
    layer's ``urban`` column where given, else the urban flag (``near``, per village) of the
    village nearest on foot."""
    if len(near) and walk.size:
        w = np.where(np.isfinite(walk), walk, np.inf)
        nearest = np.argmin(w, axis=0)
        out = near[nearest] & np.isfinite(w.min(axis=0))
    else:
        out = np.zeros(len(sites), dtype=bool)
    if "urban" in sites.columns:
        given = sites["urban"].map(lambda v: as_bool(v, blank=pd.NA))
        out = np.where(given.notna(), given.fillna(False).astype(bool), out)
    return np.asarray(out, dtype=bool)


def village_grade_children(villages: pd.DataFrame) -> np.ndarray:
    """Children of each village per grade level (villages x :data:`GRADE_LEVELS`): the
    per-grade columns where the layer has them (the spread demand points do), else the stage
    counts spread evenly over the stage's grades
    (:func:`ruralnet.sources.population.grade_children`)."""
    return grade_children(villages)


def site_grade_pupils(sites: pd.DataFrame) -> np.ndarray:
    """Pupils of each site per grade level (sites x :data:`GRADE_LEVELS`).

    Per-grade columns (:data:`GRADE_COLUMNS`) are used where a site gives them; otherwise the
    site's pupils are spread evenly over the grades it teaches (lower grades take the
    remainder).
    """
    offers = offer_matrix(sites["grades"])
    out = np.zeros(offers.shape, dtype=np.int64)
    given = [c for c in GRADE_COLUMNS.values() if c in sites.columns]
    per_grade = (
        sites[given].apply(pd.to_numeric, errors="coerce")
        if given
        else pd.DataFrame(index=sites.index)
    )
    has_grades = per_grade.notna().any(axis=1).to_numpy() if given else np.zeros(len(sites), bool)
    pupils = sites["pupils"].fillna(0).to_numpy(np.int64)
    for i in range(len(sites)):
        cols = np.flatnonzero(offers[i])
        if has_grades[i]:
            for g, col in GRADE_COLUMNS.items():
                if col in per_grade.columns and pd.notna(per_grade.iloc[i][col]):
                    out[i, grade_column(g)] = int(per_grade.iloc[i][col])
        elif len(cols):
            out[i, cols] = split_by_grade(np.array([pupils[i]]), len(cols))[0]
    return out


def catchment_sites(
    villages: pd.DataFrame,
    sites: pd.DataFrame,
    walk: np.ndarray,
    bus: np.ndarray | None,
    settings: Settings,
    mode: str = "walk",
    open_sites: np.ndarray | None = None,
) -> np.ndarray:
    """The site serving each village's grade now (villages x grade levels; -1: none reached).

    Among the open sites teaching the grade, in the order of the way-to-school rules
    (:mod:`ruralnet.analysis.rules`): the nearest site within walking reach; else the nearest
    within the ride limit; else, for pupils who may board, the nearest site with boarding
    beds (their own township's first); else the nearest site at all (beyond the limits).
    "Nearest" is by walking time (``mode="walk"``; by bus time for the ride) or by bus time
    (``mode="bus"``).

    Parameters
    ----------
    villages, sites
        Layers whose rows match the matrices.
    walk, bus
        Minutes villages x sites (``bus=None``: no school bus).
    open_sites
        Which sites may serve (default: ``status == "open"``).
    """
    if mode not in ("walk", "bus"):
        raise ValueError("mode must be 'walk' or 'bus'")
    if mode == "bus" and bus is None:
        raise ValueError("mode='bus' needs bus times")
    nv, ns = walk.shape
    if open_sites is None:
        open_sites = _is_open(sites)
    walk = np.where(np.isfinite(walk), walk, np.inf)
    busm = np.full_like(walk, np.inf) if bus is None else np.where(np.isfinite(bus), bus, np.inf)
    offers = offer_matrix(sites["grades"]) & open_sites[:, None]
    beds = sites["boarding_beds"].fillna(0).to_numpy() > 0
    other_town = (
        villages["township_code"].astype(str).to_numpy()[:, None]
        != sites["township_code"].astype(str).to_numpy()[None, :]
    )
    trip = np.where(np.isfinite(busm), busm, walk)
    out = np.full((nv, len(GRADE_LEVELS)), -1, dtype=np.int64)
    if ns == 0 or nv == 0:
        return out
    urban = village_urban(villages)[:, None]
    rides = (rules.BUS, rules.TRANSIT, rules.GUARDIAN)
    for col, g in enumerate(GRADE_LEVELS):
        code, _ = rules.way_codes(g, walk, busm, settings, urban)
        cand = offers[None, :, col]
        if mode == "walk":
            steps = [(code == rules.WALK, walk), (np.isin(code, rides), busm)]
        else:
            steps = [(np.isin(code, rules.DAILY), np.fmin(busm, walk))]
        steps += [
            ((code == rules.BOARD) & beds[None, :], trip + 1e6 * other_town),
            (code == rules.BOARD, trip),
            (np.isfinite(trip), walk if mode == "walk" else trip),
        ]
        chosen = np.full(nv, -1, dtype=np.int64)
        for allowed, key in steps:
            key = np.where(cand & allowed, key, np.inf)
            todo = (chosen < 0) & np.isfinite(key).any(axis=1)
            chosen[todo] = np.argmin(key[todo], axis=1)
        out[:, col] = chosen
    return out


def demand_groups(
    villages: pd.DataFrame,
    sites: pd.DataFrame,
    walk: np.ndarray,
    bus: np.ndarray | None,
    settings: Settings,
    catchment: np.ndarray | None = None,
) -> pd.DataFrame:
    """The demand of a run as groups (see the module docstring), on ``settings.demand_basis``.

    Parameters
    ----------
    villages, sites
        Layers whose rows match the matrices (villages x sites).
    walk, bus
        Minutes villages x sites.
    catchment
        :func:`catchment_sites` if already computed.

    Returns
    -------
    pandas.DataFrame
        :data:`GROUP_COLUMNS`; ``origin_index`` is the row in ``villages`` (or in ``sites``
        for ``origin_type = "site"``), ``current`` the row of the site attended now.
    """
    if catchment is None:
        catchment = catchment_sites(villages, sites, walk, bus, settings)
    if settings.demand_basis == "census":
        groups = _census_groups(villages, catchment)
    else:
        groups = _enrolled_groups(villages, sites, catchment)
    v_urban = village_urban(villages)
    s_urban = site_urban(sites, v_urban, walk)
    idx = groups["origin_index"].to_numpy()
    is_v = (groups["origin_type"] == "village").to_numpy()
    groups["urban"] = np.where(is_v, v_urban[np.where(is_v, idx, 0)] if len(v_urban) else False,
                               s_urban[np.where(~is_v, idx, 0)] if len(s_urban) else False)  # fmt: skip
    return groups


def _census_groups(villages: pd.DataFrame, catchment: np.ndarray) -> pd.DataFrame:
    kids = village_grade_children(villages)
    v, col = np.nonzero(kids > 0)
    grade = np.asarray(GRADE_LEVELS)[col]
    return _frame(
        "village",
        v,
        villages["village_id"].to_numpy()[v],
        villages["township_code"].to_numpy()[v],
        grade,
        kids[v, col],
        catchment[v, col],
    )


def _enrolled_groups(
    villages: pd.DataFrame, sites: pd.DataFrame, catchment: np.ndarray
) -> pd.DataFrame:
    kids = village_grade_children(villages)
    enrolled = site_grade_pupils(sites)
    # villages served by each (site, grade), with their children as weights
    v, col = np.nonzero((catchment >= 0) & (kids > 0))
    site = catchment[v, col]
    pupils = enrolled[site, col]
    weight = kids[v, col].astype(float)
    key = site * len(GRADE_LEVELS) + col
    share = grouped_largest_remainder(weight, key, pupils)
    keep = share > 0
    parts = [
        _frame(
            "village",
            v[keep],
            villages["village_id"].to_numpy()[v[keep]],
            villages["township_code"].to_numpy()[v[keep]],
            np.asarray(GRADE_LEVELS)[col[keep]],
            share[keep],
            site[keep],
        )
    ]
    # pupils of a (site, grade) no village maps to stay at the site
    j, c = np.nonzero(enrolled > 0)
    alone = ~np.isin(j * len(GRADE_LEVELS) + c, key)
    j, c = j[alone], c[alone]
    parts.append(
        _frame(
            "site",
            j,
            sites["site_id"].to_numpy()[j],
            sites["township_code"].to_numpy()[j],
            np.asarray(GRADE_LEVELS)[c],
            enrolled[j, c],
            j,
        )
    )
    groups = pd.concat(parts, ignore_index=True)
    order = np.lexsort((groups["grade"].to_numpy(), groups["current"].to_numpy()))
    return groups.iloc[order].reset_index(drop=True)


def grouped_largest_remainder(weight: np.ndarray, key: np.ndarray, total: np.ndarray) -> np.ndarray:
    """Whole numbers in proportion to ``weight`` within each ``key``, summing to that key's
    ``total`` (largest-remainder rounding; ``total`` repeated on every row of its key)."""
    weight = np.asarray(weight, dtype=float)
    frame = pd.DataFrame({"key": key, "w": weight, "total": np.asarray(total, dtype=float)})
    sums = frame.groupby("key")["w"].transform("sum").to_numpy()
    quota = np.where(sums > 0, weight * frame["total"].to_numpy() / np.where(sums > 0, sums, 1), 0)
    floor = np.floor(quota + 1e-9)
    frame["floor"], frame["frac"] = floor, quota - floor
    short = (frame["total"] - frame.groupby("key")["floor"].transform("sum")).round().to_numpy()
    rank = frame.groupby("key")["frac"].rank(method="first", ascending=False).to_numpy()
    return (floor + (rank <= short)).astype(np.int64)


def _frame(origin_type, index, ids, towns, grade, pupils, current) -> pd.DataFrame:
    grade = np.asarray(grade, dtype=np.int64)
    return pd.DataFrame(
        {
            "origin_type": origin_type,
            "origin_index": np.asarray(index, dtype=np.int64),
            "origin_id": np.asarray(ids, dtype=object).astype(str),
            "township_code": np.asarray(towns, dtype=object).astype(str),
            "grade": grade,
            "stage": pd.Series(grade).map(STAGE_OF_GRADE).to_numpy(dtype=object),
            "pupils": np.asarray(pupils, dtype=np.int64),
            "current": np.asarray(current, dtype=np.int64),
        },
        columns=GROUP_COLUMNS[:-1],
    )


def _is_open(sites: pd.DataFrame) -> np.ndarray:
    if "status" not in sites:
        return np.ones(len(sites), dtype=bool)
    return (sites["status"].astype(str) == "open").to_numpy()
