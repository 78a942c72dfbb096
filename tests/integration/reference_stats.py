"""Independent reference statistics for the tests of the quality alerts (docs/signals.md):
the one-sided binomial p-value and Benjamini-Hochberg q-values, in plain Python (math.erfc),
never from the SQL under test."""

from __future__ import annotations

import math


def upper_p_value(successes: int, trials: int, rate: float) -> float:
    """One-sided p-value of 'true rate > rate': continuity-corrected signed root of the binomial
    deviance, normal tail by math.erfc (the model uses a polynomial erfc in SQL)."""
    x = successes - 0.5
    if x <= 0 or rate >= 1:
        return 1.0
    if rate <= 0:
        return 0.0
    deviance = 2 * (
        x * math.log(x / (trials * rate))
        + (trials - x) * math.log((trials - x) / (trials * (1 - rate)))
    )
    root = math.copysign(math.sqrt(max(deviance, 0.0)), x - trials * rate)
    return 0.5 * math.erfc(root / math.sqrt(2))


def benjamini_hochberg(p_values: dict[str, float]) -> dict[str, float]:
    """Benjamini-Hochberg adjusted p-values (q-values) of a family."""
    ranked = sorted(p_values, key=lambda k: (p_values[k], k))
    m, running, q = len(ranked), 1.0, {}
    for rank in range(m, 0, -1):
        key = ranked[rank - 1]
        running = min(running, m * p_values[key] / rank)
        q[key] = running
    return q
