"""Many counties at once on Dask distributed.

A local cluster of worker processes by default, or an existing cluster by scheduler address.
Each county runs :func:`ruralnet.report.process_county` on a worker; a failing county is
reported and the others go on. A rerun skips a county whose inputs (every file of its
folder, by content), settings, options and ruralnet version have not changed: the fingerprint
is kept in ``OUT_DIR/<county>/.ruralnet-fingerprint.json``. The rows of all counties form the
province summary ``OUT_DIR/province_summary.csv``.
"""

from __future__ import annotations

import hashlib
import json
import logging
from pathlib import Path

import pandas as pd

from ._version import __version__
from .report import process_county, write_summary

log = logging.getLogger(__name__)

FINGERPRINT = ".ruralnet-fingerprint.json"


def fingerprint(folder: str | Path, settings=None, options: dict | None = None) -> str:
    """Hash of a county's inputs (file names and contents), settings, options and version."""
    from .settings import Settings

    h = hashlib.sha256()
    folder = Path(folder)
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        h.update(str(path.relative_to(folder)).encode())
        with open(path.resolve(), "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    h.update(json.dumps((settings or Settings()).to_dict(), sort_keys=True, default=str).encode())
    h.update(json.dumps(options or {}, sort_keys=True, default=str).encode())
    h.update(__version__.encode())
    return h.hexdigest()


def _done(out: Path, folder: Path, print_: str) -> dict | None:
    """The previous summary row if the county's outputs are there and its fingerprint matches."""
    marker = out / folder.name / FINGERPRINT
    if not marker.exists():
        return None
    saved = json.loads(marker.read_text())
    if saved.get("fingerprint") != print_ or saved.get("row", {}).get("status") != "ok":
        return None
    return {**saved["row"], "status": "ok", "skipped": True}


def _task(folder: str, out_dir: str, options: dict, settings, print_: str) -> dict:
    """What a worker runs for one county (also writes the fingerprint when it succeeded)."""
    row = process_county(folder, out_dir, settings=settings, **options)
    if row["status"] == "ok":
        marker = Path(out_dir) / Path(folder).name / FINGERPRINT
        marker.write_text(json.dumps({"fingerprint": print_, "row": row}, default=str))
    return row


def run_dask(
    folders,
    out_dir: str | Path,
    scheduler: str | None = None,
    workers: int = 2,
    settings=None,
    lang: str = "zh",
    optimise: bool = True,
    buses: str | None = "receiving",
    progress: bool = True,
    force: bool = False,
) -> pd.DataFrame:
    """Run many counties on Dask; returns (and writes) the province summary.

    Parameters
    ----------
    folders
        County folders.
    out_dir
        Output folder: one sub-folder per county, ``province_summary.csv``.
    scheduler
        Address of an existing Dask scheduler (``tcp://host:8786``); default: a local cluster.
    workers
        Worker processes of the local cluster (one thread each).
    force
        Rerun counties even when their inputs have not changed.
    """
    from dask.distributed import Client, LocalCluster, as_completed
    from tqdm.auto import tqdm

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    options = {"lang": lang, "optimise": optimise, "buses": buses}
    folders = [Path(f).resolve() for f in folders]
    prints = {f: fingerprint(f, settings, options) for f in folders}
    rows, todo = [], []
    for f in folders:
        previous = None if force else _done(out, f, prints[f])
        if previous is not None:
            rows.append(previous)
        else:
            todo.append(f)
    log.info("%d counties to run, %d unchanged", len(todo), len(rows))
    if todo:
        cluster = None
        if scheduler is None:
            cluster = LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            )
        client = Client(scheduler or cluster)
        try:
            futures = [
                client.submit(
                    _task,
                    str(f),
                    str(out),
                    options,
                    settings,
                    prints[f],
                    pure=False,
                    key=f"county-{f.name}-{prints[f][:8]}",
                )
                for f in todo
            ]
            for fut in tqdm(
                as_completed(futures),
                total=len(futures),
                desc="counties",
                unit="county",
                disable=not progress,
            ):
                try:
                    rows.append({**fut.result(), "skipped": False})
                except Exception as exc:  # a worker died: still one row per county
                    name = fut.key.split("-", 1)[1].rsplit("-", 1)[0]
                    rows.append(
                        {
                            "county": name,
                            "status": "error",
                            "error": f"{type(exc).__name__}: {exc}",
                            "skipped": False,
                        }
                    )
        finally:
            client.close()
            if cluster is not None:
                cluster.close()
    order = {f.name: i for i, f in enumerate(folders)}
    rows.sort(key=lambda r: order.get(r["county"], len(order)))
    return write_summary(rows, out / "province_summary.csv")
