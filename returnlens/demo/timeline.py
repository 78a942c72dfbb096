"""The demo shop's calendar: the simulated period, in epoch seconds and in days.

Every part of the world model and the ground truth counts time from the period start
(`world.PERIOD_START`): timestamps as epoch seconds, days as offsets from `DAY0`. The
expected-demand table reaches beyond the period (`EXT_LO`..`EXT_HI`) so batches received before
it and forecasts made near its end have demand to be sized on.
"""

from __future__ import annotations

import numpy as np

from returnlens.demo import world as W

DAY = 86_400
HOUR = 3_600


def epoch_seconds(value: str) -> int:
    """Seconds since 1970-01-01 of an ISO date or timestamp."""
    return int(np.datetime64(value, "s").astype(np.int64))


T0 = epoch_seconds(W.PERIOD_START)
T_END = epoch_seconds(W.PERIOD_END)
T_ASOF = epoch_seconds(W.AS_OF)
DAY0 = np.datetime64(W.PERIOD_START, "D")
N_DAYS = int((np.datetime64(W.PERIOD_END, "D") - DAY0).astype(int))
EXT_LO, EXT_HI = -120, 430  # day range (relative to DAY0) of the expected-demand table


def month_bounds(first: str, last: str) -> tuple[list[str], np.ndarray]:
    """Labels (yyyy-mm) of the months first..last and their starts in epoch seconds, with the
    start of the month after last."""
    months = np.arange(np.datetime64(first, "M"), np.datetime64(last, "M") + 2)
    labels = [str(m) for m in months[:-1]]
    return labels, months.astype("datetime64[s]").astype(np.int64)


def day_calendar(days: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order-volume weight and calendar month (0 = Jan) of day offsets from the period start."""
    dates = DAY0 + days
    month = dates.astype("datetime64[M]").astype(np.int64) % 12
    weekday = (dates.astype(np.int64) + 3) % 7
    w = W.MONTH_DEMAND[month] * W.WEEKDAY_DEMAND[weekday]
    for day, factor in W.SPECIAL_DAYS:
        w = np.where(dates == np.datetime64(day), w * factor, w)
    return w, month
