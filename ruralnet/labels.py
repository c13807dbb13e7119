"""Chinese and English labels for reports and maps (code and identifiers stay English)."""

from __future__ import annotations

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

STAGES = {
    "kindergarten": ("学前", "kindergarten"),
    "primary": ("小学", "primary"),
    "junior": ("初中", "junior"),
}

MODES = {
    "walk": ("步行", "walk"),
    "bus": ("校车", "bus"),
    "board": ("寄宿", "board"),
    "none": ("未分配", "unassigned"),
}

COLUMNS = {
    "site_id": ("学校代码", "site id"),
    "name": ("学校名称", "name"),
    "kind": ("学校类型", "kind"),
    "township_code": ("乡镇代码", "township code"),
    "township": ("乡镇", "township"),
    "pupils": ("在校生数", "pupils"),
    "decision": ("建议", "decision"),
    "receiving_site_id": ("接收学校代码", "receiving site id"),
    "receiving_name": ("接收学校", "receiving site"),
    "minutes_bus": ("校车时间（分钟）", "minutes by bus"),
    "minutes_walk": ("步行时间（分钟）", "minutes on foot"),
    "reason": ("理由", "reason"),
    "spare_places": ("接收后余位", "spare places after"),
    "class_size_after": ("合并后平均班额", "class size after"),
    "rule": ("规则", "rule"),
    "passed": ("是否通过", "passed"),
    "detail": ("说明", "detail"),
    "pupils_before": ("调整前学生数", "pupils before"),
    "pupils_after": ("调整后学生数", "pupils after"),
    "classes": ("班级数", "classes"),
    "capacity": ("学位数", "places"),
    "capacity_use": ("学位使用率", "capacity use"),
    "open": ("保留", "open"),
    "boarders": ("寄宿生", "boarders"),
    "boarding_beds": ("寄宿床位", "beds"),
}

RULES = {
    "public boarding school": ("至少一所公办寄宿制学校", "at least one public boarding school"),
    "central kindergarten": ("至少一所中心幼儿园", "at least one central kindergarten"),
    "no class of": ("无56人以上大班额", "no class of 56+"),
    "no teaching point under": (
        "无20人以下教学点（确有必要保留的除外）",
        "no teaching point under 20 unless justified",
    ),
    "every pupil assigned": ("每名学生均有安排或列明", "every pupil assigned once or listed"),
    "special-education school": (
        "20万人以上县设特殊教育学校",
        "special-education school (200,000+ people)",
    ),
}


def label(table: dict, key, lang: str) -> str:
    """The label of ``key`` in ``lang``; unknown keys come back unchanged."""
    if key not in table:
        return str(key)
    return table[key][0 if lang == "zh" else 1]


def rule_label(rule: str, lang: str) -> str:
    """Translate a policy rule by its leading words."""
    for start, pair in RULES.items():
        if rule.startswith(start):
            return pair[0 if lang == "zh" else 1]
    return rule


TEXT = {
    "title": ("{county}中小学校布局调整报告", "{county}: school network report"),
    "summary": ("概要", "Summary"),
    "sites_open": ("在办学校", "open sites"),
    "small_sites": ("20人以下小规模学校/教学点", "small sites (< 20 pupils)"),
    "merges": ("建议撤并", "proposed mergers"),
    "keeps": ("建议保留", "kept"),
    "restore": ("建议恢复", "restoration candidates"),
    "pupils": ("在校生", "pupils"),
    "beyond": ("超出时限的学生", "pupils beyond the limits"),
    "boarders": ("寄宿生", "boarders"),
    "policy": ("政策检查", "Policy checks"),
    "policy_failed": ("未通过的政策检查", "policy checks failed"),
    "plans": ("方案比较", "Plans compared"),
    "plan": ("方案", "plan"),
    "current": ("现状", "current"),
    "mergers": ("撤并方案", "mergers"),
    "optimised": ("优化方案", "optimised"),
    "times_chart": ("上学时间分布（调整前后）", "Travel time to school, before and after"),
    "capacity_chart": ("学位使用率（调整后）", "Capacity use after the plan"),
    "candidates": ("撤并候选学校", "Merger candidates"),
    "township": ("乡镇", "Township"),
    "map": ("地图", "Map"),
    "minutes": ("分钟", "minutes"),
    "mean": ("平均", "mean"),
    "p95": ("95%分位", "95th pct"),
    "open_sites": ("保留学校数", "open sites"),
    "buses": ("所需校车", "buses needed"),
    "buses_later": ("校车线路规划见校车模块", "computed by the bus-route planner"),
    "generated": ("由 ruralnet 生成", "made with ruralnet"),
    "none": ("无", "none"),
    "yes": ("是", "yes"),
    "no": ("否", "no"),
}


def text(key: str, lang: str, **kw) -> str:
    """A report sentence in ``lang``."""
    return TEXT[key][0 if lang == "zh" else 1].format(**kw)


COLUMNS["stage"] = ("学段", "stage")
COLUMNS.update(
    {
        "direction": ("方向", "direction"),
        "seats": ("座位", "seats"),
        "buses": ("校车数", "buses"),
        "bus_km": ("行驶里程（公里）", "bus-km"),
        "longest_ride_min": ("最长乘车（分钟）", "longest ride (min)"),
        "unserved_pupils": ("无法接送学生", "pupils not served"),
        "feasible": ("可行", "feasible"),
        "fewest_buses_proven": ("已证明车辆最少", "fewest buses proven"),
    }
)

#: Policy-check details in Chinese (the CSV keeps the English wording).
DETAILS_ZH = {
    "kept": "保留",
    "none": "无",
    "no public boarding school left open": "未保留公办寄宿制学校",
    "no central kindergarten left open": "未保留中心幼儿园",
    "街道: not required": "街道：不适用",
    "justified (too remote to merge)": "确需保留（过远无法撤并）",
    "/class": "人/班",
    " before, ": "人调整前，",
    " assigned": "人已安排",
    "present": "有",
    "missing": "缺少",
}
