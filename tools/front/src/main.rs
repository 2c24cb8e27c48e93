//! `front --template template.yaml --listen 127.0.0.1:9000 --functions http://127.0.0.1:9001
//! [--parameter Name=Value ...] [--allow-remote]`: serves the template's REST API on `--listen`,
//! in front of cargo lambda watch's invoke API at `--functions`, until Ctrl-C or SIGTERM. A
//! `--listen` address other than loopback is refused unless `--allow-remote` is given: the
//! front is a development server (no TLS, no WAF, no throttles).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use front::{Api, Front};
use tokio::net::TcpListener;
use tokio::signal::unix::{SignalKind, signal};

type Error = Box<dyn std::error::Error + Send + Sync>;

struct Options {
    template: String,
    listen: SocketAddr,
    functions: String,
    parameters: HashMap<String, String>,
}

/// The options of the command line `args` (the program's name left out).
fn options(mut args: impl Iterator<Item = String>) -> Result<Options, Error> {
    let (mut template, mut listen, mut functions) = (None, None, None);
    let mut allow_remote = false;
    let mut parameters = HashMap::new();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--template" => template = Some(value()?),
            "--listen" => listen = Some(value()?.parse()?),
            "--functions" => functions = Some(value()?),
            "--allow-remote" => allow_remote = true,
            "--parameter" => {
                let pair = value()?;
                let (name, value) = pair.split_once('=').ok_or("--parameter takes Name=Value")?;
                parameters.insert(name.to_owned(), value.to_owned());
            }
            _ => return Err(format!("unknown argument {flag}").into()),
        }
    }
    let listen: SocketAddr = listen.ok_or("--listen is required")?;
    if !listen.ip().is_loopback() && !allow_remote {
        return Err(format!(
            "--listen {listen} is not a loopback address: the front is for this machine only \
             (give --allow-remote to serve other machines anyway)"
        )
        .into());
    }
    Ok(Options {
        template: template.ok_or("--template is required")?,
        listen,
        functions: functions.ok_or("--functions is required")?,
        parameters,
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let options = options(std::env::args().skip(1))?;
    let template = std::fs::read_to_string(&options.template)?;
    let api = Api::from_template(&template, &options.parameters)?;
    let routes = api.routes.len();
    let front = Arc::new(Front::new(api, &options.functions));
    let listener = TcpListener::bind(options.listen).await?;
    eprintln!(
        "front: {routes} routes of {} on http://{}",
        options.template, options.listen
    );
    let mut terminate = signal(SignalKind::terminate())?;
    tokio::select! {
        served = front::server::serve(listener, front) => served?,
        _ = tokio::signal::ctrl_c() => {}
        _ = terminate.recv() => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listening_on(address: &str, extra: &[&str]) -> Result<SocketAddr, String> {
        let given = [
            "--template",
            "t.yaml",
            "--functions",
            "http://127.0.0.1:9001",
            "--listen",
            address,
        ];
        let args = given.iter().chain(extra);
        options(args.map(|arg| (*arg).to_owned()))
            .map(|options| options.listen)
            .map_err(|error| error.to_string())
    }

    #[test]
    fn only_a_loopback_address_is_served_unless_remote_is_allowed() {
        for local in ["127.0.0.1:9000", "[::1]:9000", "127.0.0.2:9000"] {
            assert_eq!(listening_on(local, &[]), Ok(local.parse().unwrap()));
        }
        for remote in ["0.0.0.0:9000", "[::]:9000", "192.0.2.7:9000"] {
            let refused = listening_on(remote, &[]).unwrap_err();
            assert!(refused.contains("--allow-remote"), "{refused}");
            assert_eq!(
                listening_on(remote, &["--allow-remote"]),
                Ok(remote.parse().unwrap())
            );
        }
    }
}
