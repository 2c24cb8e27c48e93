//! The bench's deployment: its own tables in DynamoDB Local, the configuration every function
//! process is given, and one account with a valid token.

use std::sync::Arc;

use aws_sdk_dynamodb::Client;
use tokengate::clock::SystemClock;
use tokengate::config::Config;
use tokengate::credentials::{SignupForm, login_credentials_from_json};
use tokengate::ids::UserId;
use tokengate::keyring::{Authentication, KeyRing, TokenClaims};
use tokengate::lambda::{FromConfig, Parts};
use tokengate::records::Origin;
use tokengate::{Accounts, Tokens, store};

/// The password of every bench account.
pub const PASSWORD: &str = "correct horse battery staple";

/// The tables, the configuration and the seeded account the figures are measured on.
pub struct Deployment {
    /// The environment each function process is started with (besides the AWS variables it
    /// inherits): the same the in-process figures are built from.
    pub env: Vec<(String, String)>,
    /// [`Self::env`] with the key ring read from a file (`KEY_RING_FILE`) instead of Secrets
    /// Manager: the cold start without the Secrets Manager round trip.
    pub env_with_ring_file: Vec<(String, String)>,
    /// The configuration read from [`Self::env`], as a function's cold start reads it.
    pub config: Config,
    /// One DynamoDB client, built as the functions build theirs.
    pub client: Client,
    /// What the use-cases are built over, as a function's cold start connects it.
    pub parts: Parts,
    /// The key ring every function reads from Secrets Manager.
    pub ring: KeyRing,
    /// The ring's secret.
    pub secret_arn: String,
    /// The account use-cases, as signup and login build them.
    pub accounts: Accounts,
    /// The token use-cases, as verify builds them.
    pub tokens: Tokens,
    /// The seeded account's email.
    pub email: String,
    /// A valid token of the seeded account.
    pub token: String,
    /// What that token says.
    pub claims: TokenClaims,
}

impl Deployment {
    /// Creates fresh tables and one account with a token; DynamoDB Local must be reachable
    /// through `AWS_ENDPOINT_URL_DYNAMODB`.
    pub async fn create() -> Result<Self, String> {
        let run = tokengate::ids::TokenId::generate()
            .to_string()
            .replace(['-', '_'], "x");
        // The key ring in Secrets Manager, as deployed: every cold start reads it there.
        let ring = KeyRing::generate();
        let sdk = store::sdk_config(std::time::Duration::from_secs(10), None)
            .await
            .map_err(|error| error.to_string())?;
        let secret_arn = aws_sdk_secretsmanager::Client::new(&sdk)
            .create_secret()
            .name(format!("bench-keyring-{run}"))
            .secret_string(ring.to_document())
            .send()
            .await
            .map_err(|error| format!("creating the key ring secret: {error}"))?
            .arn()
            .ok_or("CreateSecret returned no ARN")?
            .to_owned();
        let ring_file = std::env::temp_dir().join(format!("tokengate-bench-keyring-{run}.json"));
        std::fs::write(&ring_file, ring.to_document())
            .map_err(|error| format!("writing the key ring file: {error}"))?;
        let env = vec![
            ("USERS_TABLE".to_owned(), format!("bench-users-{run}")),
            ("TOKENS_TABLE".to_owned(), format!("bench-tokens-{run}")),
            ("OUTBOX_TABLE".to_owned(), format!("bench-outbox-{run}")),
            ("KEY_RING_SECRET_ID".to_owned(), secret_arn.clone()),
            ("MAIL_FROM".to_owned(), "bench@example.com".to_owned()),
            ("RUST_LOG".to_owned(), "warn".to_owned()),
        ];
        let config = Config::from_lookup(|name| {
            env.iter()
                .find(|(variable, _)| variable == name)
                .map(|(_, value)| value.clone())
        })
        .map_err(|error| error.to_string())?;
        let parts = tokengate::lambda::connect(&config, Arc::new(SystemClock))
            .await
            .map_err(|error| error.to_string())?;
        let client = parts.client.clone();
        store::create_tables(&client, &config.tables())
            .await
            .map_err(|error| format!("creating the tables: {error}"))?;
        let accounts = Accounts::from_config(&config, &parts).map_err(|error| error.to_string())?;
        let tokens = Tokens::from_config(&config, &parts).map_err(|error| error.to_string())?;
        let email = format!("bench-{run}@example.com").to_ascii_lowercase();
        let (user, token) = signup(&accounts, &email).await?;
        let claims = match ring.authenticate(&token) {
            Authentication::Authentic(claims) if claims.user == user => claims,
            _ => return Err("the issued token does not authenticate".into()),
        };
        let env_with_ring_file = env
            .iter()
            .map(|(name, value)| match name.as_str() {
                "KEY_RING_SECRET_ID" => (
                    "KEY_RING_FILE".to_owned(),
                    ring_file.to_string_lossy().into_owned(),
                ),
                _ => (name.clone(), value.clone()),
            })
            .collect();
        Ok(Self {
            env_with_ring_file,
            env,
            config,
            client,
            parts,
            ring,
            secret_arn,
            accounts,
            tokens,
            email,
            token,
            claims,
        })
    }

    /// A fresh token of the account `email` from a login (one argon2id verify), for calls that
    /// consume one (logout, logout-all).
    pub async fn login(&self, email: &str) -> Result<String, String> {
        let body = serde_json::json!({ "email": email, "password": PASSWORD });
        let credentials = login_credentials_from_json(body.to_string().as_bytes())
            .map_err(|error| format!("login body: {error:?}"))?;
        let (_, issued) = self
            .accounts
            .login(&credentials, &origin("bench"))
            .await
            .map_err(|error| format!("logging in {email}: {error:?}"))?;
        Ok(issued.token.expose().to_owned())
    }

    /// Another account, for calls that revoke all of an account's tokens (logout-all, password
    /// change); returns its email and a valid token.
    pub async fn extra_account(&self, label: &str) -> Result<(String, String), String> {
        let email = format!("{label}-{}", self.email);
        let (_, token) = signup(&self.accounts, &email).await?;
        Ok((email, token))
    }
}

impl Deployment {
    /// Issues `count` more sessions to the account `email`, whose valid `token` names it,
    /// through the token use-cases (no argon2).
    pub async fn add_sessions(&self, email: &str, token: &str, count: usize) -> Result<(), String> {
        let Authentication::Authentic(claims) = self.ring.authenticate(token) else {
            return Err("the token does not authenticate".into());
        };
        let email =
            tokengate::credentials::Email::parse(email).map_err(|error| error.to_string())?;
        let grantee = tokengate::tokens::Grantee {
            user: claims.user,
            email: &email,
            password_version: 0,
        };
        for _ in 0..count {
            match self.tokens.issue(&grantee, &origin("bench")).await {
                Ok(tokengate::tokens::Handout::Token(_)) => {}
                other => return Err(format!("issuing a session: {other:?}")),
            }
        }
        Ok(())
    }
}

/// Creates the account `email` with [`PASSWORD`]; returns its id and its first token.
async fn signup(accounts: &Accounts, email: &str) -> Result<(UserId, String), String> {
    let form = serde_json::json!({
        "email": email, "password": PASSWORD, "firstname": "Bench", "lastname": "Mark"
    });
    let form = SignupForm::from_json(form.to_string().as_bytes())
        .map_err(|error| format!("signup form: {error:?}"))?;
    let (profile, issued) = accounts
        .signup(form, &origin("default"))
        .await
        .map_err(|error| format!("creating the account {email}: {error:?}"))?;
    let issued = issued.ok_or("signup issued no token (REQUIRE_VERIFIED_EMAIL is off here)")?;
    Ok((profile.id, issued.token.expose().to_owned()))
}

/// A request from application `client_id`, as the bench's calls come.
fn origin(client_id: &str) -> Origin {
    Origin {
        client_id: client_id.to_owned(),
        user_agent: Some("tokengate-bench".to_owned()),
        source_ip: None,
    }
}
