"""Today's school buses, as the county lists them (``buses.csv`` or ``buses.xlsx``).

One row per bus: ``seats`` (required, a whole number of pupils' seats), ``kind``
(``school`` or ``kindergarten``; default ``school``), and optionally ``bus_id``, ``depot`` and
``site_id`` (the school it serves now). Chinese headers are understood (座位数, 车型/类型,
车辆编号/车牌号, 停放点, 服务学校代码). Every problem of the file is collected and reported at
once, naming rows and columns.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from ..model.errors import Problem
from .layers import read_table

#: The file names looked for in a county folder, in order.
FLEET_FILES = ("buses.csv", "buses.xlsx")
#: Columns of today's fleet, in order.
FLEET_COLUMNS = ["bus_id", "seats", "kind", "depot", "site_id"]
#: Chinese headers a bureau's list may use.
HEADERS = {
    "车辆编号": "bus_id",
    "车牌号": "bus_id",
    "座位数": "seats",
    "核载人数": "seats",
    "车型": "kind",
    "类型": "kind",
    "停放点": "depot",
    "服务学校代码": "site_id",
    "学校代码": "site_id",
}
KINDS = {"school": "school", "校车": "school", "kindergarten": "kindergarten",
         "幼儿园": "kindergarten", "幼儿专用校车": "kindergarten"}  # fmt: skip
#: Most seats a school bus may have (GB 24407-2012: 56 pupils, a kindergarten bus 45; a
#: larger number is a typing error).
MAX_SEATS = 80


def find_fleet_file(folder: Path) -> Path | None:
    """``buses.csv`` or ``buses.xlsx`` in a county folder, if there is one."""
    for name in FLEET_FILES:
        if (folder / name).is_file():
            return folder / name
    return None


def read_fleet(path: Path, site_ids, problems: list[Problem]) -> pd.DataFrame | None:
    """Today's buses from ``path`` (:data:`FLEET_COLUMNS`), or ``None`` when the file is
    unusable (its problems appended to ``problems``).

    Parameters
    ----------
    path
        The file.
    site_ids
        The county's site ids (a bus may name the school it serves).
    problems
        Where the file's problems go.
    """
    try:
        raw = read_table(path)  # UTF-8 with or without BOM, GBK, or a spreadsheet
    except Exception as exc:  # any unreadable file: one clear problem
        problems.append(Problem(f"{path.name}: cannot read the file ({type(exc).__name__}: {exc})"))
        return None
    table = raw.rename(columns=lambda c: HEADERS.get(str(c).strip(), str(c).strip().lower()))
    if "seats" not in table:
        problems.append(Problem(f"{path.name}: missing column 'seats' (座位数)", "seats"))
        return None
    if table.empty:
        problems.append(Problem(f"{path.name}: no bus in the file"))
        return None
    before = len(problems)
    seats = pd.to_numeric(table["seats"].str.strip(), errors="coerce")
    bad = seats.isna() | (seats % 1 != 0) | (seats < 1) | (seats > MAX_SEATS)
    if bad.any():
        problems.append(
            Problem(f"{path.name}: seats must be whole numbers 1..{MAX_SEATS}", "seats",
                    tuple(table.index[bad] + 2))
        )  # fmt: skip
    kind = table["kind"].fillna("school").str.strip() if "kind" in table else "school"
    kind = pd.Series(kind, index=table.index).map(lambda k: KINDS.get(str(k).lower(), KINDS.get(k)))
    if kind.isna().any():
        problems.append(
            Problem(f"{path.name}: kind must be school or kindergarten (校车/幼儿专用校车)", "kind",
                    tuple(table.index[kind.isna()] + 2))
        )  # fmt: skip
    site = (
        table["site_id"].str.strip() if "site_id" in table else pd.Series(None, index=table.index)
    )
    unknown = site.notna() & (site != "") & ~site.isin(set(map(str, site_ids)))
    if unknown.any():
        problems.append(
            Problem(f"{path.name}: site_id names no site of the county", "site_id",
                    tuple(table.index[unknown] + 2))
        )  # fmt: skip
    ids = table["bus_id"].str.strip() if "bus_id" in table else None
    if ids is None or ids.isna().any():
        ids = pd.Series([f"bus-{i + 1}" for i in range(len(table))], index=table.index)
    elif ids.duplicated().any():
        problems.append(
            Problem(
                f"{path.name}: bus_id used twice",
                "bus_id",
                tuple(table.index[ids.duplicated()] + 2),
            )
        )
    if len(problems) > before:
        return None
    return pd.DataFrame(
        {
            "bus_id": ids.to_numpy(),
            "seats": seats.astype(int).to_numpy(),
            "kind": kind.to_numpy(),
            "depot": (
                table["depot"] if "depot" in table else pd.Series(None, index=table.index)
            ).to_numpy(),
            "site_id": site.where(site != "").to_numpy(),
        },
        columns=FLEET_COLUMNS,
    )
