"""The dbt project as Dagster assets; dbt tests become asset checks."""

import dagster as dg
from dagster_dbt import DbtCliResource, DbtProject, dbt_assets

from returnlens.config import PROJECT_ROOT
from returnlens.dbt_runner import dbt_executable, ensure_manifest

dbt_project = DbtProject(project_dir=PROJECT_ROOT, profiles_dir=PROJECT_ROOT)
dbt_project.prepare_if_dev()
ensure_manifest(dbt_project.manifest_path)


@dbt_assets(manifest=dbt_project.manifest_path, pool="warehouse")
def returnlens_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """Build seeds, models, data tests and unit tests in one dbt invocation."""
    yield from dbt.cli(["build"], context=context).stream()


@dg.definitions
def defs() -> dg.Definitions:
    """The dbt assets and the dbt CLI resource."""
    return dg.Definitions(
        assets=[returnlens_dbt_assets],
        resources={"dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())},
    )
