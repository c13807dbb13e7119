"""GroupMatrix reads like the full groups x sites array it stands for."""

from __future__ import annotations

import numpy as np
import pytest

from ruralnet.analysis.group_matrix import GroupMatrix


@pytest.fixture(scope="module")
def pair():
    rng = np.random.default_rng(7)
    rows = rng.random((9, 6))
    rows[rng.random(rows.shape) < 0.2] = np.nan
    origin = rng.integers(0, 9, size=40)
    return GroupMatrix(rows, origin), rows[origin]


KEYS = [
    3,
    (3, 2),
    (slice(None), 4),
    (slice(5, 20), slice(1, 3)),
    (np.array([0, 5, 5, 39]), np.array([1, 0, 5, 2])),
    np.array([True, False] * 20),
    (np.arange(40) % 3 == 0, 2),
    np.ix_([2, 7, 11], [0, 3]),
    (Ellipsis, 1),
    (slice(None), None),
]


@pytest.mark.parametrize("key", KEYS, ids=[repr(k)[:30] for k in KEYS])
def test_indexing_equals_the_full_array(pair, key):
    m, full = pair
    np.testing.assert_array_equal(np.asarray(m[key]), full[key])


def test_numpy_functions_see_the_full_array(pair):
    m, full = pair
    assert m.shape == full.shape and len(m) == len(full) and m.dtype == full.dtype
    np.testing.assert_array_equal(np.isfinite(m), np.isfinite(full))
    np.testing.assert_array_equal(
        np.where(np.isfinite(m), m, -1.0), np.where(np.isfinite(full), full, -1.0)
    )
    np.testing.assert_array_equal(np.asarray(m, dtype=np.float32), full.astype(np.float32))
