#!/usr/bin/env bash
# The main job, from a fresh clone: install Meltano and the plugins, start the sandbox, run
# `meltano run tap-rest target-duckdb`, print each stream's row count read back from the DuckDB
# file, and stop the sandbox, also on failure or Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
DB=output/tap_rest.duckdb

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

log "installing tap-rest (.venv), Meltano (.venv-meltano) and the plugins (.meltano)"
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e ".[sandbox]"
bash scripts/meltano.sh

mkdir -p .demo output
log "starting the sandbox"
.venv/bin/tap-rest-sandbox --port 0 > .demo/sandbox.log 2>&1 &
SANDBOX=$!
trap 'kill "$SANDBOX" 2>/dev/null || true; wait "$SANDBOX" 2>/dev/null || true' EXIT
trap 'exit 130' INT TERM
URL=""
for _ in $(seq 100); do
  URL=$(grep -o 'listening on http://127.0.0.1:[0-9]*' .demo/sandbox.log | cut -d' ' -f3 || true)
  [ -n "$URL" ] && break
  kill -0 "$SANDBOX" 2>/dev/null || { cat .demo/sandbox.log >&2; exit 1; }
  sleep 0.1
done
[ -n "$URL" ] || { echo "the sandbox did not start: $(cat .demo/sandbox.log)" >&2; exit 1; }

export TAP_REST_JSONPLACEHOLDER_URL="$URL" TAP_REST_POKEAPI_URL="$URL/api/v2"
export TARGET_DUCKDB_PATH="$PWD/$DB"
rm -f "$DB" "$DB.wal"

log "meltano run tap-rest target-duckdb (sandbox at $URL)"
start=$(date +%s.%N)
.venv-meltano/bin/meltano run --state-id-suffix "demo-$(date +%s)" tap-rest target-duckdb \
  > .demo/meltano.log 2>&1 || { tail -30 .demo/meltano.log >&2; exit 1; }
end=$(date +%s.%N)
grep -o 'Summary: .*' .demo/meltano.log | sed 's/^/  /' >&2 || true

.meltano/loaders/target-duckdb/venv/bin/python - "$DB" "$start" "$end" <<'PY'
import sys
import duckdb

db, start, end = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
con = duckdb.connect(db, read_only=True)
catalog = con.execute("select current_database()").fetchone()[0]
tables = [r[0] for r in con.execute(
    "select table_name from information_schema.tables"
    " where table_catalog = ? and table_schema = 'tap_rest' order by 1", [catalog]
).fetchall()]
rows = {
    t: con.execute(f'select count(*) from "{catalog}".tap_rest."{t}"').fetchone()[0]
    for t in tables
}
width = max(map(len, rows), default=6)
print(f"\n{'stream':<{width}}  {'rows':>7}")
print(f"{'-' * width}  {'-' * 7}")
for table, n in rows.items():
    print(f"{table:<{width}}  {n:>7,}")
print(f"{'-' * width}  {'-' * 7}")
print(f"{'total':<{width}}  {sum(rows.values()):>7,}")
print(f"\n{len(rows)} streams loaded into {db} by meltano run in {end - start:.1f} s")
PY
