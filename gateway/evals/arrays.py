"""Array types and coercions the metric modules share (plain numpy)."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

IntArray = NDArray[np.int64]
FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]


def ints(values: ArrayLike) -> IntArray:
    return np.asarray(values, dtype=np.int64)


def floats(values: ArrayLike) -> FloatArray:
    return np.asarray(values, dtype=np.float64)


def safe_div(num: FloatArray, den: FloatArray) -> FloatArray:
    # 0/0 is 0, as scikit-learn's zero_division=0
    out: FloatArray = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return out
