//! The release function binaries as processes under cargo lambda's runtime API emulator: cold
//! start (exec to first answered invocation), binary size and peak RSS while serving.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

/// Memory size every started function is told it has, as a 128 MB Lambda would be.
const MEMORY_SIZE_MB: &str = "128";

/// Variables a deployed function gets from Lambda, passed on from the bench's environment (which
/// points them at DynamoDB Local).
const LAMBDA_VARIABLES: &[&str] = &[
    "PATH",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL_DYNAMODB",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_ENDPOINT_URL_SESV2",
];

/// cargo lambda's runtime API emulator (`cargo lambda watch --only-lambda-apis`).
#[derive(Clone)]
pub struct RuntimeEmulator {
    base: String,
    http: reqwest::Client,
}

impl RuntimeEmulator {
    /// The emulator listening on `address` (`host:port`).
    pub fn new(address: &str) -> Self {
        Self {
            base: format!("http://{address}"),
            http: reqwest::Client::new(),
        }
    }

    /// Invokes `function` with `event` as the Lambda Invoke API does, and returns its answer.
    pub async fn invoke(&self, function: &str, event: &Value) -> Result<Value, String> {
        let url = format!("{}/2015-03-31/functions/{function}/invocations", self.base);
        let response = self
            .http
            .post(url)
            .json(event)
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .map_err(|error| format!("invoking {function}: {error}"))?;
        let status = response.status();
        let body = response
            .text()
            .await
            .map_err(|error| format!("reading {function}'s answer: {error}"))?;
        // A function's own error answer (`errorType`, `errorMessage`) is an answer too.
        match serde_json::from_str::<Value>(&body) {
            Ok(answer) if status.is_success() || answer["errorType"].is_string() => Ok(answer),
            _ => Err(format!("{function} answered {status}: {body}")),
        }
    }
}

/// A release binary to start as a Lambda function.
#[derive(Debug, Clone)]
pub struct FunctionBinary {
    /// The function's name (also its binary's).
    pub name: String,
    /// The binary.
    pub path: PathBuf,
}

impl FunctionBinary {
    /// The binary `name` in `dir`.
    pub fn in_dir(dir: &Path, name: &str) -> Self {
        Self {
            name: name.to_owned(),
            path: dir.join(name),
        }
    }

    /// Its size on disk, in bytes.
    pub fn size(&self) -> Result<u64, String> {
        std::fs::metadata(&self.path)
            .map(|metadata| metadata.len())
            .map_err(|error| format!("{}: {error}", self.path.display()))
    }

    /// Starts it against `emulator` with the environment Lambda gives a function: `env`, the
    /// variables Lambda itself sets, and none of the bench's own (a machine's `AWS_CA_BUNDLE` or
    /// `SSL_CERT_FILE` would change what a cold start reads).
    pub fn start(
        &self,
        emulator: &RuntimeEmulator,
        env: &[(String, String)],
    ) -> Result<RunningFunction, String> {
        let lambda_sets = LAMBDA_VARIABLES
            .iter()
            .filter_map(|name| std::env::var(name).ok().map(|value| (*name, value)));
        let child = Command::new(&self.path)
            .env_clear()
            .envs(lambda_sets)
            .env("LANG", "en_US.UTF-8")
            .env("TZ", ":UTC")
            .envs(env.iter().map(|(name, value)| (name, value)))
            .env(
                "AWS_LAMBDA_RUNTIME_API",
                format!("{}/.rt/{}", emulator.base, self.name),
            )
            .env("AWS_LAMBDA_FUNCTION_NAME", &self.name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", MEMORY_SIZE_MB)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|error| format!("starting {}: {error}", self.path.display()))?;
        Ok(RunningFunction { child })
    }

    /// Time from exec to the answer of a first invocation with `event`: the invocation is queued
    /// at the emulator first, so the clock covers start-up, init and that one invocation.
    pub async fn cold_start(
        &self,
        emulator: &RuntimeEmulator,
        env: &[(String, String)],
        event: &Value,
        expect: impl Fn(&Value) -> bool,
    ) -> Result<Duration, String> {
        let invocation = {
            let (emulator, name, event) = (emulator.clone(), self.name.clone(), event.clone());
            tokio::spawn(async move { emulator.invoke(&name, &event).await })
        };
        // Lets the invocation reach the emulator's queue before the function exists.
        tokio::time::sleep(Duration::from_millis(30)).await;
        let started = Instant::now();
        let running = self.start(emulator, env)?;
        let answer = invocation
            .await
            .map_err(|error| format!("invocation task: {error}"))??;
        let elapsed = started.elapsed();
        drop(running);
        if !expect(&answer) {
            return Err(format!(
                "{} answered its first invocation with {answer}",
                self.name
            ));
        }
        Ok(elapsed)
    }
}

/// A started function process; killed when dropped.
pub struct RunningFunction {
    child: Child,
}

impl RunningFunction {
    /// The most resident memory the process has used so far (`VmHWM`), in bytes.
    pub fn peak_rss(&self) -> Result<u64, String> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .map_err(|error| format!("reading the process status: {error}"))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().strip_suffix("kB"))
            .and_then(|kib| kib.trim().parse::<u64>().ok())
            .map(|kib| kib * 1024)
            .ok_or_else(|| "no VmHWM in the process status".to_owned())
    }
}

impl Drop for RunningFunction {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
