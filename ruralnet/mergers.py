"""Merger candidates: for every small site, where its pupils could go and what it costs them.

Works on time matrices between sites (walk and bus minutes), so it runs on a road network
(:func:`site_times`) or on a plain school list with straight-line distances and a detour
factor (:func:`straight_line_minutes`). Decisions, each with a stated reason:

* ``merge_walk``: a receiving site teaching all the small site's grades is within
  ``max_walk_minutes`` on foot, with spare places and no class of 56+ after the merger;
* ``merge_bus``: as above, but only a school bus makes it within ``max_ride_minutes``;
* ``merge_boarding``: only boarding works, and every grade of the site is 4 or above;
* ``keep``: too remote (grades 1-3 cannot board and no receiving site is within the ride
  limit, or no road a bus can use), or no receiving site has spare places;
* closed or merged sites are checked for restoration: ``restore`` when their pupils now
  travel beyond every limit, else ``stay_closed``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .schema import parse_grades
from .settings import Settings

DECISIONS = ("merge_walk", "merge_bus", "merge_boarding", "keep", "restore", "stay_closed")
CANDIDATE_COLUMNS = [
    "site_id",
    "kind",
    "township_code",
    "pupils",
    "decision",
    "receiving_site_id",
    "minutes_bus",
    "minutes_walk",
    "reason",
]


def class_norm(kind: str, settings: Settings) -> int:
    """Class-size norm of a site kind (建标109-2008; kindergarten 30)."""
    return {
        "central_kindergarten": settings.class_size_kindergarten,
        "kindergarten": settings.class_size_kindergarten,
        "teaching_point": settings.class_size_incomplete_primary,
        "junior_middle": settings.class_size_junior,
        "boarding_school": settings.class_size_junior,
    }.get(kind, settings.class_size_primary)


REASONS = {
    "merge_walk": {
        "zh": "步行{walk}可到{name}；{spare}",
        "en": "{walk} on foot to {name}; {spare}",
    },
    "merge_bus": {
        "zh": "步行{walk}超过{max_walk:.0f}分钟；乘校车{bus}可到{name}；{spare}",
        "en": "walking {walk} exceeds {max_walk:.0f} min; {bus} by school bus to {name}; {spare}",
    },
    "merge_boarding": {
        "zh": "步行和校车均超限；可在{name}寄宿（床位{beds:.0f}）",
        "en": "beyond walking and bus limits; can board at {name} ({beds:.0f} beds)",
    },
    "too_remote_young": {
        "zh": "1-3年级不寄宿；最近的接收学校{name}步行{walk}、校车{bus}，均超过限值（步行{max_walk:.0f}、乘车{max_ride:.0f}分钟）",
        "en": "grades 1-3 do not board; nearest receiving site {name} is {walk} on foot and {bus} by bus, beyond the limits ({max_walk:.0f} / {max_ride:.0f} min)",
    },
    "too_remote": {
        "zh": "最近的接收学校{name}步行{walk}、校车{bus}，均超过限值，且无寄宿床位",
        "en": "nearest receiving site {name} is {walk} on foot and {bus} by bus, beyond the limits, and has no boarding beds",
    },
    "no_bus_road": {
        "zh": "步行超过{max_walk:.0f}分钟，且没有校车可通行的道路",
        "en": "beyond {max_walk:.0f} min on foot and no road a school bus can use",
    },
    "no_spare": {
        "zh": "限值内的接收学校均无足够余位，或合并后将出现{oversized}人以上大班额",
        "en": "receiving sites within the limits lack spare places, or would have classes of {oversized}+",
    },
    "no_receiver": {
        "zh": "没有开设{grades}年级的接收学校",
        "en": "no open site teaches grades {grades}",
    },
    "restore": {
        "zh": "已撤并；学生现需步行{walk}或乘车{bus}到{name}，超过限值，建议评估恢复",
        "en": "closed; its pupils now need {walk} on foot or {bus} by bus to {name}, beyond the limits: consider restoring",
    },
    "stay_closed": {
        "zh": "已撤并；学生可在限值内到达{name}（步行{walk}、乘车{bus}）",
        "en": "closed; its pupils reach {name} within the limits ({walk} on foot, {bus} by bus)",
    },
}


def _fmt_min(value: float, lang: str) -> str:
    if not np.isfinite(value):
        return "无法到达" if lang == "zh" else "unreachable"
    return f"{value:.0f}分钟" if lang == "zh" else f"{value:.0f} min"


def _spare_text(spare: float, lang: str) -> str:
    if not np.isfinite(spare):
        return "学位数未知" if lang == "zh" else "spare places unknown"
    return f"余{spare:.0f}个学位" if lang == "zh" else f"{spare:.0f} spare places"


def straight_line_minutes(
    origins, destinations, speed_kmh: float, detour: float = 1.4
) -> np.ndarray:
    """Minutes between point layers at a speed over straight-line distance times a detour factor.

    For school lists without a road network (a mountain county's detour factor is 1.5-2).
    """
    from .network import haversine_m

    a = origins.geometry.to_crs("EPSG:4326")
    b = destinations.geometry.to_crs("EPSG:4326")
    d = haversine_m(
        a.x.to_numpy()[:, None],
        a.y.to_numpy()[:, None],
        b.x.to_numpy()[None, :],
        b.y.to_numpy()[None, :],
    )
    return d * detour / (speed_kmh / 3.6) / 60.0


def site_times(county) -> tuple[np.ndarray, np.ndarray]:
    """Walk and bus minutes between all sites of a county on its road networks."""
    from .catchments import time_matrix

    sites = county.sites.reset_index(drop=True)
    return (
        time_matrix(county.network("walk"), sites, sites, origin_id="site_id"),
        time_matrix(county.network("bus"), sites, sites, origin_id="site_id"),
    )


def receiving_options(
    sites: pd.DataFrame, walk: np.ndarray, bus: np.ndarray, settings: Settings
) -> pd.DataFrame:
    """Every (small site, receiving site) pair, ranked: feasible first, then by travel time.

    A receiving site is open, not itself small, and teaches every grade of the small site.
    Columns: ``site_id, receiving_site_id, rank, minutes_walk, minutes_bus, spare_places,
    class_size_after, oversized, bus_needed, boarding_beds, feasible``.
    """
    sites = sites.reset_index(drop=True)
    small = small_sites(sites, settings)
    is_open = (sites.get("status", pd.Series("open", index=sites.index)) == "open").to_numpy()
    levels = [parse_grades(g) for g in sites["grades"]]
    pupils = sites["pupils"].to_numpy(float)
    norm = np.array([class_norm(k, settings) for k in sites["kind"]])
    classes = sites["classes"].to_numpy(float)
    cap_spare = sites["capacity"].to_numpy(float) - pupils
    class_spare = np.where(classes > 0, classes * norm - pupils, np.nan)
    spare = np.fmin(cap_spare, class_spare)
    kinds = sites["kind"].to_numpy()
    ids = sites["site_id"].to_numpy()
    names = sites["name"].to_numpy()
    beds = sites["boarding_beds"].fillna(0).to_numpy(float)
    can_receive = is_open & ~small & ~np.isin(kinds, list(settings.non_receiving_kinds))
    frames = []
    for s in np.flatnonzero(small | ~is_open):
        recv = np.array(
            [r for r in np.flatnonzero(can_receive) if r != s and levels[s] <= levels[r]], dtype=int
        )
        if not len(recv):
            continue
        after = np.where(
            classes[recv] > 0,
            (pupils[recv] + pupils[s]) / np.where(classes[recv] > 0, classes[recv], 1),
            np.nan,
        )
        frames.append(
            pd.DataFrame(
                {
                    "site": s,
                    "receiving": recv,
                    "site_id": ids[s],
                    "receiving_site_id": ids[recv],
                    "receiving_name": names[recv],
                    "minutes_walk": walk[s, recv],
                    "minutes_bus": bus[s, recv],
                    "spare_places": spare[recv],
                    "class_size_after": after,
                    "oversized": np.nan_to_num(after, nan=0) >= settings.oversized_class,
                    "bus_needed": ~(walk[s, recv] <= settings.max_walk_minutes),
                    "boarding_beds": beds[recv],
                }
            )
        )
    rows = pd.concat(frames, ignore_index=True).to_dict("records") if frames else []
    cols = [
        "site",
        "receiving",
        "site_id",
        "receiving_site_id",
        "receiving_name",
        "minutes_walk",
        "minutes_bus",
        "spare_places",
        "class_size_after",
        "oversized",
        "bus_needed",
        "boarding_beds",
    ]
    opts = pd.DataFrame(rows, columns=cols)
    if opts.empty:
        return opts.assign(rank=pd.Series(dtype=int), feasible=pd.Series(dtype=bool))
    need = pupils[opts["site"].to_numpy()]
    opts["feasible"] = ~(opts["spare_places"] < need) & ~opts["oversized"]
    walk_ok = opts["minutes_walk"] <= settings.max_walk_minutes
    opts["_time"] = np.where(walk_ok, opts["minutes_walk"], opts["minutes_bus"].fillna(np.inf))
    opts["_within"] = walk_ok | (opts["minutes_bus"] <= settings.max_ride_minutes)
    town = sites["township_code"].astype(str).to_numpy()
    opts["same_township"] = town[opts["site"]] == town[opts["receiving"]]
    # feasible first; within the limits, the site's own township first (policy: concentrate
    # schooling at the township); then the shortest trip
    opts = opts.sort_values(
        [
            "site",
            "feasible",
            "_within",
            "same_township",
            "_time",
            "minutes_walk",
            "receiving_site_id",
        ],
        ascending=[True, False, False, False, True, True, True],
        kind="stable",
    )
    opts["rank"] = opts.groupby("site").cumcount() + 1
    return opts.drop(columns=["_time", "_within"]).reset_index(drop=True)


def small_sites(sites: pd.DataFrame, settings: Settings) -> np.ndarray:
    """Open sites of the merger kinds with fewer pupils than ``small_site_pupils``."""
    is_open = (sites.get("status", pd.Series("open", index=sites.index)) == "open").to_numpy()
    return (
        is_open
        & sites["kind"].isin(settings.merger_kinds).to_numpy()
        & (sites["pupils"].to_numpy(float) < settings.small_site_pupils)
    )


def merger_candidates(
    sites: pd.DataFrame,
    walk: np.ndarray,
    bus: np.ndarray,
    settings: Settings | None = None,
    lang: str = "zh",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Decide, for every small site (and every closed one), merge where / keep / restore, and why.

    Small sites are decided in ``site_id`` order; each merger uses up the receiving site's spare
    places and raises its class sizes, so two small sites never both count on the same seats.

    Parameters
    ----------
    sites
        Sites layer (``status`` optional); row order matches the matrices.
    walk, bus
        Minutes from each site to each site on foot and by school bus (NaN: no way).
    settings
        Thresholds and limits (``small_site_pupils``, ``merger_kinds``, ``max_walk_minutes``...).
    lang
        ``zh`` (default) or ``en`` for the reasons.

    Returns
    -------
    candidates, options
        One row per small or closed site with :data:`CANDIDATE_COLUMNS` plus details
        (``name``, ``receiving_name``, ``spare_places``, ``class_size_after``...), and the
        ranked receiving options behind each decision.
    """
    settings = settings or Settings()
    if lang not in ("zh", "en"):
        raise ValueError("lang must be 'zh' or 'en'")
    sites = sites.reset_index(drop=True)
    opts = receiving_options(sites, walk, bus, settings)
    small = small_sites(sites, settings)
    closed = (sites.get("status", pd.Series("open", index=sites.index)) != "open").to_numpy()
    pupils = sites["pupils"].to_numpy(float)
    classes = sites["classes"].to_numpy(float)
    spare = dict(zip(opts["receiving"], opts["spare_places"], strict=True)) if len(opts) else {}
    incoming = np.zeros(len(sites))
    limits = {
        "max_walk": settings.max_walk_minutes,
        "max_ride": settings.max_ride_minutes,
        "oversized": settings.oversized_class,
    }
    rows = []
    order = sorted(np.flatnonzero(small | closed), key=lambda i: str(sites.loc[i, "site_id"]))
    for s in order:
        site = sites.loc[s]
        mine = opts[opts["site"] == s]
        row = {c: site[c] for c in ("site_id", "kind", "township_code", "pupils", "name")}
        row.update(
            receiving_site_id=None,
            receiving_name=None,
            minutes_walk=np.nan,
            minutes_bus=np.nan,
            spare_places=np.nan,
            class_size_after=np.nan,
            bus_needed=None,
            boarding_needed=False,
        )
        if mine.empty:
            code, params = "no_receiver", {"grades": site["grades"]}
            row["decision"] = "restore" if closed[s] else "keep"
        elif closed[s]:  # where its pupils go now: the nearest open site they can reach
            t = np.fmin(mine["minutes_walk"].fillna(np.inf), mine["minutes_bus"].fillna(np.inf))
            best = mine.assign(_t=t).sort_values(["_t", "receiving_site_id"], kind="stable").iloc[0]
            ok = (
                best["minutes_walk"] <= settings.max_walk_minutes
                or best["minutes_bus"] <= settings.max_ride_minutes
            )
            code = "stay_closed" if ok else "restore"
            row.update(
                decision=code,
                receiving_site_id=best["receiving_site_id"],
                receiving_name=best["receiving_name"],
                minutes_walk=best["minutes_walk"],
                minutes_bus=best["minutes_bus"],
            )
            params = _params(best, lang)
        else:
            code, best = _decide(s, mine, pupils, classes, spare, incoming, settings)
            if code == "_remote":
                code, best = _remote(site, mine, best)
            params = _params(best, lang)
            row.update(
                minutes_walk=best["minutes_walk"],
                minutes_bus=best["minutes_bus"],
                bus_needed=not (best["minutes_walk"] <= settings.max_walk_minutes),
            )
            r = int(best["receiving"])
            left = spare.get(r, np.nan) - incoming[r]
            if code.startswith("merge"):
                incoming[r] += pupils[s]
                row.update(
                    decision=code,
                    receiving_site_id=best["receiving_site_id"],
                    receiving_name=best["receiving_name"],
                    boarding_needed=code == "merge_boarding",
                    spare_places=left - pupils[s],
                    class_size_after=(pupils[r] + incoming[r]) / classes[r]
                    if classes[r] > 0
                    else np.nan,
                )
                params["spare"] = _spare_text(left - pupils[s], lang)
            else:
                row.update(decision="keep", spare_places=left)
        row["reason_code"] = code
        row["reason"] = REASONS[code][lang].format(**{**limits, **params})
        rows.append(row)
    cand = pd.DataFrame(rows)
    if cand.empty:
        cand = pd.DataFrame(columns=[*CANDIDATE_COLUMNS, "name", "receiving_name", "reason_code"])
    ordered = CANDIDATE_COLUMNS + [c for c in cand.columns if c not in CANDIDATE_COLUMNS]
    cand = (
        cand[ordered]
        .sort_values(["township_code", "site_id"], kind="stable")
        .reset_index(drop=True)
    )
    return cand, opts


def _decide(s, mine, pupils, classes, spare, incoming, settings) -> tuple[str, pd.Series]:
    """Decision code and chosen (or nearest) option for one open small site."""
    within_any = False
    for _, o in mine.iterrows():
        r = int(o["receiving"])
        walkable = o["minutes_walk"] <= settings.max_walk_minutes
        rideable = o["minutes_bus"] <= settings.max_ride_minutes
        left = spare.get(r, np.nan) - incoming[r]
        after = (pupils[r] + incoming[r] + pupils[s]) / classes[r] if classes[r] > 0 else np.nan
        fits = not (left < pupils[s]) and not (after >= settings.oversized_class)
        if walkable or rideable:
            within_any = True
            if fits:
                return ("merge_walk" if walkable else "merge_bus"), o
    first = mine.iloc[0]
    return ("no_spare" if within_any else "_remote"), first


def _remote(site: pd.Series, mine: pd.DataFrame, nearest: pd.Series) -> tuple[str, pd.Series]:
    """Why a site beyond every limit stays, or where its pupils (all grade 4+) can board."""
    levels = parse_grades(site["grades"])
    beds = mine[mine["boarding_beds"] > 0]
    if min(levels) >= 4 and len(beds):
        return "merge_boarding", beds.iloc[0]
    if mine["minutes_bus"].isna().all():
        return "no_bus_road", nearest
    return ("too_remote_young" if min(levels) < 4 else "too_remote"), nearest


def _params(best: pd.Series, lang: str) -> dict:
    return {
        "name": best["receiving_name"],
        "walk": _fmt_min(float(best["minutes_walk"]), lang),
        "bus": _fmt_min(float(best["minutes_bus"]), lang),
        "beds": float(best["boarding_beds"]),
        "spare": _spare_text(float(best["spare_places"]), lang),
    }
