//! What the store keeps of issued tokens and an account's sessions, as the use-cases and the
//! store exchange it.

use std::collections::BTreeMap;

use crate::ids::{TokenId, UserId};

/// What the table knows of one issued token besides its liveness: where it was issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    /// The application the token was issued for.
    pub client_id: String,
    /// When it was issued, Unix seconds.
    pub issued_at: u64,
    /// When it stops being valid, Unix seconds (also the TTL attribute).
    pub expire: u64,
    /// The issuing request's `User-Agent`, if it sent one.
    pub user_agent: Option<String>,
    /// The issuing request's source IP, as API Gateway saw it, if known.
    pub source_ip: Option<String>,
}

/// The token login-token hands out again for one (application, user) pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CurrentToken {
    /// The token's id.
    pub token: TokenId,
    /// Its expiry, Unix seconds.
    pub expire: u64,
}

/// Where a request that gets a token came from.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origin {
    /// The application (`X-Client-Id`, default `default`).
    pub client_id: String,
    /// Its `User-Agent`, if any.
    pub user_agent: Option<String>,
    /// Its source IP, if API Gateway named one.
    pub source_ip: Option<String>,
}

/// A token about to be recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewToken {
    /// Whose token it is.
    pub user: UserId,
    /// Its id and expiry.
    pub current: CurrentToken,
    /// When it was issued, Unix seconds.
    pub issued_at: u64,
    /// Where the request for it came from.
    pub origin: Origin,
    /// The sessions generation it is issued in.
    pub generation: u64,
}

/// When recording a token may replace the pair's current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplaceCurrent {
    /// Always (login and signup hand out a fresh token).
    Always,
    /// Only when the pair has no current token.
    IfAbsent,
    /// Only when the current token is still this (expired or revoked) one.
    IfStill(TokenId),
}

/// Default cap on an account's live sessions (`MAX_SESSIONS_PER_ACCOUNT`).
pub const DEFAULT_MAX_SESSIONS: usize = 100;

/// Largest cap on an account's live sessions: every live session is an entry of one item
/// (at most ~100 bytes with a 64-character application id), and an item holds 400 KB.
pub const MAX_SESSIONS_LIMIT: usize = 3_000;

/// What an account's sessions item says of one live token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Live {
    /// When it expires, Unix seconds.
    pub expire: u64,
    /// The application it was issued for.
    pub client_id: String,
    /// The sessions item's version it was issued at: the order of issue, which breaks ties of
    /// expiry when the cap evicts.
    pub issued: u64,
}

/// An account's sessions: the one item whose map says which tokens are live. A token verifies
/// only while its id is in the map and unexpired, so one write revokes any number of them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sessions {
    /// Moves on every write; a write is made only under the version it read.
    pub version: u64,
    /// Moves when every session is revoked at once (logout-all, password change); each token
    /// record keeps the generation it was issued in, for audits.
    pub generation: u64,
    /// Live token ids (expired ones may linger until the next issue prunes them).
    pub live: BTreeMap<TokenId, Live>,
}

impl Sessions {
    /// The sessions after adding `token` for `client_id` at `now`: expired entries pruned, then
    /// the soonest-expiring ones evicted until at most `cap` remain, of equal expiry the
    /// first issued (`token` always stays).
    pub fn with(&self, token: &CurrentToken, client_id: &str, now: u64, cap: usize) -> Sessions {
        let mut live: BTreeMap<TokenId, Live> = self
            .live
            .iter()
            .filter(|(_, session)| session.expire > now)
            .map(|(id, session)| (*id, session.clone()))
            .collect();
        while live.len() >= cap.max(1) {
            let Some(oldest) = live
                .iter()
                .min_by_key(|(id, session)| (session.expire, session.issued, **id))
                .map(|(id, _)| *id)
            else {
                break;
            };
            live.remove(&oldest);
        }
        let version = self.version + 1;
        live.insert(
            token.token,
            Live {
                expire: token.expire,
                client_id: client_id.to_owned(),
                issued: version,
            },
        );
        Sessions {
            version,
            generation: self.generation,
            live,
        }
    }

    /// Whether `token` is live at `now`.
    pub fn is_live(&self, token: &TokenId, now: u64) -> bool {
        self.live
            .get(token)
            .is_some_and(|session| session.expire > now)
    }

    /// How many sessions are live at `now`.
    pub fn live_count(&self, now: u64) -> usize {
        self.live
            .values()
            .filter(|session| session.expire > now)
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token(expire: u64) -> CurrentToken {
        CurrentToken {
            token: TokenId::generate(),
            expire,
        }
    }

    #[test]
    fn issuing_past_the_cap_evicts_the_soonest_expiring_session() {
        let mut sessions = Sessions::default();
        let first = token(1_010);
        sessions = sessions.with(&first, "web", 1_000, 3);
        for expire in [1_020, 1_030] {
            sessions = sessions.with(&token(expire), "web", 1_000, 3);
        }
        assert_eq!(sessions.live.len(), 3);
        let newest = token(1_040);
        let after = sessions.with(&newest, "phone", 1_000, 3);
        assert_eq!(after.live.len(), 3);
        assert!(!after.live.contains_key(&first.token));
        assert!(after.is_live(&newest.token, 1_000));
        assert_eq!(after.live[&newest.token].client_id, "phone");
        assert_eq!(after.version, sessions.version + 1);
    }

    #[test]
    fn of_sessions_expiring_in_the_same_second_the_cap_evicts_the_first_issued() {
        let issued: Vec<CurrentToken> = (0..120).map(|_| token(5_000)).collect();
        let sessions = issued.iter().fold(Sessions::default(), |sessions, token| {
            sessions.with(token, "web", 1_000, 100)
        });
        let kept: std::collections::BTreeSet<TokenId> = sessions.live.keys().copied().collect();
        let newest: std::collections::BTreeSet<TokenId> =
            issued[20..].iter().map(|token| token.token).collect();
        assert_eq!(kept, newest, "the newest 100 stay");
    }

    #[test]
    fn expired_sessions_free_their_slot_before_anything_is_evicted() {
        let keep = token(2_000);
        let sessions = Sessions::default()
            .with(&token(1_001), "web", 1_000, 2)
            .with(&keep, "web", 1_000, 2);
        let after = sessions.with(&token(2_500), "web", 1_500, 2);
        assert_eq!(after.live.len(), 2);
        assert!(after.is_live(&keep.token, 1_500));
        assert_eq!(after.live_count(1_500), 2);
    }
}
