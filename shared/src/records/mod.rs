//! The records the use-cases and the store exchange: what an account is, what is kept of
//! issued tokens and an account's sessions, and of the messages asked for and the live codes.
//! Plain data and the rules that belong to it (which sessions a new token evicts, what a mail
//! request may issue); no IO.

mod accounts;
mod mail;
mod tokens;

pub use accounts::{Account, UserProfile};
pub use mail::{
    CodeIssue, CodePolicy, CodeRecord, MAIL_DAY_SECONDS, MAIL_WINDOW_SECONDS, MAX_WRONG_TRIES,
    MailOutcome, MailRequest,
};
pub use tokens::{
    CurrentToken, DEFAULT_MAX_SESSIONS, Live, MAX_SESSIONS_LIMIT, NewToken, Origin, ReplaceCurrent,
    Sessions, TokenRecord,
};
