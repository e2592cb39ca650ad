"""The shape every page the store returns shares: its rows (under a name of its own), iterable and
counted, and ``next_cursor`` to pass back for the next page."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar, Generic, TypeVar

Row = TypeVar("Row")


class Page(Generic[Row]):
    """Iteration, length and ``to_dict`` for a page dataclass whose first field, named by
    ``_rows``, holds its rows and whose second is ``next_cursor``.

    Not a dataclass itself: each page declares both fields, so its constructor, equality and repr
    stay its own (``TracePage(traces, next_cursor)``)."""

    _rows: ClassVar[str]
    next_cursor: str | None

    def __iter__(self) -> Iterator[Row]:
        return iter(getattr(self, self._rows))

    def __len__(self) -> int:
        return len(getattr(self, self._rows))

    def to_dict(self) -> dict[str, Any]:
        return {self._rows: [row.to_dict() for row in getattr(self, self._rows)], "next_cursor": self.next_cursor}
