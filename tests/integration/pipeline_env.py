"""The landing sensor ticked as the Dagster daemon would, and the dbt step run on its own, for
integration tests that run the real pipeline in their own folders (their environment:
`returnlens.config.environment`)."""

from __future__ import annotations

import dagster as dg


class SensorTicks:
    """Evaluate a sensor one tick after another, carrying its cursor from tick to tick."""

    def __init__(self, instance: dg.DagsterInstance, definitions: dg.Definitions, name: str):
        self.instance, self.definitions, self.name = instance, definitions, name
        self.sensor = definitions.resolve_sensor_def(name)
        self.cursor: str | None = None

    def __call__(self):
        ctx = dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            definitions=self.definitions,
            sensor_name=self.name,
        )
        data = self.sensor.evaluate_tick(ctx)
        if data.cursor is not None:
            self.cursor = data.cursor
        return data


def materialize_dbt_step(selection=None):
    """Run the dbt step (orchestration/defs/transform/dbt.py) alone on an ephemeral Dagster
    instance, with the environment as set: its result, and the messages it logged."""
    from orchestration.defs.transform.dbt import defs as dbt_defs

    definitions = dbt_defs()
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize(
            list(definitions.assets),
            resources=definitions.resources,
            instance=instance,
            raise_on_error=False,
            selection=selection,
        )
        return result, [entry.user_message for entry in instance.all_logs(result.run_id)]


def step_failure(result) -> str:
    """The failed step's message with the exceptions Dagster wrapped around it."""
    failure = next(e for e in result.all_events if e.event_type_value == "STEP_FAILURE")
    error, messages = failure.event_specific_data.error, []
    while error is not None:
        messages.append(error.message)
        error = error.cause
    return "\n".join(messages)
