//! Writes what the route table derives, each between its markers in a hand-written file:
//! template.yaml's per-function blocks (functions, log groups), the credential routes'
//! throttles and WAF paths; the function binaries of `functions/Cargo.toml`; the README's route
//! index. The rest of each file stays hand-written.
//!
//!     cargo run -p routes -- write    # rewrites the generated parts
//!     cargo run -p routes -- check    # fails, naming each file, when one is not what `write` writes
//!     cargo run -p routes -- json     # the table as JSON (scripts/ read it)
//!     cargo run -p routes -- names    # every function's name, one a line

mod render;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use render::Generated;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn main() -> ExitCode {
    let command = std::env::args().nth(1).unwrap_or_default();
    match command.as_str() {
        "write" | "check" => sync(command == "check"),
        "json" => {
            println!("{:#}", render::json());
            ExitCode::SUCCESS
        }
        "names" => {
            for function in tokengate::routes::FUNCTIONS {
                println!("{}", function.name);
            }
            ExitCode::SUCCESS
        }
        _ => {
            eprintln!("usage: routes write|check|json|names");
            ExitCode::from(2)
        }
    }
}

/// Writes (or, with `check`, compares) every generated part.
fn sync(check: bool) -> ExitCode {
    let mut stale = Vec::new();
    for Generated { file, parts } in render::everything() {
        let path = root().join(file);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(error) => {
                eprintln!("{file}: {error}");
                return ExitCode::FAILURE;
            }
        };
        let mut updated = text.clone();
        for (marker, body) in parts {
            match render::replace_between(&updated, marker, &body) {
                Some(next) => updated = next,
                None => {
                    eprintln!("{file}: no generated part {marker:?} (its BEGIN and END markers)");
                    return ExitCode::FAILURE;
                }
            }
        }
        if updated != text {
            if check {
                stale.push(file);
            } else if let Err(error) = std::fs::write(&path, updated) {
                eprintln!("{file}: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    if stale.is_empty() {
        return ExitCode::SUCCESS;
    }
    eprintln!(
        "not what the route table makes of them: {}; run `cargo run -p routes -- write`",
        stale.join(", ")
    );
    ExitCode::FAILURE
}
