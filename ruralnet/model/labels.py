"""Chinese and English labels for reports and maps (code and identifiers stay English).

Every label that states a policy number is built from the :class:`~ruralnet.model.settings.Settings`
of the run (``班额56人及以上`` becomes ``班额60人及以上`` when ``oversized_class = 60``), so an
override in ``county.toml`` shows in every table, chart and map.
"""

from __future__ import annotations

import math
import re

LANGS = ("zh", "en")

KINDS = {
    "central_kindergarten": ("中心幼儿园", "central kindergarten"),
    "kindergarten": ("幼儿园", "kindergarten"),
    "central_primary": ("中心小学", "central primary"),
    "village_primary": ("村小", "village primary"),
    "teaching_point": ("教学点", "teaching point"),
    "junior_middle": ("初级中学", "junior middle"),
    "nine_year": ("九年一贯制学校", "nine-year school"),
    "boarding_school": ("寄宿制学校", "boarding school"),
    "special_education": ("特殊教育学校", "special education"),
}

DECISIONS = {
    "merge_walk": ("撤并（步行可达）", "merge (walkable)"),
    "merge_bus": ("撤并（需校车）", "merge (bus needed)"),
    "merge_boarding": ("撤并（需寄宿）", "merge (boarding needed)"),
    "keep": ("保留", "keep"),
    "restore": ("建议恢复", "restore?"),
    "stay_closed": ("维持撤并", "stay closed"),
}

#: Actions of a plan on a site (``plan_sites.csv`` ``action``).
ACTIONS = {
    "keep": ("保留", "keep"),
    "close": ("撤并", "close"),
    "reopen": ("恢复", "reopen"),
    "stay_closed": ("维持撤并", "stay closed"),
    "reduce_grades": ("调整年级", "fewer grades"),
    "expand": ("扩建", "expand"),
}

STAGES = {
    "kindergarten": ("学前", "kindergarten"),
    "primary": ("小学", "primary"),
    "junior": ("初中", "junior"),
}

WAYS = {
    "walk": ("步行", "walk"),
    "bus": ("校车", "bus"),
    "board": ("寄宿", "board"),
    "beyond": ("超出限值", "beyond the limits"),
    "guardian": ("家长接送", "brought by a guardian"),
    "transit": ("公交或家长接送（城区）", "public transport or guardian (urban)"),
}

DIRECTIONS = {"morning": ("上午", "morning"), "afternoon": ("下午", "afternoon")}

#: The fleet's days: a school day's morning and afternoon, the boarders' weekly trips.
DAYS = {
    "morning": ("上午", "morning"),
    "afternoon": ("下午", "afternoon"),
    "weekly": ("寄宿生周末往返", "boarders' weekly trips"),
    "all": ("全县（各车型取最多的一天）", "county (each kind of bus on its busiest day)"),
}

#: Roles in a learning district, district kinds, births variants.
ROLES = {"head": ("中心校", "central school"), "member": ("成员校", "attached site")}
FAMILIES = {
    "school": ("中小学学区", "school district"),
    "kindergarten": ("一园多点", "kindergarten group"),
}
VARIANTS = {"low": ("低", "low"), "central": ("中", "central"), "high": ("高", "high")}

#: Levels of a table of schools with their subtotals.
LEVELS = {"school": ("学校", "school"), "township": ("乡镇合计", "township"),
          "county": ("全县合计", "county")}  # fmt: skip

#: Kinds of bus.
BUS_TYPES = {"school": ("校车", "school bus"), "kindergarten": ("幼儿专用校车", "kindergarten bus")}

STATUS = {
    "passed": ("通过", "passed"),
    "failed": ("未通过", "FAILED"),
    "not_applicable": ("不适用", "not applicable"),
}

PLANS = {
    "current": ("现状", "current"),
    "merger": ("撤并方案", "mergers"),
    "optimised": ("优化方案", "optimised"),
    "concentrated": ("进一步集中方案", "further concentration"),
}

BOOL = {True: ("是", "yes"), False: ("否", "no")}

#: The levers of a scenario, as the report names them (other settings by their own name).
LEVERS = {
    "keep_sites": ("保留学校", "kept open"),
    "close_sites": ("撤并学校", "closed by the county"),
    "plan_reduces_grades": ("允许调减年级", "grade reductions allowed"),
    "keep_township": ("乡镇内优先", "township first"),
    "plan_closes_larger_sites": ("撤并较大学校", "larger sites may close"),
    "largest_primary_school": ("小学规模上限（人）", "largest primary school (pupils)"),
    "largest_junior_school": ("初中规模上限（人）", "largest junior school (pupils)"),
    "kindergarten_buses": ("幼儿园校车", "kindergarten buses"),
    "max_walk_minutes": ("最长步行时间（分钟）", "longest walk (min)"),
    "max_ride_minutes": ("最长乘车时间（分钟）", "longest ride (min)"),
    "young_ride_minutes": ("低年级最长乘车时间（分钟）", "longest ride of the young (min)"),
    "small_site_pupils": ("小规模学校标准（人）", "small site threshold (pupils)"),
}

COLUMNS = {
    "plan": ("方案", "plan"),
    "bell": ("到校时间", "bell"),
    "bell_window": ("可选到校时间段", "bell window"),
    "dismissal": ("放学时间", "dismissal"),
    "fixed_bells": ("固定作息、准点到校所需校车", "buses, every run at its fixed bell"),
    "single_run_buses": ("只跑一趟的校车", "buses making one run"),
    "bells": ("各校到校时间", "bells chosen"),
    "saved_by_bells": ("错时与提前到校节省校车", "buses saved by bells and early arrivals"),
    "saved_by_mixed": ("混载节省校车", "buses saved by mixed loads"),
    "single_loads": ("单校单载所需校车", "buses with single loads"),
    "mixed_runs": ("多校混载趟数", "mixed-load runs"),
    "runs_per_bus": ("每车趟数", "runs per bus"),
    "empty_share": ("空驶里程占比", "empty km share"),
    "dismissal_window": ("可选放学时间段", "dismissal window"),
    "site_id": ("学校代码", "site id"),
    "name": ("学校名称", "name"),
    "kind": ("学校类型", "kind"),
    "township_code": ("乡镇代码", "township code"),
    "township": ("乡镇", "township"),
    "pupils": ("学生数", "pupils"),
    "decision": ("建议", "decision"),
    "receiving_site_id": ("接收学校代码", "receiving site id"),
    "receiving_name": ("接收学校", "receiving site"),
    "minutes_bus": ("校车时间（分钟）", "minutes by bus"),
    "minutes_walk": ("步行时间（分钟）", "minutes on foot"),
    "minutes": ("时间（分钟）", "minutes"),
    "reason": ("理由", "reason"),
    "spare_places": ("接收后余位", "spare places after"),
    "class_size_after": ("调整后平均班额", "class size after"),
    "rule": ("规则代码", "rule code"),
    "rule_label": ("规则", "rule"),
    "status": ("结果", "result"),
    "detail": ("说明", "detail"),
    "before_plan": ("调整前", "before the plan"),
    "pupils_before": ("调整前学生数", "pupils before"),
    "pupils_after": ("调整后学生数", "pupils after"),
    "classes": ("班级数", "classes"),
    "capacity": ("学位数", "places"),
    "capacity_use": ("学位使用率", "capacity use"),
    "open": ("保留", "open"),
    "boarders": ("寄宿生", "boarders"),
    "boarding_beds": ("寄宿床位", "beds"),
    "stage": ("学段", "stage"),
    "grade_band": ("年级段", "grade band"),
    "way": ("上学方式", "way to school"),
    "village_id": ("村代码", "village id"),
    "village": ("村", "village"),
    "grades_before": ("调整前年级", "grades before"),
    "grades_after": ("调整后年级", "grades after"),
    "places_added": ("新增学位", "places added"),
    "classes_added": ("新增班级（教室）", "classes added"),
    "kindergarten_classes_added": ("其中附设幼儿班", "of which kindergarten classes"),
    "beds_added": ("新增床位", "beds added"),
    "beds_shortfall": ("床位缺口", "beds short"),
    "bus_riders": ("乘车学生", "bus riders"),
    "justification": ("调整理由", "reason"),
    "receiving": ("接收学校", "receiving schools"),
    "boarders_added": ("新增寄宿生", "new boarders"),
    "measure": ("指标", "measure"),
    "run_a": ("A", "A"),
    "run_b": ("B", "B"),
    "difference": ("差额", "difference"),
    "action_a": ("A：调整", "A: action"),
    "action_b": ("B：调整", "B: action"),
    "grades_a": ("A：年级", "A: grades"),
    "grades_b": ("B：年级", "B: grades"),
    "pupils_a": ("A：学生数", "A: pupils"),
    "pupils_b": ("B：学生数", "B: pupils"),
    "reason_b": ("B：理由", "B: reason"),
    "status_a": ("A：结果", "A: result"),
    "status_b": ("B：结果", "B: result"),
    "detail_b": ("B：说明", "B: detail"),
    "setting": ("设置", "setting"),
    "minutes_before": ("现上学时间（分钟）", "minutes now"),
    "minutes_after": ("调整后上学时间（分钟）", "minutes after"),
    "added_minutes": ("增加上学时间（分钟）", "minutes added"),
    "longest_minutes": ("最长上学时间（分钟）", "longest minutes"),
    "annual_saving": ("每年节省（元）", "annual saving (yuan)"),
    "action": ("调整", "action"),
    "direction": ("方向", "direction"),
    "route": ("线路", "route"),
    "seq": ("站序", "stop no."),
    "stop": ("站点代码", "stop id"),
    "stop_name": ("站点", "stop"),
    "seats": ("座位", "seats"),
    "buses": ("校车数", "buses"),
    "buses_today": ("现有校车（buses.csv）", "today's buses (buses.csv)"),
    "bus_km": ("行驶里程（公里）", "bus-km"),
    "longest_ride_min": ("最长乘车（分钟）", "longest ride (min)"),
    "unserved_pupils": ("无法接送学生", "pupils not served"),
    "fewest_buses_proven": ("已证明车辆最少", "fewest buses proven"),
    "item": ("项目", "item"),
    "quantity": ("数量", "quantity"),
    "unit_cost": ("单价（元/年）", "unit cost (yuan/year)"),
    "cost": ("费用（元/年）", "cost (yuan/year)"),
    "count": ("数量", "count"),
    "sites_open": ("在办学校", "open sites"),
    "pupils_moved": ("调整学校的学生", "pupils moved"),
    "walking": ("步行学生", "walking"),
    "guardian": ("家长接送学生", "brought by guardians"),
    "transit": ("城区公交或家长接送学生", "urban: transit or guardians"),
    "beyond_limits": ("超出限值的学生", "beyond the limits"),
    "pupil_minutes": ("每日上学时间合计（人·分钟）", "pupil-minutes a day"),
    "policy_failed": ("未通过的政策检查", "policy checks failed"),
    "riders": ("乘车学生", "riders"),
    "level": ("层级", "level"),
    "limit_min": ("乘车限值（分钟）", "ride limit (min)"),
    "run": ("线路类别", "run"),
    "unit": ("单位", "unit"),
    "item_label": ("项目", "item"),
    "site": ("学校", "school"),
    "origin_type": ("来源", "from"),
    "unassigned": ("未安排", "unassigned"),
    "mean_minutes": ("平均时间（分钟）", "mean minutes"),
    "bus": ("车辆", "bus"),
    "order": ("趟次", "run of the day"),
    "departs": ("发车时间", "departs"),
    "arrives": ("到达时间", "arrives"),
    "day": ("时段", "day"),
    "bus_type": ("车型", "kind of bus"),
    "site_name": ("学校名称", "school"),
    "km": ("载客里程（公里）", "km with pupils"),
    "deadhead_km": ("空驶里程（公里）", "empty km"),
    "own_runs": ("各校自备所需车辆", "buses, school by school"),
    "own_buses": ("本校自备所需车辆", "own buses"),
    "lower_bound": ("车辆数下界", "lower bound"),
    "runs": ("趟数", "runs"),
    "shared": ("全县统筹所需车辆", "buses, one county fleet"),
    "teachers": ("教师编制", "teacher posts"),
    "teachers_change": ("教师编制增减", "teacher posts needed (+) or freed (-)"),
    "district_id": ("学区", "learning district"),
    "family": ("学区类别", "district kind"),
    "head_site_id": ("中心校代码", "central school id"),
    "head_name": ("中心校", "central school"),
    "role": ("角色", "role"),
    "teacher_minutes_week": ("走教时间（分钟/周）", "travelling teachers (min/week)"),
    "note": ("说明", "note"),
    "members": ("成员校", "attached sites"),
    "sites": ("学校数", "sites"),
    "year": ("年份", "year"),
    "grade": ("年级", "grade"),
    "variant": ("出生人口情景", "births variant"),
    "small": ("不足规定人数", "under the small-site size"),
    "closed": ("撤并学校", "sites closed"),
    "reopened": ("恢复办学", "sites reopened"),
    "classrooms_needed": ("需增教室", "classrooms needed"),
    "classrooms_empty_later": ("三年后闲置教室", "classrooms empty three years on"),
    "temporary_classrooms": ("临时教室", "temporary classrooms"),
    "robust": ("高低预测下相同", "same under low and high projections"),
    "needed": ("需增教室", "classrooms needed"),
    "built": ("当年新建教室", "classrooms built"),
    "permanent": ("累计新建教室", "classrooms built so far"),
    "temporary": ("临时教室", "temporary classrooms"),
    "empty_later": ("三年后闲置", "empty three years on"),
    "years_needed": ("需用年数（折现）", "years needed (discounted)"),
    "cost_built": ("新建费用（元）", "cost of building (yuan)"),
    "cost_temporary": ("租用临时教室费用（元）", "cost of temporary classrooms (yuan)"),
    "policy_failed_year": ("未通过的政策检查", "policy checks failed"),
    "p95_minutes": ("95%分位时间（分钟）", "95th pct minutes"),
}

#: Bus runs: kindergarten, young pupils, the others.
RUNS = {
    "kindergarten": ("幼儿园", "kindergarten"),
    "young": ("低年级", "young pupils"),
    "older": ("其他年级", "other grades"),
    "weekly": ("寄宿生周末往返", "boarders' weekly trip"),
}

#: Units of the cost items.
UNITS = {
    "site": ("所", "site"),
    "classroom": ("间", "classroom"),
    "place": ("个", "place"),
    "bed": ("张", "bed"),
    "pupil": ("人", "pupil"),
    "pupil-hour": ("人·小时", "pupil-hour"),
    "bus": ("辆", "bus"),
    "driver": ("人", "driver"),
    "km": ("公里", "km"),
}

ORIGINS = {"village": ("村", "village"), "site": ("学校所在地", "school site")}


#: Why a learning district is led as it is (``note`` of the districts table: codes in the CSV).
DISTRICT_NOTES = {
    "led_by_largest": (
        "本学区无开办的中心校：由规模最大的学校牵头",
        "no open central school in this district: led by its largest site",
    ),
    "own_district": (
        "乘车时限内无中心校：自成学区",
        "no central school within the ride limit: leads its own district",
    ),
}
#: The county-wide rows of per-township tables (``township_code = "ALL"``).
AREAS = {"ALL": ("全县", "county")}
#: The parts of a route id (``<site>-AM-<kind>-<n>``; a mixed run ``...+<site>-<kind>-<n>``).
ROUTE_DAYS = {"AM": ("上午", "AM"), "PM": ("下午", "PM"), "WK": ("周末", "WK")}
ROUTE_KINDS = {
    "K": ("幼儿园", "K"),
    "Y": ("低年级", "Y"),
    "O": ("其他年级", "O"),
    "W": ("寄宿生", "W"),
}


def route_label(route, lang: str) -> str:
    """A route id as its readers read it: in Chinese the day and the kind of run in words
    (``441826106-11-AM-O-1`` -> ``441826106-11-上午-其他年级-1``); the site codes stay."""
    text = str(route)
    if lang != "zh":
        return text
    text = re.sub(r"-(AM|PM|WK)-", lambda m: f"-{ROUTE_DAYS[m[1]][0]}-", text)
    return re.sub(r"-([KYOW])(?=[-+])", lambda m: f"-{ROUTE_KINDS[m[1]][0]}", text)


def label(table: dict, key, lang: str) -> str:
    """The label of ``key`` in ``lang``; unknown keys come back unchanged."""
    if key not in table:
        return str(key)
    return table[key][0 if lang == "zh" else 1]


def young_grades(settings) -> str:
    """The grades that do not board, as text (``1-3`` with the default boarding grade 4)."""
    top = settings.boarding_min_grade - 1
    return "1" if top == 1 else f"1-{top}"


def short_grades(settings) -> str:
    """The grades with the shorter ride limit, as text (``1-3`` by default)."""
    top = settings.young_max_grade
    return "1" if top == 1 else f"1-{top}"


def rule_label(rule: str, lang: str, settings) -> str:
    """The label of a policy rule (:mod:`ruralnet.analysis.policy`), numbers from settings."""
    s = settings
    zh, en = {
        "public_boarding_school": (
            "乡镇至少一所公办寄宿制学校",
            "a public boarding school in every township",
        ),
        "central_kindergarten": (
            "乡镇至少一所中心幼儿园",
            "a central kindergarten in every township",
        ),
        "central_primary": ("乡镇保留中心小学", "a central primary in every township"),
        "small_sites": (
            f"无{s.small_site_pupils}人以下教学点、村小（确需保留的除外）",
            f"no teaching point or village primary under {s.small_site_pupils} pupils unless justified",
        ),
        "class_size": (
            f"无班额{s.oversized_class}人及以上大班额",
            f"no class of {s.oversized_class} or more",
        ),
        "places": ("学位充足（学生数不超过学位数）", "enough places (pupils within the places)"),
        "boarding_beds": ("寄宿生均有床位", "a bed for every boarder"),
        "school_size": (
            f"无超大规模学校（小学{s.largest_primary_school:,.0f}人、初中及九年一贯制"
            f"{s.largest_junior_school:,.0f}人以上，示意值）",
            f"no school over {s.largest_primary_school:,.0f} (primary) or "
            f"{s.largest_junior_school:,.0f} pupils (junior, nine-year; illustrative)",
        ),
        "within_limits": (
            f"步行不超过{s.max_walk_minutes:g}分钟、乘车不超过{s.max_ride_minutes:g}分钟"
            f"（幼儿园和{short_grades(s)}年级不超过{s.young_ride_minutes:g}分钟），"
            f"否则寄宿（{young_grades(s)}年级不寄宿）",
            f"walk within {s.max_walk_minutes:g} min, ride within {s.max_ride_minutes:g} min "
            f"(kindergarten and grades {short_grades(s)}: {s.young_ride_minutes:g} min), "
            f"else board (grades {young_grades(s)} do not board)",
        ),
        "bus_seats": ("每名乘车学生均有校车座位", "a bus seat for every rider"),
        "urban_bus": (
            "城区学生不乘校车（公交或家长接送）",
            "no school bus for urban pupils (transit or guardians)",
        ),
        "kindergarten_bus": (
            "幼儿由监护人接送，不乘校车",
            "kindergarten children brought by guardians, not by bus",
        ),
        "young_boarding": (
            f"{young_grades(s)}年级学生不寄宿",
            f"no pupil of grades {young_grades(s)} boards",
        ),
        "boarding_township": (
            "寄宿生在本乡镇寄宿",
            "boarders board in their own township",
        ),
        "weekly_bus": (
            f"寄宿生每周往返乘车不超过{s.weekly_ride_minutes:g}分钟",
            f"a weekly bus home within {s.weekly_ride_minutes:g} min for every boarder",
        ),
        "line_riders": (
            f"每条校车线路至少{s.min_riders_per_line}名学生",
            f"at least {s.min_riders_per_line} riders on every bus line",
        ),
        "pupils_accounted": ("每名学生均有安排或列明", "every pupil assigned once or listed"),
        "special_education": (
            f"{s.special_education_population / 10_000:g}万人以上县设特殊教育学校",
            f"special-education school in counties of {s.special_education_population:,}+",
        ),
    }.get(rule, (rule, rule))
    return zh if lang == "zh" else en


# --------------------------------------------------------------------------------------
# numbers as officials read them


def minutes_text(value: float, lang: str) -> str:
    """Whole minutes, or "unreachable"."""
    if value is None or not math.isfinite(value):
        return "无法到达" if lang == "zh" else "unreachable"
    return f"{value:.0f}分钟" if lang == "zh" else f"{value:.0f} min"


def spare_text(spare: float, lang: str) -> str:
    """Spare places after a merger."""
    if spare is None or not math.isfinite(spare):
        return "学位数未知" if lang == "zh" else "spare places unknown"
    return f"余{spare:.0f}个学位" if lang == "zh" else f"{spare:.0f} spare places"


_REASONS = {
    "merge_walk": ("步行{walk}可到{name}；{spare}", "{walk} on foot to {name}; {spare}"),
    "merge_bus": (
        "步行{walk}超过{max_walk}分钟；乘校车{bus}可到{name}；{spare}",
        "walking {walk} exceeds {max_walk} min; {bus} by school bus to {name}; {spare}",
    ),
    "merge_boarding": (
        "步行和校车均超限；可在{name}寄宿（床位{beds}）",
        "beyond walking and bus limits; can board at {name} ({beds} beds)",
    ),
    "too_remote_young": (
        "{young}年级不寄宿；最近的接收学校{name}步行{walk}、校车{bus}，均超过限值（步行{max_walk}、乘车{max_ride}分钟）",
        "grades {young} do not board; nearest receiving site {name} is {walk} on foot and {bus} by bus, beyond the limits ({max_walk} / {max_ride} min)",
    ),
    "too_remote": (
        "最近的接收学校{name}步行{walk}、校车{bus}，均超过限值，且无寄宿床位",
        "nearest receiving site {name} is {walk} on foot and {bus} by bus, beyond the limits, and has no boarding beds",
    ),
    "no_bus_road": (
        "步行超过{max_walk}分钟，且没有校车可通行的道路",
        "beyond {max_walk} min on foot and no road a school bus can use",
    ),
    "no_spare": (
        "限值内的接收学校均无足够余位，或合并后将出现{oversized}人及以上大班额",
        "receiving sites within the limits lack spare places, or would have classes of {oversized}+",
    ),
    "no_receiver": ("没有开设{grades}年级的接收学校", "no open site teaches grades {grades}"),
    "restore": (
        "已撤并；学生现需步行{walk}或乘车{bus}到{name}，超过限值，建议评估恢复",
        "closed; its pupils now need {walk} on foot or {bus} by bus to {name}, beyond the limits: consider restoring",
    ),
    "stay_closed": (
        "已撤并；学生可在限值内到达{name}（步行{walk}、乘车{bus}）",
        "closed; its pupils reach {name} within the limits ({walk} on foot, {bus} by bus)",
    ),
}


def merger_reason(code: str, params: dict, settings, lang: str) -> str:
    """The reason of a merger decision, with its numbers and the limits of the settings."""
    zh, en = _REASONS[code]
    values = {
        "max_walk": f"{settings.max_walk_minutes:g}",
        "max_ride": f"{settings.max_ride_minutes:g}",
        "oversized": settings.oversized_class,
        "young": young_grades(settings),
        "name": params.get("name", ""),
        "grades": params.get("grades", ""),
        "walk": minutes_text(params.get("walk", math.nan), lang),
        "bus": minutes_text(params.get("bus", math.nan), lang),
        "beds": f"{params.get('beds', 0):.0f}",
        "spare": spare_text(params.get("spare", math.nan), lang),
    }
    return (zh if lang == "zh" else en).format(**values)


# --------------------------------------------------------------------------------------
# report sentences

TEXT = {
    "title": ("{county}中小学校布局调整报告", "{county}: school network report"),
    "summary": ("概要", "Summary"),
    "sites_open": ("在办学校", "open sites"),
    "small_sites": ("{small}人以下村小/教学点", "small sites (< {small} pupils)"),
    "merges": ("方案撤并", "closed by the plan"),
    "keeps": ("方案保留的小规模学校", "small sites the plan keeps"),
    "restore": ("方案恢复", "reopened by the plan"),
    "screening_differs": (
        "{name}：筛选结果为“{screening}”，推荐方案为“{plan}”，理由：{reason}",
        "{name}: the screening says {screening}, the recommended plan {plan}; reason: {reason}",
    ),
    "pupils": ("在校生", "pupils"),
    "beyond": ("超出限值的学生", "pupils beyond the limits"),
    "boarders": ("寄宿生", "boarders"),
    "riders": ("乘车学生", "bus riders"),
    "policy": ("政策检查", "Policy checks"),
    "policy_failed": ("未通过的政策检查", "policy checks failed"),
    "plans": ("方案比较", "Plans compared"),
    "plan": ("方案", "plan"),
    "times_chart": ("上学时间分布（调整前后）", "Travel time to school, before and after"),
    "capacity_chart": ("学位使用率（调整后）", "Capacity use after the plan"),
    "candidates": ("撤并候选学校", "Merger candidates"),
    "township": ("乡镇", "Township"),
    "map": ("地图", "Map"),
    "minutes": ("分钟", "minutes"),
    "mean": ("平均", "mean"),
    "p95": ("95%分位", "95th pct"),
    "open_sites": ("保留学校数", "open sites"),
    "buses": ("按本规则所需校车", "buses needed under these rules"),
    "buses_later": ("未规划校车线路", "bus routes not planned"),
    "buses_today_card": ("校车：现有 → 方案所需", "buses: today's → the plan's"),
    "costs_more": (
        "{plan}每年比{base}多{amount}：{items}。",
        "{plan} costs {amount} a year more than {base}: {items}.",
    ),
    "bus_runs": ("校车线路", "Bus runs"),
    "bus_runs_note": (
        "各校单独配车时的口径：每校自备所需的校车、乘车学生和上午、下午线路的载客里程"
        "（不含空驶）。上表全县统筹时一辆车接送多所学校，所需车辆和里程（含空驶）与此不同。",
        "As if each school kept its own buses: its buses, riders and the loaded kilometres of its"
        " morning and afternoon runs (no empty running). The county fleet above shares buses"
        " between schools, so its buses and kilometres (empty running included) differ.",
    ),
    "fleet": ("全县校车统筹", "One county fleet"),
    "fleet_towns_note": (
        "上午各乡镇的校车（按每辆车第一趟所到学校归属乡镇）：全县{buses}辆，其中只跑一趟的{single}辆。"
        "若每趟都按固定到校时间准点送达、每趟只送一所学校需{fixed}辆；错开到校时间与提前到校"
        "（最多提前{early}分钟，学生在校等候）节省{bells}辆，多校混载再节省{mixed}辆。",
        "The morning's buses by township (a bus counted where its first run unloads): {buses} in "
        "the county, {single} of them making one run. With every run unloaded at its school's "
        "fixed bell, one school a run, the morning needs {fixed}; the bells chosen and runs "
        "unloading before the bell (at most {early} minutes; the pupils wait at school) save "
        "{bells}, mixed loads {mixed} more.",
    ),
    "fleet_note": (
        "一辆校车可按各校到校时间先后接送多所学校：全县统筹需{shared}辆，各校自备需{own}辆。"
        "每天车辆数取上午、下午和寄宿生周末往返三者中较多者。现状方案的校车数是按本规则测算的所需车辆，"
        "不是现有校车。",
        "One bus serves several schools in turn, by their bell times: {shared} buses as one "
        "county fleet, {own} if every school keeps its own. Each kind of bus is counted on its "
        "busiest day (morning, afternoon, or the boarders' weekly trips). The current plan's "
        "buses are those needed under these rules, not today's fleet.",
    ),
    "concentration": (
        "进一步集中方案（备选，不作推荐）",
        "Further concentration (a variant, not recommended)",
    ),
    "concentration_note": (
        "政策要求撤并{small}人以下的教学点和村小；推荐方案只撤并这些学校。下列{n}所学校规模在{small}人"
        "及以上，进一步集中方案建议撤并或调减年级，逐校列出接收学校、受影响学生、增加的上学时间和每年节省"
        "的费用（办学点费用与学生上学费用之差；接收学校新增教室、床位的费用见该方案的费用表）。"
        "县里如采纳某校，可在 county.toml 的 [plan] 中设定 close_sites。",
        "The policy merges teaching points and village primaries under {small} pupils; the "
        "recommended plan closes only those. The {n} sites below have {small} pupils or more; "
        "the further-concentration variant would close them or move their older grades, each "
        "with its receiving schools, the pupils affected, the minutes added and the annual "
        "saving (the site's upkeep and its pupils' travel costs; the classrooms and beds the "
        "receiving schools need are in that plan's cost table). To take one into the plan, "
        "name it in close_sites in the [plan] table of county.toml.",
    ),
    "concentration_none": (
        "进一步集中方案与推荐方案相同：没有{small}人及以上的学校可以在限值内撤并。",
        "The further-concentration variant decides as the recommended plan: no site of {small} "
        "pupils or more can close within the limits.",
    ),
    "costs": ("年度费用（元）", "Annual costs (yuan)"),
    "costs_note": (
        "单价为示意值（见 ruralnet 设置说明），请在 county.toml 的 [settings] 中按本县实际设定。",
        "Unit costs are illustrative defaults (see the ruralnet settings); set the county's own in "
        "the [settings] of county.toml.",
    ),
    "annual_cost": ("年度费用", "annual cost"),
    "years_title": ("{county}分年度布局调整方案", "{county}: the plan in phases"),
    "years_method": (
        "学生数按年级递进法（队列存活法）推算：各年级学生逐年升入下一年级（按递进比例），"
        "入学年级按出生人口变化推算（{base}年为基年，全国出生人口数据来自国家统计局统计公报）；"
        "阴影为出生人口低、高情景的范围。",
        "Pupils are projected by grade progression (cohort survival): each grade moves up a "
        "grade a year at the progression ratios, entry grades follow the births of their "
        "cohort ({base} is the base year; births from the NBS communiqués). The band spans the "
        "low and high births variants.",
    ),
    "years_phases_method": (
        "各年度方案在上一年度方案的基础上，用与单年度方案相同的模型和政策检查制定。",
        "Each year's plan starts from the year before and uses the same model and policy "
        "checks as the one-year plan.",
    ),
    "years_joint_method": (
        "各年度方案由一个模型统一制定（逐年政策相同）：撤并的学校此后不再恢复；新建教室为永久"
        "教室，至少按{min_years}年计费（年折现率{rate}），学生只在少数年份需要时改用临时教室"
        "（每间每年{temporary}元）。“高低预测下相同”表示出生人口低、高情景下该校当年的办学与否"
        "与中情景相同。",
        "Every year's plan comes from one model (each year's policy as in the one-year plan): "
        "a site closed stays closed; a classroom built is permanent and paid for at least "
        "{min_years} years (discounted at {rate} a year), and where pupils need it only a few "
        'years a temporary classroom ({temporary} yuan a year) is used instead. "same under low '
        'and high projections" marks a site whose open or closed state that year is the same '
        "under the low and high births variants.",
    ),
    "variants_title": (
        "出生人口低、中、高情景下的方案",
        "The plan under the low, central and high births",
    ),
    "variants_note": (
        "三种出生人口情景各按同一模型制定分年度方案（撤并、恢复对照现状；需增教室含临时教室）。"
        "各年“调整的学校”表中“高低预测下相同”为“是”的学校，三种情景下当年办学与否相同。",
        "Each births variant planned by the same model over the years (closures and reopenings "
        "against today; classrooms needed, temporary ones included). In each year's table of "
        "changes, a site marked 'same under low and high projections' is open or closed that "
        "year under all three.",
    ),
    "classrooms_title": ("新建教室还是租用临时教室", "Build classrooms or rent temporary ones"),
    "classrooms_note": (
        "逐校比较：需增教室的年数内，新建（至少按{min_years}年计费）与租用临时教室的费用。",
        "Site by site: for the years its pupils need added classrooms, what building them "
        "(paid for at least {min_years} years) costs against temporary classrooms.",
    ),
    "first_year_same": (
        "第一年方案与{year}年单年度方案相同。",
        "The first year of the plan equals the one-year plan of {year}.",
    ),
    "first_year_differs": (
        "第一年方案与{year}年单年度方案不同，因为统一方案考虑了以后各年的学生：多保留{opened}所、"
        "少保留{closed}所学校；新建教室{joint}间（单年度方案{one}间，其余以临时教室解决）。",
        "The first year differs from the one-year plan of {year}, because one model sees the "
        "later years' pupils: {opened} site(s) kept open and {closed} more closed; {joint} "
        "classrooms built (the one-year plan: {one}; the rest as temporary classrooms).",
    ),
    "years_summary": ("分年度概况", "Years at a glance"),
    "timeline": ("学生数与学校数变化", "Pupils and sites over the years"),
    "changes": ("调整的学校", "sites that change"),
    "county_line": ("{county}（全县）", "{county} (county)"),
    "compare_title": (
        "方案对比（推荐方案，A → B）",
        "Two runs compared (recommended plans, A -> B)",
    ),
    "compare_summary": ("总体", "Totals"),
    "compare_sites": ("调整不同的学校", "Sites decided differently"),
    "compare_checks": ("结果不同的政策检查", "Policy checks with another result"),
    "compare_settings": ("不同的设置", "Settings that differ"),
    "compare_same": ("没有不同", "no difference"),
    "scenario_line": ("情景：{name}（{levers}）", "scenario: {name} ({levers})"),
    "generated": ("由 ruralnet {version} 生成", "made with ruralnet {version}"),
    "none": ("无", "none"),
    "percent": ("%", "%"),
}


def text(key: str, lang: str, **kw) -> str:
    """A report sentence in ``lang``."""
    return TEXT[key][0 if lang == "zh" else 1].format(**kw)
