#!/usr/bin/env bash
# make restore-drill: proves that the backups restore, to a point in time. On the running stack:
#   1. counts the rows of the shop's tables on the leader and notes that moment, T;
#   2. after T, adds one customer (a marker row, removed at the end), so the live count moves on;
#   3. has the backup service check the repository (pgbackrest check: the current WAL segment is
#      archived, so the WAL past T is in MinIO);
#   4. restores the newest backup from before T and replays the WAL up to T into a scratch
#      instance (compose's restore-drill service, pg-restore-drill) and counts the same tables.
# It prints both counts side by side, and fails unless every table matches the count at T: the
# marker, written after T, must not be there. A backup must exist (the backup service takes one
# after the seed; make backup takes one now).
set -euo pipefail
cd "$(dirname "$0")/../.."
. infra/scripts/lib.sh
set -a; . ./.env; [ ! -f .env.local ] || . ./.env.local; set +a

tables=(products categories customers orders order_lines)
leader=$(pg_leader)
sql() { docker compose exec -T "$leader" psql -XAtq -U postgres -d "$PG_DATABASE" -v ON_ERROR_STOP=1 -c "$1"; }

# One snapshot for every count, and T taken after it: nothing commits in between in a quiet shop
# (run it without load; a write in that window would show as a mismatch, never pass unseen).
counts_sql="BEGIN ISOLATION LEVEL REPEATABLE READ;"
for t in "${tables[@]}"; do counts_sql+=" SELECT '$t', count(*) FROM $t;"; done
counts_sql+=" COMMIT;"
declare -A at_t restored
while IFS='|' read -r t n; do [ -n "$t" ] && at_t[$t]=$n; done < <(sql "$counts_sql")
target=$(sql "SELECT clock_timestamp()")
log "restore-drill: leader $leader; T = $target"
sleep 1

marker="restore-drill-$(date +%s)@shop.test"
sql "INSERT INTO customers (email, password_hash) VALUES ('$marker', 'not a password hash')" >/dev/null
trap 'sql "DELETE FROM customers WHERE email = '"'$marker'"'" >/dev/null || true' EXIT
log "restore-drill: after T, added customer $marker (removed at the end)"

docker compose exec -T backup pgbackrest check --log-level-console=warn
log "restore-drill: pgbackrest check passed: the WAL up to now is in the repository"

log "restore-drill: restoring to T into a scratch instance"
out=$(docker compose --profile tools run --rm -T restore-drill "$target" "${tables[@]}")
seconds=
while read -r t n; do
  case "$t" in
    seconds) seconds=$n ;;
    ?*) restored[$t]=$n ;;
  esac
done <<<"$out"

now_customers=$(sql "SELECT count(*) FROM customers")
fail=0
printf '\n| table | rows at T (live) | rows restored to T | |\n|---|---:|---:|---|\n'
for t in "${tables[@]}"; do
  ok=match
  if [ "${restored[$t]:-missing}" != "${at_t[$t]}" ]; then ok=MISMATCH; fail=1; fi
  printf '| %s | %s | %s | %s |\n' "$t" "${at_t[$t]}" "${restored[$t]:-missing}" "$ok"
done
printf '\ncustomers now (live, with the marker written after T): %s\n' "$now_customers"
printf 'restore and recovery took %s s\n' "${seconds:-?}"
if [ "$fail" = 0 ]; then
  echo "restore-drill: PASS: the restore to T has every table's rows at T, and not the row written after it"
else
  echo "restore-drill: FAIL: the restored counts differ from the counts at T" >&2
  exit 1
fi
