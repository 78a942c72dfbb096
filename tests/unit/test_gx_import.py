"""The gates import GX without the modules it loads for expectations no suite has (issue 16)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from returnlens.config import PROJECT_ROOT
from returnlens.quality.gates import DEFERRED_IMPORTS

pytestmark = pytest.mark.unit

# in a fresh interpreter: this test process has imported GX (and scipy.stats) already
CHILD = """
import json, sys
from returnlens.quality.gates import DEFERRED_IMPORTS, defer_unused_imports
defer_unused_imports()
import great_expectations
from great_expectations.expectations.core import expect_column_kl_divergence_to_be_less_than
loaded_with_gx = {name: (name + "._") in str(sorted(sys.modules)) for name in DEFERRED_IMPORTS}
from scipy import stats
import scipy.stats._stats_py
print(json.dumps({
    "loaded_with_gx": loaded_with_gx,
    "norm_cdf_0": float(stats.norm.cdf(0)),
    "ks_statistic": float(stats.kstest([0.1, 0.4, 0.7], "uniform").statistic),
}))
"""


def test_deferred_modules_load_on_first_use_only():
    out = subprocess.run(
        [sys.executable, "-c", CHILD], capture_output=True, text=True, cwd=PROJECT_ROOT, check=True
    )
    figures = json.loads(out.stdout.strip().splitlines()[-1])
    # importing GX (with the KL-divergence expectation that imports scipy.stats) ran none of them
    assert figures["loaded_with_gx"] == {name: False for name in DEFERRED_IMPORTS}
    # and the first use gets the real module: the standard normal's CDF at 0, and the
    # Kolmogorov-Smirnov statistic of 0.1, 0.4, 0.7 against U(0, 1): max(1/3 - 0.1, 2/3 - 0.4,
    # 1 - 0.7, 0.1, 0.4 - 1/3, 0.7 - 2/3) = 0.3
    assert figures["norm_cdf_0"] == 0.5
    assert figures["ks_statistic"] == pytest.approx(0.3)
