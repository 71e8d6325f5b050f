"""Plugin results to JSON: numpy arrays and scalars, tuples, non-finite floats."""

import math


def to_json(obj):
    """``obj`` with numpy arrays/scalars as lists/numbers and tuples as lists.

    Non-finite floats are left as they are; the server refuses them where JSON cannot carry
    them.
    """
    if obj is None or isinstance(obj, (bool, str, int, float)):
        return obj
    if isinstance(obj, dict):
        return {str(k): to_json(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_json(v) for v in obj]
    # numpy without importing it: arrays and scalars both have tolist()
    tolist = getattr(obj, "tolist", None)
    if callable(tolist):
        return to_json(tolist())
    item = getattr(obj, "item", None)
    if callable(item):
        return to_json(item())
    raise TypeError(f"cannot send a {type(obj).__name__} to the node as JSON")


def performance(value):
    """A performance for the wire: a finite number, or "NaN"/"Infinity"/"-Infinity"."""
    value = float(to_json(value))
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value
