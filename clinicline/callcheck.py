"""Compare a finished call's record with a script's `expect:` block.

Rules: a scalar must be equal; an expected list holds when each expected item is found,
case-insensitively, within some item of the record's list; a mapping is compared key by
key, nested. A missing key in the record is a difference.
"""

from __future__ import annotations

import json
from typing import Any


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _scalar_equal(expected: Any, actual: Any) -> bool:
    if isinstance(expected, bool) or isinstance(actual, bool):
        return expected is actual or expected == actual
    if isinstance(expected, int | float) and isinstance(actual, int | float):
        return float(expected) == float(actual)
    if isinstance(expected, str) and isinstance(actual, str):
        return expected.strip().lower() == actual.strip().lower()
    return bool(expected == actual)


def differences(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Every way `actual` falls short of `expected`, as readable lines."""
    where = path or "record"
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected a mapping, got {_text(actual)}"]
        found: list[str] = []
        for key, value in expected.items():
            sub = f"{path}.{key}" if path else str(key)
            if key not in actual:
                found.append(f"{sub}: missing (expected {_text(value)})")
            else:
                found.extend(differences(value, actual[key], sub))
        return found
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{where}: expected a list containing {_text(expected)}, got {_text(actual)}"]
        haystack = [_text(item).lower() for item in actual]
        return [
            f"{where}: no item contains {_text(item)!s} (have {_text(actual)})"
            for item in expected
            if not any(_text(item).lower() in hay for hay in haystack)
        ]
    if not _scalar_equal(expected, actual):
        return [f"{where}: expected {_text(expected)}, got {_text(actual)}"]
    return []
