//! The one poison-tolerant lock: a panic while holding a mutex must not take the emulator
//! down with it (the data the emulator's mutexes guard stays consistent between statements).

use std::sync::{Mutex, MutexGuard};

/// Lock `m`, recovering the guard if a holder panicked.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}
