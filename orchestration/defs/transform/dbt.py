"""The dbt project as Dagster assets; dbt tests become asset checks."""

import os

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DbtCliResource, DbtProject, dbt_assets

from returnlens.config import PROJECT_ROOT, settings
from returnlens.dbt_runner import dbt_executable, ensure_manifest
from returnlens.profile import dbt_vars_json, load_profile

dbt_project = DbtProject(
    project_dir=PROJECT_ROOT,
    profiles_dir=PROJECT_ROOT,
    # the same target folder `returnlens.dbt_runner.parse` writes (DBT_TARGET_PATH honoured)
    target_path=os.environ.get("DBT_TARGET_PATH", "target"),
)
# Like DbtProject.prepare_if_dev(), but with the venv's dbt (which need not be on PATH):
# re-parse under `dagster dev`/`dg`, otherwise parse only when the manifest is missing.
ensure_manifest(dbt_project.manifest_path, refresh=bool(os.environ.get("DAGSTER_IS_DEV_CLI")))


class LayerTranslator(DagsterDbtTranslator):
    """Group dbt assets by layer (staging, intermediate, marts, seeds) in the Dagster UI."""

    def get_group_name(self, dbt_resource_props):
        """The first folder under models/ (or `seeds`)."""
        if dbt_resource_props["resource_type"] == "seed":
            return "seeds"
        fqn = dbt_resource_props.get("fqn", [])
        return fqn[1] if len(fqn) > 2 else "dbt"


@dbt_assets(
    manifest=dbt_project.manifest_path,
    dagster_dbt_translator=LayerTranslator(),
    pool="warehouse",
)
def returnlens_dbt_assets(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """Build seeds, models, data tests and unit tests in one dbt invocation, with the shop
    profile's settings (reporting currency, return window, value sets) as dbt vars."""
    profile = load_profile(settings().landing_dir)
    yield from dbt.cli(["build", "--vars", dbt_vars_json(profile)], context=context).stream()


@dg.definitions
def defs() -> dg.Definitions:
    """The dbt assets and the dbt CLI resource."""
    return dg.Definitions(
        assets=[returnlens_dbt_assets],
        resources={"dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable())},
    )
