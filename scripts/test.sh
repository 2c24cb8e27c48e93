#!/usr/bin/env bash
# `make test`: lint, then every test against a DynamoDB Local of its own, with the API running
# as `make run` runs it (the local front before `cargo lambda watch`) for the end-to-end tests; then Schemathesis against the API
# (scripts/schemathesis.sh), `make run`'s start and stop (scripts/run-check.py) and the README's
# examples against `make run` (scripts/readme-check.sh), each over a stack of its own. Stops at the first failure; stops
# everything it started, and fails if anything any of its scripts started is still alive.
source "$(dirname "$0")/common.sh"
cd "$ROOT"
mkdir -p "$ROOT/target/test-logs"
rm -f "$TOKENGATE_GROUPS_FILE"
export TOKENGATE_GROUPS_FILE="$ROOT/target/test-logs/process-groups"
: > "$TOKENGATE_GROUPS_FILE"
GROUPS_MARK=0

# At exit, whatever the outcome: stop the groups this script started itself, then check that
# every process group any script of the run started is gone (each script must stop its own).
finish() {
  local status=$? group left=()
  [ "$status" -ne 0 ] && print_phases
  stop_groups "${CHILD_PIDS[@]}"
  # A group counts when it is alive and still ours (its processes run from this checkout or
  # are DynamoDB Local or cargo lambda), not when its id was reused by something else.
  while read -r group; do
    if group_alive "$group" && ps -e -o pgid=,args= | awk -v group="$group" '$1 == group' \
      | grep -qE "$ROOT|DynamoDBLocal|cargo-lambda"; then
      left+=("$group")
    fi
  done < "$TOKENGATE_GROUPS_FILE"
  if [ ${#left[@]} -gt 0 ]; then
    log "still running after make test, process groups: ${left[*]}"
    ps -e -o pgid=,pid=,args= | awk -v groups=" ${left[*]} " 'index(groups, " " $1 " ")' >&2
    kill -KILL -- "${left[@]/#/-}" 2>/dev/null || true
    exit 1
  fi
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT TERM HUP

# Each phase's time, printed at the end (and at a failure, up to the phase that failed).
PHASES=() PHASE="" PHASE_START=$SECONDS
phase() {
  [ -n "$PHASE" ] && PHASES+=("$(printf '%6s  %s' "$(( (SECONDS - PHASE_START) / 60 ))m$(( (SECONDS - PHASE_START) % 60 ))s" "$PHASE")")
  PHASE=$1 PHASE_START=$SECONDS
  if [ -n "$1" ]; then log "$1"; fi
}
print_phases() {
  phase ""
  log "time per phase:"
  printf '  %s\n' "${PHASES[@]}" >&2
}

phase "installing tools"
install_tools
install_chromium
phase "checking format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
phase "checking that the functions run the patched lambda_runtime (vendor/README.md)"
if ! cargo tree --quiet -i lambda_runtime --depth 0 | grep -q "$ROOT/vendor/lambda_runtime"; then
  echo "lambda_runtime does not resolve to vendor/lambda_runtime: its per-invocation leak is back" >&2
  exit 1
fi
phase "checking that what the route table derives is what tools/routes writes (template.yaml, functions/Cargo.toml, README.md)"
cargo run --quiet -p routes -- check
phase "checking the domain crate's layering (scripts/module-graph.py)"
python3 scripts/module-graph.py
phase "checking that docs/scale.md is what scripts/scale.py makes of bench/results.md and docs/prices.toml"
python3 scripts/scale.py --check
phase "linting template.yaml (cfn-lint, sam validate --lint)"
bash scripts/sam.sh lint

phase "building"
cargo build --workspace --all-targets --quiet

phase "starting DynamoDB Local, moto, the SES emulator and the API"
DYNAMODB_LOG="$ROOT/target/test-logs/dynamodb.log" start_dynamodb "$(free_port)"
MOTO_LOG="$ROOT/target/test-logs/moto.log" start_secrets_manager "$(free_port)"
MAIL_LOG="$ROOT/target/test-logs/mail.log" start_mail "$(free_port)"

# The API (the local front before cargo lambda watch), over tables of its own, its functions
# logging at the finest level a deployment can set: the end-to-end tests scan that log for the
# secrets they sent. CORS is narrowed to one origin, the browser test's page.
api_port=$(free_port)
page_port=$(free_port)
export TOKENGATE_PAGE_PORT="$page_port" TOKENGATE_PAGE_ORIGIN="http://127.0.0.1:$page_port"
export CORS_ALLOWED_ORIGINS="$TOKENGATE_PAGE_ORIGIN"
rm -f "$ROOT/target/keyrings/e2e-$api_port.json"
export TOKENGATE_API_LOG="$ROOT/target/test-logs/api.log"
start_api "$api_port" e2e "$TOKENGATE_API_LOG" RUST_LOG=trace KEY_RING_REFRESH_SECONDS=1
export TOKENGATE_API_URL="http://127.0.0.1:$api_port"
# The functions' own invoke API (cargo lambda watch's), which the API's port does not serve.
export TOKENGATE_FUNCTIONS_URL="http://127.0.0.1:$API_FUNCTIONS_PORT"

phase "running the tests"
cargo test --workspace --no-fail-fast "$@"
stop_children
unset KEY_RING_FILE CORS_ALLOWED_ORIGINS

phase "Schemathesis against the API (scripts/schemathesis.sh)"
bash scripts/schemathesis.sh

phase "make run: a taken port fails it, INT, TERM and HUP stop all it started (scripts/run-check.py)"
python3 scripts/run-check.py

phase "README.md's examples against make run (scripts/readme-check.sh)"
bash scripts/readme-check.sh

print_phases
log "all tests passed in $((SECONDS / 60)) min $((SECONDS % 60)) s"
