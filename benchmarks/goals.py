"""A measured figure against its goal: a comparison and a bound written as text, such as ">= 0.9".

The text is what the JSON and the tables show; meets() reads it, so that the
goal is written once.
"""

import operator

COMPARISONS = {">=": operator.ge, "<=": operator.le, "<": operator.lt, ">": operator.gt}
# How a table shows a verdict; None is a figure this run did not measure.
MET = {True: "yes", False: "**no**", None: "n/a"}


def meets(value: float | None, goal: str) -> bool | None:
    """Return whether `value` meets `goal`, or None when there is no value."""
    if value is None:
        return None
    comparison, bound = goal.split()
    return COMPARISONS[comparison](value, float(bound))
