#!/usr/bin/env bash
# The README check, part of `make test`: starts `make run` on free ports (through API_PORT and
# DYNAMODB_PORT, as the README tells a reader), then runs every `sh`, `js` and `python` block of
# README.md against it in order with scripts/readme_check.py, which says what is run and what is
# not. Fails on a block that exits non-zero or a `curl` with an unexpected status. Stops
# everything it started. Logs and the block files go to target/readme-check/.
source "$(dirname "$0")/common.sh"
cd "$ROOT"
trap stop_children EXIT
trap 'exit 130' INT TERM HUP

REQUESTS_VERSION=2.34.2
README_VENV="$TOOLS/readme-venv"
WORK="$ROOT/target/readme-check"

# Installs `requests` (PyPI), which the README's Python example uses, into .tools/readme-venv.
install_requests() {
  install_venv "$README_VENV" "requests==$REQUESTS_VERSION"
}

install_tools
install_requests
command -v node > /dev/null || { log "node is needed for the README's JavaScript example"; exit 1; }

rm -rf "$WORK"
mkdir -p "$WORK"
api_port=$(free_port)
dynamodb_port=$(free_port)
while [ "$dynamodb_port" = "$api_port" ]; do dynamodb_port=$(free_port); done
mail_port=$(free_port)
while [ "$mail_port" = "$api_port" ] || [ "$mail_port" = "$dynamodb_port" ]; do mail_port=$(free_port); done
functions_port=$(free_port)
while [ "$functions_port" = "$api_port" ] || [ "$functions_port" = "$dynamodb_port" ] \
  || [ "$functions_port" = "$mail_port" ]; do functions_port=$(free_port); done
log "make run with API_PORT=$api_port DYNAMODB_PORT=$dynamodb_port MAIL_PORT=$mail_port FUNCTIONS_PORT=$functions_port (log: target/readme-check/make-run.log)"
API_PORT=$api_port DYNAMODB_PORT=$dynamodb_port MAIL_PORT=$mail_port FUNCTIONS_PORT=$functions_port \
  setsid make --no-print-directory run \
  > "$WORK/make-run.log" 2>&1 &
started $!
if ! wait_for_port "$api_port" 300 "$!"; then
  tail -n 20 "$WORK/make-run.log" >&2
  exit 1
fi

log "running README.md's examples against http://127.0.0.1:$api_port"
status=0
python3 scripts/readme_check.py --readme README.md --api "http://127.0.0.1:$api_port" \
  --mail "http://127.0.0.1:$mail_port" \
  --python "$README_VENV/bin/python" --work "$WORK" || status=$?
if [ "$status" != 0 ]; then
  log "make run's log (the end of target/readme-check/make-run.log):"
  tail -n 30 "$WORK/make-run.log" >&2
  exit "$status"
fi

# `make run` reloads functions when sources change, not when a tool writes its cache folder
# into the tree: those are in .gitignore, which `cargo lambda watch` honours. A restart shows as
# a function being run again.
log "checking that caches written into the tree restart no function"
starts() { grep -c 'Running `target/debug/' "$WORK/make-run.log" || true; }
curl -s -o /dev/null --max-time 10 "http://127.0.0.1:$api_port/auth/verify?authToken=probe"
before=$(starts)
for cache in .hypothesis __pycache__ proptest-regressions node_modules; do
  mkdir -p "$ROOT/$cache" && date > "$ROOT/$cache/readme-check-probe"
done
sleep 3
curl -s -o /dev/null --max-time 10 "http://127.0.0.1:$api_port/auth/verify?authToken=probe"
sleep 1
after=$(starts)
for cache in .hypothesis __pycache__ proptest-regressions node_modules; do
  rm -f "$ROOT/$cache/readme-check-probe"
  rmdir "$ROOT/$cache" 2>/dev/null || true
done
if [ "$after" != "$before" ]; then
  log "a cache folder written into the tree restarted functions ($before -> $after starts)"
  exit 1
fi
