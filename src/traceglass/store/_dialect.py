"""What the two backends' SQL spells differently, for the builders both share.

A builder takes a :class:`Dialect` (:data:`SQLITE` or :data:`POSTGRES`) and writes one statement for
either: the driver's placeholder, SQLite's unary ``+`` planner hint, its ``total()`` and ``typeof``
against PostgreSQL's casts, a prefix match (``GLOB`` / ``LIKE``) and a list of values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Dialect:
    """What a backend's SQL spells differently."""

    mark: str  # the driver's placeholder
    plus: str  # SQLite's unary + that keeps it on the index it should use; nothing on PostgreSQL
    total: str  # a sum that is 0.0 over no rows and never overflows
    integer: str  # "this column holds an integer" (SQLite's columns may hold anything)
    real: str  # an expression as a double
    starts_with: str  # "{column} starts with the bound text", the text given with its wildcard (see prefix)
    wildcard: str  # what prefix() appends

    def marks(self, count: int) -> str:
        return ", ".join([self.mark] * count)

    def prefix(self, text: str) -> str:
        """The bound value for ``starts_with`` (``text`` must hold no wildcard of either dialect)."""
        return text + self.wildcard

    def one_of(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """``column`` equals one of ``values``: SQLite's IN list, PostgreSQL's ``= ANY`` of one array."""
        if self is POSTGRES:
            return f"{column} = ANY({self.mark})", [list(values)]
        return f"{column} IN ({self.marks(len(values))})", list(values)


SQLITE = Dialect("?", "+", "total({})", "typeof({}) = 'integer'", "{}", "{} GLOB ?", "*")
POSTGRES = Dialect("%s", "", "coalesce(sum({}), 0)::double precision", "{} IS NOT NULL", "({})::double precision",
                   "{} LIKE %s", "%")
