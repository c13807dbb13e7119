"""The way to school: the one place that decides how a pupil gets to a site.

For a pupil of grade level ``g`` and a site reached in ``walk`` minutes on foot and ``bus``
minutes by school bus (NaN or inf where there is no way):

1. ``walk`` when the walk is within ``max_walk_minutes``;
2. else ``bus`` when the ride is within the ride limit of the grade (``young_ride_minutes``
   for kindergarten and grades up to ``young_max_grade``, else ``max_ride_minutes``;
   :func:`ride_limit`);
3. else ``board`` when ``g >= boarding_min_grade`` and the site can be reached at all
   (the weekly trip home);
4. else ``beyond``: beyond every limit (young pupils who do not board, or no way at all).

Every analysis (catchments, accessibility, merger candidates, plans, the site-selection model,
buses, reports) calls :func:`way_to_school`; no other module compares a travel time with a
limit. The minutes of a way are the walk (``walk``), the ride (``bus``), the trip home
(``board``: by bus if a bus can get there, else on foot) or the fastest trip (``beyond``).
"""

from __future__ import annotations

import numpy as np

from ..model.settings import Settings

#: The ways to school, in order of preference.
WAYS: tuple[str, ...] = ("walk", "bus", "board", "beyond")
WALK, BUS, BOARD, BEYOND = range(4)
#: Ways within the limits (a daily trip, or boarding).
WITHIN = (WALK, BUS, BOARD)


def ride_limit(grade, settings: Settings) -> np.ndarray:
    """Longest one-way bus ride (minutes) allowed for pupils of each grade level: the young
    (kindergarten and grades up to ``young_max_grade``) ride at most ``young_ride_minutes``,
    the others ``max_ride_minutes``."""
    young = np.asarray(grade) <= settings.young_max_grade
    return np.where(
        young,
        min(settings.young_ride_minutes, settings.max_ride_minutes),
        settings.max_ride_minutes,
    ).astype(float)


def weekly_ride_limit(settings: Settings) -> float:
    """Longest ride (minutes) of the boarders' weekly trip home and back."""
    return float(settings.weekly_ride_minutes)


def is_young(grade, settings: Settings) -> np.ndarray:
    """Kindergarten and the grades up to ``young_max_grade``: the shorter ride limit."""
    return np.asarray(grade) <= settings.young_max_grade


def way_codes(grade, walk, bus, settings: Settings) -> tuple[np.ndarray, np.ndarray]:
    """The way to school as codes (:data:`WALK`, :data:`BUS`, :data:`BOARD`, :data:`BEYOND`)
    and its minutes, elementwise over broadcastable arrays.

    Parameters
    ----------
    grade
        Grade level(s): K1..K3 = -2..0, primary 1-6, junior 7-9.
    walk, bus
        Minutes on foot and by school bus; NaN or inf where there is no way.
    settings
        The limits.
    """
    grade = np.asarray(grade)
    walk = np.asarray(walk, dtype=float)
    bus = np.asarray(bus, dtype=float)
    grade, walk, bus = np.broadcast_arrays(grade, walk, bus)
    w = np.where(np.isfinite(walk), walk, np.inf)
    b = np.where(np.isfinite(bus), bus, np.inf)
    walks = w <= settings.max_walk_minutes
    rides = ~walks & (b <= ride_limit(grade, settings))
    reach = np.isfinite(w) | np.isfinite(b)
    boards = ~walks & ~rides & reach & (grade >= settings.boarding_min_grade)
    code = np.select([walks, rides, boards], [WALK, BUS, BOARD], BEYOND).astype(np.int8)
    trip_home = np.where(np.isfinite(b), b, w)
    minutes = np.select([walks, rides, boards], [w, b, trip_home], np.fmin(w, b))
    return code, np.where(np.isfinite(minutes), minutes, np.nan)


def way_to_school(grade, walk, bus, settings: Settings) -> tuple[np.ndarray, np.ndarray]:
    """The way to school by name (``walk``, ``bus``, ``board``, ``beyond``) and its minutes.

    See :func:`way_codes`, which this names.
    """
    code, minutes = way_codes(grade, walk, bus, settings)
    return np.asarray(WAYS, dtype=object)[code], minutes


def rideable(grade, bus, settings: Settings) -> np.ndarray:
    """Whether a bus ride of ``bus`` minutes is within the ride limit of the grade."""
    bus = np.asarray(bus, dtype=float)
    return np.where(np.isfinite(bus), bus, np.inf) <= ride_limit(grade, settings)
