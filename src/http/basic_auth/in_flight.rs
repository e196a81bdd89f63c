//! Which credential each client address has waiting for (or in) a bcrypt run, so that
//! one address can queue at most one verification.
//!
//! bcrypt runs one at a time, first come first served. Without a bound per address, a
//! client sending many distinct wrong passwords at once puts each of them in the queue,
//! and a scraper whose credential is not yet cached (after a restart or a rotation)
//! waits behind all of them: 128 queued guesses at cost 10 were 8 s. With this bound
//! the queue holds at most one verification per address, so the scraper waits for one
//! run per other busy address, not per guess.
//!
//! Requests from one address with the credential already claimed there join the
//! claim instead of being refused: Prometheus scraping several paths of a restarted
//! exporter sends the same credential on several connections at once, and once the
//! first is verified the others find its outcome in the cache without a bcrypt run.

use super::CredentialDigest;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};

/// Per address, the credential claimed there and how many requests hold the claim.
type Slots = HashMap<IpAddr, Slot>;

/// The claims of every address with a verification queued or running. Entries go when
/// their last [`Claim`] is dropped, so the map never holds more addresses than there
/// are requests in progress.
#[derive(Default)]
pub(super) struct InFlight {
    /// Shared with every [`Claim`], which removes its address's entry when it is the last.
    slots: Arc<Mutex<Slots>>,
}

/// The one credential an address has in the queue.
struct Slot {
    /// Which credential: requests with another one from this address are refused.
    digest: CredentialDigest,
    /// Requests holding the claim (the first one and those that joined it); the entry
    /// is removed when this falls to zero.
    holders: usize,
}

/// A request's share of its address's claim, held until its verification has run (or
/// it found the outcome in the cache, or the request was dropped while waiting).
pub(super) struct Claim {
    /// Where the claim is counted, to release it on drop.
    slots: Arc<Mutex<Slots>>,
    /// The address the claim is counted under.
    client: IpAddr,
}

impl InFlight {
    /// A claim for `digest` from `client`, unless that address already has another
    /// credential waiting for or in a bcrypt run. An IPv4 client seen through an IPv6
    /// socket (`::ffff:a.b.c.d`) counts as its IPv4 address.
    pub(super) fn claim(&self, client: IpAddr, digest: &CredentialDigest) -> Option<Claim> {
        let client = client.to_canonical();
        let mut slots = crate::sync::lock(&self.slots);
        match slots.entry(client) {
            Entry::Vacant(vacant) => {
                vacant.insert(Slot { digest: *digest, holders: 1 });
            }
            Entry::Occupied(mut taken) if taken.get().digest == *digest => taken.get_mut().holders += 1,
            Entry::Occupied(_) => return None,
        }
        Some(Claim { slots: self.slots.clone(), client })
    }

    /// How many addresses hold a claim.
    #[cfg(test)]
    pub(super) fn addresses(&self) -> usize {
        crate::sync::lock(&self.slots).len()
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        let mut slots = crate::sync::lock(&self.slots);
        if let Entry::Occupied(mut slot) = slots.entry(self.client) {
            slot.get_mut().holders -= 1;
            if slot.get().holders == 0 {
                slot.remove();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const ONE: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1));
    const TWO: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

    #[test]
    fn one_credential_per_address_and_any_number_of_addresses() {
        let in_flight = InFlight::default();
        let first = in_flight.claim(ONE, &[1; 32]).expect("the first claim");
        assert!(in_flight.claim(ONE, &[2; 32]).is_none(), "a second credential from the same address");
        let other = in_flight.claim(TWO, &[2; 32]).expect("another address");
        assert_eq!(in_flight.addresses(), 2);
        drop(first);
        let again = in_flight.claim(ONE, &[2; 32]).expect("the address is free again");
        drop((other, again));
        assert_eq!(in_flight.addresses(), 0, "released claims leave nothing behind");
    }

    #[test]
    fn the_same_credential_joins_the_claim_until_every_holder_is_gone() {
        let in_flight = InFlight::default();
        let first = in_flight.claim(ONE, &[1; 32]).expect("the first claim");
        let joined = in_flight.claim(ONE, &[1; 32]).expect("the same credential joins");
        drop(first);
        assert!(in_flight.claim(ONE, &[2; 32]).is_none(), "still claimed by the joined request");
        drop(joined);
        assert!(in_flight.claim(ONE, &[2; 32]).is_some());
    }

    #[test]
    fn an_ipv4_client_through_an_ipv6_socket_is_the_same_address() {
        let in_flight = InFlight::default();
        let _claim = in_flight.claim(ONE, &[1; 32]).expect("the first claim");
        let mapped = IpAddr::V6(Ipv4Addr::new(127, 0, 0, 1).to_ipv6_mapped());
        assert!(in_flight.claim(mapped, &[2; 32]).is_none());
        assert!(in_flight.claim(IpAddr::V6(Ipv6Addr::LOCALHOST), &[2; 32]).is_some(), "::1 is another address");
    }
}
