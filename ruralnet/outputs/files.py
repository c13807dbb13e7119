"""Writers of tables, layers, graphs and OSM extracts; each writes atomically.

With the map and report modules, the only code that writes files. Input files are never
modified: every writer goes through :func:`ruralnet.model.atomic.atomic_path`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from ..model.atomic import atomic_path
from ..model.coords import from_wgs84, normalise_coord_system, transform_geometry
from ..model.errors import OutputError
from ..sources.layers import PARQUET_SUFFIXES, TABLE_SUFFIXES, VECTOR_SUFFIXES
from ..sources.osm import _check_path
from .tables import defused

log = logging.getLogger(__name__)


def write_layer(
    gdf: gpd.GeoDataFrame, path: str | Path, layer: str | None = None, coord_system: str = "wgs84"
) -> Path:
    """Write a layer atomically; the format follows the suffix.

    CSV and XLSX get ``lon``/``lat`` columns of point geometries (in ``coord_system``,
    default WGS84). Parameters as in :func:`read_layer`.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    system = normalise_coord_system(coord_system)
    out = gdf.to_crs("EPSG:4326") if gdf.crs is not None and system != "wgs84" else gdf
    with atomic_path(path) as tmp:
        if suffix in TABLE_SUFFIXES:
            table = pd.DataFrame(out.drop(columns=out.geometry.name))
            if not out.geom_type.eq("Point").all():
                raise ValueError("CSV/XLSX output needs point geometries")
            x, y = from_wgs84(out.geometry.x.to_numpy(), out.geometry.y.to_numpy(), system)
            table["lon"], table["lat"] = x, y
            if suffix == ".csv":
                table.to_csv(tmp, index=False, encoding="utf-8-sig" if _has_cjk(table) else "utf-8")
            else:
                table.to_excel(tmp, index=False, sheet_name=layer or "sheet1")
                stable_zip(tmp)
        elif suffix in PARQUET_SUFFIXES:
            out.to_parquet(tmp)
        elif suffix in VECTOR_SUFFIXES:
            if system != "wgs84":
                out = out.copy()
                out["geometry"] = transform_geometry(out.geometry.to_numpy(), system, inverse=True)
            driver = VECTOR_SUFFIXES[suffix] or "ESRI Shapefile"
            with _fixed_gdal_date():
                out.to_file(tmp, layer=layer or path.stem, driver=driver, engine="pyogrio")
        else:
            raise ValueError(f"{path}: unsupported format")
    return path


def write_layers(layers: Mapping[str, gpd.GeoDataFrame], path: str | Path) -> Path:
    """Write several layers into one GeoPackage atomically (all of them or none)."""
    path = Path(path)
    with atomic_path(path) as tmp, _fixed_gdal_date():
        for name, gdf in layers.items():
            gdf.to_file(tmp, layer=name, driver="GPKG", engine="pyogrio")
    return path


#: The date written into files whose format stores one (GeoPackage ``last_change``, XLSX
#: properties and zip entries): fixed, so that the same input gives the same bytes.
FIXED_DATE = (1980, 1, 1, 0, 0, 0)


@contextlib.contextmanager
def _fixed_gdal_date() -> Iterator[None]:
    """GDAL stamps a GeoPackage's tables with the time of writing unless ``OGR_CURRENT_DATE``
    is set: set it (to :data:`FIXED_DATE`) for the block."""
    import pyogrio

    before = pyogrio.get_gdal_config_option("OGR_CURRENT_DATE")
    pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": "1980-01-01T00:00:00.000Z"})
    try:
        yield
    finally:
        pyogrio.set_gdal_config_options({"OGR_CURRENT_DATE": before})


def stable_zip(path: Path) -> None:
    """Rewrite a zip container (an XLSX workbook) in place without the time of writing: every
    entry dated :data:`FIXED_DATE`, the document's created/modified properties removed."""
    import re
    import zipfile

    with zipfile.ZipFile(path) as src:
        entries = [(info, src.read(info)) for info in src.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as dst:
        for info, data in entries:
            if info.filename == "docProps/core.xml":
                data = re.sub(rb"<dcterms:(created|modified)[^>]*>[^<]*</dcterms:\1>", b"", data)
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_DATE)
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            dst.writestr(fixed, data)


def write_table(table: pd.DataFrame, path: str | Path, sheet_name: str = "sheet1") -> Path:
    """Write a table (CSV or XLSX) atomically; CSV with a BOM if it holds Chinese text.

    Text that a spreadsheet would run as a formula (``=``, ``+``, ``-``, ``@`` first) is made
    inert in both formats (:func:`ruralnet.outputs.tables.defuse`).
    """

    path = Path(path)
    if path.suffix.lower() == ".xlsx":
        return write_workbook({sheet_name: table}, path)
    with atomic_path(path) as tmp:
        enc = "utf-8-sig" if _has_cjk(table) else "utf-8"
        defused(table).to_csv(tmp, index=False, encoding=enc)
    return path


def write_workbook(sheets: Mapping[str, pd.DataFrame], path: str | Path) -> Path:
    """Write tables as the sheets of one XLSX workbook, atomically: a frozen header row,
    columns as wide as their text (Chinese characters count double), text cells stored as
    text (never run as formulas), whole numbers with thousands separators and other numbers
    with one decimal, and each sheet set up to print (A4 landscape, fit to width, the header
    repeated)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    wb = Workbook()
    wb.remove(wb.active)
    used: set[str] = set()
    for name, table in sheets.items():
        ws = wb.create_sheet(_sheet_name(name, used))
        ws.append([str(c) for c in table.columns])
        for row in table.itertuples(index=False):
            ws.append([_cell(v) for v in row])
        for cell in ws[1]:
            cell.font = Font(bold=True)
        for row in ws.iter_rows(min_row=2):
            for cell in row:
                if isinstance(cell.value, str):
                    cell.data_type = "s"  # text, even when it starts with "="
                elif isinstance(cell.value, bool):
                    continue
                elif isinstance(cell.value, int):
                    cell.number_format = WHOLE_FORMAT
                elif isinstance(cell.value, float):
                    cell.number_format = DECIMAL_FORMAT
        ws.freeze_panes = "A2"
        _print_setup(ws)
        for k, col in enumerate(table.columns, start=1):
            values = [str(col), *(str(v) for v in table[col].head(500) if _present(v))]
            width = max(_display_width(v) for v in values)
            ws.column_dimensions[get_column_letter(k)].width = min(60, max(6, width + 2))
    if not wb.sheetnames:
        wb.create_sheet("sheet1")
    with atomic_path(path) as tmp:
        wb.save(tmp)
        stable_zip(tmp)
    return Path(path)


#: Number formats of the workbooks: whole numbers with thousands separators (pupils, yuan),
#: other numbers with one decimal (minutes, km, shares in per cent).
WHOLE_FORMAT = "#,##0"
DECIMAL_FORMAT = "#,##0.0"


def _print_setup(ws) -> None:
    """A sheet that prints as an office prints it: A4 landscape, every column on one page's
    width, the header row repeated on every page, the table as the print area."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth = 1
    ws.page_setup.fitToHeight = 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    ws.print_title_rows = "1:1"
    ws.print_area = ws.dimensions
    ws.print_options.gridLines = True


def _present(value) -> bool:
    return (
        value is not None
        and not (isinstance(value, float) and np.isnan(value))
        and value is not pd.NA
    )


def _cell(value):
    """A value openpyxl can store (numpy scalars as Python numbers, missing as empty)."""
    if not _present(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _display_width(text: str) -> int:
    return sum(2 if "\u2e80" <= ch <= "\uffef" else 1 for ch in text)


def _sheet_name(name: str, used: set[str]) -> str:
    """A valid, unique sheet name (31 characters, none of []:*?/\\)."""
    clean = "".join("_" if ch in "[]:*?/\\" else ch for ch in str(name))[:31] or "sheet"
    base, k = clean, 2
    while clean in used:
        suffix = f" ({k})"
        clean, k = base[: 31 - len(suffix)] + suffix, k + 1
    used.add(clean)
    return clean


def _has_cjk(table: pd.DataFrame) -> bool:
    text = " ".join(map(str, table.columns)) + " ".join(
        str(v)
        for col in table.select_dtypes(include=["object", "string"]).columns
        for v in table[col].head(200)
    )
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def extract_ways(path: str | Path, way_ids, out_path: str | Path) -> Path:
    """Write the given ways with all their nodes to a new OSM file (.osm, .osm.bz2, .osm.pbf).

    Useful to cut a mode's roads out of an extract (osmnx's ``graph_from_xml`` reads every way
    of a file and fails on ways whose nodes are missing). Ways with a node missing from the
    input are left out. The output is written atomically.
    """
    import osmium

    path = _check_path(path)
    wanted = set(int(w) for w in way_ids)
    ways = []
    nodes: set[int] = set()
    for way in (
        osmium.FileProcessor(str(path), osmium.osm.NODE | osmium.osm.WAY)
        .with_locations()
        .with_filter(osmium.filter.EntityFilter(osmium.osm.WAY))
    ):
        if way.id in wanted and all(n.location.valid() for n in way.nodes):
            ways.append(
                osmium.osm.mutable.Way(
                    id=way.id,
                    version=way.version,
                    visible=True,
                    changeset=way.changeset,
                    timestamp=way.timestamp,
                    uid=way.uid,
                    user=way.user,
                    tags=dict(way.tags),
                    nodes=[n.ref for n in way.nodes],
                )
            )
            nodes.update(n.ref for n in way.nodes)
    out_path = Path(out_path)
    suffix = "".join(out_path.suffixes[-2:]) if out_path.name.endswith(".bz2") else out_path.suffix
    with atomic_path(out_path) as tmp:
        target = tmp.with_name(tmp.name + suffix)  # osmium picks the format from the suffix
        writer = osmium.SimpleWriter(str(target))
        try:
            for node in osmium.FileProcessor(str(path), osmium.osm.NODE):
                if node.id in nodes:
                    writer.add_node(node)
            for way in sorted(ways, key=lambda w: w.id):
                writer.add_way(way)
        finally:
            writer.close()
        target.rename(tmp)
    return out_path


def write_graphml(network, path: str | Path) -> Path:
    """Write a network's osmnx-compatible graph
    (:meth:`ruralnet.network.build.Network.to_networkx`) as GraphML with osmnx's own writer
    (``osmnx.save_graphml``), so ``osmnx.load_graphml`` reads it back with its types;
    atomically."""
    import osmnx as ox

    with atomic_path(path) as tmp:
        ox.save_graphml(network.to_networkx(), filepath=tmp)
    return Path(path)


#: Marks a folder ruralnet wrote (so a later run may replace it).
OUTPUT_MARK = ".ruralnet-output"


@contextlib.contextmanager
def staged_folder(target: str | Path) -> Iterator[Path]:
    """Yield an empty folder next to ``target``; when the block completes, it replaces
    ``target`` (an interrupted run leaves the previous ``target``, or nothing).

    Raises
    ------
    OutputError
        If ``target`` is a file, or a folder holding files ruralnet did not write.
    """
    target = Path(target)
    check_replaceable(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    with _writer_lock(target):  # one run writes a target at a time
        _remove_staging(target)  # left by a killed run
        yield from _staged(target)


def remove_stale_staging(target: str | Path) -> None:
    """Remove what killed writers of ``target`` left: staging folders and a lock whose process
    is gone (a lock held by a running process, and its staging, are left alone)."""
    target = Path(target)
    lock = target.parent / f".{target.name}.lock"
    if lock.exists() and _lock_holder(lock) is not None:
        return
    lock.unlink(missing_ok=True)
    _remove_staging(target)


def _remove_staging(target: Path) -> None:
    for pattern in (".partial-*", ".old-*"):
        for stale in target.parent.glob(f".{target.name}{pattern}"):
            shutil.rmtree(stale, ignore_errors=True)


def _staged(target: Path) -> Iterator[Path]:
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.partial-", dir=target.parent))
    try:
        yield tmp
        (tmp / OUTPUT_MARK).write_text("written by ruralnet\n", encoding="utf-8")
        old = None
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            os.replace(target, old / target.name)
        os.replace(tmp, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


@contextlib.contextmanager
def _writer_lock(target: Path) -> Iterator[None]:
    """Hold ``.<target>.lock`` (with this process's id) while writing ``target``.

    Raises
    ------
    OutputError
        If another running process holds it (a lock whose process is gone is taken over).
    """
    lock = target.parent / f".{target.name}.lock"
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            holder = _lock_holder(lock)
            if holder is not None:
                raise OutputError(
                    f"another ruralnet run (process {holder}) is writing {target}: wait for it "
                    "to finish, or choose another --out"
                ) from None
            lock.unlink(missing_ok=True)  # its process is gone: a stale lock
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        break
    else:
        raise OutputError(f"cannot take the lock {lock}")
    try:
        yield
    finally:
        lock.unlink(missing_ok=True)


def _lock_holder(lock: Path) -> int | None:
    """The running process that holds a lock file, or ``None`` (gone, or unreadable)."""
    try:
        pid = int(lock.read_text(encoding="utf-8").strip())
        os.kill(pid, 0)
    except PermissionError:  # alive, another user's
        return pid
    except (OSError, ValueError):
        return None
    return pid


def output_folder(path: str | Path) -> Path:
    """The folder a writer writes into, made if missing.

    Raises
    ------
    OutputError
        If the path is a file (or cannot be made a folder).
    """
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise OutputError(f"{path} is a file: give a folder for the output")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except (FileExistsError, NotADirectoryError, PermissionError) as exc:
        raise OutputError(f"{path}: cannot make the output folder: {exc}") from exc
    return path


def check_replaceable(target: Path) -> None:
    """``target`` may be written: absent, an empty folder, or a folder ruralnet wrote."""

    if target.is_file():
        raise OutputError(f"{target} is a file: give a folder for the output")
    if target.is_dir() and any(target.iterdir()) and not (target / OUTPUT_MARK).exists():
        raise OutputError(
            f"{target} already holds files ruralnet did not write: choose an empty or new folder"
        )
    try:  # a real write, not a permission check: root passes those, read-only mounts fail
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".ruralnet-probe-", dir=target.parent)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise OutputError(
            f"cannot write in {target.parent} ({exc.strerror}): choose another output folder"
        ) from exc
