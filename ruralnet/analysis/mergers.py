"""Merger candidates: for every small site, where its pupils could go and what it costs them.

Works on time matrices between sites (walk and bus minutes), so it runs on a road network
(:func:`ruralnet.analysis.times.site_times`) or on a plain school list with straight-line
distances and a detour factor (:func:`straight_line_minutes`). How the pupils would travel
to a receiving site is decided by the way-to-school rules (:mod:`ruralnet.analysis.rules`)
for the site's youngest grade. Decisions, each with a stated reason:

* ``merge_walk``: a receiving site teaching all the small site's grades is within walking
  reach, with spare places and no class of ``oversized_class``+ after the merger;
* ``merge_bus``: as above, but by school bus within the ride limit;
* ``merge_boarding``: only boarding works (every grade at or above the boarding grade) and
  the receiving site has beds;
* ``keep``: too remote (young pupils cannot board and no receiving site is within the ride
  limit, or no road a bus can use), or no receiving site has spare places;
* closed or merged sites are checked for restoration: ``restore`` when their pupils now
  travel beyond every limit, else ``stay_closed``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..model.geo import haversine_m
from ..model.grades import parse_grades
from ..model.kinds import class_norm
from ..model.labels import merger_reason
from ..model.settings import Settings
from . import rules

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
#: Columns every candidate row has besides :data:`CANDIDATE_COLUMNS`.
DETAIL_COLUMNS = [
    "name",
    "receiving_name",
    "spare_places",
    "class_size_after",
    "boarding_needed",
    "reason_code",
    "reason_zh",
    "reason_en",
]
_MERGE = {rules.WALK: "merge_walk", rules.BUS: "merge_bus", rules.BOARD: "merge_boarding"}


def straight_line_minutes(
    origins, destinations, speed_kmh: float, detour: float = 1.4
) -> np.ndarray:
    """Minutes between point layers at a speed over straight-line distance times a detour factor.

    For school lists without a road network (a mountain county's detour factor is 1.5-2).
    """

    a = origins.geometry.to_crs("EPSG:4326")
    b = destinations.geometry.to_crs("EPSG:4326")
    d = haversine_m(
        a.x.to_numpy()[:, None],
        a.y.to_numpy()[:, None],
        b.x.to_numpy()[None, :],
        b.y.to_numpy()[None, :],
    )
    return d * detour / (speed_kmh / 3.6) / 60.0


def _is_open(sites: pd.DataFrame) -> np.ndarray:
    return (sites.get("status", pd.Series("open", index=sites.index)) == "open").to_numpy()


def small_sites(
    sites: pd.DataFrame, settings: Settings, pupils: np.ndarray | None = None
) -> np.ndarray:
    """Open sites of the merger kinds with fewer pupils than ``small_site_pupils``."""
    pupils = sites["pupils"].to_numpy(float) if pupils is None else np.asarray(pupils, float)
    return (
        _is_open(sites)
        & sites["kind"].isin(settings.merger_kinds).to_numpy()
        & (pupils < settings.small_site_pupils)
    )


def spare_places(sites: pd.DataFrame, settings: Settings, pupils: np.ndarray) -> np.ndarray:
    """Spare places of each site: the fewer of its free places and its classes' room at the
    class-size norm (NaN where unknown)."""
    norm = np.array([class_norm(k, settings) for k in sites["kind"]])
    classes = sites["classes"].to_numpy(float)
    return np.fmin(
        sites["capacity"].to_numpy(float) - pupils,
        np.where(classes > 0, classes * norm - pupils, np.nan),
    )


def receiving_options(
    sites: pd.DataFrame,
    walk: np.ndarray,
    bus: np.ndarray,
    settings: Settings,
    pupils: np.ndarray | None = None,
) -> pd.DataFrame:
    """Every (small or closed site, receiving site) pair, ranked: feasible first, then within
    the limits, the site's own township, the shortest trip.

    A receiving site is open, not itself small, not of ``non_receiving_kinds``, and teaches
    every grade of the small site. Columns: ``site, receiving, site_id, receiving_site_id,
    receiving_name, minutes_walk, minutes_bus, way, minutes, spare_places, class_size_after,
    oversized, boarding_beds, feasible, same_township, rank``; ``way`` is the rules' way for
    the small site's youngest grade.
    """
    sites = sites.reset_index(drop=True)
    pupils = sites["pupils"].to_numpy(float) if pupils is None else np.asarray(pupils, float)
    small = small_sites(sites, settings, pupils)
    is_open = _is_open(sites)
    levels = [parse_grades(g) for g in sites["grades"]]
    classes = sites["classes"].to_numpy(float)
    spare = spare_places(sites, settings, pupils)
    beds = sites["boarding_beds"].fillna(0).to_numpy(float)
    can_receive = is_open & ~small & ~sites["kind"].isin(settings.non_receiving_kinds).to_numpy()
    frames = []
    for s in np.flatnonzero(small | ~is_open):
        recv = [r for r in np.flatnonzero(can_receive) if r != s and levels[s] <= levels[r]]
        if recv:
            frames.append(
                _options_of(
                    s,
                    np.array(recv),
                    sites,
                    walk,
                    bus,
                    settings,
                    pupils,
                    levels,
                    spare,
                    classes,
                    beds,
                )
            )
    columns = [
        "site", "receiving", "site_id", "receiving_site_id", "receiving_name", "minutes_walk",
        "minutes_bus", "way", "minutes", "spare_places", "class_size_after", "oversized",
        "boarding_beds", "same_township",
    ]  # fmt: skip
    opts = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    if opts.empty:
        return opts.assign(feasible=pd.Series(dtype=bool), rank=pd.Series(dtype=int))
    need = pupils[opts["site"].to_numpy(int)]
    opts["feasible"] = ~(opts["spare_places"] < need) & ~opts["oversized"].astype(bool)
    daily = opts["way"].isin(rules.DAILY)
    # feasible first; within the daily limits, the site's own township first (policy:
    # concentrate schooling at the township); then the shortest trip
    opts = opts.assign(_daily=daily, _time=opts["minutes"].fillna(np.inf)).sort_values(
        [
            "site",
            "feasible",
            "_daily",
            "same_township",
            "_time",
            "minutes_walk",
            "receiving_site_id",
        ],
        ascending=[True, False, False, False, True, True, True],
        kind="stable",
    )
    opts["rank"] = opts.groupby("site").cumcount() + 1
    return opts.drop(columns=["_daily", "_time"]).reset_index(drop=True)


def _options_of(s, recv, sites, walk, bus, settings, pupils, levels, spare, classes, beds):
    """The receiving options of one small or closed site (one row per receiving site)."""
    town = sites["township_code"].astype(str).to_numpy()
    urban = bool(sites["urban"].iloc[s] is True) if "urban" in sites.columns else False
    way, minutes = rules.way_codes(min(levels[s]), walk[s, recv], bus[s, recv], settings, urban)
    after = np.where(
        classes[recv] > 0,
        (pupils[recv] + pupils[s]) / np.where(classes[recv] > 0, classes[recv], 1),
        np.nan,
    )
    return pd.DataFrame(
        {
            "site": s,
            "receiving": recv,
            "site_id": sites["site_id"].to_numpy()[s],
            "receiving_site_id": sites["site_id"].to_numpy()[recv],
            "receiving_name": sites["name"].to_numpy()[recv],
            "minutes_walk": walk[s, recv],
            "minutes_bus": bus[s, recv],
            "way": way,
            "minutes": minutes,
            "spare_places": spare[recv],
            "class_size_after": after,
            "oversized": np.nan_to_num(after, nan=0) >= settings.oversized_class,
            "boarding_beds": beds[recv],
            "same_township": town[s] == town[recv],
        }
    )


def merger_candidates(
    sites: pd.DataFrame,
    walk: np.ndarray,
    bus: np.ndarray,
    settings: Settings | None = None,
    lang: str = "zh",
    pupils: np.ndarray | None = None,
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
        Thresholds and limits (``small_site_pupils``, ``merger_kinds``, the way-to-school
        limits...).
    lang
        ``zh`` (default) or ``en`` for the reasons.
    pupils
        Pupils per site (default: the ``pupils`` column; a run passes its demand basis).

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
    pupils = sites["pupils"].to_numpy(float) if pupils is None else np.asarray(pupils, float)
    opts = receiving_options(sites, walk, bus, settings, pupils)
    small = small_sites(sites, settings, pupils)
    closed = ~_is_open(sites)
    classes = sites["classes"].to_numpy(float)
    spare = dict(zip(opts["receiving"], opts["spare_places"], strict=True)) if len(opts) else {}
    incoming = np.zeros(len(sites))
    by_site = dict(tuple(opts.groupby("site", sort=False))) if len(opts) else {}
    state = {"spare": spare, "incoming": incoming, "classes": classes, "pupils": pupils}
    rows = [
        _decide_site(
            sites.loc[s], s, by_site.get(s, opts.iloc[:0]), closed[s], state, settings, lang
        )
        for s in sorted(np.flatnonzero(small | closed), key=lambda i: str(sites.loc[i, "site_id"]))
    ]
    cand = pd.DataFrame(rows)
    if cand.empty:
        cand = pd.DataFrame(columns=[*CANDIDATE_COLUMNS, *DETAIL_COLUMNS])
    ordered = CANDIDATE_COLUMNS + [c for c in cand.columns if c not in CANDIDATE_COLUMNS]
    cand = cand[ordered].sort_values(["township_code", "site_id"], kind="stable")
    return cand.reset_index(drop=True), opts


def _decide_site(site, s: int, mine, closed: bool, state: dict, settings, lang: str) -> dict:
    """The decision of one small or closed site, with its reason; a merger uses up the
    receiving site's spare places (``state["incoming"]``)."""
    pupils, classes, spare, incoming = (
        state["pupils"], state["classes"], state["spare"], state["incoming"]
    )  # fmt: skip
    row = {c: site[c] for c in ("site_id", "kind", "township_code", "name")}
    row.update(
        pupils=pupils[s],
        receiving_site_id=None,
        receiving_name=None,
        minutes_walk=np.nan,
        minutes_bus=np.nan,
        spare_places=np.nan,
        class_size_after=np.nan,
        boarding_needed=False,
    )
    params: dict = {"grades": site["grades"]}
    if mine.empty:
        code = "no_receiver"
        row["decision"] = "restore" if closed else "keep"
    elif closed:
        code, best = _closed(mine)
        row.update(decision=code, **_where(best))
        params.update(_params(best))
    else:
        code, best = _decide(s, mine, pupils, classes, spare, incoming, settings)
        params.update(_params(best))
        row.update(minutes_walk=best["minutes_walk"], minutes_bus=best["minutes_bus"])
        r = int(best["receiving"])
        left = spare.get(r, np.nan) - incoming[r]
        if code.startswith("merge"):
            incoming[r] += pupils[s]
            row.update(
                decision=code,
                **_where(best),
                boarding_needed=code == "merge_boarding",
                spare_places=left - pupils[s],
                class_size_after=(pupils[r] + incoming[r]) / classes[r]
                if classes[r] > 0
                else np.nan,
            )
            params["spare"] = left - pupils[s]
        else:
            row.update(decision="keep", spare_places=left)
    row["reason_code"] = code
    row["reason_zh"] = merger_reason(code, params, settings, "zh")
    row["reason_en"] = merger_reason(code, params, settings, "en")
    row["reason"] = row[f"reason_{lang}"]
    return row


def _where(best: pd.Series) -> dict:
    return {
        "receiving_site_id": best["receiving_site_id"],
        "receiving_name": best["receiving_name"],
        "minutes_walk": best["minutes_walk"],
        "minutes_bus": best["minutes_bus"],
    }


def _closed(mine: pd.DataFrame) -> tuple[str, pd.Series]:
    """Where a closed site's pupils go now (the fastest open site), and whether that keeps
    within the limits."""
    best = mine.assign(_t=mine["minutes"].fillna(np.inf)).sort_values(
        ["_t", "receiving_site_id"], kind="stable"
    )
    within = best[best["way"].isin(rules.DAILY)]
    if len(within):
        return "stay_closed", within.iloc[0]
    return "restore", best.iloc[0]


def _decide(s, mine, pupils, classes, spare, incoming, settings) -> tuple[str, pd.Series]:
    """Decision code and chosen (or nearest) option for one open small site."""
    within_any = False
    for _, o in mine.iterrows():
        if o["way"] not in rules.DAILY:
            continue
        within_any = True
        r = int(o["receiving"])
        left = spare.get(r, np.nan) - incoming[r]
        after = (pupils[r] + incoming[r] + pupils[s]) / classes[r] if classes[r] > 0 else np.nan
        if not (left < pupils[s]) and not (after >= settings.oversized_class):
            return _MERGE[o["way"]], o
    if within_any:
        return "no_spare", mine.iloc[0]
    boarding = mine[(mine["way"] == rules.BOARD) & (mine["boarding_beds"] > 0)]
    if len(boarding):
        return "merge_boarding", boarding.iloc[0]
    nearest = mine.iloc[0]
    if mine["minutes_bus"].isna().all():
        return "no_bus_road", nearest
    young = (mine["way"] == rules.BEYOND).all()
    return ("too_remote_young" if young else "too_remote"), nearest


def _params(best: pd.Series) -> dict:
    return {
        "name": best["receiving_name"],
        "walk": float(best["minutes_walk"]),
        "bus": float(best["minutes_bus"]),
        "beds": float(best["boarding_beds"]),
        "spare": float(best["spare_places"]),
    }


def screening_against_plan(candidates: pd.DataFrame, plan_sites: pd.DataFrame) -> pd.DataFrame:
    """Where the screening and a plan decide a small site differently (the screening merges
    what the plan keeps, or keeps what it closes), with the plan's reason:
    ``site_id, name, screening, plan, reason_zh, reason_en``."""
    sites = plan_sites.set_index(plan_sites["site_id"].astype(str))
    rows = []
    for r in candidates.itertuples():
        sid = str(r.site_id)
        if sid not in sites.index:
            continue
        action = str(sites.loc[sid, "action"])
        merges = str(r.decision).startswith("merge")
        if merges == (action == "close") or r.decision in ("stay_closed", "restore"):
            continue
        rows.append((sid, str(sites.loc[sid, "name"]), str(r.decision), action,
                     str(sites.loc[sid, "justification_zh"]), str(sites.loc[sid, "justification_en"])))  # fmt: skip
    return pd.DataFrame(
        rows, columns=["site_id", "name", "screening", "plan", "reason_zh", "reason_en"]
    )
