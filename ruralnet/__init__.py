"""ruralnet: plan a rural county's school network on real roads.

Sites and villages as validated GeoDataFrames, road networks from OpenStreetMap files,
fast many-to-many travel times. See the README for the county-folder convention.
"""

import logging

from . import maps
from ._version import __version__
from .buses import plan_buses
from .catchments import analyse_catchments
from .county import County, load_county
from .errors import (
    CountyFolderError,
    NetworkError,
    OfflineError,
    RuralnetError,
    RuralnetWarning,
    SchemaError,
    SettingsError,
)
from .io import join_roster, read_layer, read_roster, write_layer
from .mergers import merger_candidates, site_times
from .network import Network, build_network, network_from_file, network_from_overpass
from .osm import places_from_osm, read_highways, sites_from_osm
from .pipeline import analyse_county
from .plans import current_plan, evaluate, merger_plan, optimised_plan, plan_context
from .schema import validate_sites, validate_villages
from .settings import Settings
from .travel import nearest, od_matrix

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "County",
    "CountyFolderError",
    "Network",
    "NetworkError",
    "OfflineError",
    "RuralnetError",
    "RuralnetWarning",
    "SchemaError",
    "Settings",
    "SettingsError",
    "__version__",
    "analyse_catchments",
    "analyse_county",
    "build_network",
    "current_plan",
    "evaluate",
    "join_roster",
    "load_county",
    "maps",
    "merger_candidates",
    "merger_plan",
    "nearest",
    "network_from_file",
    "network_from_overpass",
    "od_matrix",
    "optimised_plan",
    "places_from_osm",
    "plan_buses",
    "plan_context",
    "read_highways",
    "read_layer",
    "read_roster",
    "site_times",
    "sites_from_osm",
    "validate_sites",
    "validate_villages",
    "write_layer",
]
