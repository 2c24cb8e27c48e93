//! The front over HTTP/1.1: each connection's requests handed to [`Front::handle`].

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::events::IncomingRequest;
use crate::front::Front;

/// Serves `front` on `listener` until the task is dropped or accepting fails.
pub async fn serve(listener: TcpListener, front: Arc<Front>) -> std::io::Result<()> {
    let requests = Arc::new(AtomicU64::new(0));
    loop {
        let (stream, peer) = listener.accept().await?;
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
