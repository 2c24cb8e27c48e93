//! The front over HTTP/1.1: each connection's requests handed to [`Front::handle`], their
//! bodies read up to API Gateway's 10 MB ([`MAX_BODY_BYTES`]) and refused past it.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, LengthLimitError, Limited};
use hyper::body::Body;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use crate::events::IncomingRequest;
use crate::front::{Front, MAX_BODY_BYTES};

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
    let answer = match read_body(body, MAX_BODY_BYTES).await {
        Ok(body) => {
            incoming.body = body;
            front.handle(incoming).await
        }
        Err(TooLarge) => front.too_large(&incoming),
    };
    let mut response = Response::new(Full::new(answer.body));
    *response.status_mut() =
        hyper::StatusCode::from_u16(answer.status).unwrap_or(hyper::StatusCode::BAD_GATEWAY);
    *response.headers_mut() = answer.headers;
    response
}

/// A body over the cap.
#[derive(Debug, PartialEq, Eq)]
struct TooLarge;

/// The bytes of `body`, at most `cap` of them: [`TooLarge`] as soon as its `Content-Length`
/// says more (then nothing is read) or it sends more (then no more than a frame past the cap
/// is read). A body cut short by its client is empty, as the client is gone.
async fn read_body<B>(body: B, cap: usize) -> Result<Vec<u8>, TooLarge>
where
    B: Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    if body.size_hint().lower() > cap as u64 {
        return Err(TooLarge);
    }
    match Limited::new(body, cap).collect().await {
        Ok(collected) => Ok(collected.to_bytes().to_vec()),
        Err(error) if error.downcast_ref::<LengthLimitError>().is_some() => Err(TooLarge),
        Err(_) => Ok(Vec::new()),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::VecDeque;
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use hyper::body::{Frame, SizeHint};

    use super::*;

    /// A body of `chunks`, of the length `declared` says (as `Content-Length` does), or of no
    /// stated length (as a chunked request's).
    struct Chunks {
        chunks: VecDeque<Bytes>,
        declared: Option<u64>,
    }

    impl Chunks {
        fn of(sizes: &[usize], declared: Option<u64>) -> Self {
            let chunks = sizes.iter().map(|size| Bytes::from(vec![b'x'; *size]));
            Self {
                chunks: chunks.collect(),
                declared,
            }
        }
    }

    impl Body for Chunks {
        type Data = Bytes;
        type Error = Infallible;

        fn poll_frame(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
            let declared_too_much = self.declared.is_some_and(|length| length > 10);
            assert!(
                !declared_too_much,
                "a body declared over the cap is never read"
            );
            Poll::Ready(self.chunks.pop_front().map(|chunk| Ok(Frame::data(chunk))))
        }

        fn size_hint(&self) -> SizeHint {
            self.declared
                .map_or_else(SizeHint::new, SizeHint::with_exact)
        }
    }

    #[tokio::test]
    async fn a_body_up_to_the_cap_is_read_and_one_past_it_refused() {
        let read = |sizes: &[usize], declared| read_body(Chunks::of(sizes, declared), 10);
        assert_eq!(read(&[4, 6], None).await.map(|body| body.len()), Ok(10));
        assert_eq!(read(&[10], Some(10)).await.map(|body| body.len()), Ok(10));
        assert_eq!(read(&[4, 6, 1], None).await, Err(TooLarge));
        assert_eq!(read(&[], Some(11)).await, Err(TooLarge));
        assert_eq!(read(&[], Some(u64::MAX)).await, Err(TooLarge));
    }
}
