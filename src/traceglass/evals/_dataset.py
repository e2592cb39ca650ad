"""``EvalDataset``: a list of :class:`EvalItem` that goes to JSON Lines, pandas and the store.

Saved datasets are immutable named versions: ``save(name)`` writes the next version of ``name``
(1, 2, ...), ``EvalDataset.load(name)`` reads the latest (or ``version=``).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, overload

from traceglass.evals import _stores
from traceglass.evals._item import EvalItem


class EvalDataset:
    """Items to evaluate, in order. List-like: ``len(ds)``, ``for item in ds``, ``ds[0]``, ``ds[:10]``.

    ``name``/``version`` are set when the dataset was saved or loaded (None otherwise).
    """

    def __init__(self, items: Iterable[EvalItem | Mapping[str, Any]] = (), *, name: str | None = None,
                 version: int | None = None) -> None:
        self.items: list[EvalItem] = [_item(value) for value in items]
        self.name = name
        self.version = version

    # -- list-like ---------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[EvalItem]:
        return iter(self.items)

    @overload
    def __getitem__(self, index: int) -> EvalItem: ...

    @overload
    def __getitem__(self, index: slice) -> EvalDataset: ...

    def __getitem__(self, index: int | slice) -> EvalItem | EvalDataset:
        if isinstance(index, slice):
            return EvalDataset(self.items[index])
        return self.items[index]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, EvalDataset) and self.items == other.items

    def __repr__(self) -> str:
        named = f" {self.name!r} v{self.version}" if self.name else ""
        return f"<EvalDataset{named}: {len(self.items)} items>"

    def add(self, input: Any, output: Any = None, expected_output: Any = None,  # noqa: A002 - the field's name
            context: list[str] | None = None, metadata: dict[str, Any] | None = None) -> EvalItem:
        """Append a hand-written item and return it."""
        item = EvalItem(input, output, expected_output, list(context or []), dict(metadata or {}))
        self.items.append(item)
        return item

    def append(self, item: EvalItem) -> None:
        """Append an item (an :class:`EvalItem` or its dict)."""
        self.items.append(_item(item))

    # -- files and frames --------------------------------------------------------------------
    def to_jsonl(self, path: str | os.PathLike[str]) -> int:
        """Write one JSON object per item (``EvalItem.to_dict()``); returns the number written."""
        with open(path, "w", encoding="utf-8") as file:
            for item in self.items:
                file.write(_line(item.to_dict()))
                file.write("\n")
        return len(self.items)

    @classmethod
    def from_jsonl(cls, path: str | os.PathLike[str]) -> EvalDataset:
        """Read a file ``to_jsonl`` wrote (blank lines skipped). A line that is not an item's JSON
        object raises ValueError naming the file and line."""
        items = []
        with open(path, encoding="utf-8") as file:
            for number, line in enumerate(file, 1):
                if not line.strip():
                    continue
                try:
                    items.append(EvalItem.from_dict(json.loads(line)))
                except (ValueError, TypeError, RecursionError) as exc:
                    raise ValueError(f"{Path(path)}:{number}: not an eval item: {exc}") from None
        return cls(items)

    def to_dicts(self) -> list[dict[str, Any]]:
        """Every item as ``EvalItem.to_dict()``."""
        return [item.to_dict() for item in self.items]

    def to_pandas(self) -> Any:
        """A ``pandas.DataFrame`` with one row per item and a column per field (needs pandas)."""
        try:
            import pandas  # noqa: PLC0415 - optional, imported only when asked for
        except ImportError:
            raise ImportError("EvalDataset.to_pandas() needs pandas, which is not installed: "
                              "pip install pandas") from None
        return pandas.DataFrame.from_records(self.to_dicts(), columns=list(EvalItem.__dataclass_fields__))

    def to_deepeval(self) -> list[Any]:
        """The items as ``deepeval.test_case.LLMTestCase`` objects (the ``deepeval`` extra; a clear
        ImportError without it): the question as ``input``, the output as ``actual_output``, the
        documents as ``retrieval_context``, the metadata and trace/span ids as ``metadata``."""
        from traceglass.evals._deepeval import test_cases

        return test_cases(self.items)

    # -- the store ---------------------------------------------------------------------------
    def save(self, name: str, *, store: _stores.StoreLike = None, metadata: Mapping[str, Any] | None = None) -> int:
        """Save the items as the next version of ``name`` in the store (default: the default
        database); returns that version. Earlier versions stay as they were."""
        with _stores.opened(store) as opened:
            info = opened.save_dataset(name, self.to_dicts(), metadata=metadata)
        self.name, self.version = info.name, info.version
        return info.version

    @classmethod
    def load(cls, name: str, version: int | None = None, *, store: _stores.StoreLike = None) -> EvalDataset:
        """A saved dataset: the latest version of ``name``, or ``version``. KeyError when absent."""
        with _stores.opened(store) as opened:
            found = opened.dataset(name, version)
        if found is None:
            which = f"version {version} of " if version is not None else ""
            raise KeyError(f"no saved dataset {which}{name!r}")
        info, items = found
        return cls([EvalItem.from_dict(item) for item in items], name=info.name, version=info.version)

    @staticmethod
    def list(*, store: _stores.StoreLike = None) -> list[Any]:
        """The latest version of every saved dataset (``DatasetInfo``: name, version, item_count, ...)."""
        with _stores.opened(store) as opened:
            return opened.datasets()


def _line(data: dict[str, Any]) -> str:
    text = json.dumps(data, ensure_ascii=False, default=str)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: escaped, so the line is UTF-8 and reads back the same
        text = json.dumps(data, ensure_ascii=True, default=str)
    return text


def _item(value: EvalItem | Mapping[str, Any]) -> EvalItem:
    if isinstance(value, EvalItem):
        return value
    if isinstance(value, Mapping):
        return EvalItem.from_dict(dict(value))
    raise TypeError(f"a dataset item must be an EvalItem or its dict, got {type(value).__name__}")


__all__ = ["EvalDataset"]
