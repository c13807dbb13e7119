"""What a plan costs the county each year, item by item, at the unit costs of the settings.

The unit costs are illustrative defaults (a bus, a driver, a classroom, a bed, a separate
site, the value of a pupil's travel time...); a county sets its own in ``county.toml``. The
same items are priced for every plan, so the plans compare on one table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from . import rules

COST_COLUMNS = ["item", "quantity", "unit", "unit_cost", "cost"]


def plan_costs(ctx, ev, buses=None) -> pd.DataFrame:
    """Annual cost of a plan (yuan): ``item, quantity, unit, unit_cost, cost``; a ``total``
    row last.

    Parameters
    ----------
    ctx, ev
        The plan context and the plan's evaluation.
    buses
        The plan's :class:`~ruralnet.buses.plan.CountyBuses` (none: no bus items). The
        current plan's buses and drivers are today's (``ctx.todays_buses``) when the county
        lists them.
    """
    s = ctx.settings
    sites = ev.sites
    rows = ev.rows
    small_kind = sites["kind"].isin(s.merger_kinds)
    reopened = sites["open"] & ~ctx.open_now
    hours = float(
        (rows["pupils"] * rows["minutes"].fillna(0) * rows["way"].isin(rules.DAILY)).sum()
    )
    weekly = float(
        (rows["pupils"] * rows["minutes"].fillna(0) * (rows["way"] == rules.BOARD)).sum()
    )
    items = [
        ("sites", int((sites["open"] & small_kind).sum()), "site", s.site_cost_per_year),
        ("reopened", int(reopened.sum()), "site", s.reopen_cost_per_year),
        ("classrooms", float(sites["classes_added"].sum()), "classroom", s.classroom_cost_per_year),
        ("places", float(sites["places_added"].sum()), "place", s.place_cost_per_year),
        ("beds", float(sites["beds_added"].sum()), "bed", s.bed_cost_per_year),
        ("boarders", float(ev.stages["boarders"].sum()), "pupil", s.boarder_cost_per_year),
        (
            "pupil_travel",
            (hours * 2 * s.school_days + weekly * 2 * s.school_weeks) / 60,
            "pupil-hour",
            s.pupil_hour_value,
        ),
    ]
    if buses is not None:
        n = buses.buses_needed()
        if ev.plan.name == "current" and ctx.todays_buses is not None:
            n = len(ctx.todays_buses)  # today's fleet as the county lists it, not a model
        items += [
            ("buses", n, "bus", s.bus_cost_per_year),
            ("drivers", n, "driver", s.driver_cost_per_year),
            (
                "bus_km",
                buses.bus_km() * s.school_days + buses.weekly_km() * s.school_weeks,
                "km",
                s.bus_km_cost,
            ),
        ]
    table = pd.DataFrame(items, columns=COST_COLUMNS[:-1])
    table["cost"] = table["quantity"] * table["unit_cost"]
    total = pd.DataFrame([["total", np.nan, "", np.nan, table["cost"].sum()]], columns=COST_COLUMNS)
    return pd.concat([table, total], ignore_index=True)


#: The policy each cost item serves: what a planner reads when a plan costs more.
ITEM_POLICY = {
    "sites": ("保留确需保留的小规模学校", "small sites kept with a justification"),
    "reopened": ("恢复办学：学生否则超出上学时间限值", "reopened: pupils otherwise beyond the limits"),
    "classrooms": ("学位与班额：不超学位、无大班额，附设幼儿班就近入园", "places and classes: no over-full site, no 56+ class, kindergarten near home"),
    "places": ("学位与班额：不超学位、无大班额", "places: no over-full site"),
    "beds": ("寄宿生每人一张床", "a bed for every boarder"),
    "boarders": ("初中生和远距离学生寄宿（不乘校车）", "juniors and far pupils board (no school bus)"),
    "pupil_travel": ("学生上学时间", "the pupils' travel time"),
    "buses": ("农村学生乘校车在限值内", "rural pupils ride within the limits"),
    "drivers": ("农村学生乘校车在限值内", "rural pupils ride within the limits"),
    "bus_km": ("校车里程（含寄宿生周末往返）", "bus-km (boarders' weekly trips included)"),
}  # fmt: skip


def larger_sites_policy(small_site_pupils: int) -> dict[str, tuple[str, str]]:
    """What the recommended plan's extra sites serve against the further-concentration
    variant: the policy merges only the sites under ``small_site_pupils``."""
    n = small_site_pupils
    return {
        "sites": (
            f"政策只撤并{n}人以下的教学点和村小（清府办函〔2024〕15号），较大的学校保留",
            f"the policy merges only sites under {n} pupils; larger sites stay",
        )
    }


def cost_difference(
    base: pd.DataFrame, plan: pd.DataFrame, policy: dict[str, tuple[str, str]] | None = None
) -> pd.DataFrame:
    """Where a plan costs more or less than a base plan, item by item, with the policy the
    item serves: ``item, base, plan, difference, policy_zh, policy_en`` (largest increase
    first; the ``total`` row last).

    Parameters
    ----------
    base, plan
        Two plans' :func:`plan_costs` tables.
    policy
        Item -> (Chinese, English) in place of :data:`ITEM_POLICY` (for example
        :func:`larger_sites_policy` against the further-concentration variant).
    """
    policies = {**ITEM_POLICY, **(policy or {})}
    a = base.set_index("item")["cost"]
    b = plan.set_index("item")["cost"]
    items = [i for i in b.index if i != "total"] + [i for i in a.index if i not in b.index]
    rows = [
        (i, float(a.get(i, 0.0)), float(b.get(i, 0.0)), float(b.get(i, 0.0) - a.get(i, 0.0)),
         *policies.get(i, (i, i)))
        for i in dict.fromkeys(items)
    ]  # fmt: skip
    out = pd.DataFrame(
        rows, columns=["item", "base", "plan", "difference", "policy_zh", "policy_en"]
    )
    out = out.sort_values("difference", ascending=False, kind="stable")
    total = ("total", float(a.get("total", 0.0)), float(b.get("total", 0.0)),
             float(b.get("total", 0.0) - a.get("total", 0.0)), "合计", "total")  # fmt: skip
    return pd.concat([out, pd.DataFrame([total], columns=out.columns)], ignore_index=True)
