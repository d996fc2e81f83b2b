//! Reads shared for a moment between every request that asks the same thing.
//!
//! A portal that hundreds of people keep open asks the same questions many
//! times a second: the same catalog page, the same service's overview, the
//! same status fragment polled by every open tab. A [`Shared`] keeps each
//! answer for a short while (a second in the server) under a key that holds
//! everything the answer depends on, and [`Shared::invalidate`] (called after
//! every write through this server, `web::layout::SharedReads`) makes the next
//! request read afresh, so whoever changed something sees it at once. Writes
//! elsewhere (another replica, the deploy worker) show within the moment.
//!
//! Nothing here decides who may see what: callers check access before they
//! ask, and put into the key whatever makes two viewers' answers differ.

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// How long the server shares an answer.
pub const FRESH_FOR: Duration = Duration::from_secs(1);

/// An answer as read: when, in which generation, and the answer.
type Entry<V> = (Instant, u64, Arc<V>);

/// Answers of type `V` by key `K`.
#[derive(Debug)]
pub struct Shared<K, V> {
    fresh_for: Duration,
    /// How many answers are kept at most; past it, the stale ones go, and if
    /// none was, all of them (a burst of distinct keys cannot grow it).
    max: usize,
    entries: Mutex<HashMap<K, Entry<V>>>,
    /// Moved on by `invalidate`; an answer read in an older one is not reused.
    generation: AtomicU64,
}

impl<K: Eq + Hash, V> Shared<K, V> {
    /// Answers reused for `fresh_for`, at most `max` of them.
    pub fn new(fresh_for: Duration, max: usize) -> Self {
        Shared {
            fresh_for,
            max,
            entries: Mutex::default(),
            generation: AtomicU64::default(),
        }
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<K, Entry<V>>> {
        // A panic while holding the lock cannot leave a half-written entry.
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Drops every answer: the next request of each reads afresh.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// The answer for `key`: one read less than `fresh_for` ago in the current
    /// generation, or what `read` answers now (kept if it is `Ok`).
    pub async fn get_or_read<E, F, Fut>(&self, key: K, read: F) -> Result<Arc<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        // Taken before the read: a write during it leaves this answer stale,
        // so it is kept under the old generation and never reused.
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some((read_at, read_in, answer)) = self.entries().get(&key)
            && *read_in == generation
            && read_at.elapsed() < self.fresh_for
        {
            return Ok(answer.clone());
        }
        let answer = Arc::new(read().await?);
        let mut entries = self.entries();
        if entries.len() >= self.max {
            let current = self.generation.load(Ordering::SeqCst);
            entries.retain(|_, (read_at, read_in, _)| {
                *read_in == current && read_at.elapsed() < self.fresh_for
            });
            if entries.len() >= self.max {
                entries.clear();
            }
        }
        entries.insert(key, (Instant::now(), generation, answer.clone()));
        Ok(answer)
    }

    /// How many answers are held (for tests).
    pub fn len(&self) -> usize {
        self.entries().len()
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn count(shared: &Shared<u8, u32>, key: u8, reads: &AtomicU64) -> u32 {
        *shared
            .get_or_read(key, || async {
                Ok::<_, ()>(reads.fetch_add(1, Ordering::SeqCst) as u32)
            })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn an_answer_is_read_once_per_key_until_invalidated() {
        let shared = Shared::new(Duration::from_secs(3600), 8);
        let reads = AtomicU64::default();
        assert_eq!(count(&shared, 1, &reads).await, 0);
        assert_eq!(count(&shared, 1, &reads).await, 0, "reused");
        assert_eq!(count(&shared, 2, &reads).await, 1, "another key reads");
        shared.invalidate();
        assert_eq!(count(&shared, 1, &reads).await, 2, "read afresh");
    }

    #[tokio::test]
    async fn errors_are_not_kept_and_the_size_is_bounded() {
        let shared: Shared<u8, u32> = Shared::new(Duration::from_secs(3600), 4);
        let failed = shared
            .get_or_read(1, || async { Err::<u32, _>("no") })
            .await;
        assert!(failed.is_err());
        assert!(shared.is_empty());
        let reads = AtomicU64::default();
        for key in 0..20 {
            count(&shared, key, &reads).await;
            assert!(shared.len() <= 4);
        }
    }

    #[tokio::test]
    async fn nothing_is_reused_with_no_reuse_time() {
        let shared = Shared::new(Duration::ZERO, 8);
        let reads = AtomicU64::default();
        count(&shared, 1, &reads).await;
        assert_eq!(count(&shared, 1, &reads).await, 1);
    }
}
