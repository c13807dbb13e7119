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
