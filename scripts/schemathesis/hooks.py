# Schemathesis hooks for scripts/schemathesis.sh, which loads this module through
# SCHEMATHESIS_HOOKS=hooks with scripts/schemathesis/ on PYTHONPATH. It reads from the environment:
#   TOKENGATE_OPENAPI        the path of openapi.yaml
#   TOKENGATE_ROUTES         the route table as JSON (`cargo run -p routes -- json`): every
#                            operation a hook names must be one of its routes
#   SEED_EMAIL, SEED_PASSWORD  the seed account's credentials
#   TOKENGATE_RESPONSES_LOG  where `after_call` appends one line per response
#   TOKENGATE_DROPPED_LOG    where `filter_failure` appends one line per dropped failure
#
# Failures that are not the API's, dropped by a `filter_failure` hook; each kind is counted
# and printed at the end by the script (Schemathesis prints the total as "Filtered"). Every other
# failure, and every warning, fails the run.
#  1. Negative bodies the server accepts as openapi.yaml documents in prose where JSON Schema
#     cannot say it: emails and names are trimmed (emails also lower-cased) before they are
#     checked, and passwords are bounded in UTF-8 bytes (8 to 1024) while `minLength` counts
#     characters. Dropped only when nothing but the body was generated invalid and the body,
#     normalized as documented, validates against the operation's schema in openapi.yaml.
#  2. POST /auth/login with an invalid body and Basic credentials: documented, the Basic header
#     wins and the body is not read (JSON Schema cannot make a body depend on a header).
#  3. A positive case refused only because a generated password is over 1024 bytes.
#  4. A positive case refused because its new password breaks a rule openapi.yaml documents in
#     prose (NIST SP 800-63B): on the list of common passwords, equal to the email or its local
#     part, or under 8 characters once NFKC-normalized (JSON Schema counts raw code points).
#
# A `before_call` hook gives every positive POST /auth/signup case a fresh address (the email is
# the one field of a valid signup that must also be unused), and every positive POST /auth/password case the seed account's real
# password as the current one and a fixed other one as the new one, so a valid request succeeds
# (200, a fresh token, every other token revoked; the token schemes then log in again); `after_call`
# changes it back at once with the fresh token, so the account stays usable.
# (A wrong current password is a 401 that re-logging in cannot cure, after which Schemathesis
# stops re-authenticating that operation for the run; the Rust tests cover that 401.)
#
# Every positive POST /auth/password-reset/confirm and POST /auth/email/verify case gets a live
# code: a pool of codes is filled, ten at a time, by signing up throwaway accounts (each signup
# sends a verification message; for resets each also asks for a reset) and reading the
# messages the mailer delivers to the SES emulator's inbox (AWS_ENDPOINT_URL_SESV2), so a valid
# request succeeds instead of all of them being refused as unknown codes.
#
# Likewise every positive DELETE /auth/sessions/{id} case gets the id of a live session of the
# seed account, made for it just before (GET /api/login-token with the seed credentials and an
# X-Client-Id of its own, so the token the run authenticates with is never the one ended), so a
# valid request succeeds (200) instead of all of them being 404 for ids no account has, which
# Schemathesis would report as missing test data. Unknown, foreign and malformed ids (all 404)
# are covered by the negative cases and the Rust tests.

import copy
import json
import os
import sys
import time
import uuid
import jsonschema_rs
import requests
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
_REVOKE_SESSION = "DELETE /auth/sessions/{id}"
# The application of the sessions the hook makes for DELETE /auth/sessions/{id} to end.
_REVOKE_CLIENT_ID = "schemathesis-revoke"
_RESET_CONFIRM = "POST /auth/password-reset/confirm"
_EMAIL_VERIFY = "POST /auth/email/verify"
_PASSWORD_CHANGE = "POST /auth/password"
_SIGNUP = "POST /auth/signup"

with open(os.environ["TOKENGATE_ROUTES"], encoding="utf-8") as file:
    _ROUTES = {f["route"]["label"] for f in json.load(file)["functions"] if f["route"]}
# A hook for a route that is gone (or renamed) would never run: refuse to start instead.
_NAMED = _BODY_OPERATIONS | {_REVOKE_SESSION, _RESET_CONFIRM, _EMAIL_VERIFY, _PASSWORD_CHANGE, _SIGNUP}
if _NAMED - _ROUTES:
    raise SystemExit(f"hooks.py names operations the route table has not: {sorted(_NAMED - _ROUTES)}")
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


def _json_body(response):
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


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
        detail = (_json_body(response) or {}).get("detail", "")
        if any(rule in detail for rule in _NEW_PASSWORD_RULES):
            return "new password refused by a documented rule (common, the email, NFKC length)"
    return None


# The `detail` of each documented new-password rule (see shared/src/credentials.rs).
_NEW_PASSWORD_RULES = (
    "password is too common",
    "password must not be the account's email address",
    "password must be at least 8 characters long",
)



def _live_session_id(case):
    """The id of a live session of the seed account, of the application _REVOKE_CLIENT_ID."""
    response = requests.get(
        f"{case.operation.schema.get_base_url()}/api/login-token",
        auth=(os.environ["SEED_EMAIL"], os.environ["SEED_PASSWORD"]),
        headers={"X-Client-Id": _REVOKE_CLIENT_ID},
        timeout=30,
    )
    if response.status_code != 200:
        print(f"hooks: login-token for a session to end answered {response.status_code}",
              file=sys.stderr)
        return None
    return response.json()["data"][0]["id"]


_CODE_POOLS = {_RESET_CONFIRM: [], _EMAIL_VERIFY: []}
_POOL_BATCH = 10


def _code_of(mail):
    for line in (mail.get("body", {}).get("text") or "").splitlines():
        if line.startswith("Code: "):
            return line[len("Code: "):].strip()
    return None


def _fresh_codes(base, operation):
    """Live codes for `operation`, from the messages of a batch of new throwaway accounts."""
    reset = operation == _RESET_CONFIRM
    subject = "Reset your password" if reset else "Verify your email address"
    addresses = set()
    for _ in range(_POOL_BATCH):
        email = f"st-code-{uuid.uuid4().hex}@example.com"
        signup = requests.post(f"{base}/auth/signup",
                               json={"email": email, "password": "pool account passphrase"},
                               timeout=30)
        if signup.status_code != 201:
            continue
        if reset:
            requests.post(f"{base}/auth/password-reset", json={"email": email}, timeout=30)
        addresses.add(email)
    codes = {}
    deadline = time.monotonic() + 60
    while addresses - codes.keys() and time.monotonic() < deadline:
        store = requests.get(f"{os.environ['AWS_ENDPOINT_URL_SESV2']}/store", timeout=30).json()
        for mail in store.get("emails", []):
            to = mail.get("destination", {}).get("to") or []
            if to and to[0] in addresses and mail.get("subject") == subject:
                code = _code_of(mail)
                if code:
                    codes[to[0]] = code
        time.sleep(0.25)
    if addresses - codes.keys():
        print(f"hooks: {len(addresses - codes.keys())} {subject!r} messages did not arrive",
              file=sys.stderr)
    return list(codes.values())


def _live_code(case):
    pool = _CODE_POOLS[case.operation.label]
    if not pool:
        pool.extend(_fresh_codes(case.operation.schema.get_base_url(), case.operation.label))
    return pool.pop() if pool else None


@schemathesis.hook
def before_call(context, case, **kwargs):
    if case.meta is None or not case.meta.generation.mode.is_positive:
        return
    operation = case.operation.label
    if operation == _SIGNUP and isinstance(case.body, dict):
        # An address no account has yet: a positive signup is then a 201, not a 409 for an
        # address an earlier case (or the examples phase, with its one example) already took.
        case.body = {**case.body, "email": f"st-{uuid.uuid4().hex}@example.com"}
    elif operation == _PASSWORD_CHANGE and isinstance(case.body, dict):
        seed = os.environ["SEED_PASSWORD"]
        case.body = {**case.body, "current_password": seed, "new_password": _changed(seed)}
    elif operation in _CODE_POOLS and isinstance(case.body, dict):
        code = _live_code(case)
        if code is not None:
            case.body = {**case.body, "code": code}
    elif operation == _REVOKE_SESSION:
        session = _live_session_id(case)
        if session is not None:
            case.path_parameters = {**case.path_parameters, "id": session}


def _changed(seed):
    """The password a positive password change sets, changed back at once by `after_call`."""
    return f"{seed}-changed"


def _change_back(case, response):
    """After a password change to `_changed(seed)`, sets the seed password again."""
    seed = os.environ["SEED_PASSWORD"]
    if case.operation.label != _PASSWORD_CHANGE or response.status_code != 200:
        return
    sent = _json_object(response.request) or {}
    if sent.get("new_password") != _changed(seed):
        return
    token = response.json()["x-auth-token"]
    restored = requests.post(
        f"{case.operation.schema.get_base_url()}/auth/password",
        headers={"Authorization": f"Bearer {token}"},
        json={"current_password": _changed(seed), "new_password": seed},
        timeout=30,
    )
    if restored.status_code != 200:
        print(f"hooks: changing the seed password back answered {restored.status_code}",
              file=sys.stderr)


@schemathesis.hook
def after_call(context, case, response):
    _change_back(case, response)
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
