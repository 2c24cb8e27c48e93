//! tokengate's domain crate: everything the Lambda functions share.
//!
//! The functions under `functions/` are thin entry points; each builds its state once per cold
//! start ([`Accounts`] or [`Tokens`]) and hands every request to one of the [`handlers`].
//! IO stays at the edges: [`store`] talks to DynamoDB, [`handlers`] to HTTP, and the use-cases in
//! [`accounts`] and [`tokens`] work on parsed domain types.

pub mod accounts;
pub mod authorizer;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod handlers;
pub mod ids;
pub mod lambda;
pub mod passwords;
pub mod problem;
pub mod profiles;
pub mod request;
pub mod store;
pub mod telemetry;
pub mod throttle;
pub mod tokens;

pub use accounts::Accounts;
pub use config::Config;
pub use tokens::Tokens;
