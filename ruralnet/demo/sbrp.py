"""Read the school-bus routing benchmark of Park, Tae & Kim (as published with Bertsimas,
Delarue & Martin, PNAS 2019): instances and reference single-school route sets."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from ..buses.fleet import FleetProblem
from ..buses.mixed import MixedRules, MixedSchool, add_mixed, mixed_chains, mixed_problem
from ..buses.routing import BusProblem
from ..sources.datasets import shared_geodata

#: Parameters of the reference code for these instances.
SEATS = 66
SPEED_FT_S = 29.333
STOP_S = 19.0
PER_PUPIL_S = 2.6
#: The reference's fleet rules (``src/selection.jl``, ``src/load.jl``): speed, dwell, yard.
FLEET_SPEED_FT_S = 29.3333
DWELL_S = 154.4
YARD = (105_600.0, 105_600.0)


def benchmark_folder(root: str | Path | None = None) -> Path:
    """The benchmark's folder (``sbrp`` of the shared geodata, or of ``root``); exits with a
    message when there is none (for the benchmark scripts)."""
    import sys

    root = root or shared_geodata()
    if root is None:
        sys.exit("no shared geodata (../shared/geodata); pass --geodata")
    return Path(root) / "sbrp"


def read_instance(folder: str | Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``Schools.txt`` and ``Stops.txt`` of an instance folder (ids as text)."""
    folder = Path(folder)
    schools = pd.read_csv(folder / "Schools.txt", sep="\t", dtype={"ID": str})
    stops = pd.read_csv(folder / "Stops.txt", sep="\t", dtype={"ID": str, "EP_ID": str})
    return schools, stops


def school_problem(
    school: pd.Series,
    stops: pd.DataFrame,
    max_ride_s: float = 2700.0,
    speed_ft_s: float = SPEED_FT_S,
) -> BusProblem:
    """One school's morning problem: Manhattan distances (ft), 29.333 ft/s, 19 s + 2.6 s/pupil."""
    mine = stops[stops["EP_ID"] == school["ID"]]
    xy = np.vstack([[school["X"], school["Y"]], mine[["X_COORD", "Y_COORD"]].to_numpy(float)])
    dist = np.abs(xy[:, None, 0] - xy[None, :, 0]) + np.abs(xy[:, None, 1] - xy[None, :, 1])
    return BusProblem(
        list(mine["ID"]),
        mine["STUDENT_COUNT"].to_numpy(int),
        dist / speed_ft_s,
        dist,
        SEATS,
        max_ride_s,
        STOP_S,
        PER_PUPIL_S,
    )


def reference_routes(path: str | Path) -> pd.DataFrame:
    """Reference route set: one row per route (``route, school_id, load, stops``)."""
    lines = [line.strip() for line in Path(path).read_text().splitlines()]
    start = lines.index("NODE_COORD_SECTION") + 1
    rows = []
    for line in lines[start:]:
        parts = line.split("\t")
        if not parts[0].isdigit():
            break
        if parts[0] == "0":  # the depot row
            continue
        n = int(parts[8])
        rows.append(
            {
                "route": int(parts[0]),
                "school_id": parts[7],
                "load": int(parts[4]),
                "stops": parts[10 : 10 + n],
                "ride_s": float(parts[9]),
            }
        )
    return pd.DataFrame(rows)


def bell_s(hhmm) -> np.ndarray:
    """Bell times read as HHMM (``AMEARLY``, e.g. 755 = 7:55) in seconds after midnight."""
    v = np.asarray(hhmm, dtype=int)
    return (v // 100 * 3600 + v % 100 * 60).astype(float)


def fleet_problem(
    schools: pd.DataFrame,
    stops: pd.DataFrame,
    max_ride_s: float = 2700.0,
    speed_ft_s: float = FLEET_SPEED_FT_S,
    dwell_s: float = DWELL_S,
):
    """The fleet problem of an instance with the reference's rules: bells = ``AMEARLY``,
    one dwell, the yard at :data:`YARD` (buses leave it freely), Manhattan deadhead."""

    ids = stops["EP_ID"].to_numpy()
    xy = stops[["X_COORD", "Y_COORD"]].to_numpy(float)
    sxy = schools[["X", "Y"]].to_numpy(float)
    dead = np.abs(sxy[:, None, :] - xy[None, :, :]).sum(axis=2)
    return FleetProblem(
        list(schools["ID"]),
        bell_s(schools["AMEARLY"]),
        dwell_s,
        [school_problem(s, stops, max_ride_s, speed_ft_s) for _, s in schools.iterrows()],
        [np.flatnonzero(ids == s) for s in schools["ID"]],
        dead / speed_ft_s,
        dead,
    )


#: Park, Tae & Kim's rules for their mixed-load solutions: speed (ft/s), and whole seconds.
PARK_SPEED_FT_S = 29.3333333


def windows(schools: pd.DataFrame) -> dict[str, tuple[float, float]]:
    """School id -> its window ``(AMEARLY, AMLATE)`` in seconds after midnight."""
    early, late = bell_s(schools["AMEARLY"]), bell_s(schools["AMLATE"])
    return dict(zip(schools["ID"].astype(str), zip(early, late, strict=True), strict=True))


def manhattan_travel(schools: pd.DataFrame, stops: pd.DataFrame, speed_ft_s=PARK_SPEED_FT_S):
    """Whole seconds of driving between points (stop or school ids), pair by pair:
    ``floor(Manhattan feet / speed)``, as Park et al.'s solutions count it."""
    xy = {
        **dict(zip(schools["ID"].astype(str), schools[["X", "Y"]].to_numpy(float), strict=True)),
        **dict(
            zip(stops["ID"].astype(str), stops[["X_COORD", "Y_COORD"]].to_numpy(float), strict=True)
        ),
    }

    def travel(a: list[str], b: list[str]) -> np.ndarray:
        pa = np.array([xy[i] for i in a]).reshape(-1, 2)
        pb = np.array([xy[i] for i in b]).reshape(-1, 2)
        return np.floor(np.abs(pa - pb).sum(axis=1) / speed_ft_s + 1e-9)

    return travel


def park_events(path: str | Path) -> pd.DataFrame:
    """A published solution of Park, Tae & Kim (``solution_2700.txt``: one row per visit of
    each vehicle: ``Veh_ID, Seq, ID, #Students, ..., Destination``) as mixed-load events
    (:data:`ruralnet.buses.mixed.EVENT_COLUMNS`). The depot (ids 9xxxxx) and the rows of a bus
    leaving a school with nobody to drop are not events; a run ends when the bus is empty."""
    table = pd.read_csv(path, sep="\t", dtype={"ID": str, "Destination": str})
    table = table.rename(columns=lambda c: "pupils" if c.strip() == "#Students" else c.strip())
    rows = []
    for bus, part in table.sort_values(["Veh_ID", "Seq"]).groupby("Veh_ID", sort=True):
        order, seq, on = 0, 0, 0
        for r in part.itertuples(index=False):
            n, point = int(r.pupils), str(r.ID)
            if point.startswith("1"):
                if on == 0:
                    order, seq = order + 1, 0
                seq, on = seq + 1, on + n
                rows.append(
                    (int(bus), order, f"{bus}-{order}", seq, "pickup", point, r.Destination)
                )
            elif point.startswith("2") and n > 0:
                seq, on = seq + 1, on - n
                rows.append((int(bus), order, f"{bus}-{order}", seq, "dropoff", "", point))
    return pd.DataFrame(
        rows, columns=["bus", "order", "run", "seq", "action", "stop_id", "school_id"]
    )


def mixed_fleet_problem(schools: pd.DataFrame, stops: pd.DataFrame, max_ride_s: float = 2700.0):
    """The fleet problem of an instance under Park et al.'s timing, for single-school runs:
    whole-second Manhattan travel and service, each stop's own service folded into the drive
    that leaves it (stops are served whole, so it is known), so that a pupil's ride counts from
    the bus's arrival at their stop; the dwell at a school is the longest unloading
    (``floor(29 + 1.9 * 66)`` s). Bells are set to each window's end
    (:func:`ruralnet.buses.bells.with_starts` sets others)."""
    rules = MixedRules(max_ride_s=max_ride_s)
    travel = manhattan_travel(schools, stops)
    problems = []
    for _, school in schools.iterrows():
        mine = stops[stops["EP_ID"] == school["ID"]]
        points = [str(school["ID"]), *mine["ID"].astype(str)]
        n = len(points)
        drive = travel(np.repeat(points, n), np.tile(points, n)).reshape(n, n)
        service = [rules.service("pickup", int(p)) for p in mine["STUDENT_COUNT"]]
        time = drive.copy()
        time[1:] += np.asarray(service)[:, None]  # leaving a stop: its service, then the drive
        np.fill_diagonal(time, 0.0)
        problems.append(
            BusProblem(
                list(mine["ID"]),
                mine["STUDENT_COUNT"].to_numpy(int),
                time,
                drive * PARK_SPEED_FT_S,
                SEATS,
                max_ride_s,
                0.0,
                0.0,
            )
        )
    ids = stops["EP_ID"].to_numpy()
    dead = travel(
        np.repeat(schools["ID"].astype(str).to_numpy(), len(stops)),
        np.tile(stops["ID"].astype(str).to_numpy(), len(schools)),
    ).reshape(len(schools), len(stops))
    dwell = rules.service("dropoff", SEATS)
    late = bell_s(schools["AMLATE"])
    return FleetProblem(
        list(schools["ID"]),
        late + dwell,
        dwell,
        problems,
        [np.flatnonzero(ids == s) for s in schools["ID"]],
        dead,
        dead * PARK_SPEED_FT_S,
    )


def mixed_pairs(
    schools: pd.DataFrame,
    stops: pd.DataFrame,
    problem: FleetProblem,
    gap_s: float = 600.0,
    max_schools: int = 2,
) -> FleetProblem:
    """``problem`` (:func:`mixed_fleet_problem`, bells chosen) with a mixed school for every
    chain of 2 to ``max_schools`` schools, each at most ``gap_s`` of driving from the one
    before, whose windows let one run unload them all in turn
    (:func:`ruralnet.buses.mixed.mixed_chains`), under Park et al.'s timing."""
    travel = manhattan_travel(schools, stops)
    ids = schools["ID"].astype(str).to_numpy()
    early = bell_s(schools["AMEARLY"])
    k = len(ids)
    drive = travel(np.repeat(ids, k), np.tile(ids, k)).reshape(k, k)
    hop_s = problem.dwell_s[:k, None] + drive
    mixed = []
    for drops, hops, bell in mixed_chains(problem, drive <= gap_s, hop_s, early, max_schools):
        parts = [problem.schools[d] for d in drops]
        points = [str(i) for p in parts for i in p.stop_ids]
        n = len(points)
        leave = np.array(
            [MixedRules().service("pickup", int(q)) for p in parts for q in p.pupils], dtype=float
        )
        between = travel(np.repeat(points, n), np.tile(points, n)).reshape(n, n)
        to_first = travel(points, [ids[drops[0]]] * n)
        metres = [float(drive[a, b]) * PARK_SPEED_FT_S for a, b in itertools.pairwise(drops)]
        mixed.append(
            MixedSchool(
                drops,
                mixed_problem(
                    parts,
                    between + leave[:, None],
                    between * PARK_SPEED_FT_S,
                    to_first + leave,
                    to_first * PARK_SPEED_FT_S,
                    float(sum(hops)),
                    float(sum(metres)),
                ),
                bell,
                tuple(zip(hops, metres, strict=True)),
            )
        )
    return add_mixed(problem, mixed)
