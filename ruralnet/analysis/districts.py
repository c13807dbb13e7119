"""Learning districts (学区): a central school with the small sites attached to it.

The plan documents ask that teaching points and village primaries that stay open be run by a
central school (一校多区; kindergartens likewise, 一园多点). From a plan:

* **heads**: open central primaries and nine-year schools (and central kindergartens for the
  kindergartens);
* **members**: every open teaching point and village primary (kindergarten) is attached to
  the head it reaches quickest by bus (else on foot), in its township first, within
  ``max_ride_minutes``; a site no head reaches within that leads a district of its own, flagged;
* a ``district_id`` column in the sites layer is respected: those sites keep their district,
  headed by its central school; a district without an open central school is led by its
  largest site, and its rows say so (the sites layer's check warns, naming the district);
* **travelling teachers** (走教): each teaching point attached to a district gets
  ``travelling_teacher_trips`` visits a week from its head: teacher minutes a week = visits x 2
  x the one-way minutes.
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from ..model.kinds import DISTRICT_FAMILIES
from . import rules

DISTRICT_COLUMNS = [
    "district_id",
    "family",
    "head_site_id",
    "site_id",
    "role",
    "minutes",
    "teacher_minutes_week",
    "pupils",
    "note",
]


def learning_districts(ctx, ev) -> pd.DataFrame:
    """Every open site of a district, with its head, role and travel (:data:`DISTRICT_COLUMNS`).

    Parameters
    ----------
    ctx
        The plan context (sites, times, settings).
    ev
        The plan's evaluation (which sites are open, their pupils after the plan).
    """
    s = ctx.settings
    sites = ctx.sites.reset_index(drop=True)
    is_open = ev.sites["open"].to_numpy()
    pupils = ev.sites["pupils_after"].to_numpy()
    bus, walk = ctx.times.site_bus, ctx.times.site_walk
    minutes = np.where(np.isfinite(bus), bus, walk)
    towns = sites["township_code"].astype(str).to_numpy()
    kinds = sites["kind"].astype(str).to_numpy()
    ids = sites["site_id"].astype(str).to_numpy()
    given = sites["district_id"] if "district_id" in sites else pd.Series(pd.NA, index=sites.index)
    rows = []
    for family, (head_kinds, member_kinds) in DISTRICT_FAMILIES.items():
        heads = np.flatnonzero(is_open & sites["kind"].isin(head_kinds).to_numpy())
        members = np.flatnonzero(is_open & sites["kind"].isin(member_kinds).to_numpy())
        for h in heads:
            rows.append((str(given[h]) if pd.notna(given[h]) else ids[h], family, ids[h], ids[h],
                         "head", 0.0, 0.0, pupils[h], ""))  # fmt: skip
        leaders = _headless_leaders(members, heads, given, pupils)
        for m in members:
            rows.append(
                _attach(m, heads, given, ids, towns, minutes, pupils, family, s, kinds, leaders)
            )
    out = pd.DataFrame(rows, columns=DISTRICT_COLUMNS)
    return _respect_given(out, given, ids)


def _headless_leaders(members, heads, given, pupils) -> dict:
    """Given districts of this family without an open head: district -> its largest member."""
    headed = {given[h] for h in heads if pd.notna(given[h])}
    out: dict = {}
    for m in members:
        d = given[m]
        if pd.notna(d) and d not in headed and (d not in out or pupils[m] > pupils[out[d]]):
            out[d] = m
    return out


def _attach(m, heads, given, ids, towns, minutes, pupils, family, s, kinds, leaders) -> tuple:
    """A member's district: its given one, else the quickest head within the limit."""
    if pd.notna(given[m]):
        same = [h for h in heads if pd.notna(given[h]) and given[h] == given[m]]
        h = same[0] if same else leaders[given[m]]
        note = "" if same else "led_by_largest"  # no open central school in the district
        if h == m:
            return (str(given[m]), family, ids[m], ids[m], "head", 0.0, 0.0, pupils[m], note)
        t = float(minutes[h, m])
        visits = str(kinds[m]) == "teaching_point"
        return (str(given[m]), family, ids[h], ids[m], "member",
                t, _teacher_minutes(t, s) if visits else 0.0, pupils[m], note)  # fmt: skip
    visits = str(kinds[m]) == "teaching_point"
    t = minutes[heads, m] if len(heads) else np.array([])
    reach = rules.rideable(99, t, s) if len(t) else np.array([], dtype=bool)
    local = reach & (towns[heads] == towns[m])
    pick = local if local.any() else reach
    if not pick.any():
        note = "own_district"  # no central school within the ride limit
        return (ids[m], family, ids[m], ids[m], "head", 0.0, 0.0, pupils[m], note)
    k = np.flatnonzero(pick)[np.argmin(t[pick])]
    h = heads[k]
    return (ids[h], family, ids[h], ids[m], "member", float(t[k]),
            _teacher_minutes(float(t[k]), s) if visits else 0.0, pupils[m], "")  # fmt: skip


def _teacher_minutes(one_way: float, s) -> float:
    if not np.isfinite(one_way):
        return 0.0
    return float(s.travelling_teacher_trips * 2 * one_way)


def _respect_given(out: pd.DataFrame, given: pd.Series, ids: np.ndarray) -> pd.DataFrame:
    """Heads of a given district share its id."""
    by_site = dict(zip(ids, given, strict=True))
    own = out["site_id"].map(by_site)
    out.loc[own.notna() & (out["role"] == "head"), "district_id"] = own[own.notna()].astype(str)
    return out.sort_values(["family", "district_id", "role", "site_id"], ignore_index=True)


#: Columns of the districts layer (and its geometry).
LAYER_COLUMNS = ["district_id", "family", "head_site_id", "head_name", "sites", "members",
                 "pupils", "teachers", "teacher_minutes_week"]  # fmt: skip


def district_layer(table: pd.DataFrame, sites: gpd.GeoDataFrame, teachers=None) -> gpd.GeoDataFrame:
    """One polygon per district (its sites' hull, 500 m around), with ``district_id, family,
    head_site_id, head_name, sites, teaching_points, pupils, teachers, teacher_minutes_week``."""
    if table.empty:
        return gpd.GeoDataFrame(columns=[*LAYER_COLUMNS, "geometry"], geometry="geometry", crs=4326)
    pts = sites.set_index(sites["site_id"].astype(str)).to_crs(3857)
    rows = []
    for (district, family), part in table.groupby(["district_id", "family"], sort=True):
        geom = shapely.MultiPoint(list(pts.loc[part["site_id"], "geometry"])).convex_hull.buffer(
            500
        )
        head = part["head_site_id"].iloc[0]
        rows.append(
            {
                "district_id": district,
                "family": family,
                "head_site_id": head,
                "head_name": str(pts.loc[head, "name"]),
                "sites": len(part),
                "members": int((part["role"] == "member").sum()),
                "pupils": int(part["pupils"].sum()),
                "teachers": int(teachers.reindex(part["site_id"]).fillna(0).sum())
                if teachers is not None
                else 0,
                "teacher_minutes_week": float(part["teacher_minutes_week"].sum()),
                "geometry": geom,
            }
        )
    layer = gpd.GeoDataFrame(rows, geometry="geometry", crs=3857)
    return layer.to_crs(4326)
