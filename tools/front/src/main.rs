//! `front --template template.yaml --listen 127.0.0.1:9000 --functions http://127.0.0.1:9001
//! [--parameter Name=Value ...]`: serves the template's REST API on `--listen`, in front of
//! cargo lambda watch's invoke API at `--functions`, until Ctrl-C or SIGTERM.

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

fn options() -> Result<Options, Error> {
    let mut args = std::env::args().skip(1);
    let (mut template, mut listen, mut functions) = (None, None, None);
    let mut parameters = HashMap::new();
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{flag} needs a value"));
        match flag.as_str() {
            "--template" => template = Some(value()?),
            "--listen" => listen = Some(value()?.parse()?),
            "--functions" => functions = Some(value()?),
            "--parameter" => {
                let pair = value()?;
                let (name, value) = pair.split_once('=').ok_or("--parameter takes Name=Value")?;
                parameters.insert(name.to_owned(), value.to_owned());
            }
            _ => return Err(format!("unknown argument {flag}").into()),
        }
    }
    Ok(Options {
        template: template.ok_or("--template is required")?,
        listen: listen.ok_or("--listen is required")?,
        functions: functions.ok_or("--functions is required")?,
        parameters,
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let options = options()?;
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
