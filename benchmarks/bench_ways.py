"""How pupils travel, before and after: the recommended plan's buses and ways, from two report
folders of the same county (e.g. an older commit's and this one's).

Usage::

    python benchmarks/bench_ways.py COUNTY_DIR --before OLD_REPORT --after NEW_REPORT

Each report folder is what ``ruralnet report`` (or the ``report/`` part of ``ruralnet demo``)
wrote. Printed per folder: buses of the recommended plan, kindergarten buses, buses making one
morning run, morning runs per bus, empty share of the school-day bus-km, riders by stage and
from urban committees, boarders and boarders outside their township, pupils beyond the limits,
and the ratio after / before.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import pandas as pd


def metrics(county_dir: Path, report: Path) -> dict:
    """The figures of one report folder (its recommended plan)."""
    from ruralnet.analysis.demand import village_urban
    from ruralnet.sources.county import read_county
    from ruralnet.sources.runs import read_run

    rec = read_run(report).recommended  # (not the last row: the variant comes after it)
    a = pd.read_csv(report / "assignment.csv", dtype={"township_code": str})
    a = a[a["plan"] == rec]
    sites = pd.read_csv(report / "plan_sites.csv", dtype={"township_code": str})
    town_of = sites[sites["plan"] == rec].set_index("site_id")["township_code"]
    villages = read_county(county_dir).villages
    urban = dict(zip(villages["village_id"].astype(str), village_urban(villages), strict=True))
    home = a["village_id"].astype(str).str.split("~").str[0]
    bus = a[a["way"] == "bus"]
    board = a[a["way"] == "board"]
    fleet = pd.read_csv(report / "fleet.csv")
    morning = fleet[fleet["day"] == "morning"]
    runs = morning.groupby("bus").size()
    summary = pd.read_csv(report / "fleet_summary.csv")
    daily = summary[summary["day"].isin(["morning", "afternoon"])]
    out = {
        "buses": int(summary.loc[summary["day"] == "all", "shared"].iloc[0]),
        "kindergarten buses": int(
            morning.loc[morning["bus_type"] == "kindergarten", "bus"].nunique()
        ),
        "one-run buses": int((runs == 1).sum()),
        "runs per bus": round(float(runs.mean()), 2) if len(runs) else 0.0,
        "empty km share": round(float(daily["deadhead_km"].sum() / daily["bus_km"].sum()), 3)
        if daily["bus_km"].sum()
        else 0.0,
        "riders": int(bus["pupils"].sum()),
    }
    for stage in ("kindergarten", "primary", "junior"):
        out[f"riders {stage}"] = int(bus.loc[bus["stage"] == stage, "pupils"].sum())
    out["riders urban"] = int(bus.loc[home[bus.index].map(urban).fillna(False), "pupils"].sum())
    out["boarders"] = int(board["pupils"].sum())
    away = board["site_id"].map(town_of) != board["township_code"]
    out["boarders outside township"] = int(board.loc[away, "pupils"].sum())
    if "grade_band" in a:
        out["boarders grades 1-3"] = int(board.loc[board["grade_band"] == "1-3", "pupils"].sum())
    out["beyond the limits"] = int(a.loc[a["way"] == "beyond", "pupils"].sum())
    out["pupils"] = int(a["pupils"].sum())
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("county", type=Path)
    p.add_argument("--before", type=Path, required=True)
    p.add_argument("--after", type=Path, required=True)
    args = p.parse_args()
    warnings.simplefilter("ignore")
    before, after = metrics(args.county, args.before), metrics(args.county, args.after)
    print(f"{'':28}{'before':>10}{'after':>10}{'after/before':>14}")
    for key in after:
        b, a = before.get(key), after[key]
        ratio = f"{a / b:.2f}" if isinstance(b, int | float) and b else ""
        print(f"{key:28}{b if b is not None else '':>10}{a:>10}{ratio:>14}")


if __name__ == "__main__":
    main()
