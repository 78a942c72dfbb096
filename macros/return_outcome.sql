{#
    The outcome of a return line, one word: 'rejected' or 'cancelled' when its state says
    so (the shop refused it, the customer withdrew it), else its resolution (refund,
    store_credit, exchange, keep_it).
#}
{% macro return_outcome(state_expression, resolution_expression) -%}
    case
        when {{ state_expression }} = 'rejected' then 'rejected'
        when {{ state_expression }} = 'cancelled' then 'cancelled'
        else {{ resolution_expression }}
    end
{%- endmacro %}
