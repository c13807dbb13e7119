"""Write analysis results to files (the only module besides the CLI that writes)."""

from __future__ import annotations

from pathlib import Path

from .catchments import ASSIGNMENT_COLUMNS, CatchmentResult
from .io import write_layers, write_table


def write_catchments(result: CatchmentResult, out_dir: str | Path) -> dict[str, Path]:
    """Write a catchment analysis into ``out_dir``.

    Files: ``catchments.gpkg`` (layers ``catchments``: ``site_id, stage, children``;
    ``boarding``: boarding catchments; ``isochrones``), ``village_assignment.csv``
    (``village_id, stage, children, site_id, minutes, mode, boards``; ``site_id`` empty when
    unassigned), ``accessibility.csv`` (``township_code, stage, indicator, value``),
    ``boarding.csv`` (beds needed vs available per boarding site) and
    ``pupil_accounting.csv`` (children in, assigned, unassigned, in catchments, per stage).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {
        "catchments.gpkg": write_layers(
            {
                "catchments": result.polygons,
                "boarding": result.boarding,
                "isochrones": result.isochrones,
            },
            out / "catchments.gpkg",
        ),
        "village_assignment.csv": write_table(
            result.assignment[ASSIGNMENT_COLUMNS], out / "village_assignment.csv"
        ),
        "accessibility.csv": write_table(result.accessibility, out / "accessibility.csv"),
        "boarding.csv": write_table(result.boarding.drop(columns="geometry"), out / "boarding.csv"),
        "pupil_accounting.csv": write_table(result.accounting, out / "pupil_accounting.csv"),
    }
    return paths
