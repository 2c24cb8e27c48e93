//! The results table: one row per figure, printed and written as Markdown.

use std::fmt::Write as _;

use crate::stats::Samples;

/// One figure: ours against its baseline, with the goal it is held to.
#[derive(Debug, Clone)]
pub struct Row {
    /// What is measured.
    pub figure: String,
    /// Our figure, formatted.
    pub ours: String,
    /// The baseline's figure, formatted.
    pub baseline: String,
    /// Ours over the baseline, formatted.
    pub ratio: String,
    /// The goal, as text.
    pub goal: String,
    /// Whether the goal is met; `None` when the row has no goal.
    pub met: Option<bool>,
}

impl Row {
    /// A timing row: medians and 99th percentiles of both, their ratios, and `goal_ratio` (the
    /// most the median ratio may be) when the row has one.
    pub fn timing(
        figure: &str,
        ours: &Samples,
        baseline: &Samples,
        goal_ratio: Option<f64>,
    ) -> Self {
        let ratio = ours.median() / baseline.median();
        Self {
            figure: figure.to_owned(),
            ours: median_p99(ours),
            baseline: median_p99(baseline),
            ratio: format!("{ratio:.2} / {:.2}", ours.p99() / baseline.p99()),
            goal: goal_ratio
                .map_or_else(|| "-".to_owned(), |goal| format!("<= {goal:.2} (median)")),
            met: goal_ratio.map(|goal| ratio <= goal),
        }
    }
}

/// `median / p99` of `samples`, in a readable unit.
pub fn median_p99(samples: &Samples) -> String {
    format!(
        "{} / {}",
        duration(samples.median()),
        duration(samples.p99())
    )
}

/// `seconds` in ns, us, ms or s, with three significant digits or so.
pub fn duration(seconds: f64) -> String {
    let (value, unit) = if seconds < 1e-6 {
        (seconds * 1e9, "ns")
    } else if seconds < 1e-3 {
        (seconds * 1e6, "us")
    } else if seconds < 1.0 {
        (seconds * 1e3, "ms")
    } else {
        (seconds, "s")
    };
    let decimals = if value < 10.0 {
        2
    } else if value < 100.0 {
        1
    } else {
        0
    };
    format!("{value:.decimals$} {unit}")
}

/// `bytes` in MiB.
pub fn mebibytes(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}

/// The rows as a Markdown table.
pub fn markdown(rows: &[Row]) -> String {
    let header = ["figure", "ours", "baseline", "ratio", "goal", "met"];
    let cells: Vec<[String; 6]> = rows
        .iter()
        .map(|row| {
            [
                row.figure.clone(),
                row.ours.clone(),
                row.baseline.clone(),
                row.ratio.clone(),
                row.goal.clone(),
                match row.met {
                    Some(true) => "yes".to_owned(),
                    Some(false) => "**no**".to_owned(),
                    None => "-".to_owned(),
                },
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut table = String::new();
    let mut line = |cells: &[String]| {
        table.push('|');
        for (cell, width) in cells.iter().zip(widths) {
            let _ = write!(table, " {cell:<width$} |");
        }
        table.push('\n');
    };
    line(&header.map(str::to_owned));
    line(&widths.map(|width| "-".repeat(width)));
    for row in &cells {
        line(row);
    }
    table
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_pick_a_readable_unit() {
        assert_eq!(duration(1.5e-6), "1.50 us");
        assert_eq!(duration(0.0123), "12.3 ms");
        assert_eq!(duration(250e-9), "250 ns");
        assert_eq!(duration(2.0), "2.00 s");
    }
}
