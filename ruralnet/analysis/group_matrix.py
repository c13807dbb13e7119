"""A groups x sites matrix held as the rows of the groups' origins.

Demand groups are an origin (a village or a site) and a grade, so the groups x sites minutes
and metres of a county repeat each origin's row once per grade: on a county of 452 sites and
14,623 groups from 1,637 origins, 53 MB a matrix where the origins' rows take 6 MB.
:class:`GroupMatrix` keeps the origins' rows and reads a group's row through its origin, so
that ``m[i, j]``, ``m[rows, cols]``, ``m[np.ix_(rows, cols)]``, ``m[:, j]`` and ``m[mask]``
give what the full array would; numpy functions (``np.isfinite(m)``, ``np.where``) get the
full array, built for that call only.
"""

from __future__ import annotations

import numpy as np


class GroupMatrix:
    """Row ``i`` is ``rows[origin[i]]``.

    Parameters
    ----------
    rows
        One row per origin (origins x columns).
    origin
        The origin row of each group (integers).
    """

    __slots__ = ("origin", "rows")
    ndim = 2

    def __init__(self, rows: np.ndarray, origin: np.ndarray):
        self.rows = np.asarray(rows)
        self.origin = np.asarray(origin, dtype=np.int64)

    @property
    def shape(self) -> tuple[int, int]:
        return (len(self.origin), self.rows.shape[1])

    @property
    def dtype(self) -> np.dtype:
        return self.rows.dtype

    @property
    def size(self) -> int:
        return self.shape[0] * self.shape[1]

    def __len__(self) -> int:
        return len(self.origin)

    def __getitem__(self, key):
        key = key if isinstance(key, tuple) else (key,)
        if any(k is Ellipsis or k is None for k in key):
            return np.asarray(self)[key]
        return self.rows[(self.origin[key[0]], *key[1:])]

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        out = self.rows[self.origin]
        return out if dtype is None else out.astype(dtype, copy=False)

    def __repr__(self) -> str:
        return f"GroupMatrix({self.shape[0]} groups x {self.shape[1]}, {len(self.rows)} origins)"
