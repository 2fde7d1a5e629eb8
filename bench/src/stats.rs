/*! Samples and their summary (median, p95, p99, max) by the nearest-rank method, so every
reported percentile is a value that was actually measured. */

use std::time::Duration;

/// The samples of one figure, in the figure's unit.
#[derive(Debug, Clone, Default)]
pub struct Samples(Vec<f64>);

/// Which statistic of a figure a target is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stat {
    Median,
    P95,
    P99,
    Max,
    Mean,
}

impl Stat {
    pub fn label(self) -> &'static str {
        match self {
            Self::Median => "median",
            Self::P95 => "p95",
            Self::P99 => "p99",
            Self::Max => "max",
            Self::Mean => "mean",
        }
    }
}

impl Samples {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_values(values: impl IntoIterator<Item = f64>) -> Self {
        Self(values.into_iter().collect())
    }

    pub fn push(&mut self, value: f64) {
        self.0.push(value);
    }

    /// A duration, in milliseconds.
    pub fn push_ms(&mut self, elapsed: Duration) {
        self.0.push(elapsed.as_secs_f64() * 1e3);
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn extend(&mut self, other: &Samples) {
        self.0.extend_from_slice(&other.0);
    }

    /// The statistic, or `None` without samples.
    pub fn stat(&self, stat: Stat) -> Option<f64> {
        match stat {
            Stat::Median => self.percentile(50.0),
            Stat::P95 => self.percentile(95.0),
            Stat::P99 => self.percentile(99.0),
            Stat::Max => self.0.iter().copied().reduce(f64::max),
            Stat::Mean => self.mean(),
        }
    }

    pub fn mean(&self) -> Option<f64> {
        (!self.0.is_empty()).then(|| self.0.iter().sum::<f64>() / self.0.len() as f64)
    }

    /// Nearest rank: the smallest sample with at least `q` % of the samples at or below it.
    pub fn percentile(&self, q: f64) -> Option<f64> {
        if self.0.is_empty() {
            return None;
        }
        let mut sorted = self.0.clone();
        sorted.sort_by(f64::total_cmp);
        let rank = ((q / 100.0) * sorted.len() as f64).ceil() as usize;
        Some(sorted[rank.clamp(1, sorted.len()) - 1])
    }
}

/// `100000` → `100,000`.
pub fn thousands(n: usize) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_are_nearest_rank_samples() {
        let s = Samples::from_values((1..=100).map(f64::from));
        assert_eq!(s.stat(Stat::Median), Some(50.0));
        assert_eq!(s.stat(Stat::P95), Some(95.0));
        assert_eq!(s.stat(Stat::P99), Some(99.0));
        assert_eq!(s.stat(Stat::Max), Some(100.0));
        let few = Samples::from_values([3.0, 1.0, 2.0]);
        assert_eq!(few.stat(Stat::Median), Some(2.0));
        assert_eq!(few.stat(Stat::P95), Some(3.0));
        assert_eq!(Samples::new().stat(Stat::Median), None);
        assert_eq!(thousands(100_000), "100,000");
        assert_eq!(thousands(999), "999");
    }
}
