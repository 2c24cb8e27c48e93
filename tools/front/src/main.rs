//! `front --template template.yaml --listen 127.0.0.1:9000 --functions http://127.0.0.1:9001
//! [--parameter Name=Value ...]`: serves the template's REST API on `--listen`, in front of
//! cargo lambda watch's invoke API at `--functions`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use front::events::IncomingRequest;
use front::{Api, Front};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

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
    let api = Api::from_template(
        &std::fs::read_to_string(&options.template)?,
        &options.parameters,
    )?;
    let routes = api.routes.len();
    let front = Arc::new(Front::new(api, &options.functions));
    let listener = TcpListener::bind(options.listen).await?;
    eprintln!(
        "front: {routes} routes of {} on http://{}",
        options.template, options.listen
    );
    let requests = Arc::new(AtomicU64::new(0));
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => accepted?,
            _ = tokio::signal::ctrl_c() => return Ok(()),
        };
        let (front, requests) = (front.clone(), requests.clone());
        tokio::spawn(async move {
            let service = service_fn(move |request: Request<hyper::body::Incoming>| {
                let (front, number) = (front.clone(), requests.fetch_add(1, Ordering::Relaxed));
                async move { Ok::<_, Infallible>(answer(&front, request, peer, number).await) }
            });
            // A client that hangs up mid-request is its own business.
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(
    front: &Front,
    request: Request<hyper::body::Incoming>,
    peer: SocketAddr,
    number: u64,
) -> Response<Full<Bytes>> {
    let (parts, body) = request.into_parts();
    let path_and_query = parts.uri.path_and_query().map_or("/", |path| path.as_str());
    let mut incoming = IncomingRequest::new(parts.method.clone(), path_and_query);
    incoming.headers = parts.headers;
    incoming.source_ip = peer.ip().to_string();
    incoming.request_id = format!("local-{number}");
    incoming.body = match body.collect().await {
        Ok(collected) => collected.to_bytes().to_vec(),
        Err(_) => Vec::new(),
    };
    let answer = front.handle(incoming).await;
    let mut response = Response::new(Full::new(answer.body));
    *response.status_mut() =
        hyper::StatusCode::from_u16(answer.status).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
    *response.headers_mut() = answer.headers;
    response
}
