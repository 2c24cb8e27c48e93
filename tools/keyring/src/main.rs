//! Makes and rotates a key ring file (`make run` keeps its ring in `.local/keyring.json`).
//!
//! ```text
//! keyring init FILE        a fresh ring of one key, unless FILE exists
//! keyring rotate FILE      one rotation, as the deployed rotation function makes it
//! keyring revoke-all FILE  one fresh key, newer than every key, which all go (a leaked key)
//! ```
//! FILE `-` reads the ring from standard input and writes the new one to standard output (the
//! deployed runbook pipes Secrets Manager's value through it). A file is replaced whole (write,
//! then rename), so a function never reads half a ring; it is readable by its owner only.
//! `rotate` drops keys as the rotation function does, after `TOKEN_TTL_SECONDS` +
//! `KEY_RING_REFRESH_SECONDS` + an hour (the same variables, the same defaults).

use std::io::{Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use tokengate::Config;
use tokengate::keyring::KeyRing;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [command, file] = args.as_slice() else {
        eprintln!("usage: keyring init|rotate|revoke-all FILE");
        return ExitCode::FAILURE;
    };
    match run(command, file) {
        Ok(message) => {
            eprintln!("keyring: {message}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("keyring: {error}");
            ExitCode::FAILURE
        }
    }
}

fn run(command: &str, file: &str) -> Result<String, String> {
    if command == "init" {
        if Path::new(file).exists() {
            return Ok(format!("{file} exists; kept"));
        }
        let ring = KeyRing::generate();
        write(file, &ring)?;
        return Ok(format!("{file}: new ring {ring:?}"));
    }
    let current = KeyRing::parse(&read(file)?).map_err(|error| error.to_string())?;
    let next = match command {
        "rotate" => {
            let overlap = overlap(file)?;
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_err(|error| error.to_string())?
                .as_secs();
            current.rotated(now, overlap)
        }
        "revoke-all" => current.revoked_all(),
        other => return Err(format!("unknown command {other}")),
    }
    .map_err(|error| error.to_string())?;
    write(file, &next)?;
    Ok(format!("{current:?} -> {next:?}"))
}

/// Seconds a retired key keeps verifying, from the functions' own configuration rules.
fn overlap(file: &str) -> Result<u64, String> {
    let config = Config::from_lookup(|name| match name {
        "USERS_TABLE" | "TOKENS_TABLE" | "OUTBOX_TABLE" => Some("unused".into()),
        "KEY_RING_FILE" => Some(file.into()),
        "KEY_RING_SECRET_ID" => None,
        other => std::env::var(other).ok(),
    })
    .map_err(|error| error.to_string())?;
    Ok(config.key_overlap().as_secs())
}

fn read(file: &str) -> Result<String, String> {
    let mut text = String::new();
    if file == "-" {
        std::io::stdin().read_to_string(&mut text)
    } else {
        std::fs::File::open(file).and_then(|mut opened| opened.read_to_string(&mut text))
    }
    .map_err(|error| format!("reading {file}: {error}"))?;
    Ok(text)
}

fn write(file: &str, ring: &KeyRing) -> Result<(), String> {
    let document = ring.to_document();
    if file == "-" {
        return std::io::stdout()
            .write_all(document.as_bytes())
            .map_err(|error| error.to_string());
    }
    let path = Path::new(file);
    if let Some(folder) = path
        .parent()
        .filter(|folder| !folder.as_os_str().is_empty())
    {
        std::fs::create_dir_all(folder).map_err(|error| format!("creating {folder:?}: {error}"))?;
    }
    let temporary = path.with_extension(format!("tmp-{}", std::process::id()));
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .and_then(|mut opened| {
            opened.write_all(document.as_bytes())?;
            opened.sync_all()
        })
        .and_then(|()| std::fs::set_permissions(&temporary, std::fs::Permissions::from_mode(0o600)))
        .and_then(|()| std::fs::rename(&temporary, path));
    written.map_err(|error| {
        let _ = std::fs::remove_file(&temporary);
        format!("writing {file}: {error}")
    })
}
