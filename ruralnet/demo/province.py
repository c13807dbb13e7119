"""Many generated counties at once: the 8 real Qingyuan counties, or a synthetic province."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from tqdm.auto import tqdm

from .census import QINGYUAN_2020, CountyCensus
from .generate import CountySpec, generate_county, qingyuan_spec, write_county

log = logging.getLogger(__name__)

#: Approximate elevation ranges (m) of the Qingyuan counties for the generated terrain.
QINGYUAN_RELIEF = {
    "441802": (10, 500),
    "441803": (15, 900),
    "441821": (40, 1200),
    "441823": (60, 1600),
    "441825": (150, 1600),
    "441826": (100, 1600),
    "441881": (30, 1500),
    "441882": (90, 1700),
}


def synthetic_spec(i: int, rng: np.random.Generator) -> CountySpec:
    """A made-up county (boundary, names, codes, census) for scale tests; all of it generated."""
    code = f"99{i:04d}"
    lon0 = 108.0 + (i % 20) * 0.6
    lat0 = 22.0 + (i // 20) * 0.6
    radius_km = float(rng.uniform(12, 25))
    angles = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    wobble = 1 + 0.25 * np.sin(3 * angles + rng.uniform(0, 6)) + 0.1 * rng.standard_normal(48)
    r_deg = radius_km / 111.0 * np.clip(wobble, 0.5, 1.6)
    poly = shapely.Polygon(
        np.c_[
            lon0 + r_deg * np.cos(angles) / np.cos(np.radians(lat0)), lat0 + r_deg * np.sin(angles)
        ]
    )
    n_towns = int(rng.integers(5, 13))
    towns = pd.DataFrame(
        {
            "code": [f"{code}{100 + t:03d}" for t in range(n_towns)],
            "name": [f"合成{i}县第{t + 1}镇" for t in range(n_towns)],
        }
    )
    rows = []
    for t in towns["code"]:
        rows.append({"code": f"{t}001", "name": f"{t[-3:]}居委会", "town_code": t, "urban": True})
        for k in range(int(rng.integers(5, 16))):
            rows.append(
                {
                    "code": f"{t}{201 + k:03d}",
                    "name": f"合成{t[-3:]}-{k + 1}村委会",
                    "town_code": t,
                    "urban": False,
                }
            )
    committees = pd.DataFrame(rows)
    base = QINGYUAN_2020["441826"]
    census = CountyCensus(
        code,
        f"合成{i}县",
        int(rng.lognormal(np.log(250_000), 0.4)),
        float(rng.uniform(0.3, 0.6)),
        base.age_0,
        base.age_1_4 * rng.uniform(0.85, 1.15),
        base.age_5_9 * rng.uniform(0.85, 1.15),
        base.age_10_14 * rng.uniform(0.85, 1.15),
    )
    return CountySpec(
        code,
        census.name,
        poly,
        towns,
        committees,
        census,
        towns["code"].iloc[0],
        low_m=float(rng.uniform(30, 200)),
        high_m=float(rng.uniform(900, 1800)),
        real={"note": "entirely synthetic county for scale tests"},
    )


def generate_province(
    out_dir: str | Path,
    counties: str | int = "qingyuan",
    seed: int = 0,
    cell: float = 90.0,
    progress: bool = True,
) -> list[Path]:
    """Write one county folder per county into ``out_dir``.

    Parameters
    ----------
    out_dir
        Folder to fill (one sub-folder per county code).
    counties
        ``"qingyuan"`` for the 8 real Qingyuan counties on their real boundaries, or a number
        of synthetic counties.
    seed
        Base seed; county k uses ``seed + k``.
    cell
        DEM cell size (m); a coarser cell makes large provinces faster to generate.
    """
    out = Path(out_dir)
    if counties == "qingyuan":
        specs = [
            qingyuan_spec(code, low_m=lo, high_m=hi) for code, (lo, hi) in QINGYUAN_RELIEF.items()
        ]
    else:
        rng = np.random.default_rng(seed)
        specs = [synthetic_spec(i, rng) for i in range(int(counties))]
    paths = []
    for k, spec in enumerate(tqdm(specs, desc="counties", disable=not progress)):
        gen = generate_county(spec, seed=seed + k, cell=cell)
        paths.append(write_county(gen, out / spec.code))
    return paths
