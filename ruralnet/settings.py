"""Documented, validated defaults: speeds, thresholds, norms.

A :class:`Settings` object is immutable; derive a changed copy with
:meth:`Settings.replace` or :meth:`Settings.from_dict`. Unknown keys raise
:class:`~ruralnet.errors.SettingsError` so that a typo in ``county.toml`` never passes
silently.

The norms and their sources are listed in the README ("Settings").
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from .errors import SettingsError

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


def _frozen(mapping: Mapping[str, float]) -> Mapping[str, float]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True)
class Settings:
    """Every tunable number of ruralnet, with its default and source.

    Parameters
    ----------
    walk_speed_kmh
        Walking pace of a primary pupil on flat road (Tobler 1993 flat speed for a child, about
        4 km/h).
    connector_speed_kmh
        Speed over the straight line between a site or village and its snapped road node.
        Defaults to walking pace: the last stretch to a road is walked.
    bus_speeds_kmh
        School-bus speed by OSM ``highway`` class; classes not listed use ``bus_default_kmh``.
    bus_default_kmh
        Speed for drivable classes missing from ``bus_speeds_kmh``.
    bus_max_kmh
        Hard cap on any bus speed, also applied to OSM ``maxspeed`` (60 km/h, 校车安全管理条例).
    bus_slow_kmh
        Speed on tracks, unpaved or narrow roads (20 km/h, 校车安全管理条例).
    bus_min_width_m
        Roads tagged narrower than this are driven at ``bus_slow_kmh``.
    bus_steep_grade
        With a DEM: grades steeper than this are driven at ``bus_slow_kmh`` (steep slopes).
    max_walk_grade
        With a DEM: walking grades are clipped to this before Tobler's function (a 90 m DEM
        exaggerates the grade of a road winding along a slope).
    grade_window_m
        Road grades are measured over windows of this length along the road (between
        junctions), not per short OSM segment.
    catchment_cell_m
        Cell size of the raster on which catchment polygons and isochrones are drawn.
    terrain
        Use the county's ``dem.tif`` for slope-dependent walking and bus times.
    max_snap_m
        Snaps to the road network longer than this are flagged (not silently accepted).
    study_area_buffer_km
        Sites farther than this outside the county boundary (or the road data extent) are errors.
    age_shares
        Share of the population per stage, used when a village gives no child counts.
    small_site_pupils
        Sites with fewer pupils than this are merger candidates (policy rule 1: 20).
    merger_kinds
        Kinds of site screened as merger candidates.
    non_receiving_kinds
        Kinds of site that never receive merged pupils (incomplete teaching points).
    max_walk_minutes
        Longest daily one-way walk for grades 1-3 (国办 2018: about 30 minutes).
    max_ride_minutes
        Longest one-way school-bus ride (45 minutes).
    bus_seats, kindergarten_bus_seats
        Seats per bus (GB 24407-2012: 56 primary, 45 kindergarten).
    bus_stop_seconds, bus_seconds_per_pupil
        Service time at a pick-up point: a fixed time per stop plus a time per pupil boarding.
    bus_solver_seconds
        Time the route solver may spend per school and run (exact model or PyVRP; reproducible
        for a seed).
    bus_split_stops
        Let the pupils of one pick-up point ride on more than one bus (fewer buses when seats
        bind; off by default: one bus per village).
    class_size_primary, class_size_incomplete_primary, class_size_junior, class_size_kindergarten
        Class-size norms (建标109-2008; kindergarten 30).
    oversized_class
        A class of this size or more is a 大班额 (56).
    progress
        Show tqdm progress bars on long loops.
    offline
        Refuse online sources (Overpass). The default; set ``False`` to allow downloads.
    cache_dir
        Where Overpass responses are cached (``None``: the user cache folder).
    """

    walk_speed_kmh: float = 4.0
    connector_speed_kmh: float = 4.0
    bus_speeds_kmh: Mapping[str, float] = field(default_factory=lambda: DEFAULT_BUS_SPEEDS_KMH)
    bus_default_kmh: float = 25.0
    bus_max_kmh: float = 60.0
    bus_slow_kmh: float = 20.0
    bus_min_width_m: float = 3.5
    bus_steep_grade: float = 0.1
    max_walk_grade: float = 0.4
    grade_window_m: float = 200.0
    catchment_cell_m: float = 100.0
    terrain: bool = True
    max_snap_m: float = 500.0
    study_area_buffer_km: float = 10.0
    age_shares: Mapping[str, float] = field(default_factory=lambda: DEFAULT_AGE_SHARES)
    small_site_pupils: int = 20
    merger_kinds: tuple[str, ...] = ("teaching_point", "village_primary")
    non_receiving_kinds: tuple[str, ...] = ("teaching_point",)
    max_walk_minutes: float = 30.0
    max_ride_minutes: float = 45.0
    bus_seats: int = 56
    bus_stop_seconds: float = 30.0
    bus_seconds_per_pupil: float = 5.0
    bus_solver_seconds: float = 3.0
    bus_split_stops: bool = False
    kindergarten_bus_seats: int = 45
    class_size_primary: int = 45
    class_size_incomplete_primary: int = 30
    class_size_junior: int = 50
    class_size_kindergarten: int = 30
    oversized_class: int = 56
    progress: bool = True
    offline: bool = True
    cache_dir: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "bus_speeds_kmh", _frozen(self.bus_speeds_kmh))
        object.__setattr__(self, "age_shares", _frozen(self.age_shares))
        for name in ("merger_kinds", "non_receiving_kinds"):
            if not isinstance(getattr(self, name), str):
                object.__setattr__(self, name, tuple(getattr(self, name)))
        problems = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if f.type == "float" and not _positive(value):
                problems.append(f"{f.name} must be a positive number, got {value!r}")
            elif f.type == "int" and not (
                isinstance(value, int) and not isinstance(value, bool) and value > 0
            ):
                problems.append(f"{f.name} must be a positive whole number, got {value!r}")
            elif f.name in ("merger_kinds", "non_receiving_kinds"):
                from .schema import SITE_KINDS

                if isinstance(value, str) or not set(value) <= set(SITE_KINDS):
                    problems.append(
                        f"{f.name} must be site kinds ({', '.join(SITE_KINDS)}), got {value!r}"
                    )
            elif f.type == "bool" and not isinstance(value, bool):
                problems.append(f"{f.name} must be true or false, got {value!r}")
        for name, speed in self.bus_speeds_kmh.items():
            if not _positive(speed):
                problems.append(f"bus_speeds_kmh[{name!r}] must be positive, got {speed!r}")
        unknown_stages = set(self.age_shares) - set(DEFAULT_AGE_SHARES)
        if unknown_stages:
            problems.append(f"age_shares has unknown stages {sorted(unknown_stages)}")
        for stage, share in self.age_shares.items():
            if not (isinstance(share, int | float) and 0 <= share <= 1):
                problems.append(f"age_shares[{stage!r}] must be within 0..1, got {share!r}")
        if problems:
            raise SettingsError("invalid settings:\n  - " + "\n  - ".join(problems))

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None = None, base: Settings | None = None):
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
            For unknown keys or invalid values, all named at once.
        """
        base = base or cls()
        values = dict(values or {})
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SettingsError(
                f"unknown setting(s) {unknown}; known settings are: {', '.join(sorted(known))}"
            )
        for key in ("bus_speeds_kmh", "age_shares"):
            if key in values:
                if not isinstance(values[key], Mapping):
                    raise SettingsError(f"{key} must be a table of values")
                values[key] = {**getattr(base, key), **values[key]}
        return dataclasses.replace(base, **values)

    def replace(self, **changes: Any) -> Settings:
        """Return a copy with ``changes`` applied (validated like :meth:`from_dict`)."""
        return Settings.from_dict(changes, base=self)

    def to_dict(self) -> dict[str, Any]:
        """Plain dictionary of every setting (mappings copied)."""
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["bus_speeds_kmh"] = dict(self.bus_speeds_kmh)
        out["age_shares"] = dict(self.age_shares)
        return out

    def __reduce__(self):
        # read-only mappings do not pickle: rebuild from plain values (Dask ships settings)
        return (_settings_from_dict, (self.to_dict(),))


def _settings_from_dict(values: dict[str, Any]) -> Settings:
    return Settings(**values)


def _positive(value: Any) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
        and value > 0
    )
