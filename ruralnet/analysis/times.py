"""The travel times a county's analyses share, computed once: villages to sites and sites to
sites, on foot and by school bus (minutes; NaN where there is no way)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..network.travel import time_matrix


@dataclass(frozen=True)
class CountyTimes:
    """Minutes between a county's villages and sites (rows and columns in layer order).

    Attributes
    ----------
    village_walk, village_bus
        Villages x sites.
    site_walk, site_bus
        Sites x sites (a site to itself: its connectors only).
    village_bus_m, site_bus_m
        Metres of the fastest bus paths (for bus-km).
    """

    village_walk: np.ndarray
    village_bus: np.ndarray
    site_walk: np.ndarray
    site_bus: np.ndarray
    village_bus_m: np.ndarray | None = None
    site_bus_m: np.ndarray | None = None


def county_times(county) -> CountyTimes:
    """Every time matrix of a loaded county (:class:`ruralnet.network.county.County`), on all
    its sites (closed ones included); computed once and kept in ``county.cache``."""
    if "times" not in county.cache:
        walk, bus = county.network("walk"), county.network("bus")
        villages, sites = county.villages, county.sites
        v_bus, v_bus_m = time_matrix(bus, villages, sites, "village_id", "site_id", metres=True)
        s_bus, s_bus_m = time_matrix(bus, sites, sites, "site_id", "site_id", metres=True)
        county.cache["times"] = CountyTimes(
            time_matrix(walk, villages, sites, "village_id", "site_id"),
            v_bus,
            time_matrix(walk, sites, sites, "site_id", "site_id"),
            s_bus,
            v_bus_m,
            s_bus_m,
        )
    return county.cache["times"]


def site_times(county) -> tuple[np.ndarray, np.ndarray]:
    """Walk and bus minutes between all sites of a county (from :func:`county_times`)."""
    times = county_times(county)
    return times.site_walk, times.site_bus
