"""School sites for a generated county, consistent with the norms in DOMAIN.md.

Every town gets its "three schools": a central kindergarten, a central primary and a public
boarding school (a junior middle school; in small towns a nine-year school that is both the
central primary and the boarding school). Village committees far from their town get a
village primary (large ones) or a teaching point (small ones); many teaching points end up
under 20 pupils, as in the real counties the policy targets. The county seat's schools are
crowded (classes of 56+, pupils above capacity), as county towns' are.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .places import short_name

PRIMARY_CLASS, INCOMPLETE_CLASS, JUNIOR_CLASS, KINDER_CLASS = 45, 30, 50, 30


def _ceil(x: float) -> int:
    return int(np.ceil(x))


def make_sites(
    rng: np.random.Generator,
    towns: pd.DataFrame,
    committees: pd.DataFrame,
    seat_code: str,
    county_name: str,
) -> pd.DataFrame:
    """One row per site with the sites-layer columns (``row``/``col`` give its cell).

    Parameters
    ----------
    towns
        ``code``, ``name``, ``row``, ``col``, and children per stage (``kindergarten``,
        ``primary``, ``junior``) of the whole town.
    committees
        ``code``, ``name``, ``town_code``, ``urban``, ``row``, ``col``, children per stage,
        ``walk_km`` (footpath distance to the town centre) and ``elevation``.
    """
    rows: list[dict] = []
    for _, town in towns.iterrows():
        mine = committees["town_code"] == town["code"]
        members = committees[mine & ~committees["urban"]]
        n, village_primary = _village_sites(rng, town, members[members["walk_km"] > 3.0], rows)
        seat = town["code"] == seat_code
        small = len(members) < 7 and not seat
        first = len(rows)
        _town_sites(rng, town, n, village_primary, seat, small, county_name, rows)
        urban = committees[mine & committees["urban"]]
        rows.extend(
            _split_large(rows[first:], town, list(zip(urban["row"], urban["col"], strict=True)))
        )
    sites = pd.DataFrame(rows)
    norm = sites["kind"].map(
        {
            "central_kindergarten": KINDER_CLASS,
            "kindergarten": KINDER_CLASS,
            "central_primary": PRIMARY_CLASS,
            "village_primary": PRIMARY_CLASS,
            "teaching_point": INCOMPLETE_CLASS,
            "junior_middle": JUNIOR_CLASS,
            "nine_year": PRIMARY_CLASS,
        }
    )
    sites["capacity"] = (sites["classes"] * norm).astype(int)
    sites["boarding_beds"] = (
        sites.get("boarding_beds", pd.Series(0, index=sites.index)).fillna(0).astype(int)
    )
    for flag, kind in (
        ("is_central_kindergarten", "central_kindergarten"),
        ("is_central_primary", "central_primary"),
        ("is_public_boarding", "junior_middle"),
    ):
        given = sites[flag] if flag in sites else pd.Series(np.nan, index=sites.index)
        sites[flag] = given.fillna(sites["kind"].eq(kind)).astype(bool)
    sites["pupils"] = sites["pupils"].astype(int)
    sites["classes"] = sites["classes"].astype(int)
    return sites


#: A town school above this many pupils (an urban district's, where one school would take
#: every child of the town) is split into schools of at most :data:`SCHOOL_SIZE` of its kind
#: (under the default size caps, ``largest_primary_school`` and ``largest_junior_school``:
#: the plan cannot split a school, so the check would fail with no remedy), the others placed
#: in the town's urban communities.
SPLIT_ABOVE = 4_000
SCHOOL_SIZE = {"central_kindergarten": 600, "central_primary": 1_800, "junior_middle": 2_200,
               "nine_year": 2_200}  # fmt: skip
_NUMERALS = "一二三四五六七八九"
_SUFFIX = {"central_kindergarten": "幼儿园", "central_primary": "小学", "junior_middle": "中学",
           "nine_year": "九年一贯制学校"}  # fmt: skip


def _numeral(k: int) -> str:
    """2 -> 二, 10 -> 十, 23 -> 二十三 (k < 100)."""
    tens, ones = divmod(k, 10)
    head = ("" if tens == 1 else _NUMERALS[tens - 1]) + "十" if tens else ""
    return head + (_NUMERALS[ones - 1] if ones else "")


def _split_large(town_rows: list[dict], town, places: list[tuple]) -> list[dict]:
    """The schools split off the town's schools above :data:`SPLIT_ABOVE` pupils (those rows
    shrink to their share): equal shares, classes and beds in proportion, numbered on from the
    town's last site, named 第二…, at the town's urban communities in turn (else the centre);
    none of them is the town's central or public boarding school."""
    extra, n = [], len(town_rows) and max(int(r["site_id"].rsplit("-", 1)[1]) for r in town_rows)
    used: dict[str, int] = {}
    for r in [r for r in town_rows if r["pupils"] > SPLIT_ABOVE and r["kind"] in SCHOOL_SIZE]:
        parts = _ceil(r["pupils"] / SCHOOL_SIZE[r["kind"]])
        total, classes, beds = r["pupils"], r["classes"], r.get("boarding_beds", 0)
        share = [total // parts + (i < total % parts) for i in range(parts)]
        r.update(pupils=share[0], classes=max(1, round(classes * share[0] / total)),
                 boarding_beds=round(beds * share[0] / total))  # fmt: skip
        for p in share[1:]:
            n += 1
            k = used[r["kind"]] = used.get(r["kind"], 1) + 1
            row, col = places[(n - 1) % len(places)] if places else (town["row"], town["col"])
            _add(
                extra, town, n, name=f"{town['name']}第{_numeral(k)}{_SUFFIX[r['kind']]}",
                kind=r["kind"], grades=r["grades"], pupils=p,
                classes=max(1, round(classes * p / total)), boarding_beds=round(beds * p / total),
                is_central_kindergarten=False, is_central_primary=False, is_public_boarding=False,
                row=row, col=col, dr=1 + list(SCHOOL_SIZE).index(r["kind"]) % 3,
            )  # fmt: skip
    return extra


def _add(rows: list[dict], town, n: int, **kw) -> None:
    rows.append({"site_id": f"{town['code']}-{n:02d}", "township_code": town["code"], **kw})


def _village_sites(rng, town, far: pd.DataFrame, rows: list[dict]) -> tuple[int, int]:
    """Village primaries (large committees), teaching points (small ones) and village
    kindergartens of the committees far from the town; returns the sites numbered and the
    primary pupils they hold."""
    n = 0
    village_primary = 0
    for _, c in far.iterrows():
        kids = c["primary"]
        short = short_name(c["name"])
        if kids >= 110:
            pupils = round(kids * rng.uniform(0.55, 0.85))
            village_primary += pupils
            n += 1
            _add(
                rows, town, n, name=f"{short}小学", kind="village_primary", grades="1-6",
                pupils=pupils, classes=max(6, _ceil(pupils / 40)), row=c["row"], col=c["col"], dr=1,
            )  # fmt: skip
        elif kids >= 12:
            span = 3 if rng.random() < 0.5 else 4
            pupils = max(2, round(kids * span / 6 * rng.uniform(0.2, 0.75)))
            village_primary += pupils
            n += 1
            _add(
                rows, town, n, name=f"{short}教学点", kind="teaching_point", grades=f"1-{span}",
                pupils=pupils, classes=min(span, max(1, _ceil(pupils / 15))), row=c["row"],
                col=c["col"], dr=1,
            )  # fmt: skip
        if c["kindergarten"] >= 45 and rng.random() < 0.5:
            pupils = round(c["kindergarten"] * rng.uniform(0.3, 0.5))
            n += 1
            _add(
                rows, town, n, name=f"{short}幼儿园", kind="kindergarten", grades="K1-K3",
                pupils=pupils, classes=max(1, _ceil(pupils / 30)), row=c["row"], col=c["col"], dr=2,
            )  # fmt: skip
    return n, village_primary


def _town_sites(rng, town, n, village_primary, seat, small, county_name, rows) -> None:
    """The town's three schools: central kindergarten, central primary (two crowded ones in
    the county seat) and the boarding junior middle school (a nine-year school in small
    towns)."""
    tname = town["name"]
    at = {"row": town["row"], "col": town["col"]}
    kinder = round(town["kindergarten"] * (0.85 if seat else rng.uniform(0.55, 0.75)))
    primary = max(30, round((town["primary"] - village_primary) * (1.0 if seat else 0.9)))
    junior = max(30, round(town["junior"] * (1.05 if seat else 0.9)))
    _add(
        rows, town, n + 1, name=f"{tname}中心幼儿园", kind="central_kindergarten",
        grades="K1-K3", pupils=kinder, classes=max(3, _ceil(kinder / 30)), **at, dr=3,
    )  # fmt: skip
    if small:
        _add(
            rows, town, n + 2, name=f"{county_name}{tname}九年一贯制学校", kind="nine_year",
            grades="1-9", pupils=primary + junior,
            classes=max(6, _ceil(primary / 40)) + max(3, _ceil(junior / 48)),
            boarding_beds=round(junior * 0.65 + primary * 0.2), is_central_primary=True,
            is_public_boarding=True, **at, dr=4,
        )  # fmt: skip
        return
    if seat:  # crowded county-town primaries: classes of 56+ (大班额)
        first = round(primary * 0.6)
        _add(
            rows, town, n + 2, name=f"{tname}中心小学", kind="central_primary", grades="1-6",
            pupils=first, classes=_ceil(first / 58), boarding_beds=0, **at, dr=5,
        )  # fmt: skip
        _add(
            rows, town, n + 3, name=f"{county_name}第二小学", kind="central_primary",
            grades="1-6", pupils=primary - first, classes=_ceil((primary - first) / 50),
            boarding_beds=0, is_central_primary=False, **at, dr=6,
        )  # fmt: skip
        n += 1
    else:
        _add(
            rows, town, n + 2, name=f"{tname}中心小学", kind="central_primary", grades="1-6",
            pupils=primary, classes=max(6, _ceil(primary / 42)),
            boarding_beds=round(primary * rng.uniform(0.05, 0.2)), **at, dr=5,
        )  # fmt: skip
    _add(
        rows, town, n + 3, name=f"{county_name}{tname}中学", kind="junior_middle", grades="7-9",
        pupils=junior, classes=max(3, _ceil(junior / 48)),
        boarding_beds=round(junior * rng.uniform(0.5, 0.8)), is_public_boarding=True, **at, dr=7,
    )  # fmt: skip
