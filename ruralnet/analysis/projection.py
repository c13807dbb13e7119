"""Enrolment over the years, by the cohort-survival (grade-progression) method.

Year by year from ``enrolment_year`` to the horizon, for every site and grade it teaches:

* **progression**: a grade whose previous grade the site also teaches (in the same stage, or
  grade 6 to 7 at a nine-year school) has the previous grade's pupils of last year times the
  progression ratio of that step;
* **entries**: an entry grade of the site (the first grade it teaches in a stage: K1, grade 1,
  grade 7 at a junior school, grade 5 at a central school taking a teaching point's pupils)
  has its enrolment-year pupils times the **cohort index**: the births of the cohort entering
  that grade that year over the births of the cohort that entered it in the enrolment year
  (a grade-``g`` pupil is ``g + 5`` years old: K1 at 3, grade 1 at 6, grade 7 at 12);
* **exits**: the pupils of a site's last grade of a stage leave it (to the next stage, to
  another site, or out of school after grade 9);
* **drift**: outside the county seat's township, a share of the pupils leave their village
  each year: ``rural_outflow_rate``, or by default the growth of the urban share of the
  population (``urbanisation_per_year``, China 2010-2020) over the county's rural share (its
  census ``urban_share`` in ``county.toml``; none given: no drift, said in the log);
  ``seat_share_of_outflow`` of them enrol at the county seat's sites teaching their grade (by
  those sites' pupils of the grade), the others leave the county (:func:`outflow_rate`).

Progression ratios come from the roster's grades: across the county, grade ``g + 1`` over grade
``g`` in the enrolment year, divided by the births ratio of the two cohorts (one year of data
gives cross-sectional ratios; dividing by the cohorts' sizes at birth leaves the survival),
kept within 0.8-1.2; or the setting ``progression_ratio`` for every step. Without per-grade
columns a site's pupils are spread evenly over its grades (with a warning) and the ratios are 1.

Births after the series' last year come in three variants: ``low`` (the least of its last
three years), ``central`` (its last year held) and ``high`` (the most of its last three).
Pupils are kept as fractions while projecting; :meth:`Projection.table` gives whole pupils
(each site's year rounded, its grades by largest remainders).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ..model.errors import RuralnetWarning
from ..model.grades import GRADE_LEVELS, grade_column, offer_matrix
from ..model.schema import largest_remainders
from ..sources.datasets import bundled_data
from .demand import GRADE_COLUMNS, site_grade_pupils

log = logging.getLogger(__name__)

VARIANTS = ("low", "central", "high")
LEDGER_COLUMNS = [
    "variant",
    "year",
    "start",
    "exits",
    "carried",
    "progressed",
    "entries",
    "outflow",
    "to_seat",
    "end",
]
#: Stage of each grade level: kindergarten, primary, junior.
_STAGE = np.array([0 if g <= 0 else 1 if g <= 6 else 2 for g in GRADE_LEVELS])
_AGE = np.array([g + 5 for g in GRADE_LEVELS])


def births_series(path: str | Path | None = None) -> pd.Series:
    """Births per year (millions), indexed by year: a county's file (``year,
    births_million``) or the bundled national series (NBS communiqués 2010-2024)."""
    if path is None:
        path = bundled_data() / "births" / "births_china.csv"
    table = pd.read_csv(path)
    missing = {"year", "births_million"} - set(table.columns)
    if missing:
        raise ValueError(f"{path}: births series needs columns year, births_million")
    series = table.set_index(table["year"].astype(int))["births_million"].astype(float)
    if series.empty or (series <= 0).any() or series.isna().any():
        raise ValueError(f"{path}: births must be positive numbers")
    return series.sort_index()


def births_in(series: pd.Series, year: int, variant: str = "central") -> float:
    """Births of a year; after the series, by the variant; before it, its first year."""
    if year in series.index:
        return float(series[year])
    if year < series.index[0]:
        return float(series.iloc[0])
    last3 = series.iloc[-3:]
    return float({"low": last3.min(), "central": series.iloc[-1], "high": last3.max()}[variant])


@dataclass
class Projection:
    """Projected pupils per site, grade and year.

    Attributes
    ----------
    years
        The enrolment year, then every year to the horizon.
    site_ids
        Sites (rows).
    pupils
        Variant -> ``years x sites x grades`` pupils (fractions).
    ratios
        Progression ratio of each step ``grade -> grade + 1`` (:data:`GRADE_LEVELS` order).
    ledger
        :data:`LEDGER_COLUMNS` per variant and year: the pupils at the start, the exits, the
        pupils carried to the next grade and what they became (``progressed``), the entries,
        the outflow and the pupils at the end (``end = start - exits - carried + progressed +
        entries - outflow``).
    spread
        Sites whose pupils were spread evenly over their grades.
    """

    years: list[int]
    site_ids: np.ndarray
    pupils: dict[str, np.ndarray]
    ratios: np.ndarray
    ledger: pd.DataFrame
    spread: list[str] = field(default_factory=list)

    def table(self) -> pd.DataFrame:
        """``site_id, year, grade, pupils, variant`` in whole pupils (grades a site teaches)."""
        parts = []
        names = np.array([GRADE_COLUMNS[g] for g in GRADE_LEVELS], dtype=object)
        for variant, cube in self.pupils.items():
            for t, year in enumerate(self.years):
                whole = whole_pupils(cube[t])
                si, gi = np.nonzero(whole > 0)
                parts.append(
                    pd.DataFrame(
                        {
                            "site_id": self.site_ids[si],
                            "year": year,
                            "grade": names[gi],
                            "pupils": whole[si, gi],
                            "variant": variant,
                        }
                    )
                )
        return pd.concat(parts, ignore_index=True)


def whole_pupils(matrix: np.ndarray) -> np.ndarray:
    """Sites x grades fractions as whole pupils that add up to the rounded total.

    The county's total is rounded once; the sites share it by largest remainders (each site
    within one pupil of its fraction), then each site's grades share the site's whole pupils by
    largest remainders. Rounding each site on its own would let the county's total drift by a
    pupil per few sites, and the tables of one run would disagree.
    """
    m = np.clip(np.nan_to_num(np.asarray(matrix, dtype=float)), 0, None)
    sites = largest_remainders(m.sum(axis=1), int(np.round(m.sum())))
    return largest_remainders(m, sites)


def progression_ratios(
    grade_pupils: np.ndarray, births: pd.Series, base_year: int, fixed: float | None = None
) -> np.ndarray:
    """Ratio of each step ``g -> g + 1`` (the last, grade 9, unused), from the sites that give
    pupils per grade (``grade_pupils``; none: every ratio 1), or ``fixed``."""
    steps = len(GRADE_LEVELS) - 1
    if fixed is not None:
        return np.full(steps, float(fixed))
    total = grade_pupils.sum(axis=0).astype(float)
    out = np.ones(steps)
    for k in range(steps):
        if total[k] <= 0 or total[k + 1] <= 0 or k == grade_column(0):  # K3 -> 1: a new stage
            continue
        size = births_in(births, base_year - _AGE[k + 1]) / births_in(births, base_year - _AGE[k])
        out[k] = float(np.clip(total[k + 1] / total[k] / size, 0.8, 1.2))
    return out


def outflow_rate(settings, urban_share: float | None) -> float:
    """The share of the village pupils who leave each year: ``rural_outflow_rate`` when set,
    else ``urbanisation_per_year / (1 - urban_share)`` (the rural population shrinks as the
    urban share grows), at most half; 0 without an urban share."""
    if settings.rural_outflow_rate is not None:
        return float(settings.rural_outflow_rate)
    if urban_share is None:
        log.info("no urban_share in county.toml [county]: no drift to the county seat")
        return 0.0
    return float(min(0.5, settings.urbanisation_per_year / max(1e-9, 1.0 - urban_share)))


def project_enrolment(
    sites: pd.DataFrame,
    settings,
    seat_township: str | None = None,
    births: pd.Series | None = None,
    horizon: int | None = None,
    urban_share: float | None = None,
) -> Projection:
    """Pupils per site, grade and year from ``settings.enrolment_year`` to the horizon.

    Parameters
    ----------
    sites
        The sites layer (per-grade columns ``k1``..``g9`` where the roster gives them).
    settings
        Enrolment year, horizon, ratios, outflow, births file.
    seat_township
        Township code of the county seat (no outflow there).
    births
        A births series (default: ``settings.births_file`` or the national one).
    horizon
        Last year (default ``settings.projection_horizon``).
    urban_share
        The county's census urban share (the default drift, :func:`outflow_rate`).
    """
    births = births if births is not None else births_series(settings.births_file)
    base_year = int(settings.enrolment_year)
    horizon = int(horizon or settings.projection_horizon)
    years = list(range(base_year, max(horizon, base_year) + 1))
    base = site_grade_pupils(sites).astype(float)
    spread = _spread_sites(sites)
    given = ~sites["site_id"].astype(str).isin(spread).to_numpy() & _open(sites)
    ratios = progression_ratios(base[given], births, base_year, settings.progression_ratio)
    offers = offer_matrix(sites["grades"]) & _open(sites)[:, None]
    entry, exit_, progress = _cells(offers)
    rural = (sites["township_code"].astype(str) != str(seat_township)).to_numpy()
    keep = np.where(rural, 1.0 - outflow_rate(settings, urban_share), 1.0)
    seat = ~rural & _open(sites)
    cubes, ledger = {}, []
    for variant in VARIANTS:
        cube = np.zeros((len(years), *base.shape))
        cube[0] = base * offers
        for t in range(1, len(years)):
            index = np.array(
                [
                    births_in(births, years[t] - a, variant) / births_in(births, base_year - a)
                    for a in _AGE
                ]
            )
            before = cube[t - 1]
            moved = np.zeros_like(before)
            moved[:, 1:] = before[:, :-1] * ratios[None, :] * progress[:, 1:]
            entered = base * index[None, :] * entry
            raw = moved + entered
            cube[t] = raw * keep[:, None]
            arrive = _to_seat(raw, cube[t], seat, offers, settings.seat_share_of_outflow)
            cube[t] += arrive
            ledger.append(
                (variant, years[t], before.sum(), (before * exit_).sum(),
                 (before[:, :-1] * progress[:, 1:]).sum(), moved.sum(), entered.sum(),
                 (raw - cube[t] + arrive).sum(), arrive.sum(), cube[t].sum())
            )  # fmt: skip
        cubes[variant] = cube
    return Projection(
        years,
        sites["site_id"].astype(str).to_numpy(dtype=object),
        cubes,
        ratios,
        pd.DataFrame(ledger, columns=LEDGER_COLUMNS),
        spread,
    )


def _to_seat(raw, kept, seat, offers, share: float) -> np.ndarray:
    """Per site and grade, the pupils who left the villages this year and enrol at the county
    seat: ``share`` of them, at the seat's open sites teaching their grade, by those sites'
    pupils of the grade (evenly where they have none yet); none for a grade the seat does not
    teach."""
    left = (raw - kept).sum(axis=0) * share  # per grade
    teach = offers & seat[:, None]
    weight = np.where(teach, raw, 0.0)
    totals = weight.sum(axis=0)
    counts = teach.sum(axis=0)
    split = np.where(totals > 0, weight / np.where(totals > 0, totals, 1.0),
                     teach / np.maximum(counts, 1))  # fmt: skip
    return split * left[None, :]


def _open(sites: pd.DataFrame) -> np.ndarray:
    status = sites["status"] if "status" in sites else pd.Series("open", index=sites.index)
    return (status.fillna("open").astype(str) == "open").to_numpy()


def _cells(offers: np.ndarray):
    """Per site and grade: an entry grade, an exit grade, a grade reached by progression."""
    before = np.zeros_like(offers)
    before[:, 1:] = offers[:, :-1]
    new_stage = np.zeros(offers.shape[1], dtype=bool)
    new_stage[1:] = _STAGE[1:] != _STAGE[:-1]
    new_stage[grade_column(7)] = False  # grade 6 -> 7 within a nine-year school
    progress = offers & before & ~new_stage[None, :]
    entry = offers & ~progress
    after = np.zeros_like(offers)
    after[:, :-1] = progress[:, 1:]
    exit_ = offers & ~after
    return entry.astype(float), exit_.astype(float), progress.astype(float)


def _spread_sites(sites: pd.DataFrame) -> list[str]:
    """Open sites with pupils but no per-grade columns (their pupils spread evenly)."""
    given = [c for c in GRADE_COLUMNS.values() if c in sites.columns]
    has = (
        sites[given].apply(pd.to_numeric, errors="coerce").notna().any(axis=1)
        if given
        else pd.Series(False, index=sites.index)
    )
    mask = ~has & (sites["pupils"].fillna(0) > 0) & _open(sites)
    out = sites.loc[mask, "site_id"].astype(str).tolist()
    if out:
        msg = (
            f"{len(out)} site(s) give no pupils per grade; spread evenly over their grades "
            f"for the projection: {out[:5]}{' ...' if len(out) > 5 else ''}"
        )
        log.warning(msg)  # the command line shows the log; Python code sees the warning
        warnings.warn(msg, RuralnetWarning, stacklevel=2)
    return out
