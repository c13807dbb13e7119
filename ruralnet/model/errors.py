"""Exceptions and warnings raised by ruralnet.

Every error is both a :class:`RuralnetError` and the built-in exception it most
resembles, so callers can catch either (``except ValueError`` keeps working).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


class RuralnetError(Exception):
    """Base class of every error ruralnet raises on purpose."""


class RuralnetWarning(UserWarning):
    """Suspicious but legal input (pupils above capacity, a township without a boarding school)."""


@dataclass(frozen=True)
class Problem:
    """One problem found while validating a table.

    Parameters
    ----------
    message
        What is wrong, in plain words.
    column
        The column concerned, if any.
    rows
        Labels (index values or ids) of the rows concerned; empty if the problem is table-wide.
    """

    message: str
    column: str | None = None
    rows: tuple = ()

    def __str__(self) -> str:
        where = []
        if self.column:
            where.append(f"column {self.column!r}")
        if self.rows:
            shown = ", ".join(repr(r) for r in self.rows[:10])
            more = f" and {len(self.rows) - 10} more" if len(self.rows) > 10 else ""
            where.append(f"rows {shown}{more}")
        prefix = f"[{'; '.join(where)}] " if where else ""
        return prefix + self.message


class SchemaError(ValueError, RuralnetError):
    """A layer does not follow the schema; ``problems`` lists every problem found.

    Parameters
    ----------
    layer
        Name of the layer that was validated (``"sites"``, ``"villages"``...).
    problems
        Every problem found, all reported together.
    """

    def __init__(self, layer: str, problems: Iterable[Problem]):
        self.layer = layer
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"{layer}: {len(self.problems)} problem(s)\n{lines}")


class SettingsError(ValueError, RuralnetError):
    """An unknown setting or a value outside its allowed range."""


class CountyFolderError(FileNotFoundError, RuralnetError):
    """A county folder misses a required file or holds files that cannot be read."""


class NetworkError(RuntimeError, RuralnetError):
    """The road network cannot be built (no usable roads, unreadable OSM file...)."""


class OfflineError(ConnectionError, RuralnetError):
    """An online source (Overpass) was asked for while ruralnet is set to work offline."""


class InputError(ValueError, RuralnetError):
    """A bad argument given to the library (0 seats, negative pupils, NaN times, an unknown
    coordinate system...)."""


class SolverError(RuntimeError, RuralnetError):
    """An optimisation model could not be solved (no solution within the time limit)."""


class PlanError(RuntimeError, RuralnetError):
    """A plan fails its own accounting (pupils not conserved) or the independent bus check."""


class OutputError(OSError, RuralnetError):
    """The output folder cannot be used (not writable, a file, inside an input folder...)."""
