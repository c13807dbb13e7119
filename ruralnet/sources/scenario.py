"""Scenarios: the levers a planner tries, as a small TOML file or the ``[plan]`` table of
``county.toml``.

A scenario names settings (any of :class:`ruralnet.model.settings.Settings`), for example::

    name = "保留巾子小学，不调减年级"
    description = "what the township asked for at the meeting of 3 December"
    keep_sites = ["441825104-07"]      # pin sites open
    close_sites = ["441825101-03"]     # close sites (teaching points, village primaries)
    plan_reduces_grades = false        # no site loses its older grades
    keep_township = true               # township first
    largest_primary_school = 1800      # cap school size (大校额)
    kindergarten_buses = true
    max_ride_minutes = 40              # or any other limit

The levers may also stand in a ``[plan]`` table of the file (as in ``county.toml``). They are
applied on top of the county's ``[settings]`` and ``[plan]``; unknown names are refused with
the closest known ones.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..model.errors import SettingsError
from ..model.settings import Settings, plain

#: Keys of a scenario that are not settings.
SCENARIO_KEYS = ("name", "description")


@dataclass(frozen=True)
class Scenario:
    """A named set of levers.

    Attributes
    ----------
    name, description
        What the planner calls it (shown in the report and in ``ruralnet compare``).
    levers
        Setting name -> value, applied on top of the county's settings.
    source
        Where it was read from.
    """

    name: str = ""
    description: str = ""
    levers: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def apply(self, settings: Settings) -> Settings:
        """``settings`` with the levers on top (errors name the scenario's source)."""
        try:
            return Settings.from_dict(self.levers, base=settings)
        except SettingsError as exc:
            raise SettingsError(f"{self.source}: {exc}") from exc

    def record(self) -> dict[str, Any]:
        """A plain record for ``scenario.json``."""
        return {
            "name": self.name,
            "description": self.description,
            "source": self.source,
            "levers": {k: plain(v) for k, v in sorted(self.levers.items())},
        }


def read_scenario(path: str | Path) -> Scenario:
    """Read a scenario file (see the module docstring).

    Raises
    ------
    SettingsError
        If the file is missing or not TOML, or names unknown or invalid settings (all named
        at once, with the closest known names).
    """
    path = Path(path)
    if not path.is_file():
        raise SettingsError(f"scenario file not found: {path}")
    try:
        values = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read the scenario: {exc}") from exc
    return scenario_from(values, str(path))


def scenario_from(values: dict[str, Any], source: str) -> Scenario:
    """A scenario from a TOML table: ``name``, ``description`` and settings, at the top or in
    a ``[plan]`` table; validated against the defaults so that every wrong name is reported."""
    values = dict(values)
    plan = values.pop("plan", {})
    if not isinstance(plan, dict):
        raise SettingsError(f"{source}: plan must be a table of name = value, got {plan!r}")
    meta = {k: values.pop(k) for k in SCENARIO_KEYS if k in values}
    meta.update({k: plan.pop(k) for k in SCENARIO_KEYS if k in plan})
    twice = sorted(set(values) & set(plan))
    if twice:
        raise SettingsError(f"{source}: {twice} given both at the top and in [plan]")
    scenario = Scenario(
        str(meta.get("name", "")), str(meta.get("description", "")), {**values, **plan}, source
    )
    scenario.apply(Settings())  # every unknown or invalid lever named now
    return scenario
