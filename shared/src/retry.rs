//! Retrying work that lost a race with a concurrent request: the one budget and pause every
//! retry loop in the crate shares.

use std::time::Duration;

/// Work that kept losing races with concurrent requests, after every retry; transient.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("kept losing races with concurrent requests")]
pub struct RaceLost;

/// A budget of attempts at work that may lose races. Call [`Self::next_attempt`] before each
/// attempt: the first goes at once, later ones after a few jittered, growing milliseconds (so
/// racers spread out), and once the budget is spent it answers [`RaceLost`].
///
/// ```ignore
/// let mut attempts = Attempts::new(4);
/// loop {
///     attempts.next_attempt().await?;
///     match try_it().await? { Won(value) => return Ok(value), Lost => continue }
/// }
/// ```
#[derive(Debug)]
pub struct Attempts {
    budget: u32,
    made: u32,
}

impl Attempts {
    /// At most `budget` attempts.
    pub fn new(budget: u32) -> Self {
        Self { budget, made: 0 }
    }

    /// Waits for the next attempt's turn, or answers [`RaceLost`] when none is left.
    pub async fn next_attempt(&mut self) -> Result<(), RaceLost> {
        if self.made >= self.budget {
            return Err(RaceLost);
        }
        if self.made > 0 {
            tokio::time::sleep(pause(self.made)).await;
        }
        self.made += 1;
        Ok(())
    }
}

/// 5 ms doubled per attempt made (at most 320 ms) plus up to 15 ms of jitter.
fn pause(made: u32) -> Duration {
    let jitter = u64::from(crate::ids::random_bytes::<1>()[0] % 16);
    Duration::from_millis((5u64 << made.min(6)) + jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_budget_allows_exactly_that_many_attempts() {
        let mut attempts = Attempts::new(4);
        for _ in 0..4 {
            assert_eq!(attempts.next_attempt().await, Ok(()));
        }
        assert_eq!(attempts.next_attempt().await, Err(RaceLost));
    }

    #[test]
    fn pauses_grow_and_stay_bounded() {
        assert!(pause(1) < Duration::from_millis(26));
        assert!(pause(3) >= Duration::from_millis(40));
        assert!(pause(50) <= Duration::from_millis(335));
    }
}
