{#
    Tuning knobs of the signal marts, in one place: var(name) when the project or the command
    line sets it, else the default below. Every signal model reads its thresholds through this
    macro, so a threshold has one default and docs/signals.md explains each.
#}
{% macro signal_var(name) -%}
    {%- set defaults = {
        "journey_lookback_days": 30,
        "journey_late_event_days": 3,
        "quality_min_lines": 30,
        "quality_min_batch_lines": 15,
        "quality_batch_prior_lines": 100,
        "quality_min_returns": 5,
        "quality_min_lift": 1.5,
        "quality_fdr_q": 0.05,
        "quality_high_lift": 2.0,
        "sizing_min_size_returns": 20,
        "forecast_prior_units": 200,
        "forecast_season_prior_units": 500,
        "risk_prior_lines": 5,
        "risk_prior_inspected": 3,
        "risk_prior_rmas": 3,
        "risk_fast_return_days": 3,
        "risk_score_threshold": 40,
        "review_high_value_eur": 250,
        "keep_it_window_days": 90,
        "keep_it_min_lines": 5,
    } -%}
    {%- if name not in defaults -%}
        {{ exceptions.raise_compiler_error("signal_var: unknown signal variable " ~ name) }}
    {%- endif -%}
    {{ return(var(name, defaults[name])) }}
{%- endmacro %}
