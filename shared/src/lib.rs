//! tokengate's domain crate: everything the Lambda functions share.
//!
//! The functions under `functions/` are thin entry points: each names its handler, and
//! [`lambda::serve`] builds that handler's state once per cold start ([`Accounts`], [`Tokens`],
//! [`profiles::Profiles`] or [`authorizer::Authorizer`], through [`lambda::FromConfig`]) and
//! turns every error into problem+json in one place.
//!
//! # Layout
//!
//! Modules stand in layers. A module imports only from its own layer or the layers above it in
//! this table, never from a layer below it, and the imports form no cycle.
//! `scripts/module-graph.py` checks both over every `crate::`/`super::` path in `src/` (`make
//! test` runs it), once module by module and once with each top-level module (a file or a
//! folder of `src/`) as one node: every top-level module sits in exactly one layer, so the
//! folders show the layers. A submodule not named here belongs to its parent's row.
//!
//! | layer | modules | what they are |
//! |---|---|---|
//! | 0 foundation | `ids`, `clock`, `retry`, `routes` | random identifiers, the injectable clock, the one loop that retries lost races, the route table (data every generator and contract test reads) |
//! | 1 domain | `credentials`, `common_passwords`, `passwords`, `throttle`, `keyring`, `codes`, `records`, `messages` | values parsed once (emails, passwords, forms; their [`credentials::InputError`]), the list of common passwords, argon2id, the lockout rules; the key ring, its signing keys, rotation rules and the token's wire form; one-time codes' format and tag; the records the use-cases and the store exchange (accounts, sessions, the outbox and the codes' hourly counts); the messages that carry a code |
//! | 2 store | `store`, `keys`, `ses` | DynamoDB IO: items to records and back, named outcomes, [`store::StoreError`]; the key ring's IO part: where it lives (Secrets Manager or a file) and the ring a function holds; sending mail through SES |
//! | 3 edges in | `problem`, `request`, `cors`, `config` | every client-visible error and its one mapping to HTTP; reading requests; the CORS headers of every response; reading the environment |
//! | 4 use-cases | `tokens`, `accounts`, `profiles`, `authorizer`, `rotation`, `mailer` | what the API does, on parsed types, through the store; the key ring's rotation steps; the mailer that sends the outbox |
//! | 5 entry | `handlers`, `telemetry`, `lambda` | one handler per route, logging, and the cold start that wires it all |

pub mod accounts;
pub mod authorizer;
pub mod clock;
pub mod codes;
pub mod common_passwords;
pub mod config;
pub mod cors;
pub mod credentials;
pub mod handlers;
pub mod ids;
pub mod keyring;
pub mod keys;
pub mod lambda;
pub mod mailer;
pub mod messages;
pub mod passwords;
pub mod problem;
pub mod profiles;
pub mod records;
pub mod request;
pub mod retry;
pub mod rotation;
pub mod routes;
pub mod ses;
pub mod store;
pub mod telemetry;
pub mod throttle;
pub mod tokens;

pub use accounts::Accounts;
pub use config::Config;
pub use tokens::Tokens;
