#!/usr/bin/env bash
# `make soak`: SOAK_MINUTES (default 30) of mixed traffic from SOAK_CLIENTS (default 16) clients
# against the stack `make run` runs (DynamoDB Local, the SES emulator, the local front, the
# outbox relay) with the functions' release builds: one process per function, each a warm
# container polling cargo lambda's runtime API emulator (as `make bench` runs them), so memory is
# measured on exactly the binaries that deploy. Then the report: per-route figures, the functions'
# memory growth, 5xx answers, an audit of the tables; written to bench/soak.md by tools/soak.
# Not part of `make test`. Stops everything it started.
source "$(dirname "$0")/common.sh"
cd "$ROOT"
trap stop_children EXIT
trap 'exit 130' INT TERM HUP

install_tools
log "building the release binaries (functions, soak) and the front"
build_release_functions
cargo build --release --quiet -p soak
cargo build --quiet -p front -p outbox-relay -p keyring -p create-tables

WORK="$ROOT/target/soak"
rm -rf "$WORK"
mkdir -p "$WORK"
DYNAMODB_LOG="$WORK/dynamodb.log" start_dynamodb "$(free_port)"
MAIL_LOG="$WORK/mail.log" start_mail "$(free_port)"
api_port=$(free_port)
functions_port=$(free_port)
export USERS_TABLE="soak-users-$api_port" TOKENS_TABLE="soak-tokens-$api_port"
export OUTBOX_TABLE="soak-outbox-$api_port" KEY_RING_FILE="$WORK/keyring.json"
cargo run --quiet -p keyring -- init "$KEY_RING_FILE"
cargo run --quiet -p create-tables

log "starting cargo lambda's runtime API emulator on 127.0.0.1:$functions_port"
setsid cargo lambda watch --only-lambda-apis --invoke-address 127.0.0.1 \
  --invoke-port "$functions_port" > "$WORK/emulator.log" 2>&1 &
started $!
wait_for_port "$functions_port" 60 "$!"

# One warm container per function (rotate-key serves Secrets Manager, not the API). The
# authorizer keeps what it verified for an hour, so the warm-up fills its cache and the run keeps
# it full; the functions log at info, as deployed by default.
for name in $(cargo run --quiet -p routes -- names); do
  [ "$name" = rotate-key ] && continue
  AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$functions_port/.rt/$name" AWS_LAMBDA_FUNCTION_NAME="$name" \
    AWS_LAMBDA_FUNCTION_VERSION=1 AWS_LAMBDA_FUNCTION_MEMORY_SIZE=128 \
    AUTHORIZER_CACHE_SECONDS=3600 RUST_LOG=info CORS_ALLOWED_ORIGINS='*' \
    setsid "$ROOT/target/release/$name" > "$WORK/$name.log" 2>&1 &
  started $!
done
start_front "$api_port" "$functions_port" "$WORK/front.log"
start_relay "$functions_port" "$OUTBOX_TABLE" "$WORK/relay.log"

log "soak: ${SOAK_MINUTES:-30} minutes against http://127.0.0.1:$api_port (logs: target/soak/)"
SOAK_API="http://127.0.0.1:$api_port" SOAK_MAIL="$AWS_ENDPOINT_URL_SESV2" \
  SOAK_FUNCTIONS_DIR="$ROOT/target/release" SOAK_REPORT="$ROOT/bench/soak.md" \
  "$ROOT/target/release/soak"
