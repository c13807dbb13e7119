"""Grades and stages: reading a site's grade span, and which site teaches which grade.

Grade levels are integers: K1 = -2, K2 = -1, K3 = 0 (kindergarten years), 1-6 primary,
7-9 junior middle. :func:`offer_matrix` is the one place that says which site teaches which
grade; every analysis uses it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np

#: Every grade level, in order (column order of :func:`offer_matrix`).
GRADE_LEVELS: tuple[int, ...] = tuple(range(-2, 10))

#: Stages with their age bands and grades.
STAGES: dict[str, dict] = {
    "kindergarten": {"ages": (3, 5), "grades": ("K1", "K3")},
    "primary": {"ages": (6, 11), "grades": ("1", "6")},
    "junior": {"ages": (12, 14), "grades": ("7", "9")},
}


_GRADE_RE = re.compile(r"^\s*(K?\d)\s*(?:[-~–至到]\s*(K?\d))?\s*$", re.IGNORECASE)


def grade_level(grade: str) -> int:
    """Ordinal of a grade: K1=-2, K2=-1, K3=0, 1..9 for primary and junior grades."""
    g = str(grade).strip().upper()
    if g.startswith("K"):
        n = int(g[1:])
        if not 1 <= n <= 3:
            raise ValueError(f"kindergarten grade {grade!r} outside K1-K3")
        return n - 3
    n = int(g)
    if not 1 <= n <= 9:
        raise ValueError(f"grade {grade!r} outside 1-9")
    return n


def parse_grades(text: str) -> frozenset[int]:
    """Parse a grade span such as ``"1-4"``, ``"K1-K3"``, ``"7-9"``, ``"K1-K3,1-6"``.

    Returns
    -------
    frozenset of int
        Grade levels (see :func:`grade_level`).

    Raises
    ------
    ValueError
        If the text is not a valid span.
    """
    levels: set[int] = set()
    parts = [p for p in re.split(r"[,，;；、]", str(text)) if p.strip()]
    if not parts:
        raise ValueError(f"empty grade span {text!r}")
    for part in parts:
        m = _GRADE_RE.match(part)
        if not m:
            raise ValueError(f"cannot read grade span {part.strip()!r}")
        lo = grade_level(m.group(1))
        hi = grade_level(m.group(2)) if m.group(2) else lo
        if hi < lo:
            raise ValueError(f"grade span {part.strip()!r} runs backwards")
        levels.update(range(lo, hi + 1))
    return frozenset(levels)


def stage_grades(stage: str) -> frozenset[int]:
    """Grade levels of a stage (``kindergarten``, ``primary`` or ``junior``)."""
    lo, hi = STAGES[stage]["grades"]
    return parse_grades(f"{lo}-{hi}")


def site_stages(grades: str) -> list[str]:
    """Stages a site with this grade span serves (a nine-year school serves two)."""
    levels = parse_grades(grades)
    return [s for s in STAGES if levels & stage_grades(s)]


#: The stage of every grade level.
STAGE_OF_GRADE: dict[int, str] = {g: stage for stage in STAGES for g in stage_grades(stage)}


def grade_name(level: int) -> str:
    """``K1``..``K3`` or ``1``..``9``."""
    return f"K{level + 3}" if level <= 0 else str(level)


def format_grades(levels: Iterable[int]) -> str:
    """A grade span as text: ``{1,2,3,4}`` -> ``1-4``, ``{-2,-1,0,1}`` -> ``K1-K3,1``; empty -> ``""``.

    The inverse of :func:`parse_grades` (a K3 to 1 step starts a new span).
    """
    levels = sorted(set(levels))
    spans: list[list[int]] = []
    for g in levels:
        if spans and g == spans[-1][-1] + 1 and not (spans[-1][-1] == 0 and g == 1):
            spans[-1].append(g)
        else:
            spans.append([g])
    return ",".join(
        grade_name(s[0]) if len(s) == 1 else f"{grade_name(s[0])}-{grade_name(s[-1])}"
        for s in spans
    )


def offer_matrix(grades: Iterable[str]) -> np.ndarray:
    """Which site teaches which grade: booleans, sites x :data:`GRADE_LEVELS`.

    Parameters
    ----------
    grades
        Each site's grade span (``"1-6"``, ``"K1-K3"``...).
    """
    spans = [parse_grades(g) for g in grades]
    return np.array([[g in s for g in GRADE_LEVELS] for s in spans], dtype=bool).reshape(
        len(spans), len(GRADE_LEVELS)
    )


def grade_column(level: int) -> int:
    """Column of a grade level in :func:`offer_matrix`."""
    return level - GRADE_LEVELS[0]


#: Per-grade enrolment columns a sites layer may carry (``k1``..``k3``, ``g1``..``g9``).
GRADE_COLUMNS: dict[int, str] = {g: (f"k{g + 3}" if g <= 0 else f"g{g}") for g in GRADE_LEVELS}


def split_by_grade(counts: np.ndarray, k: int) -> np.ndarray:
    """Whole counts spread over ``k`` grades (rows x k); lower grades take the remainder."""
    c = np.asarray(counts, dtype=np.int64)
    base, rem = c // k, c % k
    return base[:, None] + (np.arange(k)[None, :] < rem[:, None])
