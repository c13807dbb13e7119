"""Kinds of school site, the grades each kind teaches by default, and the three-school flags."""

from __future__ import annotations

#: Every kind of school site.
SITE_KINDS: tuple[str, ...] = (
    "central_kindergarten",
    "kindergarten",
    "central_primary",
    "village_primary",
    "teaching_point",
    "junior_middle",
    "nine_year",
    "boarding_school",
    "special_education",
)


#: Grades a kind offers when the ``grades`` column is empty.
DEFAULT_GRADES: dict[str, str] = {
    "central_kindergarten": "K1-K3",
    "kindergarten": "K1-K3",
    "central_primary": "1-6",
    "village_primary": "1-6",
    "teaching_point": "1-4",
    "junior_middle": "7-9",
    "nine_year": "1-9",
    "boarding_school": "7-9",
    "special_education": "1-9",
}


#: The "three schools" flags of a township.
THREE_SCHOOL_FLAGS: tuple[str, ...] = (
    "is_central_kindergarten",
    "is_central_primary",
    "is_public_boarding",
)


#: Learning-district families (学区): the kinds that head a district, the kinds attached to it.
DISTRICT_FAMILIES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "school": (("central_primary", "nine_year"), ("teaching_point", "village_primary")),
    "kindergarten": (("central_kindergarten",), ("kindergarten",)),
}

#: Every kind that can head a learning district.
DISTRICT_HEAD_KINDS: frozenset[str] = frozenset(
    k for heads, _ in DISTRICT_FAMILIES.values() for k in heads
)


def class_norm(kind: str, settings) -> int:
    """Class-size norm of a site kind (建标109-2008; kindergarten 30), from the settings."""
    return {
        "central_kindergarten": settings.class_size_kindergarten,
        "kindergarten": settings.class_size_kindergarten,
        "teaching_point": settings.class_size_incomplete_primary,
        "junior_middle": settings.class_size_junior,
        "boarding_school": settings.class_size_junior,
    }.get(kind, settings.class_size_primary)


def school_size_cap(kind: str, settings) -> float:
    """The largest school (大校额) a kind may be, from the settings (no cap for
    kindergartens and special schools)."""
    return {
        "central_primary": settings.largest_primary_school,
        "village_primary": settings.largest_primary_school,
        "teaching_point": settings.largest_primary_school,
        "junior_middle": settings.largest_junior_school,
        "boarding_school": settings.largest_junior_school,
        "nine_year": settings.largest_junior_school,
    }.get(kind, float("inf"))
