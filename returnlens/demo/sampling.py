"""Vectorised draws and small array helpers shared by the world model.

Everything draws from a numpy `Generator` in bulk; no loop runs over rows. The same calls in
the same order give the same numbers, which is what keeps the demo's bytes stable for a seed.
"""

from __future__ import annotations

import math

import numpy as np


def cum_rows(probs: np.ndarray) -> np.ndarray:
    """Row-normalised cumulative probabilities, each row ending exactly at 1."""
    p = np.asarray(probs, dtype=np.float64)
    p = np.atleast_2d(p)
    cum = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
    cum[:, -1] = 1.0
    return cum


GUIDE = 1024


def choice(cum: np.ndarray, row: np.ndarray | int, u: np.ndarray) -> np.ndarray:
    """Draw a column per item from row-wise cumulative probabilities (vectorised).

    Inverse-CDF sampling with a guide table: a gather gives the first candidate, a few
    vectorised steps on the rare items that straddle a cell boundary finish the search.
    """
    n_rows, k = cum.shape
    grid = np.arange(GUIDE) / GUIDE
    guide = np.stack([np.searchsorted(cum[r], grid, side="right") for r in range(n_rows)])
    row = np.broadcast_to(np.asarray(row, dtype=np.int64), np.shape(u))
    cell = np.minimum((u * GUIDE).astype(np.int64), GUIDE - 1)
    idx = guide.ravel()[row * GUIDE + cell]
    flat = cum.ravel()
    todo = np.flatnonzero(flat[row * k + idx] <= u)
    while todo.size:
        idx[todo] += 1
        todo = todo[flat[row[todo] * k + idx[todo]] <= u[todo]]
    return np.minimum(idx, k - 1)


def pick(rng: np.random.Generator, shares: dict | np.ndarray, n: int) -> np.ndarray:
    values = np.fromiter(shares.values(), float) if isinstance(shares, dict) else shares
    return choice(cum_rows(values), 0, rng.random(n))


def group_arange(counts: np.ndarray) -> np.ndarray:
    counts = np.asarray(counts, dtype=np.int64)
    starts = np.cumsum(counts) - counts
    return np.arange(int(counts.sum()), dtype=np.int64) - np.repeat(starts, counts)


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def id_width(n: int, minimum: int) -> int:
    return max(minimum, len(str(int(n))))


def poisson_capped_mean(lam: float, cap: int) -> float:
    pmf = [math.exp(-lam) * lam**k / math.factorial(k) for k in range(cap)]
    return sum(k * p for k, p in enumerate(pmf)) + cap * (1 - sum(pmf))
