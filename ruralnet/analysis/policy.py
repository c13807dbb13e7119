"""The policy checks of DOMAIN.md, for every township and every plan.

Every rule has a row for every township (and the county-wide rules a row for the county,
``township_code = "ALL"``): ``passed``, ``failed``, or ``not_applicable`` with the reason.
``before_plan`` gives the same rule's status in the current situation, so a failure that the
plan inherited is told apart from one it caused. Details name sites and villages (not
codes), in Chinese and English (``detail_zh``, ``detail_en``); the report shows one.

Rules (codes; their labels are built from the settings in :mod:`ruralnet.model.labels`):

``public_boarding_school``, ``central_kindergarten``, ``central_primary``
    Every township (not a 街道) keeps its three schools open.
``small_sites``
    No open teaching point or village primary under ``small_site_pupils`` unless justified.
``class_size``
    No class of ``oversized_class`` or more: per grade where the sites layer gives pupils per
    grade, otherwise the site's average class (the basis is stated in the detail).
``places``
    No open site holds more pupils than its places (after any places the plan adds).
``school_size``
    No open school over its size cap (大校额: ``largest_primary_school``,
    ``largest_junior_school``) grows; one over it is failed (named, before and after).
``boarding_beds``
    Every boarder has a bed.
``within_limits``
    Every pupil walks, rides or boards within the limits of the way-to-school rules.
``urban_bus``
    No school bus carries a pupil from an urban committee (they go by transit or with
    guardians), unless ``urban_school_buses`` is on.
``kindergarten_bus``
    No kindergarten child rides a school bus, unless ``kindergarten_buses`` is on.
``young_boarding``
    No pupil of grades 1 to ``young_max_grade`` boards.
``boarding_township``
    Every boarder boards in their own township, or the reason is said (no school of theirs
    can take them within the limits, or they board there today at a school that stays); a
    boarder sent elsewhere without a reason fails it, named.
``bus_seats``
    Every bus rider has a seat on a route (added once the buses are planned).
``weekly_bus``
    Every boarder has a weekly bus home within ``weekly_ride_minutes`` (with the buses).
``line_riders``
    Every bus line carries at least ``min_riders_per_line`` pupils (with the buses).
``pupils_accounted``
    Pupils before = pupils after + pupils listed as unassigned (county).
``special_education``
    A county of ``special_education_population`` or more has a special-education school.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..model.grades import GRADE_LEVELS, grade_column, grade_name
from ..model.kinds import school_size_cap
from ..model.schema import largest_remainder
from . import rules
from .demand import GRADE_COLUMNS
from .plans import grade_pupils

POLICY_COLUMNS = [
    "township_code",
    "township",
    "rule",
    "status",
    "detail_en",
    "detail_zh",
    "before_plan",
]
COUNTY = "ALL"  #: ``township_code`` of county-wide rows
PASSED, FAILED, NOT_APPLICABLE = "passed", "failed", "not_applicable"


def is_street(code: str, name: str = "") -> bool:
    """A 街道 (urban sub-district): NBS township codes 001-099, or a name ending in 街道."""
    code = str(code)
    return str(name).endswith("街道") or (len(code) == 9 and code[6] == "0")


def _names(items, limit: int = 8) -> tuple[str, str]:
    """A list of named items for a detail, in Chinese and English (capped, with a count)."""
    items = list(items)
    more = len(items) - limit
    zh = "、".join(items[:limit]) + (f"等{len(items)}处" if more > 0 else "")
    en = ", ".join(items[:limit]) + (f" and {more} more" if more > 0 else "")
    return zh, en


def policy_checks(ctx, ev, before=None) -> pd.DataFrame:
    """Every rule for every township of a plan's evaluation (see the module docstring).

    Parameters
    ----------
    ctx
        The :class:`~ruralnet.analysis.plans.PlanContext`.
    ev
        The plan's :class:`~ruralnet.analysis.evaluation.PlanEvaluation` (its ``rows``,
        ``sites``, ``assignment``).
    before
        The current plan's evaluation (``before_plan``); default: the plan itself.
    """
    s = ctx.settings
    out: list[tuple] = []
    towns = sorted(
        set(ctx.sites["township_code"].astype(str)) | set(ctx.groups["township_code"].astype(str))
    )
    sites = ev.sites
    open_ = sites[sites["open"]]
    class_rows = class_sizes(ctx, ev)
    beyond = ev.rows[ev.rows["way"] == rules.BEYOND]
    for town in towns:
        name = ctx.township(town)
        here = open_[open_["township_code"] == town]
        add = _adder(out, town, name)
        street = is_street(town, name)
        for rule, flag, zh, en in (
            (
                "public_boarding_school",
                "is_public_boarding",
                "公办寄宿制学校",
                "public boarding school",
            ),
            (
                "central_kindergarten",
                "is_central_kindergarten",
                "中心幼儿园",
                "central kindergarten",
            ),
            ("central_primary", "is_central_primary", "中心小学", "central primary school"),
        ):
            if street:
                add(rule, NOT_APPLICABLE, "街道，不要求", "a 街道 (sub-district): not required")
            elif here[flag].any():
                nz, ne = _names(here.loc[here[flag], "name"])
                add(rule, PASSED, f"保留：{nz}", f"kept: {ne}")
            else:
                add(rule, FAILED, f"未保留{zh}", f"no {en} left open")
        _small_sites(add, here, s)
        _class_size(add, class_rows[class_rows["township_code"] == town], s)
        _places(add, here, s)
        _school_size(add, here, ctx, s)
        _beds(add, here)
        _within_limits(add, ctx, beyond[beyond["township_code"] == town])
        _ways(add, ctx, ev.rows[ev.rows["township_code"] == town], s, ev.sites["open"].to_numpy())
    _accounted(_adder(out, COUNTY, ctx.name), ev)
    _special(_adder(out, COUNTY, ctx.name), ctx, open_)
    table = pd.DataFrame(out, columns=POLICY_COLUMNS[:-1])
    return with_before(table, before.policy if before is not None else None)


def checked_towns(policy: pd.DataFrame) -> list[str]:
    """The townships a plan's policy checks have rows for (the county row apart)."""
    return sorted(set(policy["township_code"]) - {COUNTY})


def with_before(table: pd.DataFrame, before: pd.DataFrame | None) -> pd.DataFrame:
    """``before_plan``: the status of the same township and rule in ``before`` (or itself)."""
    ref = table if before is None else before
    status = dict(
        zip(zip(ref["township_code"], ref["rule"], strict=True), ref["status"], strict=True)
    )
    table["before_plan"] = [
        status.get(k, NOT_APPLICABLE)
        for k in zip(table["township_code"], table["rule"], strict=True)
    ]
    return table


def _adder(out: list, town: str, name: str):
    def add(rule: str, status: str, zh: str, en: str) -> None:
        out.append((town, name, rule, status, en, zh))

    return add


def _small_sites(add, here: pd.DataFrame, s) -> None:
    small = here[here["kind"].isin(s.merger_kinds) & (here["pupils_after"] < s.small_site_pupils)]
    if small.empty:
        add("small_sites", PASSED, "无", "none")
        return
    justified = small["justification_zh"].astype(str) != ""
    items = [f"{r.name}（{r.pupils_after:.0f}人）" for r in small.itertuples()]
    items_en = [f"{r.name} ({r.pupils_after:.0f})" for r in small.itertuples()]
    why_zh = "；".join(
        f"{r.name}保留理由：{r.justification_zh}" for r in small[justified].itertuples()
    )
    why_en = "; ".join(
        f"{r.name} kept: {r.justification_en}" for r in small[justified].itertuples()
    )
    status = PASSED if justified.all() else FAILED
    add(
        "small_sites",
        status,
        "、".join(items) + (f"；{why_zh}" if why_zh else ""),
        ", ".join(items_en) + (f"; {why_en}" if why_en else ""),
    )


def class_sizes(ctx, ev) -> pd.DataFrame:
    """Class size per open site after the plan: per grade where the sites layer gives pupils
    per grade (the site's classes shared out over its grades), else the site's average.

    Columns: ``site_id, name, township_code, basis (grade|site), grade, pupils, classes,
    class_size``.
    """
    sites = ev.sites
    per_grade = grade_pupils(ctx, ev.rows)
    given = [c for c in GRADE_COLUMNS.values() if c in ctx.sites.columns]
    has_grades = (
        ctx.sites[given].notna().any(axis=1).to_numpy() if given else np.zeros(len(sites), bool)
    )
    classes = sites["classes"].to_numpy(float) + sites["classes_added"].to_numpy(float)
    after = sites["pupils_after"].to_numpy()
    ids, names, towns = (sites[c].to_numpy(object) for c in ("site_id", "name", "township_code"))
    rows = []
    for j in np.flatnonzero(sites["open"].to_numpy()):
        if not classes[j] > 0 or not after[j] > 0:
            continue
        base = {"site_id": ids[j], "name": names[j], "township_code": towns[j]}
        taught = np.flatnonzero(per_grade[j] > 0)
        if has_grades[j] and classes[j] >= len(taught) > 0:
            share = (
                largest_remainder(
                    np.maximum(classes[j] - len(taught), 0)
                    * per_grade[j, taught]
                    / per_grade[j, taught].sum()
                )
                + 1
            )
            for col, c in zip(taught, share, strict=True):
                rows.append(
                    {
                        **base,
                        "basis": "grade",
                        "grade": grade_name(GRADE_LEVELS[col]),
                        "pupils": per_grade[j, col],
                        "classes": c,
                        "class_size": per_grade[j, col] / c,
                    }
                )
        else:
            rows.append(
                {
                    **base,
                    "basis": "site",
                    "grade": "",
                    "pupils": after[j],
                    "classes": classes[j],
                    "class_size": after[j] / classes[j],
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "site_id",
            "name",
            "township_code",
            "basis",
            "grade",
            "pupils",
            "classes",
            "class_size",
        ],
    )


def _class_size(add, classes: pd.DataFrame, s) -> None:
    big = classes[classes["class_size"] >= s.oversized_class - 1e-9]
    if big.empty:
        add("class_size", PASSED, "无", "none")
        return
    zh, en = [], []
    for r in big.itertuples():
        if r.basis == "grade":
            zh.append(f"{r.name}{r.grade}年级（{r.class_size:.0f}人/班）")
            en.append(f"{r.name} grade {r.grade} ({r.class_size:.0f}/class)")
        else:
            zh.append(f"{r.name}（平均{r.class_size:.0f}人/班）")
            en.append(f"{r.name} ({r.class_size:.0f}/class on average)")
    add("class_size", FAILED, "、".join(zh), ", ".join(en))


def _places(add, here: pd.DataFrame, s) -> None:
    """No site over its places; the sites at ``near_full_share`` of them or more are flagged."""
    cap = here["capacity"] + here["places_added"]
    use = here["pupils_after"] / cap.where(cap > 0)
    over = here[cap.notna() & (here["pupils_after"] > cap + 1e-9)]
    near = here[cap.notna() & (use >= s.near_full_share) & ~here.index.isin(over.index)]

    def listed(part):
        u = use[part.index]
        return (
            "、".join(f"{n}（{x:.0%}）" for n, x in zip(part["name"], u, strict=True)),
            ", ".join(f"{n} ({x:.0%})" for n, x in zip(part["name"], u, strict=True)),
        )

    zh_near, en_near = listed(near)
    if over.empty:
        if near.empty:
            add("places", PASSED, "无", "none")
        else:
            add(
                "places",
                PASSED,
                f"不超学位；接近满额：{zh_near}",
                f"within the places; nearly full: {en_near}",
            )
        return
    zh, en = listed(over)
    if len(near):
        zh, en = f"{zh}；接近满额：{zh_near}", f"{en}; nearly full: {en_near}"
    add("places", FAILED, zh, en)


def _beds(add, here: pd.DataFrame) -> None:
    short = here[here["beds_shortfall"] > 1e-9]
    if here["boarders"].sum() == 0:
        add("boarding_beds", PASSED, "无寄宿生", "no boarders")
    elif short.empty:
        add(
            "boarding_beds",
            PASSED,
            f"寄宿生{here['boarders'].sum():,.0f}人均有床位",
            f"all {here['boarders'].sum():,.0f} boarders have a bed",
        )
    else:
        add(
            "boarding_beds",
            FAILED,
            "、".join(f"{r.name}缺{r.beds_shortfall:.0f}张" for r in short.itertuples()),
            ", ".join(f"{r.name} {r.beds_shortfall:.0f} beds short" for r in short.itertuples()),
        )


def _within_limits(add, ctx, beyond: pd.DataFrame) -> None:
    if beyond.empty:
        add(
            "within_limits",
            PASSED,
            "全部学生步行、乘车或寄宿均在限值内",
            "every pupil within the limits",
        )
        return
    g = ctx.groups
    names = ctx.village_names
    origins = g["origin_id"].to_numpy()[beyond["group"].to_numpy()]
    places = sorted({names.get(o, o) for o in origins})
    zh, en = _names(places)
    n = beyond["pupils"].sum()
    add(
        "within_limits",
        FAILED,
        f"{n:,.0f}人超出限值：{zh}",
        f"{n:,.0f} pupils beyond the limits: {en}",
    )


def _ways(add, ctx, rows: pd.DataFrame, s, is_open: np.ndarray) -> None:
    """The law's order of the ways: urban pupils and kindergarten children off the school
    buses, grades 1-3 not boarding, boarders in their own township (or a stated reason: no
    open school of their township teaching the grade can take them within the limits)."""
    g, urban = ctx.groups, ctx.urban
    names = ctx.village_names
    bus = rows[rows["way"] == rules.BUS]
    board = rows[rows["way"] == rules.BOARD]
    site_town = ctx.sites["township_code"].astype(str).to_numpy()
    checks = (
        ("urban_bus", bus[urban[bus["group"].to_numpy()]], "城区学生乘校车", "urban pupils on buses"),
        ("kindergarten_bus", bus[bus["grade"] <= 0], "幼儿乘校车", "kindergarten children on buses"),
        ("young_boarding", board[(board["grade"] >= 1) & (board["grade"] <= s.young_max_grade)],
         "低年级学生寄宿", "young pupils boarding"),
        ("boarding_township",
         board[site_town[board["site"].to_numpy()] != board["township_code"].astype(str).to_numpy()],
         "在外乡镇寄宿", "boarding in another township"),
    )  # fmt: skip
    for rule, bad, zh_what, en_what in checks:
        if rule == "boarding_township" and len(bad):
            bad, said = _boarding_reasons(ctx, bad, is_open)
            if bad.empty:
                add(rule, PASSED, "；".join(z for z, _ in said), "; ".join(e for _, e in said))
                continue
        if bad.empty:
            add(rule, PASSED, "无", "none")
            continue
        origins = g["origin_id"].to_numpy()[bad["group"].to_numpy()]
        at = ctx.sites["name"].astype(str).to_numpy()[bad["site"].to_numpy()]
        zh, en = _names(
            sorted({f"{names.get(o, o)}→{a}" for o, a in zip(origins, at, strict=True)})
        )
        n = bad["pupils"].sum()
        add(rule, FAILED, f"{zh_what}{n:,.0f}人：{zh}", f"{n:,.0f} {en_what}: {en}")


def _school_size(add, here: pd.DataFrame, ctx, s) -> None:
    """Schools over their size cap after the plan (大校额), with their pupils before and after."""
    caps = here["kind"].map(lambda k: school_size_cap(k, s)).to_numpy(float)
    over = here[here["pupils_after"].to_numpy(float) > caps]
    if over.empty:
        add("school_size", PASSED, "无超大规模学校", "no school over its size cap")
        return
    zh, en = _names(
        [f"{r.name}（{r.pupils_before:,.0f}→{r.pupils_after:,.0f}人）" for r in over.itertuples()]
    )
    add("school_size", FAILED, f"超大规模学校：{zh}", f"over the size cap: {en}")


def _boarding_reasons(ctx, away: pd.DataFrame, is_open: np.ndarray):
    """Boarders in another township that have a reason: none of their township's schools can
    take them within the limits, or they board there today at a school that stays (the plan
    moves no pupil of a school that stays open). Returns the rows without a reason and the
    reasons said, in both languages."""
    g, names = ctx.groups, ctx.village_names
    served = _own_township_serves(ctx, away, is_open)
    today = g["current"].to_numpy()[away["group"].to_numpy()] == away["site"].to_numpy()
    said = []
    for mask, zh_why, en_why in (
        (~served, "本乡镇无学校可在限值内接收", "no school of their township can take them within the limits"),
        (served & today, "现状即在该校寄宿、学校保留，维持现状", "they board there today and the school stays"),
    ):  # fmt: skip
        part = away[mask]
        if len(part):
            zh, en = _names(
                sorted({names.get(o, o) for o in g["origin_id"].to_numpy()[part["group"]]})
            )
            n = part["pupils"].sum()
            said.append((f"{n:,.0f}人在外乡镇寄宿（{zh_why}）：{zh}",
                         f"{n:,.0f} board elsewhere ({en_why}): {en}"))  # fmt: skip
    return away[served & ~today], said


def _own_township_serves(ctx, rows: pd.DataFrame, is_open: np.ndarray) -> np.ndarray:
    """Per row: whether an open school of the pupils' own township teaching their grade could
    take them within the limits (then boarding elsewhere needs the plan's reason)."""
    code, _ = ctx.ways
    towns = ctx.sites["township_code"].astype(str).to_numpy()
    out = []
    for r in rows.itertuples():
        here = is_open & (towns == str(r.township_code)) & ctx.offers[:, grade_column(r.grade)]
        out.append(bool((here & np.isin(code[r.group], rules.WITHIN)).any()))
    return np.asarray(out, dtype=bool)


def _accounted(add, ev) -> None:
    in_table = float(ev.assignment["pupils"].sum())
    at_sites = float(ev.sites["pupils_after"].sum())
    ok = (
        ev.pupils_before == ev.pupils_after + ev.unassigned
        and round(in_table) == ev.pupils_before
        and round(at_sites) == ev.pupils_after
    )
    add(
        "pupils_accounted",
        PASSED if ok else FAILED,
        f"调整前{ev.pupils_before:,}人；调整后在校{at_sites:,.0f}人，未安排{ev.unassigned:,}人；分配表合计{in_table:,.0f}人",
        f"{ev.pupils_before:,} before; {at_sites:,.0f} at sites after, {ev.unassigned:,} unassigned; "
        f"{in_table:,.0f} in the assignment table",
    )


def _special(add, ctx, open_: pd.DataFrame) -> None:
    threshold = ctx.settings.special_education_population
    if ctx.population < threshold:
        add(
            "special_education",
            NOT_APPLICABLE,
            f"全县人口{ctx.population:,.0f}人，不足{threshold:,}人",
            f"population {ctx.population:,.0f} is under {threshold:,}",
        )
        return
    special = open_[open_["kind"] == "special_education"]
    if len(special):
        zh, en = _names(special["name"])
        add("special_education", PASSED, f"有：{zh}", f"present: {en}")
    else:
        add("special_education", FAILED, "缺少特殊教育学校", "no special-education school")


def bus_checks(
    ctx, ev, served: pd.DataFrame, unserved: pd.DataFrame, towns: list[str] | None = None
) -> pd.DataFrame:
    """``bus_seats`` rows for every township: every bus rider of the plan on a route.

    Parameters
    ----------
    served
        Pupils on routes per site (``site_id, pupils``).
    unserved
        Pick-ups no bus can serve (``site_id, pupils, reason``).
    towns
        The townships to check (default: those of the plan's policy checks).
    """
    towns = checked_towns(ev.policy) if towns is None else towns
    sites = ev.sites
    riders = sites.groupby("township_code")["bus_riders"].sum()
    seated = (
        served.merge(sites[["site_id", "township_code"]], on="site_id")
        .groupby("township_code")["pupils"]
        .sum()
    )
    missing = (
        unserved.merge(sites[["site_id", "township_code", "name"]], on="site_id")
        if len(unserved)
        else pd.DataFrame(columns=["township_code", "pupils", "name", "reason"])
    )
    out: list[tuple] = []
    for town in towns:
        add = _adder(out, town, ctx.township(town))
        need, got = float(riders.get(town, 0)), float(seated.get(town, 0))
        lost = missing[missing["township_code"] == town]
        if need == 0:
            add("bus_seats", PASSED, "无乘车学生", "no bus riders")
        elif abs(need - got) < 0.5 and lost.empty:
            add(
                "bus_seats",
                PASSED,
                f"{need:,.0f}名乘车学生均有座位",
                f"all {need:,.0f} riders seated",
            )
        else:
            zh = "；".join(f"{r.name}：{r.reason}" for r in lost.itertuples())
            add(
                "bus_seats",
                FAILED,
                f"乘车{need:,.0f}人，有座位{got:,.0f}人" + (f"；{zh}" if zh else ""),
                f"{need:,.0f} riders, {got:,.0f} seated"
                + (f"; {'; '.join(str(r) for r in lost['reason'])}" if len(lost) else ""),
            )
    return pd.DataFrame(out, columns=POLICY_COLUMNS[:-1])


def fleet_checks(ctx, ev, buses, towns: list[str] | None = None) -> pd.DataFrame:
    """``weekly_bus`` and ``line_riders`` rows for every township, from a plan's buses.

    Parameters
    ----------
    buses
        The plan's :class:`~ruralnet.buses.plan.CountyBuses` (its morning routes, and with the
        county fleet the boarders' weekly trips).
    towns
        The townships to check (default: those of the plan's policy checks).
    """
    s = ctx.settings
    towns = checked_towns(ev.policy) if towns is None else towns
    town_of = dict(
        zip(ev.sites["site_id"].astype(str), ev.sites["township_code"].astype(str), strict=True)
    )
    names = ctx.village_names
    am = buses.routes[buses.routes["direction"] == "morning"]
    lines = am.groupby(["route", "site_id"], as_index=False)["pupils"].sum()
    thin = lines[lines["pupils"] < s.min_riders_per_line]
    fleet = buses.county_fleet
    boarders = ev.sites.groupby("township_code")["boarders"].sum()
    lost = fleet.weekly_unserved if fleet is not None else None
    out: list[tuple] = []
    for town in towns:
        add = _adder(out, town, ctx.township(town))
        here = thin[thin["site_id"].map(town_of) == town]
        if here.empty:
            add("line_riders", PASSED, "无", "none")
        else:
            zh, en = _names([f"{r.route}（{r.pupils:.0f}人）" for r in here.itertuples()])
            add("line_riders", FAILED, f"少于{s.min_riders_per_line}人的线路：{zh}",
                f"lines under {s.min_riders_per_line} riders: {en}")  # fmt: skip
        if float(boarders.get(town, 0)) == 0:
            add("weekly_bus", PASSED, "无寄宿生", "no boarders")
        elif lost is None:
            add("weekly_bus", NOT_APPLICABLE, "未统筹全县校车（bus_fleet 关闭）",
                "weekly trips not planned (bus_fleet off)")  # fmt: skip
        else:
            mine = lost[lost["site_id"].astype(str).map(town_of) == town]
            if mine.empty:
                add(
                    "weekly_bus", PASSED, "寄宿生均有周末往返校车", "every boarder has a weekly bus"
                )
            else:
                zh, en = _names(sorted({names.get(str(x), str(x)) for x in mine["stop_id"]}))
                n = mine["pupils"].sum()
                add("weekly_bus", FAILED, f"{n:,.0f}名寄宿生无周末校车：{zh}",
                    f"{n:,.0f} boarders without a weekly bus: {en}")  # fmt: skip
    return pd.DataFrame(out, columns=POLICY_COLUMNS[:-1])
