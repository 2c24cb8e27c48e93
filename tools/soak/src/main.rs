//! `make soak` (scripts/soak.sh starts the stack): `SOAK_MINUTES` (default 30) of mixed traffic
//! from `SOAK_CLIENTS` (default 16) concurrent clients against the local API, after a warm-up that
//! starts every function and fills the authorizer's cache. It reports per route requests,
//! statuses and p50/p99 latency; per function its resident memory after the warm-up and at the
//! end (growth must stay under 1 MiB); 5xx answers (there must be none); and an audit of the
//! tables. Writes the report to `SOAK_REPORT` (bench/soak.md) and fails when a goal is missed.
//!
//! Environment: `SOAK_API` (the front's URL), `SOAK_MAIL` (the SES emulator's), `SOAK_FUNCTIONS_DIR`
//! (the release binaries' folder), `SOAK_REPORT`, `USERS_TABLE`, `TOKENS_TABLE`, `OUTBOX_TABLE`,
//! `SOAK_CACHE_FILL` (tokens pushed through the authorizer in the warm-up, default 10500: over
//! its cache's 10000), and the AWS variables that point the SDK at DynamoDB Local.

mod audit;
mod rss;
mod stats;
mod traffic;

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use stats::Stats;
use traffic::{Client, Secrets, Shared};

/// Most a function's resident memory may grow between the end of the warm-up and the end.
const MAX_GROWTH_KIB: u64 = 1024;

fn var(name: &str) -> Result<String, String> {
    std::env::var(name).map_err(|_| format!("{name} is not set"))
}

fn number(name: &str, default: usize) -> Result<usize, String> {
    match std::env::var(name) {
        Ok(text) => text
            .trim()
            .parse()
            .map_err(|_| format!("{name} is not a number")),
        Err(_) => Ok(default),
    }
}

fn progress(message: &str) {
    eprintln!("soak: {message}");
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            progress("a goal was missed (see the report)");
            ExitCode::FAILURE
        }
        Err(error) => {
            progress(&error);
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<bool, String> {
    let minutes = number("SOAK_MINUTES", 30)?;
    let clients = number("SOAK_CLIENTS", 16)?.max(1);
    let cache_fill = number("SOAK_CACHE_FILL", 10_500)?;
    let functions_dir = PathBuf::from(var("SOAK_FUNCTIONS_DIR")?);
    let report_path = PathBuf::from(var("SOAK_REPORT")?);
    let tables = [
        var("USERS_TABLE")?,
        var("TOKENS_TABLE")?,
        var("OUTBOX_TABLE")?,
    ];
    let started = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|e| e.to_string())?
        .as_secs();
    let shared = Shared {
        http: reqwest::Client::new(),
        api: var("SOAK_API")?,
        mail: var("SOAK_MAIL")?,
        stats: Stats::default(),
        secrets: Mutex::new(Secrets::default()),
        started,
    };

    progress(&format!("signing up {clients} clients"));
    let mut pool = Vec::new();
    for number in 0..clients {
        pool.push(
            Client::start(&shared, number)
                .await
                .ok_or("a client could not sign up")?,
        );
    }
    progress("warm-up: every route once from each client");
    futures::future::join_all(pool.iter_mut().map(|client| client.every_route_once())).await;
    progress(&format!(
        "warm-up: {cache_fill} fresh tokens through the authorizer (its cache holds 10000)"
    ));
    let share = cache_fill.div_ceil(clients);
    futures::future::join_all(
        pool.iter_mut()
            .map(|client| client.fill_authorizer_cache(share)),
    )
    .await;
    let warm = rss::of_functions(&functions_dir);
    let warmed_up = Instant::now();

    progress(&format!(
        "{minutes} minutes of mixed traffic from {clients} clients"
    ));
    let deadline = warmed_up + Duration::from_secs(60 * minutes as u64);
    futures::future::join_all(pool.iter_mut().map(|client| client.run(deadline))).await;
    let ran_for = warmed_up.elapsed();
    let end = rss::of_functions(&functions_dir);

    progress("auditing the tables");
    let sdk = tokengate::store::sdk_config(Duration::from_secs(30), None)
        .await
        .map_err(|error| error.to_string())?;
    let client = tokengate::store::Client::new(&sdk);
    let findings = audit::run(&shared, &client, [&tables[0], &tables[1], &tables[2]]).await?;

    let (page, met) = report(
        &shared, &warm, &end, &findings, minutes, clients, ran_for, cache_fill,
    );
    if let Some(dir) = report_path.parent() {
        std::fs::create_dir_all(dir).map_err(|error| error.to_string())?;
    }
    std::fs::write(&report_path, page)
        .map_err(|error| format!("{}: {error}", report_path.display()))?;
    progress(&format!("wrote {}", report_path.display()));
    Ok(met)
}

fn duration(value: Duration) -> String {
    let micros = value.as_micros();
    if micros >= 1_000_000 {
        format!("{:.2} s", value.as_secs_f64())
    } else if micros >= 1_000 {
        format!("{:.1} ms", micros as f64 / 1_000.0)
    } else {
        format!("{micros} us")
    }
}

#[allow(clippy::too_many_arguments)]
fn report(
    shared: &Shared,
    warm: &BTreeMap<String, BTreeMap<u32, u64>>,
    end: &BTreeMap<String, BTreeMap<u32, u64>>,
    findings: &audit::Findings,
    minutes: usize,
    clients: usize,
    ran_for: Duration,
    cache_fill: usize,
) -> (String, bool) {
    let rows = shared.stats.rows();
    let requests: u64 = rows.iter().map(|row| row.requests).sum();
    let server_errors: u64 = rows.iter().map(stats::Row::server_errors).sum();
    let unexpected: u64 = rows.iter().map(|row| row.unexpected).sum();
    let mut page = String::new();
    let when = humantime_now();
    let _ = writeln!(page, "# Soak run\n");
    let _ = writeln!(
        page,
        "Written by `make soak` on {when}: {minutes} minutes (measured {:.1}) of mixed traffic from {clients} concurrent clients through the local front (template.yaml's REST API) to the functions' release builds (one warm process each, polling cargo lambda's runtime API emulator), over DynamoDB Local and the SES emulator, after a warm-up that sent every kind of request from every client and {cache_fill} fresh tokens through the authorizer (whose cache holds 10000, with `AUTHORIZER_CACHE_SECONDS=3600` so it stays full). {requests} requests in all, {:.0} per second on average; this machine is shared (2 cores), so latencies are its, not Lambda's.\n",
        ran_for.as_secs_f64() / 60.0,
        requests as f64 / ran_for.as_secs_f64().max(1.0),
    );
    let mut met = server_errors == 0 && unexpected == 0;
    let _ = writeln!(page, "## Goals\n");
    let _ = writeln!(page, "| goal | measured | met |\n|---|---|---|");
    let _ = writeln!(
        page,
        "| no 5xx (or no answer at all) | {server_errors} | {} |",
        yes(server_errors == 0)
    );
    let _ = writeln!(
        page,
        "| every answer the status its request must get | {unexpected} otherwise | {} |",
        yes(unexpected == 0)
    );

    let mut growth_rows = String::new();
    let mut worst = 0i64;
    for (function, processes) in end {
        let before = warm.get(function);
        for (pid, rss) in processes {
            let (start, growth) = match before.and_then(|before| before.get(pid)) {
                Some(start) => (
                    format!("{:.1} MiB", *start as f64 / 1024.0),
                    *rss as i64 - *start as i64,
                ),
                None => ("(started after the warm-up)".to_owned(), 0),
            };
            if before.and_then(|before| before.get(pid)).is_some() {
                worst = worst.max(growth);
            }
            let ok = growth < MAX_GROWTH_KIB as i64;
            met &= ok || before.and_then(|before| before.get(pid)).is_none();
            let _ = writeln!(
                growth_rows,
                "| {function} (pid {pid}) | {start} | {:.1} MiB | {:+} KiB | {} |",
                *rss as f64 / 1024.0,
                growth,
                yes(ok)
            );
        }
    }
    let restarted: Vec<&String> = warm
        .keys()
        .filter(|function| !end.contains_key(*function))
        .collect();
    met &= restarted.is_empty() && !end.is_empty();
    let _ = writeln!(
        page,
        "| every function's resident memory grows < 1 MiB after the warm-up | largest growth {worst:+} KiB | {} |",
        yes(worst < MAX_GROWTH_KIB as i64 && restarted.is_empty() && !end.is_empty())
    );
    let audit_ok = findings.orphans.is_empty()
        && findings.revoked_alive == 0
        && findings.secrets_found.is_empty();
    met &= audit_ok;
    let _ = writeln!(
        page,
        "| the tables' audit finds nothing | {} | {} |\n",
        if audit_ok {
            "nothing".to_owned()
        } else {
            "see below".to_owned()
        },
        yes(audit_ok)
    );

    let _ = writeln!(page, "## Per route\n");
    let _ = writeln!(
        page,
        "| request | requests | statuses | p50 | p99 | unexpected |\n|---|---|---|---|---|---|"
    );
    for row in &rows {
        let statuses: Vec<String> = row
            .statuses
            .iter()
            .map(|(status, count)| format!("{status}: {count}"))
            .collect();
        let _ = writeln!(
            page,
            "| {} | {} | {} | {} | {} | {} |",
            row.route,
            row.requests,
            statuses.join(", "),
            duration(row.p50),
            duration(row.p99),
            row.unexpected
        );
    }
    let _ = writeln!(page, "\n## Functions' resident memory (VmRSS)\n");
    let _ = writeln!(
        page,
        "| function (process) | after the warm-up | at the end | growth | < 1 MiB |\n|---|---|---|---|---|"
    );
    page.push_str(&growth_rows);
    for function in restarted {
        let _ = writeln!(
            page,
            "| {function} | running after the warm-up | gone at the end (a restart) | - | no |"
        );
    }
    let _ = writeln!(page, "\n## Audit of the tables\n");
    let items: Vec<String> = findings
        .items
        .iter()
        .map(|(table, count)| format!("{table}: {count} items"))
        .collect();
    let _ = writeln!(page, "- Read: {}.", items.join(", "));
    let _ = writeln!(
        page,
        "- Accounts: {} `user#` items; every one has its `email#` item and every `email#` item its account: {}.",
        findings.accounts,
        if findings.orphans.is_empty() {
            "yes".to_owned()
        } else {
            findings.orphans.join("; ")
        }
    );
    let _ = writeln!(
        page,
        "- Revoked tokens (logout, logout-all, password changes, resets) checked with `GET /auth/verify`: {}, still valid: {}.",
        findings.revoked_checked, findings.revoked_alive
    );
    let _ = writeln!(
        page,
        "- Secrets looked for in every attribute of every item (each password, token and code the run sent or read, and any `tg1_`/`tg2_` token text or `soak-pw-` password at all): {}; found in clear: {}.",
        findings.secrets_looked_for,
        if findings.secrets_found.is_empty() {
            "none".to_owned()
        } else {
            findings.secrets_found.join(", ")
        }
    );
    (page, met)
}

fn yes(met: bool) -> &'static str {
    if met { "yes" } else { "no" }
}

fn humantime_now() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}
