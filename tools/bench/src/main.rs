//! `make bench`: every figure of tokengate measured against a baseline in the same run, printed
//! as a table and written to `bench/results.md`. `scripts/bench.sh` starts DynamoDB Local and
//! cargo lambda's runtime API emulator and builds the release binaries first.
//!
//! Environment: the AWS variables that point the SDK at DynamoDB Local, and
//! `BENCH_FUNCTIONS_DIR` (the release binaries, `hello-lambda` among them), `BENCH_ARGON2_CLI`
//! (the reference `argon2` CLI), `BENCH_RUNTIME_API` (the emulator's `host:port`),
//! `BENCH_RESULTS` (where to write the table) and `BENCH_QUICK=1` (few samples, for a try-out).

mod deployment;
mod events;
mod front_path;
mod functions;
mod hashing;
mod report;
mod stats;
mod store_path;
mod workloads;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use deployment::Deployment;
use functions::{FunctionBinary, RuntimeEmulator};
use report::{Row, duration, mebibytes};
use stats::Samples;

/// How many samples each figure takes.
struct SampleSizes {
    store_calls: usize,
    rejection_batches: usize,
    hashes: usize,
    cold_starts: usize,
    reset_requests: usize,
    invocations: usize,
    hashing_invocations: usize,
    throughput_window: Duration,
}

impl SampleSizes {
    const FULL: Self = Self {
        store_calls: 4_000,
        rejection_batches: 2_000,
        hashes: 60,
        cold_starts: 50,
        reset_requests: 60,
        invocations: 300,
        hashing_invocations: 12,
        throughput_window: Duration::from_secs(4),
    };
    const QUICK: Self = Self {
        store_calls: 200,
        rejection_batches: 200,
        hashes: 5,
        cold_starts: 5,
        reset_requests: 10,
        invocations: 20,
        hashing_invocations: 2,
        throughput_window: Duration::from_millis(500),
    };
}

/// Tokens per rejection sample: short calls are timed in batches.
const REJECTION_BATCH: usize = 100;
/// Concurrent callers in the throughput figure.
const CALLERS: usize = 64;
/// Alternating windows of ours and the baseline in the throughput figure.
const THROUGHPUT_ROUNDS: usize = 4;
/// The memory size a function must fit in unless argon2 needs more.
const LAMBDA_MEMORY_MIB: u64 = 128;

/// Where things are, from the environment.
struct Settings {
    functions_dir: PathBuf,
    argon2_cli: PathBuf,
    runtime_api: String,
    results: PathBuf,
    sizes: SampleSizes,
    /// template.yaml, whose REST API the local front serves.
    template: PathBuf,
}

impl Settings {
    fn from_env() -> Result<Self, String> {
        let var = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set"));
        Ok(Self {
            functions_dir: var("BENCH_FUNCTIONS_DIR")?.into(),
            argon2_cli: var("BENCH_ARGON2_CLI")?.into(),
            runtime_api: var("BENCH_RUNTIME_API")?,
            results: var("BENCH_RESULTS")?.into(),
            template: var("BENCH_TEMPLATE")?.into(),
            sizes: if std::env::var("BENCH_QUICK").is_ok_and(|quick| quick == "1") {
                SampleSizes::QUICK
            } else {
                SampleSizes::FULL
            },
        })
    }
}

fn progress(message: &str) {
    eprintln!("bench: {message}");
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("bench: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let settings = Settings::from_env()?;
    let sizes = &settings.sizes;
    progress("creating tables and the bench account");
    let deployment = Deployment::create().await?;
    let mut rows = Vec::new();

    progress("verify and authorizer against a bare GetItem");
    let warmup = sizes.store_calls / 10;
    let (ours, bare) = store_path::verify_handler(&deployment, warmup, sizes.store_calls).await;
    rows.push(Row::timing(
        "verify handler, valid token / bare GetItem",
        &ours,
        &bare,
        Some(1.10),
    ));
    let (ours, bare) = store_path::authorizer(&deployment, warmup, sizes.store_calls).await;
    rows.push(Row::timing(
        "authorizer (cache off), valid token / bare GetItem",
        &ours,
        &bare,
        Some(1.10),
    ));

    for sessions in [1, 100] {
        progress(&format!("GET /auth/sessions for {sessions} sessions"));
        let (ours, bare) =
            store_path::sessions_listing(&deployment, sessions, warmup, sizes.store_calls / 4)
                .await?;
        rows.push(Row::timing(
            &format!("GET /auth/sessions handler, {sessions} live sessions / bare GetItem"),
            &ours,
            &bare,
            None,
        ));
    }

    progress("password-reset requests, known against unknown email");
    let (known, unknown) = store_path::reset_requests(&deployment, 10, sizes.reset_requests).await;
    let mut row = Row::timing(
        "POST /auth/password-reset handler, known email / unknown email",
        &known,
        &unknown,
        None,
    );
    let ratio = known.median() / unknown.median();
    row.goal = "within 10% (median)".into();
    row.met = Some((0.9..=1.1).contains(&ratio));
    rows.push(row);

    progress("rejecting garbage and forged tokens");
    let rejections =
        store_path::rejections(&deployment, sizes.rejection_batches, REJECTION_BATCH).await;
    rows.push(rejection_row(&rejections));
    rows.push(Row {
        figure: "store requests while rejecting garbage and forged tokens".into(),
        ours: format!(
            "{} in {} rejections",
            rejections.store_requests, rejections.rejected_count
        ),
        baseline: format!("{} per valid verify", rejections.control_requests),
        ratio: "-".into(),
        goal: "0".into(),
        met: Some(rejections.store_requests == 0 && rejections.control_requests == 1),
    });

    progress("argon2id against the reference CLI");
    let params = deployment.config.hash_params;
    let hashes = hashing::compare(&settings.argon2_cli, params, sizes.hashes).await?;
    let mut row = Row::timing(
        &format!(
            "argon2id hash+verify (m={} KiB, t={}, p={}) / reference C `argon2` CLI",
            params.memory_kib, params.iterations, params.parallelism
        ),
        &hashes.ours,
        &hashes.reference,
        Some(1.3),
    );
    row.baseline += &format!(
        " (less {} start-up)",
        duration(hashes.cli_overhead.median())
    );
    rows.push(row);

    let emulator = RuntimeEmulator::new(&settings.runtime_api);
    rows.extend(function_rows(&settings, &deployment, &emulator).await?);

    progress("the local front's added latency");
    let template = std::fs::read_to_string(&settings.template)
        .map_err(|error| format!("{}: {error}", settings.template.display()))?;
    for (path, what) in [
        ("/api/me", "protected route: authorizer + function"),
        ("/auth/verify", "public route: function"),
    ] {
        let (through, direct) =
            front_path::added_latency(&template, path, warmup, sizes.store_calls / 2).await?;
        let mut row = Row::timing(
            &format!(
                "local front, GET {path} ({what}) / the same invocations straight to the invoke API"
            ),
            &through,
            &direct,
            None,
        );
        row.ours += &format!(
            " (+{} per request)",
            duration(through.median() - direct.median())
        );
        rows.push(row);
    }

    progress("throughput with 64 concurrent callers");
    let (ours, bare) = store_path::throughput(
        &deployment,
        CALLERS,
        THROUGHPUT_ROUNDS,
        sizes.throughput_window,
    )
    .await;
    rows.push(Row {
        figure: format!("throughput, {CALLERS} concurrent callers: verify / bare GetItem"),
        ours: format!("{ours:.0} calls/s"),
        baseline: format!("{bare:.0} calls/s"),
        ratio: format!("{:.2}", ours / bare),
        goal: ">= 0.90".into(),
        met: Some(ours / bare >= 0.9),
    });

    let table = report::markdown(&rows);
    println!("\n{table}");
    let page = results_page(&table, &settings, &hashes.cli_overhead);
    if let Some(dir) = settings.results.parent() {
        std::fs::create_dir_all(dir).map_err(|error| format!("{}: {error}", dir.display()))?;
    }
    std::fs::write(&settings.results, page)
        .map_err(|error| format!("{}: {error}", settings.results.display()))?;
    progress(&format!("wrote {}", settings.results.display()));
    Ok(())
}

fn rejection_row(rejections: &store_path::Rejections) -> Row {
    let mut row = Row::timing(
        "garbage or forged token rejected / tag check of a genuine token",
        &rejections.rejected,
        &rejections.tag_check,
        None,
    );
    row.goal = "< 5 us (median)".into();
    row.met = Some(rejections.rejected.median() < 5e-6);
    row
}

/// Cold starts, binary sizes and peak memory of every function, against the hello baseline.
async fn function_rows(
    settings: &Settings,
    deployment: &Deployment,
    emulator: &RuntimeEmulator,
) -> Result<Vec<Row>, String> {
    let sizes = &settings.sizes;
    let env = &deployment.env;
    let hello = FunctionBinary::in_dir(&settings.functions_dir, "hello-lambda");
    let hello_get_item = FunctionBinary::in_dir(&settings.functions_dir, "hello-getitem");
    let functions: Vec<FunctionBinary> = workloads::functions()
        .map(|name| FunctionBinary::in_dir(&settings.functions_dir, name))
        .collect();
    let valid_first = ["verify", "authorizer"];

    progress("cold starts under the runtime API emulator");
    let mut hello_starts = Samples::with_capacity(sizes.cold_starts);
    let mut refusing = vec![Samples::with_capacity(sizes.cold_starts); functions.len()];
    let mut refusing_from_file = vec![Samples::with_capacity(sizes.cold_starts); functions.len()];
    let file_env = &deployment.env_with_ring_file;
    let mut serving = vec![Samples::with_capacity(sizes.cold_starts); valid_first.len()];
    let mut ring_reads = Samples::with_capacity(sizes.cold_starts);
    let mut first_get_items = Samples::with_capacity(sizes.cold_starts);
    let hello_event = serde_json::json!({"hello": "bench"});
    let mut get_item_starts = Samples::with_capacity(sizes.cold_starts);
    // The item a valid token's check reads: its account's sessions item.
    let sessions_item =
        serde_json::json!({"uid": deployment.claims.user.to_string(), "sk": "sessions"});
    for _ in 0..sizes.cold_starts {
        let (ring_read, first_get_item) = store_path::first_calls(deployment).await;
        ring_reads.push(ring_read);
        first_get_items.push(first_get_item);
        hello_starts.push(
            hello
                .cold_start(emulator, env, &hello_event, |answer| {
                    answer["hello"] == "world"
                })
                .await?,
        );
        get_item_starts.push(
            hello_get_item
                .cold_start(emulator, env, &sessions_item, |answer| {
                    answer["found"] == true
                })
                .await?,
        );
        for ((function, samples), from_file) in functions
            .iter()
            .zip(&mut refusing)
            .zip(&mut refusing_from_file)
        {
            let event = workloads::first_event(&function.name);
            let expect =
                |answer: &serde_json::Value| workloads::is_first_answer(&function.name, answer);
            samples.push(function.cold_start(emulator, env, &event, expect).await?);
            // The rotation reads no ring at start-up, so it has no file-ring run to compare.
            if function.name != workloads::ROTATION {
                from_file.push(
                    function
                        .cold_start(emulator, file_env, &event, expect)
                        .await?,
                );
            }
        }
        for (name, samples) in valid_first.iter().zip(&mut serving) {
            let function = FunctionBinary::in_dir(&settings.functions_dir, name);
            let event = workloads::with_token(name, &deployment.token, deployment);
            samples.push(
                function
                    .cold_start(emulator, env, &event, workloads::is_success)
                    .await?,
            );
        }
    }
    let mut rows = vec![Row::timing(
        "key ring read at cold start: fresh client + GetSecretValue / fresh client + first GetItem",
        &ring_reads,
        &first_get_items,
        None,
    )];
    // Every function reads the key ring from Secrets Manager at cold start, as deployed: that
    // read is shown on its own (above, and as the difference to the same binary reading the
    // ring from a file), and the goal applies to the rest, the cold start with the file.
    for ((function, with_secret), from_file) in
        functions.iter().zip(&refusing).zip(&refusing_from_file)
    {
        let first = workloads::first_event_label(&function.name);
        if function.name == workloads::ROTATION {
            rows.push(Row::timing(
                &format!(
                    "cold start {}, first answer ({first}) / hello",
                    function.name
                ),
                with_secret,
                &hello_starts,
                Some(1.5),
            ));
            continue;
        }
        let mut row = Row::timing(
            &format!(
                "cold start {}, first answer ({first}), key ring from a file / hello",
                function.name
            ),
            from_file,
            &hello_starts,
            Some(1.5),
        );
        row.ours += &format!(
            " ({} from Secrets Manager: +{})",
            duration(with_secret.median()),
            duration(with_secret.median() - from_file.median())
        );
        rows.push(row);
    }
    rows.push(Row::timing(
        "cold start hello-getitem, first answer (one bare GetItem) / hello",
        &get_item_starts,
        &hello_starts,
        None,
    ));
    for (name, samples) in valid_first.iter().zip(&serving) {
        rows.push(Row::timing(
            &format!("cold start {name}, first answer (valid token, one GetItem) / hello"),
            samples,
            &hello_starts,
            None,
        ));
        rows.push(Row::timing(
            &format!("cold start {name}, first answer (valid token, one GetItem) / hello-getitem"),
            samples,
            &get_item_starts,
            Some(1.2),
        ));
    }

    progress("binary sizes and peak memory while serving");
    let hello_size = hello.size()?;
    let hello_rss = {
        let running = hello.start(emulator, env)?;
        for _ in 0..sizes.invocations {
            let answer = emulator.invoke(&hello.name, &hello_event).await?;
            if answer["hello"] != "world" {
                return Err(format!("hello answered {answer}"));
            }
        }
        running.peak_rss()?
    };
    let mut size_rows = Vec::new();
    let mut memory_rows = Vec::new();
    for function in &functions {
        let size = function.size()?;
        size_rows.push(Row {
            figure: format!("stripped release binary, {}", function.name),
            ours: mebibytes(size),
            baseline: mebibytes(hello_size),
            ratio: format!("{:.2}", size as f64 / hello_size as f64),
            goal: "-".into(),
            met: None,
        });
        let hashing = workloads::hashes_passwords(&function.name);
        let invocations = if workloads::costs_a_hash(&function.name) {
            sizes.hashing_invocations
        } else {
            sizes.invocations
        };
        let running = function.start(emulator, env)?;
        workloads::serve(&function.name, emulator, deployment, invocations).await?;
        let rss = running.peak_rss()?;
        drop(running);
        memory_rows.push(Row {
            figure: format!(
                "peak RSS, {} serving {invocations} {}{}",
                function.name,
                workloads::requests_noun(&function.name),
                if hashing { " (argon2id)" } else { "" }
            ),
            ours: mebibytes(rss),
            baseline: mebibytes(hello_rss),
            ratio: format!("{:.2}", rss as f64 / hello_rss as f64),
            goal: format!("< {LAMBDA_MEMORY_MIB} MiB"),
            met: Some(rss < LAMBDA_MEMORY_MIB * 1024 * 1024),
        });
    }
    rows.extend(size_rows);
    rows.extend(memory_rows);
    Ok(rows)
}

/// `bench/results.md`: the table, and how its figures were taken.
fn results_page(table: &str, settings: &Settings, cli_overhead: &Samples) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|line| line.strip_prefix("model name"))
                .map(|name| name.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(0, usize::from);
    let sizes = &settings.sizes;
    format!(
        "# Benchmark results\n\n\
         Written by `make bench` on {date} ({cpu}, {cores} cores). Every figure is measured \
         against its baseline in the same run, samples alternating between the two, so the \
         ratios hold even on a noisy machine; timings are `median / p99`.\n\n\
         {table}\n\
         ## How\n\n\
         - **verify, authorizer**: in process, through the domain crate with the real DynamoDB \
         client on DynamoDB Local, {store} calls each after a warm-up; the baseline is a bare \
         strongly consistent `GetItem` of the one item a valid token's check reads (the \
         account's sessions item, which grows with the bench's logins: both sides read it as it \
         is at the time) with the same client. The \
         authorizer runs with its in-container cache off so that every call reads the store.\n\
         - **rejections**: `Tokens::verify` on garbage, right-shaped forgeries of both token \
         forms, a tampered token, and tokens signed with another key under the ring's key id, \
         an older id and newer ids (the first forces one read of the ring, in the warm-up), \
         timed in batches of {batch}; the baseline is the \
         tag check of a genuine token. The DynamoDB client counts the requests it starts: none \
         while rejecting, one for a valid token.\n\
         - **password-reset requests**: the handler in process with the real client, the \
         seeded account's email against an address no account has, {resets} interleaved \
         requests each after 10 of each as warm-up (release build): each is one outbox write, \
         so the medians must stay within 10% of each other.\n\
         - **argon2id**: our `PasswordHasher` hash then verify (as signup then login) against the \
         reference implementation's `argon2` CLI (Debian package `argon2`), which also hashes \
         then verifies; both first compute the same hash, checked byte for byte. The CLI's \
         process start-up (median {overhead}, its run at m=8 KiB, t=1) is subtracted. \
         {hashes} samples.\n\
         - **cold start**: the release binary is exec'd against cargo lambda's runtime API \
         emulator (`cargo lambda watch --only-lambda-apis`) with an invocation already queued; \
         the time runs from exec to the invocation's answer. Deployed, start-up reads the key \
         ring from Secrets Manager (moto's server here, started by `scripts/bench.sh`); every \
         function is started both ways, interleaved: with the ring in Secrets Manager (in \
         brackets, with its difference to the file) and with the same ring in a file \
         (`KEY_RING_FILE`), to which the goal applies. The Secrets Manager read is also timed \
         in process on its own (a fresh SDK client and its first `GetSecretValue`, against a \
         fresh client's first DynamoDB `GetItem`). That first request carries no credentials, so \
         it is answered (a 4xx, or a deny) without DynamoDB or argon2; the mailer's is a stream \
         batch with no records, and `rotate-key`'s (which reads no ring at start-up, so runs \
         with the secret only) another secret's rotation event, refused before any call: the \
         figure is the start-up itself; the valid-token \
         rows add the first DynamoDB call, connection included. The baseline is a minimal `lambda_runtime` function \
         (`tools/hello-lambda`) built in the same run; the valid-token rows are also set against \
         `hello-getitem` (the same package), which makes the functions' SDK set-up and then one \
         bare `GetItem` of the same sessions item: the floor of such a first answer. {cold} \
         starts of each, interleaved. \
         Every process gets the environment Lambda would give it (region, credentials, the \
         endpoint, the function's variables) and nothing else of the bench's: no \
         `AWS_CA_BUNDLE`, so TLS trusts the compiled-in Amazon roots, as deployed by default.\n\
         - **size**: the stripped release binary. **Peak RSS**: `VmHWM` of the process after \
         {invocations} invocations on its main path ({hashing} where each costs an argon2id \
         evaluation: the password functions, and logout and logout-all, whose tokens come \
         from a login, and `rotate-key`'s); the mailer's are outbox sweeps (a scan for \
         unfinished items over a minute old, after a minute's wait so that all queued is due), \
         the first of which send, through the SES emulator \
         started by `scripts/bench.sh`, the messages the bench's signups and reset requests \
         queued; `rotate-key`'s are whole rotations of the bench's ring in Secrets Manager, four \
         steps each, run last.\n\
         - **throughput**: {callers} concurrent tasks share one `Tokens` (one warm function's \
         state) and call `verify` for {rounds} windows of {window:?}, alternating with windows \
         of bare `GetItem`s at the same concurrency.\n",
        date = humantime::format_rfc3339_seconds(std::time::SystemTime::now()),
        store = sizes.store_calls,
        batch = REJECTION_BATCH,
        overhead = duration(cli_overhead.median()),
        hashes = sizes.hashes,
        cold = sizes.cold_starts,
        resets = sizes.reset_requests,
        invocations = sizes.invocations,
        hashing = sizes.hashing_invocations,
        callers = CALLERS,
        rounds = THROUGHPUT_ROUNDS,
        window = sizes.throughput_window,
    )
}
