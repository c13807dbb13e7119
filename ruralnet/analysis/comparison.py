"""Two runs side by side: what a scenario changed in the recommended plan.

:func:`compare_runs` takes two report folders read back
(:class:`ruralnet.sources.runs.Run`) and finds what differs in their recommended plans: the
totals (sites, pupils moved, boarders, buses, cost, failed checks), each site whose decision or
pupils changed, each policy check whose result changed, and the settings behind it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..model.errors import InputError
from ..model.settings import Settings, plain
from ..sources.runs import Run

#: Totals of ``plans.csv`` compared, in this order.
MEASURES = (
    "sites_open",
    "pupils",
    "pupils_moved",
    "walking",
    "guardian",
    "transit",
    "bus_riders",
    "boarders",
    "beyond_limits",
    "places_added",
    "classes_added",
    "beds_added",
    "teachers",
    "buses",
    "bus_km",
    "cost",
    "policy_failed",
)
#: Per-site facts compared.
SITE_FACTS = ("open", "action", "grades_after", "pupils_after", "receiving", "justification")


@dataclass(frozen=True)
class Comparison:
    """What changed from run A to run B.

    Attributes
    ----------
    a, b
        The two runs' names (scenario names, else folder names) and recommended plans.
    summary
        ``measure, run_a, run_b, difference``: the recommended plans' totals.
    sites
        ``site_id, name, township, action_a, action_b, grades_a, grades_b, pupils_a,
        pupils_b, reason_b``: each site whose decision, grades or pupils differ.
    checks
        ``township, rule_label, status_a, status_b, detail_b``: each policy check whose result
        differs.
    settings
        ``setting, run_a, run_b``: each setting that differs between the runs.
    """

    a: str
    b: str
    summary: pd.DataFrame
    sites: pd.DataFrame
    checks: pd.DataFrame
    settings: pd.DataFrame


def compare_runs(a: Run, b: Run) -> Comparison:
    """Compare the recommended plans of two runs of the same county.

    Raises
    ------
    InputError
        If the runs are of different counties (no site in common).
    """
    sa, sb = _plan_rows(a.sites, a.recommended), _plan_rows(b.sites, b.recommended)
    common = sa.index.intersection(sb.index)
    if len(common) == 0:
        raise InputError(f"{a.path} and {b.path} have no site in common: not the same county")
    return Comparison(
        f"{a.label} ({a.recommended})",
        f"{b.label} ({b.recommended})",
        _summary(a, b),
        _sites(sa, sb),
        _checks(a, b),
        _settings(a.scenario.get("settings", {}), b.scenario.get("settings", {})),
    )


def _plan_rows(sites: pd.DataFrame, plan: str) -> pd.DataFrame:
    rows = sites[sites["plan"] == plan].set_index("site_id", drop=False)
    return rows[~rows.index.duplicated()]


def _summary(a: Run, b: Run) -> pd.DataFrame:
    ra = a.plans[a.plans["plan"] == a.recommended].iloc[0]
    rb = b.plans[b.plans["plan"] == b.recommended].iloc[0]
    rows = []
    for m in MEASURES:
        if m in ra.index and m in rb.index:
            va, vb = pd.to_numeric(ra[m], errors="coerce"), pd.to_numeric(rb[m], errors="coerce")
            diff = vb - va if pd.notna(va) and pd.notna(vb) else np.nan
            rows.append(
                {"measure": m, "run_a": _num(va), "run_b": _num(vb), "difference": _num(diff)}
            )
    columns = ["measure", "run_a", "run_b", "difference"]
    return pd.DataFrame(rows, columns=columns, dtype=object)


def _num(value):
    """Whole numbers as integers (pupils, sites, buses, yuan), others to one decimal."""
    if pd.isna(value):
        return ""
    value = float(value)
    return round(value) if abs(value - round(value)) < 1e-9 else round(value, 1)


def _sites(sa: pd.DataFrame, sb: pd.DataFrame) -> pd.DataFrame:
    ids = sorted(set(sa.index) | set(sb.index))
    a, b = sa.reindex(ids), sb.reindex(ids)
    changed = (
        (a["action"].astype(str) != b["action"].astype(str))
        | (a["grades_after"].fillna("").astype(str) != b["grades_after"].fillna("").astype(str))
        | (a["pupils_after"].fillna(-1).round() != b["pupils_after"].fillna(-1).round())
    )
    reason = b["justification"].fillna("").astype(str)
    receiving = b["receiving"].fillna("").astype(str) if "receiving" in b else reason * 0
    out = pd.DataFrame(
        {
            "site_id": ids,
            "name": b["name"].fillna(a["name"]).to_numpy(),
            "township": b["township"].fillna(a["township"]).to_numpy(),
            "action_a": a["action"].to_numpy(),
            "action_b": b["action"].to_numpy(),
            "grades_a": a["grades_after"].to_numpy(),
            "grades_b": b["grades_after"].to_numpy(),
            "pupils_a": a["pupils_after"].to_numpy(),
            "pupils_b": b["pupils_after"].to_numpy(),
            "reason_b": np.where(reason != "", reason, receiving),
        }
    )
    return out[changed.to_numpy()].reset_index(drop=True)


def _checks(a: Run, b: Run) -> pd.DataFrame:
    key = ["township_code", "rule"]
    pa = a.policy[a.policy["plan"] == a.recommended].drop_duplicates(key).set_index(key)
    pb = b.policy[b.policy["plan"] == b.recommended].drop_duplicates(key).set_index(key)
    keys = pa.index.union(pb.index)
    pa, pb = pa.reindex(keys), pb.reindex(keys)
    differ = pa["status"].fillna("").astype(str) != pb["status"].fillna("").astype(str)
    out = pd.DataFrame(
        {
            "township": pb["township"].fillna(pa["township"]).to_numpy(),
            "rule_label": pb["rule_label"].fillna(pa["rule_label"]).to_numpy(),
            "status_a": pa["status"].to_numpy(),
            "status_b": pb["status"].to_numpy(),
            "detail_b": pb["detail"].to_numpy(),
        }
    )
    return out[differ.to_numpy()].reset_index(drop=True)


def _settings(a: dict, b: dict) -> pd.DataFrame:
    default = Settings().to_dict()
    rows = []
    for name in sorted(set(a) | set(b)):
        va = a.get(name, plain(default.get(name)))
        vb = b.get(name, plain(default.get(name)))
        if va != vb:
            rows.append({"setting": name, "run_a": _text(va), "run_b": _text(vb)})
    return pd.DataFrame(rows, columns=["setting", "run_a", "run_b"])


def _text(value) -> str:
    if isinstance(value, list):
        return ", ".join(map(str, value))
    return str(value)
