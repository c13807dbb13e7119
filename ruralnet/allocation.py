"""Which sites to keep: an exact site-selection model solved with HiGHS.

A capacitated p-median with the policy rules as constraints. For demand groups ``i`` (pupils
``d_i``) and candidate sites ``j``, with travel time ``t_ij`` (infinite where the trip is not
allowed, e.g. beyond the ride-time limit):

    minimise   sum_ij d_i t_ij x_ij  +  M sum_i d_i u_i
    subject to sum_j x_ij + u_i = 1                  every pupil assigned (or counted unassigned)
               x_ij <= y_j                           only to open sites
               sum_i d_i x_ij <= cap_j y_j           capacity
               sum_i d_i x_ij >= min_j y_j           an open site has at least min_j pupils
               y_j = 1 for fixed sites (the township's three schools), sum_j y_j = p (optional)
               y binary, 0 <= x, u <= 1

Solved by ``scipy.optimize.milp`` (HiGHS). As in spopt, arrays go in through
:meth:`SiteSelection.from_cost_matrix`; the solver status is checked after every solve.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.optimize import Bounds, LinearConstraint, milp

from .errors import RuralnetError

log = logging.getLogger(__name__)


class SolverError(RuntimeError, RuralnetError):
    """The model could not be solved (infeasible, or no solution within the time limit)."""


@dataclass
class SelectionResult:
    """A solved site selection.

    Attributes
    ----------
    open
        Sites kept open.
    flows
        Pupils of each group at each site (groups x sites).
    unassigned
        Pupils of each group left unassigned (no allowed site with room).
    objective
        Total pupil-minutes of the assigned pupils.
    status
        Solver message; ``optimal`` is True when HiGHS proved optimality.
    """

    open: np.ndarray
    flows: np.ndarray
    unassigned: np.ndarray
    objective: float
    status: str
    optimal: bool

    def summary(self) -> dict:
        """Counts at a glance."""
        return {
            "open_sites": int(self.open.sum()),
            "pupil_minutes": round(self.objective, 3),
            "unassigned_pupils": float(self.unassigned.sum()),
            "optimal": self.optimal,
        }


@dataclass
class SiteSelection:
    """The model's data; build it with :meth:`from_cost_matrix`, then :meth:`solve`."""

    cost: np.ndarray
    demand: np.ndarray
    capacity: np.ndarray
    fixed_open: np.ndarray
    fixed_closed: np.ndarray
    min_size: np.ndarray
    p: int | None
    penalty: float

    @classmethod
    def from_cost_matrix(
        cls,
        cost,
        demand,
        *,
        capacity=None,
        fixed_open=None,
        fixed_closed=None,
        min_size=None,
        p: int | None = None,
        unassigned_penalty: float | None = None,
    ) -> SiteSelection:
        """Model from plain arrays.

        Parameters
        ----------
        cost
            Minutes, groups x sites; ``inf`` or NaN where assignment is not allowed.
        demand
            Pupils per group.
        capacity
            Places per site (``inf``/NaN: no limit).
        fixed_open, fixed_closed
            Sites that must stay open / must close.
        min_size
            Fewest pupils an open site may have (0: no minimum).
        p
            Exact number of open sites (p-median), or None.
        unassigned_penalty
            Cost per unassigned pupil (default: 10 x the largest allowed time + 100 minutes), so
            pupils are left unassigned only when no allowed site has room.
        """
        cost = np.asarray(cost, dtype=float)
        g, s = cost.shape
        cost = np.where(np.isfinite(cost), cost, np.inf)
        demand = np.asarray(demand, dtype=float)

        def vec(v, default, dtype=float):
            return np.full(s, default, dtype=dtype) if v is None else np.asarray(v, dtype=dtype)

        capacity = vec(capacity, np.inf)
        capacity = np.where(np.isfinite(capacity), capacity, np.inf)
        finite = cost[np.isfinite(cost)]
        penalty = (
            unassigned_penalty
            if unassigned_penalty is not None
            else 10 * (finite.max() if finite.size else 1) + 100
        )
        model = cls(
            cost,
            demand,
            capacity,
            vec(fixed_open, False, bool),
            vec(fixed_closed, False, bool),
            np.nan_to_num(vec(min_size, 0.0)),
            p,
            float(penalty),
        )
        if len(demand) != g or any(
            len(a) != s for a in (capacity, model.fixed_open, model.fixed_closed, model.min_size)
        ):
            raise ValueError(
                "cost is groups x sites; demand, capacity, fixed and min_size must match it"
            )
        if (model.fixed_open & model.fixed_closed).any():
            raise ValueError("a site cannot be both fixed open and fixed closed")
        return model

    def solve(self, time_limit: float = 120.0, mip_rel_gap: float = 1e-9) -> SelectionResult:
        """Solve with HiGHS; raise :class:`SolverError` unless a solution was found."""
        g, s = self.cost.shape
        gi, sj = np.nonzero(np.isfinite(self.cost))
        a = len(gi)
        n = s + a + g
        c = np.concatenate(
            [np.zeros(s), self.demand[gi] * self.cost[gi, sj], self.penalty * self.demand]
        )
        rows, cols, vals, lo, hi = [], [], [], [], []
        r = 0
        # every group: sum_j x_ij + u_i = 1
        rows += [gi, np.arange(g)]
        cols += [s + np.arange(a), s + a + np.arange(g)]
        vals += [np.ones(a), np.ones(g)]
        lo.append(np.ones(g))
        hi.append(np.ones(g))
        r += g
        # linking: x_ij - y_j <= 0
        rows += [r + np.arange(a), r + np.arange(a)]
        cols += [s + np.arange(a), sj]
        vals += [np.ones(a), -np.ones(a)]
        lo.append(np.full(a, -np.inf))
        hi.append(np.zeros(a))
        r += a
        # capacity and minimum size per site
        for mask, kind in ((np.isfinite(self.capacity), "cap"), (self.min_size > 0, "min")):
            sites = np.flatnonzero(mask)
            if not len(sites):
                continue
            row_of = np.full(s, -1)
            row_of[sites] = r + np.arange(len(sites))
            on = mask[sj]
            rows += [row_of[sj[on]], row_of[sites]]
            cols += [s + np.flatnonzero(on), sites]
            bound = self.capacity[sites] if kind == "cap" else self.min_size[sites]
            vals += [self.demand[gi[on]], -bound]
            lo.append(np.full(len(sites), -np.inf) if kind == "cap" else np.zeros(len(sites)))
            hi.append(np.zeros(len(sites)) if kind == "cap" else np.full(len(sites), np.inf))
            r += len(sites)
        if self.p is not None:
            rows.append(np.full(s, r))
            cols.append(np.arange(s))
            vals.append(np.ones(s))
            lo.append([self.p])
            hi.append([self.p])
            r += 1
        matrix = sp.csr_matrix(
            (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(r, n)
        )
        lb = np.zeros(n)
        ub = np.ones(n)
        lb[:s][self.fixed_open] = 1
        ub[:s][self.fixed_closed] = 0
        integrality = np.concatenate([np.ones(s), np.zeros(a + g)])
        res = milp(
            c,
            integrality=integrality,
            bounds=Bounds(lb, ub),
            constraints=LinearConstraint(matrix, np.concatenate(lo), np.concatenate(hi)),
            options={"time_limit": time_limit, "mip_rel_gap": mip_rel_gap, "disp": False},
        )
        if res.x is None:
            raise SolverError(f"site selection not solved: {res.message}")
        if res.status not in (0, 1):
            raise SolverError(f"site selection failed: {res.message}")
        x = res.x
        is_open = x[:s] > 0.5  # HiGHS may leave 1e-14 on closed sites
        flows = np.zeros((g, s))
        flows[gi, sj] = np.clip(x[s : s + a], 0, 1) * self.demand[gi]
        unassigned = np.clip(x[s + a :], 0, 1) * self.demand
        objective = float((flows * np.where(np.isfinite(self.cost), self.cost, 0)).sum())
        if res.status == 1:
            log.warning("site selection stopped at the time limit: %s", res.message)
        return SelectionResult(is_open, flows, unassigned, objective, res.message, res.status == 0)
