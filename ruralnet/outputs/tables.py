"""Tables as officials read them: whole pupils, percentages, one decimal for minutes and km,
names beside codes, and every value and header in the report's language.

Two shapes of the same table: :func:`for_csv` keeps the contract's English column names and
codes (``walk``, ``passed``, ``optimised``) with numbers rounded for reading;
:func:`translated` turns values and headers into the report language (是/否, 上午/下午,
通过/未通过, kinds, ways, stages, plans) for the HTML report and the XLSX workbooks.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..model import labels

#: Columns holding whole counts (pupils, places, classes, beds, buses).
WHOLE = {
    "pupils",
    "pupils_before",
    "pupils_after",
    "children",
    "capacity",
    "places_added",
    "classes",
    "classes_added",
    "boarders",
    "boarding_beds",
    "beds_added",
    "beds_shortfall",
    "bus_riders",
    "buses",
    "seats",
    "unserved_pupils",
    "quantity",
    "villages",
    "beds",
    "beds_needed",
    "shortfall",
    "seq",
    "order",
    "teachers",
    "pupils_moved",
    "sites_open",
    "walking",
    "beyond_limits",
    "unassigned",
    "policy_failed",
    "pupil_minutes",
    "riders",
    "routes",
    "cost",
    "unit_cost",
    "own_runs",
    "own_buses",
    "teachers_change",
    "lower_bound",
    "runs",
    "shared",
    "single_loads",
    "mixed_runs",
    "members",
    "sites",
    "classrooms_empty_later",
    "closed",
    "temporary_classrooms",
    "needed",
    "built",
    "permanent",
    "temporary",
    "empty_later",
    "cost_built",
    "cost_temporary",
}
#: Columns shown with one decimal (minutes, kilometres, class sizes).
ONE_DECIMAL = {
    "runs_per_bus",
    "years_needed",
    "minutes",
    "minutes_walk",
    "minutes_bus",
    "class_size_after",
    "class_size",
    "bus_km",
    "km",
    "longest_ride_min",
    "mean_minutes",
    "median_minutes",
    "p95_minutes",
    "max_minutes",
    "spare_places",
    "deadhead_km",
    "teacher_minutes_week",
}
#: Shares shown as percentages (0.284 -> 28.4).
PERCENT = {"capacity_use", "empty_share"}
#: Columns holding route ids (their day and kind of run put in words, :func:`labels.route_label`).
ROUTE_COLUMNS = {"route"}
#: Columns whose values are labels of a table in :mod:`ruralnet.model.labels`.
VALUE_LABELS = {
    "kind": labels.KINDS,
    "decision": labels.DECISIONS,
    "stage": labels.STAGES,
    "way": labels.WAYS,
    "mode": labels.WAYS,
    "direction": labels.DIRECTIONS,
    "status": labels.STATUS,
    "before_plan": labels.STATUS,
    "plan": labels.PLANS,
    "action": labels.ACTIONS,
    "run": labels.RUNS,
    "unit": labels.UNITS,
    "origin_type": labels.ORIGINS,
    "day": labels.DAYS,
    "bus_type": labels.BUS_TYPES,
    "role": labels.ROLES,
    "family": labels.FAMILIES,
    "variant": labels.VARIANTS,
    "action_a": labels.ACTIONS,
    "action_b": labels.ACTIONS,
    "status_a": labels.STATUS,
    "status_b": labels.STATUS,
    "measure": labels.COLUMNS,
    "township_code": labels.AREAS,
    "note": labels.DISTRICT_NOTES,
    "level": labels.LEVELS,
}
#: Characters that make a spreadsheet treat a cell as a formula (CSV/formula injection).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def defuse(value):
    """Text that a spreadsheet would run as a formula, made inert (a leading apostrophe)."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def defused(table: pd.DataFrame) -> pd.DataFrame:
    """Every text cell of a table made inert (see :func:`defuse`)."""
    out = table.copy()
    for col in out.columns:
        if not pd.api.types.is_numeric_dtype(out[col]) and not pd.api.types.is_bool_dtype(out[col]):
            out[col] = _defused_column(out[col])
    return out


def _defused_column(column: pd.Series) -> pd.Series:
    """One column of :func:`defused`, as objects: a mixed column keeps its whole numbers
    whole, only text is touched."""
    values = column.astype(object)
    # a plain loop over the objects: pandas' string methods cost more per column than the
    # few hundred cells of a report table (and refuse columns without text)
    risky = np.fromiter(
        (isinstance(v, str) and v.startswith(FORMULA_START) for v in values.to_numpy()),
        dtype=bool,
        count=len(values),
    )
    if not risky.any():
        return values
    return values.where(~risky, "'" + values[risky].astype(str))


def for_csv(table: pd.DataFrame) -> pd.DataFrame:
    """Numbers rounded for reading (whole pupils, one decimal for minutes and km, shares as
    percentages in ``<name>_pct``); column names and codes unchanged otherwise."""
    out = table.copy()
    for col in list(out.columns):
        if col in WHOLE and pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].round().astype("Int64")
        elif col in ONE_DECIMAL and pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].astype(float).round(1)
        elif col in PERCENT and pd.api.types.is_numeric_dtype(out[col]):
            out[f"{col}_pct"] = (out[col].astype(float) * 100).round(1)
            out = out.drop(columns=col)
    return defused(out)


def translated(table: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Values and headers in the report language, numbers formatted for reading."""
    out = for_csv(table)
    for col in ROUTE_COLUMNS & set(out.columns):
        out[col] = out[col].map(lambda v: labels.route_label(v, lang) if pd.notna(v) else "")
    for col, tab in VALUE_LABELS.items():
        if col in out:
            out[col] = out[col].map(
                lambda v, tab=tab: labels.label(tab, v, lang) if pd.notna(v) else ""
            )
    for col in out.columns:
        if pd.api.types.is_bool_dtype(out[col]) or (
            not pd.api.types.is_numeric_dtype(out[col])
            and len(out[col])
            and out[col].map(lambda v: isinstance(v, bool | np.bool_)).all()
        ):
            out[col] = out[col].map(lambda v: labels.label(labels.BOOL, bool(v), lang))
    for col in out.columns:  # missing values read as empty cells, never "None" or "nan"
        if not pd.api.types.is_numeric_dtype(out[col]):
            out[col] = out[col].astype(object).where(out[col].notna(), "")
    pct = {c: c[: -len("_pct")] for c in out.columns if c.endswith("_pct")}
    for col in pct:
        out[col] = out[col].map(lambda v: f"{v:.0f}%" if pd.notna(v) else "")
    return out.rename(columns={c: _header(c, pct, lang) for c in out.columns})


def _header(col: str, pct: dict, lang: str) -> str:
    if col in pct:
        return labels.label(labels.COLUMNS, pct[col], lang)
    return labels.label(labels.COLUMNS, col, lang)


def html_table(table: pd.DataFrame, lang: str, classes: str = "") -> str:
    """A translated table as HTML (every value escaped; thousands separated)."""
    shown = translated(table, lang)
    years = {labels.label(labels.COLUMNS, "year", lang), "year"}
    for col in shown.columns:
        values = shown[col]
        if col in years:  # a year, not a quantity: no thousands separator
            shown[col] = values.astype(str)
        elif pd.api.types.is_integer_dtype(values):
            shown[col] = values.map(lambda v: f"{v:,}" if pd.notna(v) else "")
        elif pd.api.types.is_float_dtype(values):
            shown[col] = values.map(lambda v: f"{v:,.1f}" if pd.notna(v) else "")
    return shown.to_html(index=False, na_rep="", border=0, escape=True, classes=classes or None)
