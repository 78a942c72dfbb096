"""Every published mart's description ends with an example query for BI (a ```sql block, the
form dbt-score's has_example_sql rule looks for), and every example runs on the serving
database of a real pipeline run, reading the mart it documents by its published name."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest
import yaml

from returnlens.config import PROJECT_ROOT

pytestmark = pytest.mark.integration

SQL_BLOCK = re.compile(r"```sql\n(.*?)```", re.DOTALL)
# tables of the serving database that are the publish's own record, not dbt models
PUBLISH_TABLES = {"publish_log", "publish_gate_results"}


def mart_descriptions(project_root: Path = PROJECT_ROOT) -> dict[str, str]:
    """Each model's description in models/marts/**/*.yml."""
    descriptions = {}
    for path in sorted((project_root / "models" / "marts").rglob("*.yml")):
        for model in yaml.safe_load(path.read_text()).get("models") or []:
            descriptions[model["name"]] = model.get("description") or ""
    return descriptions


def mart_examples(project_root: Path = PROJECT_ROOT) -> dict[str, list[str]]:
    """The ```sql blocks of each model's description."""
    return {m: SQL_BLOCK.findall(d) for m, d in mart_descriptions(project_root).items()}


def published_marts(serving: Path) -> set[str]:
    with duckdb.connect(str(serving), read_only=True) as con:
        rows = con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts'"
        ).fetchall()
    return {name for (name,) in rows} - PUBLISH_TABLES


def test_every_published_mart_has_one_example_that_reads_it(pipeline_run):
    assert pipeline_run.success
    examples = mart_examples()
    marts = published_marts(pipeline_run.serving)
    assert marts, "nothing was published"
    missing = sorted(m for m in marts if len(examples.get(m, [])) != 1)
    assert not missing, f"marts without exactly one ```sql example in their description: {missing}"
    wrong_table = sorted(m for m in marts if f"marts.{m}" not in examples[m][0])
    assert not wrong_table, (
        f"examples that do not read their own mart (marts.<name>): {wrong_table}"
    )
    descriptions = mart_descriptions()
    not_last = sorted(m for m in marts if not descriptions[m].rstrip().endswith("```"))
    assert not not_last, f"descriptions that do not end with their example: {not_last}"


def test_every_example_runs_on_the_serving_database(pipeline_run):
    assert pipeline_run.success
    marts = published_marts(pipeline_run.serving)
    failures = {}
    with duckdb.connect(str(pipeline_run.serving), read_only=True) as con:
        for mart, blocks in sorted(mart_examples().items()):
            if mart not in marts:
                continue
            for sql in blocks:
                try:
                    cur = con.execute(sql)
                    cur.fetchall()
                    assert cur.description, "the example returns no columns"
                except Exception as exc:  # report every broken example at once
                    failures[mart] = f"{type(exc).__name__}: {exc}"
    assert not failures, failures
