//! The route table: every Lambda function of the stack, declared once, as data.
//!
//! Each row names a function (its binary, its CloudFormation resource, its log group), what
//! invokes it (an HTTP route of the REST API, or the authorizer, the outbox stream, the key
//! rotation), the handler its binary serves and the state that handler builds, whether it hashes
//! passwords (its memory size), the stack parameters it reads beyond the shared ones, and the
//! AWS actions it may call. Everything else is derived from it: `tools/routes` writes
//! template.yaml's function blocks, throttles and WAF paths, the function binaries' manifest and
//! the README's route index; the contract tests hold openapi.yaml and the binaries to it; the
//! property tests, `make bench` and `make soak` take their routes from it.
//!
//! The table is data for those generators and tests: each binary (`functions/src/bin/`) names
//! its own handler, so no binary links what it does not use.

/// One Lambda function of the stack.
#[derive(Debug, Clone, Copy)]
pub struct Function {
    /// The binary's and the function's name (`login-token`): `functions/src/bin/<name>.rs`.
    pub name: &'static str,
    /// What it does, in a few words (the template's `Description` after the route).
    pub summary: &'static str,
    /// What invokes it.
    pub trigger: Trigger,
    /// The handler its binary serves, as written there (`handlers::login_token`).
    pub handler: &'static str,
    /// The state that handler builds at cold start.
    pub state: State,
    /// Whether it hashes or verifies passwords (argon2id): it gets [`HASHING_MEMORY_MB`].
    pub hashes_passwords: bool,
    /// Environment variables it reads beyond the shared ones, each from a stack parameter.
    pub settings: &'static [Setting],
    /// What it may call, and why; nothing else.
    pub grants: &'static [Grant],
    /// Its timeout in seconds, when not the stack's default.
    pub timeout_seconds: Option<u32>,
    /// What `make bench` and `make soak` send it on its main path.
    pub load: Load,
}

/// What `make bench` and `make soak` send a function on its main path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Load {
    /// A request with a live session token and nothing else: both send it as is and expect a
    /// 2xx (an allow, for the authorizer).
    LiveToken,
    /// A workload of its own, written in `tools/bench` and `tools/soak`.
    Own,
}

/// What invokes a function.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Trigger {
    /// A route of the REST API.
    Http(Route),
    /// The REST API's REQUEST authorizer, in front of the guarded routes.
    Authorizer,
    /// The outbox table's stream (its INSERTs) and the sweep schedule.
    OutboxStream,
    /// Secrets Manager's rotation of the key ring.
    KeyRotation,
}

/// A route of the REST API.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Route {
    /// The HTTP method, upper case.
    pub method: &'static str,
    /// The path, with `{name}` for a path parameter.
    pub path: &'static str,
    /// Whether the authorizer guards it (the function then trusts its context).
    pub guarded: bool,
    /// Whether it checks a password or a code, or sends mail: the WAF's per-client limit and
    /// the tighter capacity throttle (`TokenRouteRateLimit`) apply to it.
    pub credential: bool,
}

/// The state a function's handler builds at cold start (`lambda::FromConfig`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// The account use-cases, password hasher included.
    Accounts,
    /// The token use-cases alone.
    Tokens,
    /// Profiles behind the authorizer.
    Profiles,
    /// The authorizer over the token use-cases.
    Authorizer,
    /// The mailer of the outbox.
    Mailer,
    /// The key ring's rotation steps.
    Rotation,
}

/// An environment variable a function reads, set from a stack parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The variable.
    pub variable: &'static str,
    /// The parameter of template.yaml it is set from.
    pub parameter: &'static str,
}

/// Actions a function may call on one resource, and why it calls them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grant {
    /// What the actions are on.
    pub resource: Resource,
    /// The IAM actions (`dynamodb:GetItem`).
    pub actions: &'static [&'static str],
    /// Why: which calls of the function need them.
    pub why: &'static str,
}

/// A resource of the stack a function may act on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Resource {
    /// The accounts table.
    UsersTable,
    /// The tokens, sessions and codes table.
    TokensTable,
    /// The outbox of messages to send.
    OutboxTable,
    /// The signing key ring's secret.
    KeyRing,
    /// The SES identity mail is sent as, from `SenderEmail` only.
    SenderIdentity,
}

/// Memory of a function that hashes passwords, MB: argon2id is CPU-bound and Lambda's CPU share
/// grows with memory (README: "Memory").
pub const HASHING_MEMORY_MB: u32 = 1024;
/// Memory of every other function, MB.
pub const DEFAULT_MEMORY_MB: u32 = 128;

impl Function {
    /// Its route, when an HTTP route of the API invokes it.
    pub fn route(&self) -> Option<&Route> {
        match &self.trigger {
            Trigger::Http(route) => Some(route),
            _ => None,
        }
    }

    /// Its memory size, MB.
    pub fn memory_mb(&self) -> u32 {
        if self.hashes_passwords {
            HASHING_MEMORY_MB
        } else {
            DEFAULT_MEMORY_MB
        }
    }
}

impl Route {
    /// `METHOD /path`, as the contract, the reports and the logs name a route.
    pub fn label(&self) -> String {
        format!("{} {}", self.method, self.path)
    }
}

/// Every route of the API, in the table's order.
pub fn routes() -> impl Iterator<Item = (&'static Function, &'static Route)> {
    FUNCTIONS
        .iter()
        .filter_map(|function| function.route().map(|route| (function, route)))
}

/// The function named `name`.
pub fn function(name: &str) -> Option<&'static Function> {
    FUNCTIONS.iter().find(|function| function.name == name)
}

const KEY_RING: Grant = Grant {
    resource: Resource::KeyRing,
    actions: &["secretsmanager:GetSecretValue"],
    why: "The key ring, at cold start and every KeyRingRefreshSeconds.",
};

const MAX_SESSIONS: Setting = Setting {
    variable: "MAX_SESSIONS_PER_ACCOUNT",
    parameter: "MaxSessionsPerAccount",
};

const fn http(method: &'static str, path: &'static str) -> Trigger {
    Trigger::Http(Route {
        method,
        path,
        guarded: false,
        credential: false,
    })
}

const fn credential(method: &'static str, path: &'static str) -> Trigger {
    Trigger::Http(Route {
        method,
        path,
        guarded: false,
        credential: true,
    })
}

const fn guarded(method: &'static str, path: &'static str) -> Trigger {
    Trigger::Http(Route {
        method,
        path,
        guarded: true,
        credential: false,
    })
}

/// What a row leaves out: no password hashing, no settings, the default timeout.
const ROW: Function = Function {
    name: "",
    summary: "",
    trigger: Trigger::Authorizer,
    handler: "",
    state: State::Tokens,
    hashes_passwords: false,
    settings: &[],
    grants: &[],
    timeout_seconds: None,
    load: Load::Own,
};

/// Every function of the stack: the routes (public ones first), then the three no route
/// reaches. IAM: a TransactWriteItems is authorized per contained item (Put as PutItem, Update
/// as UpdateItem, Delete as DeleteItem, ConditionCheck as ConditionCheckItem); a BatchGetItem
/// needs BatchGetItem, not GetItem.
pub const FUNCTIONS: &[Function] = &[
    Function {
        name: "signup",
        summary: "creates an account and its first token.",
        trigger: credential("POST", "/auth/signup"),
        handler: "handlers::signup",
        state: State::Accounts,
        hashes_passwords: true,
        settings: &[MAX_SESSIONS],
        grants: &[
            KEY_RING,
            Grant {
                resource: Resource::UsersTable,
                actions: &["dynamodb:PutItem"],
                why: "One transaction: Put of the account's items, Update of its new sessions item, Put of the first token's record and login-token pointer, Put of its verification message.",
            },
            Grant {
                resource: Resource::TokensTable,
                actions: &["dynamodb:PutItem", "dynamodb:UpdateItem"],
                why: "The sessions item (Update), the token record and pointer (Put), in that transaction.",
            },
            Grant {
                resource: Resource::OutboxTable,
                actions: &["dynamodb:PutItem"],
                why: "The verification message, in that transaction.",
            },
        ],
        ..ROW
    },
    Function {
        name: "login",
        summary: "checks a password and issues a token.",
        trigger: credential("POST", "/auth/login"),
        handler: "handlers::login",
        state: State::Accounts,
        hashes_passwords: true,
        settings: &[MAX_SESSIONS],
        grants: &[
            KEY_RING,
            Grant {
                resource: Resource::UsersTable,
                actions: &[
                    "dynamodb:GetItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:ConditionCheckItem",
                ],
                why: "Reads the account, reserves a login attempt / upgrades the hash (UpdateItem) and checks its email item in the issuing transaction (ConditionCheck).",
            },
            Grant {
                resource: Resource::TokensTable,
                actions: &[
                    "dynamodb:GetItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:PutItem",
                ],
                why: "Reads the sessions item (GetItem); the issuing transaction updates it, puts the token record and pointer.",
            },
        ],
        ..ROW
    },
    Function {
        name: "login-token",
        summary: "returns the current token of a client or issues one.",
        trigger: credential("GET", "/api/login-token"),
        handler: "handlers::login_token",
        state: State::Accounts,
        hashes_passwords: true,
        settings: &[MAX_SESSIONS],
        grants: &[
            KEY_RING,
            Grant {
                resource: Resource::UsersTable,
                actions: &[
                    "dynamodb:GetItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:ConditionCheckItem",
                ],
                why: "Reads the account, reserves an attempt, checks its email item when issuing.",
            },
            Grant {
                resource: Resource::TokensTable,
                actions: &[
                    "dynamodb:GetItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:PutItem",
                ],
                why: "Reads the pointer and the sessions item (GetItem); issues like login.",
            },
        ],
        ..ROW
    },
    Function {
        name: "verify",
        summary: "tells whether a token is valid.",
        trigger: http("GET", "/auth/verify"),
        handler: "handlers::verify",
        state: State::Tokens,
        grants: &[
            KEY_RING,
            Grant {
                resource: Resource::TokensTable,
                actions: &["dynamodb:GetItem"],
                why: "One GetItem: the account's sessions item.",
            },
        ],
        load: Load::LiveToken,
        ..ROW
    },
    Function {
        name: "logout",
        summary: "revokes the presented token.",
        trigger: http("POST", "/auth/logout"),
        handler: "handlers::logout",
        state: State::Tokens,
        grants: &[
            KEY_RING,
            Grant {
                resource: Resource::TokensTable,
                actions: &["dynamodb:UpdateItem", "dynamodb:DeleteItem"],
                why: "UpdateItem of the sessions item, then a best-effort DeleteItem of the token record.",
            },
        ],
        ..ROW
    },
    Function {
        name: "logout-all",
        summary: "revokes every token of the caller.",
        trigger: http("POST", "/auth/logout-all"),
        handler: "handlers::logout_all",
        state: State::Tokens,
        grants: &[
            KEY_RING,
            Grant {
                resource: Resource::TokensTable,
                actions: &["dynamodb:GetItem", "dynamodb:UpdateItem"],
                why: "A GetItem checks the presented token; one UpdateItem revokes every session.",
            },
        ],
        ..ROW
    },
    Function {
        name: "password",
        summary: "changes the caller's password and revokes every token.",
        trigger: credential("POST", "/auth/password"),
        handler: "handlers::change_password",
        state: State::Accounts,
        hashes_passwords: true,
        settings: &[MAX_SESSIONS],
        grants: &[
            KEY_RING,
            Grant {
                resource: Resource::UsersTable,
                actions: &[
                    "dynamodb:GetItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:ConditionCheckItem",
                ],
                why: "Reads the account, reserves an attempt (UpdateItem), replaces the hash in a transaction with the sessions item (UpdateItem), then issues (ConditionCheck).",
            },
            Grant {
                resource: Resource::TokensTable,
                actions: &[
                    "dynamodb:GetItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:PutItem",
                ],
                why: "Reads the sessions item, clears it in that transaction, then issues like login.",
            },
        ],
        ..ROW
    },
    Function {
        name: "sessions",
        summary: "lists the caller's live sessions.",
        trigger: http("GET", "/auth/sessions"),
        handler: "handlers::sessions",
        state: State::Tokens,
        grants: &[
            KEY_RING,
            Grant {
                resource: Resource::TokensTable,
                actions: &["dynamodb:GetItem", "dynamodb:BatchGetItem"],
                why: "GetItem of the sessions item, BatchGetItem of the live tokens' records.",
            },
        ],
        load: Load::LiveToken,
        ..ROW
    },
    Function {
        name: "revoke-session",
        summary: "ends one session of the caller.",
        trigger: http("DELETE", "/auth/sessions/{id}"),
        handler: "handlers::revoke_session",
        state: State::Tokens,
        grants: &[
            KEY_RING,
            Grant {
                resource: Resource::TokensTable,
                actions: &[
                    "dynamodb:GetItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                ],
                why: "GetItem of the sessions item, UpdateItem to remove the session from it, then a best-effort DeleteItem of its record.",
            },
        ],
        ..ROW
    },
    Function {
        name: "password-reset",
        summary: "asks for a reset message; the same answer for any address.",
        trigger: credential("POST", "/auth/password-reset"),
        handler: "handlers::password_reset",
        state: State::Accounts,
        grants: &[
            KEY_RING,
            Grant {
                resource: Resource::OutboxTable,
                actions: &["dynamodb:PutItem"],
                why: "One Put of the outbox item, whoever the address belongs to: nothing else is read.",
            },
        ],
        ..ROW
    },
    Function {
        name: "password-reset-confirm",
        summary: "sets a new password with a reset code.",
        trigger: credential("POST", "/auth/password-reset/confirm"),
        handler: "handlers::password_reset_confirm",
        state: State::Accounts,
        hashes_passwords: true,
        settings: &[MAX_SESSIONS],
        grants: &[
            KEY_RING,
            Grant {
                resource: Resource::UsersTable,
                actions: &[
                    "dynamodb:GetItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:ConditionCheckItem",
                ],
                why: "Reads the account; one transaction updates its email item (password, verified, lock) and profile item, deletes the code record and clears the sessions; then issues a token as login does (ConditionCheck of the email item).",
            },
            Grant {
                resource: Resource::TokensTable,
                actions: &[
                    "dynamodb:GetItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                    "dynamodb:PutItem",
                ],
                why: "The code record: read, a wrong try counted (UpdateItem), used up (DeleteItem); the sessions cleared and a token issued.",
            },
        ],
        ..ROW
    },
    Function {
        name: "email-verify",
        summary: "marks an address verified with its code.",
        trigger: credential("POST", "/auth/email/verify"),
        handler: "handlers::email_verify",
        state: State::Accounts,
        grants: &[
            KEY_RING,
            Grant {
                resource: Resource::UsersTable,
                actions: &["dynamodb:GetItem", "dynamodb:UpdateItem"],
                why: "Reads the account; marks its email item and profile verified.",
            },
            Grant {
                resource: Resource::TokensTable,
                actions: &[
                    "dynamodb:GetItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                ],
                why: "The code record: read, a wrong try counted (UpdateItem), used up (DeleteItem).",
            },
        ],
        ..ROW
    },
    Function {
        name: "email-verification",
        summary: "asks for a new verification message (a valid token).",
        trigger: credential("POST", "/auth/email/verification"),
        handler: "handlers::email_verification",
        state: State::Accounts,
        grants: &[
            KEY_RING,
            Grant {
                resource: Resource::UsersTable,
                actions: &["dynamodb:GetItem"],
                why: "The account.",
            },
            Grant {
                resource: Resource::TokensTable,
                actions: &["dynamodb:GetItem"],
                why: "The token's session.",
            },
            Grant {
                resource: Resource::OutboxTable,
                actions: &["dynamodb:PutItem"],
                why: "One outbox Put.",
            },
        ],
        load: Load::LiveToken,
        ..ROW
    },
    Function {
        name: "me",
        summary: "the caller's profile (protected by the authorizer).",
        trigger: guarded("GET", "/api/me"),
        handler: "handlers::me",
        state: State::Profiles,
        grants: &[
            KEY_RING,
            Grant {
                resource: Resource::UsersTable,
                actions: &["dynamodb:GetItem"],
                why: "The caller's profile.",
            },
        ],
        load: Load::LiveToken,
        ..ROW
    },
    Function {
        name: "authorizer",
        summary: "REQUEST authorizer of the REST API's protected routes.",
        trigger: Trigger::Authorizer,
        handler: "lambda::serve_authorizer",
        state: State::Authorizer,
        settings: &[Setting {
            variable: "AUTHORIZER_CACHE_SECONDS",
            parameter: "AuthorizerCacheSeconds",
        }],
        grants: &[
            KEY_RING,
            Grant {
                resource: Resource::TokensTable,
                actions: &["dynamodb:GetItem"],
                why: "One GetItem: the account's sessions item (expiry and application of each token).",
            },
        ],
        load: Load::LiveToken,
        ..ROW
    },
    Function {
        name: "mailer",
        summary: "sends reset and verification messages through SES: woken by the outbox stream's INSERTs, and a sweep every 10 minutes re-sends what is left; on no route.",
        trigger: Trigger::OutboxStream,
        handler: "lambda::serve_mailer",
        state: State::Mailer,
        settings: &[
            Setting {
                variable: "MAIL_FROM",
                parameter: "SenderEmail",
            },
            Setting {
                variable: "PASSWORD_RESET_URL",
                parameter: "PasswordResetUrl",
            },
            Setting {
                variable: "EMAIL_VERIFY_URL",
                parameter: "EmailVerifyUrl",
            },
            Setting {
                variable: "RESET_MAX_PER_HOUR",
                parameter: "ResetMaxPerHour",
            },
            Setting {
                variable: "MAIL_MAX_PER_DAY",
                parameter: "MailMaxPerDay",
            },
        ],
        grants: &[
            KEY_RING,
            Grant {
                resource: Resource::OutboxTable,
                actions: &["dynamodb:GetItem", "dynamodb:UpdateItem", "dynamodb:Scan"],
                why: "The outbox item: read, marked finished; the sweep scans for unfinished ones.",
            },
            Grant {
                resource: Resource::UsersTable,
                actions: &["dynamodb:GetItem"],
                why: "The account, by address (reset) or id (verification).",
            },
            Grant {
                resource: Resource::TokensTable,
                actions: &["dynamodb:GetItem", "dynamodb:PutItem"],
                why: "The code record: read, written under a condition.",
            },
            Grant {
                resource: Resource::SenderIdentity,
                actions: &["ses:SendEmail"],
                why: "SendEmail only, as the verified identity, from SenderEmail only.",
            },
        ],
        timeout_seconds: Some(60),
        ..ROW
    },
    Function {
        name: "rotate-key",
        summary: "rotates the token signing key ring (Secrets Manager's createSecret, setSecret, testSecret, finishSecret); on no route.",
        trigger: Trigger::KeyRotation,
        handler: "lambda::serve_rotation",
        state: State::Rotation,
        grants: &[Grant {
            resource: Resource::KeyRing,
            actions: &[
                "secretsmanager:DescribeSecret",
                "secretsmanager:GetSecretValue",
                "secretsmanager:PutSecretValue",
                "secretsmanager:UpdateSecretVersionStage",
            ],
            why: "The four steps: read the stages and the current ring, write the pending ring, move AWSCURRENT onto it. This secret only.",
        }],
        ..ROW
    },
];

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    #[test]
    fn every_function_and_every_route_is_declared_once() {
        let names: BTreeSet<_> = FUNCTIONS.iter().map(|function| function.name).collect();
        assert_eq!(names.len(), FUNCTIONS.len());
        let labels: BTreeSet<_> = routes().map(|(_, route)| route.label()).collect();
        assert_eq!(labels.len(), routes().count());
    }

    #[test]
    fn every_row_is_complete() {
        for function in FUNCTIONS {
            assert!(!function.summary.is_empty(), "{}", function.name);
            assert!(!function.handler.is_empty(), "{}", function.name);
            assert!(!function.grants.is_empty(), "{}", function.name);
            for grant in function.grants {
                assert!(!grant.actions.is_empty() && !grant.why.is_empty());
                let service = match grant.resource {
                    Resource::UsersTable | Resource::TokensTable | Resource::OutboxTable => {
                        "dynamodb:"
                    }
                    Resource::KeyRing => "secretsmanager:",
                    Resource::SenderIdentity => "ses:",
                };
                assert!(
                    grant
                        .actions
                        .iter()
                        .all(|action| action.starts_with(service)),
                    "{}: {:?}",
                    function.name,
                    grant.actions
                );
            }
        }
    }

    #[test]
    fn a_function_that_hashes_builds_the_account_use_cases() {
        for function in FUNCTIONS
            .iter()
            .filter(|function| function.hashes_passwords)
        {
            assert_eq!(function.state, State::Accounts, "{}", function.name);
            assert_eq!(function.memory_mb(), HASHING_MEMORY_MB);
        }
    }
}
