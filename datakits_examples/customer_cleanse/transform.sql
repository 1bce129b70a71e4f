-- customer-cleanse: bronze customer rows -> one clean row per customer (DuckDB SQL).
-- Input and output follow the DataKit run contract; the configuration comes from DATAKIT_CONFIG.
.bail on
.mode line
SET VARIABLE min_signup_year = coalesce(
    try_cast(json_extract_string(nullif(getenv('DATAKIT_CONFIG'), ''), '$.min_signup_year') AS INTEGER), 2000);

SELECT count(*) AS input_rows, getvariable('min_signup_year') AS min_signup_year
FROM read_parquet('/datakit/inputs/customers.parquet');

COPY (
    WITH latest AS (
        SELECT *
        FROM read_parquet('/datakit/inputs/customers.parquet')
        QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY updated_at DESC NULLS LAST) = 1
    )
    SELECT
        CAST(customer_id AS INTEGER) AS customer_id,
        trim(full_name) AS full_name,
        lower(email) AS email,
        upper(country) AS country,
        CAST(signup_date AS DATE) AS signup_date,
        CAST(updated_at AS TIMESTAMP) AS updated_at
    FROM latest
    WHERE email IS NOT NULL
      AND year(CAST(signup_date AS DATE)) >= getvariable('min_signup_year')
    ORDER BY customer_id
) TO '/datakit/outputs/customers.parquet' (FORMAT parquet);

SELECT count(*) AS output_rows FROM read_parquet('/datakit/outputs/customers.parquet');
