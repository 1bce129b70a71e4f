#!/usr/bin/env bash
# `make run`: set everything up and start Airflow with the platform on http://localhost:$PORT.
set -euo pipefail
cd "$(dirname "$0")/.."
export AIRFLOW_VERSION="${AIRFLOW_VERSION:-3.3.2}" PORT="${PORT:-8080}"
venv="$(bash scripts/venv.sh "$AIRFLOW_VERSION")"
export PATH="$PWD/$venv/bin:$PATH"
source scripts/airflow-env.sh

echo "==> migrating the metadata DB in $AIRFLOW_HOME"
airflow db migrate >"$AIRFLOW_HOME/migrate.log" 2>&1 || { tail -30 "$AIRFLOW_HOME/migrate.log"; exit 1; }
airflow-platform db migrate   # the platform tables (Airflow 2) and FAB permissions (both)

password_file="$AIRFLOW_HOME/admin-password"
if [ ! -s "$password_file" ]; then
  (umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(12))' > "$password_file")
fi
password="$(cat "$password_file")"
if ! airflow users list 2>/dev/null | grep -qw admin; then
  airflow users create -r Admin -u admin -p "$password" -e admin@example.com -f Platform -l Admin >/dev/null 2>&1
fi

key_file="$AIRFLOW_HOME/api-key"
if [ ! -s "$key_file" ] || ! airflow-platform keys verify --key-file "$key_file" >/dev/null 2>&1; then
  (umask 077; airflow-platform keys create --user admin --name "make run" --quiet > "$key_file")
fi
(umask 077; cp "$key_file" .airflow/api-key)
api_key="$(cat "$key_file")"

echo "==> seeding the demo warehouse (bronze, silver, gold)"
airflow-platform demo seed

example_kit="datakits_examples/customer_cleanse"
if docker info >/dev/null 2>&1; then
  echo "==> building the example DataKit image (customer-cleanse)"
  bash "$example_kit/build.sh" || echo "    (build failed: the bronze_to_silver_pipeline example will fail until it builds)"
else
  echo "==> no Docker engine here: the example DataKit image is not built (DataKit runs need Docker)"
fi

pids=()
stop() { trap - INT TERM EXIT; echo; echo "==> stopping"; kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap stop INT TERM EXIT

logs="$AIRFLOW_HOME/logs"; mkdir -p "$logs"
case "$AIRFLOW_VERSION" in
  3.*)
    airflow api-server --host 0.0.0.0 --port "$PORT" >"$logs/api-server.out" 2>&1 & pids+=($!)
    airflow scheduler >"$logs/scheduler.out" 2>&1 & pids+=($!)
    airflow dag-processor >"$logs/dag-processor.out" 2>&1 & pids+=($!)
    ;;
  *)
    airflow webserver --hostname 0.0.0.0 --port "$PORT" >"$logs/webserver.out" 2>&1 & pids+=($!)
    airflow scheduler >"$logs/scheduler.out" 2>&1 & pids+=($!)
    ;;
esac

echo "==> waiting for http://localhost:$PORT"
for _ in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$PORT/api/v1/platform/health" >/dev/null 2>&1; then break; fi
  for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null || { echo "a process died; see $logs"; tail -20 "$logs"/*.out; exit 1; }; done
  sleep 1
done
curl -fsS "http://127.0.0.1:$PORT/api/v1/platform/health" >/dev/null || { echo "server did not come up; see $logs"; exit 1; }

# The example kit in the registry (idempotent: the same version again is accepted as is).
curl -fsS -o /dev/null -X POST -H "X-API-Key: $api_key" -H "Content-Type: application/yaml" \
  --data-binary "@$example_kit/datakit.yaml" "http://127.0.0.1:$PORT/api/v1/datakits" \
  && echo "==> registered the example DataKit customer-cleanse 1.0.0" \
  || echo "==> could not register the example DataKit; see $logs"

cat <<INFO

  Airflow $AIRFLOW_VERSION with Airflow Platform is running on http://localhost:$PORT
  Log in:      admin / $password        (also in $password_file)
  API key:     $api_key        (also in .airflow/api-key)
  Health:      curl -s http://localhost:$PORT/api/v1/platform/health
  Tenants:     curl -s -H "X-API-Key: \$(cat .airflow/api-key)" http://localhost:$PORT/api/v1/platform/tenants
  API docs:    http://localhost:$PORT/api/v1/platform/docs
  CLI:         export AIRFLOW_PLATFORM_URL=http://localhost:$PORT AIRFLOW_PLATFORM_API_KEY=\$(cat .airflow/api-key)
  Example:     airflow-cli dags unpause bronze_to_silver_pipeline && airflow-cli dags trigger bronze_to_silver_pipeline
               (runs the customer-cleanse DataKit: bronze.customers_raw -> silver.customers)
  Logs:        $logs
  Stop:        Ctrl+C

INFO
wait -n "${pids[@]}"
echo "a process exited; see $logs"
