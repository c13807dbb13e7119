"""A county folder wrapping the real Andorra data (OSM roads and schools, SRTM elevation),
with assumed enrolments: the real-data path of the tests and benchmarks."""

from __future__ import annotations

import logging
import zlib
from pathlib import Path

import numpy as np

from ..outputs.files import write_layer
from ..sources.datasets import shared_geodata
from ..sources.osm import admin_areas_from_osm, assign_townships, places_from_osm, sites_from_osm

log = logging.getLogger(__name__)


def andorra_files() -> dict[str, Path] | None:
    """Paths of the real Andorra OSM extract and SRTM DEM, or None if absent."""
    root = shared_geodata()
    if root is None:
        return None
    pbf = root / "andorra" / "andorra-2025-01.osm.pbf"
    dem = root / "andorra" / "srtm3_andorra.tif"
    return {"osm": pbf, "dem": dem} if pbf.exists() else None


def _assumed(key: str, low: int, high: int) -> int:
    """A deterministic assumed number for ``key`` (stable across runs and machines)."""
    rng = np.random.default_rng(zlib.crc32(key.encode()))
    return int(rng.integers(low, high + 1))


def make_andorra_county(dest: str | Path, *, link: bool = True) -> Path:
    """Write a county folder that wraps the real Andorra extract.

    Roads and DEM are linked (or copied) from the shared data; sites are the OSM schools and
    kindergartens, townships are the 7 parishes (OSM admin_level 7, code ``AD`` + parish ref);
    villages are the OSM ``place`` nodes. OSM has no enrolments: pupils (and missing
    populations) are **assumed**, deterministic per OSM id, and labelled so in
    ``pupils_source`` / ``population_source`` and in ``county.toml``.

    Parameters
    ----------
    dest
        Folder to create (existing files are replaced).
    link
        Symlink the OSM and DEM files instead of copying them.

    Raises
    ------
    FileNotFoundError
        If the shared Andorra data is not on this machine.
    """
    import shutil

    files = andorra_files()
    if files is None:
        raise FileNotFoundError(
            "the shared Andorra data (../shared/geodata/andorra) is not on this machine; "
            "set RURALNET_GEODATA to its geodata folder"
        )
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for src, name in ((files["osm"], "roads.osm.pbf"), (files["dem"], "dem.tif")):
        target = dest / name
        if target.exists() or target.is_symlink():
            target.unlink()
        if link:
            target.symlink_to(src)
        else:
            shutil.copyfile(src, target)
    parishes = admin_areas_from_osm(files["osm"], 7)
    parishes["township_code"] = "AD" + parishes["ref"].astype(str).str.zfill(2)
    write_layer(parishes[["township_code", "name", "geometry"]], dest / "townships.gpkg")
    write_layer(_sites(files["osm"], parishes), dest / "sites.gpkg")
    write_layer(_villages(files["osm"], parishes), dest / "villages.gpkg")
    (dest / "county.toml").write_text(
        '[county]\nname = "Andorra (real OSM roads and schools; assumed enrolment)"\ncode = "AD"\n'
        'coord_system = "wgs84"\n'
        'note = "Pupils and most populations are assumed: OSM has no enrolment."\n',
        encoding="utf-8",
    )
    log.info("wrote Andorra county folder to %s", dest)
    return dest


def _sites(osm_file: Path, parishes):
    """The OSM schools and kindergartens with assumed enrolments (labelled so)."""

    sites = sites_from_osm(osm_file, townships=parishes)
    # OSM rarely tags the school level here: assume it from the name, and say so
    secondary = sites["name"].str.contains(
        r"Segona Ensenyan|2a Ensenyan|Lyc[ée]e|Batxillerat|Secundaria|Institut",
        case=False,
        regex=True,
    )
    sites.loc[secondary, "kind"] = "junior_middle"
    sites.loc[secondary, "kind_source"] = "assumed from the name"
    sites["pupils"] = [
        _assumed(sid, 15, 90) if kind == "kindergarten" else _assumed(sid, 8, 420)
        for sid, kind in zip(sites["site_id"], sites["kind"], strict=True)
    ]
    sites["classes"] = np.maximum(1, np.ceil(sites["pupils"] / 25)).astype(int)
    sites["capacity"] = sites["classes"] * 30
    sites["boarding_beds"] = 0
    sites["pupils_source"] = "assumed (OSM has no enrolment)"
    keep = [
        "site_id", "name", "kind", "township_code", "pupils", "capacity", "classes",
        "boarding_beds", "pupils_source", "kind_source", "osm_type", "osm_id", "amenity",
        "geometry",
    ]  # fmt: skip
    return sites[keep]


def _villages(osm_file: Path, parishes):
    """The OSM places as villages; populations from the OSM tag, else assumed (labelled)."""

    places = places_from_osm(osm_file, ("village", "hamlet", "isolated_dwelling", "town"))
    places["village_id"] = "osm:" + places["osm_type"] + "/" + places["osm_id"].astype(str)
    places["township_code"] = assign_townships(places, parishes, "township_code")
    default_pop = {
        "town": (1500, 6000),
        "village": (150, 1200),
        "hamlet": (20, 150),
        "isolated_dwelling": (3, 15),
    }
    given = places["population"].notna()
    places["population_source"] = np.where(given, "OSM population tag", "assumed")
    places.loc[~given, "population"] = [
        _assumed(vid, *default_pop[p])
        for vid, p in zip(
            places.loc[~given, "village_id"], places.loc[~given, "place"], strict=True
        )
    ]
    places["name"] = places["name"].fillna(places["village_id"])
    keep = ["village_id", "name", "place", "township_code", "population", "population_source"]
    return places[[*keep, "geometry"]]
