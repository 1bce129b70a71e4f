#!/bin/sh
# The image's entrypoint: log what it runs with, then run the SQL transform with the DuckDB CLI.
# Exit code 0 tells DataKitOperator to load /datakit/outputs/customers.parquet.
set -eu
echo "customer-cleanse ${DATAKIT_VERSION:-?}: run ${DATAKIT_RUN_ID:-?}"
echo "configuration: ${DATAKIT_CONFIG:-{\}}"
if [ ! -f /datakit/inputs/customers.parquet ]; then
    echo "error: /datakit/inputs/customers.parquet is missing" >&2
    exit 2
fi
duckdb -batch :memory: < /kit/transform.sql
echo "customer-cleanse: wrote /datakit/outputs/customers.parquet"
