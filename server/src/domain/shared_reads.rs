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
    /// One per key being read: its reader holds it, others wait on it.
    gates: Mutex<HashMap<K, Arc<tokio::sync::Mutex<()>>>>,
    /// Moved on by `invalidate`; an answer read in an older one is not reused.
    generation: AtomicU64,
}

/// What [`Shared::lookup`] found.
enum Lookup<V> {
    /// Read less than `fresh_for` ago.
    Fresh(Arc<V>),
    /// Read less than twice `fresh_for` ago.
    Expired(Arc<V>),
    /// Nothing usable.
    Missing,
}

impl<K: Eq + Hash + Clone, V> Shared<K, V> {
    /// Answers reused for `fresh_for`, at most `max` of them.
    pub fn new(fresh_for: Duration, max: usize) -> Self {
        Shared {
            fresh_for,
            max,
            entries: Mutex::default(),
            gates: Mutex::default(),
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

    /// What is kept for `key` in `generation`.
    fn lookup(&self, key: &K, generation: u64) -> Lookup<V> {
        match self.entries().get(key) {
            Some((read_at, read_in, answer)) if *read_in == generation => {
                let age = read_at.elapsed();
                if age < self.fresh_for {
                    Lookup::Fresh(answer.clone())
                } else if age < self.fresh_for * 2 {
                    Lookup::Expired(answer.clone())
                } else {
                    Lookup::Missing
                }
            }
            _ => Lookup::Missing,
        }
    }

    /// The gate one reader of `key` holds while it reads.
    fn gate(&self, key: &K) -> Arc<tokio::sync::Mutex<()>> {
        let mut gates = self.gates.lock().unwrap_or_else(PoisonError::into_inner);
        if gates.len() >= self.max {
            // Only gates nobody holds or waits for.
            gates.retain(|_, gate| Arc::strong_count(gate) > 1);
        }
        gates.entry(key.clone()).or_default().clone()
    }

    /// The answer for `key`: one read less than `fresh_for` ago in the current
    /// generation, or what `read` answers now (kept if it is `Ok`).
    ///
    /// One request per key reads at a time: others asking for the same key
    /// meanwhile wait for its answer, or, when an answer of the current
    /// generation expired less than `fresh_for` ago, are given that one while
    /// it is being re-read (so the crowd polling a page never waits in line
    /// for it, and an answer is never more than twice `fresh_for` old). An
    /// answer of an older generation (a write happened since) is never given.
    pub async fn get_or_read<E, F, Fut>(&self, key: K, read: F) -> Result<Arc<V>, E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<V, E>>,
    {
        let expired = match self.lookup(&key, self.generation.load(Ordering::SeqCst)) {
            Lookup::Fresh(answer) => return Ok(answer),
            Lookup::Expired(answer) => Some(answer),
            Lookup::Missing => None,
        };
        let gate = self.gate(&key);
        let _reading = match (gate.try_lock(), expired) {
            (Ok(reading), _) => reading,
            // Someone is re-reading it: the answer of a moment ago meanwhile.
            (Err(_), Some(answer)) => return Ok(answer),
            (Err(_), None) => gate.lock().await,
        };
        // Taken before the read: a write during it leaves this answer stale,
        // so it is kept under the old generation and never reused.
        let generation = self.generation.load(Ordering::SeqCst);
        // The reader we waited for may have answered.
        if let Lookup::Fresh(answer) = self.lookup(&key, generation) {
            return Ok(answer);
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
    async fn one_request_reads_a_key_while_the_others_wait_or_get_the_answer_of_a_moment_ago() {
        let shared = Arc::new(Shared::<u8, u32>::new(Duration::from_millis(200), 8));
        let reads = Arc::new(AtomicU64::default());
        let (release, released) = tokio::sync::oneshot::channel::<()>();
        let (started, has_started) = tokio::sync::oneshot::channel::<()>();
        let slow = {
            let (shared, reads) = (shared.clone(), reads.clone());
            tokio::spawn(async move {
                *shared
                    .get_or_read(1, || async move {
                        reads.fetch_add(1, Ordering::SeqCst);
                        let _ = started.send(());
                        let _ = released.await;
                        Ok::<_, ()>(7)
                    })
                    .await
                    .unwrap()
            })
        };
        has_started.await.unwrap();
        // Nothing kept yet: a second request waits for the first one's answer.
        let waiting = {
            let (shared, reads) = (shared.clone(), reads.clone());
            tokio::spawn(async move { count(&shared, 1, &reads).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!waiting.is_finished(), "it did not wait for the reader");
        release.send(()).unwrap();
        assert_eq!(slow.await.unwrap(), 7);
        assert_eq!(
            waiting.await.unwrap(),
            7,
            "it read again instead of waiting"
        );
        assert_eq!(reads.load(Ordering::SeqCst), 1);

        // Expired and being re-read: the others get the answer of a moment ago.
        tokio::time::sleep(Duration::from_millis(250)).await;
        let gate = shared.gate(&1);
        let held = gate.lock().await;
        assert_eq!(count(&shared, 1, &reads).await, 7);
        assert_eq!(reads.load(Ordering::SeqCst), 1);
        drop(held);
        // Not re-read by anyone: the next request reads.
        assert_eq!(count(&shared, 1, &reads).await, 1);
        // After a write, an older answer is never given, even while re-read.
        shared.invalidate();
        let held = gate.lock().await;
        let after_write = {
            let (shared, reads) = (shared.clone(), reads.clone());
            tokio::spawn(async move { count(&shared, 1, &reads).await })
        };
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(
            !after_write.is_finished(),
            "an answer from before the write was given"
        );
        drop(held);
        assert_eq!(after_write.await.unwrap(), 2);
    }

    #[tokio::test]
    async fn nothing_is_reused_with_no_reuse_time() {
        let shared = Shared::new(Duration::ZERO, 8);
        let reads = AtomicU64::default();
        count(&shared, 1, &reads).await;
        assert_eq!(count(&shared, 1, &reads).await, 1);
    }
}
