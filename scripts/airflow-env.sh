# Sourced by run.sh and bench.sh: Airflow's settings for a local platform in $AIRFLOW_HOME.
# Usage: AIRFLOW_VERSION=3.3.2 source scripts/airflow-env.sh
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export AIRFLOW_HOME="${AIRFLOW_HOME:-$root/.airflow/$AIRFLOW_VERSION}"
mkdir -p "$AIRFLOW_HOME"
secret_file="$AIRFLOW_HOME/.secret-key"
[ -s "$secret_file" ] || (umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(64))' > "$secret_file")
secret="$(cat "$secret_file")"
# The DAG folder is the installation's own: DataKit deployments write their spec files and the DAG
# factory there; the repository's examples come in through a symlink.
if [ -z "${AIRFLOW__CORE__DAGS_FOLDER:-}" ]; then
  export AIRFLOW__CORE__DAGS_FOLDER="$AIRFLOW_HOME/dags"
  mkdir -p "$AIRFLOW__CORE__DAGS_FOLDER"
  [ -e "$AIRFLOW__CORE__DAGS_FOLDER/examples" ] || ln -s "$root/dags_examples" "$AIRFLOW__CORE__DAGS_FOLDER/examples"
fi
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW__CORE__UNIT_TEST_MODE=False
export AIRFLOW__WEBSERVER__SECRET_KEY="$secret"
export AIRFLOW__API__SECRET_KEY="$secret"
export AIRFLOW__API_AUTH__JWT_SECRET="$secret"
case "$AIRFLOW_VERSION" in
  3.*)
    export AIRFLOW__CORE__AUTH_MANAGER=airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager
    export AIRFLOW__CORE__EXECUTOR="${AIRFLOW__CORE__EXECUTOR:-LocalExecutor}"
    export AIRFLOW__CORE__EXECUTION_API_SERVER_URL="http://127.0.0.1:${PORT:-8080}/execution/"
    ;;
  *)
    # The platform's backend first, so platform API keys work on Airflow's own /api/v1.
    export AIRFLOW__API__AUTH_BACKENDS="airflow_platform.auth.airflow2_backend,airflow.api.auth.backend.session,airflow.api.auth.backend.basic_auth"
    export AIRFLOW__CORE__EXECUTOR="${AIRFLOW__CORE__EXECUTOR:-SequentialExecutor}"
    ;;
esac
