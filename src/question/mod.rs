//! The questions the insight answers, as the CLI (`top`, `plan`) and the HTTP API
//! (`/api/cluster/hot-slots`, `/rebalance-plan`, `/slot-map`) both ask them: the
//! measures, and each parameter's default and range, written down once.
//!
//! A leaf: it knows nothing of observations, HTTP or clap's commands; `config::cli` and
//! `http::request` parse into these types, `insight` and `render` consume them.

pub(crate) mod measure;

pub(crate) use measure::{BALANCEABLE, MAPPED, Measure, RANKABLE};
use std::ops::RangeInclusive;

/// A parameter's default and the values it accepts.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Bounded<T> {
    pub(crate) default: T,
    pub(crate) min: T,
    pub(crate) max: T,
}

impl<T: Copy> Bounded<T> {
    pub(crate) fn range(&self) -> RangeInclusive<T> {
        self.min..=self.max
    }
}

impl Bounded<u32> {
    /// For clap's `value_parser!(u32).range(..)`, which takes i64 bounds.
    pub(crate) fn clap_range(&self) -> RangeInclusive<i64> {
        i64::from(self.min)..=i64::from(self.max)
    }
}

/// How many hot slots a ranking lists: 20 fit a terminal; every slot at most.
pub(crate) const HOT_LIMIT: Bounded<u32> = Bounded { default: 20, min: 1, max: crate::snapshot::SLOT_COUNT as u32 };

/// How many moves a plan proposes. Each move is a command an operator reviews and runs;
/// 1024 bounds both the planner's work and the length of the answer.
pub(crate) const MAX_MOVES: Bounded<u32> = Bounded { default: 32, min: 1, max: 1024 };

/// The busiest primary's load, in times the mean, at which the planner stops: 10 %
/// over the mean is within what traffic itself swings; 1 is perfect balance.
pub(crate) const TARGET_RATIO: Bounded<f64> = Bounded { default: 1.10, min: 1.0, max: 10.0 };

/// Which slots are hottest.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct HotQuestion {
    /// One of [`RANKABLE`].
    pub(crate) measure: Measure,
    /// Within [`HOT_LIMIT`].
    pub(crate) limit: usize,
}

/// Which slots to move where to even out a load.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct PlanQuestion {
    /// One of [`BALANCEABLE`].
    pub(crate) measure: Measure,
    /// Within [`MAX_MOVES`].
    pub(crate) max_moves: usize,
    /// Within [`TARGET_RATIO`].
    pub(crate) target: f64,
}

/// What the slot map draws.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum MapQuestion {
    /// One of [`MAPPED`], for every slot.
    One(Measure),
    /// Every measure of [`MAPPED`] in one answer: the page draws one and shows the
    /// others in its tooltip, from one request per refresh.
    All,
}
