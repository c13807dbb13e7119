"""A plan measured, once: how every pupil travels, the sites after the plan, the policy and
bus checks, the costs, the teacher posts and the learning districts.

:func:`evaluate` is the one author of a :class:`PlanEvaluation`: it returns the whole,
frozen evaluation of a plan, and nothing adds to it later. The plan's buses (when they are
routed) come in as an argument, so the bus checks and the costs are part of the same
evaluation. Every pupil is counted before and after.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd

from ..model import labels
from ..model.grades import STAGES, format_grades, parse_grades
from ..model.kinds import class_norm
from . import rules
from .access import weighted_percentile
from .costs import plan_costs
from .districts import DISTRICT_COLUMNS, district_layer, learning_districts
from .plans import Plan, PlanContext
from .policy import bus_checks, checked_towns, fleet_checks, policy_checks, with_before
from .teachers import teacher_posts

log = logging.getLogger(__name__)

#: Columns of a plan's assignment (``report/assignment.csv`` adds ``plan``).
ASSIGNMENT_COLUMNS = [
    "village_id",
    "origin_type",
    "township_code",
    "stage",
    "grade_band",
    "site_id",
    "way",
    "pupils",
    "minutes",
]
#: Columns of a plan's site table (``report/plan_sites.csv`` adds ``plan``).
SITE_COLUMNS = [
    "site_id",
    "name",
    "township_code",
    "township",
    "kind",
    "open",
    "grades_before",
    "grades_after",
    "pupils_before",
    "pupils_after",
    "capacity",
    "places_added",
    "classes",
    "classes_added",
    "class_size_after",
    "capacity_use",
    "boarders",
    "boarding_beds",
    "beds_added",
    "beds_shortfall",
    "bus_riders",
    "justification_zh",
    "justification_en",
]


@dataclass(frozen=True)
class PlanEvaluation:
    """A plan measured: tables for reports and the checks a county meeting asks for.

    Built by :func:`evaluate` only; frozen (nothing is added to it afterwards).

    Attributes
    ----------
    plan
        The plan.
    rows
        One row per group and site with pupils (``group, site, grade, stage, pupils, way,
        minutes``; ``way`` a code of :mod:`~ruralnet.analysis.rules`).
    assignment
        :data:`ASSIGNMENT_COLUMNS`, one row per origin, stage, site and way (unassigned
        pupils: ``site_id`` empty, way ``beyond``).
    stages
        Per stage: pupils, travel-time statistics, walking, riding, boarding, beyond.
    sites
        :data:`SITE_COLUMNS` plus details, one row per site, with the site's ``action``
        (:func:`site_actions`), its ``teachers`` (posts after the plan) and
        ``site_reason_zh/en`` (its justification without what the plan adds there).
    policy
        The policy checks (:func:`ruralnet.analysis.policy.policy_checks`), with the
        ``bus_seats`` rows when the plan's buses were routed.
    pupils_before, pupils_after, unassigned
        Totals (whole pupils).
    pupils_moved
        Pupils the plan places away from the site they attend now.
    thin_pickups
        Pick-ups too small for a bus line (fewer than ``min_riders_per_line`` riders), one row
        per pick-up, school and grade band: ``village_id, village, site_id, site, grade_band,
        pupils, way`` (``guardian`` or ``board`` instead of the bus).
    costs
        Annual cost item by item (:func:`ruralnet.analysis.costs.plan_costs`; bus items only
        when the plan's buses were routed).
    teachers
        Teacher posts per site (``site_id`` index).
    districts
        The learning districts (every open site with its district, role, travel, names and
        teachers; :func:`ruralnet.analysis.districts.learning_districts`).
    district_layer
        One polygon per district (:func:`ruralnet.analysis.districts.district_layer`).
    buses
        The plan's buses (:class:`ruralnet.buses.plan.CountyBuses`), or ``None`` when the plan
        was not routed.
    """

    plan: Plan
    rows: pd.DataFrame
    assignment: pd.DataFrame
    stages: pd.DataFrame
    sites: pd.DataFrame
    policy: pd.DataFrame
    pupils_before: int
    pupils_after: int
    unassigned: int
    pupils_moved: int = 0
    thin_pickups: pd.DataFrame | None = None
    costs: pd.DataFrame | None = None
    teachers: pd.Series | None = None
    districts: pd.DataFrame | None = None
    district_layer: gpd.GeoDataFrame | None = None
    buses: object | None = None

    @property
    def conserved(self) -> bool:
        """Every pupil is assigned once or listed as unassigned."""
        return self.pupils_before == self.pupils_after + self.unassigned


def evaluate(
    ctx: PlanContext,
    plan: Plan,
    before: PlanEvaluation | None = None,
    buses=None,
    rows: pd.DataFrame | None = None,
) -> PlanEvaluation:
    """Measure a plan: ways to school, stages, sites, policy and bus checks, costs, teacher
    posts and learning districts.

    Parameters
    ----------
    ctx, plan
        The context and a plan over it.
    before
        The current plan's evaluation, for the checks' ``before_plan`` column (default: the
        plan is compared with itself).
    buses
        The plan's routed buses (:class:`ruralnet.buses.plan.CountyBuses`), routed from its
        :func:`flow_rows`; ``None``: no bus checks and no bus costs.
    rows
        The plan's :func:`flow_rows`, when already computed (for its buses).

    Returns
    -------
    PlanEvaluation
        Complete and frozen.
    """
    rows = flow_rows(ctx, plan) if rows is None else rows
    sites = site_table(ctx, plan, rows)
    measured = PlanEvaluation(
        plan,
        rows,
        _assignment(ctx, plan, rows),
        _stages(ctx, plan, rows),
        sites,
        pd.DataFrame(),
        int(ctx.groups["pupils"].sum()),
        round(float(rows["pupils"].sum())),
        round(float(plan.unassigned.sum())),
        pupils_moved(ctx, plan),
        _thin_pickups(ctx, rows),
    )
    policy = policy_checks(ctx, measured, before)
    if buses is not None:
        towns = checked_towns(policy)
        checks = pd.concat(
            [
                bus_checks(ctx, measured, buses.served(), buses.unserved, towns),
                fleet_checks(ctx, measured, buses, towns),
            ],
            ignore_index=True,
        )
        policy = pd.concat(
            [policy, with_before(checks, before.policy if before is not None else None)],
            ignore_index=True,
        )
    posts = teacher_posts(measured, ctx.settings)
    ids = sites["site_id"].astype(str)
    sites = sites.assign(action=site_actions(ctx, sites), teachers=ids.map(posts).to_numpy())
    measured = dataclasses.replace(measured, sites=sites, policy=policy, teachers=posts)
    districts = _named_districts(ctx, measured, posts)
    return dataclasses.replace(
        measured,
        costs=plan_costs(ctx, measured, buses),
        districts=districts,
        district_layer=district_layer(districts, ctx.sites, posts),
        buses=buses,
    )


def conserved(ctx: PlanContext, plan: Plan) -> tuple[bool, int, int, int]:
    """Whether a plan places every pupil once or lists them unassigned, before measuring it:
    ``(conserved, before, after, unassigned)`` in whole pupils."""
    before = int(ctx.groups["pupils"].sum())
    after = round(float(plan.flows.sum()))
    unassigned = round(float(plan.unassigned.sum()))
    return before == after + unassigned, before, after, unassigned


def pupils_moved(ctx: PlanContext, plan: Plan) -> int:
    """Pupils a plan places away from the site they attend now."""
    cur = ctx.groups["current"].to_numpy()
    stay = np.where(cur >= 0, plan.flows[np.arange(len(cur)), np.maximum(cur, 0)], 0)
    return round(float(ctx.groups["pupils"].sum() - stay.sum() - plan.unassigned.sum()))


def _thin_pickups(ctx: PlanContext, rows: pd.DataFrame) -> pd.DataFrame:
    """The pick-ups whose riders are too few for a bus line, stated one by one."""
    part = rows[rows["thin_line"]] if "thin_line" in rows else rows.iloc[:0]
    names = ctx.village_names
    ids = ctx.groups["origin_id"].to_numpy(dtype=object)[part["group"].to_numpy()].astype(str)
    sites = ctx.sites["site_id"].astype(str).to_numpy()[part["site"].to_numpy()]
    table = pd.DataFrame(
        {
            "village_id": ids,
            "village": [names.get(v, v) for v in ids],
            "site_id": sites,
            "site": [names.get(s, s) for s in sites],
            "grade_band": rules.grade_band(part["grade"].to_numpy()),
            "pupils": part["pupils"].to_numpy(),
            "way": np.asarray(rules.WAYS, dtype=object)[part["way"].to_numpy()],
        }
    )
    keys = ["village_id", "village", "site_id", "site", "grade_band", "way"]
    return table.groupby(keys, as_index=False, sort=True)["pupils"].sum()[
        ["village_id", "village", "site_id", "site", "grade_band", "pupils", "way"]
    ]


def _named_districts(ctx: PlanContext, ev: PlanEvaluation, posts: pd.Series) -> pd.DataFrame:
    """The plan's learning districts with the names officials read and the teachers (none
    when the context has no site-to-site times)."""
    if ctx.times is None:
        return pd.DataFrame(columns=[*DISTRICT_COLUMNS, "name", "head_name", "teachers"])
    table = learning_districts(ctx, ev)
    names = ctx.village_names
    return table.assign(
        name=table["site_id"].map(lambda v: names.get(v, v)),
        head_name=table["head_site_id"].map(lambda v: names.get(v, v)),
        teachers=table["site_id"].map(posts).fillna(0).astype(int),
    )


def flow_rows(ctx: PlanContext, plan: Plan) -> pd.DataFrame:
    """The plan's flows as rows with their way to school (from the rules)."""
    gi, sj = np.nonzero(plan.flows > 0)
    code, minutes = ctx.ways
    g = ctx.groups
    rows = pd.DataFrame(
        {
            "group": gi,
            "site": sj,
            "grade": g["grade"].to_numpy()[gi],
            "stage": g["stage"].to_numpy()[gi],
            "township_code": g["township_code"].to_numpy()[gi],
            "pupils": plan.flows[gi, sj],
            "way": code[gi, sj],
            "minutes": minutes[gi, sj],
        }
    )
    # a pick-up whose riders are too few for a bus line: guardians or boarding instead
    pickup = (
        g["origin_id"].to_numpy(dtype=object)[gi].astype(str)
        + "|" + sj.astype(str) + "|" + (rows["grade"].to_numpy() <= 0).astype(str)
    )  # fmt: skip
    thin = rules.thin_pickups(pickup, rows["grade"], rows["pupils"], rows["way"], ctx.settings)
    beds = ctx.sites["boarding_beds"].fillna(0).to_numpy(float)  # today's: the plan adds more
    instead = rules.instead_of_a_thin_line(rows["grade"].to_numpy(), beds[sj] > 0, ctx.settings)
    rows["thin_line"] = thin
    rows.loc[thin, "way"] = instead[thin].astype(rows["way"].dtype)
    return rows


def _assignment(ctx: PlanContext, plan: Plan, rows: pd.DataFrame) -> pd.DataFrame:
    g = ctx.groups
    table = pd.DataFrame(
        {
            "village_id": g["origin_id"].to_numpy()[rows["group"]],
            "origin_type": g["origin_type"].to_numpy()[rows["group"]],
            "township_code": rows["township_code"].to_numpy(),
            "stage": rows["stage"].to_numpy(),
            "site_id": ctx.sites["site_id"].astype(str).to_numpy()[rows["site"]],
            "grade_band": rules.grade_band(rows["grade"].to_numpy()),
            "way": np.asarray(rules.WAYS, dtype=object)[rows["way"].to_numpy()],
            "pupils": rows["pupils"].to_numpy(),
            "minutes": rows["minutes"].to_numpy(),
        }
    )
    lost = np.flatnonzero(plan.unassigned > 0)
    if len(lost):
        table = pd.concat(
            [
                table,
                pd.DataFrame(
                    {
                        "village_id": g["origin_id"].to_numpy()[lost],
                        "origin_type": g["origin_type"].to_numpy()[lost],
                        "township_code": g["township_code"].to_numpy()[lost],
                        "stage": g["stage"].to_numpy()[lost],
                        "site_id": None,
                        "grade_band": rules.grade_band(g["grade"].to_numpy()[lost]),
                        "way": "beyond",
                        "pupils": plan.unassigned[lost],
                        "minutes": np.nan,
                    }
                ),
            ],
            ignore_index=True,
        )
    keys = ["village_id", "origin_type", "township_code", "stage", "grade_band", "site_id", "way"]
    out = (
        table.groupby(keys, sort=False, dropna=False)
        .agg(pupils=("pupils", "sum"), minutes=("minutes", "first"))
        .reset_index()
    )
    order = {st: i for i, st in enumerate(STAGES)}
    out = out.assign(_s=out["stage"].map(order)).sort_values(
        ["village_id", "_s", "grade_band", "site_id"], kind="stable", na_position="last"
    )
    return out[ASSIGNMENT_COLUMNS].reset_index(drop=True)


def _stages(ctx: PlanContext, plan: Plan, rows: pd.DataFrame) -> pd.DataFrame:
    out = []
    lost = ctx.groups.assign(pupils=plan.unassigned)
    for stage in STAGES:
        part = rows[rows["stage"] == stage]
        p = part["pupils"].to_numpy()
        m = part["minutes"].to_numpy()
        way = part["way"].to_numpy()
        daily = np.isin(way, rules.DAILY) & np.isfinite(m)
        out.append(
            {
                "stage": stage,
                "pupils": p.sum(),
                "mean_minutes": float(np.average(m[daily], weights=p[daily]))
                if daily.any()
                else np.nan,
                "median_minutes": weighted_percentile(np.where(daily, m, np.nan), p, 50),
                "p95_minutes": weighted_percentile(np.where(daily, m, np.nan), p, 95),
                "max_minutes": float(m[daily].max()) if daily.any() else np.nan,
                "walking": p[way == rules.WALK].sum(),
                "guardian": p[way == rules.GUARDIAN].sum(),
                "transit": p[way == rules.TRANSIT].sum(),
                "bus_riders": p[way == rules.BUS].sum(),
                "boarders": p[way == rules.BOARD].sum(),
                "beyond_limits": p[way == rules.BEYOND].sum(),
                "unassigned": float(lost.loc[lost["stage"] == stage, "pupils"].sum()),
            }
        )
    return pd.DataFrame(out)


def site_table(ctx: PlanContext, plan: Plan, rows: pd.DataFrame) -> pd.DataFrame:
    """One row per site: open, grades, pupils before and after, places, classes, beds,
    boarders and bus riders after the plan."""
    s = ctx.settings
    sites = ctx.sites
    n = len(sites)
    after = np.bincount(rows["site"], weights=rows["pupils"], minlength=n)
    boarders = np.bincount(
        rows["site"], weights=rows["pupils"] * (rows["way"] == rules.BOARD), minlength=n
    )
    riders = np.bincount(
        rows["site"], weights=rows["pupils"] * (rows["way"] == rules.BUS), minlength=n
    )
    grades_after = plan.grades or list(sites["grades"].astype(str))
    closed, receiving = closure_reasons(ctx, plan, rows)
    classes = sites["classes"].to_numpy(float) + plan.added("classes")
    capacity = sites["capacity"].to_numpy(float) + plan.added("places")
    beds = sites["boarding_beds"].fillna(0).to_numpy(float) + plan.added("beds")
    table = pd.DataFrame(
        {
            "site_id": sites["site_id"].astype(str).to_numpy(),
            "name": sites["name"].astype(str).to_numpy(),
            "township_code": sites["township_code"].astype(str).to_numpy(),
            "township": [ctx.township(t) for t in sites["township_code"]],
            "kind": sites["kind"].astype(str).to_numpy(),
            "open": plan.open,
            "grades_before": np.where(ctx.open_now, sites["grades"].astype(str), ""),
            "grades_after": np.where(plan.open, grades_after, ""),
            "pupils_before": ctx.pupils_now,
            "pupils_after": np.where(plan.open, after, 0.0),
            "capacity": sites["capacity"].to_numpy(float),
            "places_added": plan.added("places"),
            "classes": sites["classes"].to_numpy(float),
            "classes_added": plan.added("classes"),
            "kindergarten_classes_added": plan.added("kindergarten_classes"),
            "class_size_after": np.where(
                plan.open & (classes > 0), after / np.where(classes > 0, classes, 1), np.nan
            ),
            "capacity_use": np.where(
                plan.open & (capacity > 0), after / np.where(capacity > 0, capacity, 1), np.nan
            ),
            "boarders": boarders,
            "boarding_beds": sites["boarding_beds"].to_numpy(float),
            "beds_added": plan.added("beds"),
            "beds_shortfall": np.maximum(0.0, boarders - beds),
            "bus_riders": riders,
            **{
                f"justification_{lang}": [
                    ("；" if lang == "zh" else "; ").join(
                        x
                        for x in (
                            plan.justification.get(sid, {}).get(lang, ""),
                            closed.get(sid, {}).get(lang, ""),
                        )
                        if x
                    )
                    for sid in sites["site_id"].astype(str)
                ]
                for lang in ("zh", "en")
            },
            "receiving": [receiving.get(sid, "") for sid in sites["site_id"].astype(str)],
            "class_norm": [class_norm(k, s) for k in sites["kind"]],
            "is_central_kindergarten": sites["is_central_kindergarten"].to_numpy(bool),
            "is_central_primary": sites["is_central_primary"].to_numpy(bool),
            "is_public_boarding": sites["is_public_boarding"].to_numpy(bool),
        }
    )
    # the reasons before the additions' (the plan over the years says its own additions)
    return _addition_reasons(
        table.assign(
            site_reason_zh=table["justification_zh"], site_reason_en=table["justification_en"]
        )
    )


def _addition_reasons(table: pd.DataFrame) -> pd.DataFrame:
    """Every addition says whom it serves: classrooms and places for the pupils after the
    plan, beds for the boarders (appended to the site's justification)."""
    zh, en = table["justification_zh"].copy(), table["justification_en"].copy()
    school = table["classes_added"] - table.get("kindergarten_classes_added", 0.0)
    is_open = table["open"].to_numpy()
    for i in np.flatnonzero(is_open & (school.to_numpy() > 0)):
        r = table.iloc[i]
        n, places = school.iloc[i], f"{r.capacity:,.0f}→{r.capacity + r.places_added:,.0f}"
        after, before = f"{r.pupils_after:,.0f}", f"{r.pupils_before:,.0f}"
        zh.iloc[i] = _joined(
            zh.iloc[i],
            f"新增教室{n:.0f}间：学位{places}个，容纳调整后{after}名学生（调整前{before}名）",
        )
        en.iloc[i] = _joined(
            en.iloc[i],
            f"{n:.0f} classroom(s) added: places {places} for {after} pupils after ({before} before)",
        )
    for i in np.flatnonzero(is_open & (table["beds_added"].to_numpy() > 0)):
        r = table.iloc[i]
        beds, boarders = f"{r.beds_added:,.0f}", f"{r.boarders:,.0f}"
        zh.iloc[i] = _joined(zh.iloc[i], f"新增床位{beds}张：寄宿生{boarders}名")
        en.iloc[i] = _joined(en.iloc[i], f"{beds} beds added: {boarders} boarders")
    return table.assign(justification_zh=zh, justification_en=en)


def _joined(before: str, more: str) -> str:
    return f"{before}；{more}" if before else more


def closure_reasons(ctx: PlanContext, plan: Plan, rows: pd.DataFrame) -> tuple[dict, dict]:
    """Why and where each site the plan closes sends its pupils: site id -> ``{"zh", "en"}``
    (the receiving schools with pupils, ways and the longest trip; a site closed before the
    plan that stays closed says so), and site id -> the names of its receiving schools."""
    cur = ctx.groups["current"].to_numpy()
    names = ctx.sites["name"].astype(str).to_numpy()
    ids = ctx.sites["site_id"].astype(str).to_numpy()
    reasons, receiving = {}, {}
    forced = set(map(str, ctx.settings.close_sites))
    moved = rows[rows["site"].to_numpy() != cur[rows["group"].to_numpy()]]
    left = np.zeros(len(plan.open), dtype=bool)  # sites some pupils leave
    came = cur[moved["group"].to_numpy()]
    left[came[came >= 0]] = True
    after = plan.grades or list(ctx.sites["grades"])
    reduced = left & plan.open & ctx.open_now & dropped_grades(ctx.sites["grades"], after)
    for j in np.flatnonzero((ctx.open_now & ~plan.open) | reduced):
        mine = rows[cur[rows["group"].to_numpy()] == j]
        if reduced[j]:  # the grades it no longer teaches: where they go
            mine = mine[mine["site"].to_numpy() != j]
        if mine.empty:
            if not reduced[j]:
                reasons[ids[j]] = {"zh": "撤并：当年无学生", "en": "closed: no pupils that year"}
            continue
        zh, en, to = [], [], []
        for k, part in mine.groupby("site", sort=False):
            by_way = part.groupby("way")["pupils"].sum()
            ways_zh = "、".join(f"{_way(w, 'zh')}{n:,.0f}人" for w, n in by_way.items())
            ways_en = ", ".join(f"{n:,.0f} {_way(w, 'en')}" for w, n in by_way.items())
            longest = float(np.nanmax(part["minutes"])) if part["minutes"].notna().any() else np.nan
            tail_zh = f"，最长{longest:.0f}分钟" if np.isfinite(longest) else ""
            tail_en = f", at most {longest:.0f} min" if np.isfinite(longest) else ""
            zh.append(f"{names[k]}（{ways_zh}{tail_zh}）")
            en.append(f"{names[k]} ({ways_en}{tail_en})")
            to.append(names[k])
        n = mine["pupils"].sum()
        split = _split_bands(ctx, mine)
        if split:
            zh.append(f"其中{split}个村的同一年级段分到两所以上学校：没有一所学校能全部接收")
            en.append(f"{split} village(s) of one grade band go to two or more schools: no one "
                      "school can take them all")  # fmt: skip
        county = ids[j] in forced  # the county's lever, not the policy's rule
        if reduced[j]:
            grades = format_grades(sorted(set(mine["grade"].astype(int))))
            head_zh, head_en = f"调减年级：{grades}年级", f"fewer grades: grades {grades},"
        elif county:
            head_zh, head_en = (
                "县里设定撤并（close_sites）：",
                "closed by the county (close_sites):",
            )
        else:
            head_zh, head_en = "撤并：", "closed:"
        reasons[ids[j]] = {
            "zh": f"{head_zh}{n:,.0f}名学生转入" + "；".join(zh),
            "en": f"{head_en} {n:,.0f} pupils to " + "; ".join(en),
        }
        receiving[ids[j]] = "、".join(to)
    for j in np.flatnonzero(~ctx.open_now & ~plan.open):
        reasons[ids[j]] = {
            "zh": "调整前已撤并，不需恢复办学",
            "en": "closed before the plan, not needed again",
        }
    return reasons, receiving


def dropped_grades(before, after) -> np.ndarray:
    """Per site, whether the grade span ``after`` lacks a grade of ``before`` (a site that
    closes, empty ``after``, drops them all; an empty ``before`` drops none)."""
    return np.array(
        [bool(parse_grades(b) - (parse_grades(a) if isinstance(a, str) and a else frozenset()))
         if isinstance(b, str) and b else False
         for b, a in zip(before, after, strict=True)],
        dtype=bool,
    )  # fmt: skip


def _split_bands(ctx: PlanContext, rows: pd.DataFrame) -> int:
    """How many villages' pupils of one grade band (:data:`ruralnet.analysis.rules.GRADE_BANDS`)
    these rows send to more than one school."""
    origin = ctx.groups["origin_id"].to_numpy()[rows["group"].to_numpy()]
    keys = rules.village_band(origin, rows["grade"].to_numpy())
    sites = pd.DataFrame({"key": keys, "site": rows["site"].to_numpy()})
    return int((sites.groupby("key")["site"].nunique() > 1).sum())


def _way(code: int, lang: str) -> str:
    """A way to school's label (:data:`ruralnet.model.labels.WAYS`)."""
    return labels.label(labels.WAYS, rules.WAYS[code], lang)


def site_actions(ctx: PlanContext, sites: pd.DataFrame) -> np.ndarray:
    """What a plan does to each site: keep, close, reopen, stay closed, fewer grades,
    expand (classes added).

    Parameters
    ----------
    ctx
        The plan context (which sites are open now).
    sites
        The plan's site table (:func:`site_table`).
    """
    was, now = ctx.open_now, sites["open"].to_numpy()
    fewer = now & was & dropped_grades(sites["grades_before"], sites["grades_after"])
    grow = now & (sites["classes_added"].to_numpy() > 0)
    return np.select(
        [was & ~now, ~was & now, ~was & ~now, fewer, grow],
        ["close", "reopen", "stay_closed", "reduce_grades", "expand"],
        "keep",
    )
