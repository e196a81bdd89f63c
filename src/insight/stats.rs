//! How uneven a load is across primaries, three ways: the busiest over the mean (what
//! a capacity planner feels), the Gini coefficient (0 even .. 1 all on one), and the
//! coefficient of variation (standard deviation over mean).

use serde::Serialize;

/// Imbalance figures of one measure; `None` when the mean is 0 (nothing to balance).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub(crate) struct Imbalance {
    pub(crate) max_over_mean: Option<f64>,
    pub(crate) gini: Option<f64>,
    pub(crate) coefficient_of_variation: Option<f64>,
}

pub(crate) fn imbalance(loads: &[f64]) -> Imbalance {
    if loads.is_empty() {
        return Imbalance::default();
    }
    let n = loads.len() as f64;
    let mean = loads.iter().sum::<f64>() / n;
    if mean <= 0.0 || !mean.is_finite() {
        return Imbalance::default();
    }
    let max = loads.iter().copied().fold(f64::MIN, f64::max);
    let pairwise: f64 = loads.iter().map(|a| loads.iter().map(|b| (a - b).abs()).sum::<f64>()).sum();
    let variance = loads.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n;
    Imbalance {
        max_over_mean: Some(max / mean),
        gini: Some(pairwise / (2.0 * n * n * mean)),
        coefficient_of_variation: Some(variance.sqrt() / mean),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-9)
    }

    #[test]
    fn even_loads_are_perfectly_balanced() {
        let i = imbalance(&[5.0, 5.0, 5.0]);
        assert!(close(i.max_over_mean, 1.0) && close(i.gini, 0.0) && close(i.coefficient_of_variation, 0.0));
    }

    #[test]
    fn all_on_one_of_three() {
        let i = imbalance(&[9.0, 0.0, 0.0]);
        assert!(close(i.max_over_mean, 3.0));
        assert!(close(i.gini, 2.0 / 3.0), "{i:?}");
        assert!(close(i.coefficient_of_variation, 2f64.sqrt()), "{i:?}");
    }

    #[test]
    fn nothing_to_balance_is_no_figure() {
        assert_eq!(imbalance(&[0.0, 0.0]), Imbalance::default());
        assert_eq!(imbalance(&[]), Imbalance::default());
    }
}
