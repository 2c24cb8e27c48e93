//! Response bodies, in the shapes the API documents.

use serde::Serialize;

use crate::records::UserProfile;
use crate::tokens::{IssuedToken, SessionView};

/// The user object returned by signup and login.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserObject<'a> {
    id: String,
    email: &'a str,
    firstname: Option<&'a str>,
    lastname: Option<&'a str>,
    name: Option<String>,
    role: &'a str,
    create_date: String,
    email_verified: bool,
}

impl<'a> UserObject<'a> {
    pub fn new(profile: &'a UserProfile) -> Self {
        let parts: Vec<&str> = [profile.firstname.as_deref(), profile.lastname.as_deref()]
            .into_iter()
            .flatten()
            .collect();
        let created = std::time::UNIX_EPOCH + std::time::Duration::from_secs(profile.created_at);
        Self {
            id: profile.id.to_string(),
            email: profile.email.as_str(),
            firstname: profile.firstname.as_deref(),
            lastname: profile.lastname.as_deref(),
            name: (!parts.is_empty()).then(|| parts.join(" ")),
            role: &profile.role,
            create_date: humantime::format_rfc3339_seconds(created).to_string(),
            email_verified: profile.email_verified,
        }
    }
}

/// Body of `GET /api/me`.
#[derive(Serialize)]
pub struct ProfileBody<'a> {
    success: bool,
    #[serde(rename = "userObj")]
    user: UserObject<'a>,
}

impl<'a> ProfileBody<'a> {
    pub fn new(profile: &'a UserProfile) -> Self {
        Self {
            success: true,
            user: UserObject::new(profile),
        }
    }
}

/// Body of signup (201), login (200) and a confirmed reset (200); signup's has no token when a
/// verified email is required first.
#[derive(Serialize)]
pub struct LoginBody<'a> {
    success: bool,
    #[serde(rename = "x-auth-token", skip_serializing_if = "Option::is_none")]
    token: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expire: Option<u64>,
    #[serde(rename = "userObj")]
    user: UserObject<'a>,
}

impl<'a> LoginBody<'a> {
    pub fn new(profile: &'a UserProfile, token: Option<&'a IssuedToken>) -> Self {
        Self {
            success: true,
            token: token.map(|token| token.token.expose()),
            expire: token.map(|token| token.expire),
            user: UserObject::new(profile),
        }
    }
}

/// Body of the routes that only say they did it: `{"success":true}`.
#[derive(Serialize)]
pub struct Done {
    success: bool,
}

impl Done {
    pub fn new() -> Self {
        Self { success: true }
    }
}

/// Body of `POST /auth/email/verify`.
#[derive(Serialize)]
pub struct EmailVerified {
    success: bool,
    #[serde(rename = "emailVerified")]
    email_verified: bool,
}

impl EmailVerified {
    pub fn new() -> Self {
        Self {
            success: true,
            email_verified: true,
        }
    }
}

#[derive(Serialize)]
struct TokenEntity<'a> {
    id: String,
    token: &'a str,
    #[serde(rename = "type")]
    kind: &'static str,
    uid: String,
    expire: u64,
}

/// Body of login-token: `{"data":[{id, token, type, uid, expire}]}`.
#[derive(Serialize)]
pub struct TokenList<'a> {
    data: [TokenEntity<'a>; 1],
}

impl<'a> TokenList<'a> {
    pub fn new(token: &'a IssuedToken) -> Self {
        Self {
            data: [TokenEntity {
                id: token.id.to_string(),
                token: token.token.expose(),
                kind: "access_token",
                uid: token.user.to_string(),
                expire: token.expire,
            }],
        }
    }
}

/// Body of verify.
#[derive(Serialize)]
pub struct VerifyBody {
    success: bool,
    valid: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    expire: Option<u64>,
}

impl VerifyBody {
    pub fn valid(expire: u64) -> Self {
        Self {
            success: true,
            valid: true,
            expire: Some(expire),
        }
    }

    pub fn invalid() -> Self {
        Self {
            success: true,
            valid: false,
            expire: None,
        }
    }
}

/// Body of logout (`revoked` absent) and logout-all (how many tokens were revoked).
#[derive(Serialize)]
pub struct LogoutBody {
    success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    revoked: Option<usize>,
}

impl LogoutBody {
    pub fn new(revoked: Option<usize>) -> Self {
        Self {
            success: true,
            revoked,
        }
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SessionEntry<'a> {
    id: String,
    client_id: &'a str,
    created_at: u64,
    expire: u64,
    current: bool,
    user_agent: Option<&'a str>,
    source_ip: Option<&'a str>,
}

/// Body of `GET /auth/sessions`.
#[derive(Serialize)]
pub struct SessionList<'a> {
    success: bool,
    sessions: Vec<SessionEntry<'a>>,
}

impl<'a> SessionList<'a> {
    pub fn new(sessions: &'a [SessionView]) -> Self {
        Self {
            success: true,
            sessions: sessions
                .iter()
                .map(|session| SessionEntry {
                    id: session.id.to_string(),
                    client_id: &session.record.client_id,
                    created_at: session.record.issued_at,
                    expire: session.expire,
                    current: session.current,
                    user_agent: session.record.user_agent.as_deref(),
                    source_ip: session.record.source_ip.as_deref(),
                })
                .collect(),
        }
    }
}
