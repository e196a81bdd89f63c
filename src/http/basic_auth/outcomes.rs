//! The caches of [`super::BasicAuth`]: outcomes of bcrypt runs, by credential digest.

use super::CredentialDigest;
use std::collections::{HashSet, VecDeque};

/// Verified outcomes, successes and failures apart: guesses only ever fill `rejected`,
/// so however many there are, they cannot evict a scraper's success.
pub(super) struct Outcomes {
    /// Credentials that matched a configured user's hash.
    accepted: BoundedSet,
    /// Credentials that did not, unknown users included.
    rejected: BoundedSet,
}

impl Outcomes {
    pub(super) fn new(capacity: usize) -> Outcomes {
        Outcomes { accepted: BoundedSet::new(capacity), rejected: BoundedSet::new(capacity) }
    }

    pub(super) fn get(&self, digest: &CredentialDigest) -> Option<bool> {
        if self.accepted.contains(digest) {
            Some(true)
        } else if self.rejected.contains(digest) {
            Some(false)
        } else {
            None
        }
    }

    pub(super) fn record(&mut self, digest: CredentialDigest, accepted: bool) {
        if accepted { self.accepted.insert(digest) } else { self.rejected.insert(digest) }
    }

    /// How many successes and failures are remembered.
    #[cfg(test)]
    pub(super) fn sizes(&self) -> (usize, usize) {
        (self.accepted.len(), self.rejected.len())
    }
}

/// A set of digests that forgets its oldest member when full.
///
/// Oldest first rather than least recently used: tracking use would turn every cache
/// hit into a write. In `accepted` the set does not fill (only credentials that know a
/// password get there); in `rejected` a flood of distinct guesses churns any policy
/// alike, and an evicted entry costs one more bcrypt when it comes back. Forgetting
/// one at a time, rather than clearing, keeps remembered credentials from all paying
/// bcrypt again at the same moment.
struct BoundedSet {
    /// For lookups: no digest is compared by hand.
    members: HashSet<CredentialDigest>,
    /// Insertion order, oldest first, to know what to forget.
    order: VecDeque<CredentialDigest>,
    /// Most members held.
    capacity: usize,
}

impl BoundedSet {
    fn new(capacity: usize) -> BoundedSet {
        BoundedSet { members: HashSet::new(), order: VecDeque::new(), capacity }
    }

    fn contains(&self, digest: &CredentialDigest) -> bool {
        self.members.contains(digest)
    }

    fn insert(&mut self, digest: CredentialDigest) {
        if !self.members.insert(digest) {
            return;
        }
        self.order.push_back(digest);
        while self.order.len() > self.capacity {
            if let Some(oldest) = self.order.pop_front() {
                self.members.remove(&oldest);
            }
        }
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.members.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bounded_set_forgets_its_oldest_member_first() {
        let mut set = BoundedSet::new(2);
        for digest in [[1; 32], [2; 32], [2; 32], [3; 32]] {
            set.insert(digest);
        }
        assert!(!set.contains(&[1; 32]) && set.contains(&[2; 32]) && set.contains(&[3; 32]));
        assert_eq!(set.len(), 2);
    }
}
