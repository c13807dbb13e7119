"""The bus-route benchmark script: its routes.csv re-checked by an oracle written here."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "bench_busroutes.py"


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=600
    )


def test_benchmark_routes_pass_an_independent_oracle(geodata, tmp_path):
    done = _run("--instances", "RSRB02", "--time-limit", "3", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    total = next(line for line in done.stdout.splitlines() if line.startswith("total"))
    ours, ref = (int(x) for x in total.split()[2:4])
    assert ours <= ref == 76
    routes = pd.read_csv(tmp_path / "routes.csv", dtype=str)
    assert list(routes.columns) == ["instance", "school_id", "route", "seq", "stop_id"]
    stops = pd.read_csv(
        geodata / "sbrp" / "RSRB02" / "Stops.txt", sep="\t", dtype={"ID": str, "EP_ID": str}
    )
    schools = pd.read_csv(geodata / "sbrp" / "RSRB02" / "Schools.txt", sep="\t", dtype={"ID": str})
    # every stop exactly once, on a route of its own school
    assert sorted(routes["stop_id"]) == sorted(stops["ID"])
    st = stops.set_index("ID")
    assert (st.loc[routes["stop_id"], "EP_ID"].to_numpy() == routes["school_id"].to_numpy()).all()
    sc = schools.set_index("ID")
    n_routes = 0
    for (school, _), r in routes.groupby(["school_id", "route"]):
        r = r.assign(seq=r["seq"].astype(int)).sort_values("seq")
        n_routes += 1
        s = st.loc[r["stop_id"]]
        assert s["STUDENT_COUNT"].sum() <= 66
        xy = np.vstack([s[["X_COORD", "Y_COORD"]].to_numpy(float), sc.loc[[school], ["X", "Y"]]])
        travel = np.abs(np.diff(xy, axis=0)).sum() / 29.333
        service = (19 + 2.6 * s["STUDENT_COUNT"].iloc[1:]).sum()
        assert travel + service <= 2700 + 1e-6
    assert n_routes == ours
    # the script's own re-check agrees, and catches a stop left out
    assert _run("--check", str(tmp_path / "routes.csv")).returncode == 0
    routes.iloc[1:].to_csv(tmp_path / "broken.csv", index=False)
    broken = _run("--check", str(tmp_path / "broken.csv"))
    assert broken.returncode == 1 and "0 of" in broken.stdout
