{#
    Mask personal data customers type into free text before it leaves raw (best effort, by
    pattern; names are masked by mask_customer_name, which knows the writer's name):
      e-mail addresses                                              -> [email]
      IBANs, any case, with or without spaces (NL91ABNA0417164300)  -> [iban]
      street + house number: Dutch, German, Belgian, English and French street words
        (Dorpsstraat 5a, Hauptstraße 3, Lindenstr. 7, Kerkweg 12, 12 Baker Street,
        rue de la Loi 16, 5 rue de la Paix)                         -> [address]
      runs of 6 or more digits (phone and account numbers)          -> [number]
    Dispatched: DuckDB needs the 'g' flag to replace all matches and takes the patterns
    as written; Spark string literals need doubled backslashes. Both read (?i) the same way.
#}

{% macro mask_personal_data(expression) -%}
    {{ return(adapter.dispatch("mask_personal_data", "returnlens")(expression)) }}
{%- endmacro %}

{% macro mask_personal_data_patterns() -%}
    {#- (pattern, replacement) in the order they apply; single backslashes (DuckDB style) -#}
    {{ return([
        ("[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\\.[A-Za-z]{2,}", "[email]"),
        ("(?i)\\b[a-z]{2}[0-9]{2}(?: ?[a-z0-9]{4}){2,7}(?: ?[a-z0-9]{1,3})?\\b", "[iban]"),
        ("(?i)\\b(?:rue|avenue|boulevard|chemin|chaussée|place)(?:\\s+[\\pL'-]+){1,4}\\s+[0-9]+[a-z]?", "[address]"),
        ("(?i)\\b[0-9]+[a-z]?,?\\s+(?:rue|avenue|boulevard|chemin|chaussée|place)(?:\\s+[\\pL'-]+){0,4}", "[address]"),
        ("(?i)\\b[0-9]+[a-z]?,?\\s+(?:[\\pL'-]+\\s+){0,3}(?:street|road|lane|avenue|drive|way|close|crescent)\\b", "[address]"),
        ("(?i)\\pL*(?:straat|strasse|straße|str\\.|laan|weg|plein|gracht|kade|dijk|singel|allee|steenweg|dreef|street|road|lane|avenue)\\s*[0-9]+[a-z]?", "[address]"),
        ("[0-9][0-9 ()+-]{4,}[0-9]", "[number]"),
    ]) }}
{%- endmacro %}

{% macro default__mask_personal_data(expression) -%}
    {%- set ns = namespace(sql=expression) -%}
    {%- for pattern, replacement in mask_personal_data_patterns() -%}
        {%- set ns.sql = "regexp_replace(" ~ ns.sql ~ ", '" ~ pattern | replace("\\", "\\\\") | replace("'", "\\'") ~ "', '" ~ replacement ~ "')" -%}
    {%- endfor -%}
    {{ ns.sql }}
{%- endmacro %}

{% macro duckdb__mask_personal_data(expression) -%}
    {%- set ns = namespace(sql=expression) -%}
    {%- for pattern, replacement in mask_personal_data_patterns() -%}
        {%- set ns.sql = "regexp_replace(" ~ ns.sql ~ ", '" ~ pattern | replace("'", "''") ~ "', '" ~ replacement ~ "', 'g')" -%}
    {%- endfor -%}
    {{ ns.sql }}
{%- endmacro %}
