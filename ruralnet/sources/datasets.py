"""Where sample data lives: the bundled county (package data), the shared real data, the cache.

The bundled county and the Qingyuan reference data ship inside the package as
``ruralnet.geodata`` (the repository's top-level ``geodata/`` folder, mapped into the wheel),
so they are found the same way in a checkout and in an installed wheel. The real data used
by tests and benchmarks (Andorra OSM + SRTM, the Malaysian school list, the school-bus
benchmark) is not copied into this repository: it is found in ``../shared/geodata`` next to
the project, or wherever the environment variable ``RURALNET_GEODATA`` points.
"""

from __future__ import annotations

import logging
import os
from importlib import resources
from pathlib import Path

from ..model.errors import CountyFolderError

log = logging.getLogger(__name__)

#: Folder name of the bundled default county inside the bundled data.
DEFAULT_COUNTY = "demo-liannan"


def bundled_data() -> Path:
    """The bundled data folder (``geodata/`` of the repository, ``ruralnet/geodata`` when
    installed)."""
    return Path(str(resources.files("ruralnet.geodata")))


def bundled_county(name: str = DEFAULT_COUNTY) -> Path:
    """The bundled default county folder.

    Raises
    ------
    CountyFolderError
        If the installation lacks it (a broken install).
    """
    path = bundled_data() / name
    if not (path / "county.toml").is_file():
        raise CountyFolderError(
            f"the bundled county {name} is missing from {path.parent}: reinstall ruralnet"
        )
    return path


def notebooks_folder() -> Path:
    """The example notebooks (``notebooks/`` of the repository, ``ruralnet/notebooks`` when
    installed)."""
    return Path(str(resources.files("ruralnet.notebooks")))


def qingyuan_data() -> Path:
    """Bundled Qingyuan boundaries and code lists (MIT, see their SOURCE.md)."""
    return bundled_data() / "qingyuan"


def cache_dir() -> Path:
    """ruralnet's cache folder (``RURALNET_CACHE`` or ``~/.cache/ruralnet``)."""
    path = Path(os.environ.get("RURALNET_CACHE", Path.home() / ".cache" / "ruralnet"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def shared_geodata() -> Path | None:
    """The shared real-data folder, or None if this machine does not have it.

    Looked for in ``RURALNET_GEODATA``, then ``../shared/geodata`` beside the checkout this
    package runs from, then beside the working folder.
    """
    here = Path(__file__).resolve()
    candidates = [
        os.environ.get("RURALNET_GEODATA"),
        *(p / "shared" / "geodata" for p in here.parents[2:4]),
        Path.cwd().parent / "shared" / "geodata",
        Path.cwd() / ".." / ".." / "shared" / "geodata",
    ]
    for c in candidates:
        if c and Path(c).is_dir():
            return Path(c).resolve()
    return None
