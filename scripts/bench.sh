#!/usr/bin/env bash
# `make bench`: builds the release binaries, starts DynamoDB Local, moto's Secrets Manager, the SES
# v2 emulator and cargo lambda's runtime API emulator, runs tools/bench, which prints the table
# and writes bench/results.md. Stops everything it started, on Ctrl-C too. BENCH_QUICK=1 takes
# few samples, for a try-out.
source "$(dirname "$0")/common.sh"
cd "$ROOT"
trap stop_children EXIT
trap 'exit 130' INT TERM HUP

# The reference argon2 CLI: from PATH, else Debian's package `argon2` unpacked into .tools/.
argon2_cli() {
  if command -v argon2 > /dev/null; then
    command -v argon2
    return
  fi
  local cli="$TOOLS/argon2/usr/bin/argon2"
  if [ ! -x "$cli" ]; then
    log "unpacking Debian's argon2 package into .tools/argon2"
    local download
    download=$(mktemp -d)
    chmod a+rwx "$download" # apt's download sandbox user writes there
    (cd "$download" && apt-get download -qq argon2)
    dpkg-deb -x "$download"/argon2_*.deb "$TOOLS/argon2"
    rm -rf "$download"
  fi
  echo "$cli"
}

install_tools
cli=$(argon2_cli)

log "building the release binaries"
# Three builds, so that features unified across one build's packages stay what each deploys with.
build_release_functions
cargo build --release --quiet -p hello-lambda
cargo build --release --quiet -p bench

mkdir -p "$ROOT/target/bench-logs"
DYNAMODB_LOG="$ROOT/target/bench-logs/dynamodb.log" start_dynamodb "$(free_port)"
MOTO_LOG="$ROOT/target/bench-logs/moto.log" start_secrets_manager "$(free_port)"
MAIL_LOG="$ROOT/target/bench-logs/mail.log" start_mail "$(free_port)"

emulator_port=$(free_port)
log "starting cargo lambda's runtime API emulator on 127.0.0.1:$emulator_port"
setsid cargo lambda watch --only-lambda-apis --invoke-address 127.0.0.1 \
  --invoke-port "$emulator_port" > "$ROOT/target/bench-logs/emulator.log" 2>&1 &
started $!
wait_for_port "$emulator_port" 60 "$!"

log "running the bench (a few minutes)"
BENCH_FUNCTIONS_DIR="$ROOT/target/release" \
  BENCH_ARGON2_CLI="$cli" \
  BENCH_RUNTIME_API="127.0.0.1:$emulator_port" \
  BENCH_RESULTS="$ROOT/bench/results.md" \
  BENCH_TEMPLATE="$ROOT/template.yaml" \
  "$ROOT/target/release/bench"
