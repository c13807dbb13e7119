"""Teacher posts of a plan, from the staffing norms.

Per site, from its pupils by stage after the plan:

* primary pupils / ``primary_pupils_per_teacher`` (19) and junior pupils /
  ``junior_pupils_per_teacher`` (13.5): the unified rural and urban norms of 2014
  (中央编办 教育部 财政部, 72号);
* teaching points and village primaries by pupils and by classes together (the same notice):
  at least ``small_site_teachers_per_class`` posts per class (a class per grade taught, or more
  where the pupils fill more);
* kindergartens: ``kindergarten_teachers_per_class`` teachers per class (幼儿园教职工配备标准
  2013: two teachers a class), classes of ``class_size_kindergarten``;
* boarding: one more post per ``boarders_per_extra_post`` boarders (生活老师; illustrative).

A site's posts are rounded up (a post is whole); a closed site has none.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..model.grades import parse_grades

#: Kinds staffed by classes as well as by pupils.
SMALL_KINDS = ("teaching_point", "village_primary")


def teacher_posts(ev, settings) -> pd.Series:
    """Posts per site after a plan (``site_id`` index), from its pupils by stage.

    Parameters
    ----------
    ev
        A plan evaluation (:class:`ruralnet.analysis.evaluation.PlanEvaluation`).
    settings
        The staffing norms.
    """
    s = settings
    sites = ev.sites.set_index(ev.sites["site_id"].astype(str))
    by_stage = (
        ev.assignment.groupby(["site_id", "stage"])["pupils"].sum().unstack(fill_value=0)
    ).reindex(index=sites.index, columns=["kindergarten", "primary", "junior"], fill_value=0)
    posts = by_stage["primary"] / s.primary_pupils_per_teacher
    posts += by_stage["junior"] / s.junior_pupils_per_teacher
    k_classes = np.ceil(by_stage["kindergarten"] / s.class_size_kindergarten)
    posts += k_classes * s.kindergarten_teachers_per_class
    small = sites["kind"].isin(SMALL_KINDS)
    grades = sites["grades_after"].map(
        lambda g: len([x for x in parse_grades(g) if x > 0]) if isinstance(g, str) and g else 0
    )
    by_class = np.maximum(grades, np.ceil(by_stage["primary"] / s.class_size_incomplete_primary))
    posts = np.where(small, np.maximum(posts, by_class * s.small_site_teachers_per_class), posts)
    posts = posts + sites["boarders"].fillna(0) / s.boarders_per_extra_post
    out = pd.Series(np.ceil(np.round(posts, 9)), index=sites.index, dtype=float)
    return out.where(sites["open"] & (by_stage.sum(axis=1) > 0), 0.0).astype(int)
