#!/usr/bin/env bash
# `make run`: DynamoDB Local + tables + `cargo lambda watch` serving the API on
# http://127.0.0.1:${API_PORT:-9000}. Ctrl-C stops everything it started.
source "$(dirname "$0")/common.sh"
cd "$ROOT"
trap stop_children EXIT
trap 'exit 130' INT TERM

install_tools
start_dynamodb "${DYNAMODB_PORT:-8000}"
export USERS_TABLE="${USERS_TABLE:-tokengate-users}"
export TOKENS_TABLE="${TOKENS_TABLE:-tokengate-tokens}"
KEY_RING_FILE="${KEY_RING_FILE:-$(local_key_ring)}"
export KEY_RING_FILE
cargo run --quiet -p create-tables
log "API on http://127.0.0.1:${API_PORT:-9000} (Ctrl-C to stop)"
setsid cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "${API_PORT:-9000}" &
started $!
wait "${CHILD_PIDS[-1]}"
