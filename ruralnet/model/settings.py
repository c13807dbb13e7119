"""Every policy number and norm of ruralnet, documented with its source and validated.

A :class:`Settings` object is immutable; derive a changed copy with
:meth:`Settings.replace` or :meth:`Settings.from_dict`. Unknown keys raise
:class:`~ruralnet.model.errors.SettingsError` with a "did you mean", so that a typo in
``county.toml`` never passes silently; wrong types are named.

Each field carries its source in its metadata (``Settings.describe()`` lists them all; the
README's settings table is checked against it by the tests). Labels, chart lines and policy
texts are built from these numbers, so an override in ``county.toml`` shows everywhere.
"""

from __future__ import annotations

import dataclasses
import difflib
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .errors import SettingsError
from .kinds import SITE_KINDS

#: School-bus speed (km/h) by OSM ``highway`` class. The 校车安全管理条例 (2012) caps a school
#: bus at 60 km/h on ordinary roads and 20 km/h on sharp bends, steep, narrow or muddy roads.
DEFAULT_BUS_SPEEDS_KMH: Mapping[str, float] = MappingProxyType(
    {
        "motorway": 60.0,
        "motorway_link": 40.0,
        "trunk": 60.0,
        "trunk_link": 40.0,
        "primary": 55.0,
        "primary_link": 40.0,
        "secondary": 50.0,
        "secondary_link": 35.0,
        "tertiary": 40.0,
        "tertiary_link": 30.0,
        "unclassified": 30.0,
        "residential": 25.0,
        "living_street": 15.0,
        "road": 25.0,
        "service": 20.0,
        "track": 20.0,
        "busway": 40.0,
    }
)

#: Share of the population in each school stage (kindergarten 3-5, primary 6-11, junior 12-14)
#: when a village gives only its population. Defaults: one-year age shares of China's 2020
#: census (about 1.2 % per year of age for ages 3-14); a county overrides them in county.toml.
DEFAULT_AGE_SHARES: Mapping[str, float] = MappingProxyType(
    {"kindergarten": 0.036, "primary": 0.074, "junior": 0.036}
)

#: When the morning bus must have unloaded at a school (its bell), by kind of site. Staggered
#: bells let one bus serve several schools in turn: junior schools first, kindergartens last.
DEFAULT_BELL_TIMES: Mapping[str, str] = MappingProxyType(
    {
        "central_kindergarten": "08:30",
        "kindergarten": "08:30",
        "central_primary": "08:00",
        "village_primary": "08:00",
        "teaching_point": "08:00",
        "junior_middle": "07:30",
        "nine_year": "07:40",
        "boarding_school": "07:30",
        "special_education": "08:30",
    }
)

#: When each kind of site lets its pupils out in the afternoon: kindergartens first, so that a
#: bus can take them home and still reach a later school.
DEFAULT_DISMISSAL_TIMES: Mapping[str, str] = MappingProxyType(
    {
        "central_kindergarten": "16:30",
        "kindergarten": "16:30",
        "central_primary": "17:00",
        "village_primary": "17:00",
        "teaching_point": "17:00",
        "junior_middle": "17:30",
        "nine_year": "17:20",
        "boarding_school": "17:30",
        "special_education": "16:30",
    }
)

#: Settings that are tables (merged into the defaults by :meth:`Settings.from_dict`).
MAPPING_FIELDS: tuple[str, ...] = (
    "bus_speeds_kmh",
    "age_shares",
    "bell_times",
    "bell_windows",
    "dismissal_times",
    "dismissal_windows",
)

#: How demand is counted in a run (see ``demand_basis``).
DEMAND_BASES: tuple[str, ...] = ("enrolled", "census")


#: Settings of earlier versions and what replaced them (named in the error).
RENAMED = {
    "plan_solver_seconds": "plan_solver_nodes",
    "bus_solver_seconds": "bus_solver_iterations",
    "fleet_solver_seconds": "fleet_solver_nodes",
}


def _s(source: str, **rules: Any) -> dict:
    """Field metadata: the source of a default, and validation rules."""
    return {"source": source, **rules}


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


def clock_text(seconds: float) -> str:
    """Seconds after midnight as ``HH:MM`` (to the whole second, then the minute it falls in;
    past midnight wraps)."""
    seconds = round(float(seconds)) % 86_400
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}"


def clock_window(value: Any) -> tuple[float, float] | None:
    """A window of the day ``"HH:MM-HH:MM"`` as ``(early, late)`` seconds after midnight;
    ``None`` when it is not one (or ends before it starts)."""
    if not isinstance(value, str) or value.count("-") != 1:
        return None
    early, late = (clock_seconds(part) for part in value.split("-"))
    if early is None or late is None or late < early:
        return None
    return early, late


def clock_seconds(value: Any) -> float | None:
    """A time of day ``"HH:MM"`` (or ``HH:MM:SS``, a ``datetime.time``) in seconds after
    midnight; ``None`` when it is not one."""
    if hasattr(value, "hour") and hasattr(value, "minute"):
        return value.hour * 3600.0 + value.minute * 60.0 + getattr(value, "second", 0)
    if not isinstance(value, str):
        return None
    parts = value.strip().split(":")
    # ASCII digits only: str.isdigit() also accepts "²" or "٣", which int() then refuses
    if len(parts) not in (2, 3) or not all(p.isascii() and p.isdigit() for p in parts):
        return None
    h, m, sec = (int(p) for p in [*parts, "0"][:3])
    if h > 23 or m > 59 or sec > 59:
        return None
    return h * 3600.0 + m * 60.0 + sec


@dataclass(frozen=True)
class Settings:
    """Every tunable number of ruralnet, with its default and source.

    The source of every field is in ``dataclasses.fields(Settings)[i].metadata["source"]``
    and in :meth:`describe`; the README's "Settings" table lists them.
    """

    # --- travel ------------------------------------------------------------------------
    walk_speed_kmh: float = field(
        default=4.0, metadata=_s("a primary pupil on flat road (Tobler 1993; DOMAIN.md)")
    )
    connector_speed_kmh: float = field(
        default=4.0, metadata=_s("the walk from a village or site to its road node")
    )
    bus_speeds_kmh: Mapping[str, float] = field(
        default_factory=lambda: DEFAULT_BUS_SPEEDS_KMH,
        metadata=_s("by OSM highway class, capped by 校车安全管理条例 (2012)"),
    )
    bus_default_kmh: float = field(
        default=25.0,
        metadata=_s(
            "drivable OSM highway classes missing from bus_speeds_kmh (0: such roads unused)",
            zero=True,
        ),
    )
    bus_max_kmh: float = field(
        default=60.0, metadata=_s("校车安全管理条例 (2012): 60 km/h on ordinary roads")
    )
    bus_slow_kmh: float = field(
        default=20.0,
        metadata=_s("校车安全管理条例 (2012): 20 km/h on bends, slopes, narrow or muddy roads"),
    )
    bus_min_width_m: float = field(
        default=3.5, metadata=_s("narrower roads are driven at bus_slow_kmh")
    )
    bus_steep_grade: float = field(
        default=0.10, metadata=_s("with a DEM: steeper roads are driven at bus_slow_kmh")
    )
    max_walk_grade: float = field(
        default=0.4, metadata=_s("with a DEM: walking grades clipped (a 90 m DEM exaggerates)")
    )
    grade_window_m: float = field(
        default=200.0, metadata=_s("with a DEM: road grades measured over windows this long")
    )
    terrain: bool = field(default=True, metadata=_s("use the county's dem.tif when present"))
    max_snap_m: float = field(default=500.0, metadata=_s("longer snaps to a road are flagged"))
    study_area_buffer_km: float = field(
        default=10.0, metadata=_s("sites farther outside the county boundary are errors")
    )
    catchment_cell_m: float = field(
        default=100.0, metadata=_s("raster cell of catchment polygons and isochrones")
    )
    time_bands_minutes: tuple[float, ...] = field(
        default=(15.0, 30.0, 45.0, 60.0),
        metadata=_s("isochrone bands and the 'within N minutes' indicators", increasing=True),
    )

    # --- demand ------------------------------------------------------------------------
    age_shares: Mapping[str, float] = field(
        default_factory=lambda: DEFAULT_AGE_SHARES,
        metadata=_s("China 2020 census, about 1.2 % of the population per year of age"),
    )
    demand_basis: str = field(
        default="enrolled",
        metadata=_s(
            "enrolled: each site's pupils placed in the villages it serves; census: the "
            "villages' children. One basis for every table of a run",
            choices=DEMAND_BASES,
        ),
    )

    spread_min_population: float = field(
        default=3000.0,
        metadata=_s(
            "a village or residents' committee of more people is spread over its cells of "
            "population.tif into demand points (illustrative: a town district; 0: never)",
            zero=True,
        ),
    )
    spread_spacing_m: float = field(
        default=500.0,
        metadata=_s("distance between the demand points of a spread village (a few hundred m)"),
    )

    # --- the way to school ---------------------------------------------------------------
    max_walk_minutes: float = field(
        default=30.0, metadata=_s("国办 2018 指导意见: grades 1-3 about 30 minutes one way")
    )
    max_ride_minutes: float = field(
        default=45.0, metadata=_s("PNAS 2019 and azavea bus plans: 45 minutes one way")
    )
    boarding_min_grade: int = field(
        default=4,
        metadata=_s("国办 2018 指导意见: grades 1-3 do not board; grades 4-6 may", low=1, high=9),
    )
    young_max_grade: int = field(
        default=3,
        metadata=_s(
            "国办 2018 指导意见: grades 1-3 (and kindergarten) attend near home", low=0, high=9
        ),
    )
    young_ride_minutes: float = field(
        default=30.0,
        metadata=_s("国办 2018 指导意见: grades 1-3 one way within about 30 minutes"),
    )
    escort_minutes: float = field(
        default=30.0,
        metadata=_s(
            "校车安全管理条例 (2012) art. 60: guardians bring kindergarten children; the limit "
            "by road is illustrative, after 国办 2018's 30 minutes for the youngest"
        ),
    )
    kindergarten_buses: bool = field(
        default=False,
        metadata=_s("校车安全管理条例 (2012) art. 60: a kindergarten bus only in special cases"),
    )
    urban_school_buses: bool = field(
        default=False,
        metadata=_s(
            "校车安全管理条例 (2012) art. 3: school buses for rural pupils; urban pupils go by "
            "public transport or with guardians"
        ),
    )
    kindergarten_classes_near_home: bool = field(
        default=True,
        metadata=_s(
            "校车安全管理条例 (2012) art. 60: kindergartens planned so children attend near home; "
            "the plan adds a class (附设幼儿班) at a kept site instead of a bus"
        ),
    )
    kindergarten_class_kinds: tuple[str, ...] = field(
        default=(
            "teaching_point",
            "village_primary",
            "central_primary",
            "nine_year",
            "kindergarten",
        ),
        metadata=_s("kinds of site that may host a kindergarten class near home", kinds=True),
    )
    board_first_grade: int = field(
        default=7,
        metadata=_s(
            "国办 2018 指导意见: rural junior middle schools are the township's public boarding "
            "schools; from this grade pupils beyond the walk board (10: none board first)",
            low=1,
            high=10,
        ),
    )
    min_riders_per_line: int = field(
        default=8,
        metadata=_s("贵阳市校车安全管理实施办法 (2023): a bus line for more than 7 pupils", low=1),
    )
    keep_township: bool = field(
        default=True,
        metadata=_s(
            "清府办函〔2024〕15号: concentrate at the township; a moved pupil goes to another "
            "township only when no school of their own can take them within the limits"
        ),
    )
    other_township_boarding_cost: float = field(
        default=20_000.0,
        metadata=_s(
            "清府办函〔2024〕15号 (concentrate at the township): the plan model's price (yuan a "
            "year) of a boarder placed outside the own township; illustrative, 0: no preference",
            zero=True,
        ),
    )
    boarding_kinds: tuple[str, ...] = field(
        default=("central_primary", "junior_middle", "nine_year", "boarding_school"),
        metadata=_s(
            "kinds of site that may add boarding beds (and any site with beds)", kinds=True
        ),
    )

    # --- policy ------------------------------------------------------------------------
    small_site_pupils: int = field(
        default=20,
        metadata=_s(
            "清府办函〔2024〕15号: teaching points under 20 pupils merged by 2025 (0: no minimum)",
            low=0,
        ),
    )
    small_site_rule_year: int = field(
        default=0,
        metadata=_s(
            "first school year a plan over several years applies the small_site_pupils rule in "
            "(0: every year; 清府办函〔2024〕15号: by 2025)",
            low=0,
            high=2100,
        ),
    )
    plan_closes_larger_sites: bool = field(
        default=False,
        metadata=_s(
            "清府办函〔2024〕15号 merges sites under small_site_pupils; on: the further-"
            "concentration variant (进一步集中方案) may also close or reduce larger sites"
        ),
    )
    merger_kinds: tuple[str, ...] = field(
        default=("teaching_point", "village_primary"),
        metadata=_s("kinds of site screened as merger candidates", kinds=True),
    )
    non_receiving_kinds: tuple[str, ...] = field(
        default=("teaching_point",),
        metadata=_s("kinds that never receive merged pupils (incomplete sites)", kinds=True),
    )
    special_education_population: int = field(
        default=200_000,
        metadata=_s("清府办函〔2024〕15号: counties of 200,000+ people have a special school"),
    )
    near_full_share: float = field(
        default=0.95,
        metadata=_s(
            "a school this full of its places is flagged in the places check (illustrative)",
            share=True,
        ),
    )
    largest_primary_school: float = field(
        default=2000.0,
        metadata=_s(
            "Qingyuan plan: 大校额 basically eliminated by 2027; no national figure found, "
            "illustrative (provincial practice)"
        ),
    )
    largest_junior_school: float = field(
        default=2500.0,
        metadata=_s("same, for junior middle, boarding and nine-year schools; illustrative"),
    )
    oversized_class: int = field(
        default=56, metadata=_s("Ministry of Education: a class of 56+ is 大班额")
    )
    class_size_primary: int = field(default=45, metadata=_s("建标109-2008"))
    class_size_incomplete_primary: int = field(default=30, metadata=_s("建标109-2008"))
    class_size_junior: int = field(default=50, metadata=_s("建标109-2008"))
    class_size_kindergarten: int = field(
        default=30, metadata=_s("seed plans: 9 classes = 270 places")
    )
    keep_sites: tuple[str, ...] = field(
        default=(), metadata=_s("site ids the county pins open (a justification of its own)")
    )
    close_sites: tuple[str, ...] = field(
        default=(),
        metadata=_s(
            "site ids the county closes in the plan (a lever: teaching points and village "
            "primaries of any size; kept, with the reason, if some pupils have nowhere to go)"
        ),
    )
    plan_reduces_grades: bool = field(
        default=True,
        metadata=_s(
            "the plan may move a small village primary's older grades on (国办 2018: grades 1-3 "
            "near home); off: a site keeps all its grades or closes"
        ),
    )
    max_class_growth: float = field(
        default=0.5,
        metadata=_s("a site may add at most this share of its classes (new classrooms)"),
    )

    # --- costs (yuan per year; illustrative defaults, set them per county) ---------------
    site_cost_per_year: float = field(
        default=100_000.0,
        metadata=_s(
            "illustrative: upkeep of a separate site plus the minimum staff it needs beyond "
            "the pupil-ratio posts (about one teacher post)"
        ),
    )
    reopen_cost_per_year: float = field(
        default=20_000.0, metadata=_s("illustrative: refurbishing a closed site, annualised")
    )
    classroom_cost_per_year: float = field(
        default=10_000.0,
        metadata=_s("illustrative: a 60 m² classroom at 3,000 yuan/m² over 30 years, plus upkeep"),
    )
    place_cost_per_year: float = field(
        default=300.0, metadata=_s("illustrative: furniture and equipment of a new place")
    )
    bed_cost_per_year: float = field(
        default=1_000.0,
        metadata=_s("illustrative: 8 m² of dormitory at 3,000 yuan/m² over 30 years, plus upkeep"),
    )
    boarder_cost_per_year: float = field(
        default=2_000.0,
        metadata=_s("illustrative: food and supervision of a boarder (living subsidy 1,000-1,250)"),
    )
    temporary_classroom_cost_per_year: float = field(
        default=30_000.0,
        metadata=_s(
            "illustrative: a rented or modular classroom with its places, one year (the "
            "plan over several years builds only where that is dearer over the years needed)"
        ),
    )
    classroom_min_years: int = field(
        default=8,
        metadata=_s(
            "the plan over several years pays for a classroom it builds for at least this many "
            "years, and flags one its pupils need for fewer",
            low=1,
            high=50,
        ),
    )
    discount_rate: float = field(
        default=0.03,
        metadata=_s(
            "yearly discount of later years' costs in the plan over several years",
            share=True,
            high=0.2,
        ),
    )
    bus_cost_per_year: float = field(
        default=70_000.0,
        metadata=_s(
            "illustrative: a 56-seat school bus (500,000 yuan over 10 years) and insurance"
        ),
    )
    driver_cost_per_year: float = field(
        default=60_000.0, metadata=_s("illustrative: a school-bus driver's wage")
    )
    bus_km_cost: float = field(default=3.0, metadata=_s("illustrative: fuel and wear per bus-km"))
    pupil_hour_value: float = field(
        default=5.0, metadata=_s("illustrative: value of an hour of a pupil's travel time")
    )
    school_days: int = field(default=190, metadata=_s("a school year of 38 weeks of 5 days"))
    school_weeks: int = field(default=38, metadata=_s("boarders travel home once a week"))
    plan_solver_nodes: int = field(
        default=5_000,
        metadata=_s("work limit of the exact plan model: HiGHS branch-and-bound nodes", low=1),
    )

    # --- school buses --------------------------------------------------------------------
    bus_seats: int = field(
        default=56,
        metadata=_s("GB 24407-2012: primary-school bus, 56 (10..70 seats)", low=10, high=70),
    )
    kindergarten_bus_seats: int = field(
        default=45,
        metadata=_s("GB 24407-2012: kindergarten bus, 45 (10..70 seats)", low=10, high=70),
    )
    bus_stop_seconds: float = field(default=30.0, metadata=_s("fixed time at a pick-up"))
    bus_seconds_per_pupil: float = field(default=5.0, metadata=_s("per pupil boarding"))
    bus_solver_iterations: int = field(
        default=20_000,
        metadata=_s("work limit of the route solver per school and run: PyVRP iterations", low=1),
    )
    bus_exact_sets: int = field(
        default=30_000,
        metadata=_s(
            "work limit of the exact fewest-bus model per school: stop sets listed, more leave "
            "the school to PyVRP alone (measured: the same fleets as 300,000, 1.4x faster)",
            low=1,
        ),
    )
    bus_split_stops: bool = field(
        default=False, metadata=_s("let a village's pupils ride on more than one bus")
    )
    bell_times: Mapping[str, str] = field(
        default_factory=lambda: DEFAULT_BELL_TIMES,
        metadata=_s("by kind of site (a site's bell_time column overrides): buses chain"),
    )
    bell_windows: Mapping[str, str] = field(
        default_factory=dict,
        metadata=_s(
            "by kind of site, 'HH:MM-HH:MM': the county fleet chooses each school's bell in its "
            "window (a site's bell_window column overrides; none: the bell_times)"
        ),
    )
    dismissal_times: Mapping[str, str] = field(
        default_factory=lambda: DEFAULT_DISMISSAL_TIMES,
        metadata=_s("by kind of site: afternoon runs leave then; buses chain in reverse"),
    )
    dismissal_windows: Mapping[str, str] = field(
        default_factory=dict,
        metadata=_s(
            "by kind of site, 'HH:MM-HH:MM': the county fleet chooses each school's dismissal "
            "in its window (none: the dismissal_times)"
        ),
    )
    bus_dwell_minutes: float = field(
        default=3.0, metadata=_s("a bus unloads at a school before it can go on")
    )
    bus_fleet: bool = field(
        default=True, metadata=_s("buses serve several schools in turn (one county fleet)")
    )
    bus_mixed_minutes: float = field(
        default=10.0,
        metadata=_s(
            "one run may carry the pupils of two schools at most this many minutes apart, "
            "unloading each in turn (mixed loads; 0: one school per run)",
            zero=True,
        ),
    )
    bus_mixed_schools: int = field(
        default=3,
        metadata=_s(
            "the most schools one mixed run unloads at in turn (a township's junior, primary "
            "and second primary; 2: pairs only)",
            low=2,
            high=5,
        ),
    )
    bus_early_minutes: float = field(
        default=30.0,
        metadata=_s(
            "a run may unload a school at most this many minutes before its bell (in the "
            "afternoon: collect its pupils at most this long after their dismissal); 0: by "
            "the bell",
            zero=True,
        ),
    )
    bus_slot_minutes: float = field(
        default=10.0,
        metadata=_s(
            "a run's start of unloading is chosen among times at most this many minutes "
            "apart, from the bell back to bus_early_minutes before it",
            low=1,
            high=60,
        ),
    )
    fleet_solver_nodes: int = field(
        default=5_000,
        metadata=_s("work limit of each fleet selection: HiGHS branch-and-bound nodes", low=1),
    )
    fleet_rounds: int = field(
        default=0,
        metadata=_s("rounds of fleet-aware rerouting (each: fewer buses or none, slower)", low=0),
    )
    weekly_arrival: str = field(
        default="17:30", metadata=_s("boarders are back at school on Sunday by", clock=True)
    )
    weekly_ride_minutes: float = field(
        default=120.0, metadata=_s("longest ride of the weekly boarders' trip")
    )

    # --- years and teachers ----------------------------------------------------------------
    enrolment_year: int = field(
        default=2024,
        metadata=_s(
            "school year of the sites' pupils: the projection starts there", low=2000, high=2100
        ),
    )
    projection_horizon: int = field(
        default=2030, metadata=_s("last year projected", low=2000, high=2100)
    )
    progression_ratio: float | None = field(
        default=None,
        metadata=_s("pupils of grade g+1 next year per pupil of grade g (None: from the roster)"),
    )
    rural_outflow_rate: float | None = field(
        default=None,
        metadata=_s(
            "share of pupils outside the county seat's township who leave their village each "
            "year (None: from the county's census urban share, urbanisation_per_year / (1 - "
            "urban_share); at most half: more is no drift but an emptied county)",
            share=True,
            high=0.5,
        ),
    )
    urbanisation_per_year: float = field(
        default=0.0142,
        metadata=_s(
            "growth of the urban share of China's population a year: 49.68 % (2010) to "
            "63.89 % (2020), 6th and 7th censuses",
            share=True,
            high=0.1,
        ),
    )
    seat_share_of_outflow: float = field(
        default=0.5,
        metadata=_s(
            "illustrative: share of the families leaving the villages who move to the county "
            "seat (their children enrol there; the others leave the county)",
            share=True,
        ),
    )
    births_file: str | None = field(
        default=None,
        metadata=_s("births series (year, births_million); None: China, NBS communiqués 2010-2024"),
    )
    primary_pupils_per_teacher: float = field(
        default=19.0, metadata=_s("中央编办 教育部 财政部 2014 (72号): primary 1:19")
    )
    junior_pupils_per_teacher: float = field(
        default=13.5, metadata=_s("中央编办 教育部 财政部 2014 (72号): junior 1:13.5")
    )
    kindergarten_teachers_per_class: float = field(
        default=2.0, metadata=_s("幼儿园教职工配备标准（暂行）2013: two teachers a class")
    )
    small_site_teachers_per_class: float = field(
        default=1.0,
        metadata=_s(
            "72号: teaching points and village primaries by class ratio too (illustrative)"
        ),
    )
    boarders_per_extra_post: float = field(
        default=50.0, metadata=_s("illustrative: one more post (生活老师) per 50 boarders")
    )
    travelling_teacher_trips: float = field(
        default=4.0,
        metadata=_s("illustrative: 走教 visits a week to each teaching point kept in a district"),
    )

    # --- running -----------------------------------------------------------------------
    progress: bool = field(default=True, metadata=_s("tqdm progress bars on long loops"))
    offline: bool = field(default=True, metadata=_s("refuse online sources (Overpass)"))
    cache_dir: str | None = field(
        default=None, metadata=_s("Overpass cache folder (None: the user cache)")
    )

    def __post_init__(self) -> None:
        for key in MAPPING_FIELDS:
            object.__setattr__(self, key, _frozen(getattr(self, key)))
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type.startswith("tuple") and isinstance(value, list):
                object.__setattr__(self, f.name, tuple(value))
        problems = [p for f in dataclasses.fields(self) for p in _check(f, getattr(self, f.name))]
        for name, speed in self.bus_speeds_kmh.items():
            if not _positive(speed):
                problems.append(f"bus_speeds_kmh[{name!r}] must be positive, got {speed!r}")
        both = sorted(set(map(str, self.keep_sites)) & set(map(str, self.close_sites)))
        if both:
            problems.append(f"keep_sites and close_sites both name {both}")
        unknown_stages = set(self.age_shares) - set(DEFAULT_AGE_SHARES)
        if unknown_stages:
            problems.append(f"age_shares has unknown stages {sorted(unknown_stages)}")
        for stage, share in self.age_shares.items():
            if not (_number(share) and 0 <= share <= 1):
                problems.append(f"age_shares[{stage!r}] must be within 0..1, got {share!r}")
        times = (clock_seconds, "a time HH:MM")
        windows = (clock_window, "'HH:MM-HH:MM' (early to late)")
        for key, (parse, form) in {"bell_times": times, "dismissal_times": times,
                                   "bell_windows": windows, "dismissal_windows": windows}.items():  # fmt: skip
            table = getattr(self, key)
            unknown_kinds = set(table) - set(SITE_KINDS)
            if unknown_kinds:
                problems.append(f"{key} has unknown kinds {sorted(unknown_kinds)}")
            for kind, value in table.items():
                if parse(value) is None:
                    problems.append(f"{key}[{kind!r}] must be {form}, got {value!r}")
        if problems:
            raise SettingsError("invalid settings:\n  - " + "\n  - ".join(problems))

    @classmethod
    def from_dict(
        cls, values: Mapping[str, Any] | None = None, base: Settings | None = None
    ) -> Settings:
        """Build settings from a mapping (e.g. the ``[settings]`` table of ``county.toml``).

        Parameters
        ----------
        values
            Keys and values to override; mappings (``bus_speeds_kmh``, ``age_shares``) are
            merged into the defaults rather than replacing them.
        base
            Settings to start from (default: the defaults).

        Raises
        ------
        SettingsError
            For unknown keys (with the closest known names) or invalid values, all named at
            once.
        """
        base = base or cls()
        if values is not None and not isinstance(values, Mapping):
            raise SettingsError(
                f"settings must be a table of name = value, got {type(values).__name__} {values!r}"
            )
        values = dict(values or {})
        known = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(values) - set(known))
        renamed = [k for k in unknown if k in RENAMED]
        if renamed:
            raise SettingsError(
                "setting(s) replaced: "
                + "; ".join(f"{k} is now {RENAMED[k]}" for k in renamed)
                + " (solvers stop on work, not on the clock, so that the same input gives the"
                " same tables under any load)"
            )
        if unknown:
            raise SettingsError(
                "unknown setting(s): "
                + "; ".join(_did_you_mean(k, known) for k in unknown)
                + f". Known settings: {', '.join(sorted(known))}"
            )
        for key in MAPPING_FIELDS:
            if key in values:
                if not isinstance(values[key], Mapping):
                    raise SettingsError(f"{key} must be a table of values, got {values[key]!r}")
                values[key] = {**getattr(base, key), **values[key]}
        return dataclasses.replace(base, **values)

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with ``changes`` applied (validated like :meth:`from_dict`)."""
        return Settings.from_dict(changes, base=self)

    def changes(self) -> dict[str, Any]:
        """The settings that differ from the defaults, as plain values (lists, dicts) for
        JSON; the running switches (``progress``, ``cache_dir``) left out."""
        default = Settings().to_dict()
        return {
            k: plain(v)
            for k, v in self.to_dict().items()
            if v != default[k] and k not in ("progress", "cache_dir")
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain dictionary of every setting (mappings copied)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for key in MAPPING_FIELDS:
            out[key] = dict(getattr(self, key))
        return out

    @classmethod
    def describe(cls) -> list[dict[str, Any]]:
        """Every setting with its default and source (for documentation and reports)."""
        default = cls()
        return [
            {"name": f.name, "default": getattr(default, f.name), "source": f.metadata["source"]}
            for f in dataclasses.fields(cls)
        ]

    def __reduce__(self):
        # read-only mappings do not pickle: rebuild from plain values (Dask ships settings)
        return (_settings_from_dict, (self.to_dict(),))


def _settings_from_dict(values: dict[str, Any]) -> Settings:
    return Settings(**values)


def _did_you_mean(key: str, known: list[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    return f"{key!r} (did you mean {close[0]!r}?)" if close else repr(key)


#: The largest magnitude a number setting may have: beyond it, costs and counts no longer fit
#: the whole-number tables (1e30 yuan crashed the cost table's cast to integers).
LARGEST_SETTING = 1e12


def plain(value: Any) -> Any:
    """A setting's value as JSON has it: tuples as lists, mappings as dicts."""
    if isinstance(value, tuple):
        return [plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items()}
    return value


def _number(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and abs(value) <= LARGEST_SETTING
    )


def _positive(value: Any) -> bool:
    return _number(value) and value > 0


def _check(f: dataclasses.Field, value: Any) -> list[str]:
    """Problems of one field's value, by its declared type and metadata."""
    meta, kind = f.metadata, f.type
    if kind in ("float", "float | None") and meta.get("share"):
        if value is None and kind == "float | None":
            return []
        high = meta.get("high", 1)
        ok = _number(value) and 0 <= value < 1 and value <= high
        span = "up to 1" if high == 1 else f"up to {high:g}"
        return [] if ok else [f"{f.name} must be a share from 0 {span}, got {value!r}"]
    if kind in ("float", "float | None"):
        if value is None and kind == "float | None":
            return []
        if meta.get("zero") and _number(value) and value == 0:
            return []  # 0 switches the thing off
        if _positive(value):
            return []
        return [f"{f.name} must be a positive number up to {LARGEST_SETTING:g}, got {value!r}"]
    if kind == "str | None":
        ok = value is None or isinstance(value, str)
        return [] if ok else [f"{f.name} must be a text or none, got {value!r}"]
    if kind == "int":
        low, high = meta.get("low", 1), meta.get("high", math.inf)
        ok = isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        span = f"{low}..{high:g}" if math.isfinite(high) else f">= {low}"
        return [] if ok else [f"{f.name} must be a whole number {span}, got {value!r}"]
    if kind == "bool":
        return [] if isinstance(value, bool) else [f"{f.name} must be true or false, got {value!r}"]
    if kind == "str" and meta.get("clock"):
        ok = clock_seconds(value) is not None
        return [] if ok else [f"{f.name} must be a time HH:MM, got {value!r}"]
    if kind == "str":
        choices = meta.get("choices")
        if not isinstance(value, str) or (choices and value not in choices):
            return [f"{f.name} must be one of {', '.join(choices)}, got {value!r}"]
        return []
    if kind == "tuple[float, ...]":
        ok = isinstance(value, tuple) and len(value) > 0 and all(_positive(v) for v in value)
        if ok and meta.get("increasing"):
            ok = all(a < b for a, b in itertools.pairwise(value))
        return [] if ok else [f"{f.name} must be increasing positive numbers, got {value!r}"]
    if kind == "tuple[str, ...]" and not meta.get("kinds"):
        ok = isinstance(value, tuple) and all(isinstance(v, str) for v in value)
        return [] if ok else [f"{f.name} must be a list of texts, got {value!r}"]
    if meta.get("kinds") and (
        isinstance(value, str) or not isinstance(value, tuple) or not set(value) <= set(SITE_KINDS)
    ):
        return [f"{f.name} must be site kinds ({', '.join(SITE_KINDS)}), got {value!r}"]
    return []
