"""The command line on a real county folder (Andorra extract with OSM schools)."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest


def run(*args, check=True):
    return subprocess.run(
        [sys.executable, "-m", "ruralnet.cli", *map(str, args)],
        capture_output=True,
        text=True,
        check=check,
    )


def test_network_graphml(andorra_county_dir, bus_net, tmp_path):
    out = tmp_path / "bus.graphml"
    run("network", andorra_county_dir, "--mode", "bus", "--out", out)
    import osmnx as ox

    g = ox.load_graphml(out)
    assert g.number_of_edges() == bus_net.n_edges and g.number_of_nodes() == bus_net.n_nodes
    edge = next(iter(g.edges(data=True)))[2]
    assert edge["length"] > 0 and edge["travel_time"] > 0


def test_od_csv(andorra_county_dir, andorra_county, tmp_path):
    out = tmp_path / "od.csv"
    run(
        "od",
        andorra_county_dir,
        "--mode",
        "walk",
        "--from",
        "villages",
        "--to",
        "sites",
        "--out",
        out,
    )
    od = pd.read_csv(out, dtype={"from_id": str, "to_id": str})
    assert list(od.columns) == ["from_id", "to_id", "minutes", "metres"]
    assert len(od) == len(andorra_county.villages) * len(andorra_county.sites)
    # empty (not a sentinel) for unreachable pairs; same numbers as the library
    from ruralnet.network.travel import od_matrix

    lib = od_matrix(
        andorra_county.network("walk"),
        andorra_county.villages,
        andorra_county.sites,
        origin_ids="village_id",
        destination_ids="site_id",
        progress=False,
    )
    np.testing.assert_allclose(od["minutes"], lib["minutes"], rtol=1e-12)
    assert od["minutes"].isna().sum() == lib["minutes"].isna().sum()
    sites_od = tmp_path / "ss.csv"
    run(
        "od",
        andorra_county_dir,
        "--mode",
        "bus",
        "--from",
        "sites",
        "--to",
        "sites",
        "--cutoff",
        "20",
        "--out",
        sites_od,
    )
    ss = pd.read_csv(sites_od)
    assert len(ss) == len(andorra_county.sites) ** 2 and ss["minutes"].max() <= 20


def test_bad_folder_is_a_clear_error(tmp_path):
    res = run("od", tmp_path, "--mode", "bus", "--out", tmp_path / "x.csv", check=False)
    assert res.returncode == 2
    assert "no road file" in res.stderr and "Traceback" not in res.stderr


def test_demo_runs_on_the_bundled_county_by_default(tmp_path):
    res = run("--no-progress", "demo", "--out", tmp_path / "demo")
    assert res.returncode == 0, res.stderr
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text(encoding="utf-8"))
    import geopandas as gpd

    from ruralnet.sources.datasets import bundled_county

    assert summary["code"] == "441826"
    assert summary["sites"] == len(gpd.read_file(bundled_county() / "sites.gpkg"))
    assert set(summary["modes"]) == {"walk", "bus"}
    assert summary["modes"]["bus"]["components"] == 1
    for f in ("map.html", "od_walk.csv", "od_bus.csv", "nearest_bus.csv", "snaps_walk.csv"):
        assert (tmp_path / "demo" / f).stat().st_size > 0
    for f in (
        "report/report.html",
        "report/merger_candidates.csv",
        "report/routes.csv",
        "catchments/village_assignment.csv",
        "catchments/catchments.gpkg",
    ):
        assert (tmp_path / "demo" / f).stat().st_size > 0, f
    od = pd.read_csv(tmp_path / "demo" / "od_bus.csv")
    assert len(od) == summary["sites"] * summary["villages"]


@pytest.mark.slow
def test_demo_on_a_real_osm_county(andorra_county_dir, tmp_path):
    res = run("--no-progress", "demo", andorra_county_dir, "--out", tmp_path / "demo")
    assert res.returncode == 0, res.stderr
    summary = json.loads((tmp_path / "demo" / "summary.json").read_text(encoding="utf-8"))
    assert summary["sites"] == 30
    html = (tmp_path / "demo" / "map.html").read_text(encoding="utf-8")
    assert "Lycée Comte de Foix" in html or "Lyc\\u00e9e Comte de Foix" in html


def test_each_warning_is_printed_once(tmp_path):
    """#29: the command line printed each of ruralnet's warnings twice (its log line and the
    Python warning). The bundled county has two sites above capacity: said once; in Python
    the warning is still raised."""
    import warnings

    import ruralnet as rn
    from ruralnet.model.errors import RuralnetWarning

    county = rn.datasets.bundled_county()
    done = run("od", county, "--mode", "walk", "--out", tmp_path / "od.csv")
    assert done.stderr.count("pupils above capacity") == 1, done.stderr
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        rn.load_county(county)
    assert any(issubclass(w.category, RuralnetWarning) for w in seen)


def test_the_notebooks_command_copies_every_notebook(tmp_path):
    """#29: the notebooks are package data; ``ruralnet notebooks --out DIR`` copies each one
    (valid notebooks) and leaves a notebook already there as it is."""
    import json
    from pathlib import Path

    repo = sorted(
        p.name for p in (Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb")
    )
    out = tmp_path / "nb"
    run("notebooks", "--out", out)
    assert sorted(p.name for p in out.glob("*.ipynb")) == repo and len(repo) >= 5
    assert all(json.loads(p.read_text(encoding="utf-8"))["cells"] for p in out.glob("*.ipynb"))
    mine = out / repo[0]
    mine.write_text("{}", encoding="utf-8")
    again = run("notebooks", "--out", out)
    assert mine.read_text(encoding="utf-8") == "{}" and repo[0] in again.stdout


def _in_terminal(args: list) -> str:
    """Run the command line in a pseudo-terminal; everything it showed there."""
    import fcntl
    import os
    import pty
    import select
    import struct
    import termios

    master, slave = pty.openpty()
    size = struct.pack("HHHH", 40, 160, 0, 0)  # a terminal 160 columns wide (a new one has 0)
    fcntl.ioctl(slave, termios.TIOCSWINSZ, size)
    proc = subprocess.Popen(
        [sys.executable, "-m", "ruralnet.cli", *map(str, args)],
        stdin=slave, stdout=slave, stderr=slave, close_fds=True,
    )  # fmt: skip
    os.close(slave)
    shown = b""
    while True:
        ready, _, _ = select.select([master], [], [], 300)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:  # the terminal closed with the process
            break
        if not chunk:
            break
        shown += chunk
    proc.wait(timeout=60)
    os.close(master)
    assert proc.returncode == 0, shown[-2000:]
    return shown.decode("utf-8", "replace")


def test_a_terminal_sees_the_steps_and_a_pipe_does_not(tmp_path):
    """#29: no progress bar appeared during a 2-4 minute demo, even in a terminal. A county's
    job now shows its steps in a terminal; not with --no-progress, not into a pipe."""
    import ruralnet as rn

    county = rn.datasets.bundled_county()
    quick = ["--buses", "none", "--no-optimise"]
    shown = _in_terminal(["report", county, "--out", tmp_path / "a", *quick])
    assert "plans and buses" in shown and "step" in shown
    quiet = _in_terminal(["--no-progress", "report", county, "--out", tmp_path / "b", *quick])
    assert "plans and buses" not in quiet
    piped = run("report", county, "--out", tmp_path / "c", *quick)
    assert "plans and buses" not in piped.stderr + piped.stdout
