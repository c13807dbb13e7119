"""The county overview: travel times from every village to every site, per mode, the nearest
site of each kind, and the snapping checks (what ``ruralnet demo`` writes first)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import pandas as pd

from ..network.travel import nearest, od_from_snaps

log = logging.getLogger(__name__)


@dataclass
class Overview:
    """Per mode (``walk``, ``bus``): ``od`` (``from_id, to_id, minutes, metres``), ``nearest``
    (nearest site of each kind per village), ``snaps`` (snap distance and component of every
    village and site, flagged), and a ``summary`` of it all."""

    od: dict[str, pd.DataFrame] = field(default_factory=dict)
    nearest: dict[str, pd.DataFrame] = field(default_factory=dict)
    snaps: dict[str, pd.DataFrame] = field(default_factory=dict)
    summary: dict = field(default_factory=dict)


def county_overview(county, modes=("walk", "bus")) -> Overview:
    """Travel times from every village to every site, per mode, and the nearest site by kind."""
    out = Overview()
    out.summary = {
        "county": county.name,
        "code": county.code,
        "sites": len(county.sites),
        "villages": len(county.villages),
        "modes": {},
    }
    sites = county.sites.set_index("site_id", drop=False)
    villages = county.villages.set_index("village_id", drop=False)
    for mode in modes:
        t0 = time.perf_counter()
        net = county.network(mode)
        t1 = time.perf_counter()
        v_snap = net.snap(villages)
        s_snap = net.snap(sites)
        od = od_from_snaps(net, v_snap, s_snap)
        t2 = time.perf_counter()
        snaps = pd.concat([v_snap.assign(layer="village"), s_snap.assign(layer="site")])
        out.od[mode] = od
        out.nearest[mode] = nearest(od, sites, by="kind")
        out.snaps[mode] = snaps.rename_axis("id").reset_index()
        reach = od.groupby("from_id")["minutes"].min()
        # timings go to the log, not into summary.json (the same input gives the same file)
        log.info("%s network: loaded in %.3f s, routed in %.3f s", mode, t1 - t0, t2 - t1)
        out.summary["modes"][mode] = {
            **net.summary(),
            "villages_reaching_a_site": int(reach.notna().sum()),
            "villages_reaching_no_site": sorted(map(str, reach.index[reach.isna()])),
            "far_snaps": sorted(map(str, snaps.index[snaps["far_snap"]])),
            "off_main_component": sorted(map(str, snaps.index[~snaps["in_main_component"]])),
            "median_minutes_to_nearest_site": float(reach.median()),
        }
    return out
