"""The optional online path: Overpass via osmnx, with only the HTTP layer faked.

The fake server answers with real Andorra data (the ways of a small area, as Overpass JSON),
so everything after the HTTP call (osmnx parsing, our builder, caching) runs for real.
"""

from __future__ import annotations

import json

import numpy as np
import osmium
import pytest
import requests
import shapely

from ruralnet.model.errors import OfflineError
from ruralnet.model.settings import Settings
from ruralnet.network.build import build_network, network_from_overpass
from ruralnet.sources.overpass import roads_from_overpass

AREA = shapely.box(1.52, 42.54, 1.56, 42.57)  # Ordino


@pytest.fixture(scope="module")
def overpass_json(andorra_pbf):
    """What Overpass would answer for the highways in AREA: ways touching it, all their nodes."""
    ways, wanted = [], set()
    for w in (
        osmium.FileProcessor(str(andorra_pbf), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
        .with_filter(osmium.filter.KeyFilter("highway"))
    ):
        pts = [(n.lon, n.lat) for n in w.nodes]
        if any(AREA.contains(shapely.Point(p)) for p in pts):
            ways.append(
                {
                    "type": "way",
                    "id": w.id,
                    "nodes": [n.ref for n in w.nodes],
                    "tags": {t.k: t.v for t in w.tags},
                }
            )
            wanted.update(n.ref for n in w.nodes)
    nodes = [
        {"type": "node", "id": n.id, "lat": n.location.lat, "lon": n.location.lon}
        for n in osmium.FileProcessor(str(andorra_pbf), osmium.osm.NODE)
        if n.id in wanted
    ]
    return {"version": 0.6, "elements": nodes + ways}


def fake_response(url: str, body: str) -> requests.Response:
    """A real requests.Response carrying a canned body (no socket involved)."""
    response = requests.Response()
    response.status_code, response.reason, response.url = 200, "OK", url
    response._content = body.encode()
    response.headers["Content-Type"] = "application/json"
    return response


@pytest.fixture
def fake_overpass(monkeypatch, overpass_json):
    import osmnx._http
    import osmnx._overpass

    calls = []

    def post(url, data=None, **kwargs):
        calls.append(data)
        return fake_response(url, json.dumps(overpass_json))

    def get(url, **kwargs):  # the rate-limit status endpoint
        return fake_response(
            url,
            "Connected as: 1\nCurrent time: x\nAnnounced endpoint: none\n"
            "Rate limit: 2\n2 slots available now.\nCurrently running queries:\n",
        )

    monkeypatch.setattr(osmnx._overpass.requests, "post", post)
    monkeypatch.setattr(osmnx._overpass.requests, "get", get)
    monkeypatch.setattr(osmnx._http, "_config_dns", lambda url: None)
    return calls


def test_offline_by_default():
    with pytest.raises(OfflineError, match="offline"):
        roads_from_overpass(polygon=AREA)
    assert isinstance(OfflineError("x"), ConnectionError)


def test_overpass_network_equals_file_network(fake_overpass, andorra_roads, tmp_path, monkeypatch):
    settings = Settings(offline=False, cache_dir=str(tmp_path / "cache"))
    net = network_from_overpass("bus", polygon=AREA, settings=settings)
    assert fake_overpass, "the HTTP layer was not called"
    assert '["highway"]' in fake_overpass[0]["data"]
    ref = build_network(andorra_roads, "bus")
    ref_edges = {
        (a, b): t
        for a, b, t in zip(
            ref.node_id[ref.u].tolist(),
            ref.node_id[ref.v].tolist(),
            ref.time_s.tolist(),
            strict=True,
        )
    }
    got = list(
        zip(
            net.node_id[net.u].tolist(),
            net.node_id[net.v].tolist(),
            net.time_s.tolist(),
            strict=True,
        )
    )
    assert len(got) > 500
    missing = [(a, b) for a, b, _ in got if (a, b) not in ref_edges]
    assert not missing, "edges from Overpass that the file network does not have"
    np.testing.assert_allclose(
        [t for *_, t in got], [ref_edges[(a, b)] for a, b, _ in got], rtol=1e-9
    )
    # every file edge with both ends inside the area came through the online path too
    inside = shapely.contains_xy(AREA, ref.lon, ref.lat)
    both = inside[ref.u] & inside[ref.v]
    got_pairs = {(a, b) for a, b, _ in got}
    want = set(
        zip(ref.node_id[ref.u[both]].tolist(), ref.node_id[ref.v[both]].tolist(), strict=True)
    )
    assert want <= got_pairs

    # the response is cached: a second call works without the network
    import osmnx._overpass

    def no_network(*args, **kwargs):
        raise ConnectionError("offline")

    monkeypatch.setattr(osmnx._overpass.requests, "post", no_network)
    again = network_from_overpass("bus", polygon=AREA, settings=settings)
    assert again.n_edges == net.n_edges
