//! Which connections are open, and who gets a place when all places are taken.
//!
//! nginx, out of connections, closes idle keep-alive connections to make room; so does
//! this: at the cap, the oldest connection with no request in progress (an idle
//! keep-alive, a silent socket, a trickled request head) is asked to close and the
//! newcomer is admitted. Two refinements keep a prompt client safe from a neighbour
//! that reconnects as fast as its connections are closed (and so makes every connection
//! young): the victim comes from the client address holding the most connections, and
//! among those, connections already found waiting for their client go first (one
//! accepted a moment ago may hold a request not yet read). A client that sends its request promptly, as Prometheus does,
//! is therefore always served while others merely hold connections open. Only when
//! every connection has a request in progress is the newcomer turned away with a 503.

use super::activity::Activity;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The open connections, oldest first.
pub(crate) struct Registry {
    /// Connections served at once; the newest beyond it sheds an idle one.
    cap: usize,
    /// Each admitted connection by admission order, until it ends.
    live: Mutex<Live>,
    /// Connections being answered 503 at once, so that refusing stays cheap too.
    turned_away: Arc<Semaphore>,
}

#[derive(Default)]
struct Live {
    /// Admission number of the next connection: the order of age.
    next_id: u64,
    /// Open admitted connections, oldest first, with their client's address.
    connections: BTreeMap<u64, (Arc<Activity>, IpAddr)>,
    /// Open admitted connections per client address.
    per_client: HashMap<IpAddr, usize>,
}

impl Live {
    /// The connection to close to make room: not busy, not already closing; from the
    /// address holding the most connections; found waiting before not; oldest first.
    fn victim(&self) -> Option<&Arc<Activity>> {
        let mut best: Option<(&Arc<Activity>, (usize, bool))> = None;
        for (activity, client) in self.connections.values() {
            if activity.is_shed() || activity.busy() {
                continue;
            }
            let rank = (self.per_client.get(client).copied().unwrap_or(0), activity.waited());
            if best.as_ref().is_none_or(|(_, best_rank)| rank > *best_rank) {
                best = Some((activity, rank));
            }
        }
        best.map(|(activity, _)| activity)
    }
}

/// The outcome of [`Registry::admit`].
pub(crate) enum Admission {
    /// Served; the place is given back when the [`Place`] is dropped.
    Serve(Place),
    /// Answered with a 503 and closed; the permit bounds how many at once.
    Busy(#[allow(dead_code)] OwnedSemaphorePermit),
    /// Closed at once: too many are already being turned away.
    Drop,
}

/// A connection's place in the registry, and its activity.
pub(crate) struct Place {
    /// Where it is listed.
    id: u64,
    /// The connection's activity, shared with the registry to choose whom to shed.
    pub(crate) activity: Arc<Activity>,
    /// To leave the registry on drop.
    registry: Arc<Registry>,
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut live = self.registry.lock();
        if let Some((_, client)) = live.connections.remove(&self.id)
            && let Some(count) = live.per_client.get_mut(&client)
        {
            *count -= 1;
            if *count == 0 {
                live.per_client.remove(&client);
            }
        }
    }
}

impl Registry {
    pub(crate) fn new(cap: usize) -> Arc<Registry> {
        Arc::new(Registry {
            cap: cap.max(1),
            live: Mutex::new(Live::default()),
            turned_away: Arc::new(Semaphore::new(cap.max(1))),
        })
    }

    /// A connection's state is plain bookkeeping; a panic elsewhere cannot leave it
    /// half-updated, so a poisoned lock is used as it is.
    fn lock(&self) -> std::sync::MutexGuard<'_, Live> {
        crate::sync::lock(&self.live)
    }

    /// Admits a newly accepted connection, shedding the oldest idle one at the cap.
    pub(crate) fn admit(self: &Arc<Self>, client: IpAddr) -> Admission {
        let mut live = self.lock();
        let open = live.connections.values().filter(|(c, _)| !c.is_shed()).count();
        if open >= self.cap {
            // Connections asked to close may take a moment to go; never more than a
            // second cap's worth of them, so memory stays bounded.
            let room = live.connections.len() < self.cap * 2 && live.victim().is_some_and(|c| c.shed());
            if !room {
                drop(live);
                return match self.turned_away.clone().try_acquire_owned() {
                    Ok(permit) => Admission::Busy(permit),
                    Err(_) => Admission::Drop,
                };
            }
            tracing::debug!("connection limit reached: closing the oldest idle connection");
        }
        let id = live.next_id;
        live.next_id += 1;
        let activity = Activity::new();
        live.connections.insert(id, (activity.clone(), client));
        *live.per_client.entry(client).or_default() += 1;
        Admission::Serve(Place { id, activity, registry: self.clone() })
    }

    /// Open connections, including those asked to close that have not gone yet.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.lock().connections.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEIGHBOUR: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));

    fn served(admission: Admission) -> Place {
        match admission {
            Admission::Serve(place) => place,
            _ => panic!("expected the connection to be served"),
        }
    }

    #[tokio::test]
    async fn at_the_cap_the_oldest_idle_connection_makes_room() {
        let registry = Registry::new(2);
        let first = served(registry.admit(NEIGHBOUR));
        let second = served(registry.admit(NEIGHBOUR));
        let _third = served(registry.admit(NEIGHBOUR));
        assert!(first.activity.is_shed(), "the oldest idle one is asked to close");
        assert!(!second.activity.is_shed());
        drop(first);
        assert_eq!(registry.len(), 2);
    }

    #[tokio::test]
    async fn connections_with_a_request_in_progress_are_kept() {
        let registry = Registry::new(2);
        let first = served(registry.admit(NEIGHBOUR));
        let _busy_first = first.activity.request_started();
        let second = served(registry.admit(NEIGHBOUR));
        let _third = served(registry.admit(NEIGHBOUR));
        assert!(!first.activity.is_shed(), "busy");
        assert!(second.activity.is_shed(), "the oldest idle one");
    }

    #[tokio::test]
    async fn when_every_connection_is_busy_newcomers_get_a_503_then_are_dropped() {
        let registry = Registry::new(1);
        let only = served(registry.admit(NEIGHBOUR));
        let _request = only.activity.request_started();
        let busy = registry.admit(NEIGHBOUR);
        assert!(matches!(busy, Admission::Busy(_)));
        assert!(matches!(registry.admit(NEIGHBOUR), Admission::Drop), "one 503 at a time with a cap of 1");
        drop(busy);
        assert!(matches!(registry.admit(NEIGHBOUR), Admission::Busy(_)));
    }

    #[tokio::test]
    async fn connections_found_waiting_for_their_client_go_before_newer_unread_ones() {
        let registry = Registry::new(2);
        let unread = served(registry.admit(NEIGHBOUR));
        let waiting = served(registry.admit(NEIGHBOUR));
        waiting.activity.waited.store(true, std::sync::atomic::Ordering::Release);
        let _third = served(registry.admit(NEIGHBOUR));
        assert!(waiting.activity.is_shed(), "found waiting: a holder, not an unread request");
        assert!(!unread.activity.is_shed());
    }

    #[tokio::test]
    async fn the_address_holding_the_most_connections_gives_way_first() {
        let registry = Registry::new(3);
        let prometheus = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));
        let scraper = served(registry.admit(prometheus));
        let first = served(registry.admit(NEIGHBOUR));
        let _second = served(registry.admit(NEIGHBOUR));
        let _newcomer = served(registry.admit(prometheus));
        assert!(!scraper.activity.is_shed(), "the oldest, but from an address with one connection");
        assert!(first.activity.is_shed());
        drop(first);
        assert_eq!(registry.lock().per_client.get(&NEIGHBOUR), Some(&1));
    }
}
