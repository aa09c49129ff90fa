#!/usr/bin/env bash
# make secrets: writes .env.local with a fresh random value for every development secret of .env
# (each starts with "dev-") and FLASHCROWD_ENV=production, under which every service refuses a
# development secret. The Makefile lays .env.local over .env for every compose command.
set -euo pipefail
cd "$(dirname "$0")/../.."

out=.env.local
if [ -e "$out" ] && [ "${FORCE:-}" != 1 ]; then
  echo "$out exists; FORCE=1 make secrets replaces it (then make down: Postgres keeps the passwords it was created with)" >&2
  exit 1
fi
umask 077
secrets=$(grep -cE '^[A-Z0-9_]+=dev-' .env)
{
  echo "# Written by make secrets on $(date -u +%FT%TZ). Laid over .env by the Makefile; never commit it."
  echo "FLASHCROWD_ENV=production"
  # No profile listener: what make profile reads is for development.
  echo "DEBUG_ADDR="
  # 24 random bytes as 48 hex digits: long enough (IDENTITY_KEY wants 32+ characters), and safe
  # in URLs, ini files and shell.
  grep -E '^[A-Z0-9_]+=dev-' .env | cut -d= -f1 | while read -r name; do
    echo "$name=$(od -An -N24 -tx1 /dev/urandom | tr -d ' \n')"
  done
} >"$out"
echo "wrote $out: $secrets fresh secrets, FLASHCROWD_ENV=production."
echo "Postgres, MinIO and Redis take their passwords from the first start: run make down (it deletes the data) before make up."
