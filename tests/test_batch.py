"""Many counties on a real local Dask cluster: a broken county, reruns that skip, a summary."""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from ruralnet.demo import generate_province
from ruralnet.jobs import BatchOptions, JobOptions, fingerprint, run_counties
from ruralnet.model.settings import Settings


@pytest.fixture(scope="module")
def counties(tmp_path_factory):
    root = tmp_path_factory.mktemp("province")
    paths = generate_province(root, 2, seed=11, cell=250, progress=False)
    broken = root / "broken"
    shutil.copytree(paths[0], broken)
    (broken / "villages.gpkg").write_bytes(b"not a geopackage")
    return [*paths, broken]


def test_batch_on_a_local_cluster(counties, tmp_path):
    out = tmp_path / "out"
    opts = (
        JobOptions(optimise=False, buses=None),
        BatchOptions(
            progress=False, workers=2, dask=True, force=False, summary_name="province_summary.csv"
        ),
    )
    summary = run_counties(counties, out, *opts)
    assert list(summary["county"]) == [c.name for c in counties]
    status = dict(zip(summary["county"], summary["status"], strict=True))
    assert status == {counties[0].name: "ok", counties[1].name: "ok", "broken": "error"}
    err = summary.loc[summary["county"] == "broken", "error"].iloc[0]
    assert "villages.gpkg" in err and "cannot read" in err
    for c in counties[:2]:
        assert (out / c.name / "merger_candidates.csv").exists() and (
            out / c.name / "report.html"
        ).exists()
    assert (out / "province_summary.csv").exists()
    assert summary.loc[summary["status"] == "ok", "pupils"].gt(0).all()

    again = run_counties(counties, out, *opts)
    skipped = dict(zip(again["county"], again["skipped"], strict=True))
    assert skipped[counties[0].name] is True and skipped[counties[1].name] is True
    assert skipped["broken"] is False  # failed counties are always retried
    pd.testing.assert_series_equal(again["pupils"], summary["pupils"])

    toml = counties[1] / "county.toml"
    toml.write_text(
        toml.read_text(encoding="utf-8").replace(
            "[settings]", "[settings]\nmax_walk_minutes = 25.0"
        ),
        encoding="utf-8",
    )
    third = run_counties(counties, out, *opts)
    skipped = dict(zip(third["county"], third["skipped"], strict=True))
    assert skipped[counties[0].name] is True and skipped[counties[1].name] is False


def test_fingerprint_follows_inputs_and_settings(counties):
    a = fingerprint(counties[0])
    assert a == fingerprint(counties[0])
    assert a != fingerprint(counties[0], Settings(max_walk_minutes=20.0))
    assert a != fingerprint(counties[0], options=JobOptions(lang="en"))
    assert a != fingerprint(counties[1])


def test_options_name_every_mistake_at_once(counties, tmp_path):
    from ruralnet.jobs import run_county
    from ruralnet.model.errors import InputError

    with pytest.raises(InputError) as err:
        JobOptions(lang="fr", buses="recomended", basemap="google", years=("2025x",))
    for word in ("lang", "buses", "recommended", "basemap", "years"):
        assert word in str(err.value)
    with pytest.raises(InputError, match="workers"):
        BatchOptions(workers=0)
    with pytest.raises(InputError, match="parts must be some of overview, catchments, report"):
        run_county(counties[0], tmp_path / "out", parts=("reprot",))
    assert not (tmp_path / "out").exists()  # refused before anything was read or written
    assert JobOptions(years=(2025, 2030.0)).years == (2025, 2030)
    with pytest.raises(InputError, match="repeated"):  # issue #25: was silently reordered
        JobOptions(years=(2030, 2025, 2025))


def test_ctrl_c_ends_a_dask_batch_like_a_report(tmp_path):
    """Issue #25: Ctrl-C during ``batch`` on Dask printed the workers' KeyboardInterrupt
    tracebacks. Now: exit 130, one line, the workers stopped (no county written after the
    interruption), no staging folder left."""
    import os
    import signal
    import subprocess
    import sys
    import time

    import ruralnet as rn

    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "ruralnet.cli", "--no-progress", "batch",
         str(rn.datasets.bundled_county()), "--out", str(out), "--workers", "1",
         "--years", "2025", "2027", "2030"],  # long enough to be interrupted inside
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # Ctrl-C as a terminal sends it: SIGINT to the whole process group, workers included
        preexec_fn=lambda: (signal.signal(signal.SIGINT, signal.SIG_DFL), os.setpgrp()),
    )  # fmt: skip
    time.sleep(15)  # the cluster is up and the county is being analysed (40 s or more)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=180)
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    assert err.strip().splitlines()[-1] == "ruralnet batch: interrupted"
    time.sleep(5)  # a worker left running would write the county now
    assert not out.exists() or not [p.name for p in out.iterdir()], list(out.iterdir())


def test_batch_takes_every_option_report_takes():
    """#29: ``batch`` lacked ``--years`` and ``--basemap``; both commands now share the job's
    options, and the same words give the same JobOptions."""
    from ruralnet.cli import _job_options, _parser

    parser = _parser()
    sub = next(a for a in parser._actions if a.dest == "command")
    options = {
        name: {o for a in sub.choices[name]._actions for o in a.option_strings}
        for name in ("report", "batch")
    }
    assert options["report"] <= options["batch"], options["report"] - options["batch"]
    words = ["--out", "o", "--years", "2025", "2030", "--basemap", "osm", "--lang", "en", "c"]
    report = _job_options(parser.parse_args(["report", *words]))
    batch = _job_options(parser.parse_args(["batch", *words]))
    assert report == batch and batch.years == (2025, 2030) and batch.basemap == "osm"
