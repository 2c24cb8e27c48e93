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

    /// The bookkeeping after one more failure at `now`. Reaching the limit locks the account
    /// and starts the count afresh; failures while locked are never counted (the caller does
    /// not get here), so a lock cannot be extended by hammering it.
    pub fn after_failure(&self, failures: &LoginFailures, now: u64) -> LoginFailures {
        let in_window =
            failures.count > 0 && now < failures.window_start.saturating_add(self.window);
        let (count, window_start) = if in_window {
            (failures.count + 1, failures.window_start)
        } else {
            (1, now)
        };
        if count >= self.max_failures {
            LoginFailures {
                count: 0,
                window_start: now,
                locked_until: now.saturating_add(self.lock),
            }
        } else {
            LoginFailures {
                count,
                window_start,
                locked_until: failures.locked_until,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: ThrottlePolicy = ThrottlePolicy::DEFAULT;

    fn fail(times: u64, start: u64, step: u64) -> LoginFailures {
        (0..times).fold(LoginFailures::default(), |failures, i| {
            POLICY.after_failure(&failures, start + i * step)
        })
    }

    #[test]
    fn the_fifth_failure_in_the_window_locks_for_the_lock_period() {
        let four = fail(4, 1_000, 10);
        assert!(!POLICY.is_locked(&four, 1_040));
        let five = POLICY.after_failure(&four, 1_040);
        assert!(POLICY.is_locked(&five, 1_040));
        assert!(POLICY.is_locked(&five, 1_040 + 899));
        assert!(!POLICY.is_locked(&five, 1_040 + 900));
    }

    #[test]
    fn failures_spread_beyond_the_window_never_lock() {
        let spread = fail(20, 1_000, 300);
        assert!(!POLICY.is_locked(&spread, 1_000 + 19 * 300));
        assert!(spread.count < POLICY.max_failures);
    }

    #[test]
    fn after_a_lock_the_count_starts_afresh() {
        let locked = fail(5, 1_000, 1);
        let after = POLICY.after_failure(&locked, locked.locked_until);
        assert_eq!(after.count, 1);
        assert!(!POLICY.is_locked(&after, locked.locked_until));
    }
}
