//! argon2id: our hash+verify against the reference C implementation's `argon2` CLI, which also
//! hashes and then verifies, on the same parameters.

use std::io::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use argon2::{Algorithm, Argon2, Params, Version};
use tokengate::credentials::Password;
use tokengate::passwords::{HashParams, PasswordHasher};

use crate::stats::Samples;

/// The salt given to the CLI (it takes the text's bytes as the salt).
const SALT: &str = "tokengate-bench-salt";

/// What the comparison measured.
pub struct HashTimings {
    /// Our hash then verify, in process.
    pub ours: Samples,
    /// The CLI's hash then verify: its wall time less the median of [`Self::cli_overhead`].
    pub reference: Samples,
    /// The CLI's wall time at the smallest parameters: exec, start-up and output.
    pub cli_overhead: Samples,
}

/// The reference CLI, run once with `params`; returns its wall time and the raw hash it printed.
fn run_cli(cli: &Path, params: HashParams, password: &[u8]) -> Result<(Duration, String), String> {
    let started = Instant::now();
    let mut child = Command::new(cli)
        .args([SALT, "-id", "-l", "32"])
        .args(["-t", &params.iterations.to_string()])
        .args(["-k", &params.memory_kib.to_string()])
        .args(["-p", &params.parallelism.to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|error| format!("starting {}: {error}", cli.display()))?;
    child
        .stdin
        .take()
        .ok_or("no stdin")?
        .write_all(password)
        .map_err(|error| format!("writing the password: {error}"))?;
    let output = child
        .wait_with_output()
        .map_err(|error| format!("running {}: {error}", cli.display()))?;
    let elapsed = started.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    if !output.status.success() || !stdout.contains("Verification ok") {
        return Err(format!(
            "{} failed: {stdout}{}",
            cli.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    let hash = stdout
        .lines()
        .find_map(|line| line.strip_prefix("Hash:"))
        .map(|hex| hex.trim().to_owned())
        .ok_or("the CLI printed no hash")?;
    Ok((elapsed, hash))
}

/// The raw argon2id hash of `password` under [`SALT`] with the `argon2` crate, in hex.
fn crate_hash(params: HashParams, password: &[u8]) -> Result<String, String> {
    let params = Params::new(
        params.memory_kib,
        params.iterations,
        params.parallelism,
        Some(32),
    )
    .map_err(|error| error.to_string())?;
    let mut output = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(password, SALT.as_bytes(), &mut output)
        .map_err(|error| error.to_string())?;
    Ok(output.iter().map(|byte| format!("{byte:02x}")).collect())
}

/// Runs ours and the CLI alternately, `samples` times each, on `params`; first checks that both
/// compute the same hash, so the parameters really are the same.
pub async fn compare(
    cli: &Path,
    params: HashParams,
    samples: usize,
) -> Result<HashTimings, String> {
    let text = "correct horse battery staple";
    let (_, reference_hash) = run_cli(cli, params, text.as_bytes())?;
    let ours_hash = crate_hash(params, text.as_bytes())?;
    if reference_hash != ours_hash {
        return Err(format!(
            "the CLI and the argon2 crate disagree: {reference_hash} vs {ours_hash}"
        ));
    }
    let smallest = HashParams {
        memory_kib: 8,
        iterations: 1,
        parallelism: 1,
    };
    let hasher = PasswordHasher::new(params).map_err(|error| error.to_string())?;
    let password = Password::parse(text.to_owned()).map_err(|error| format!("{error:?}"))?;
    let mut timings = HashTimings {
        ours: Samples::with_capacity(samples),
        reference: Samples::with_capacity(samples),
        cli_overhead: Samples::with_capacity(samples),
    };
    let mut cli_full = Samples::with_capacity(samples);
    for round in 0..=samples {
        let started = Instant::now();
        let hash = hasher
            .hash(&password)
            .await
            .map_err(|error| error.to_string())?;
        let verified = hasher
            .verify(Some(&hash), &password)
            .await
            .map_err(|error| error.to_string())?;
        let ours = started.elapsed();
        if !verified {
            return Err("our hash did not verify".into());
        }
        let (full, _) = run_cli(cli, params, text.as_bytes())?;
        let (overhead, _) = run_cli(cli, smallest, text.as_bytes())?;
        // The first round warms up and is not kept.
        if round > 0 {
            timings.ours.push(ours);
            cli_full.push(full);
            timings.cli_overhead.push(overhead);
        }
    }
    timings.reference = cli_full.less(timings.cli_overhead.median());
    Ok(timings)
}
