"""The batched generic tests of tests/dbt/generic/ (one dbt node per model and kind, issue 16)
fail on planted bad rows and the dbt step's message names the model, the column and the count.

A tiny dbt project in a temp folder uses the project's own generic tests: a seed of parents, a
seed of children with a planted failure for every batched kind (a null, a repeated value, a
value outside the accepted ones, an orphan), and a view with an orphan, carrying the
relationships test as a model does. The expected counts are computed here from the CSV rows with
Python's csv module; the clean parents seed carries the same kinds of test and passes.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from returnlens.config import PROJECT_ROOT
from returnlens.dbt_runner import build_outcomes, dbt_executable, location_args

pytestmark = pytest.mark.integration

PARENTS = "parent_id,label\na,Alpha\nb,Beta\nc,Gamma\n"
# child_id: c1 twice and c2 three times (2 repeated values); label never repeats
# parent_id: z twice and q once are orphans, but q's row is not flagged (the where excludes it);
# one parent_id is null (passes, as with relationships)
# kind: one 'bad'; note: null three times; is_flagged: never null
CHILDREN = """child_id,parent_id,kind,note,label,is_flagged
c1,a,p,x,l1,true
c1,b,q,,l2,true
c2,z,p,x,l3,true
c2,z,p,,l4,true
c2,q,bad,x,l5,false
c3,,q,,l6,true
c4,c,p,x,l7,true
"""
SCHEMA = """
seeds:
  - name: parents
    data_tests:
      - not_null_columns:
          name: not_null_columns_parents
          arguments:
            columns: [parent_id, label]
      - unique_columns:
          name: unique_columns_parents
          arguments:
            columns: [parent_id, label]
      - accepted_values_columns:
          name: accepted_values_columns_parents
          arguments:
            columns:
              - {name: parent_id, values: [a, b, c]}
  - name: children
    config:
      column_types: {is_flagged: boolean}
    data_tests:
      - not_null_columns:
          name: not_null_columns_children
          arguments:
            columns: [child_id, note, is_flagged]
      - unique_columns:
          name: unique_columns_children
          arguments:
            columns: [child_id, label]
      - accepted_values_columns:
          name: accepted_values_columns_children
          arguments:
            columns:
              - {name: kind, values: [p, q]}
              - {name: child_id, values: [c1, c2, c3, c4]}
      - relationships_columns:
          name: relationships_columns_children
          arguments:
            columns:
              - {name: parent_id, to: "ref('parents')", field: parent_id, where: is_flagged}
              - {name: child_id, to: "ref('children')", field: child_id}
models:
  - name: children_view
    data_tests:
      - relationships_columns:
          name: relationships_columns_children_view
          arguments:
            columns:
              - {name: parent_id, to: "ref('parents')", field: parent_id}
"""
# a model carries the relationships test as the project's models do (not built on the children:
# dbt build skips what depends on a seed whose tests failed); one orphan ('z'), one null
VIEW = "select * from (values ('a', 1), ('z', 2), (null, 3)) as t (parent_id, n)\n"


def _tiny_project(root: Path) -> Path:
    """The tiny dbt project (and its DuckDB profile) under `root`."""
    (root / "seeds").mkdir(parents=True)
    (root / "models").mkdir()
    shutil.copytree(PROJECT_ROOT / "tests" / "dbt" / "generic", root / "tests" / "generic")
    (root / "macros").mkdir()
    shutil.copy(PROJECT_ROOT / "macros" / "failing_check_counts.sql", root / "macros")
    (root / "dbt_project.yml").write_text(
        "name: probe\nversion: '1.0'\nprofile: probe\nconfig-version: 2\n"
        "seed-paths: [seeds]\nmodel-paths: [models]\ntest-paths: [tests]\nmacro-paths: [macros]\n"
    )
    (root / "profiles.yml").write_text(
        "probe:\n  target: dev\n  outputs:\n    dev:\n      type: duckdb\n"
        f"      path: {root / 'probe.duckdb'}\n      threads: 1\n"
    )
    (root / "seeds" / "parents.csv").write_text(PARENTS)
    (root / "seeds" / "children.csv").write_text(CHILDREN)
    (root / "seeds" / "_seeds.yml").write_text(SCHEMA)
    (root / "models" / "children_view.sql").write_text(VIEW)
    return root


def _expected(rows: list[dict]) -> list[str]:
    """What the failure must name, counted from the CSV rows."""
    repeated = [v for v, n in Counter(r["child_id"] for r in rows).items() if n > 1]
    orphans = [r for r in rows if r["parent_id"] and r["parent_id"] not in ("a", "b", "c")]
    flagged_orphans = [r for r in orphans if r["is_flagged"] == "true"]
    nulls = [r for r in rows if r["note"] == ""]
    bad = [r for r in rows if r["kind"] not in ("p", "q")]

    def n(k):
        return f"{k} row{'s' if k != 1 else ''}"

    return [
        f"test not_null_columns_children: fail (Got 1 result, configured to fail if != 0): "
        f"nulls in children.note ({n(len(nulls))})",
        f"test unique_columns_children: fail (Got 1 result, configured to fail if != 0): "
        f"values repeated in children.child_id ({n(len(repeated))})",
        f"test accepted_values_columns_children: fail (Got 1 result, configured to fail if != "
        f"0): values outside the accepted ones in children.kind ({n(len(bad))})",
        f"test relationships_columns_children: fail (Got 1 result, configured to fail if != "
        f"0): values missing from the parent in children.parent_id ({n(len(flagged_orphans))})",
        "test relationships_columns_children_view: fail (Got 1 result, configured to fail if "
        "!= 0): values missing from the parent in children_view.parent_id (1 row)",
    ]


def test_each_batched_test_kind_fails_on_its_planted_row_and_names_the_column(tmp_path):
    project = _tiny_project(tmp_path / "probe")
    target = tmp_path / "target"
    # a dbt process of its own, as the dbt step runs it (in this process dbt-duckdb would keep
    # the database open, and the failure's columns are read from it afterwards)
    build = subprocess.run(
        [
            dbt_executable(),
            "build",
            *location_args(project, target, tmp_path / "logs"),
            "--quiet",
        ],
        cwd=project,
        env={**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
        capture_output=True,
        text=True,
    )
    assert build.returncode == 1, build.stdout + build.stderr  # 1: tests failed, not an error
    statuses = {
        r["unique_id"].split(".")[2]: r["status"]
        for r in json.loads((target / "run_results.json").read_text())["results"]
        if r["unique_id"].startswith("test.")
    }
    # the clean seed passes every kind; the children fail every kind
    assert statuses == {
        "not_null_columns_parents": "pass",
        "unique_columns_parents": "pass",
        "accepted_values_columns_parents": "pass",
        "not_null_columns_children": "fail",
        "unique_columns_children": "fail",
        "accepted_values_columns_children": "fail",
        "relationships_columns_children": "fail",
        "relationships_columns_children_view": "fail",
    }
    counts, failed = build_outcomes(target / "run_results.json", project / "probe.duckdb")
    rows = list(csv.DictReader(io.StringIO(CHILDREN)))
    assert sorted(failed) == sorted(_expected(rows))
    assert counts == Counter({"pass": 3, "fail": 5})
