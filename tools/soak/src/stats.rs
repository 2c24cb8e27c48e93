//! Per-route figures: requests, statuses, latency percentiles.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

/// One route's answers.
#[derive(Default)]
struct RouteFigures {
    statuses: BTreeMap<u16, u64>,
    latencies: Vec<Duration>,
    unexpected: u64,
}

/// Every route's answers, shared by the clients.
#[derive(Default)]
pub struct Stats {
    routes: Mutex<BTreeMap<String, RouteFigures>>,
}

impl Stats {
    /// Records an answer of `route` with `status` after `latency`; `expected` says whether the
    /// status is one the request should get.
    pub fn record(&self, route: &str, status: u16, latency: Duration, expected: bool) {
        let Ok(mut routes) = self.routes.lock() else {
            return;
        };
        let figures = routes.entry(route.to_owned()).or_default();
        *figures.statuses.entry(status).or_default() += 1;
        figures.latencies.push(latency);
        if !expected {
            figures.unexpected += 1;
        }
    }

    /// Rows: route, requests, statuses, p50, p99, unexpected.
    pub fn rows(&self) -> Vec<Row> {
        let Ok(mut routes) = self.routes.lock() else {
            return Vec::new();
        };
        routes
            .iter_mut()
            .map(|(route, figures)| {
                figures.latencies.sort_unstable();
                let at = |quantile: f64| {
                    let index =
                        ((figures.latencies.len() as f64 - 1.0) * quantile).round() as usize;
                    figures.latencies.get(index).copied().unwrap_or_default()
                };
                Row {
                    route: route.clone(),
                    requests: figures.latencies.len() as u64,
                    statuses: figures.statuses.clone(),
                    p50: at(0.5),
                    p99: at(0.99),
                    unexpected: figures.unexpected,
                }
            })
            .collect()
    }
}

/// One route's line of the report.
pub struct Row {
    /// `METHOD /path (case)`.
    pub route: String,
    /// Requests sent.
    pub requests: u64,
    /// Answers by status.
    pub statuses: BTreeMap<u16, u64>,
    /// Median latency.
    pub p50: Duration,
    /// 99th percentile latency.
    pub p99: Duration,
    /// Answers whose status the request should not have got.
    pub unexpected: u64,
}

impl Row {
    /// Answers with a 5xx status.
    pub fn server_errors(&self) -> u64 {
        self.statuses.range(500..600).map(|(_, count)| count).sum()
    }
}
