//! The clients: each owns one account and loops over a weighted mix of every route, good
//! requests and bad ones, checking each answer's status against what that request must get.

use std::collections::HashSet;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use reqwest::{Method, RequestBuilder};
use serde_json::{Value, json};

use crate::stats::Stats;

/// Everything the run sent that must never be found in clear: in the tables or in a log.
#[derive(Default)]
pub struct Secrets {
    /// Every password used, old ones included.
    pub passwords: HashSet<String>,
    /// Every token handed out.
    pub tokens: HashSet<String>,
    /// Every one-time code read from the inbox.
    pub codes: HashSet<String>,
    /// Tokens revoked (logout, logout-all, a password change, a reset): none may verify.
    pub revoked: Vec<String>,
}

/// What the clients share.
pub struct Shared {
    /// The HTTP client.
    pub http: reqwest::Client,
    /// The API's base URL (the local front).
    pub api: String,
    /// The SES emulator's base URL.
    pub mail: String,
    /// The figures.
    pub stats: Stats,
    /// The secrets sent so far.
    pub secrets: Mutex<Secrets>,
    /// Unix seconds the run started at: the inbox is read from there.
    pub started: u64,
}

/// An answer: status and JSON body (`Null` when none).
type Answer = (u16, Value);

impl Shared {
    /// Sends `request`, records it as `route`, and whether its status is one of `expected`.
    pub async fn send(
        &self,
        route: &str,
        request: RequestBuilder,
        expected: &[u16],
    ) -> Option<Answer> {
        let started = Instant::now();
        let response = request.timeout(Duration::from_secs(60)).send().await;
        let latency = started.elapsed();
        let Ok(response) = response else {
            // No answer at all: counted as a 599, which the report shows as a server error.
            self.stats.record(route, 599, latency, false);
            return None;
        };
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(Value::Null);
        self.stats
            .record(route, status, latency, expected.contains(&status));
        Some((status, body))
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, format!("{}{path}", self.api))
    }

    fn remember(&self, change: impl FnOnce(&mut Secrets)) {
        if let Ok(mut secrets) = self.secrets.lock() {
            change(&mut secrets);
        }
    }
}

/// The account a client owns.
struct Account {
    email: String,
    password: String,
    /// Live tokens, newest last (at most [`MAX_HELD`]).
    tokens: Vec<String>,
    /// When a message (reset or verification) was last asked for, within the hour.
    resets: Vec<Instant>,
    /// Whether its address is verified.
    verified: bool,
}

/// Tokens a client keeps; older ones it forgets (they stay live, under the account's cap).
const MAX_HELD: usize = 50;

/// Reset and verification messages an account may be sent per hour (`RESET_MAX_PER_HOUR`).
const RESETS_PER_HOUR: usize = 3;

fn new_password() -> String {
    format!(
        "soak-pw-{:016x}{:016x}",
        fastrand::u64(..),
        fastrand::u64(..)
    )
}

fn new_email(client: usize) -> String {
    format!("soak-{client}-{:016x}@example.com", fastrand::u64(..))
}

/// A client's loop.
pub struct Client<'a> {
    shared: &'a Shared,
    number: usize,
    account: Account,
}

impl<'a> Client<'a> {
    /// Signs up the client's account.
    pub async fn start(shared: &'a Shared, number: usize) -> Option<Self> {
        let mut client = Self {
            shared,
            number,
            account: Account {
                email: new_email(number),
                password: new_password(),
                tokens: Vec::new(),
                resets: Vec::new(),
                verified: false,
            },
        };
        let (email, password) = (
            client.account.email.clone(),
            client.account.password.clone(),
        );
        let token = client.sign_up(&email, &password).await?;
        client.hold(token);
        Some(client)
    }

    /// Runs the mix until `deadline`.
    pub async fn run(&mut self, deadline: Instant) {
        while Instant::now() < deadline {
            self.step().await;
        }
    }

    /// Every kind of request once: starts every function before memory is measured.
    pub async fn every_route_once(&mut self) {
        for action in 0..ACTIONS.len() {
            self.act(action).await;
        }
    }

    /// `count` logins, each followed by `/api/me` with its fresh token: fills the authorizer's
    /// cache with distinct tokens.
    pub async fn fill_authorizer_cache(&mut self, count: usize) {
        for _ in 0..count {
            self.login().await;
            self.me().await;
        }
    }

    async fn step(&mut self) {
        let total: u32 = ACTIONS.iter().map(|(weight, _)| weight).sum();
        let mut pick = fastrand::u32(..total);
        for (index, (weight, _)) in ACTIONS.iter().enumerate() {
            if pick < *weight {
                self.act(index).await;
                return;
            }
            pick -= weight;
        }
    }

    async fn act(&mut self, action: usize) {
        match ACTIONS[action].1 {
            Action::Signup => {
                let (email, password) = (new_email(self.number), new_password());
                if let Some(token) = self.sign_up(&email, &password).await {
                    self.bearer_get("GET /api/me (new account)", "/api/me", &token, &[200])
                        .await;
                }
            }
            Action::Login => self.login().await,
            Action::WrongLogin => {
                let request = self
                    .shared
                    .request(Method::POST, "/auth/login")
                    .basic_auth(new_email(self.number), Some(new_password()));
                self.shared
                    .send("POST /auth/login (unknown email)", request, &[401])
                    .await;
            }
            Action::LoginToken => {
                let request = self
                    .shared
                    .request(Method::GET, "/api/login-token")
                    .basic_auth(&self.account.email, Some(&self.account.password));
                if let Some((200, body)) = self
                    .shared
                    .send("GET /api/login-token", request, &[200])
                    .await
                    && let Some(token) = body["data"][0]["token"].as_str()
                {
                    let token = token.to_owned();
                    self.hold(token);
                }
            }
            Action::Verify => {
                let token = self.token().await;
                let request = self
                    .shared
                    .request(Method::GET, "/auth/verify")
                    .bearer_auth(&token);
                if let Some((_, body)) = self.shared.send("GET /auth/verify", request, &[200]).await
                    && body["valid"] != true
                {
                    self.shared.stats.record(
                        "GET /auth/verify (a live token judged invalid)",
                        200,
                        Duration::ZERO,
                        false,
                    );
                }
            }
            Action::Me => self.me().await,
            Action::Sessions => {
                let token = self.token().await;
                self.bearer_get("GET /auth/sessions", "/auth/sessions", &token, &[200])
                    .await;
            }
            Action::RevokeSession => {
                let token = self.token().await;
                let Some((200, body)) = self
                    .bearer_get("GET /auth/sessions", "/auth/sessions", &token, &[200])
                    .await
                else {
                    return;
                };
                let other = body["sessions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .find(|session| session["current"] != true);
                let Some(id) = other.and_then(|session| session["id"].as_str()) else {
                    return;
                };
                let request = self
                    .shared
                    .request(Method::DELETE, &format!("/auth/sessions/{id}"))
                    .bearer_auth(&token);
                // Another of this account's sessions: one of the held tokens may now be revoked;
                // the client forgets them all but the current one rather than guess which.
                self.shared
                    .send("DELETE /auth/sessions/{id}", request, &[200])
                    .await;
                let current = self.account.tokens.pop();
                let forgotten = std::mem::take(&mut self.account.tokens);
                self.account.tokens.extend(current);
                drop(forgotten);
            }
            Action::Logout => {
                let token = self.token().await;
                let request = self
                    .shared
                    .request(Method::POST, "/auth/logout")
                    .bearer_auth(&token);
                if let Some((200, _)) = self.shared.send("POST /auth/logout", request, &[200]).await
                {
                    self.account.tokens.retain(|held| held != &token);
                    self.shared.remember(|secrets| secrets.revoked.push(token));
                }
            }
            Action::LogoutAll => {
                let token = self.token().await;
                let request = self
                    .shared
                    .request(Method::POST, "/auth/logout-all")
                    .bearer_auth(&token);
                if let Some((200, _)) = self
                    .shared
                    .send("POST /auth/logout-all", request, &[200])
                    .await
                {
                    self.revoke_held();
                }
            }
            Action::PasswordChange => {
                let token = self.token().await;
                let new = new_password();
                let request = self
                    .shared
                    .request(Method::POST, "/auth/password")
                    .bearer_auth(&token)
                    .json(&json!({"current_password": self.account.password, "new_password": new}));
                self.shared.remember(|secrets| {
                    secrets.passwords.insert(new.clone());
                });
                if let Some((200, body)) = self
                    .shared
                    .send("POST /auth/password", request, &[200])
                    .await
                {
                    self.revoke_held();
                    self.account.password = new;
                    if let Some(token) = body["x-auth-token"].as_str() {
                        self.hold(token.to_owned());
                    }
                }
            }
            Action::Reset => self.reset().await,
            Action::VerifyEmail => self.verify_email().await,
            Action::LiveToken => self.live_token_route().await,
            Action::GarbageToken => {
                let garbage = format!("tg2_{}", "A".repeat(fastrand::usize(0..120)));
                let request = self
                    .shared
                    .request(Method::GET, "/auth/verify")
                    .header("X-Auth-Token", &garbage);
                self.shared
                    .send("GET /auth/verify (garbage token)", request, &[200])
                    .await;
                let request = self
                    .shared
                    .request(Method::GET, "/api/me")
                    .bearer_auth(&garbage);
                self.shared
                    .send("GET /api/me (garbage token)", request, &[403])
                    .await;
                let request = self.shared.request(Method::GET, "/api/me");
                self.shared
                    .send("GET /api/me (no token)", request, &[401])
                    .await;
            }
            Action::Malformed => {
                let request = self
                    .shared
                    .request(Method::POST, "/auth/signup")
                    .header("content-type", "application/json")
                    .body("{\"email\": 5, ");
                self.shared
                    .send("POST /auth/signup (malformed)", request, &[400])
                    .await;
                let request = self
                    .shared
                    .request(Method::POST, "/auth/login")
                    .header("content-type", "application/json")
                    .body(vec![0xff, 0xfe, b'{']);
                self.shared
                    .send("POST /auth/login (not UTF-8)", request, &[400])
                    .await;
            }
        }
    }

    async fn sign_up(&self, email: &str, password: &str) -> Option<String> {
        self.shared.remember(|secrets| {
            secrets.passwords.insert(password.to_owned());
        });
        let request = self
            .shared
            .request(Method::POST, "/auth/signup")
            .json(&json!({"email": email, "password": password, "firstname": "Soak"}));
        let (_, body) = self
            .shared
            .send("POST /auth/signup", request, &[201])
            .await?;
        let token = body["x-auth-token"].as_str()?.to_owned();
        self.shared.remember(|secrets| {
            secrets.tokens.insert(token.clone());
        });
        Some(token)
    }

    async fn login(&mut self) {
        let request = self
            .shared
            .request(Method::POST, "/auth/login")
            .json(&json!({"email": self.account.email, "password": self.account.password}));
        if let Some((200, body)) = self.shared.send("POST /auth/login", request, &[200]).await
            && let Some(token) = body["x-auth-token"].as_str()
        {
            self.hold(token.to_owned());
        }
    }

    async fn me(&mut self) {
        let token = self.token().await;
        self.bearer_get("GET /api/me", "/api/me", &token, &[200])
            .await;
    }

    async fn bearer_get(
        &self,
        route: &str,
        path: &str,
        token: &str,
        expected: &[u16],
    ) -> Option<Answer> {
        let request = self.shared.request(Method::GET, path).bearer_auth(token);
        self.shared.send(route, request, expected).await
    }

    /// The newest held token, logging in first when none is held.
    async fn token(&mut self) -> String {
        if self.account.tokens.is_empty() {
            self.login().await;
        }
        self.account.tokens.last().cloned().unwrap_or_default()
    }

    fn hold(&mut self, token: String) {
        self.shared.remember(|secrets| {
            secrets.tokens.insert(token.clone());
        });
        if !self.account.tokens.contains(&token) {
            self.account.tokens.push(token);
        }
        if self.account.tokens.len() > MAX_HELD {
            self.account.tokens.remove(0);
        }
    }

    fn revoke_held(&mut self) {
        let revoked = std::mem::take(&mut self.account.tokens);
        self.shared
            .remember(|secrets| secrets.revoked.extend(revoked));
    }

    /// A reset by mail: request, read the code from the inbox, confirm with a new password.
    async fn reset(&mut self) {
        if !self.spend_message() {
            return self.login().await;
        }
        let request = self
            .shared
            .request(Method::POST, "/auth/password-reset")
            .json(&json!({"email": self.account.email}));
        let Some(code) = self
            .mailed_code_for("POST /auth/password-reset", request, "Reset your password")
            .await
        else {
            return;
        };
        let new = new_password();
        self.shared.remember(|secrets| {
            secrets.passwords.insert(new.clone());
            secrets.codes.insert(code.clone());
        });
        let request = self
            .shared
            .request(Method::POST, "/auth/password-reset/confirm")
            .json(&json!({"code": code, "new_password": new}));
        if let Some((200, _)) = self
            .shared
            .send("POST /auth/password-reset/confirm", request, &[200])
            .await
        {
            self.revoke_held();
            self.account.password = new;
        }
    }

    /// One route of those whose row's load is a live token (`routes::Load::LiveToken`), picked
    /// at random, with a live token: a 2xx.
    async fn live_token_route(&mut self) {
        let live: Vec<_> = tokengate::routes::routes()
            .filter(|(function, _)| function.load == tokengate::routes::Load::LiveToken)
            .map(|(_, route)| route)
            .collect();
        let Some(route) = fastrand::choice(&live) else {
            return;
        };
        let token = self.token().await;
        let method = Method::from_bytes(route.method.as_bytes()).unwrap_or(Method::GET);
        let request = self.shared.request(method, route.path).bearer_auth(&token);
        let label = format!("{} (live token)", route.label());
        self.shared
            .send(&label, request, &[200, 201, 202, 204])
            .await;
    }

    /// Whether the account may be sent one more message this hour; if so, counts it.
    fn spend_message(&mut self) -> bool {
        self.account
            .resets
            .retain(|at| at.elapsed() < Duration::from_secs(3_600));
        if self.account.resets.len() >= RESETS_PER_HOUR {
            return false;
        }
        self.account.resets.push(Instant::now());
        true
    }

    /// An address verified by mail: a new verification message asked for with a token, its
    /// code read from the inbox and redeemed. Once per account.
    async fn verify_email(&mut self) {
        if self.account.verified || !self.spend_message() {
            return self.login().await;
        }
        let token = self.token().await;
        let request = self
            .shared
            .request(Method::POST, "/auth/email/verification")
            .bearer_auth(&token);
        let Some(code) = self
            .mailed_code_for(
                "POST /auth/email/verification",
                request,
                "Verify your email address",
            )
            .await
        else {
            return;
        };
        self.shared.remember(|secrets| {
            secrets.codes.insert(code.clone());
        });
        let request = self
            .shared
            .request(Method::POST, "/auth/email/verify")
            .json(&json!({ "code": code }));
        if let Some((200, _)) = self
            .shared
            .send("POST /auth/email/verify", request, &[200])
            .await
        {
            self.account.verified = true;
        }
    }

    /// Sends `request` (`route`, which must answer 202 and mail a code), then reads the code from
    /// the inbox: the message under `subject`. A missing message is recorded as a failure.
    async fn mailed_code_for(
        &self,
        route: &str,
        request: RequestBuilder,
        subject: &str,
    ) -> Option<String> {
        if !matches!(
            self.shared.send(route, request, &[202]).await,
            Some((202, _))
        ) {
            return None;
        }
        let code = self.mailed_code(subject).await;
        if code.is_none() {
            let label = format!("{route} (no message within 60 s)");
            self.shared.stats.record(&label, 0, Duration::ZERO, false);
        }
        code
    }

    /// The newest code in the account's inbox under `subject` that was not used yet.
    async fn mailed_code(&self, subject: &str) -> Option<String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        while Instant::now() < deadline {
            let url = format!("{}/store?since={}", self.shared.mail, self.shared.started);
            if let Ok(response) = self.shared.http.get(url).send().await
                && let Ok(store) = response.json::<Value>().await
            {
                let used = self
                    .shared
                    .secrets
                    .lock()
                    .map(|secrets| secrets.codes.clone())
                    .unwrap_or_default();
                let code = store["emails"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .rev()
                    .filter(|mail| mail["destination"]["to"][0] == self.account.email.as_str())
                    .filter(|mail| mail["subject"] == subject)
                    .filter_map(|mail| mail["body"]["text"].as_str())
                    .filter_map(|text| text.lines().find_map(|line| line.strip_prefix("Code: ")))
                    .map(|code| code.trim().to_owned())
                    .find(|code| !used.contains(code));
                if code.is_some() {
                    return code;
                }
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        None
    }
}

/// What a client may do in one step.
#[derive(Clone, Copy)]
enum Action {
    Signup,
    Login,
    WrongLogin,
    LoginToken,
    Verify,
    Me,
    Sessions,
    RevokeSession,
    Logout,
    LogoutAll,
    PasswordChange,
    Reset,
    VerifyEmail,
    LiveToken,
    GarbageToken,
    Malformed,
}

#[cfg(test)]
impl Action {
    /// The routes the action sends requests to (`METHOD /path`, as the route table names them).
    fn routes(self) -> &'static [&'static str] {
        match self {
            Self::Signup => &["POST /auth/signup", "GET /api/me"],
            Self::Login | Self::WrongLogin => &["POST /auth/login"],
            Self::LoginToken => &["GET /api/login-token"],
            Self::Verify => &["GET /auth/verify"],
            Self::Me => &["GET /api/me"],
            Self::Sessions => &["GET /auth/sessions"],
            Self::RevokeSession => &["GET /auth/sessions", "DELETE /auth/sessions/{id}"],
            Self::Logout => &["POST /auth/logout"],
            Self::LogoutAll => &["POST /auth/logout-all"],
            Self::PasswordChange => &["POST /auth/password"],
            Self::Reset => &[
                "POST /auth/password-reset",
                "POST /auth/password-reset/confirm",
            ],
            Self::VerifyEmail => &["POST /auth/email/verification", "POST /auth/email/verify"],
            // Every route whose row's load is a live token: see `live_token_route`.
            Self::LiveToken => &[],
            Self::GarbageToken => &["GET /auth/verify", "GET /api/me"],
            Self::Malformed => &["POST /auth/signup", "POST /auth/login"],
        }
    }
}

/// The mix: (weight, action).
const ACTIONS: [(u32, Action); 16] = [
    (5, Action::Signup),
    (12, Action::Login),
    (5, Action::WrongLogin),
    (8, Action::LoginToken),
    (20, Action::Verify),
    (15, Action::Me),
    (5, Action::Sessions),
    (2, Action::RevokeSession),
    (3, Action::Logout),
    (1, Action::LogoutAll),
    (1, Action::PasswordChange),
    (1, Action::Reset),
    (1, Action::VerifyEmail),
    (4, Action::LiveToken),
    (5, Action::GarbageToken),
    (5, Action::Malformed),
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn the_mix_sends_requests_to_every_route_of_the_table() {
        let sent: BTreeSet<&str> = ACTIONS
            .iter()
            .flat_map(|(_, action)| action.routes().iter().copied())
            .collect();
        assert!(
            ACTIONS
                .iter()
                .any(|(_, action)| matches!(action, Action::LiveToken))
        );
        for (function, route) in tokengate::routes::routes() {
            assert!(
                function.load == tokengate::routes::Load::LiveToken
                    || sent.contains(route.label().as_str()),
                "no soak action sends {} ({})",
                route.label(),
                function.name
            );
        }
        let table: BTreeSet<String> = tokengate::routes::routes()
            .map(|(_, route)| route.label())
            .collect();
        for route in sent {
            assert!(table.contains(route), "{route} is no route of the table");
        }
    }
}
