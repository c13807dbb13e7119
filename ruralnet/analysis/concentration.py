"""The further-concentration variant (进一步集中方案), proposed site by site.

The recommended plan closes what the policy asks for: sites under ``small_site_pupils``. The
variant lets the plan model also close (or take the older grades from) larger village sites.
It is never the recommendation; each site it would close beyond the recommended plan is
proposed on its own row: the pupils affected, the receiving schools, the minutes they add and
the annual saving, so that a county can take any of them into its plan (``close_sites``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import rules
from .evaluation import PlanEvaluation
from .plans import PlanContext
from .siting import annual_pupil_cost

#: Columns of :func:`concentration_proposals`.
PROPOSAL_COLUMNS = [
    "site_id",
    "name",
    "township_code",
    "township",
    "kind",
    "pupils",
    "action",
    "receiving",
    "pupils_moved",
    "boarders_added",
    "minutes_before",
    "minutes_after",
    "added_minutes",
    "longest_minutes",
    "annual_saving",
]


def concentration_proposals(
    ctx: PlanContext, recommended: PlanEvaluation, variant: PlanEvaluation
) -> pd.DataFrame:
    """Each site the variant closes or reduces beyond the recommended plan, as a proposal.

    Parameters
    ----------
    ctx
        The plan context of both plans.
    recommended, variant
        The recommended plan and the further-concentration variant, evaluated.

    Returns
    -------
    DataFrame
        :data:`PROPOSAL_COLUMNS`, one row per site, largest saving first: the site's pupils
        today, what the variant does (``close`` or ``reduce_grades``), its receiving schools
        (names), pupils moved and new boarders, the pupil-weighted minutes of its pupils'
        trips before and after and the longest after, and the annual saving (yuan): the
        site's upkeep when it closes plus the change in its pupils' travel time, bus shares
        and boarding costs at the settings' unit costs (the classrooms and beds the receiving
        schools need are in the variant's cost table, not here).
    """
    rec, var = recommended.sites, variant.sites
    changed = rec["open"].to_numpy() & (var["action"].isin(["close", "reduce_grades"])).to_numpy()
    changed &= (rec["action"] != var["action"]).to_numpy()
    cur = ctx.groups["current"].to_numpy()
    names = ctx.sites["name"].astype(str).to_numpy()
    riders = float(variant.plan.meta.get("riders_per_bus") or ctx.settings.bus_seats)
    out = []
    for j in np.flatnonzero(changed):
        before = _rows_of(ctx, recommended.rows, cur, j, riders)
        after = _rows_of(ctx, variant.rows, cur, j, riders)
        moved = after[after["site"] != j]
        upkeep = ctx.settings.site_cost_per_year if var["action"].iloc[j] == "close" else 0.0
        out.append(
            {
                **{c: rec[c].iloc[j] for c in ("site_id", "name", "township_code", "township")},
                "kind": rec["kind"].iloc[j],
                "pupils": round(float(before["pupils"].sum())),
                "action": var["action"].iloc[j],
                "receiving": "、".join(dict.fromkeys(names[k] for k in moved["site"])),
                "pupils_moved": round(float(moved["pupils"].sum())),
                "boarders_added": round(_boarders(after) - _boarders(before)),
                "minutes_before": _mean_minutes(before),
                "minutes_after": _mean_minutes(after),
                "added_minutes": round(_mean_minutes(after) - _mean_minutes(before), 1),
                "longest_minutes": round(float(after["minutes"].max()), 1),
                "annual_saving": round(float(upkeep + before["cost"].sum() - after["cost"].sum())),
            }
        )
    table = pd.DataFrame(out, columns=PROPOSAL_COLUMNS)
    return table.sort_values(
        ["annual_saving", "site_id"], ascending=[False, True], ignore_index=True
    )


def _rows_of(ctx: PlanContext, rows: pd.DataFrame, cur: np.ndarray, j: int, riders: float):
    """The flows of the pupils who attend site ``j`` today, each with its annual cost."""
    mine = rows[cur[rows["group"].to_numpy()] == j].copy()
    g, k = mine["group"].to_numpy(), mine["site"].to_numpy()
    metres = ctx.bus_metres[g, k] if ctx.bus_metres is not None else np.zeros(len(mine))
    each = annual_pupil_cost(mine["way"], mine["minutes"], metres, ctx.settings, riders)
    mine["cost"] = each * mine["pupils"].to_numpy(float)
    return mine


def _mean_minutes(rows: pd.DataFrame) -> float:
    ok = rows["minutes"].notna()
    if not ok.any():
        return float("nan")
    return round(float(np.average(rows.loc[ok, "minutes"], weights=rows.loc[ok, "pupils"])), 1)


def _boarders(rows: pd.DataFrame) -> float:
    return float(rows.loc[rows["way"] == rules.BOARD, "pupils"].sum())
