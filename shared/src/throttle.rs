//! Login throttling: after too many failures in a window an account is locked for a while.
//! Pure rules here; the counter itself lives on the account's item.

/// Failed logins of one account, as its item keeps them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LoginFailures {
    /// Failures counted in the current window.
    pub count: u64,
    /// When the current window started, Unix seconds.
    pub window_start: u64,
    /// Until when logins are refused, Unix seconds (0: not locked).
    pub locked_until: u64,
}

/// How many failures lock an account, counted over what window, for how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures within one window that lock the account (`LOGIN_MAX_FAILURES`, default 5).
    pub max_failures: u64,
    /// Length of the counting window, seconds (`LOGIN_FAILURE_WINDOW_SECONDS`, default 900).
    pub window: u64,
    /// How long a lock lasts, seconds (`LOGIN_LOCK_SECONDS`, default 900).
    pub lock: u64,
}

impl ThrottlePolicy {
    /// The defaults: 5 failures in 15 minutes lock the account for 15 minutes.
    pub const DEFAULT: Self = Self {
        max_failures: 5,
        window: 900,
        lock: 900,
    };

    /// Whether logins to an account with `failures` are refused at `now`.
    pub fn is_locked(&self, failures: &LoginFailures, now: u64) -> bool {
        now < failures.locked_until
    }

    /// How one more guess at an account with `failures` may be reserved at `now`, before any
    /// hashing: refused while locked, counted in the current window while it lasts, else the
    /// first of a new window. The store makes the reservation atomically and refuses it once
    /// `max_failures` guesses are counted in the window.
    pub fn reservation(&self, failures: &LoginFailures, now: u64) -> Reservation {
        if self.is_locked(failures, now) {
            Reservation::Locked
        } else if failures.count > 0 && now < failures.window_start.saturating_add(self.window) {
            Reservation::InWindow {
                window_start: failures.window_start,
            }
        } else {
            Reservation::NewWindow {
                seen_window_start: failures.window_start,
                seen_count: failures.count,
            }
        }
    }

    /// Whether a wrong guess that was the `count`th reserved in its window locks the account.
    pub fn locks_after(&self, count: u64) -> bool {
        count >= self.max_failures
    }
}

/// How the next guess at an account is to be counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reservation {
    /// Locked: no guess is checked against the real hash.
    Locked,
    /// One more in the window that started at `window_start`.
    InWindow {
        /// The window's start, Unix seconds.
        window_start: u64,
    },
    /// The first of a new window, provided the bookkeeping is still what was read: its window
    /// start and its count (a start alone does not do: right after a success the window may
    /// start this very second, and a new window written now would leave it unchanged).
    NewWindow {
        /// The window start read (0: none), Unix seconds.
        seen_window_start: u64,
        /// The count read (0: none).
        seen_count: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: ThrottlePolicy = ThrottlePolicy::DEFAULT;

    #[test]
    fn a_lock_refuses_every_guess_until_it_ends() {
        let locked = LoginFailures {
            count: 0,
            window_start: 1_000,
            locked_until: 1_900,
        };
        assert_eq!(POLICY.reservation(&locked, 1_899), Reservation::Locked);
        assert!(matches!(
            POLICY.reservation(&locked, 1_900),
            Reservation::NewWindow { .. }
        ));
    }

    #[test]
    fn guesses_within_the_window_count_in_it_and_later_ones_open_a_new_one() {
        let counting = LoginFailures {
            count: 3,
            window_start: 1_000,
            locked_until: 0,
        };
        assert_eq!(
            POLICY.reservation(&counting, 1_899),
            Reservation::InWindow {
                window_start: 1_000
            }
        );
        assert_eq!(
            POLICY.reservation(&counting, 1_900),
            Reservation::NewWindow {
                seen_window_start: 1_000,
                seen_count: 3,
            }
        );
    }

    #[test]
    fn the_fifth_wrong_guess_of_a_window_locks() {
        assert!(!POLICY.locks_after(4));
        assert!(POLICY.locks_after(5));
    }
}
