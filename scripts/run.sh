#!/usr/bin/env bash
# `make run`: DynamoDB Local, the SES v2 emulator, tables, `cargo lambda watch` serving the API
# on http://127.0.0.1:${API_PORT:-9000}, and the outbox relay that wakes the mailer. Ctrl-C
# stops everything it started.
source "$(dirname "$0")/common.sh"
cd "$ROOT"
trap stop_children EXIT
trap 'exit 130' INT TERM

install_tools
start_dynamodb "${DYNAMODB_PORT:-8000}"
start_mail "${MAIL_PORT:-8005}"
export USERS_TABLE="${USERS_TABLE:-tokengate-users}"
export TOKENS_TABLE="${TOKENS_TABLE:-tokengate-tokens}"
export OUTBOX_TABLE="${OUTBOX_TABLE:-tokengate-outbox}"
KEY_RING_FILE="${KEY_RING_FILE:-$(local_key_ring)}"
export KEY_RING_FILE
cargo run --quiet -p create-tables
cargo build --quiet -p outbox-relay
log "API on http://127.0.0.1:${API_PORT:-9000}, mail at http://127.0.0.1:${MAIL_PORT:-8005} (Ctrl-C to stop)"
setsid cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "${API_PORT:-9000}" &
started $!
watch_pid=$!
wait_for_port "${API_PORT:-9000}" 300
mkdir -p "$ROOT/target"
start_relay "${API_PORT:-9000}" "$OUTBOX_TABLE" "$ROOT/target/outbox-relay.log"
wait "$watch_pid"
