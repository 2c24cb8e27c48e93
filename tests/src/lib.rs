//! Test support: each test gets its own pair of tables in DynamoDB Local, its own key ring file
//! and a clock it controls, and builds requests as API Gateway delivers them.
//!
//! The tests need DynamoDB Local: `make test` starts one and exports `AWS_ENDPOINT_URL_DYNAMODB`.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::types::AttributeValue;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use front::events::{self, IncomingRequest};
use lambda_http::http::{HeaderName, HeaderValue, Method};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use tokengate::clock::ManualClock;
use tokengate::config::{Config, MailSettings};
use tokengate::handlers::Answer;
use tokengate::keyring::KeyRing;
use tokengate::keys::{KeyRingLocation, Keys};
use tokengate::lambda::{FromConfig, Parts, respond};
use tokengate::mailer::Mailer;
use tokengate::passwords::HashParams;
use tokengate::profiles::Profiles;
use tokengate::records::CodePolicy;
use tokengate::store::{self, Client, RequestCounter};
use tokengate::{Accounts, Tokens};

/// The start of every test clock: 2100-01-01T00:00:00Z.
///
/// It must lie ahead of the real clock: DynamoDB Local runs TTL deletion (within about a second
/// of `expire` passing by its own clock), so items of a test clock set in the past would vanish
/// while the test still reads them.
pub const START: u64 = 4_102_444_800;

/// Token lifetime in tests.
pub const TTL_SECONDS: u64 = 3_600;

/// One test's isolated world.
pub struct TestApp {
    /// The use-cases under test, over this test's tables.
    pub accounts: Accounts,
    /// The token use-cases alone, as the verify function builds them.
    pub tokens: Tokens,
    /// The clock both use.
    pub clock: ManualClock,
    /// The configuration they were built from.
    pub config: Config,
    /// A client of DynamoDB Local, for inspecting the tables.
    pub client: Client,
    /// What the use-cases were built over: the client, the key ring read from its file, the
    /// clock.
    pub parts: Parts,
}

fn unique(prefix: &str) -> String {
    let id = tokengate::ids::TokenId::generate()
        .to_string()
        .replace(['-', '_'], "x");
    format!("{prefix}-{id}")
}

/// The DynamoDB Local client the tests share; panics with a hint when none is configured.
pub async fn local_client() -> Client {
    assert!(
        std::env::var_os("AWS_ENDPOINT_URL_DYNAMODB").is_some(),
        "these tests need DynamoDB Local: run them with `make test`"
    );
    let client = store::connect(Duration::from_secs(10), None)
        .await
        .expect("DynamoDB client");
    // The production bound on connecting (1 s) is for DynamoDB itself. DynamoDB Local shares
    // two cores with up to 50 concurrent argon2 runs here, and a connection whose SYN overflows
    // its accept backlog is only retried by the kernel after 1 s: give connecting longer.
    let timeouts = client
        .config()
        .timeout_config()
        .cloned()
        .expect("connect sets the timeouts")
        .to_builder()
        .connect_timeout(Duration::from_secs(5))
        .build();
    Client::from_conf(
        client
            .config()
            .to_builder()
            .timeout_config(timeouts)
            .build(),
    )
}

/// A fresh key ring file for one test, under `target/test-keyrings/`.
pub fn fresh_key_ring_file() -> PathBuf {
    let folder = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/test-keyrings");
    std::fs::create_dir_all(&folder).expect("key ring folder");
    let path = folder.join(format!("{}.json", unique("ring")));
    std::fs::write(&path, KeyRing::generate().to_document()).expect("key ring file");
    path
}

/// A configuration with fresh table names, a fresh key ring and the production argon2 parameters.
pub fn test_config() -> Config {
    Config {
        users_table: unique("users"),
        tokens_table: unique("tokens"),
        outbox_table: unique("outbox"),
        mail: MailSettings {
            from: "tokengate@example.com".into(),
            reset_url: "https://app.example.com/reset?code={code}".into(),
            verify_url: String::new(),
            reset: CodePolicy {
                ttl: 900,
                max_per_hour: 3,
                max_per_day: 10,
            },
            verification: CodePolicy {
                ttl: 86_400,
                max_per_hour: 3,
                max_per_day: 10,
            },
            send_attempts: 2,
        },
        require_verified_email: false,
        token_ttl: Duration::from_secs(TTL_SECONDS),
        key_ring: KeyRingLocation::File(fresh_key_ring_file()),
        key_refresh: Duration::from_secs(300),
        hash_params: HashParams::OWASP_MINIMUM,
        authorizer_cache: Duration::from_secs(10),
        throttle: tokengate::throttle::ThrottlePolicy::DEFAULT,
        store_timeout: Duration::from_secs(10),
        max_sessions: tokengate::records::DEFAULT_MAX_SESSIONS,
        ca_bundle: None,
        cors: tokengate::cors::AllowedOrigins::Any,
    }
}

/// The SDK configuration of the tests' clients (the local stand-ins `make test` starts).
pub async fn sdk_config() -> aws_config::SdkConfig {
    store::sdk_config(Duration::from_secs(10), None)
        .await
        .expect("SDK configuration")
}

/// The key ring of `config` (a file, or a secret in the Secrets Manager that `make test` starts),
/// read as a cold start reads it, judging its refresh window by `clock`.
pub async fn load_keys(config: &Config, clock: &ManualClock) -> Keys {
    let sdk = sdk_config().await;
    Keys::load(
        &config.key_ring,
        &sdk,
        config.key_refresh,
        Arc::new(clock.clone()),
    )
    .await
    .expect("the test's key ring")
}

impl TestApp {
    /// A new world: its own tables in DynamoDB Local.
    pub async fn spawn() -> Self {
        let client = local_client().await;
        Self::with_client(client, test_config(), true).await
    }

    /// A world over `client` (which may point anywhere), creating the tables when asked.
    pub async fn with_client(client: Client, config: Config, create_tables: bool) -> Self {
        Self::with_client_at(client, config, create_tables, START).await
    }

    /// A world over the tables and key ring of the API `make test` runs (`TOKENGATE_API_URL`,
    /// `KEY_RING_FILE`), its clock at `now`: what it issues, the running API checks.
    pub async fn over_running_api(now: u64) -> Self {
        let url = api_url();
        let port = url.rsplit(':').next().expect("a port").to_owned();
        let ring = std::env::var("KEY_RING_FILE").expect("KEY_RING_FILE: run `make test`");
        let config = Config {
            users_table: format!("e2e-users-{port}"),
            tokens_table: format!("e2e-tokens-{port}"),
            outbox_table: format!("e2e-outbox-{port}"),
            key_ring: KeyRingLocation::File(ring.into()),
            ..test_config()
        };
        Self::with_client_at(local_client().await, config, false, now).await
    }

    async fn with_client_at(client: Client, config: Config, create_tables: bool, now: u64) -> Self {
        if create_tables {
            store::create_tables(&client, &config.tables())
                .await
                .expect("create test tables");
        }
        let clock = ManualClock::at(now);
        let keys = load_keys(&config, &clock).await;
        let parts = Parts {
            client: client.clone(),
            keys,
            clock: Arc::new(clock.clone()),
            sdk: sdk_config().await,
        };
        let accounts = Accounts::from_config(&config, &parts).expect("hasher");
        let tokens = Tokens::from_config(&config, &parts).expect("token use-cases");
        Self {
            accounts,
            tokens,
            clock,
            config,
            client,
            parts,
        }
    }

    /// The profile use-case over this world's tables, as `me` builds it.
    pub fn profiles(&self) -> Profiles {
        Profiles::from_config(&self.config, &self.parts).expect("profile use-case")
    }

    /// The token use-cases over a copy of this world's client that counts its requests.
    pub fn counted_tokens(&self) -> (Tokens, RequestCounter) {
        let (parts, counter) = self.counted_parts();
        let tokens = Tokens::from_config(&self.config, &parts).expect("token use-cases");
        (tokens, counter)
    }

    /// This world's parts over a copy of its client that counts its requests.
    fn counted_parts(&self) -> (Parts, RequestCounter) {
        let counter = RequestCounter::default();
        let parts = Parts {
            client: counter.counting(&self.client),
            ..self.parts.clone()
        };
        (parts, counter)
    }

    /// The mailer of this world, sending through the SES emulator `make test` starts (or, with
    /// `endpoint`, through another address: a stopped emulator).
    pub async fn mailer_via(&self, endpoint: Option<&str>) -> Mailer {
        match endpoint {
            None => Mailer::from_config(&self.config, &self.parts).expect("mailer"),
            Some(endpoint) => self.mailer_sending(Some(endpoint), &self.config.mail.from),
        }
    }

    /// A mailer of this world sending from `from` (the deployed one refuses to start without a
    /// sender; SES refuses a message without one), through `endpoint` when given.
    pub fn mailer_sending(&self, endpoint: Option<&str>, from: &str) -> Mailer {
        let mut ses = aws_sdk_sesv2::config::Builder::from(&self.parts.sdk);
        if let Some(endpoint) = endpoint {
            ses = ses.endpoint_url(endpoint);
        }
        Mailer::new(
            tokengate::store::Store::new(self.client.clone(), &self.config.tables()),
            self.parts.keys.clone(),
            tokengate::ses::MailSender::from_client(
                aws_sdk_sesv2::Client::from_conf(ses.build()),
                from,
            ),
            self.config.mail.clone(),
            self.parts.clock.clone(),
        )
    }

    /// Sends every message asked for so far, as the mailer's stream delivery does.
    pub async fn deliver_mail(&self) {
        let sweep = self.mailer_via(None).await.sweep(0).await.expect("a sweep");
        assert_eq!(sweep.left, 0, "messages left unsent");
    }

    /// The account use-cases over a copy of this world's client that counts its requests.
    pub fn counted_accounts(&self) -> (Accounts, RequestCounter) {
        let (parts, counter) = self.counted_parts();
        let accounts = Accounts::from_config(&self.config, &parts).expect("account use-cases");
        (accounts, counter)
    }

    /// The signing keys every use-case of this world holds.
    pub fn keys(&self) -> &Keys {
        &self.parts.keys
    }

    /// The key ring file, as it is now.
    pub fn key_ring(&self) -> KeyRing {
        KeyRing::parse(&std::fs::read_to_string(self.key_ring_file()).expect("key ring file"))
            .expect("a key ring")
    }

    /// Whose token `text` is, by the key ring file's tag check (no store read).
    pub fn claims(&self, text: &str) -> Option<tokengate::keyring::TokenClaims> {
        match self.key_ring().authenticate(text) {
            tokengate::keyring::Authentication::Authentic(claims) => Some(claims),
            _ => None,
        }
    }

    /// Rewrites the key ring file with `ring`, as `make rotate-key` does; functions see it at
    /// their next read.
    pub fn write_key_ring(&self, ring: &KeyRing) {
        let path = self.key_ring_file();
        let temporary = path.with_extension("tmp");
        std::fs::write(&temporary, ring.to_document()).expect("key ring file");
        std::fs::rename(&temporary, path).expect("key ring file");
    }

    /// Rotates the key ring file at the test clock's now, as the rotation function does.
    pub fn rotate_keys(&self) -> KeyRing {
        let next = self
            .key_ring()
            .rotated(self.clock_now(), self.config.key_overlap().as_secs())
            .expect("a rotation");
        self.write_key_ring(&next);
        next
    }

    fn clock_now(&self) -> u64 {
        use tokengate::clock::Clock;
        self.clock.now()
    }

    fn key_ring_file(&self) -> &PathBuf {
        match &self.config.key_ring {
            KeyRingLocation::File(path) => path,
            KeyRingLocation::Secret(_) => panic!("tests keep their key ring in a file"),
        }
    }

    /// The token entity `GET /api/login-token` hands `email` for the default application.
    pub async fn login_token(&self, email: &str, password: &str) -> Value {
        let response = call(
            tokengate::handlers::login_token,
            &self.accounts,
            ApiRequest::get("/api/login-token")
                .basic(email, password)
                .build(),
        )
        .await;
        assert_eq!(response.status(), 200, "{}", text(&response));
        body_json(&response)["data"][0].clone()
    }

    /// Every item of `table`.
    pub async fn scan(&self, table: &str) -> Vec<HashMap<String, AttributeValue>> {
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .expect("scan");
            items.extend(page.items().iter().cloned());
            start = page.last_evaluated_key().cloned();
            if start.is_none() {
                return items;
            }
        }
    }

    /// Takes token `token_id` out of `user_id`'s sessions, as another function's revocation
    /// would (behind the back of the use-cases under test).
    pub async fn revoke_in_store(&self, user_id: &str, token_id: &str) {
        self.client
            .update_item()
            .table_name(&self.config.tokens_table)
            .key("uid", AttributeValue::S(user_id.into()))
            .key("sk", AttributeValue::S("sessions".into()))
            .update_expression("REMOVE live.#token ADD version :one")
            .expression_attribute_names("#token", token_id)
            .expression_attribute_values(":one", AttributeValue::N("1".into()))
            .send()
            .await
            .expect("revoke in the store");
    }

    /// Whether `token` verifies now, asked through the verify handler.
    pub async fn verifies(&self, token: &str) -> bool {
        let response = call(
            tokengate::handlers::verify,
            &self.tokens,
            ApiRequest::get("/auth/verify")
                .header("X-Auth-Token", token)
                .build(),
        )
        .await;
        assert_eq!(response.status(), 200, "{}", text(&response));
        body_json(&response)["valid"]
            .as_bool()
            .expect("valid is a bool")
    }

    /// Signs up `email` with `password` and returns the response body.
    pub async fn sign_up(&self, email: &str, password: &str) -> Value {
        let response = call(
            tokengate::handlers::signup,
            &self.accounts,
            ApiRequest::post("/auth/signup")
                .json(&json!({"email": email, "password": password}))
                .build(),
        )
        .await;
        assert_eq!(response.status(), 201, "{}", text(&response));
        body_json(&response)
    }
}

/// Runs `handler` over `state` as its function would: an error becomes its problem+json.
pub async fn call<'a, S, Fut>(
    handler: impl FnOnce(&'a S, Request) -> Fut,
    state: &'a S,
    request: Request,
) -> Response<Body>
where
    Fut: Future<Output = Answer>,
{
    respond(handler(state, request).await)
}

/// A request as the deployed REST API hands it to a function (payload 1.0 proxy event, every
/// body base64-encoded as `BinaryMediaTypes: ['*/*']` makes it), built by the local front's own
/// event code, under construction.
pub struct ApiRequest {
    request: IncomingRequest,
    path_parameters: HashMap<String, String>,
    authorizer: Option<HashMap<String, Value>>,
    /// A header no HTTP request can carry was added: no event can hold it.
    unsendable: bool,
}

impl ApiRequest {
    fn new(method: Method, path: &str) -> Self {
        let mut request = IncomingRequest::new(method, path);
        request.source_ip = "192.0.2.1".to_owned();
        request.request_id = "test-request".to_owned();
        request
            .headers
            .insert("host", "api.example.test".parse().unwrap());
        request
            .headers
            .insert("user-agent", "tokengate-tests".parse().unwrap());
        Self {
            request,
            path_parameters: HashMap::new(),
            authorizer: None,
            unsendable: false,
        }
    }

    /// A GET of `path`.
    pub fn get(path: &str) -> Self {
        Self::new(Method::GET, path)
    }

    /// A DELETE of `path`.
    pub fn delete(path: &str) -> Self {
        Self::new(Method::DELETE, path)
    }

    /// A POST to `path`.
    pub fn post(path: &str) -> Self {
        Self::new(Method::POST, path)
    }

    /// Adds a header (replacing one of the same name). A value no HTTP request can carry
    /// (control characters) makes the request unsendable: [`Self::try_build`] answers `None`.
    pub fn header(self, name: &str, value: &str) -> Self {
        self.header_bytes(name, value.as_bytes())
    }

    /// Adds a header of raw bytes (replacing one of the same name), e.g. Latin-1 text that is
    /// not UTF-8; bytes no HTTP request can carry make the request unsendable, as in
    /// [`Self::header`].
    pub fn header_bytes(mut self, name: &str, value: &[u8]) -> Self {
        let name = HeaderName::try_from(name).expect("a header name");
        match HeaderValue::from_bytes(value) {
            Ok(value) => {
                self.request.headers.insert(name, value);
            }
            Err(_) => self.unsendable = true,
        }
        self
    }

    /// Adds `Authorization: Basic base64(user:password)`.
    pub fn basic(self, user: &str, password: &str) -> Self {
        let encoded = STANDARD.encode(format!("{user}:{password}"));
        self.header("authorization", &format!("Basic {encoded}"))
    }

    /// Adds a query parameter.
    pub fn query(mut self, name: &str, value: &str) -> Self {
        self.request.query.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Names a path parameter of the route, as API Gateway does from `{name}` in its path.
    pub fn path_parameter(mut self, name: &str, value: &str) -> Self {
        self.path_parameters
            .insert(name.to_owned(), value.to_owned());
        self
    }

    /// Sets what the REST API's Lambda authorizer put in the request context.
    pub fn authorizer_context(mut self, context: Value) -> Self {
        let Value::Object(fields) = context else {
            panic!("an authorizer context is a JSON object");
        };
        self.authorizer = Some(fields.into_iter().collect());
        self
    }

    /// Sets a JSON body.
    pub fn json(self, body: &Value) -> Self {
        self.header("content-type", "application/json")
            .text(&body.to_string())
    }

    /// Sets a raw text body.
    pub fn text(self, body: &str) -> Self {
        self.bytes(body.as_bytes())
    }

    /// Sets a body of any bytes.
    pub fn bytes(mut self, body: &[u8]) -> Self {
        self.request.body = body.to_vec();
        self
    }

    /// The `lambda_http` request the runtime would hand the function.
    pub fn build(self) -> Request {
        self.try_build().expect("valid API Gateway event")
    }

    /// The request, or `None` when `lambda_http` refuses the event (as the runtime would,
    /// before any function code runs).
    pub fn try_build(self) -> Option<Request> {
        if self.unsendable {
            return None;
        }
        lambda_http::request::from_str(&self.event().to_string()).ok()
    }

    /// The proxy integration event as JSON.
    pub fn event(&self) -> Value {
        let resource = self.request.path.clone();
        let event = events::proxy_event(
            &self.request,
            &resource,
            &self.path_parameters,
            self.authorizer.clone(),
            true,
        );
        serde_json::to_value(event).expect("an event serializes")
    }

    /// The REQUEST authorizer event API Gateway would send for this request.
    pub fn authorizer_event(&self) -> Value {
        let event =
            events::authorizer_event(&self.request, &self.request.path, &self.path_parameters);
        serde_json::to_value(event).expect("an event serializes")
    }
}

/// The response body as text.
pub fn text(response: &Response<Body>) -> String {
    String::from_utf8_lossy(response.body().as_ref()).into_owned()
}

/// The address of the API `make test` runs (`TOKENGATE_API_URL`): the local front before the
/// functions under `cargo lambda watch`.
pub fn api_url() -> String {
    std::env::var("TOKENGATE_API_URL")
        .expect("TOKENGATE_API_URL is unset: run the tests with `make test`, which starts the API")
}

/// The address of the functions' own invoke API under `make test` (`TOKENGATE_FUNCTIONS_URL`,
/// cargo lambda watch's invoke port): not the API's, which serves the REST API only.
pub fn functions_url() -> String {
    std::env::var("TOKENGATE_FUNCTIONS_URL").expect(
        "TOKENGATE_FUNCTIONS_URL is unset: run the tests with `make test`, which starts the API",
    )
}

/// An address no account has yet: `prefix-<random>@example.com`, lower-case.
pub fn unique_email(prefix: &str) -> String {
    let id = tokengate::ids::TokenId::generate()
        .to_string()
        .to_lowercase()
        .replace(['-', '_'], "x");
    format!("{prefix}-{id}@example.com")
}

/// A well-formed `tg2_` token under key id 1 signed by a key no ring holds: a forgery.
pub fn forged_token() -> String {
    tokengate::keyring::SigningKey::new(&[7; 32])
        .expect("a 32-byte key")
        .token_for(
            tokengate::keyring::KeyId(1),
            &tokengate::ids::UserId::generate(),
            &tokengate::ids::TokenId::generate(),
        )
        .expose()
        .to_owned()
}

/// The response body as JSON.
pub fn body_json(response: &Response<Body>) -> Value {
    serde_json::from_slice(response.body().as_ref())
        .unwrap_or_else(|_| panic!("not JSON: {}", text(response)))
}

/// Asserts `response` is a problem+json with `status` and `detail`.
pub fn assert_problem(response: &Response<Body>, status: u16, detail: &str) {
    assert_eq!(response.status(), status, "{}", text(response));
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json"
    );
    let body = body_json(response);
    assert_eq!(body["status"], status);
    assert_eq!(body["detail"], detail, "{body}");
    assert!(
        body["type"].is_string() && body["title"].is_string(),
        "{body}"
    );
}

#[cfg(test)]
mod tests {
    use std::time::{SystemTime, UNIX_EPOCH};

    #[test]
    fn the_test_clock_starts_after_every_expiry_dynamodb_local_would_sweep() {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        // Test tokens expire at START + TTL_SECONDS or later; DynamoDB Local deletes items whose
        // `expire` lies in its own past, so START must stay ahead of the real clock.
        assert!(super::START > now.as_secs() + 365 * 24 * 3600);
    }
}

/// The SES emulator's address (`make test` starts it and exports `AWS_ENDPOINT_URL_SESV2`).
pub fn mail_url() -> String {
    std::env::var("AWS_ENDPOINT_URL_SESV2")
        .expect("AWS_ENDPOINT_URL_SESV2 is unset: run the tests with `make test`, which starts the SES emulator")
}

/// One message in the SES emulator's store.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// Sender.
    pub from: String,
    /// Subject line.
    pub subject: String,
    /// The plain-text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

impl Delivered {
    /// The code: the rest of the text line that starts with `Code: `.
    pub fn code(&self) -> String {
        self.text
            .lines()
            .find_map(|line| line.strip_prefix("Code: "))
            .expect("a `Code: ` line")
            .trim()
            .to_owned()
    }
}

/// Every message the SES emulator holds for `to`, oldest first.
pub async fn inbox(to: &str) -> Vec<Delivered> {
    let store: Value = reqwest::get(format!("{}/store", mail_url()))
        .await
        .expect("the SES emulator's /store")
        .json()
        .await
        .expect("JSON");
    store["emails"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|email| {
            email["destination"]["to"]
                .as_array()
                .is_some_and(|list| list.iter().any(|address| address == to))
        })
        .map(|email| Delivered {
            from: email["from"].as_str().unwrap_or_default().to_owned(),
            subject: email["subject"].as_str().unwrap_or_default().to_owned(),
            text: email["body"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            html: email["body"]["html"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        })
        .collect()
}
