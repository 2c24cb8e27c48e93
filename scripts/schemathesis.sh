#!/usr/bin/env bash
# Schemathesis against openapi.yaml: property-based tests of every route with every check, over
# an API of its own (DynamoDB Local + `cargo lambda watch`, fresh tables, a random signing key,
# a seeded account). Exits non-zero on any finding. Stops everything it started.
#
#   bash scripts/schemathesis.sh                          # the default budget
#   SCHEMATHESIS_MAX_EXAMPLES=200 bash scripts/schemathesis.sh
#   bash scripts/schemathesis.sh --seed 42                # extra arguments go to `schemathesis run`
#
# Schemathesis' configuration and hooks are scripts/schemathesis/schemathesis.toml and
# scripts/schemathesis/hooks.py. Logs, a JUnit report and Schemathesis' own files (for
# `st replay`) go to target/schemathesis/.
source "$(dirname "$0")/common.sh"
cd "$ROOT"

SCHEMATHESIS_VERSION=4.32.5
SCHEMATHESIS_VENV="$TOOLS/schemathesis-venv"
# Test cases per operation and phase.
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-100}
SCHEMATHESIS_DIR="$ROOT/scripts/schemathesis"
WORK="$ROOT/target/schemathesis"

trap stop_children EXIT
trap 'exit 130' INT TERM HUP

# Installs Schemathesis (PyPI) into .tools/schemathesis-venv, once per version.
install_schemathesis() {
  install_venv "$SCHEMATHESIS_VENV" "schemathesis==$SCHEMATHESIS_VERSION"
}

install_tools
install_schemathesis

log "building the functions"
cargo build --workspace --bins --quiet

rm -rf "$WORK"
mkdir -p "$WORK"
DYNAMODB_LOG="$WORK/dynamodb.log" start_dynamodb "$(free_port)"
MAIL_LOG="$WORK/mail.log" start_mail "$(free_port)"

# The API under cargo lambda watch, over tables of its own, as scripts/test.sh runs it.
# Login throttling is relaxed: the fuzzer sends POST /auth/password with wrong current passwords
# by design, and a locked seed account would turn every later authenticated case into a 401.
api_port=$(free_port)
start_api "$api_port" schemathesis "$WORK/api.log" \
  LOGIN_MAX_FAILURES=1000 LOGIN_FAILURE_WINDOW_SECONDS=1
api="http://127.0.0.1:$api_port"

# The seed account: the credentials Schemathesis authenticates with.
export SEED_EMAIL="seed-$api_port@example.com"
SEED_PASSWORD="seed-$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
export SEED_PASSWORD
log "seeding $SEED_EMAIL and warming up every function"
seed_token=$(python3 "$SCHEMATHESIS_DIR/seed.py" "$api")
# The first call of a function starts its process: make it now, not inside a timed test case,
# for every route of the route table. With no credentials and no body each answers 4xx (the
# property tests hold every handler to that); none revokes anything.
cargo run --quiet -p routes -- json > "$WORK/routes.json"
export TOKENGATE_ROUTES="$WORK/routes.json"
while read -r method path; do
  curl -s -o /dev/null --max-time 120 -X "$method" "$api${path//\{id\}/AAAAAAAAAAAAAAAAAAAAAA}" || true
done < <(python3 -c 'import json, sys
for f in json.load(open(sys.argv[1]))["functions"]:
    if f["route"]: print(f["route"]["method"], f["route"]["path"])' "$TOKENGATE_ROUTES")
verified=$(curl -s --max-time 120 -H "Authorization: Bearer $seed_token" "$api/auth/verify")
case "$verified" in
  *'"valid":true'*) ;;
  *) log "the seeded token does not verify: $verified"; exit 1 ;;
esac

# scripts/schemathesis/ holds the configuration (credentials per security scheme, as ${...} that
# Schemathesis expands from the environment: SEED_EMAIL, SEED_PASSWORD) and the hooks (they drop
# the failures that are not the API's, counted below, and keep the seed account usable); each
# file says more.
log "schemathesis $SCHEMATHESIS_VERSION against $api ($MAX_EXAMPLES examples per operation)"
cd "$WORK"
status=0
# No __pycache__ in scripts/schemathesis/ from importing the hooks.
PYTHONPATH="$SCHEMATHESIS_DIR" SCHEMATHESIS_HOOKS=hooks PYTHONDONTWRITEBYTECODE=1 \
  TOKENGATE_OPENAPI="$ROOT/openapi.yaml" TOKENGATE_DROPPED_LOG="$WORK/dropped.tsv" \
  TOKENGATE_RESPONSES_LOG="$WORK/responses.tsv" \
  "$SCHEMATHESIS_VENV/bin/schemathesis" --config-file "$SCHEMATHESIS_DIR/schemathesis.toml" \
  run "$ROOT/openapi.yaml" --url "$api" \
  --max-examples "$MAX_EXAMPLES" \
  --workers 1 \
  --request-timeout 30 \
  --generation-database none \
  --report junit --report-junit-path "$WORK/junit.xml" \
  "$@" || status=$?
if [ -s "$WORK/responses.tsv" ]; then
  log "responses by operation, generation mode and status (target/schemathesis/responses.tsv):"
  sort "$WORK/responses.tsv" | uniq -c | awk '{ printf "  %5d  %-22s %-9s %s\n", $1, $2 " " $3, $4, $5 }' >&2
fi
if [ -s "$WORK/dropped.tsv" ]; then
  log "failures dropped as not the API's (target/schemathesis/dropped.tsv), by test cases:"
  sort -u "$WORK/dropped.tsv" | cut -f2,3 | sort | uniq -c | sort -rn >&2
fi
exit "$status"
