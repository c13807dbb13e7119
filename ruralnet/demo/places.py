"""Towns, village committees, natural villages and their people, placed on the terrain."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.ndimage import zoom

from ..model.schema import largest_remainder

#: Suffixes for generated natural-village names (the committee's name + suffix).
VILLAGE_SUFFIXES = ("上寨", "下寨", "新屋", "老屋", "坪", "冲", "坑", "岭", "排", "塘", "洞", "坳")


def short_name(name: str) -> str:
    """Committee name without its 村委会/居委会/社区居委会 ending."""
    for end in ("社区居委会", "居委会", "村委会", "社区", "村"):
        if name.endswith(end) and len(name) > len(end):
            return name[: -len(end)]
    return name


def _pick(
    rng, weights: np.ndarray, taken_rc: list, min_cells: float, grid_shape, n: int = 1
) -> list:
    """Draw cells by weight, keeping ``min_cells`` from cells already taken (relaxing if needed)."""
    flat = weights.ravel().astype(float)
    chosen = []
    spacing = min_cells
    for _ in range(n):
        w = flat.copy()
        if taken_rc or chosen:
            pts = np.array(taken_rc + chosen)
            rows, cols = np.divmod(np.flatnonzero(w > 0), grid_shape[1])
            cand = np.flatnonzero(w > 0)
            for _try in range(6):
                d = np.min(
                    np.hypot(rows[:, None] - pts[None, :, 0], cols[:, None] - pts[None, :, 1]),
                    axis=1,
                )
                ok = d >= spacing
                if ok.any():
                    w2 = np.zeros_like(w)
                    w2[cand[ok]] = w[cand[ok]]
                    w = w2
                    break
                spacing *= 0.7
        if w.sum() <= 0:
            raise ValueError("no room left to place a settlement")
        i = int(rng.choice(len(w), p=w / w.sum()))
        chosen.append(tuple(divmod(i, grid_shape[1])))
    return chosen


def place_towns(
    rng, elev, slope, mask, seat_rc, n_towns: int, cell: float
) -> list[tuple[int, int]]:
    """Town centres: the seat first, the others on low, gentle ground, well spread."""
    area_km2 = mask.sum() * (cell / 1000) ** 2
    spacing = 0.55 * np.sqrt(area_km2 / max(n_towns, 1)) * 1000 / cell
    low = np.clip(1 - (elev - np.percentile(elev[mask], 2)) / 500, 0, 1) ** 3
    weight = np.where(mask, low * np.exp(-slope / 0.06), 0) + 0.0
    return [seat_rc, *_pick(rng, weight, [seat_rc], spacing, elev.shape, n_towns - 1)]


def partition(costs: np.ndarray, weights: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Township of each cell: the town with the least weighted travel cost (-1 outside)."""
    label = np.argmin(costs / weights[:, None, None], axis=0)
    return np.where(mask, label, -1)


def place_committees(rng, committees: pd.DataFrame, towns: pd.DataFrame, label, elev, slope, cell):
    """Centre cell of every village committee (urban ones near their town centre)."""
    rows = []
    for t, town in towns.iterrows():
        region = label == t
        members = committees[committees["town_code"] == town["code"]]
        rural = members[~members["urban"]]
        area_km2 = region.sum() * (cell / 1000) ** 2
        spacing = 0.5 * np.sqrt(area_km2 / max(len(rural), 1)) * 1000 / cell
        floor = np.percentile(elev[region], 5) if region.any() else 0
        weight = np.where(region, np.exp(-slope / 0.12) * np.exp(-(elev - floor) / 350), 0)
        tr, tc = town["row"], town["col"]
        near = (
            np.hypot(*np.indices(elev.shape) - np.array([tr, tc])[:, None, None])
            < 2.0 * 1000 / cell
        )
        weight_far = np.where(near, weight * 0.05, weight)
        picks = _pick(rng, weight_far, [(tr, tc)], spacing, elev.shape, len(rural))
        for (_, c), rc in zip(rural.iterrows(), picks, strict=True):
            rows.append({**c.to_dict(), "row": rc[0], "col": rc[1]})
        for _, c in members[members["urban"]].iterrows():
            rows.append({**c.to_dict(), "row": tr, "col": tc})
    return pd.DataFrame(rows).sort_values("code").reset_index(drop=True)


def place_villages(
    rng, committees: pd.DataFrame, label, elev, slope, cell, town_index
) -> pd.DataFrame:
    """Natural villages around each committee centre (urban committees: neighbourhoods)."""
    out = []
    yy, xx = np.indices(elev.shape)
    km = 1000 / cell
    for _, c in committees.iterrows():
        r0, c0 = int(c["row"]), int(c["col"])
        if c["urban"]:
            k = int(rng.integers(3, 7))
            radius = 1.5 * km
            weight_fn = np.exp(-slope / 0.08)
        else:
            k = int(min(1 + rng.poisson(3.0), 8))
            radius = 3.0 * km
            weight_fn = np.exp(-slope / 0.3) * np.exp(-np.clip(elev - elev[r0, c0], 0, None) / 500)
        disc = np.hypot(yy - r0, xx - c0) <= radius
        region = disc & (label == town_index[c["town_code"]])
        weight = np.where(region, weight_fn, 0)
        weight[r0, c0] = 0
        picks = [(r0, c0)]
        if k > 1 and weight.sum() > 0:
            picks += _pick(rng, weight, [(r0, c0)], 0.45 * km, elev.shape, k - 1)
        short = short_name(c["name"])
        suffixes = rng.permutation(len(VILLAGE_SUFFIXES))
        for j, (r, cc) in enumerate(picks):
            if c["urban"]:
                name = f"{short}{j + 1}区"
            else:
                name = (
                    f"{short}村"
                    if j == 0
                    else f"{short}{VILLAGE_SUFFIXES[suffixes[(j - 1) % len(suffixes)]]}"
                )
            out.append(
                {
                    "village_id": f"{c['code']}-{j + 1:02d}",
                    "committee_code": c["code"],
                    "committee_name": c["name"],
                    "name": name,
                    "township_code": c["town_code"],
                    "urban": bool(c["urban"]),
                    "is_committee_centre": j == 0,
                    "row": int(r),
                    "col": int(cc),
                }
            )
    return pd.DataFrame(out)


def populate(
    rng, villages: pd.DataFrame, total: int, urban_share: float, seat_code: str
) -> np.ndarray:
    """Whole people per village: urban share in residents' committees (mostly the seat's)."""
    urban_total = round(total * urban_share)
    pop = np.zeros(len(villages))
    urban = villages["urban"].to_numpy()
    if urban.any():
        seat = urban & (villages["township_code"] == seat_code).to_numpy()
        w = rng.gamma(2.0, 1.0, urban.sum()) * np.where(seat[urban], 6.0, 1.0)
        pop[urban] = largest_remainder(urban_total * w / w.sum())
    else:
        urban_total = 0
    rural = ~urban
    committees = villages.loc[rural, "committee_code"].to_numpy()
    codes, inv = np.unique(committees, return_inverse=True)
    committee_w = rng.lognormal(0, 0.45, len(codes))
    village_w = rng.gamma(2.0, 1.0, rural.sum()) * np.where(
        villages.loc[rural, "is_committee_centre"], 2.0, 1.0
    )
    share = committee_w[inv] * village_w / np.bincount(inv, weights=village_w)[inv]
    pop[rural] = largest_remainder((total - urban_total) * share / share.sum())
    return pop.astype(np.int64)


def children(pop: np.ndarray, shares: dict[str, float], total: int) -> dict[str, np.ndarray]:
    """Children per stage per village; county totals equal round(total * share)."""
    out = {}
    for stage, share in shares.items():
        target = round(total * share)
        out[stage] = largest_remainder(pop * target / pop.sum()).astype(np.int64)
    return out


def coarsen(a: np.ndarray, factor: int) -> np.ndarray:
    """Block means of a raster (for the routing grid)."""
    h, w = (a.shape[0] // factor) * factor, (a.shape[1] // factor) * factor
    return a[:h, :w].reshape(h // factor, factor, w // factor, factor).mean(axis=(1, 3))


def refine(labels: np.ndarray, factor: int, shape) -> np.ndarray:
    """Nearest-neighbour upsampling of a label raster back to ``shape``."""
    up = zoom(labels, factor, order=0)
    out = np.full(shape, -1, dtype=up.dtype)
    h, w = min(shape[0], up.shape[0]), min(shape[1], up.shape[1])
    out[:h, :w] = up[:h, :w]
    return out
