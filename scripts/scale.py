#!/usr/bin/env python3
"""Writes docs/scale.md: what tokengate costs a month and what breaks first, at 10k, 1M and 10M
monthly active users.

Every number on that page is computed here from three inputs and the traffic model below:

  bench/results.md   measured per-request work (handler medians, argon2, cold starts, peak RSS)
  docs/prices.toml   every published AWS price and limit, each with the page it comes from
  template.yaml      each function's MemorySize and the stack's parameter defaults (throttles, WAF)

    python3 scripts/scale.py           rewrite docs/scale.md
    python3 scripts/scale.py --check   fail (exit 1) if docs/scale.md differs from what it would write

Standard library only (Python 3.11+, for tomllib). The output depends on nothing but the inputs:
no clock, no randomness, no environment.
"""

from __future__ import annotations

import argparse
import difflib
import json
import math
import re
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench" / "results.md"
PRICES = ROOT / "docs" / "prices.toml"
TEMPLATE = ROOT / "template.yaml"
OUT = ROOT / "docs" / "scale.md"

# ==================================================================================================
# The traffic model. Every assumption the page rests on is here, stated once; change one and
# regenerate. "Per MAU" means per monthly active user per month.
# ==================================================================================================

SIZES = [10_000, 1_000_000, 10_000_000]  # monthly active users
MONTH_HOURS = 730  # AWS's billing month
MONTH_SECONDS = MONTH_HOURS * 3600
DAYS_PER_MONTH = MONTH_HOURS / 24

# A token lives TokenTtlSeconds (one day by default), so an active user logs in about once per
# day of use. 12 logins a month is a user who comes back about three days a week.
LOGINS_PER_MAU = 12
FAILED_LOGINS_PER_LOGIN = 0.10  # typos: a wrong password costs a login its argon2 run too
# Token checks per login: calls from your backends to GET /auth/verify, or calls to your own
# routes behind the authorizer (each invokes it: API Gateway's authorizer cache is off).
VERIFICATIONS_PER_LOGIN = 20
VERIFY_ROUTE_SHARE = 0.5  # the rest go through the authorizer
AUTHORIZER_CACHE_HIT_SHARE = 0.0  # AuthorizerCacheSeconds saves the DynamoDB read; counted as none
PROTECTED_ROUTES = 5  # your routes behind the authorizer; each has its own ApiRateLimit
CORS_PREFLIGHTS_PER_LOGIN = 2  # browser clients; preflights are cached 600 s (template MaxAge)
LOGOUTS_PER_LOGIN = 0.2
SIGNUPS_PER_MAU = 0.05  # 5% of a month's active users are new
EMAIL_VERIFIES_PER_SIGNUP = 0.8  # the verification code comes back
VERIFICATION_REREQUESTS_PER_MAU = 0.01  # POST /auth/email/verification
RESET_REQUESTS_PER_MAU = 0.02  # POST /auth/password-reset (each sends one message)
RESET_CONFIRMS_PER_MAU = 0.015
PASSWORD_CHANGES_PER_MAU = 0.005
LOGOUT_ALLS_PER_MAU = 0.005
SESSION_LISTS_PER_MAU = 0.05
LIVE_SESSIONS_PER_ACCOUNT = 2  # records read by GET /auth/sessions
PEAK_TO_AVERAGE = 4  # the busiest second of the month against the month's average second
PEAK_DAY_TO_AVERAGE = 1.5  # the busiest day of the month against the average day (daily quotas)
REGISTERED_PER_MAU = 3  # accounts on file per monthly active one (the users table keeps them all)

# How deployed duration is derived from bench/results.md (measured on one full core of an AMD
# EPYC, against DynamoDB Local on the same machine):
#   deployed ms = (in-process median here) / (vCPU share of the memory size)
#               + DynamoDB round trips x DDB_CALL_MS + transactions x DDB_TRANSACTION_MS
#               + SES calls x SES_CALL_MS
# The in-process median includes DynamoDB Local's own time and the loopback, so dividing all of
# it by the vCPU share overstates the CPU part: the estimate errs high. Routes without a bench row
# count one bare GetItem median per store request, plus their argon2 runs (half of the measured
# hash+verify each).
DDB_CALL_MS = 4.0  # one single-item DynamoDB request in-Region ("single-digit milliseconds")
DDB_TRANSACTION_MS = 10.0  # one TransactWriteItems (two phases)
SES_CALL_MS = 30.0  # one SES v2 SendEmail
CONTAINER_LIFETIME_MINUTES = 60  # how long a warm container lives: AWS publishes no figure
MAILER_SWEEPS_PER_HOUR = 6  # the template's rate(10 minutes)
ROTATE_KEY_INVOCATIONS = 4  # the four rotation steps, once every KeyRotationDays
ROTATION_SECRET_CALLS = 8  # Secrets Manager calls one rotation makes (read stages, put, move)

# DynamoDB item sizes, bytes, before DynamoDB's 100-byte per-item overhead. Every item the request
# paths touch is under 1 KB (one write unit; two in a transaction) and under 4 KB (one strongly
# consistent read unit) while an account holds a few sessions.
ITEM_OVERHEAD = 100
EMAIL_ITEM = 400  # pk, profile, argon2 PHC hash, password version, login throttle counters
PROFILE_ITEM = 250
SESSIONS_ITEM_BASE = 60
SESSION_ENTRY = 45  # per live session in the sessions item (README: "about 45 bytes a session")
TOKEN_RECORD = 300  # client id, issue and expiry, user agent, source address
TOKEN_POINTER = 120
CODE_RECORD = 200
OUTBOX_ITEM = 250
TTL_LAG_DAYS = 2  # DynamoDB's TTL deletes expired items "within a few days": assumed two

# CloudWatch Logs: bytes ingested.
ACCESS_LOG_BYTES = 330  # the stage's access-log line (its format is in template.yaml)
LAMBDA_PLATFORM_LOG_BYTES = 330  # START, END and REPORT lines of each invocation
LAMBDA_APP_LOG_BYTES = 200  # one JSON info line per invocation (e.g. "authorizer decision")

# ==================================================================================================
# What each request does, counted from shared/src (store/*.rs, accounts/, tokens/, mailer.rs) and
# the IAM comments in template.yaml. Units per table: strongly consistent GetItem of an item up to
# 4 KB = 1 RRU (eventually consistent, as find_profile and the sweep's Scan read, = 0.5);
# UpdateItem/PutItem/DeleteItem up to 1 KB = 1 WRU, whether or not its condition holds; every item
# of a TransactWriteItems (ConditionCheck included) = 2 WRU.
# ==================================================================================================


@dataclass
class Work:
    """One kind of request: which function serves it and what it costs that function."""

    label: str
    function: str  # the Binary in template.yaml
    calls: int = 0  # single-item DynamoDB requests (GetItem, UpdateItem, BatchGetItem, ...)
    transactions: int = 0  # TransactWriteItems requests
    argon2: int = 0  # argon2id evaluations (hash or verify)
    ses: int = 0  # SES SendEmail calls
    rru: dict = field(default_factory=dict)  # table -> read request units
    wru: dict = field(default_factory=dict)  # table -> write request units
    bench: str | None = None  # the bench/results.md row measuring this handler in process
    api: bool = True  # reaches API Gateway (and WAF)
    how: str = ""


WORK = {
    "signup": Work(
        "POST /auth/signup", "signup", transactions=1, argon2=1,
        wru={"users": 4, "tokens": 6, "outbox": 2},
        how="argon2 hash; one transaction of 6 items: email and profile items, verification "
        "outbox item, sessions item, token record and pointer",
    ),
    "login": Work(
        "POST /auth/login (right password)", "login", calls=4, transactions=1, argon2=1,
        rru={"users": 1, "tokens": 1}, wru={"users": 4, "tokens": 6},
        how="GetItem account; UpdateItem reserves a guess; argon2 verify; UpdateItem gives it "
        "back; GetItem sessions; transaction: sessions, record, pointer, ConditionCheck account",
    ),
    "login_failed": Work(
        "POST /auth/login (wrong password)", "login", calls=2, argon2=1,
        rru={"users": 1}, wru={"users": 1},
        how="GetItem account; UpdateItem reserves a guess (or the same-shaped no-op when "
        "locked); argon2 verify",
    ),
    "verify": Work(
        "GET /auth/verify", "verify", calls=1, rru={"tokens": 1}, bench="verify",
        how="HMAC tag check; one strongly consistent GetItem of the sessions item",
    ),
    "authorizer": Work(
        "protected route (authorizer)", "authorizer", calls=1, rru={"tokens": 1},
        bench="authorizer",
        how="the authorizer: HMAC tag check, one GetItem of the sessions item (the function "
        "behind the route is yours and not counted)",
    ),
    "preflight": Work(
        "OPTIONS (CORS preflight)", "", how="answered by API Gateway itself: no function",
    ),
    "logout": Work(
        "POST /auth/logout", "logout", calls=2, wru={"tokens": 2},
        how="UpdateItem takes the session out; DeleteItem of its record",
    ),
    "sessions": Work(
        "GET /auth/sessions", "sessions", calls=3,
        rru={"tokens": 2 + LIVE_SESSIONS_PER_ACCOUNT}, bench="sessions",
        how=f"GetItem (token check), GetItem sessions, BatchGetItem of "
        f"{LIVE_SESSIONS_PER_ACCOUNT} records",
    ),
    "password_reset": Work(
        "POST /auth/password-reset", "password-reset", transactions=1,
        wru={"outbox": 2}, bench="password-reset",
        how="one outbox Put (a one-item transaction)",
    ),
    "reset_confirm": Work(
        "POST /auth/password-reset/confirm", "password-reset-confirm", calls=4, transactions=2,
        argon2=1, rru={"users": 1.5, "tokens": 2}, wru={"users": 6, "tokens": 10},
        how="GetItem code, profile, account; argon2 hash; transaction of 4 (code, account, "
        "profile, sessions); GetItem sessions; issuing transaction of 4",
    ),
    "email_verify": Work(
        "POST /auth/email/verify", "email-verify", calls=2, transactions=1,
        rru={"users": 0.5, "tokens": 1}, wru={"users": 4, "tokens": 2},
        how="GetItem code and profile; transaction of 3 (code, account, profile)",
    ),
    "email_verification": Work(
        "POST /auth/email/verification", "email-verification", calls=3, transactions=1,
        rru={"users": 1.5, "tokens": 1}, wru={"outbox": 2},
        how="GetItem sessions, profile, account; one outbox Put",
    ),
    "password": Work(
        "POST /auth/password", "password", calls=6, transactions=2, argon2=2,
        rru={"users": 1.5, "tokens": 2}, wru={"users": 6, "tokens": 8},
        how="token check, profile, account; reserve and give back a guess; argon2 verify and "
        "hash; transaction of 2 (password, sessions); GetItem sessions; issuing transaction of 4",
    ),
    "logout_all": Work(
        "POST /auth/logout-all", "logout-all", calls=2, rru={"tokens": 1}, wru={"tokens": 1},
        how="GetItem (token check); one UpdateItem clears every session",
    ),
    "mail_verification": Work(
        "mailer: verification message", "mailer", calls=5, ses=1, api=False,
        rru={"outbox": 1, "users": 0.5, "tokens": 1}, wru={"outbox": 1, "tokens": 1},
        how="woken by the outbox stream (reads free): GetItem outbox, profile, code record; "
        "PutItem code record; SendEmail; UpdateItem outbox",
    ),
    "mail_reset": Work(
        "mailer: reset message", "mailer", calls=5, ses=1, api=False,
        rru={"outbox": 1, "users": 1, "tokens": 1}, wru={"outbox": 1, "tokens": 1},
        how="as above, reading the account by address",
    ),
}


def monthly_counts(mau: float, checks: bool = True) -> dict[str, float]:
    """Requests of each kind in a month, for `mau` monthly active users (without token checks
    when `checks` is false: the like-for-like comparison with Cognito's locally checked JWTs)."""
    logins = mau * LOGINS_PER_MAU
    verifications = logins * VERIFICATIONS_PER_LOGIN if checks else 0.0
    signups = mau * SIGNUPS_PER_MAU
    rerequests = mau * VERIFICATION_REREQUESTS_PER_MAU
    resets = mau * RESET_REQUESTS_PER_MAU
    return {
        "signup": signups,
        "login": logins,
        "login_failed": logins * FAILED_LOGINS_PER_LOGIN,
        "verify": verifications * VERIFY_ROUTE_SHARE,
        "authorizer": verifications * (1 - VERIFY_ROUTE_SHARE),
        "preflight": logins * CORS_PREFLIGHTS_PER_LOGIN,
        "logout": logins * LOGOUTS_PER_LOGIN,
        "sessions": mau * SESSION_LISTS_PER_MAU,
        "password_reset": resets,
        "reset_confirm": mau * RESET_CONFIRMS_PER_MAU,
        "email_verify": signups * EMAIL_VERIFIES_PER_SIGNUP,
        "email_verification": rerequests,
        "password": mau * PASSWORD_CHANGES_PER_MAU,
        "logout_all": mau * LOGOUT_ALLS_PER_MAU,
        "mail_verification": signups + rerequests,
        "mail_reset": resets,
    }


# ==================================================================================================
# Inputs
# ==================================================================================================

UNITS = {"ns": 1e-6, "us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1000.0}


def ms(text: str) -> float:
    """The first duration in `text`, in milliseconds ("545 us / 3.79 ms" -> 0.545)."""
    match = re.search(r"([\d.]+)\s*(ns|us|µs|ms|s)\b", text)
    if not match:
        raise ValueError(f"no duration in {text!r}")
    return float(match.group(1)) * UNITS[match.group(2)]


def read_bench(path: Path) -> dict:
    """The figures of bench/results.md this page uses."""
    rows = {}
    for line in path.read_text().splitlines():
        if not line.startswith("|") or line.startswith("| ---") or line.startswith("|---"):
            continue
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0] != "figure":
            rows[cells[0]] = cells
    bench = {"handler_ms": {}, "cold_start_sm_ms": {}, "peak_rss_mib": {}}

    def row(prefix: str) -> list[str]:
        found = [cells for name, cells in rows.items() if name.startswith(prefix)]
        if len(found) != 1:
            raise SystemExit(f"bench/results.md: expected one row starting {prefix!r}")
        return found[0]

    verify = row("verify handler, valid token / bare GetItem")
    bench["handler_ms"]["verify"] = ms(verify[1])
    bench["getitem_ms"] = ms(verify[2])
    bench["handler_ms"]["authorizer"] = ms(row("authorizer (cache off), valid token")[1])
    bench["handler_ms"]["sessions"] = ms(row("GET /auth/sessions handler, 1 live sessions")[1])
    bench["handler_ms"]["password-reset"] = ms(row("POST /auth/password-reset handler")[1])
    bench["argon2_hash_verify_ms"] = ms(row("argon2id hash+verify")[1])
    for name, cells in rows.items():
        cold = re.match(r"cold start (\S+), first answer \((?!valid token)", name)
        if cold:
            # Deployed, start-up reads the ring from Secrets Manager: that figure where the row
            # has one; rotate-key reads no ring at start-up, so its one figure is it.
            sm = re.search(r"\(([\d.]+\s*(?:us|ms|s)) from Secrets Manager", cells[1])
            bench["cold_start_sm_ms"][cold.group(1)] = ms(sm.group(1) if sm else cells[1])
        rss = re.match(r"peak RSS, (\S+) serving", name)
        if rss:
            bench["peak_rss_mib"][rss.group(1)] = float(cells[1].split()[0])
    header = path.read_text().split("\n\n", 2)[1]
    written = re.search(r"on (\S+) \(", header)
    bench["written"] = written.group(1) if written else "?"
    return bench


# Routes whose cost is another row's: each is priced as the row named. A route of the route table
# with neither a row of WORK nor an entry here is listed in docs/scale.md as not priced.
PRICED_AS = {
    "GET /api/login-token": "login",  # the same account read, attempt and argon2 as a login
    "DELETE /auth/sessions/{id}": "logout",  # the same UpdateItem and DeleteItem
    "GET /api/me": "authorizer",  # one of your protected routes: the authorizer's part is counted
}


def read_routes() -> dict:
    """The route table (tokengate::routes, through `cargo run -p routes -- json`): each function's
    memory, the credential routes (which have the tighter throttle), and the routes no row of WORK
    or PRICED_AS prices."""
    table = json.loads(subprocess.run(
        ["cargo", "run", "--quiet", "-p", "routes", "--", "json"],
        cwd=ROOT, check=True, capture_output=True, text=True).stdout)
    functions = table["functions"]
    priced = {work.label.split(" (")[0] for work in WORK.values()}
    unpriced = [function["route"]["label"] for function in functions if function["route"]
                and function["route"]["label"] not in priced | set(PRICED_AS)]
    for function in functions:
        route = function["route"]
        if not route and not any(work.function == function["name"] for work in WORK.values()) \
                and function["trigger"] != "key-rotation":
            raise SystemExit(f"scale.py: the route table's function {function['name']} has no row in WORK")
    return {
        "memory": {function["name"]: function["memory_mb"] for function in functions},
        "token_routes": [function["route"]["label"] for function in functions
                         if function["route"] and function["route"]["credential"]],
        "unpriced": unpriced,
    }


def read_template(path: Path) -> dict:
    """Parameter defaults, from template.yaml; each function's memory and the routes with the
    tighter throttle, from the route table (which writes them into the template)."""
    text = path.read_text()
    params_block = text.split("\nParameters:\n", 1)[1].split("\nConditions:\n", 1)[0]
    params = {}
    for match in re.finditer(r"^  (\w+):\n((?:    .*\n|\s*\n)+)", params_block, re.M):
        default = re.search(r"^    Default: (.*)$", match.group(2), re.M)
        if default:
            params[match.group(1)] = default.group(1).strip().strip('"')
    return {"params": params, **read_routes()}


# ==================================================================================================
# Formatting
# ==================================================================================================


def money(x: float) -> str:
    if x == 0:
        return "$0"
    if abs(x) >= 100:
        return f"${x:,.0f}"
    if abs(x) >= 1:
        return f"${x:,.2f}"
    if abs(x) >= 0.01:
        return f"${x:.2f}"
    return f"${x:.4f}".rstrip("0")


def num(x: float) -> str:
    """A count, short: 12,000 / 1.2 M / 3.45 B."""
    if abs(x) >= 1e9:
        return f"{x / 1e9:.3g} B"
    if abs(x) >= 1e6:
        return f"{x / 1e6:.3g} M"
    if abs(x) >= 10 or x == int(x):
        return f"{x:,.0f}"
    return f"{x:.2g}"


def small(x: float) -> str:
    """A quantity that is often far below one: 0, <0.01, 0.55, 13."""
    if x == 0:
        return "0"
    if x < 0.01:
        return "<0.01"
    return f"{x:.2g}" if x < 10 else f"{x:,.0f}"


def gb(x: float) -> str:
    if x >= 10:
        return f"{x:,.0f}"
    if x >= 0.1:
        return f"{x:.2f}"
    return "<0.1" if x else "0"


def pct(x: float) -> str:
    if x >= 10:
        return f"{x:,.0f}x"
    if x >= 0.01:
        return f"{x * 100:.0f}%"
    return "<1%"


def mau_label(mau: int) -> str:
    return f"{mau // 1_000_000}M" if mau >= 1_000_000 else f"{mau // 1000}k"


def table(head: list[str], rows: list[list[str]], align: str | None = None) -> str:
    align = align or "l" + "r" * (len(head) - 1)
    marks = {"l": "---", "r": "--:", "c": ":-:"}
    lines = ["| " + " | ".join(head) + " |", "| " + " | ".join(marks[a] for a in align) + " |"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


# ==================================================================================================
# The model
# ==================================================================================================


class Prices:
    """docs/prices.toml, with footnote references for the page."""

    def __init__(self, path: Path):
        self.entries = tomllib.loads(path.read_text())
        self.cited: list[str] = []

    def __getitem__(self, key: str) -> float:
        return self.entries[key]["value"]

    def cite(self, key: str) -> str:
        if key not in self.entries:
            raise KeyError(key)
        if key not in self.cited:
            self.cited.append(key)
        return f"[^{key.replace('_', '-')}]"

    def footnotes(self) -> str:
        lines = []
        for key in sorted(self.cited, key=list(self.entries).index):
            e = self.entries[key]
            value = f"{e['value']:,}" if isinstance(e["value"], int) else f"{e['value']:g}"
            source = e["source"]
            where = source if source.startswith("not in") else f"<{source}>"
            note = f" {e['note']}" if e.get("note") else ""
            lines.append(
                f"[^{key.replace('_', '-')}]: `{key}` = {value} ({e['unit']}). Source: {where}, "
                f"seen {e['seen']}.{note}"
            )
        return "\n".join(lines)


def tiered(amount: float, tiers: list[tuple[float, float]]) -> float:
    """Cost of `amount` units under (tier size, price per unit) tiers; the last size is inf."""
    cost, left = 0.0, amount
    for size, price in tiers:
        used = min(left, size)
        cost += used * price
        left -= used
        if left <= 0:
            break
    return cost


@dataclass
class Fn:
    name: str
    memory: int
    share: float
    duration_ms: dict  # work kind -> deployed ms
    cold_ms: float


class Model:
    def __init__(self, bench: dict, template: dict, prices: Prices):
        self.bench, self.tpl, self.p = bench, template, prices
        params = template["params"]
        self.token_rate = float(params["TokenRouteRateLimit"])
        self.token_burst = float(params["TokenRouteBurstLimit"])
        self.api_rate = float(params["ApiRateLimit"])
        self.api_burst = float(params["ApiBurstLimit"])
        self.waf_limit = float(params["CredentialRateLimitPer5Min"])
        self.refresh_s = float(params["KeyRingRefreshSeconds"])
        self.rotation_days = float(params["KeyRotationDays"])
        self.cache_s = float(params["AuthorizerCacheSeconds"])
        self.max_sessions = int(params["MaxSessionsPerAccount"])
        self.token_ttl_days = float(params["TokenTtlSeconds"]) / 86400
        self.log_retention_days = float(params["LogRetentionDays"])
        self.waf_rules = 1 + (1 if params["EnableIpReputationList"] == "true" else 0)
        self.argon2_op_ms = bench["argon2_hash_verify_ms"] / 2
        self.one_vcpu = prices["lambda_one_vcpu_mb"]
        cold = bench["cold_start_sm_ms"]
        mean_cold = sum(cold.values()) / len(cold)
        self.fns: dict[str, Fn] = {}
        for name, memory in sorted(template["memory"].items()):
            share = min(1.0, memory / self.one_vcpu)
            self.fns[name] = Fn(name, memory, share, {}, cold.get(name, mean_cold) / share)
        for kind, work in WORK.items():
            if work.function:
                self.fns[work.function].duration_ms[kind] = self.deployed_ms(work)
        self.sweep_ms = self.bench["getitem_ms"] / self.fns["mailer"].share + DDB_CALL_MS
        self.rotate_ms = self.bench["getitem_ms"] / self.fns["rotate-key"].share + DDB_CALL_MS

    def local_ms(self, work: Work) -> float:
        if work.bench:
            return self.bench["handler_ms"][work.bench]
        return (work.calls + work.transactions) * self.bench["getitem_ms"] + work.argon2 * self.argon2_op_ms

    def deployed_ms(self, work: Work) -> float:
        share = self.fns[work.function].share
        return (
            self.local_ms(work) / share
            + work.calls * DDB_CALL_MS
            + work.transactions * DDB_TRANSACTION_MS
            + work.ses * SES_CALL_MS
        )

    # ---------------------------------------------------------------------------------- a month

    def month(self, mau: float, checks: bool = True) -> dict:
        p = self.p
        counts = monthly_counts(mau, checks)
        api_requests = sum(n for kind, n in counts.items() if WORK[kind].api)
        emails = counts["mail_verification"] + counts["mail_reset"]

        # Lambda: invocations, GB-seconds (billed per invocation, rounded up to 1 ms), peak
        # concurrency, containers, cold starts.
        invocations, gb_s, peak_conc = {}, {}, {}
        for name, fn in self.fns.items():
            kinds = [k for k in counts if WORK[k].function == name]
            inv = sum(counts[k] for k in kinds)
            secs = sum(counts[k] * math.ceil(fn.duration_ms[k]) / 1000 for k in kinds)
            conc = sum(counts[k] / MONTH_SECONDS * PEAK_TO_AVERAGE * fn.duration_ms[k] / 1000 for k in kinds)
            if name == "mailer":
                sweeps = MAILER_SWEEPS_PER_HOUR * MONTH_HOURS
                inv += sweeps
                secs += sweeps * math.ceil(self.sweep_ms) / 1000
            if name == "rotate-key" and self.rotation_days:
                rot = ROTATE_KEY_INVOCATIONS * DAYS_PER_MONTH / self.rotation_days
                inv += rot
                secs += rot * math.ceil(self.rotate_ms) / 1000
            invocations[name], peak_conc[name] = inv, conc
            gb_s[name] = secs * fn.memory / 1024
        containers = {n: (max(1, math.ceil(peak_conc[n])) if invocations[n] else 0) for n in self.fns}
        cold_starts = {
            n: min(invocations[n], containers[n] * MONTH_HOURS * 60 / CONTAINER_LIFETIME_MINUTES)
            for n in self.fns
        }
        init_gb_s = sum(
            cold_starts[n] * math.ceil(f.cold_ms) / 1000 * f.memory / 1024 for n, f in self.fns.items()
        )
        refreshes = {
            n: min(invocations[n], containers[n] * MONTH_SECONDS / self.refresh_s) for n in self.fns
        }
        rotations = DAYS_PER_MONTH / self.rotation_days if self.rotation_days else 0
        secret_calls = sum(cold_starts.values()) + sum(refreshes.values()) + rotations * ROTATION_SECRET_CALLS
        total_invocations = sum(invocations.values())
        total_gb_s = sum(gb_s.values()) + init_gb_s

        # DynamoDB
        rru = {"users": 0.0, "tokens": 0.0, "outbox": 0.0}
        wru = {"users": 0.0, "tokens": 0.0, "outbox": 0.0}
        for kind, n in counts.items():
            work = WORK[kind]
            factor = (1 - AUTHORIZER_CACHE_HIT_SHARE) if kind == "authorizer" else 1
            for table_, units in work.rru.items():
                rru[table_] += n * units * factor
            for table_, units in work.wru.items():
                wru[table_] += n * units
        month_days = DAYS_PER_MONTH
        outbox_items = emails * (7 + TTL_LAG_DAYS) / month_days  # finished items stay a week
        outbox_bytes = outbox_items * (OUTBOX_ITEM + ITEM_OVERHEAD)
        sweep_rru = MAILER_SWEEPS_PER_HOUR * MONTH_HOURS * max(1, math.ceil(outbox_bytes / 4096)) * 0.5
        rru["outbox"] += sweep_rru
        logins_per_day = counts["login"] / month_days
        live_records = logins_per_day * (self.token_ttl_days + TTL_LAG_DAYS)
        storage = {
            "users": mau * REGISTERED_PER_MAU
            * (EMAIL_ITEM + PROFILE_ITEM + 2 * ITEM_OVERHEAD),
            "tokens": mau * (SESSIONS_ITEM_BASE + SESSION_ENTRY * LIVE_SESSIONS_PER_ACCOUNT + ITEM_OVERHEAD)
            + live_records * (TOKEN_RECORD + TOKEN_POINTER + 2 * ITEM_OVERHEAD)
            + emails * (1 / 24 + TTL_LAG_DAYS) / month_days * (CODE_RECORD + ITEM_OVERHEAD),
            "outbox": outbox_bytes,
        }
        storage_gb = {k: v / 2**30 for k, v in storage.items()}

        # CloudWatch Logs
        log_bytes = api_requests * ACCESS_LOG_BYTES + total_invocations * (
            LAMBDA_PLATFORM_LOG_BYTES + LAMBDA_APP_LOG_BYTES
        )
        log_gb = log_bytes / 1e9

        # Costs
        rest_tiers = [
            (333e6, p["apigw_rest_tier1"] / 1e6), (667e6, p["apigw_rest_tier2"] / 1e6),
            (19e9, p["apigw_rest_tier3"] / 1e6), (math.inf, p["apigw_rest_tier4"] / 1e6),
        ]
        http_tiers = [(300e6, p["apigw_http_tier1"] / 1e6), (math.inf, p["apigw_http_tier2"] / 1e6)]
        lambda_gb_s_cost = total_gb_s * p["lambda_x86_gb_second"]
        cost = {
            "apigw": tiered(api_requests, rest_tiers),
            "waf_fixed": p["waf_web_acl_month"] + self.waf_rules * p["waf_rule_month"],
            "waf_requests": api_requests * p["waf_per_million_requests"] / 1e6,
            "lambda_requests": total_invocations * p["lambda_per_million_requests"] / 1e6,
            "lambda_duration": lambda_gb_s_cost,
            "ddb_reads": sum(rru.values()) * p["dynamodb_rru_per_million"] / 1e6,
            "ddb_writes": sum(wru.values()) * p["dynamodb_wru_per_million"] / 1e6,
            "ddb_storage": sum(storage_gb.values()) * p["dynamodb_storage_gb_month"],
            "ddb_pitr": storage_gb["users"] * p["dynamodb_pitr_gb_month"],
            "secrets": p["secrets_secret_month"] + secret_calls * p["secrets_per_10k_calls"] / 1e4,
            "ses": emails * p["ses_per_1000_emails"] / 1000,
            "logs_ingest": log_gb * p["logs_ingest_gb"],
            "logs_store": log_gb * min(1.0, self.log_retention_days / DAYS_PER_MONTH) * p["logs_store_gb_month"],
        }
        total = sum(cost.values())
        arm_total = total - lambda_gb_s_cost + total_gb_s * p["lambda_arm64_gb_second"]
        free = min(total_invocations, p["lambda_free_requests"]) * p["lambda_per_million_requests"] / 1e6 + min(
            total_gb_s, p["lambda_free_gb_seconds"]
        ) * p["lambda_x86_gb_second"] + min(sum(storage_gb.values()), p["dynamodb_free_storage_gb"]) * p[
            "dynamodb_storage_gb_month"
        ]
        # Peak rates
        peak = {k: n / MONTH_SECONDS * PEAK_TO_AVERAGE for k, n in counts.items()}
        peak_rru = {t: v / MONTH_SECONDS * PEAK_TO_AVERAGE for t, v in rru.items()}
        peak_wru = {t: v / MONTH_SECONDS * PEAK_TO_AVERAGE for t, v in wru.items()}
        return {
            "mau": mau, "counts": counts, "api_requests": api_requests, "emails": emails,
            "invocations": invocations, "total_invocations": total_invocations, "gb_s": gb_s,
            "init_gb_s": init_gb_s, "total_gb_s": total_gb_s, "peak_conc": peak_conc,
            "containers": containers, "cold_starts": cold_starts, "secret_calls": secret_calls,
            "rru": rru, "wru": wru, "sweep_rru": sweep_rru, "storage_gb": storage_gb,
            "log_gb": log_gb, "cost": cost, "total": total, "arm_total": arm_total,
            "http_api": tiered(api_requests, http_tiers), "free": free, "peak": peak,
            "peak_api": api_requests / MONTH_SECONDS * PEAK_TO_AVERAGE, "peak_rru": peak_rru,
            "peak_wru": peak_wru, "peak_emails": emails / MONTH_SECONDS * PEAK_TO_AVERAGE,
            "emails_per_day": emails / DAYS_PER_MONTH,
        }

    # ------------------------------------------------------------------------ marginal costs

    def per_million(self, kinds: dict[str, float]) -> dict[str, float]:
        """The cost of one million of a mix of requests, at first-tier prices, itemized."""
        p = self.p
        out = {"apigw": 0.0, "waf": 0.0, "lambda": 0.0, "dynamodb": 0.0, "ses": 0.0, "logs": 0.0}
        for kind, share in kinds.items():
            work = WORK[kind]
            n = 1e6 * share
            if work.api:
                out["apigw"] += n * p["apigw_rest_tier1"] / 1e6
                out["waf"] += n * p["waf_per_million_requests"] / 1e6
                out["logs"] += n * ACCESS_LOG_BYTES / 1e9 * p["logs_ingest_gb"]
            if work.function:
                fn = self.fns[work.function]
                out["lambda"] += n * p["lambda_per_million_requests"] / 1e6 + n * math.ceil(
                    fn.duration_ms[kind]
                ) / 1000 * fn.memory / 1024 * p["lambda_x86_gb_second"]
                out["logs"] += n * (LAMBDA_PLATFORM_LOG_BYTES + LAMBDA_APP_LOG_BYTES) / 1e9 * p["logs_ingest_gb"]
            out["ses"] += n * work.ses * p["ses_per_1000_emails"] / 1000
            out["dynamodb"] += n * (
                sum(work.rru.values()) * p["dynamodb_rru_per_million"]
                + sum(work.wru.values()) * p["dynamodb_wru_per_million"]
            ) / 1e6
        out["total"] = sum(out.values())
        return out

    def cognito(self, mau: float) -> dict[str, float]:
        p = self.p
        free = p["cognito_free_mau"]
        lite = tiered(
            max(0.0, mau - free),
            [
                (100_000 - free, p["cognito_lite_tier1"]), (900_000, p["cognito_lite_tier2"]),
                (9_000_000, p["cognito_lite_tier3"]), (math.inf, p["cognito_lite_tier4"]),
            ],
        )
        return {"lite": lite, "essentials": max(0.0, mau - free) * p["cognito_essentials_mau"]}

    # ------------------------------------------------------------------------------ limits

    def limits(self, m: dict) -> list[dict]:
        """Each limit that grows with traffic: the demand at the peak second against it."""
        p = self.p
        peak = m["peak"]
        login_rate = peak["login"] + peak["login_failed"]
        out = [
            dict(
                name="API Gateway: POST /auth/login route throttle (`TokenRouteRateLimit`)",
                demand=login_rate, limit=self.token_rate, unit="req/s", cite=None,
                knob="raise `TokenRouteRateLimit` (and reserve login's concurrency to match)",
            ),
            dict(
                name="API Gateway: POST /auth/signup route throttle (`TokenRouteRateLimit`)",
                demand=peak["signup"], limit=self.token_rate, unit="req/s", cite=None,
                knob="raise `TokenRouteRateLimit`",
            ),
            dict(
                name="API Gateway: GET /auth/verify route throttle (`ApiRateLimit`)",
                demand=peak["verify"], limit=self.api_rate, unit="req/s", cite=None,
                knob="raise `ApiRateLimit`; or verify through the authorizer, whose calls spread over your routes",
            ),
            dict(
                name=f"API Gateway: each protected route's throttle (`ApiRateLimit`), traffic spread over {PROTECTED_ROUTES} routes",
                demand=peak["authorizer"] / PROTECTED_ROUTES, limit=self.api_rate, unit="req/s", cite=None,
                knob="raise `ApiRateLimit` (it is per route)",
            ),
            dict(
                name="API Gateway: account throttle, all APIs in the Region",
                demand=m["peak_api"], limit=p["apigw_account_rps"], unit="req/s",
                cite="apigw_account_rps", knob="Service Quotas increase (L-8A5B8E43)",
            ),
            dict(
                name="Lambda: concurrent executions, account and Region",
                demand=sum(m["peak_conc"].values()), limit=p["lambda_concurrency_default"],
                unit="executions", cite="lambda_concurrency_default",
                knob="Service Quotas increase; reserved concurrency for login and the authorizer",
            ),
            dict(
                name="DynamoDB: tokens table reads, new on-demand table's warm throughput",
                demand=m["peak_rru"]["tokens"], limit=p["dynamodb_new_table_warm_rru_per_s"],
                unit="RRU/s", cite="dynamodb_new_table_warm_rru_per_s",
                knob="pre-warm the table (UpdateTable WarmThroughput) before launch; it grows by itself afterwards",
            ),
            dict(
                name="DynamoDB: tokens table writes, new on-demand table's warm throughput",
                demand=m["peak_wru"]["tokens"], limit=p["dynamodb_new_table_warm_wru_per_s"],
                unit="WRU/s", cite="dynamodb_new_table_warm_wru_per_s",
                knob="pre-warm the table (WarmThroughput)",
            ),
            dict(
                name="DynamoDB: users table writes, new on-demand table's warm throughput",
                demand=m["peak_wru"]["users"], limit=p["dynamodb_new_table_warm_wru_per_s"],
                unit="WRU/s", cite="dynamodb_new_table_warm_wru_per_s",
                knob="pre-warm the table (WarmThroughput)",
            ),
            dict(
                name="DynamoDB: tokens table reads, per-table on-demand quota",
                demand=m["peak_rru"]["tokens"], limit=p["dynamodb_table_quota_units_per_s"],
                unit="RRU/s", cite="dynamodb_table_quota_units_per_s",
                knob="Service Quotas increase (table-level read throughput)",
            ),
            dict(
                name="SES: sending rate (assumed starting production quota)",
                demand=m["peak_emails"], limit=p["ses_production_per_second"], unit="emails/s",
                cite="ses_production_per_second",
                knob="ask SES for a higher sending quota; the outbox and its sweep absorb throttling meanwhile",
            ),
            dict(
                name="SES: daily quota (assumed starting production quota)",
                demand=m["emails_per_day"] * PEAK_DAY_TO_AVERAGE, limit=p["ses_production_per_day"],
                unit="emails/day", cite="ses_production_per_day", knob="ask SES for a higher daily quota",
            ),
            dict(
                name="SES: sandbox daily quota (before production access)",
                demand=m["emails_per_day"] * PEAK_DAY_TO_AVERAGE, limit=p["ses_sandbox_per_day"],
                unit="emails/day", cite="ses_sandbox_per_day",
                knob="request production access (README: Mail) before launch", launch_only=True,
            ),
        ]
        for row in out:
            row.setdefault("launch_only", False)
            row["use"] = row["demand"] / row["limit"]
            row["reached_at"] = m["mau"] * row["limit"] / row["demand"] if row["demand"] else math.inf
        return out


# ==================================================================================================
# The page
# ==================================================================================================


def render(bench: dict, template: dict, prices: Prices) -> str:
    model = Model(bench, template, prices)
    p, c = prices, prices.cite
    months = [model.month(mau) for mau in SIZES]
    labels = [mau_label(mau) for mau in SIZES]
    params = template["params"]
    out: list[str] = []
    w = out.append

    w("# What it costs and what breaks first")
    w("")
    w(
        "<!-- Generated by `python3 scripts/scale.py` from `bench/results.md`, `docs/prices.toml` "
        "and the defaults in `template.yaml`. Do not edit by hand: change an input and regenerate. "
        "`python3 scripts/scale.py --check` fails when this file differs from what the script writes. -->"
    )
    w("")
    w(
        "Generated by `python3 scripts/scale.py` from [`bench/results.md`](../bench/results.md) "
        f"(written {bench['written']}), [`docs/prices.toml`](prices.toml) and the parameter defaults "
        "and memory sizes in [`template.yaml`](../template.yaml); never edited by hand. Every number "
        "below is computed by that script; every AWS price and limit links to the page it was read "
        "from (footnotes at the end). Prices are us-east-1 list prices without free tiers (except "
        "Cognito's free MAUs, which are part of its published tiers), the stack "
        "as deployed with its defaults (WAF on, no IP reputation list), functions built for x86_64 "
        "(`make build`)."
    )
    w("")

    # ------------------------------------------------------------------------------ headline
    w("## At a glance")
    w("")
    bare = [model.month(mau, checks=False) for mau in SIZES]
    rows = []
    for label, m, b in zip(labels, months, bare):
        cog = model.cognito(m["mau"])
        hit = [r for r in model.limits(m) if r["use"] >= 1 and not r["launch_only"]]
        first = min(hit, key=lambda r: r["reached_at"])["name"].split(" (")[0] if hit else "none"
        rows.append([
            label, money(m["total"]), money(m["total"] / m["mau"] * 1000), money(b["total"]),
            money(cog["lite"]), money(cog["essentials"]), first,
        ])
    w(table(
        ["MAU", "tokengate / month", "per 1,000 MAU", "without token checks",
         f"Cognito Lite{c('cognito_lite_tier1')}", f"Cognito Essentials{c('cognito_essentials_mau')}",
         "first limit hit at the peak"],
        rows, "lrrrrrl",
    ))
    w("")
    w(
        "Cognito's price is for the user pool alone. Its tokens are JWTs your code checks without a "
        "request, so the like-for-like tokengate figure is the one without token checks: the "
        f"{VERIFICATIONS_PER_LOGIN} checks per login of the model below are most of tokengate's bill "
        "(each is an API Gateway request), and cost nothing with Cognito. Cognito's own messages "
        "(SES), Lambda triggers and any API in front of your routes are extra on its side."
    )
    w("")

    # ------------------------------------------------------------------------------ model
    w("## The traffic model")
    w("")
    w(
        "Stated at the top of `scripts/scale.py`; change it there. Per monthly active user (MAU) "
        "per month unless it says otherwise; a month is "
        f"{MONTH_HOURS} hours."
    )
    w("")
    model_rows = [
        ["logins", f"{LOGINS_PER_MAU}", "a token lives `TokenTtlSeconds` "
         f"({params['TokenTtlSeconds']} s): about one login per day of use, three days a week"],
        ["failed logins per login", f"{FAILED_LOGINS_PER_LOGIN}", "each still runs argon2"],
        ["token checks per login", f"{VERIFICATIONS_PER_LOGIN}",
         f"{VERIFY_ROUTE_SHARE:.0%} `GET /auth/verify`, the rest through the authorizer in front of "
         f"your routes ({PROTECTED_ROUTES} of them); the authorizer's own cache counted as never hit"],
        ["CORS preflights per login", f"{CORS_PREFLIGHTS_PER_LOGIN}",
         "browser clients; API Gateway answers them, but bills and logs them"],
        ["logouts per login", f"{LOGOUTS_PER_LOGIN}", ""],
        ["signups", f"{SIGNUPS_PER_MAU}", "each sends a verification message"],
        ["verification codes redeemed per signup", f"{EMAIL_VERIFIES_PER_SIGNUP}", ""],
        ["verification messages asked for again", f"{VERIFICATION_REREQUESTS_PER_MAU}", ""],
        ["password resets asked for / confirmed", f"{RESET_REQUESTS_PER_MAU} / {RESET_CONFIRMS_PER_MAU}",
         "each request sends one message"],
        ["password changes, logouts everywhere", f"{PASSWORD_CHANGES_PER_MAU}, {LOGOUT_ALLS_PER_MAU}", ""],
        ["session lists", f"{SESSION_LISTS_PER_MAU}", f"{LIVE_SESSIONS_PER_ACCOUNT} live sessions each"],
        ["accounts on file per MAU", f"{REGISTERED_PER_MAU}", "storage only"],
        ["peak-to-average ratio", f"{PEAK_TO_AVERAGE}", "the busiest second against the month's average"],
        ["peak-day-to-average ratio", f"{PEAK_DAY_TO_AVERAGE}", "the busiest day, for daily quotas"],
        ["log bytes", f"{ACCESS_LOG_BYTES} + {LAMBDA_PLATFORM_LOG_BYTES + LAMBDA_APP_LOG_BYTES}",
         "the stage's access-log line per request; START/END/REPORT plus one JSON line per invocation"],
    ]
    w(table(["assumption", "value", "why"], model_rows, "lrl"))
    w("")
    rows = []
    for kind in WORK:
        rows.append([WORK[kind].label] + [num(m["counts"][kind]) for m in months])
    rows.append(["**requests reaching API Gateway**"] + [f"**{num(m['api_requests'])}**" for m in months])
    rows.append(["Lambda invocations (with the mailer's sweeps and key rotation)"]
                + [num(m["total_invocations"]) for m in months])
    w("Which gives, a month:")
    w("")
    w(table(["requests"] + labels, rows))
    w("")

    # ------------------------------------------------------------------------------ per request
    w("## What one request costs the functions")
    w("")
    w(
        f"Memory from `template.yaml`; CPU share = memory / {p['lambda_one_vcpu_mb']:,} MB"
        f"{c('lambda_one_vcpu_mb')}. The deployed estimate is the in-process median measured by "
        "`make bench` (or, for a handler without its own row, one bare `GetItem` median "
        f"({bench['getitem_ms']:.3f} ms) per store request plus half the argon2 hash+verify median "
        f"({bench['argon2_hash_verify_ms']:.1f} ms) per argon2 run) divided by the CPU share, plus "
        f"{DDB_CALL_MS:g} ms per DynamoDB request, {DDB_TRANSACTION_MS:g} ms per transaction and "
        f"{SES_CALL_MS:g} ms per SES call. The measured median includes DynamoDB Local's own time, so "
        "counting all of it as CPU errs high. Lambda bills each invocation rounded up to the "
        "millisecond. Request units are per request, all tables."
    )
    w("")
    rows = []
    for kind, work in WORK.items():
        if not work.function:
            continue
        fn = model.fns[work.function]
        rows.append([
            work.label, f"`{work.function}`", f"{fn.memory}", f"{fn.share:.3f}",
            f"{model.local_ms(work):.2f}" + (" (measured)" if work.bench else ""),
            f"{fn.duration_ms[kind]:.1f}", f"{math.ceil(fn.duration_ms[kind])}",
            f"{sum(work.rru.values()):g}", f"{sum(work.wru.values()):g}", work.how,
        ])
    w(table(
        ["request", "function", "MB", "vCPU", "here, ms", "deployed, ms", "billed, ms", "RRU", "WRU", "store and CPU work"],
        rows, "llrrrrrrrl",
    ))
    w("")
    w(
        "`login-token`, `me` and `revoke-session` are not in the traffic model: a `login-token` call "
        "costs what a login does (one more `GetItem`, and no transaction while the current token is "
        "live), `me` is one of your protected routes, and revoking one session costs what a logout does."
    )
    if template["unpriced"]:
        w("")
        w("Routes of the route table without a cost row yet (not in any figure here): "
          + ", ".join(f"`{label}`" for label in template["unpriced"]) + ".")
    w("")
    rows = []
    for name, fn in model.fns.items():
        rss = bench["peak_rss_mib"].get(name)
        cold = bench["cold_start_sm_ms"].get(name)
        rows.append([
            f"`{name}`", f"{fn.memory}", f"{rss:.1f}" if rss else "not measured",
            f"{cold:.2f}" if cold else "not measured (mean of the others)", f"{fn.cold_ms:.0f}",
        ])
    w(
        "Memory is there for CPU, not for room: peak RSS is a few percent of it. A cold start "
        "(measured with the key ring read from Secrets Manager) is scaled the same way, erring high "
        "the same way, and billed: "
        f"each warm container is assumed to live {CONTAINER_LIFETIME_MINUTES} minutes (AWS publishes "
        "no figure), and there are as many as the function's peak concurrency, rounded up."
    )
    w("")
    w(table(["function", "MB", "peak RSS, MiB", "cold start here, ms", "cold start deployed, ms"], rows, "lrrrr"))
    w("")

    # ------------------------------------------------------------------------------ itemized
    w("## Cost per month, itemized")
    w("")
    rest_note = (
        f"REST API requests{c('apigw_rest_tier1')}{c('apigw_rest_tier2')}{c('apigw_rest_tier3')}"
        f"{c('apigw_rest_tier4')}"
    )
    items = [
        ("apigw", f"API Gateway: {rest_note}, tiered"),
        ("waf_fixed", f"WAF: web ACL{c('waf_web_acl_month')} + {model.waf_rules} rule{c('waf_rule_month')}"),
        ("waf_requests", f"WAF: requests inspected{c('waf_per_million_requests')}"),
        ("lambda_requests", f"Lambda: invocations{c('lambda_per_million_requests')}"),
        ("lambda_duration", f"Lambda: GB-seconds, x86_64{c('lambda_x86_gb_second')} (cold starts included)"),
        ("ddb_reads", f"DynamoDB: read request units{c('dynamodb_rru_per_million')}{c('dynamodb_transaction_factor')}"),
        ("ddb_writes", f"DynamoDB: write request units{c('dynamodb_wru_per_million')}"),
        ("ddb_storage", f"DynamoDB: storage{c('dynamodb_storage_gb_month')}"),
        ("ddb_pitr", f"DynamoDB: point-in-time recovery, users table{c('dynamodb_pitr_gb_month')}"),
        ("secrets", f"Secrets Manager: 1 secret{c('secrets_secret_month')} + GetSecretValue{c('secrets_per_10k_calls')}"),
        ("ses", f"SES: messages{c('ses_per_1000_emails')}"),
        ("logs_ingest", f"CloudWatch Logs: ingestion{c('logs_ingest_gb')}"),
        ("logs_store", f"CloudWatch Logs: storage, {model.log_retention_days:.0f}-day retention, uncompressed (upper bound){c('logs_store_gb_month')}"),
    ]
    rows = [[name] + [money(m["cost"][key]) for m in months] for key, name in items]
    rows.append(["**total, x86_64**"] + [f"**{money(m['total'])}**" for m in months])
    rows.append([f"total with arm64 functions (the template's default){c('lambda_arm64_gb_second')}"]
                + [money(m["arm_total"]) for m in months])
    rows.append(["per MAU"] + [money(m["total"] / m["mau"]) for m in months])
    rows.append([
        f"of which the always-free allowances would cover (Lambda{c('lambda_free_requests')}"
        f"{c('lambda_free_gb_seconds')}, DynamoDB storage{c('dynamodb_free_storage_gb')}), if nothing "
        "else in the account uses them"
    ] + [money(m["free"]) for m in months])
    w(table(["item"] + labels, rows))
    w("")
    rows = [
        ["API requests", *[num(m["api_requests"]) for m in months]],
        ["Lambda invocations", *[num(m["total_invocations"]) for m in months]],
        ["Lambda GB-seconds (of which cold starts)", *[f"{num(m['total_gb_s'])} ({num(m['init_gb_s'])})" for m in months]],
        ["read request units (of which the mailer's sweep scans)", *[f"{num(sum(m['rru'].values()))} ({num(m['sweep_rru'])})" for m in months]],
        ["write request units", *[num(sum(m["wru"].values())) for m in months]],
        ["storage, GB (users / tokens / outbox)", *[" / ".join(gb(v) for v in m["storage_gb"].values()) for m in months]],
        ["GetSecretValue calls (cold starts, refresh every "
         f"`KeyRingRefreshSeconds` = {model.refresh_s:.0f} s per warm container, rotation)",
         *[num(m["secret_calls"]) for m in months]],
        ["messages sent", *[num(m["emails"]) for m in months]],
        ["log GB ingested", *[gb(m["log_gb"]) for m in months]],
    ]
    w("The quantities behind it:")
    w("")
    w(table(["quantity"] + labels, rows))
    w("")
    w(
        "DynamoDB Streams reads by the mailer's event source mapping are free"
        f"{c('dynamodb_streams_lambda_reads')}. If the account is new to SES it is on the Essentials "
        f"plan, ${p['ses_essentials_per_1000_emails']:.2f} per 1,000 messages{c('ses_essentials_per_1000_emails')}: "
        + ", ".join(f"{money(m['emails'] * p['ses_essentials_per_1000_emails'] / 1000)} at {label}" for label, m in zip(labels, months))
        + ". Not counted: data transfer out, the `tokengate/MailPermanentFailures` metric (only when "
        "a message fails for good), and your own functions behind the authorizer."
    )
    w("")
    shares = []
    for label, m in zip(labels, months):
        front = m["cost"]["apigw"] + m["cost"]["waf_requests"] + m["cost"]["waf_fixed"]
        shares.append(f"{front / m['total']:.0%} at {label}")
    w(
        "The API front is most of the bill: API Gateway and WAF together are "
        + ", ".join(shares)
        + ". An HTTP API would charge "
        + ", ".join(f"{money(m['http_api'])}" for m in months)
        + f" for the same requests{c('apigw_http_tier1')}{c('apigw_http_tier2')} "
        "(against the REST line above), but it can neither answer the authorizer's refusals in "
        "problem+json nor take a WAF web ACL (README: \"The API front\")."
    )
    w("")

    # ------------------------------------------------------------------------------ per million
    w("## Cost per million logins and per million token checks")
    w("")
    w(
        "The marginal cost at first-tier prices (API Gateway's drops past 333 million requests a "
        "month), everything a request itself causes: API Gateway, WAF, Lambda, DynamoDB, logs."
    )
    w("")
    mixes = [
        ("a million logins (right password)", {"login": 1}),
        (f"a million logins as the model has them (with {FAILED_LOGINS_PER_LOGIN:g} failed tries and {CORS_PREFLIGHTS_PER_LOGIN} preflights each)",
         {"login": 1, "login_failed": FAILED_LOGINS_PER_LOGIN, "preflight": CORS_PREFLIGHTS_PER_LOGIN}),
        ("a million `GET /auth/verify`", {"verify": 1}),
        ("a million calls to a protected route (the authorizer's part)", {"authorizer": 1}),
        ("a million signups (with the verification message)", {"signup": 1, "mail_verification": 1}),
    ]
    rows = []
    for name, mix in mixes:
        cost = model.per_million(mix)
        rows.append([name] + [money(cost[k]) for k in ("apigw", "waf", "lambda", "dynamodb", "ses", "logs")] + [f"**{money(cost['total'])}**"])
    w(table(["per million", "API Gateway", "WAF", "Lambda", "DynamoDB", "SES", "logs", "total"], rows))
    w("")

    # ------------------------------------------------------------------------------ cognito
    w("## Next to Amazon Cognito")
    w("")
    w(
        f"Cognito user pools: the first {p['cognito_free_mau']:,.0f} MAUs free on Lite and Essentials"
        f"{c('cognito_free_mau')}; Lite then ${p['cognito_lite_tier1']} per MAU to 100,000"
        f"{c('cognito_lite_tier1')}, ${p['cognito_lite_tier2']} to 1M{c('cognito_lite_tier2')}, "
        f"${p['cognito_lite_tier3']} to 10M{c('cognito_lite_tier3')} and ${p['cognito_lite_tier4']} "
        f"above{c('cognito_lite_tier4')}; Essentials ${p['cognito_essentials_mau']} per MAU"
        f"{c('cognito_essentials_mau')}. The two Lite rates past 1M were not in any stored copy "
        "(see their footnotes). tokengate's columns: the whole stack as above, and the same month "
        "with no token checks at all (every other request as the model has it), the like-for-like "
        "line, since a Cognito JWT is checked without a request."
    )
    w("")
    rows = []
    for label, m, b in zip(labels, months, bare):
        cog = model.cognito(m["mau"])
        rows.append([
            label, money(m["total"]), money(b["total"]), money(cog["lite"]), money(cog["essentials"]),
            f"{cog['lite'] / b['total']:.1f}x / {cog['essentials'] / b['total']:.1f}x" if cog["lite"] else "-",
        ])
    w(table(
        ["MAU", "tokengate", "tokengate without token checks", "Cognito Lite", "Cognito Essentials",
         "Cognito / tokengate without checks (Lite / Essentials)"],
        rows,
    ))
    w("")
    w(
        "With token checks, each million of them costs tokengate "
        f"{money(model.per_million({'verify': VERIFY_ROUTE_SHARE, 'authorizer': 1 - VERIFY_ROUTE_SHARE})['total'])} "
        "at first-tier prices (above): that, not the logins, is what to weigh against a JWT. "
        "Cognito's side does not include sending its messages through SES, or an API in front of "
        "your own routes; tokengate's includes its whole API front."
    )
    w("")

    # ------------------------------------------------------------------------------ capacity
    w("## Capacity at the peak")
    w("")
    w(
        f"Peak = the month's average second x {PEAK_TO_AVERAGE}. Lambda concurrency per function = "
        "peak rate x deployed duration. The route throttles are the template's defaults: "
        f"`ApiRateLimit` {model.api_rate:,.0f}/s (burst {model.api_burst:,.0f}) on every route, "
        f"`TokenRouteRateLimit` {model.token_rate:,.0f}/s (burst {model.token_burst:,.0f}) on "
        + ", ".join(f"`{r}`" for r in template["token_routes"])
        + f". The account's API Gateway quota is {p['apigw_account_rps']:,.0f} requests/s"
        f"{c('apigw_account_rps')} (burst {p['apigw_account_burst']:,.0f}{c('apigw_account_burst')}) "
        f"across every API in the Region, and Lambda's is {p['lambda_concurrency_default']:,.0f} "
        f"concurrent executions{c('lambda_concurrency_default')} across every function."
    )
    w("")
    rows = []
    for name, fn in model.fns.items():
        rows.append([f"`{name}`"] + [small(m["peak_conc"][name]) for m in months])
    rows.append(["**all functions**"] + [f"**{small(sum(m['peak_conc'].values()))}**" for m in months])
    w("Peak concurrent executions:")
    w("")
    w(table(["function"] + labels, rows))
    w("")
    base = model.limits(months[0])
    rows = []
    for i, row in enumerate(base):
        cells = [row["name"] + (c(row["cite"]) if row["cite"] else ""), f"{row['limit']:,.0f} {row['unit']}"]
        for m in months:
            r = model.limits(m)[i]
            mark = "**" if r["use"] >= 1 else ""
            cells.append(f"{mark}{small(r['demand'])} ({pct(r['use'])}){mark}")
        cells.append(num(row["reached_at"]) if row["reached_at"] < math.inf else "never")
        rows.append(cells)
    w(
        "Every limit that grows with traffic: its demand at the peak second (the busiest day for "
        "the daily quotas), as a share of the limit, and the MAU from which the peak reaches it "
        "(all demand here grows in proportion to MAU):"
    )
    w("")
    w(table(["limit", "value"] + labels + ["reached at MAU"], rows, "lr" + "r" * len(labels) + "r"))
    w("")

    # ------------------------------------------------------------------------------ first limit
    w("### The first limit hit, and the knob that moves it")
    w("")
    for label, m in zip(labels, months):
        lims = sorted((r for r in model.limits(m) if not r["launch_only"]), key=lambda r: r["reached_at"])
        hit = [r for r in lims if r["use"] >= 1]
        if hit:
            first = hit[0]
            more = ""
            if len(hit) > 1:
                more = " Also past its limit: " + "; ".join(
                    f"{r['name']} ({pct(r['use'])})" for r in hit[1:]
                ) + "."
            w(
                f"- **{label}**: {first['name']}: {small(first['demand'])} {first['unit']} at the peak "
                f"against {first['limit']:,.0f} ({pct(first['use'])}); reached from "
                f"{num(first['reached_at'])} MAU. Knob: {first['knob']}.{more}"
            )
        else:
            nearest = max(lims, key=lambda r: r["use"])
            w(
                f"- **{label}**: none. The nearest is {nearest['name']}, at {pct(nearest['use'])} "
                f"({small(nearest['demand'])} of {nearest['limit']:,.0f} {nearest['unit']}), reached from "
                f"{num(nearest['reached_at'])} MAU. Knob when it comes: {nearest['knob']}."
            )
    sandbox = next(r for r in model.limits(months[0]) if r["launch_only"])
    w(
        f"- **Before launch, at any size**: {sandbox['name'].split(' (')[0]}, "
        f"{p['ses_sandbox_per_day']:,.0f} messages a day{c('ses_sandbox_per_day')} (and "
        f"{p['ses_sandbox_per_second']:g} a second{c('ses_sandbox_per_second')}, verified recipients "
        f"only), is used up from {num(sandbox['reached_at'])} MAU. Knob: {sandbox['knob']}."
    )
    w("")
    top = months[-1]
    login_fn = model.fns["login"]
    login_ms = login_fn.duration_ms["login"]
    need = top["peak"]["login"] + top["peak"]["login_failed"]
    w(
        "The route throttles are capacity guards that put a ceiling on argon2 before it can take "
        "the account's Lambda concurrency (README: \"Limits\"): at the login throttle, `login` runs "
        f"{model.token_rate:,.0f}/s x {login_ms:.0f} ms = {model.token_rate * login_ms / 1000:.1f} "
        f"concurrent executions. Raising `TokenRouteRateLimit` to the {num(need)}/s the model needs at "
        f"{labels[-1]} asks for {need * login_ms / 1000:.0f} of them; reserve that much concurrency for "
        "`login` when you do, so a storm on it cannot starve the authorizer."
    )
    w("")

    # ------------------------------------------------------------------------------ hot keys
    w("## Hot keys: what one account can do, whatever the MAU")
    w("")
    per_ip = model.waf_limit / 300
    ips_to_fill = model.token_rate / per_ip
    key_routes = 2  # login and login-token both touch the email item without a token
    key_rate = model.token_rate * key_routes
    part_w, part_r = p["dynamodb_partition_wru_per_s"], p["dynamodb_partition_rru_per_s"]
    w(
        "**A credential-stuffing storm on one account.** WAF lets each address send "
        f"`CredentialRateLimitPer5Min` = {model.waf_limit:,.0f} requests to the credential routes in any "
        f"5 minutes, {per_ip:g}/s (WAF takes limits down to {p['waf_rate_limit_min']:,.0f} per window"
        f"{c('waf_rate_limit_min')}). Every guess at one account reads its "
        "email item (1 RRU) and writes it (1 WRU: the guess reservation, or, once the account is "
        "locked, the same-shaped update that changes nothing). "
        f"{ips_to_fill:,.0f} addresses at the WAF limit fill `POST /auth/login`'s throttle of "
        f"{model.token_rate:,.0f}/s; from then on everyone's logins get `429`, which is the first "
        "thing that breaks, for every user, long before any key does. Through login and "
        f"`login-token` together the item sees at most {key_rate:,.0f} writes/s against the "
        f"partition's {part_w:,.0f} WRU/s{c('dynamodb_partition_wru_per_s')} "
        f"({pct(key_rate / part_w)}) and {key_rate:,.0f} reads/s against {part_r:,.0f} RRU/s"
        f"{c('dynamodb_partition_rru_per_s')}: the route throttle protects the key. The key would "
        f"get hot only with `TokenRouteRateLimit` above {part_w / key_routes:,.0f}/s and "
        f"{part_w / per_ip:,.0f} addresses. The account itself locks after `LoginMaxFailures` = "
        f"{params['LoginMaxFailures']} wrong guesses for `LoginLockSeconds` = {params['LoginLockSeconds']} s. "
        "Knobs: lower `CredentialRateLimitPer5Min`, turn on `EnableIpReputationList`; the route "
        "throttle is shared by all callers and is no abuse control."
    )
    w("")
    typical = SESSIONS_ITEM_BASE + ITEM_OVERHEAD + SESSION_ENTRY * LIVE_SESSIONS_PER_ACCOUNT
    capped = SESSIONS_ITEM_BASE + ITEM_OVERHEAD + SESSION_ENTRY * model.max_sessions
    rru_small, rru_capped = math.ceil(typical / 4096), math.ceil(capped / 4096)
    verify_rru = model.api_rate * rru_capped
    per_container = model.max_sessions / model.cache_s if model.cache_s else math.inf
    containers_to_hot = part_r / rru_capped / per_container if model.cache_s else 0
    w(
        "**One account verified very often.** Every `GET /auth/verify` and every authorizer miss "
        "reads the account's sessions item, strongly consistent: "
        f"{typical} bytes with {LIVE_SESSIONS_PER_ACCOUNT} sessions ({rru_small} RRU), about "
        f"{capped:,} bytes for an account at `MaxSessionsPerAccount` = {model.max_sessions} "
        f"({rru_capped} RRU). The partition serves {part_r:,.0f} RRU/s, so one account can be "
        f"checked at most {part_r / rru_small:,.0f} times a second ({part_r / rru_capped:,.0f} at the "
        f"cap). `GET /auth/verify` alone cannot get there: its throttle of {model.api_rate:,.0f}/s "
        f"reads at most {verify_rru:,.0f} RRU/s of one item. The authorizer, in front of several "
        "routes, can, for an account many callers share (a service account, say): "
        f"`AuthorizerCacheSeconds` = {model.cache_s:g} s bounds each warm authorizer container to "
        f"{per_container:g} reads/s of one account (each of its {model.max_sessions} tokens once "
        f"per {model.cache_s:g} s), so it takes {containers_to_hot:,.0f} warm authorizer containers "
        "all busy with that account. Knobs: keep the authorizer cache on (it is also the "
        "revocation delay), give such a caller fewer, longer-lived tokens, and keep "
        "`MaxSessionsPerAccount` low enough that the item stays under 4 KB."
    )
    w("")
    w(
        "Every other key is one account's own items (its email item, profile, sessions, token "
        "records and codes), written a few times per login: DynamoDB spreads accounts over "
        "partitions by their random ids, so table-wide traffic (above) is what grows with MAU."
    )
    w("")

    # ------------------------------------------------------------------------------ sources
    w("## Sources")
    w("")
    w(
        "From [`docs/prices.toml`](prices.toml). \"Seen\" is the date on the stored copy the figure "
        "was read from, or the day the table was written when the copy shows none. A source of "
        "\"not in the stored copies\" marks a figure no stored page carried; its value is the one "
        "believed correct, and its note says so."
    )
    w("")
    w(prices.footnotes())
    w("")
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if docs/scale.md is not what the script writes")
    args = parser.parse_args()
    text = render(read_bench(BENCH), read_template(TEMPLATE), Prices(PRICES))
    if args.check:
        current = OUT.read_text() if OUT.exists() else ""
        if current != text:
            diff = difflib.unified_diff(
                current.splitlines(), text.splitlines(), "docs/scale.md (checked in)",
                "docs/scale.md (generated)", lineterm="", n=1,
            )
            print("\n".join(list(diff)[:60]), file=sys.stderr)
            print(
                "docs/scale.md differs from what `python3 scripts/scale.py` writes: regenerate it, "
                "do not edit it by hand.",
                file=sys.stderr,
            )
            return 1
        print("docs/scale.md is up to date")
        return 0
    OUT.write_text(text)
    print(f"wrote {OUT.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
