#!/usr/bin/env bash
# Schemathesis against openapi.yaml: property-based tests of every route with every check, over
# an API of its own (DynamoDB Local + `cargo lambda watch`, fresh tables, a random signing key,
# a seeded account). Exits non-zero on any finding. Stops everything it started.
#
#   bash scripts/schemathesis.sh                          # the default budget
#   SCHEMATHESIS_MAX_EXAMPLES=200 bash scripts/schemathesis.sh
#   bash scripts/schemathesis.sh --seed 42                # extra arguments go to `schemathesis run`
#
# Logs, the generated config and hooks, a JUnit report and Schemathesis' own files (for
# `st replay`) go to target/schemathesis/.
source "$(dirname "$0")/common.sh"
cd "$ROOT"

SCHEMATHESIS_VERSION=4.32.5
SCHEMATHESIS_VENV="$TOOLS/schemathesis-venv"
# Test cases per operation and phase.
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-100}
WORK="$ROOT/target/schemathesis"

trap stop_children EXIT
trap 'exit 130' INT TERM

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

# The API under cargo lambda watch, over tables of its own, as scripts/test.sh runs it.
# Login throttling is relaxed: the fuzzer sends POST /auth/password with wrong current passwords
# by design, and a locked seed account would turn every later authenticated case into a 401.
api_port=$(free_port)
(
  export USERS_TABLE="schemathesis-users-$api_port" TOKENS_TABLE="schemathesis-tokens-$api_port"
  export TOKEN_SIGNING_KEY="$(head -c 32 /dev/urandom | base64)"
  export LOGIN_MAX_FAILURES=1000 LOGIN_FAILURE_WINDOW_SECONDS=1
  cargo run --quiet -p create-tables
  exec cargo lambda watch --ignore-changes --invoke-address 127.0.0.1 --invoke-port "$api_port"
) > "$WORK/api.log" 2>&1 &
CHILD_PIDS+=($!)
wait_for_port "$api_port" 300
api="http://127.0.0.1:$api_port"

# The seed account: the credentials Schemathesis authenticates with.
export SEED_EMAIL="seed-$api_port@example.com"
SEED_PASSWORD="seed-$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
export SEED_PASSWORD
log "seeding $SEED_EMAIL and warming up every function"
seed_token=$(python3 - "$api" <<'EOF'
import json, os, sys, urllib.request
api = sys.argv[1]
body = json.dumps({"email": os.environ["SEED_EMAIL"], "password": os.environ["SEED_PASSWORD"],
                   "firstname": "Seed", "lastname": "Account"}).encode()
request = urllib.request.Request(api + "/auth/signup", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
with urllib.request.urlopen(request, timeout=120) as response:
    assert response.status == 201, response.status
    print(json.load(response)["x-auth-token"])
EOF
)
# The first call of a function starts its process: make it now, not inside a timed test case.
# These answer 4xx (no credentials, forged token); none revokes anything.
for route in "GET /api/login-token" "POST /auth/login" "GET /api/me" "POST /auth/logout-all" \
  "POST /auth/password" "POST /auth/logout?authToken=forged"; do
  curl -s -o /dev/null --max-time 120 -X "${route%% *}" "$api${route#* }" || true
done
verified=$(curl -s --max-time 120 -H "Authorization: Bearer $seed_token" "$api/auth/verify")
case "$verified" in
  *'"valid":true'*) ;;
  *) log "the seeded token does not verify: $verified"; exit 1 ;;
esac

# Credentials per security scheme. The token schemes get a token by logging in as the seed
# account, and get a new one after a 401: the run itself revokes tokens (logout, logout-all).
cat > "$WORK/schemathesis.toml" <<'EOF'
[auth.openapi.basicAuth]
username = "${SEED_EMAIL}"
password = "${SEED_PASSWORD}"

[auth.dynamic.openapi.bearerAuth]
path = "/auth/login"
method = "post"
payload = { email = "${SEED_EMAIL}", password = "${SEED_PASSWORD}" }
extract_selector = "/x-auth-token"

[auth.dynamic.openapi.xAuthTokenHeader]
path = "/auth/login"
method = "post"
payload = { email = "${SEED_EMAIL}", password = "${SEED_PASSWORD}" }
extract_selector = "/x-auth-token"

[auth.dynamic.openapi.xAuthTokenQuery]
path = "/auth/login"
method = "post"
payload = { email = "${SEED_EMAIL}", password = "${SEED_PASSWORD}" }
extract_selector = "/x-auth-token"

[auth.dynamic.openapi.authTokenQuery]
path = "/auth/login"
method = "post"
payload = { email = "${SEED_EMAIL}", password = "${SEED_PASSWORD}" }
extract_selector = "/x-auth-token"

[warnings]
fail-on = true
EOF

# Failures that are not the API's, dropped by a `filter_failure` hook; each kind is counted
# and printed at the end (Schemathesis prints the total as "Filtered"). Every other failure, and
# every warning, fails the run.
#  1. Responses that the router in front of the functions made itself, no function having run
#     (anything a function answers carries Cache-Control: no-store; these do not):
#     - a non-empty body that is not UTF-8, sent as text (no Content-Type, text/* or
#       application/json*): `cargo lambda watch` cannot put it in the Lambda event and answers
#       500 {"type":"https://httpstatuses.com/500",...} as text/plain without calling anything.
#       The same bytes sent as application/octet-stream reach the function, which answers 400.
#     - a method the router does not declare for a path: the router answers 404 where
#       Schemathesis expects 405 (`cargo lambda watch` here, API Gateway deployed; openapi.yaml
#       says so). No function runs, so no function can answer 405.
#  2. Negative bodies the server accepts as openapi.yaml documents in prose where JSON Schema
#     cannot say it: emails and names are trimmed (emails also lower-cased) before they are
#     checked, and passwords are bounded in UTF-8 bytes (8 to 1024) while `minLength` counts
#     characters. Dropped only when nothing but the body was generated invalid and the body,
#     normalized as documented, validates against the operation's schema in openapi.yaml.
#  3. POST /auth/login with an invalid body and Basic credentials: documented, the Basic header
#     wins and the body is not read (JSON Schema cannot make a body depend on a header).
#  4. A positive case refused only because a generated password is over 1024 bytes.
#
# A `before_call` hook gives every positive POST /auth/password case the seed account's real
# password as both the current and the new one, so a valid request succeeds (200, a fresh token,
# every other token revoked; the token schemes then log in again) and the account stays usable.
# (A wrong current password is a 401 that re-logging in cannot cure, after which Schemathesis
# stops re-authenticating that operation for the run; the Rust tests cover that 401.)
cat > "$WORK/tokengate_schemathesis_hooks.py" <<'EOF'
import copy
import json
import os
import sys
import jsonschema_rs
import schemathesis
import yaml
from schemathesis.core.parameters import ParameterLocation

with open(os.environ["TOKENGATE_OPENAPI"], encoding="utf-8") as file:
    SPEC = yaml.safe_load(file)
# The spec's components without the character-based password minimum: the byte rule is
# checked on its own below.
_COMPONENTS = copy.deepcopy(SPEC["components"])
_COMPONENTS["schemas"]["Password"].pop("minLength", None)
# What Rust's str::trim removes (Unicode White_Space); Python's str.strip() removes more.
_RUST_WHITESPACE = (
    "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008"
    "\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_TRIMMED = ("email", "firstname", "lastname")
_PASSWORDS = ("password", "current_password", "new_password")
_BODY_OPERATIONS = {"POST /auth/signup", "POST /auth/login", "POST /auth/password"}
_OTHER_LOCATIONS = (
    ParameterLocation.HEADER,
    ParameterLocation.QUERY,
    ParameterLocation.PATH,
    ParameterLocation.COOKIE,
)


def _header(request, name):
    for key, value in request.headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _emulator_body(response):
    if "cache-control" in response.headers:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _sent_as_text_but_not_utf8(request):
    body = request.body
    if not body or isinstance(body, str):
        return False
    try:
        body.decode("utf-8")
        return False
    except UnicodeDecodeError:
        pass
    content_type = _header(request, "Content-Type")
    return content_type is None or content_type.startswith(("text/", "application/json"))


def _json_object(request):
    try:
        body = json.loads(request.body)
    except (TypeError, ValueError):
        return None
    return body if isinstance(body, dict) else None


def _only_body_negative(case):
    meta = case.meta
    if meta is None or not meta.is_negative_at(ParameterLocation.BODY):
        return False
    return not any(meta.is_negative_at(location) for location in _OTHER_LOCATIONS)


def _utf8_len(text):
    return len(text.encode("utf-8", "surrogatepass"))


def _valid_once_normalized(operation, body):
    method, path = operation.split(" ", 1)
    normalized = dict(body)
    for field in _TRIMMED:
        if isinstance(normalized.get(field), str):
            normalized[field] = normalized[field].strip(_RUST_WHITESPACE)
    if isinstance(normalized.get("email"), str):
        normalized["email"] = normalized["email"].lower()
    for field in _PASSWORDS:
        value = normalized.get(field)
        if isinstance(value, str) and not 8 <= _utf8_len(value) <= 1024:
            return False
    schema = SPEC["paths"][path][method.lower()]["requestBody"]["content"]["application/json"]["schema"]
    validator = jsonschema_rs.validator_for({**schema, "components": _COMPONENTS}, validate_formats=True)
    return validator.is_valid(normalized)


def _reason_to_drop(failure, case, response):
    kind = type(failure).__name__
    request = response.request
    emulator = _emulator_body(response)
    if emulator is not None:
        if (
            response.status_code == 500
            and emulator.get("type") == "https://httpstatuses.com/500"
            and _sent_as_text_but_not_utf8(request)
        ):
            return "cargo lambda watch answered 500 itself: non-UTF-8 body sent as text"
        if (
            response.status_code == 404
            and emulator.get("title") == "Default function disabled"
            and kind == "UnsupportedMethodResponse"
        ):
            return "cargo lambda watch answered 404 itself: undeclared method"
    operation = case.operation.label
    if operation not in _BODY_OPERATIONS:
        return None
    if kind == "AcceptedNegativeData" and _only_body_negative(case):
        authorization = _header(request, "Authorization") or ""
        if operation == "POST /auth/login" and authorization[:6].lower() == "basic ":
            return "login with Basic credentials: the body is not read"
        body = _json_object(request)
        if body is not None and _valid_once_normalized(operation, body):
            return "body valid once trimmed, with passwords counted in bytes"
    if kind == "RejectedPositiveData" and response.status_code == 400:
        body = _json_object(request) or {}
        if any(isinstance(body.get(f), str) and _utf8_len(body[f]) > 1024 for f in _PASSWORDS):
            return "generated password over 1024 bytes"
    return None


@schemathesis.hook
def before_call(context, case, **kwargs):
    if case.operation.label != "POST /auth/password" or not isinstance(case.body, dict):
        return
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    seed = os.environ["SEED_PASSWORD"]
    case.body = {**case.body, "current_password": seed, "new_password": seed}


@schemathesis.hook
def after_call(context, case, response):
    mode = "positive" if case.meta is not None and case.meta.generation.mode.is_positive else "negative"
    with open(os.environ["TOKENGATE_RESPONSES_LOG"], "a", encoding="utf-8") as log:
        log.write(f"{case.operation.label}\t{mode}\t{response.status_code}\n")


@schemathesis.hook
def filter_failure(context, failure, case, response):
    reason = _reason_to_drop(failure, case, response)
    if reason is None:
        return True
    with open(os.environ["TOKENGATE_DROPPED_LOG"], "a", encoding="utf-8") as log:
        log.write(f"{case.id}\t{case.operation.label}\t{reason}\n")
    return False
EOF

log "schemathesis $SCHEMATHESIS_VERSION against $api ($MAX_EXAMPLES examples per operation)"
cd "$WORK"
status=0
PYTHONPATH="$WORK" SCHEMATHESIS_HOOKS=tokengate_schemathesis_hooks \
  TOKENGATE_OPENAPI="$ROOT/openapi.yaml" TOKENGATE_DROPPED_LOG="$WORK/dropped.tsv" \
  TOKENGATE_RESPONSES_LOG="$WORK/responses.tsv" \
  "$SCHEMATHESIS_VENV/bin/schemathesis" --config-file "$WORK/schemathesis.toml" \
  run "$ROOT/openapi.yaml" --url "$api" \
  --checks all \
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
