#!/usr/bin/env bash
# `make run`: DynamoDB Local, the SES v2 emulator, tables, the functions under `cargo lambda
# watch` (invoke API on FUNCTIONS_PORT, default 9001), the local API front serving
# template.yaml's REST API on http://127.0.0.1:${API_PORT:-9000} (tools/front), and the outbox
# relay that wakes the mailer. CORS_ALLOWED_ORIGINS narrows CORS as the stack's parameter does.
# Before it starts anything it fails, naming the port and its variable, when one of those four
# ports is taken (another DynamoDB Local, a stale run); a server that dies at start-up fails it.
# Ctrl-C (INT), TERM and HUP stop everything it started.
source "$(dirname "$0")/common.sh"
cd "$ROOT"
trap stop_children EXIT
trap 'exit 130' INT TERM HUP

api_port="${API_PORT:-9000}"
dynamodb_port="${DYNAMODB_PORT:-8000}"
mail_port="${MAIL_PORT:-8005}"
functions_port="${FUNCTIONS_PORT:-9001}"
require_free_ports API_PORT="$api_port" DYNAMODB_PORT="$dynamodb_port" MAIL_PORT="$mail_port" \
  FUNCTIONS_PORT="$functions_port"

install_tools
start_dynamodb "$dynamodb_port"
start_mail "$mail_port"
export USERS_TABLE="${USERS_TABLE:-tokengate-users}"
export TOKENS_TABLE="${TOKENS_TABLE:-tokengate-tokens}"
export OUTBOX_TABLE="${OUTBOX_TABLE:-tokengate-outbox}"
KEY_RING_FILE="${KEY_RING_FILE:-$(local_key_ring)}"
export KEY_RING_FILE
cargo run --quiet -p create-tables
cargo build --quiet -p outbox-relay
setsid cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$functions_port" \
  --env-var "CORS_ALLOWED_ORIGINS=${CORS_ALLOWED_ORIGINS:-*}" &
started $!
watch_pid=$!
wait_for_port "$functions_port" 300 "$watch_pid"
mkdir -p "$ROOT/target"
start_front "$api_port" "$functions_port" "$ROOT/target/front.log"
start_relay "$functions_port" "$OUTBOX_TABLE" "$ROOT/target/outbox-relay.log"
log "API on http://127.0.0.1:$api_port (template.yaml's REST API, functions under cargo lambda watch on :$functions_port), mail at http://127.0.0.1:$mail_port (Ctrl-C to stop)"
wait "$watch_pid"
