"""The main job on a county: networks, travel times, nearest schools, written to a folder.

Later analyses (catchments, mergers, bus routes, reports) extend this job; each step is a
function of the analysis modules, and only the ``write_*`` calls here touch files.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .county import County
from .io import write_table
from .travel import nearest, od_from_snaps

log = logging.getLogger(__name__)


def county_overview(county: County, out_dir: str | Path, *, modes=("walk", "bus")) -> dict:
    """Travel times from every village to every site, per mode, and the nearest site by kind.

    Writes into ``out_dir``: ``od_<mode>.csv`` (``from_id, to_id, minutes, metres``),
    ``nearest_<mode>.csv`` (nearest site of each kind per village), ``snaps_<mode>.csv`` (snap
    distance and component of every village and site, flagged), ``summary.json``, and
    ``map.html``.

    Returns
    -------
    dict
        The summary (also in ``summary.json``).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict = {
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
        near = nearest(od, sites, by="kind")
        write_table(od, out / f"od_{mode}.csv")
        write_table(near, out / f"nearest_{mode}.csv")
        snaps = pd.concat([v_snap.assign(layer="village"), s_snap.assign(layer="site")])
        write_table(snaps.rename_axis("id").reset_index(), out / f"snaps_{mode}.csv")
        reach = od.groupby("from_id")["minutes"].min()
        summary["modes"][mode] = {
            **net.summary(),
            "load_seconds": round(t1 - t0, 3),
            "routing_seconds": round(t2 - t1, 3),
            "villages_reaching_a_site": int(reach.notna().sum()),
            "villages_reaching_no_site": sorted(map(str, reach.index[reach.isna()])),
            "far_snaps": sorted(map(str, snaps.index[snaps["far_snap"]])),
            "off_main_component": sorted(map(str, snaps.index[~snaps["in_main_component"]])),
            "median_minutes_to_nearest_site": float(reach.median()),
        }
    from .io import atomic_path

    with atomic_path(out / "summary.json") as tmp:
        tmp.write_text(json.dumps(summary, ensure_ascii=False, indent=2), encoding="utf-8")
    _overview_map(county, out / "map.html")
    return summary


def _overview_map(county: County, path: Path) -> None:
    """The county map: roads, townships, hillshade, villages and sites; works offline."""
    from .maps import county_map, save_map

    save_map(county_map(county), path, offline=True)


@dataclass
class CountyAnalysis:
    """The merger analysis of one county: candidates, and the plans compared."""

    county: County
    candidates: pd.DataFrame
    options: pd.DataFrame
    evaluations: dict
    recommended: str = "mergers"
    buses: object | None = None

    @property
    def justified(self) -> set[str]:
        """Small sites kept because merging them is not possible within the limits."""
        return set(
            self.candidates.loc[self.candidates["decision"] == "keep", "site_id"].astype(str)
        )


def analyse_county(
    county: County, optimise: bool = True, lang: str = "zh", buses: str | None = "receiving"
) -> CountyAnalysis:
    """Merger candidates, then the current, merger and (optionally) optimised plans, evaluated.

    ``buses``: route the school buses of the merger plan's receiving sites (``"receiving"``),
    of every site (``"all"``), or none (``None``).
    """
    from .mergers import merger_candidates, site_times
    from .plans import current_plan, evaluate, merger_plan, optimised_plan, plan_context

    walk, bus = site_times(county)
    candidates, options = merger_candidates(county.sites, walk, bus, county.settings, lang=lang)
    ctx = plan_context(county, (walk, bus))
    justified = set(candidates.loc[candidates["decision"] == "keep", "site_id"].astype(str))
    plans = [current_plan(ctx), merger_plan(ctx, candidates)]
    if optimise:
        plans.append(optimised_plan(ctx, justified))
    evaluations = {p.name: evaluate(ctx, p, justified) for p in plans}
    for name, ev in evaluations.items():
        if not ev.conserved:
            raise AssertionError(f"plan {name}: pupils not conserved ({ev.pupils_before} before)")
    bus_plan = None
    if buses:
        from .buses import plan_buses

        receiving = set(
            candidates.loc[
                candidates["decision"].astype(str).str.startswith("merge"), "receiving_site_id"
            ]
        )
        bus_plan = plan_buses(
            county, evaluations["mergers"].assignment, sites=None if buses == "all" else receiving
        )
        if bus_plan.violations:
            raise AssertionError(
                f"bus routes failed the independent check: {bus_plan.violations[:3]}"
            )
    return CountyAnalysis(county, candidates, options, evaluations, buses=bus_plan)
