#!/usr/bin/env bash
# `make test`: lint, then every test against a DynamoDB Local of its own, with the API running
# under `cargo lambda watch` for the end-to-end tests; then Schemathesis against the API
# (scripts/schemathesis.sh) and the README's examples against `make run`
# (scripts/readme-check.sh), each over a stack of its own. Stops at the first failure; stops
# everything it started.
source "$(dirname "$0")/common.sh"
cd "$ROOT"
trap stop_children EXIT
trap 'exit 130' INT TERM

install_tools
log "checking format and lints"
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --quiet -- -D warnings
log "checking the domain crate's layering (scripts/module-graph.py)"
python3 scripts/module-graph.py
log "linting template.yaml (cfn-lint, sam validate --lint)"
bash scripts/sam.sh lint

log "building"
cargo build --workspace --all-targets --quiet

mkdir -p "$ROOT/target/test-logs"
DYNAMODB_LOG="$ROOT/target/test-logs/dynamodb.log" start_dynamodb "$(free_port)"

# The API under cargo lambda watch, over tables of its own.
api_port=$(free_port)
start_api "$api_port" e2e "$ROOT/target/test-logs/api.log"
export TOKENGATE_API_URL="http://127.0.0.1:$api_port"

log "running the tests"
cargo test --workspace --no-fail-fast "$@"
stop_children

log "Schemathesis against the API (scripts/schemathesis.sh)"
bash scripts/schemathesis.sh

log "README.md's examples against make run (scripts/readme-check.sh)"
bash scripts/readme-check.sh

log "all tests passed in $((SECONDS / 60)) min $((SECONDS % 60)) s"
