"""Records as table rows, and rows as a pandas DataFrame (pandas is an optional extra).

A record's fields are its columns, in order. A dict field becomes one column per key,
named ``field.key`` (``params.lr``), keys sorted; a nested record one column per field
(``node.name``); a tuple of records a list of dicts; any other tuple a list.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

PANDAS_MISSING = ("to_pandas() needs pandas, which kb installs as an optional extra: "
                  "pip install 'kb[pandas]'")


def _plain(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def row(record: Any, prefix: str = "") -> dict[str, Any]:
    """One record as ``{column: value}``."""
    if not (dataclasses.is_dataclass(record) and not isinstance(record, type)):
        return {prefix.rstrip(".") or "value": _plain(record)}
    out: dict[str, Any] = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        name = prefix + f.name
        if isinstance(value, Mapping) and f.name != "links":
            for key in sorted(value, key=str):
                out[f"{name}.{key}"] = _plain(value[key])
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            out.update(row(value, name + "."))
        else:
            out[name] = _plain(value)
    return out


def rows(records: Sequence[Any]) -> tuple[list[str], list[dict[str, Any]]]:
    """The columns (in the order they first appear) and one row per record."""
    table = [row(r) for r in records]
    columns: dict[str, None] = {}
    for r in table:
        columns.update(dict.fromkeys(r))
    return list(columns), table


def data_frame(records: Sequence[Any], record: type | None = None) -> Any:
    """``records`` as a ``pandas.DataFrame``; with none, the columns are ``record``'s
    fields. ImportError naming the extra when pandas is not installed."""
    try:
        import pandas
    except ImportError as exc:
        raise ImportError(PANDAS_MISSING) from exc
    columns, table = rows(records)
    if not table and record is not None and dataclasses.is_dataclass(record):
        columns = [f.name for f in dataclasses.fields(record)]
    return pandas.DataFrame.from_records(table, columns=columns)
