//! Work done once per snapshot and shared by every request for it, and where that
//! work runs.

use std::sync::{Arc, Mutex};

/// Something derived from one snapshot (or observation, `K`) and kept for as long as
/// that snapshot is the latest seen: the `/metrics` bodies, the JSON slot entries.
/// Keyed by identity (`Arc` pointer), so a new snapshot replaces it.
pub(crate) struct PerSnapshot<K, T> {
    last: Mutex<Option<(Arc<K>, Arc<T>)>>,
}

impl<K, T> Default for PerSnapshot<K, T> {
    fn default() -> Self {
        PerSnapshot { last: Mutex::new(None) }
    }
}

impl<K, T: Default> PerSnapshot<K, T> {
    /// The value kept for `snapshot`, a fresh default one if `snapshot` is new. The
    /// lock is held only to compare and swap pointers, never while computing.
    pub(crate) fn get(&self, snapshot: &Arc<K>) -> Arc<T> {
        let mut last = crate::sync::lock(&self.last);
        match last.as_ref() {
            Some((seen, value)) if Arc::ptr_eq(seen, snapshot) => value.clone(),
            _ => {
                let value = Arc::new(T::default());
                *last = Some((snapshot.clone(), value.clone()));
                value
            }
        }
    }
}

/// Runs CPU-heavy work (a render, a compression) off the async worker threads, so
/// scrapes of already rendered bodies keep being answered meanwhile.
pub(crate) async fn run_blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    match tokio::task::spawn_blocking(work).await {
        Ok(value) => value,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        // Only happens while the runtime shuts down, when no answer is sent anyway.
        Err(e) => panic!("blocking task cancelled: {e}"),
    }
}
