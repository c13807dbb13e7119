"""Accessibility indicators per township and county: who can walk, ride, or neither.

Computed from a plan's evaluation (the ways of :mod:`ruralnet.analysis.rules`) and the
travel times to the nearest site teaching each pupil's grade, so the counts agree with the
plans' tables.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..model.grades import grade_column
from . import rules

COUNTY = "ALL"  #: ``township_code`` of the county-wide rows


def weighted_percentile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Percentile ``q`` (0-100) of values weighted by counts (pupils); NaN if no weight."""
    values, weights = np.asarray(values, float), np.asarray(weights, float)
    ok = np.isfinite(values) & (weights > 0)
    if not ok.any():
        return float("nan")
    v, w = values[ok], weights[ok]
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order]
    cum = np.cumsum(w)
    return float(v[np.searchsorted(cum, q / 100 * cum[-1], side="left")])


def nearest_times(ctx) -> tuple[np.ndarray, np.ndarray]:
    """Minutes from each demand group to the nearest open site teaching its grade, on foot
    and by bus (NaN where none can be reached)."""

    cols = np.array([grade_column(g) for g in ctx.groups["grade"]], dtype=np.int64)
    allowed = (ctx.offers & ctx.open_now[:, None]).T[cols]  # groups x sites
    out = []
    for m in (np.asarray(ctx.walk), np.asarray(ctx.bus)):
        t = np.where(allowed & np.isfinite(m), m, np.inf)
        best = t.min(axis=1) if t.shape[1] else np.full(len(t), np.inf)
        out.append(np.where(np.isfinite(best), best, np.nan))
    return out[0], out[1]


def indicators(ctx, ev) -> pd.DataFrame:
    """Long table ``township_code, stage, indicator, value`` (``township_code = "ALL"``: the
    county), counting the pupils of the run's demand basis.

    Indicators: ``children``; ``within_<t>_min_walk`` for each of ``time_bands_minutes`` and
    ``within_<R>_min_bus`` (R = the ride limit), to the nearest site teaching the grade;
    ``walking``, ``bus_riders``, ``boarders`` and ``beyond_all_limits`` as the plan assigns
    them (the way-to-school rules), with ``villages_beyond_limits`` (their names);
    ``unassigned``; ``mean``/``p95_walk_minutes`` and ``mean``/``p95_bus_minutes`` to the
    nearest site (over pupils who can reach one that way).
    """
    s = ctx.settings
    g = ctx.groups
    walk_near, bus_near = nearest_times(ctx)
    by_way = np.zeros((len(g), len(rules.WAYS)))
    np.add.at(
        by_way,
        (ev.rows["group"].to_numpy(), ev.rows["way"].to_numpy()),
        ev.rows["pupils"].to_numpy(),
    )
    frame = pd.DataFrame(
        {
            "township_code": g["township_code"].astype(str),
            "stage": g["stage"],
            "origin": g["origin_id"].map(lambda o: ctx.village_names.get(o, o)),
            "pupils": g["pupils"].to_numpy(float),
            "grade": g["grade"].to_numpy(),
            "walk_near": walk_near,
            "bus_near": bus_near,
            "unassigned": ev.plan.unassigned,
            **{f"way_{w}": by_way[:, k] for k, w in enumerate(rules.WAYS)},
        }
    )
    rows = []

    def add(town, stage, part):
        c = part["pupils"].to_numpy()
        walk, bus = part["walk_near"].to_numpy(), part["bus_near"].to_numpy()
        values: dict = {"children": c.sum()}
        for t in s.time_bands_minutes:
            values[f"within_{t:g}_min_walk"] = c[np.nan_to_num(walk, nan=np.inf) <= t].sum()
        values[f"within_{s.max_ride_minutes:g}_min_bus"] = c[
            rules.rideable(part["grade"].to_numpy(), bus, s)
        ].sum()
        beyond = part["way_beyond"].to_numpy() + part["unassigned"].to_numpy()
        values["beyond_all_limits"] = beyond.sum()
        values["villages_beyond_limits"] = "、".join(sorted(set(part.loc[beyond > 0, "origin"])))
        values["unassigned"] = part["unassigned"].sum()
        values["walking"] = part["way_walk"].sum()
        values["bus_riders"] = part["way_bus"].sum()
        values["boarders"] = part["way_board"].sum()
        values["guardian"] = part["way_guardian"].sum()
        values["transit"] = part["way_transit"].sum()
        for label, times in (("walk", walk), ("bus", bus)):
            ok = np.isfinite(times) & (c > 0)
            values[f"mean_{label}_minutes"] = (
                float(np.average(times[ok], weights=c[ok])) if ok.any() else np.nan
            )
            values[f"p95_{label}_minutes"] = weighted_percentile(times, c, 95)
        for name, value in values.items():
            rows.append({"township_code": town, "stage": stage, "indicator": name, "value": value})

    for stage, part in frame.groupby("stage", sort=False):
        for town, tpart in part.groupby("township_code", sort=True):
            add(town, stage, tpart)
        add(COUNTY, stage, part)
    return pd.DataFrame(rows, columns=["township_code", "stage", "indicator", "value"])
