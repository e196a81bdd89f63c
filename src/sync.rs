//! One policy for poisoned locks, everywhere: carry on with the data.
//!
//! A lock is poisoned when a thread panicked while holding it. Every value this crate
//! guards is replaced whole under its lock (a snapshot, a deadline, a client, a map
//! entry) or is a cache whose worst case is a recomputation, so what a panicking
//! holder leaves behind is still a value the next reader can use. Recovering keeps
//! one bug from turning every later scrape into a panic as well.

use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

pub(crate) fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_still_gives_its_data() {
        let mutex = Mutex::new(7);
        let _ = std::panic::catch_unwind(|| {
            let _guard = mutex.lock().unwrap();
            panic!("poison it");
        });
        assert!(mutex.is_poisoned());
        assert_eq!(*lock(&mutex), 7);
        let rw = RwLock::new(1);
        let _ = std::panic::catch_unwind(|| {
            let _guard = rw.write().unwrap();
            panic!("poison it");
        });
        *write(&rw) += 1;
        assert_eq!(*read(&rw), 2);
    }
}
