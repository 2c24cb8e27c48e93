//! The local API front (`tools/front`, what `make run` serves): template.yaml's REST API in
//! front of the functions, as `make test` runs it (`TOKENGATE_API_URL`, CORS narrowed to
//! `TOKENGATE_PAGE_ORIGIN`). Protected routes answer the template's Gateway Responses, which
//! must be the very bytes the functions answer for the same error. The functions' own invoke
//! API is on another port (`TOKENGATE_FUNCTIONS_URL`), never the API's.

use std::io::{Read, Write};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use reqwest::StatusCode;
use reqwest::header::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use tokengate_tests::{ApiRequest, TestApp, api_url, functions_url, unique_email};

/// The one origin `make test` allows the API's CORS (`CorsAllowedOrigins`).
fn page_origin() -> String {
    std::env::var("TOKENGATE_PAGE_ORIGIN").expect("TOKENGATE_PAGE_ORIGIN is unset: run `make test`")
}

/// Signs up over HTTP; the body.
async fn sign_up(http: &reqwest::Client, email: &str) -> Value {
    let response = http
        .post(format!("{}/auth/signup", api_url()))
        .json(&json!({"email": email, "password": "correct horse"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json().await.unwrap()
}

/// Status, headers and body of `request`.
async fn answer(request: reqwest::RequestBuilder) -> (StatusCode, HeaderMap, Vec<u8>) {
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.bytes().await.unwrap().to_vec())
}

/// Sends `head` (a request line and headers, each ending in CRLF) to the API as written, with
/// no body: no client normalizes its path. The status, the header block (lower-cased) and the
/// body of the answer, which must come within 10 s.
async fn raw_request(head: &str) -> (u16, String, String) {
    let address = api_url().trim_start_matches("http://").to_owned();
    let request = format!("{head}Host: {address}\r\nConnection: close\r\n\r\n");
    let head = head.to_owned();
    tokio::task::spawn_blocking(move || {
        let mut stream = std::net::TcpStream::connect(&address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = Vec::new();
        if let Err(error) = stream.read_to_end(&mut answer) {
            panic!("no whole answer within 10 s to {head:?} ({error}): {answer:?}");
        }
        let answer = String::from_utf8_lossy(&answer).into_owned();
        let (headers, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
        let status = headers.split(' ').nth(1).and_then(|code| code.parse().ok());
        let status = status.unwrap_or_else(|| panic!("an HTTP answer: {answer:?}"));
        (status, headers.to_lowercase(), body.to_owned())
    })
    .await
    .unwrap()
}

/// Asserts a problem+json answer of `status` with `detail`, as the functions send it.
fn assert_problem(answer: &(StatusCode, HeaderMap, Vec<u8>), status: u16, detail: &str) {
    let (actual, headers, body) = answer;
    let body: Value = serde_json::from_slice(body).unwrap_or_else(|_| panic!("JSON: {body:?}"));
    assert_eq!(
        (actual.as_u16(), body["detail"].as_str()),
        (status, Some(detail)),
        "{body}"
    );
    assert_eq!(body["status"], status);
    assert_eq!(headers["content-type"], "application/problem+json");
    assert_eq!(headers["cache-control"], "no-store");
}

#[tokio::test]
async fn the_protected_route_answers_the_caller_the_authorizer_named_in_each_place() {
    let http = reqwest::Client::new();
    let signup = sign_up(&http, &unique_email("front")).await;
    let token = signup["x-auth-token"].as_str().unwrap();
    let me = format!("{}/api/me", api_url());
    for request in [
        http.get(&me).bearer_auth(token),
        http.get(&me).header("X-Auth-Token", token),
        http.get(&me).query(&[("x-auth-token", token)]),
    ] {
        let (status, _, body) = answer(request).await;
        assert_eq!(status, StatusCode::OK);
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body, json!({"success": true, "userObj": signup["userObj"]}));
    }
}

#[tokio::test]
async fn refused_tokens_get_the_gateway_responses_in_the_functions_own_bytes() {
    let http = reqwest::Client::new();
    let base = api_url();
    let me = format!("{base}/api/me");
    // /auth/sessions checks its token itself: the function's own answer to compare with.
    let sessions = format!("{base}/auth/sessions");

    let missing = answer(http.get(&me)).await;
    assert_problem(&missing, 401, "No authentication credentials provided.");
    assert_eq!(missing.1["www-authenticate"], r#"Bearer realm="tokengate""#);
    let function_missing = answer(http.get(&sessions)).await;
    assert_eq!(
        missing.2, function_missing.2,
        "the same bytes as the functions' 401"
    );
    assert_eq!(
        missing.1["www-authenticate"],
        function_missing.1["www-authenticate"]
    );

    // Expired: issued over the running API's own tables and keys by a clock two TTLs back.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let past = TestApp::over_running_api(now - 2 * tokengate_tests::TTL_SECONDS).await;
    let stale = past.sign_up(&unique_email("front"), "correct horse").await;
    let stale = stale["x-auth-token"].as_str().unwrap();
    let expired = answer(http.get(&me).bearer_auth(stale)).await;
    assert_problem(&expired, 403, "Access token expired.");
    assert_eq!(
        expired.1["www-authenticate"],
        r#"Bearer realm="tokengate", error="invalid_token""#
    );
    let function_expired = answer(http.get(&sessions).bearer_auth(stale)).await;
    assert_eq!(
        expired.2, function_expired.2,
        "the same bytes as the functions' 403"
    );
    assert_eq!(
        expired.1["www-authenticate"],
        function_expired.1["www-authenticate"]
    );

    // Forged, garbled and revoked: 403 Invalid access token. (only ACCESS_DENIED can say why).
    let signup = sign_up(&http, &unique_email("front")).await;
    let revoked = signup["x-auth-token"].as_str().unwrap().to_owned();
    let logout = http
        .post(format!("{base}/auth/logout"))
        .bearer_auth(&revoked)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::OK);
    let forged = tokengate_tests::forged_token();
    for token in [revoked.as_str(), forged.as_str(), "garbled"] {
        let denied = answer(http.get(&me).header("X-Auth-Token", token)).await;
        assert_problem(&denied, 403, "Invalid access token.");
        let body: Value = serde_json::from_slice(&denied.2).unwrap();
        assert_eq!(
            body["type"],
            "https://www.w3.org/Protocols/rfc2616/rfc2616-sec10.html#sec10.4.4"
        );
        assert_eq!(body["title"], "Forbidden");
    }
}

#[tokio::test]
async fn no_route_is_a_404_problem_not_rests_missing_authentication_token() {
    let http = reqwest::Client::new();
    let base = api_url();
    for request in [
        http.get(format!("{base}/nowhere")),
        http.delete(format!("{base}/auth/login")),
        http.get(format!("{base}/auth/sessions/a/b")),
        http.get(format!("{base}/")),
    ] {
        let answer = answer(request).await;
        assert_problem(&answer, 404, "No route matches this method and path.");
    }
}

#[tokio::test]
async fn a_body_that_is_not_utf8_reaches_the_function_intact_and_gets_its_400() {
    let http = reqwest::Client::new();
    let answer = answer(
        http.post(format!("{}/auth/login", api_url()))
            .header("content-type", "application/json")
            .body(vec![0xff, 0xfe, b'{', 0x00]),
    )
    .await;
    assert_problem(
        &answer,
        400,
        "Request body must be a JSON object whose fields are strings (error at line 1, column 1).",
    );
}

/// Runs `cargo lambda invoke FUNCTION` against the functions' invoke port with `event`; its
/// stdout.
fn cargo_lambda_invoke(function: &str, event: &Value) -> Value {
    let port = functions_url().rsplit(':').next().unwrap().to_owned();
    let output = std::process::Command::new("cargo")
        .args([
            "lambda",
            "invoke",
            function,
            "--invoke-address",
            "127.0.0.1",
            "--invoke-port",
            &port,
        ])
        .args([
            "--data-ascii",
            &event.to_string(),
            "--output-format",
            "json",
        ])
        .output()
        .expect("cargo lambda is on PATH under `make test`");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("the function answered JSON")
}

#[tokio::test]
async fn cargo_lambda_invoke_works_on_the_functions_port() {
    let http = reqwest::Client::new();
    let signup = sign_up(&http, &unique_email("front")).await;
    let token = signup["x-auth-token"].as_str().unwrap().to_owned();
    let event = |token: &str| {
        ApiRequest::get("/api/me")
            .header("Authorization", &format!("Bearer {token}"))
            .authorizer_event()
    };
    let (allow, deny) = tokio::task::spawn_blocking(move || {
        (
            cargo_lambda_invoke("authorizer", &event(&token)),
            cargo_lambda_invoke("authorizer", &event("tg2_garbled")),
        )
    })
    .await
    .unwrap();
    assert_eq!(
        allow["policyDocument"]["Statement"][0]["Effect"], "Allow",
        "{allow}"
    );
    assert_eq!(allow["context"]["userId"], signup["userObj"]["id"]);
    assert_eq!(
        deny["policyDocument"]["Statement"][0]["Effect"], "Deny",
        "{deny}"
    );
    assert_eq!(deny["context"]["detail"], "Invalid access token.");
}

#[tokio::test]
async fn the_invoke_api_is_no_route_of_the_api_whatever_its_path_says() {
    let http = reqwest::Client::new();
    let email = unique_email("front");
    let signup = sign_up(&http, &email).await;
    // An invocation of `me` with a made-up authorizer context, from a page elsewhere.
    let forged = ApiRequest::get("/api/me")
        .authorizer_context(json!({"userId": signup["userObj"]["id"], "clientId": "default"}))
        .event();
    let evil = "https://evil.example";
    let invoked = answer(
        http.post(format!("{}/2015-03-31/functions/me/invocations", api_url()))
            .header("Origin", evil)
            .json(&forged),
    )
    .await;
    assert_problem(&invoked, 404, "No route matches this method and path.");
    assert!(!String::from_utf8_lossy(&invoked.2).contains(&email));
    assert_eq!(
        invoked.1["access-control-allow-origin"],
        page_origin().as_str(),
        "the template's fixed origin, never the caller's"
    );
    assert!(!invoked.1.contains_key("access-control-allow-credentials"));

    // Dot segments are no way through either: the runtime API's polling path stays unreached.
    let (status, _, body) =
        raw_request("GET /2015-03-31/../.rt/login/2018-06-01/runtime/invocation/next HTTP/1.1\r\n")
            .await;
    assert_eq!(status, 404, "{body}");
    assert!(
        body.contains("No route matches this method and path."),
        "{body}"
    );
}

#[tokio::test]
async fn a_trailing_slash_routes_as_without_it_and_a_percent_encoded_path_is_no_route() {
    let http = reqwest::Client::new();
    let base = api_url();
    let wrong = |path: &str| {
        http.post(format!("{base}{path}"))
            .basic_auth("nobody@example.com", Some("wrong password"))
    };
    let (plain, slash) = (
        answer(wrong("/auth/login")).await,
        answer(wrong("/auth/login/")).await,
    );
    assert_eq!(plain.0, StatusCode::UNAUTHORIZED);
    let text = |body: &[u8]| String::from_utf8_lossy(body).into_owned();
    assert_eq!(
        (slash.0, text(&slash.2)),
        (plain.0, text(&plain.2)),
        "the login function's answer"
    );

    let signup = sign_up(&http, &unique_email("front")).await;
    let token = signup["x-auth-token"].as_str().unwrap();
    let (status, _, body) = answer(http.get(format!("{base}/api/me/")).bearer_auth(token)).await;
    assert_eq!(status, StatusCode::OK, "through the authorizer");
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["userObj"], signup["userObj"]);
    // `/auth/sessions/` is `/auth/sessions`, not `/auth/sessions/{id}` with an empty id.
    let (status, _, body) = answer(
        http.get(format!("{base}/auth/sessions/"))
            .bearer_auth(token),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["sessions"].as_array().map(Vec::len), Some(1), "{body}");

    // REST does not decode a percent-encoded path to route it.
    for path in ["/auth/%6cogin", "/auth%2Flogin", "/auth/login%2F"] {
        let answer = answer(wrong(path)).await;
        assert_problem(&answer, 404, "No route matches this method and path.");
    }
    let answer = answer(http.get(format!("{base}/api/%6de")).bearer_auth(token)).await;
    assert_problem(&answer, 404, "No route matches this method and path.");
}

#[tokio::test]
async fn a_header_that_is_not_utf8_reaches_the_functions_lossily_never_as_a_5xx() {
    let http = reqwest::Client::new();
    let base = api_url();
    // `café` in Latin-1: byte 0xE9 is not UTF-8.
    let latin1 = HeaderValue::from_bytes(b"caf\xe9").unwrap();
    let signup = |email: &str| {
        http.post(format!("{base}/auth/signup"))
            .json(&json!({"email": email, "password": "correct horse"}))
    };

    let (status, _, body) =
        answer(signup(&unique_email("front")).header("user-agent", latin1.clone())).await;
    assert_eq!(status, StatusCode::CREATED);
    let body: Value = serde_json::from_slice(&body).unwrap();
    let token = body["x-auth-token"].as_str().unwrap();
    let (_, _, sessions) =
        answer(http.get(format!("{base}/auth/sessions")).bearer_auth(token)).await;
    let sessions: Value = serde_json::from_slice(&sessions).unwrap();
    assert_eq!(sessions["sessions"][0]["userAgent"], "caf\u{fffd}");

    let refused =
        answer(signup(&unique_email("front")).header("x-client-id", latin1.clone())).await;
    assert_problem(
        &refused,
        400,
        "X-Client-Id must be 1 to 64 characters of letters, digits, '.', '_' or '-'.",
    );
    // Through the authorizer: a token that cannot be read is none.
    let anonymous = answer(
        http.get(format!("{base}/api/me"))
            .header("x-auth-token", latin1),
    )
    .await;
    assert_problem(&anonymous, 401, "No authentication credentials provided.");
}

#[tokio::test]
async fn a_body_declared_over_api_gateways_10_mb_is_refused_with_413_unread() {
    // The body never comes: the answer must not wait for it.
    let (status, headers, body) = raw_request(
        "POST /auth/login HTTP/1.1\r\nContent-Type: application/json\r\nContent-Length: 10485761\r\n",
    )
    .await;
    assert_eq!(status, 413, "{body}");
    assert!(
        headers.contains("content-type: application/problem+json"),
        "{headers}"
    );
    assert!(headers.contains("cache-control: no-store"), "{headers}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        body,
        json!({"type": "about:blank", "title": "Request Too Long"}),
        "the template's DEFAULT_4XX"
    );
}

#[tokio::test]
async fn preflights_answer_the_templates_cors_and_responses_name_only_an_allowed_origin() {
    let http = reqwest::Client::new();
    let base = api_url();
    let allowed = page_origin();
    let refused = "https://elsewhere.example";
    for origin in [allowed.as_str(), refused] {
        let (status, headers, body) = answer(
            http.request(
                reqwest::Method::OPTIONS,
                format!("{base}/auth/sessions/abc"),
            )
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "DELETE")
            .header("Access-Control-Request-Headers", "authorization"),
        )
        .await;
        assert_eq!(
            status,
            StatusCode::OK,
            "preflights never reach the authorizer or a function"
        );
        assert!(body.is_empty());
        // API Gateway's preflight answer is fixed: it names the allowed origin to everyone,
        // so a browser on any other origin refuses the real request.
        assert_eq!(headers["access-control-allow-origin"], allowed.as_str());
        assert_eq!(
            headers["access-control-allow-methods"],
            "GET,POST,DELETE,OPTIONS"
        );
        assert_eq!(
            headers["access-control-allow-headers"],
            "Authorization,X-Auth-Token,X-Client-Id,Content-Type"
        );
        assert_eq!(headers["access-control-max-age"], "600");
    }

    // A function's answer names the caller's origin only when it is allowed.
    let wrong = |origin: &str| {
        http.post(format!("{base}/auth/login"))
            .header("Origin", origin)
            .basic_auth(unique_email("front"), Some("wrong password"))
    };
    let (status, headers, _) = answer(wrong(&allowed)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["access-control-allow-origin"], allowed.as_str());
    assert_eq!(headers["vary"], "Origin");
    assert_eq!(
        headers["access-control-expose-headers"],
        "WWW-Authenticate, Retry-After"
    );
    let (_, headers, _) = answer(wrong(refused)).await;
    assert!(!headers.contains_key("access-control-allow-origin"));
    assert_eq!(headers["vary"], "Origin");

    // The gateway's own 401 carries CORS headers too, so a browser can read its body.
    let (status, headers, _) = answer(
        http.get(format!("{base}/api/me"))
            .header("Origin", &allowed),
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(headers["access-control-allow-origin"], allowed.as_str());
    assert_eq!(
        headers["access-control-expose-headers"],
        "WWW-Authenticate, Retry-After"
    );
}

/// Serves `folder` on 127.0.0.1:`TOKENGATE_PAGE_PORT` (python's http.server) while alive.
struct PageServer(std::process::Child);

impl PageServer {
    fn start(folder: &std::path::Path) -> Self {
        let port =
            std::env::var("TOKENGATE_PAGE_PORT").expect("TOKENGATE_PAGE_PORT: run `make test`");
        let child = std::process::Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port,
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(folder)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 serves the page");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port.parse::<u16>().unwrap())).is_ok() {
                break;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Self(child)
    }
}

impl Drop for PageServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// The README's browser flow (the `js` block between its `browser-flow` markers), calling `api`.
fn readme_browser_flow(api: &str) -> String {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md")).unwrap();
    let block = readme
        .split("<!-- browser-flow:start -->")
        .nth(1)
        .and_then(|rest| rest.split("<!-- browser-flow:end -->").next())
        .expect("README.md marks its browser flow");
    let script: Vec<&str> = block
        .lines()
        .filter(|line| !line.starts_with("```"))
        .collect();
    script.join("\n").replace("http://127.0.0.1:9000", api)
}

#[tokio::test]
async fn a_browser_on_the_allowed_origin_runs_the_readme_flow_and_reads_a_401_and_others_cannot() {
    let api = api_url();
    let allowed = page_origin();
    // The same page from localhost: another origin, not in CorsAllowedOrigins.
    let refused = allowed.replace("127.0.0.1", "localhost");
    let folder = std::path::PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../target/browser-page"
    ));
    std::fs::create_dir_all(&folder).unwrap();
    let page = format!(
        "<!doctype html><meta charset=\"utf-8\"><title>tokengate from another origin</title>\n<script type=\"module\">\n{}\n</script>\n",
        readme_browser_flow(&api)
    );
    std::fs::write(folder.join("index.html"), page).unwrap();
    let output = tokio::task::spawn_blocking(move || {
        let _page = PageServer::start(&folder);
        std::process::Command::new("node")
            .arg(concat!(env!("CARGO_MANIFEST_DIR"), "/browser/run.cjs"))
            .arg(format!("{allowed}/index.html"))
            .arg(format!("{refused}/index.html"))
            .env(
                "PLAYWRIGHT_CORE",
                concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/../.tools/npm/node_modules/playwright-core"
                ),
            )
            .output()
            .expect("node runs the browser")
    })
    .await
    .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let results: Value = serde_json::from_slice(&output.stdout).expect("the pages' outcomes");
    let mut outcomes = results.as_object().unwrap().values();
    let (from_allowed, from_refused) = (outcomes.next().unwrap(), outcomes.next().unwrap());
    let flow = &from_allowed["logged"];
    assert_eq!(flow["signup"], 201, "{from_allowed}");
    assert_eq!(flow["login"], 200);
    assert_eq!(flow["me"], json!({"status": 200, "email": true}));
    assert_eq!(flow["anonymous"]["status"], 401);
    assert_eq!(flow["anonymous"]["contentType"], "application/problem+json");
    assert_eq!(
        flow["anonymous"]["challenge"],
        r#"Bearer realm="tokengate""#
    );
    assert_eq!(
        flow["anonymous"]["body"]["detail"],
        "No authentication credentials provided."
    );
    assert_eq!(flow["revoke"], 200, "a preflighted DELETE with a token");
    assert_eq!(
        flow["afterRevoke"],
        json!({"success": true, "valid": false})
    );
    // Another origin's script cannot read the API's answers: its first fetch fails.
    assert!(
        from_refused["error"]
            .as_str()
            .is_some_and(|error| error.contains("Failed to fetch")),
        "{from_refused}"
    );
}
