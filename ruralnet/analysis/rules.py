"""The way to school: the one place that decides how a pupil gets to a site.

The law's order (DOMAIN.md "How pupils travel"; 校车安全管理条例 2012 art. 3 and 60; the
provinces' order of preference, e.g. 山东 2016 art. 4: near-home school, public transport,
boarding school, school bus). For a pupil of grade level ``g`` living in an urban committee or
not (``urban``), and a site reached in ``walk`` minutes on foot and ``bus`` minutes by road (NaN
or inf where there is no way), the first step that applies:

1. ``walk``: the walk is within ``max_walk_minutes`` (a near-home school);
2. ``transit``: an urban pupil (residents' committee, county seat) beyond the walk goes by public
   transport or with a guardian, within ``max_ride_minutes`` by road: a way of its own, never a
   school bus (art. 3: school buses are for rural pupils), unless ``urban_school_buses`` is on;
3. ``guardian``: a kindergarten child beyond the walk is brought by a guardian (art. 60) within
   ``escort_minutes`` by road;
4. ``board``: from ``board_first_grade`` (junior middle, grade 7) a pupil beyond the walk boards
   (rural junior middle schools are the township's public boarding schools; 国办 2018);
5. ``bus``: a rural pupil of compulsory age (grade 1-9) rides a school bus within the ride limit
   of the grade (:func:`ride_limit`); kindergarten children only when ``kindergarten_buses`` is
   on (a special case in art. 60);
6. ``board``: from ``boarding_min_grade`` (grade 4; grades 1-3 do not board) when the site can
   be reached at all (the weekly trip home);
7. ``beyond``: beyond every limit.

Every analysis (catchments, accessibility, merger candidates, plans, the site-selection model,
buses, reports) calls :func:`way_codes`; no other module compares a travel time with a limit.
The minutes of a way are the walk (``walk``), the road time (``bus``, ``transit``,
``guardian``), the trip home (``board``: by road if there is one, else on foot) or the fastest
trip (``beyond``). :func:`thin_pickups` applies the one rule that needs a plan's flows: a bus
line serves at least ``min_riders_per_line`` pupils.
"""

from __future__ import annotations

import numpy as np

from ..model.settings import Settings

#: The ways to school by code (the order of preference is the module's rule table).
WAYS: tuple[str, ...] = ("walk", "bus", "board", "beyond", "guardian", "transit")
WALK, BUS, BOARD, BEYOND, GUARDIAN, TRANSIT = range(6)
#: Daily trips (home every day).
DAILY = (WALK, BUS, GUARDIAN, TRANSIT)
#: Ways within the limits (a daily trip, or boarding).
WITHIN = (*DAILY, BOARD)
#: Grade bands of the tables (``assignment.csv``): kindergarten, 1-3, 4-6, 7-9.
GRADE_BANDS: tuple[str, ...] = ("K", "1-3", "4-6", "7-9")


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


def way_codes(grade, walk, bus, settings: Settings, urban=False) -> tuple[np.ndarray, np.ndarray]:
    """The way to school as codes (:data:`WALK`, :data:`BUS`, :data:`BOARD`, :data:`BEYOND`,
    :data:`GUARDIAN`, :data:`TRANSIT`) and its minutes, elementwise over broadcastable arrays,
    by the rule table of the module docstring.

    Parameters
    ----------
    grade
        Grade level(s): K1..K3 = -2..0, primary 1-6, junior 7-9.
    walk, bus
        Minutes on foot and by road (school bus); NaN or inf where there is no way.
    settings
        The limits and switches.
    urban
        Whether the pupils live in an urban committee (the county seat).
    """
    s = settings
    grade, walk, bus, urban = np.broadcast_arrays(
        np.asarray(grade),
        np.asarray(walk, dtype=float),
        np.asarray(bus, dtype=float),
        np.asarray(urban, dtype=bool),
    )
    w = np.where(np.isfinite(walk), walk, np.inf)
    b = np.where(np.isfinite(bus), bus, np.inf)
    reach = np.isfinite(w) | np.isfinite(b)
    far = ~(w <= s.max_walk_minutes)
    town = urban & (not s.urban_school_buses)
    steps = [
        (~far, WALK),
        (far & town & (b <= s.max_ride_minutes), TRANSIT),
        (far & (grade <= 0) & (b <= s.escort_minutes), GUARDIAN),
        (far & (grade >= s.board_first_grade) & reach, BOARD),
        (far & ~town & bus_allowed(grade, s) & (b <= ride_limit(grade, s)), BUS),
        (far & (grade >= s.boarding_min_grade) & reach, BOARD),
    ]
    code = np.full(grade.shape, BEYOND, dtype=np.int8)
    done = np.zeros(grade.shape, dtype=bool)
    for applies, way in steps:
        code[applies & ~done] = way
        done |= applies
    trip_home = np.where(np.isfinite(b), b, w)
    minutes = np.select(
        [code == WALK, code == BOARD, code == BEYOND], [w, trip_home, np.fmin(w, b)], b
    )
    return code, np.where(np.isfinite(minutes), minutes, np.nan)


def grade_class(grade, settings: Settings) -> np.ndarray:
    """A number per grade level that is the same for grades :func:`way_codes` treats alike:
    kindergarten or not, a bus allowed, the young pupils' ride limit, boarding from
    ``board_first_grade`` and from ``boarding_min_grade``."""
    g = np.asarray(grade)
    bits = (g <= 0, bus_allowed(g, settings), g <= settings.young_max_grade,
            g >= settings.board_first_grade, g >= settings.boarding_min_grade)  # fmt: skip
    return sum(np.asarray(b, dtype=np.int64) << k for k, b in enumerate(bits))


def bus_allowed(grade, settings: Settings) -> np.ndarray:
    """Who may ride a school bus at all: compulsory-education pupils (grade 1-9), and
    kindergarten children when ``kindergarten_buses`` is on."""
    grade = np.asarray(grade)
    return (grade >= 1) | bool(settings.kindergarten_buses)


def grade_band(grade) -> np.ndarray:
    """The grade band of each grade level (:data:`GRADE_BANDS`)."""
    g = np.asarray(grade)
    return np.asarray(GRADE_BANDS, dtype=object)[np.select([g <= 0, g <= 3, g <= 6], [0, 1, 2], 3)]


def village_band(origin, grade) -> np.ndarray:
    """A key per pupil group: its village (or origin) and grade band. A village's pupils of
    one band go to one receiving school (:mod:`ruralnet.analysis.siting`)."""
    origin = np.asarray(origin).astype(str)
    return np.char.add(np.char.add(origin, "|"), grade_band(grade).astype(str))


def thin_pickups(pickup, grade, pupils, way, settings: Settings) -> np.ndarray:
    """Whether each bus rider's pick-up is below ``min_riders_per_line``: rows of one pick-up
    (``pickup``: the same origin, site and bus type) whose bus riders add up to fewer are not
    a bus line (贵阳 2023: a line for more than 7 pupils).

    Returns a boolean per row (only rows whose way is :data:`BUS` can be ``True``).
    """
    way = np.asarray(way)
    riders = np.where(way == BUS, np.asarray(pupils, dtype=float), 0.0)
    keys, inverse = np.unique(np.asarray(pickup), return_inverse=True)
    total = np.bincount(inverse, weights=riders, minlength=len(keys))
    return (way == BUS) & (total[inverse] < settings.min_riders_per_line - 1e-9)


def instead_of_a_thin_line(grade, beds, settings: Settings) -> np.ndarray:
    """The way of a rider whose pick-up is below the line minimum: boards from
    ``boarding_min_grade`` at a site with beds (``beds``), else is brought by a guardian."""
    boards = (np.asarray(grade) >= settings.boarding_min_grade) & np.asarray(beds, dtype=bool)
    return np.where(boards, BOARD, GUARDIAN).astype(np.int8)


def way_to_school(
    grade, walk, bus, settings: Settings, urban=False
) -> tuple[np.ndarray, np.ndarray]:
    """The way to school by name (:data:`WAYS`) and its minutes.

    See :func:`way_codes`, which this names.
    """
    code, minutes = way_codes(grade, walk, bus, settings, urban)
    return np.asarray(WAYS, dtype=object)[code], minutes


def rideable(grade, bus, settings: Settings) -> np.ndarray:
    """Whether a bus ride of ``bus`` minutes is within the ride limit of the grade."""
    bus = np.asarray(bus, dtype=float)
    return np.where(np.isfinite(bus), bus, np.inf) <= ride_limit(grade, settings)
