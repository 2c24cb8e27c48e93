//! The local front's own cost: a request through it against the same invocations sent straight
//! to the invoke API, over a stub invoke API whose functions answer at once (so the difference
//! is the front's: template routing, events, the authorizer's policy, HTTP).

use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;
use front::events::{self, IncomingRequest};
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use lambda_http::http::Method;
use tokio::net::TcpListener;

use crate::stats::Samples;
use crate::store_path::paired;

/// What the stub's functions answer: an allow from the authorizer, a 200 from anything else.
fn stub_answer(path: &str) -> &'static str {
    if path.contains("/functions/authorizer/") {
        r#"{"principalId":"u","policyDocument":{"Version":"2012-10-17","Statement":[{"Action":["execute-api:Invoke"],"Effect":"Allow","Resource":["arn:aws:execute-api:us-east-1:123456789012:local/local/*"]}]},"context":{"userId":"u"}}"#
    } else {
        r#"{"statusCode":200,"headers":{"content-type":"application/json"},"multiValueHeaders":{},"body":"{\"success\":true}","isBase64Encoded":false}"#
    }
}

async fn listen() -> (TcpListener, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    (listener, url)
}

/// Starts the stub invoke API; its base URL.
async fn stub_invoke_api() -> String {
    let (listener, url) = listen().await;
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            tokio::spawn(async move {
                let service = service_fn(|request: Request<hyper::body::Incoming>| async move {
                    let answer = stub_answer(request.uri().path());
                    Ok::<_, std::convert::Infallible>(Response::new(Full::new(Bytes::from_static(
                        answer.as_bytes(),
                    ))))
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    url
}

/// `GET path` through the front (its authorizer too, when the route has one) against the same
/// invocations straight to the stub; `(through the front, direct)`.
pub async fn added_latency(
    template: &str,
    path: &str,
    warmup: usize,
    samples: usize,
) -> Result<(Samples, Samples), String> {
    let functions = stub_invoke_api().await;
    let api =
        front::Api::from_template(template, &HashMap::new()).map_err(|error| error.to_string())?;
    let route = api
        .routes
        .iter()
        .find(|route| route.method == "GET" && route.path == path)
        .cloned()
        .ok_or_else(|| format!("template.yaml has no GET {path}"))?;
    let (listener, front_url) = listen().await;
    tokio::spawn(front::server::serve(
        listener,
        Arc::new(front::Front::new(api, &functions)),
    ));

    let http = reqwest::Client::new();
    let request = IncomingRequest::new(Method::GET, path);
    let no_parameters = HashMap::new();
    let mut direct = Vec::new();
    if let Some(authorizer) = &route.authorizer {
        let event = events::authorizer_event(&request, path, &no_parameters);
        direct.push((
            authorizer.clone(),
            serde_json::to_vec(&event).expect("an event"),
        ));
    }
    let event = events::proxy_event(&request, path, &no_parameters, None, true);
    direct.push((
        route.function.clone(),
        serde_json::to_vec(&event).expect("an event"),
    ));

    let through = || {
        let (http, url) = (http.clone(), format!("{front_url}{path}"));
        async move {
            let response = http
                .get(url)
                .bearer_auth("tg2_bench")
                .send()
                .await
                .expect("the front answers");
            assert_eq!(response.status(), 200, "through the front");
            response.bytes().await.expect("a body");
        }
    };
    let straight = || {
        let (http, functions, direct) = (http.clone(), functions.clone(), direct.clone());
        async move {
            for (function, event) in direct {
                let url = format!("{functions}/2015-03-31/functions/{function}/invocations");
                let response = http
                    .post(url)
                    .body(event)
                    .send()
                    .await
                    .expect("the stub answers");
                response.bytes().await.expect("a body");
            }
        }
    };
    Ok(paired(warmup, samples, through, straight).await)
}
