//! Percentiles for the benchmark's latency samples.
//!
//! Nearest-rank percentiles: the reported value is always one that was measured, never an
//! interpolation between two, so "p99 = 12 ms" means some envelope really took 12 ms.

/// Percentiles of one set of samples, in the samples' unit (milliseconds in the bench).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    /// How many samples (at least 1: no samples gives no summary); NaNs are not counted.
    pub count: usize,
    /// Median (p50), nearest rank.
    pub p50: f64,
    /// 90th percentile, nearest rank.
    pub p90: f64,
    /// 99th percentile, nearest rank: what the ack target is judged on.
    pub p99: f64,
    /// Largest sample (p100).
    pub max: f64,
}

impl Summary {
    /// Summarises `samples` (any order; NaNs are dropped); `None` when nothing was measured.
    pub fn of(samples: &[f64]) -> Option<Summary> {
        let mut sorted: Vec<f64> = samples.iter().copied().filter(|s| !s.is_nan()).collect();
        sorted.sort_by(f64::total_cmp);
        Some(Summary {
            count: sorted.len(),
            p50: percentile(&sorted, 50.0)?,
            p90: percentile(&sorted, 90.0)?,
            p99: percentile(&sorted, 99.0)?,
            max: *sorted.last()?,
        })
    }
}

/// The nearest-rank `p`th percentile (0 < p ≤ 100) of samples sorted ascending: the smallest
/// sample with at least `p`% of the samples at or below it. `None` for no samples or a `p`
/// outside (0, 100].
pub fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() || !(p > 0.0 && p <= 100.0) {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    sorted.get(rank.clamp(1, sorted.len()) - 1).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_on_a_hundred_samples() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&samples, 50.0), Some(50.0));
        assert_eq!(percentile(&samples, 90.0), Some(90.0));
        assert_eq!(percentile(&samples, 99.0), Some(99.0));
        assert_eq!(percentile(&samples, 100.0), Some(100.0));
        assert_eq!(percentile(&samples, 0.5), Some(1.0));
    }

    #[test]
    fn small_sets_report_a_measured_value() {
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[1.0, 2.0, 3.0], 50.0), Some(2.0));
        assert_eq!(percentile(&[1.0, 2.0, 3.0], 99.0), Some(3.0));
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0], 50.0), Some(2.0));
    }

    #[test]
    fn empty_or_out_of_range_is_none() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[1.0], 0.0), None);
        assert_eq!(percentile(&[1.0], 101.0), None);
        assert_eq!(percentile(&[1.0], f64::NAN), None);
        assert_eq!(Summary::of(&[]), None);
        assert_eq!(Summary::of(&[f64::NAN]), None);
    }

    #[test]
    fn summary_sorts_its_input() {
        let mut samples: Vec<f64> = (1..=1000).map(f64::from).collect();
        samples.reverse();
        let s = Summary::of(&samples);
        assert_eq!(
            s,
            Some(Summary {
                count: 1000,
                p50: 500.0,
                p90: 900.0,
                p99: 990.0,
                max: 1000.0
            })
        );
    }
}
