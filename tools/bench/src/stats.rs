//! Medians and 99th percentiles of timed samples.

use std::time::Duration;

/// Timings of one measured operation, in seconds.
#[derive(Debug, Clone, Default)]
pub struct Samples(Vec<f64>);

impl Samples {
    /// Room for `capacity` samples, so recording never allocates.
    pub fn with_capacity(capacity: usize) -> Self {
        Self(Vec::with_capacity(capacity))
    }

    /// Records one timing.
    pub fn push(&mut self, elapsed: Duration) {
        self.0.push(elapsed.as_secs_f64());
    }

    /// Every timing less `seconds` (a fixed overhead measured apart).
    pub fn less(&self, seconds: f64) -> Self {
        Self(self.0.iter().map(|sample| sample - seconds).collect())
    }

    /// The `q`-quantile (0..=1), nearest-rank; NaN when empty.
    pub fn quantile(&self, q: f64) -> f64 {
        if self.0.is_empty() {
            return f64::NAN;
        }
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        let rank = (q * sorted.len() as f64).ceil() as usize;
        sorted[rank.clamp(1, sorted.len()) - 1]
    }

    /// The median.
    pub fn median(&self) -> f64 {
        self.quantile(0.5)
    }

    /// The 99th percentile.
    pub fn p99(&self) -> f64 {
        self.quantile(0.99)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_are_nearest_rank() {
        let mut samples = Samples::default();
        for value in (1..=100).rev() {
            samples.push(Duration::from_secs(value));
        }
        assert_eq!(samples.median(), 50.0);
        assert_eq!(samples.p99(), 99.0);
        assert_eq!(samples.quantile(1.0), 100.0);
        assert!(Samples::default().median().is_nan());
    }
}
