//! Property tests: whatever a client puts in the token places, the credentials or the body of
//! any route, the answer is a 2xx or a 4xx problem+json, never a 5xx and never a panic.

use std::sync::LazyLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use lambda_http::{Body, Response};
use proptest::prelude::*;
use serde_json::{Value, json};
use tokengate::authorizer::Authorizer;
use tokengate::handlers;
use tokengate::profiles::Profiles;
use tokengate::routes::Function;
use tokengate_tests::{ApiRequest, TestApp, body_json, call, text};
use tokio::runtime::Runtime;

/// One runtime and one set of tables for every case, with an account and a valid token.
struct World {
    runtime: Runtime,
    app: TestApp,
    profiles: Profiles,
    authorizer: Authorizer,
    token: String,
}

static WORLD: LazyLock<World> = LazyLock::new(|| {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (app, token) = runtime.block_on(async {
        let app = TestApp::spawn().await;
        let signup = app.sign_up("fuzz@example.com", "correct horse").await;
        let token = signup["x-auth-token"].as_str().unwrap().to_owned();
        (app, token)
    });
    let profiles = app.profiles();
    let authorizer = Authorizer::new(app.tokens.clone(), std::time::Duration::ZERO);
    World {
        runtime,
        app,
        profiles,
        authorizer,
        token,
    }
});

/// A route of the API: a function of the route table that an HTTP route invokes.
type Route = &'static Function;

/// Every route of the API, from the route table.
fn routes() -> Vec<Route> {
    tokengate::routes::routes()
        .map(|(function, _)| function)
        .collect()
}

/// A request of `route`'s method and path, a path parameter filled with a well-formed id.
fn request_of(route: Route) -> ApiRequest {
    let served = route.route().expect("a route");
    let path = served.path.replace("{id}", "AAAAAAAAAAAAAAAAAAAAAA");
    match served.method {
        "GET" => ApiRequest::get(&path),
        "POST" => ApiRequest::post(&path),
        "DELETE" => ApiRequest::delete(&path),
        other => panic!("{}: no {other} request here yet", route.name),
    }
}

/// Calls the handler `route`'s row names with its state.
async fn call_route(world: &World, route: Route, request: lambda_http::Request) -> Response<Body> {
    let states = handlers::States {
        accounts: &world.app.accounts,
        tokens: &world.app.tokens,
        profiles: &world.profiles,
    };
    let answer = handlers::dispatch(route.handler, &states, request).await;
    tokengate::lambda::respond(
        answer.unwrap_or_else(|| panic!("{}: no handler {}", route.name, route.handler)),
    )
}

#[test]
fn every_route_of_the_table_answers_an_empty_request_with_a_problem() {
    let world = &*WORLD;
    for route in routes() {
        let response = world
            .runtime
            .block_on(call_route(world, route, request_of(route).build()));
        assert_well_formed(route, &response);
        assert!(
            response.status().is_client_error(),
            "{}: {}",
            route.name,
            text(&response)
        );
    }
}

/// Where a case puts its value.
#[derive(Debug, Clone)]
enum Input {
    Authorization(String),
    XAuthToken(String),
    Query(&'static str, String),
    Text(String),
    Bytes(Vec<u8>),
}

impl Input {
    fn apply(self, request: ApiRequest) -> ApiRequest {
        match self {
            Self::Authorization(value) => request.header("Authorization", &value),
            Self::XAuthToken(value) => request.header("X-Auth-Token", &value),
            Self::Query(name, value) => request.query(name, &value),
            Self::Text(body) => request
                .header("Content-Type", "application/json")
                .text(&body),
            Self::Bytes(body) => request.bytes(&body),
        }
    }
}

/// Strings a client might send: anything, the valid token, and near misses of it.
fn token_like() -> impl Strategy<Value = String> {
    let token = WORLD.token.clone();
    let (t1, t2, t3) = (token.clone(), token.clone(), token.clone());
    prop_oneof![
        3 => any::<String>(),
        1 => "tg[12]_[A-Za-z0-9_-]{0,120}",
        1 => Just(token),
        1 => any::<String>().prop_map(move |tail| format!("{t1}{tail}")),
        1 => (0..t2.len()).prop_map(move |cut| t2[..cut].to_owned()),
        1 => (0..t3.len(), any::<u8>()).prop_map(move |(at, byte)| {
            let mut bytes = t3.clone().into_bytes();
            bytes[at] = byte;
            String::from_utf8_lossy(&bytes).into_owned()
        }),
    ]
}

fn authorization() -> impl Strategy<Value = String> {
    prop_oneof![
        2 => token_like().prop_map(|token| format!("Bearer {token}")),
        1 => any::<Vec<u8>>().prop_map(|raw| format!("Basic {}", STANDARD.encode(raw))),
        1 => any::<String>().prop_map(|pair| format!("Basic {}", STANDARD.encode(pair))),
        1 => any::<String>(),
    ]
}

fn json_body() -> impl Strategy<Value = String> {
    let text = prop_oneof![any::<String>(), "[a-z@.]{0,30}"];
    prop_oneof![
        2 => any::<String>(),
        2 => (
            proptest::option::of(text.clone()),
            proptest::option::of(text.clone()),
            proptest::option::of(text),
            any::<bool>(),
        )
            .prop_map(|(a, b, c, numeric)| {
                let mut body = json!({});
                for (key, value) in ["email", "password", "current_password"].iter().zip([a, b, c]) {
                    if let Some(value) = value {
                        body[*key] = Value::String(value);
                    }
                }
                if numeric {
                    body["new_password"] = json!(12345678);
                }
                body.to_string()
            }),
        1 => Just("{\"email\":null,\"password\":[]}".to_owned()),
    ]
}

fn input() -> impl Strategy<Value = Input> {
    prop_oneof![
        authorization().prop_map(Input::Authorization),
        token_like().prop_map(Input::XAuthToken),
        token_like().prop_map(|value| Input::Query("x-auth-token", value)),
        token_like().prop_map(|value| Input::Query("authToken", value)),
        json_body().prop_map(Input::Text),
        proptest::collection::vec(any::<u8>(), 0..20_000).prop_map(Input::Bytes),
    ]
}

/// A 2xx JSON answer, or a 4xx problem+json whose `status` is the response's.
fn assert_well_formed(route: Route, response: &Response<Body>) {
    let status = response.status().as_u16();
    assert!(
        status < 500,
        "{} answered {status}: {}",
        route.name,
        text(response)
    );
    let content_type = response.headers()["content-type"].to_str().unwrap();
    if status >= 400 {
        assert_eq!(content_type, "application/problem+json", "{}", route.name);
        let problem = body_json(response);
        assert_eq!(problem["status"], status, "{}: {problem}", route.name);
        assert!(problem["detail"].is_string(), "{}: {problem}", route.name);
    } else {
        assert_eq!(content_type, "application/json", "{}", route.name);
        body_json(response);
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn any_input_on_any_route_is_a_2xx_or_a_4xx_problem(
        route in proptest::sample::select(routes()),
        inputs in proptest::collection::vec(input(), 1..3),
    ) {
        let world = &*WORLD;
        let request = inputs.into_iter().fold(request_of(route), |request, input| input.apply(request));
        // An event the runtime cannot turn into a request never reaches our code.
        let Some(request) = request.try_build() else { return Ok(()) };
        let response = world.runtime.block_on(call_route(world, route, request));
        assert_well_formed(route, &response);
    }

    #[test]
    fn the_authorizer_answers_any_token_without_failing(
        authorization in authorization(),
        header in proptest::option::of(token_like()),
        query in proptest::option::of(token_like()),
    ) {
        let world = &*WORLD;
        let mut request = ApiRequest::get("/api/me").header("Authorization", &authorization);
        if let Some(header) = header {
            request = request.header("X-Auth-Token", &header);
        }
        if let Some(query) = query {
            request = request.query("x-auth-token", &query);
        }
        let answer = world.runtime.block_on(world.authorizer.handle(request.authorizer_event()));
        // A policy (allow or deny) or API Gateway's `Unauthorized`: never a store fault, never a panic.
        match answer {
            Ok(policy) => prop_assert!(policy["policyDocument"]["Statement"][0]["Effect"].is_string(), "{policy}"),
            Err(error) => prop_assert_eq!(error.to_string(), "Unauthorized"),
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Basic splits at the first colon: the password may hold colons and any Unicode.
    #[test]
    fn passwords_with_colons_and_non_ascii_text_work_through_basic(
        head in "[^\u{0}-\u{1f}]{0,12}",
        tail in "[^\u{0}-\u{1f}]{0,12}",
        user in "[a-z0-9]{12}",
    ) {
        let password = format!("pw-{head}:é漢🙂:{tail}");
        let email = format!("basic-{user}@example.com");
        let world = &*WORLD;
        let app = &world.app;
        let signup = world.runtime.block_on(call(handlers::signup,
            &app.accounts,
            ApiRequest::post("/auth/signup").json(&json!({"email": email, "password": password})).build(),
        ));
        prop_assert_eq!(signup.status(), 201, "{}", text(&signup));
        let response = world.runtime.block_on(call(handlers::login_token,
            &app.accounts,
            ApiRequest::get("/api/login-token").basic(&email, &password).build(),
        ));
        prop_assert_eq!(response.status(), 200, "{}", text(&response));
        prop_assert_eq!(
            &body_json(&response)["data"][0]["token"],
            &body_json(&signup)["x-auth-token"]
        );
    }
}
