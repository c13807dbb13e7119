"""Reading back the report folder of an earlier run (for ``ruralnet compare``)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..model.errors import InputError

#: The files of a report folder that a comparison reads.
RUN_FILES = ("plans.csv", "plan_sites.csv", "policy_checks.csv")


@dataclass(frozen=True)
class Run:
    """The tables of one report folder.

    Attributes
    ----------
    path
        The report folder.
    plans, sites, policy
        ``plans.csv``, ``plan_sites.csv``, ``policy_checks.csv`` (codes kept as text).
    scenario
        ``scenario.json`` (empty for a report written before it existed).
    """

    path: Path
    plans: pd.DataFrame
    sites: pd.DataFrame
    policy: pd.DataFrame
    scenario: dict = field(default_factory=dict)

    @property
    def recommended(self) -> str:
        """The plan the run recommends (``optimised`` when it was solved, else ``merger``)."""
        named = self.scenario.get("recommended")
        if named:
            return str(named)
        return "optimised" if (self.plans["plan"] == "optimised").any() else "merger"

    @property
    def label(self) -> str:
        """The run's name: its scenario's, else its folder's."""
        return str(self.scenario.get("name") or self.path.name)


def find_report(path: str | Path) -> Path:
    """The report folder a path means: the folder itself, its ``report/`` (as ``ruralnet
    demo`` writes), or its one county folder (as ``ruralnet report --out`` writes).

    Raises
    ------
    InputError
        If no report folder, or more than one, is found there.
    """
    path = Path(path)
    if not path.is_dir():
        raise InputError(f"{path}: not a folder (give a report folder written by ruralnet)")
    if (path / "plans.csv").is_file():
        return path
    inside = sorted(p.parent for p in path.glob("*/plans.csv"))
    if len(inside) == 1:
        return inside[0]
    if len(inside) > 1:
        names = ", ".join(p.name for p in inside)
        raise InputError(f"{path}: {len(inside)} reports inside ({names}); name one of them")
    raise InputError(f"{path}: no report here (no plans.csv in it or in a folder inside)")


def read_run(path: str | Path) -> Run:
    """Read a report folder (see :func:`find_report`) for a comparison.

    Raises
    ------
    InputError
        If the folder lacks a file the comparison needs (all named) or one cannot be read.
    """
    folder = find_report(path)
    missing = [name for name in RUN_FILES if not (folder / name).is_file()]
    if missing:
        raise InputError(f"{folder}: missing {', '.join(missing)}")
    tables = {}
    for name in RUN_FILES:
        try:
            tables[name] = pd.read_csv(
                folder / name,
                encoding="utf-8-sig",
                dtype={"site_id": str, "township_code": str},
                keep_default_na=False,
                na_values=[""],
            )
        except (pd.errors.ParserError, UnicodeDecodeError) as exc:
            raise InputError(f"{folder / name}: cannot read: {exc}") from exc
    scenario = {}
    if (folder / "scenario.json").is_file():
        try:
            scenario = json.loads((folder / "scenario.json").read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{folder / 'scenario.json'}: cannot read: {exc}") from exc
    return Run(
        folder, tables["plans.csv"], tables["plan_sites.csv"], tables["policy_checks.csv"], scenario
    )
