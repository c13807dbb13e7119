"""Accessibility indicators per township and county: who can walk, ride, or neither."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .settings import Settings

COUNTY = "ALL"  #: ``township_code`` of the county-wide rows


def weighted_percentile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """Percentile ``q`` (0-100) of values weighted by counts (children); NaN if no weight."""
    ok = np.isfinite(values) & (weights > 0)
    if not ok.any():
        return float("nan")
    v, w = values[ok], weights[ok]
    order = np.argsort(v, kind="stable")
    v, w = v[order], w[order]
    cum = np.cumsum(w)
    return float(v[np.searchsorted(cum, q / 100 * cum[-1], side="left")])


def indicators(grades: pd.DataFrame, villages: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Long table ``township_code, stage, indicator, value`` from a per-grade assignment.

    Indicators (children counted per grade, to the nearest site teaching their grade):
    ``children``; ``within_15/30/45_min_walk``; ``within_<R>_min_bus`` (R = max ride);
    ``beyond_all_limits`` (neither walkable within ``max_walk_minutes`` nor by bus within the
    ride limit) and ``villages_beyond_limits`` (their names); ``unassigned``; ``walking``,
    ``bus_riders``, ``boarders`` (as assigned); ``mean``/``p95_walk_minutes`` and
    ``mean``/``p95_bus_minutes`` (over children who can reach a site that way). Rows with
    ``township_code = "ALL"`` are the county.
    """
    g = grades.copy()
    g["township_code"] = villages["township_code"].astype(str).to_numpy()[g["village"]]
    g["village_name"] = villages["name"].astype(str).to_numpy()[g["village"]]
    rows = []

    def add(town, stage, part):
        c = part["children"].to_numpy(dtype=float)
        walk = part["walk_nearest"].to_numpy(dtype=float)
        bus = part["bus_nearest"].to_numpy(dtype=float)
        walkable = np.nan_to_num(walk, nan=np.inf) <= settings.max_walk_minutes
        rideable = np.nan_to_num(bus, nan=np.inf) <= settings.max_ride_minutes
        beyond = ~walkable & ~rideable
        values = {"children": c.sum()}
        for t in (15, 30, 45):
            values[f"within_{t}_min_walk"] = c[np.nan_to_num(walk, nan=np.inf) <= t].sum()
        values[f"within_{settings.max_ride_minutes:g}_min_bus"] = c[rideable].sum()
        values["beyond_all_limits"] = c[beyond].sum()
        names = sorted(set(part.loc[beyond & (c > 0), "village_name"]))
        values["villages_beyond_limits"] = "、".join(names)
        values["unassigned"] = c[(part["site"] < 0).to_numpy()].sum()
        for label, mode in (("walking", "walk"), ("bus_riders", "bus"), ("boarders", "board")):
            values[label] = c[(part["mode"] == mode).to_numpy()].sum()
        for label, times in (("walk", walk), ("bus", bus)):
            ok = np.isfinite(times) & (c > 0)
            values[f"mean_{label}_minutes"] = (
                float(np.average(times[ok], weights=c[ok])) if ok.any() else np.nan
            )
            values[f"p95_{label}_minutes"] = weighted_percentile(times, c, 95)
        for name, value in values.items():
            rows.append({"township_code": town, "stage": stage, "indicator": name, "value": value})

    for stage, part in g.groupby("stage", sort=False):
        for town, tpart in part.groupby("township_code", sort=True):
            add(town, stage, tpart)
        add(COUNTY, stage, part)
    return pd.DataFrame(rows, columns=["township_code", "stage", "indicator", "value"])
