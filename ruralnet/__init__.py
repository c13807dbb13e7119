"""ruralnet: plan a rural county's school network on real roads.

Sites and villages as validated GeoDataFrames, road networks from OpenStreetMap files,
fast many-to-many travel times, the way-to-school rules, merger candidates, plans, school
buses, maps and reports. See the README's "Architecture" section for the sub-packages.

``import ruralnet`` is light: the public names below are imported on first use.
"""

from __future__ import annotations

import importlib
import logging

from ._version import __version__

logging.getLogger(__name__).addHandler(logging.NullHandler())

#: Public name -> module that defines it (imported lazily, on first access).
_EXPORTS: dict[str, str] = {
    "County": "network.county",
    "load_county": "network.county",
    "CountyFolderError": "model.errors",
    "NetworkError": "model.errors",
    "OfflineError": "model.errors",
    "RuralnetError": "model.errors",
    "RuralnetWarning": "model.errors",
    "SchemaError": "model.errors",
    "SettingsError": "model.errors",
    "Settings": "model.settings",
    "validate_sites": "model.schema",
    "validate_villages": "model.schema",
    "read_layer": "sources.layers",
    "read_roster": "sources.roster",
    "join_roster": "sources.roster",
    "places_from_osm": "sources.osm",
    "read_highways": "sources.osm",
    "sites_from_osm": "sources.osm",
    "Network": "network.build",
    "build_network": "network.build",
    "network_from_file": "network.build",
    "network_from_overpass": "network.build",
    "od_matrix": "network.travel",
    "nearest": "network.travel",
    "analyse_catchments": "analysis.catchments",
    "merger_candidates": "analysis.mergers",
    "site_times": "analysis.times",
    "county_times": "analysis.times",
    "plan_context": "analysis.plans",
    "current_plan": "analysis.plans",
    "merger_plan": "analysis.plans",
    "optimised_plan": "analysis.siting",
    "evaluate": "analysis.evaluation",
    "plan_buses": "buses.plan",
    "write_layer": "outputs.files",
    "analyse_county": "study",
    "analyse_years": "study",
    "run_county": "jobs",
    "run_counties": "jobs",
    "JobOptions": "jobs",
}
#: Sub-packages and modules reachable as attributes (``ruralnet.datasets.bundled_county()``).
_MODULES: dict[str, str] = {
    "datasets": "sources.datasets",
    "maps": "outputs.maps",
    "model": "model",
    "sources": "sources",
    "network": "network",
    "analysis": "analysis",
    "buses": "buses",
    "outputs": "outputs",
    "jobs": "jobs",
    "study": "study",
}

__all__ = ["__version__", *_EXPORTS, *_MODULES]


def __getattr__(name: str):
    if name in _EXPORTS:
        value = getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    elif name in _MODULES:
        value = importlib.import_module(f".{_MODULES[name]}", __name__)
    else:
        raise AttributeError(f"module 'ruralnet' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS, *_MODULES])
