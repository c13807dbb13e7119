"""ruralnet: plan a rural county's school network on real roads.

Sites and villages as validated GeoDataFrames, road networks from OpenStreetMap files,
fast many-to-many travel times. See the README for the county-folder convention.
"""

import logging

from ._version import __version__
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
from .network import Network, build_network, network_from_file, network_from_overpass
from .osm import places_from_osm, read_highways, sites_from_osm
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
    "build_network",
    "join_roster",
    "load_county",
    "nearest",
    "network_from_file",
    "network_from_overpass",
    "od_matrix",
    "places_from_osm",
    "read_highways",
    "read_layer",
    "read_roster",
    "sites_from_osm",
    "validate_sites",
    "validate_villages",
    "write_layer",
]
