"""OSM reading on the real Andorra extract: highways, other formats, clipped data, schools."""

from __future__ import annotations

import numpy as np
import pytest

from ruralnet.model.errors import NetworkError
from ruralnet.outputs.files import extract_ways
from ruralnet.sources import osm


def test_highways_match_the_extract_description(andorra_roads):
    # SOURCE.md: 7,763 highway ways (path 1,738, footway 1,280, service 1,181, residential 874...)
    counts = andorra_roads.ways["highway"].value_counts()
    assert len(andorra_roads.ways) == 7763
    assert counts["path"] == 1738 and counts["footway"] == 1280 and counts["residential"] == 874
    assert andorra_roads.dropped_segments == 0
    assert np.isfinite(andorra_roads.lon).all() and np.isfinite(andorra_roads.lat).all()
    assert ((andorra_roads.lon > 1.4) & (andorra_roads.lon < 1.8)).all()


@pytest.fixture(scope="module")
def primary_ids(andorra_roads):
    ways = andorra_roads.ways
    return ways.loc[ways["highway"].isin(["primary", "secondary"]), "way_id"].tolist()


@pytest.mark.parametrize("suffix", [".osm", ".osm.bz2"])
def test_same_roads_from_osm_xml_and_bz2(andorra_pbf, andorra_roads, primary_ids, tmp_path, suffix):
    sub = extract_ways(andorra_pbf, primary_ids, tmp_path / f"roads{suffix}")
    table = osm.read_highways(sub)
    assert sorted(table.ways["way_id"]) == sorted(primary_ids)
    # every segment of those ways, with identical coordinates, as read from the PBF
    ref = andorra_roads
    mask = np.isin(ref.ways["way_id"].to_numpy()[ref.seg_way], primary_ids)
    ref_pairs = set(
        zip(
            ref.node_id[ref.seg_u[mask]].tolist(),
            ref.node_id[ref.seg_v[mask]].tolist(),
            strict=True,
        )
    )
    pairs = set(
        zip(table.node_id[table.seg_u].tolist(), table.node_id[table.seg_v].tolist(), strict=True)
    )
    assert pairs == ref_pairs
    lookup = dict(
        zip(ref.node_id.tolist(), zip(ref.lon.tolist(), ref.lat.tolist(), strict=True), strict=True)
    )
    got = np.array([lookup[n] for n in table.node_id.tolist()])
    np.testing.assert_allclose(got[:, 0], table.lon, atol=1e-7)


def test_clipped_extract_keeps_complete_parts(tmp_path):
    """A way leaving the extract loses only the segments touching missing nodes."""
    xml = """<?xml version='1.0' encoding='UTF-8'?>
<osm version="0.6">
  <node id="1" lat="42.50" lon="1.50" version="1"/>
  <node id="2" lat="42.51" lon="1.50" version="1"/>
  <node id="3" lat="42.52" lon="1.50" version="1"/>
  <way id="10" version="1"><nd ref="1"/><nd ref="2"/><nd ref="3"/><nd ref="99"/>
    <tag k="highway" v="tertiary"/></way>
  <way id="11" version="1"><nd ref="98"/><nd ref="97"/><tag k="highway" v="track"/></way>
</osm>"""
    path = tmp_path / "clipped.osm"
    path.write_text(xml)
    table = osm.read_highways(path)
    assert len(table.seg_u) == 2
    assert table.dropped_segments == 2
    assert sorted(table.node_id.tolist()) == [1, 2, 3]


def test_not_an_osm_file(tmp_path):
    bad = tmp_path / "roads.osm.pbf"
    bad.write_bytes(b"this is not a protocol buffer")
    with pytest.raises(NetworkError, match="cannot read"):
        osm.read_highways(bad)
    with pytest.raises(FileNotFoundError):
        osm.read_highways(tmp_path / "missing.osm.pbf")


def test_sites_from_osm(andorra_pbf):
    sites = osm.sites_from_osm(andorra_pbf)
    # SOURCE.md: amenity=school 26 (9 nodes, 17 ways), amenity=kindergarten 4
    assert (sites["amenity"] == "school").sum() == 26
    assert (sites["amenity"] == "kindergarten").sum() == 4
    assert ((sites["amenity"] == "school") & (sites["osm_type"] == "way")).sum() == 17
    assert sites["site_id"].is_unique
    assert sites.geometry.geom_type.eq("Point").all()
    assert "Lycée Comte de Foix" in set(sites["name"])
    assert sites["pupils"].isna().all(), "OSM has no enrolment: never invent one silently"
    assert set(sites.loc[sites["amenity"] == "kindergarten", "kind"]) == {"kindergarten"}


def test_townships_from_admin_areas(andorra_pbf):
    parishes = osm.admin_areas_from_osm(andorra_pbf, 7)
    assert len(parishes) == 7
    assert {"Canillo", "Encamp", "Ordino", "La Massana", "Andorra la Vella"} <= set(
        parishes["name"]
    )
    sites = osm.sites_from_osm(andorra_pbf, townships=parishes, township_col="name")
    lycee = sites.loc[sites["name"] == "Escola Andorrana de 2a Ensenyança d'Ordino", "name"].index
    assert sites.loc[lycee, "name"].notna().all()
    assert sites["township_code"].notna().all() if "township_code" in sites else True


def test_places(andorra_pbf):
    places = osm.places_from_osm(andorra_pbf, ("village", "hamlet"))
    # SOURCE.md lists 34 villages and 27 hamlet nodes; ways tagged as places may add a few
    assert (places["place"] == "village").sum() >= 34
    assert (places["place"] == "hamlet").sum() >= 27


def test_file_bbox(andorra_pbf):
    west, south, east, north = osm.file_bbox(andorra_pbf)
    assert 1.3 < west < east < 1.9 and 42.3 < south < north < 42.7
