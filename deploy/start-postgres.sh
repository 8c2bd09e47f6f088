#!/usr/bin/env bash
# Start the local PostgreSQL cluster and create the test role and database (idempotent).
set -euo pipefail
command -v pg_lsclusters >/dev/null || exit 0
read -r ver name _ < <(pg_lsclusters -h | head -1) || exit 0
pg_lsclusters -h | grep -q online || pg_ctlcluster "$ver" "$name" start
for _ in $(seq 50); do su postgres -c "pg_isready -q" && break; sleep 0.2; done
psql_as_pg() { su postgres -c "psql -v ON_ERROR_STOP=1 -qtAc \"$1\""; }
[ "$(psql_as_pg "SELECT 1 FROM pg_roles WHERE rolname='clinicline'")" = 1 ] ||
  psql_as_pg "CREATE ROLE clinicline LOGIN PASSWORD 'clinicline' CREATEDB"
[ "$(psql_as_pg "SELECT 1 FROM pg_database WHERE datname='clinicline_test'")" = 1 ] ||
  psql_as_pg "CREATE DATABASE clinicline_test OWNER clinicline"
