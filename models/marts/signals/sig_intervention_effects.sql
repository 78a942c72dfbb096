{#
    The effect of each intervention (a change the shop made) on the return rate, and on the
    rate of returns for the reason it targets, by difference-in-differences over order
    cohorts (order weeks): the change of the treated scope's rate from the pre window to the
    post window (var intervention_window_weeks each; the week holding a start that is not a
    Monday belongs to neither) minus the change of comparable untouched scopes over the same
    weeks. Comparable: the other categories for a category; the other suppliers of the
    treated supplier's categories for a supplier; the other products of the product's
    category for a product; none for 'all'. Untouched: a control line under another
    intervention that starts inside the window is left out, unless that intervention also
    changes treated lines (then it acts on both sides). Each control scope's own change is
    taken (so a shift of the mix between scopes is no effect) and weighted by its lines.
    Interval: normal approximation on the counts (docs/kpis.md). Too early to tell until the
    last post cohort is mature (the return-rate cohort marts' rule).
#}
{%- set weeks = var('intervention_window_weeks') -%}
with

interventions as (

    select * from {{ ref('stg_interventions__interventions') }}

),

order_lines as (

    select * from {{ ref('fct_order_lines') }}

),

warehouse_as_of as (

    select * from {{ ref('int_warehouse_as_of') }}

),

intervention_weeks as (

    select
        *,
        {{ week_start_date('start_date') }} as start_week_date
    from interventions

),

windows as (

    select
        intervention_id,
        start_date,
        scope_type,
        scope_value,
        kind,
        description,
        target_reason,
        cast(
            {{ dbt.dateadd('day', -7 * weeks, 'start_week_date') }} as date
        ) as pre_from_date,
        start_week_date as pre_until_date,
        case
            when start_date = start_week_date then start_week_date
            else cast({{ dbt.dateadd('day', 7, 'start_week_date') }} as date)
        end as post_from_date
    from intervention_weeks

),

windows_with_ends as (

    select
        *,
        cast({{ dbt.dateadd('day', 7 * weeks, 'post_from_date') }} as date) as post_until_date
    from windows

),

line_cells as (

    select
        {{ week_start_date('ordered_date') }} as order_week_date,
        category,
        supplier_id,
        product_id,
        first_return_reason,
        count(*) as line_count,
        sum(case when has_return then 1 else 0 end) as returned_lines
    from order_lines
    where has_known_product
    group by 1, 2, 3, 4, 5

),

cells_in_windows as (

    select
        windows.intervention_id,
        windows.scope_type,
        windows.target_reason,
        cells.order_week_date,
        cells.category,
        cells.supplier_id,
        cells.product_id,
        cells.first_return_reason,
        cells.line_count,
        cells.returned_lines,
        case
            when cells.order_week_date < windows.pre_until_date then 'pre'
            when cells.order_week_date >= windows.post_from_date then 'post'
        end as period,
        coalesce(
            case windows.scope_type
                when 'all' then true
                when 'category' then cells.category = windows.scope_value
                when 'supplier' then cells.supplier_id = windows.scope_value
                when 'product' then cells.product_id = windows.scope_value
            end,
            false
        ) as is_treated
    from windows_with_ends as windows
    inner join line_cells as cells
        on
            windows.pre_from_date <= cells.order_week_date
            and windows.post_until_date > cells.order_week_date

),

treated_categories as (

    select distinct
        intervention_id,
        category
    from cells_in_windows
    where is_treated

),

other_interventions_in_windows as (

    select
        windows.intervention_id,
        other_interventions.intervention_id as other_intervention_id,
        other_interventions.scope_type,
        other_interventions.scope_value
    from windows_with_ends as windows
    inner join interventions as other_interventions
        on
            windows.intervention_id <> other_interventions.intervention_id
            and windows.pre_from_date <= other_interventions.start_date
            and windows.post_until_date > other_interventions.start_date

),

cells_under_other_interventions as (

    select
        cells.intervention_id,
        other_scopes.other_intervention_id,
        cells.order_week_date,
        cells.product_id,
        cells.is_treated
    from cells_in_windows as cells
    inner join other_interventions_in_windows as other_scopes
        on
            cells.intervention_id = other_scopes.intervention_id
            and (
                other_scopes.scope_type = 'all'
                or (
                    other_scopes.scope_type = 'category'
                    and cells.category = other_scopes.scope_value
                )
                or (
                    other_scopes.scope_type = 'supplier'
                    and cells.supplier_id = other_scopes.scope_value
                )
                or (
                    other_scopes.scope_type = 'product'
                    and cells.product_id = other_scopes.scope_value
                )
            )

),

{# another intervention that also changes treated lines acts on both sides: no exclusion #}
shared_interventions as (

    select distinct
        intervention_id,
        other_intervention_id
    from cells_under_other_interventions
    where is_treated

),

touched_cells as (

    select distinct
        cells.intervention_id,
        cells.order_week_date,
        cells.product_id
    from cells_under_other_interventions as cells
    left join shared_interventions as shared
        on
            cells.intervention_id = shared.intervention_id
            and cells.other_intervention_id = shared.other_intervention_id
    where shared.intervention_id is null

),

cells_with_roles as (

    select
        cells.*,
        case
            when cells.is_treated then 'treated'
            when cells.scope_type = 'all' or touched.intervention_id is not null then null
            when cells.scope_type = 'category' then 'control'
            when treated_categories.category is not null then 'control'
        end as line_role,
        case
            when cells.is_treated then cells.scope_type
            when cells.scope_type = 'category' then cells.category
            when cells.scope_type = 'supplier' then cells.supplier_id
            else cells.product_id
        end as unit
    from cells_in_windows as cells
    left join touched_cells as touched
        on
            cells.intervention_id = touched.intervention_id
            and cells.order_week_date = touched.order_week_date
            and cells.product_id = touched.product_id
    left join treated_categories
        on
            cells.intervention_id = treated_categories.intervention_id
            and cells.category = treated_categories.category
    where cells.period is not null

),

units as (

    select
        intervention_id,
        line_role as scope_role,
        unit,
        sum(case when period = 'pre' then line_count else 0 end) as lines_pre,
        sum(case when period = 'post' then line_count else 0 end) as lines_post,
        sum(case when period = 'pre' then returned_lines else 0 end) as returns_pre,
        sum(case when period = 'post' then returned_lines else 0 end) as returns_post,
        sum(
            case
                when period = 'pre' and first_return_reason = target_reason
                    then returned_lines
                else 0
            end
        ) as reason_returns_pre,
        sum(
            case
                when period = 'post' and first_return_reason = target_reason
                    then returned_lines
                else 0
            end
        ) as reason_returns_post,
        count(distinct case when period = 'pre' then order_week_date end) as cohorts_pre,
        count(distinct case when period = 'post' then order_week_date end) as cohorts_post,
        min(case when period = 'pre' then order_week_date end) as first_pre_week_date,
        max(case when period = 'pre' then order_week_date end) as last_pre_week_date,
        min(case when period = 'post' then order_week_date end) as first_post_week_date,
        max(case when period = 'post' then order_week_date end) as last_post_week_date
    from cells_with_roles
    where line_role is not null
    group by 1, 2, 3

),

unit_metrics as (

    select
        intervention_id,
        'return_rate' as metric,
        scope_role,
        unit,
        lines_pre,
        lines_post,
        returns_pre,
        returns_post,
        cohorts_pre,
        cohorts_post,
        first_pre_week_date,
        last_pre_week_date,
        first_post_week_date,
        last_post_week_date
    from units

    union all

    select
        intervention_id,
        'target_reason_rate' as metric,
        scope_role,
        unit,
        lines_pre,
        lines_post,
        reason_returns_pre as returns_pre,
        reason_returns_post as returns_post,
        cohorts_pre,
        cohorts_post,
        first_pre_week_date,
        last_pre_week_date,
        first_post_week_date,
        last_post_week_date
    from units

),

unit_rates as (

    select
        *,
        cast(returns_pre as double) / nullif(lines_pre, 0) as rate_pre,
        cast(returns_post as double) / nullif(lines_post, 0) as rate_post,
        cast(lines_pre + lines_post as double) as weight
    from unit_metrics

),

unit_changes as (

    select
        *,
        rate_post - rate_pre as rate_change,
        rate_pre * (1 - rate_pre) / lines_pre
        + rate_post * (1 - rate_post) / lines_post as rate_change_variance
    from unit_rates
    where lines_pre > 0 and lines_post > 0

),

treated as (

    select * from unit_rates
    where scope_role = 'treated'

),

treated_changes as (

    select * from unit_changes
    where scope_role = 'treated'

),

controls as (

    select
        intervention_id,
        metric,
        count(*) as control_scopes,
        sum(lines_pre) as control_lines_pre,
        sum(lines_post) as control_lines_post,
        sum(returns_pre) as control_returns_pre,
        sum(returns_post) as control_returns_post,
        {# each term fixed to 18 decimals, then summed as decimals: a sum that does not
           depend on the order of the rows (a sum of doubles does, by an ulp, and the rows
           come in another order from an incremental fct_order_lines than from a rebuild);
           the weights are whole numbers, so their double sum is exact #}
        cast(sum(cast(weight * rate_change as decimal(38, 18))) as double)
        / sum(weight) as control_rate_change,
        cast(
            sum(cast(weight * weight * rate_change_variance as decimal(38, 18))) as double
        ) / (sum(weight) * sum(weight)) as control_rate_change_variance
    from unit_changes
    where scope_role = 'control'
    group by 1, 2

),

metrics as (

    select
        intervention_id,
        'return_rate' as metric
    from interventions

    union all

    select
        intervention_id,
        'target_reason_rate' as metric
    from interventions
    where target_reason is not null

),

joined as (

    select
        windows.*,
        metrics.metric,
        treated.lines_pre as treated_lines_pre,
        treated.lines_post as treated_lines_post,
        treated.returns_pre as treated_returns_pre,
        treated.returns_post as treated_returns_post,
        treated.rate_pre as treated_rate_pre,
        treated.rate_post as treated_rate_post,
        treated.cohorts_pre,
        treated.cohorts_post,
        treated.first_pre_week_date,
        treated.last_pre_week_date,
        treated.first_post_week_date,
        treated.last_post_week_date,
        treated_changes.rate_change as treated_rate_change,
        treated_changes.rate_change_variance as treated_rate_change_variance,
        coalesce(controls.control_scopes, 0) as control_scopes,
        controls.control_lines_pre,
        controls.control_lines_post,
        controls.control_returns_pre,
        controls.control_returns_post,
        controls.control_rate_change,
        controls.control_rate_change_variance,
        {# the last post cohort's last day + 1 + 7 days delivery slack + the return window #}
        cast(
            {{ dbt.dateadd(
                'day', 7 + var('return_window_days'), 'windows.post_until_date'
            ) }} as date
        ) as mature_on_date,
        warehouse_as_of.as_of_date
    from metrics
    inner join windows_with_ends as windows
        on metrics.intervention_id = windows.intervention_id
    cross join warehouse_as_of
    left join treated
        on
            metrics.intervention_id = treated.intervention_id
            and metrics.metric = treated.metric
    left join treated_changes
        on
            metrics.intervention_id = treated_changes.intervention_id
            and metrics.metric = treated_changes.metric
    left join controls
        on
            metrics.intervention_id = controls.intervention_id
            and metrics.metric = controls.metric

),

judged as (

    select
        *,
        coalesce(mature_on_date <= as_of_date, false) as is_mature,
        case
            when not coalesce(mature_on_date <= as_of_date, false) then 'too_early_to_tell'
            when treated_rate_change is null then 'no_treated_lines'
            when control_scopes = 0 then 'no_control'
            else 'estimated'
        end as state,
        treated_rate_change - control_rate_change as raw_effect,
        sqrt(treated_rate_change_variance + control_rate_change_variance) as raw_standard_error
    from joined

),

final as (

    select
        cast(intervention_id as string) as intervention_id,
        cast(metric as string) as metric,
        cast(start_date as date) as start_date,
        cast(scope_type as string) as scope_type,
        cast(scope_value as string) as scope_value,
        cast(kind as string) as kind,
        cast(description as string) as description,
        cast(target_reason as string) as target_reason,
        cast(state as string) as state,
        cast(is_mature as boolean) as is_mature,
        cast(mature_on_date as date) as mature_on_date,
        cast(pre_from_date as date) as pre_from_date,
        cast(post_from_date as date) as post_from_date,
        cast(post_until_date as date) as post_until_date,
        cast(coalesce(cohorts_pre, 0) as bigint) as pre_cohorts,
        cast(coalesce(cohorts_post, 0) as bigint) as post_cohorts,
        cast(first_pre_week_date as date) as first_pre_week_date,
        cast(last_pre_week_date as date) as last_pre_week_date,
        cast(first_post_week_date as date) as first_post_week_date,
        cast(last_post_week_date as date) as last_post_week_date,
        cast(coalesce(treated_lines_pre, 0) as bigint) as treated_lines_pre,
        cast(coalesce(treated_lines_post, 0) as bigint) as treated_lines_post,
        cast(coalesce(treated_returns_pre, 0) as bigint) as treated_returns_pre,
        cast(coalesce(treated_returns_post, 0) as bigint) as treated_returns_post,
        cast(treated_rate_pre as double) as treated_rate_pre,
        cast(treated_rate_post as double) as treated_rate_post,
        cast(control_scopes as bigint) as control_scopes,
        cast(coalesce(control_lines_pre, 0) as bigint) as control_lines_pre,
        cast(coalesce(control_lines_post, 0) as bigint) as control_lines_post,
        cast(coalesce(control_returns_pre, 0) as bigint) as control_returns_pre,
        cast(coalesce(control_returns_post, 0) as bigint) as control_returns_post,
        cast(control_rate_change as double) as control_rate_change,
        cast(case when state = 'estimated' then raw_effect end as double) as effect,
        cast(
            case when state = 'estimated' then raw_standard_error end as double
        ) as effect_standard_error,
        cast(
            case
                when state = 'estimated'
                    then raw_effect - {{ var('intervention_confidence_z') }} * raw_standard_error
            end as double
        ) as effect_lower_95,
        cast(
            case
                when state = 'estimated'
                    then raw_effect + {{ var('intervention_confidence_z') }} * raw_standard_error
            end as double
        ) as effect_upper_95,
        cast(
            case
                when state = 'estimated'
                    then
                        raw_effect - {{ var('intervention_confidence_z') }} * raw_standard_error
                        > 0
                        or raw_effect
                        + {{ var('intervention_confidence_z') }} * raw_standard_error
                        < 0
            end as boolean
        ) as is_significant
    from judged

)

select * from final
