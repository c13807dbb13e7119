"""The county job and the batch job, as one runner.

:func:`run_county` is the whole job for one county folder, from reading to the written
report; :func:`run_counties` runs it for many counties, one after the other or on Dask (a
local cluster or a scheduler), skipping counties whose inputs have not changed. The study
(:mod:`ruralnet.study`) computes, the output modules write; this module only calls them in
order. Options are :class:`JobOptions` (what each county's job does) and
:class:`BatchOptions` (how the batch runs), each validated once, where it is made.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
from tqdm.auto import tqdm

from ._version import __version__
from .analysis.catchments import analyse_catchments
from .analysis.overview import county_overview
from .analysis.phases import phase_years
from .model.errors import InputError, OutputError, SettingsError
from .model.labels import LANGS
from .model.settings import Settings
from .network.county import load_county
from .outputs.files import check_replaceable, remove_stale_staging, staged_folder, write_table
from .outputs.maps import BASEMAPS
from .outputs.report import write_catchments, write_county_report, write_overview
from .outputs.years import write_years_report
from .sources.scenario import Scenario, read_scenario
from .study import BusScope, CountyAnalysis, analyse_county, analyse_years, bus_scope

log = logging.getLogger(__name__)

FINGERPRINT = ".ruralnet-fingerprint.json"
#: What the county job can write (``run_county(..., parts=...)``).
PARTS = ("overview", "catchments", "report")


@dataclass(frozen=True)
class JobOptions:
    """What the county job does, validated once when made.

    Attributes
    ----------
    lang
        Language of the report (``zh`` or ``en``).
    optimise
        Solve the plan model (the optimised plan, recommended).
    buses
        Which plans get bus routes (:class:`~ruralnet.study.BusScope` or its name; ``None``:
        none).
    basemap
        ``none`` (offline map) or an online basemap (:data:`ruralnet.outputs.maps.BASEMAPS`).
    years
        Also the plan over these years, from one model (whole years, each once, in increasing
        order).
    scenario
        Levers to try (:class:`~ruralnet.sources.scenario.Scenario`, or its TOML file, read
        here), applied on top of each county's ``county.toml``.

    Raises
    ------
    InputError
        Naming every option that is wrong, at once.
    """

    lang: str = "zh"
    optimise: bool = True
    buses: BusScope | str | None = BusScope.ALL
    basemap: str = "none"
    years: tuple[int, ...] = field(default_factory=tuple)
    scenario: Scenario | str | Path | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.scenario is not None and not isinstance(self.scenario, Scenario):
            try:
                object.__setattr__(self, "scenario", read_scenario(self.scenario))
            except SettingsError as exc:
                problems.append(str(exc))
        if self.lang not in LANGS:
            problems.append(f"lang must be one of {', '.join(LANGS)}, got {self.lang!r}")
        if self.basemap not in BASEMAPS:
            problems.append(f"basemap must be one of {', '.join(BASEMAPS)}, got {self.basemap!r}")
        try:
            object.__setattr__(self, "buses", bus_scope(self.buses))
        except InputError as exc:
            problems.append(str(exc))
        try:
            object.__setattr__(self, "years", phase_years(self.years))
        except InputError as exc:
            problems.append(str(exc))
        if problems:
            raise InputError("; ".join(problems))

    def to_dict(self) -> dict:
        """The options as plain values (for the batch's fingerprints)."""
        out = asdict(self)
        out["buses"] = str(self.buses)
        out["years"] = list(self.years)
        return out


@dataclass(frozen=True)
class BatchOptions:
    """How a batch of counties runs.

    Attributes
    ----------
    dask
        Run on Dask distributed: a local cluster of ``workers`` processes, or the cluster at
        ``scheduler`` (``tcp://host:8786``). Otherwise one county after the other.
    force
        Rerun counties whose inputs, settings, options and ruralnet version have not changed
        (``False``: skip them, reusing their summary rows).
    progress
        Show a progress bar.
    summary_name
        File name of the summary in the output folder.
    """

    dask: bool = False
    scheduler: str | None = None
    workers: int = 2
    force: bool = True
    progress: bool = True
    summary_name: str = "summary.csv"

    def __post_init__(self) -> None:
        problems = []
        if int(self.workers) < 1:
            problems.append(f"workers must be 1 or more, got {self.workers!r}")
        name = str(self.summary_name)
        if not name or Path(name).name != name:
            problems.append(f"summary_name must be a file name, got {self.summary_name!r}")
        if problems:
            raise InputError("; ".join(problems))


def run_county(
    folder,
    out_dir,
    options: JobOptions | None = None,
    *,
    parts=("report",),
    settings: Settings | None = None,
) -> dict:
    """The whole job for one county folder: read, analyse, write ``parts`` into ``out_dir``.

    Parameters
    ----------
    folder, out_dir
        The county folder and the folder its outputs go to (replaced whole, or not at all).
    options
        What the job does (:class:`JobOptions`; default: the defaults). With ``years``, also
        the plan over those years (:func:`ruralnet.study.analyse_years`), written beside the
        report.
    parts
        Any of :data:`PARTS`: ``overview`` (travel-time tables and the county map into
        ``out_dir``), ``catchments`` (``out_dir/catchments/``), ``report``
        (``out_dir/report/`` for the ``demo`` layout, or ``out_dir`` itself when it is the
        only part).
    settings
        Settings over the county folder's own.

    Returns
    -------
    dict
        The county's summary row.

    Raises
    ------
    InputError
        For a part that is not one of :data:`PARTS`.
    """
    o = options or JobOptions()
    parts = tuple(parts)
    wrong = [p for p in parts if p not in PARTS]
    if wrong or not parts:
        raise InputError(f"parts must be some of {', '.join(PARTS)}, got {list(parts)}")
    started = time.perf_counter()
    out = Path(out_dir)
    check_outputs({Path(folder): out})  # before the analysis, not after it
    step = _Steps(Path(folder).name, parts, bool(o.years), settings)
    county = load_county(folder, settings=settings, scenario=o.scenario)
    row: dict = {"county": Path(folder).name, "name": county.name, "code": county.code}
    overview = analysis = catchments = phased = None
    if "overview" in parts:
        step("travel times")
        overview = county_overview(county)
        row["overview"] = overview.summary
    if "report" in parts:
        step("plans and buses")
        analysis = analyse_county(county, optimise=o.optimise, lang=o.lang, buses=o.buses)
        row.update(summary_row(analysis))
        if o.years:
            step("years")
            years_buses = BusScope.NONE if o.buses is BusScope.NONE else BusScope.RECOMMENDED
            phased = analyse_years(county, o.years, o.optimise, o.lang, years_buses)
            row["years"] = " ".join(str(y) for y in sorted(phased.phases))
    if "catchments" in parts:
        step("catchments")
        catchments = analyse_catchments(county, ctx=analysis.context if analysis else None)
        row["balanced"] = bool(catchments.accounting["balanced"].all())
    step("writing")
    with staged_folder(out) as tmp:  # the whole output appears at once, or not at all
        if overview is not None:
            write_overview(overview, county, tmp)
        if catchments is not None:
            write_catchments(catchments, tmp / "catchments")
        if analysis is not None:
            target = tmp / "report" if len(parts) > 1 else tmp
            write_county_report(analysis, target, lang=o.lang, basemap=o.basemap)
            if phased is not None:
                write_years_report(phased, analysis, target, lang=o.lang)
    step.close()
    # the time goes to the log, not into summary.csv (the same input gives the same bytes)
    log.info("county %s done in %.1f s", row["county"], time.perf_counter() - started)
    return row


class _Steps:
    """A progress bar over one county's steps (loading, travel times, plans and buses, years,
    catchments, writing): shown in a terminal unless ``settings.progress`` is off, never
    when the output is not a terminal (tqdm's own check)."""

    def __init__(self, name: str, parts, years: bool, settings: Settings | None) -> None:
        total = 2 + len(parts) + int(years and "report" in parts)
        show = settings.progress if settings is not None else True
        self.bar = tqdm(total=total, desc=name, unit="step", disable=None if show else True)
        self.bar.set_postfix_str("loading", refresh=True)

    def __call__(self, what: str) -> None:
        self.bar.update(1)
        self.bar.set_postfix_str(what, refresh=True)

    def close(self) -> None:
        self.bar.update(self.bar.total - self.bar.n)
        self.bar.close()


def check_outputs(targets: dict) -> None:
    """Refuse output folders that would hurt: a file, a folder of other files, not writable,
    inside or above an input folder, or one folder for two counties.

    Parameters
    ----------
    targets
        Input folder -> the folder its outputs go to.

    Raises
    ------
    OutputError
        Naming the folder and the problem, before any analysis runs.
    """
    seen: dict = {}
    inputs = [Path(f).resolve() for f in targets]
    for folder, target in targets.items():
        target = Path(target).resolve()
        if target in seen:
            raise OutputError(
                f"{seen[target]} and {folder} would both write to {target} (two county folders "
                "of the same name): rename one"
            )
        seen[target] = folder
        for f in inputs:
            if target == f or f in target.parents or target in f.parents:
                raise OutputError(
                    f"the output folder {target} is inside or above the input folder {f}: "
                    "choose a folder outside the county folders"
                )
        check_replaceable(target)


def summary_row(analysis: CountyAnalysis) -> dict:
    """A county's line of the batch summary."""
    cand = analysis.candidates
    ev = analysis.evaluations[analysis.recommended]
    before = analysis.evaluations["current"]
    return {
        "sites": len(analysis.county.sites),
        "villages": len(analysis.county.villages),
        "candidates": len(cand),
        "merges": int(cand["decision"].astype(str).str.startswith("merge").sum()),
        "kept": int((cand["decision"] == "keep").sum()),
        "restore": int((cand["decision"] == "restore").sum()),
        "pupils": ev.pupils_before,
        "beyond_before": int(before.stages["beyond_limits"].sum()),
        "beyond_after": int(ev.stages["beyond_limits"].sum()),
        "policy_failed": int((ev.policy["status"] == "failed").sum()),
        "buses": analysis.buses[analysis.recommended].buses_needed()
        if analysis.buses and analysis.recommended in analysis.buses
        else None,
    }


def _safe_county(folder, out_dir, options: JobOptions, settings) -> dict:
    """:func:`run_county` that never raises: a failure becomes the row's ``error``."""
    folder = Path(folder)
    try:
        row = run_county(folder, Path(out_dir) / folder.name, options, settings=settings)
        row["status"], row["error"] = "ok", ""
    except Exception as exc:  # one county's failure must not stop the batch
        log.error("county %s failed: %s: %s", folder, type(exc).__name__, exc)
        log.debug("traceback", exc_info=True)
        row = {
            "county": folder.name,
            "status": "error",
            "error": f"{type(exc).__name__}: {exc}".replace("\n", " | "),
        }
    return row


def fingerprint(
    folder: str | Path, settings: Settings | None = None, options: JobOptions | None = None
) -> str:
    """Hash of a county's inputs (file names and contents), settings, options and version."""
    h = hashlib.sha256()
    folder = Path(folder)
    for path in sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")):
        h.update(str(path.relative_to(folder)).encode())
        with open(path.resolve(), "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    h.update(json.dumps((settings or Settings()).to_dict(), sort_keys=True, default=str).encode())
    h.update(json.dumps((options or JobOptions()).to_dict(), sort_keys=True).encode())
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


def _task(folder: str, out_dir: str, options: JobOptions, settings, print_: str | None) -> dict:
    """One county, as a batch task (writes the fingerprint when it succeeded)."""
    row = _safe_county(folder, out_dir, options, settings)
    if row["status"] == "ok" and print_ is not None:
        marker = Path(out_dir) / Path(folder).name / FINGERPRINT
        marker.write_text(json.dumps({"fingerprint": print_, "row": row}, default=str))
    return row


SUMMARY_INTS = (
    "sites",
    "villages",
    "candidates",
    "merges",
    "kept",
    "restore",
    "pupils",
    "beyond_before",
    "beyond_after",
    "policy_failed",
    "buses",
)


def run_counties(
    folders,
    out_dir: str | Path,
    options: JobOptions | None = None,
    batch: BatchOptions | None = None,
    *,
    settings: Settings | None = None,
) -> pd.DataFrame:
    """The county job for each folder into ``OUT_DIR/<folder name>/``; the summary of all.

    A failing county is recorded with its error and the others go on.

    Parameters
    ----------
    folders, out_dir
        The county folders, and the folder their outputs and the summary go to.
    options
        What each county's job does (:class:`JobOptions`).
    batch
        How the batch runs (:class:`BatchOptions`: Dask, skipping unchanged counties,
        progress, the summary's file name).
    settings
        Settings over each county folder's own.
    """
    o, b = options or JobOptions(), batch or BatchOptions()
    out = Path(out_dir)
    folders = [Path(f).resolve() for f in folders]
    if out.is_file():
        raise OutputError(f"{out} is a file: give a folder for the output")
    check_outputs({f: out / f.name for f in folders})
    out.mkdir(parents=True, exist_ok=True)
    need_prints = not b.force or b.dask
    prints = {f: fingerprint(f, settings, o) for f in folders} if need_prints else {}
    rows, todo = [], []
    for f in folders:
        previous = None if b.force else _done(out, f, prints[f])
        (rows.append(previous) if previous is not None else todo.append(f))
    log.info("%d counties to run, %d unchanged", len(todo), len(rows))
    bar = {"total": len(todo), "desc": "counties", "unit": "county", "disable": not b.progress}
    if b.dask and todo:
        rows += _on_dask(todo, out, o, settings, prints, b, bar)
    else:
        rows += [
            {**_task(str(f), str(out), o, settings, prints.get(f)), "skipped": False}
            for f in tqdm(todo, **bar)
        ]
    order = {f.name: i for i, f in enumerate(folders)}
    rows.sort(key=lambda r: order.get(r["county"], len(order)))
    return write_summary(rows, out / b.summary_name)


@contextlib.contextmanager
def _workers_ignore_ctrl_c():
    """Start worker processes that ignore SIGINT (they inherit it): Ctrl-C in a terminal
    reaches the whole process group, and only this process should answer it, by closing the
    cluster and ending with one line (the workers printed a KeyboardInterrupt traceback)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    # workers ended on Ctrl-C leave a semaphore the resource tracker (a child of this process,
    # started with the cluster) cleans up, with a warning after our last line: not news
    quiet = "ignore:resource_tracker:UserWarning"
    given = os.environ.get("PYTHONWARNINGS", "")
    if quiet not in given:
        os.environ["PYTHONWARNINGS"] = f"{given},{quiet}" if given else quiet
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _on_dask(todo, out, options, settings, prints, b: BatchOptions, bar) -> list[dict]:
    from dask.distributed import Client, LocalCluster, as_completed  # heavy: only when used

    cluster = None
    if b.scheduler is None:
        with _workers_ignore_ctrl_c():
            cluster = LocalCluster(
                n_workers=b.workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address=None,
                silence_logs=logging.WARNING,
            )
    client = Client(b.scheduler or cluster)
    rows = []
    try:
        futures = {
            client.submit(
                _task, str(f), str(out), options, settings, prints[f], pure=False,
                key=f"county-{f.name}-{prints[f][:8]}",
            ): f
            for f in todo
        }  # fmt: skip
        for fut in tqdm(as_completed(futures), **bar):
            try:
                rows.append({**fut.result(), "skipped": False})
            except Exception as exc:  # a worker died: still one row per county
                rows.append(
                    {
                        "county": futures[fut].name,
                        "status": "error",
                        "error": f"{type(exc).__name__}: {exc}",
                        "skipped": False,
                    }
                )
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: stop the county runs, leave no staging
        if cluster is not None:
            _stop_workers(cluster)
            for f in todo:
                remove_stale_staging(out / f.name)
        raise
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    return rows


def _stop_workers(cluster) -> None:
    """End the local cluster's worker processes now (they ignore SIGINT; a county they run
    would otherwise go on and be written after the batch was interrupted)."""
    import psutil  # comes with dask.distributed

    procs = []
    for nanny in cluster.workers.values():
        with contextlib.suppress(psutil.Error, TypeError, ValueError, AttributeError):
            procs.append(psutil.Process(int(nanny.pid)))
    for p in procs:
        with contextlib.suppress(psutil.Error):
            p.terminate()
    psutil.wait_procs(procs, timeout=10)


def write_summary(rows: list[dict], path: Path) -> pd.DataFrame:
    """The province (or batch) summary: one row per county, counts as whole numbers."""
    summary = pd.DataFrame(rows)
    for col in SUMMARY_INTS:
        if col in summary:
            summary[col] = pd.to_numeric(summary[col], errors="coerce").astype("Int64")
    write_table(summary.drop(columns=["overview"], errors="ignore"), path)
    return summary
