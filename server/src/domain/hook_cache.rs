//! Hooks that recently proved themselves, kept in memory for a few seconds so
//! that a burst of pushes to one hook costs one statement each (the delivery's
//! insert) instead of two (its lookup first).
//!
//! What is kept, and why that is safe:
//! - Only a hook a correctly signed delivery just authenticated is kept: an
//!   unknown id, or a known one with a wrong signature, is never added, so
//!   forged traffic can neither fill the cache nor change what the endpoint
//!   does for it (an unknown id is always looked up, then refused; see
//!   `hooks::authenticate`).
//! - The hook is kept as stored: its secrets sealed, opened per delivery.
//! - A deleted hook found here still fails: the delivery's insert refers to
//!   the hook's row and is refused once that is gone (`UnknownHook`).
//! - A rotation: the new secret fails against a kept hook, which then is read
//!   again before the delivery is refused. The secret before a rotation stays
//!   valid for a day (`hooks::ROTATION_GRACE`), far longer than [`TTL`]; a
//!   rotation through this replica also forgets the hook here at once. Only a
//!   second rotation through *another* replica within [`TTL`] of the first
//!   leaves the oldest secret accepted here for at most [`TTL`] longer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use uuid::Uuid;

use crate::store::hooks::Hook;

/// How long a kept hook is trusted before it is read again (`serve`'s; the
/// cache's own is [`HookCache::new`]'s).
pub const TTL: Duration = Duration::from_secs(5);

/// At most this many hooks are kept; past it, expired ones are dropped and, if
/// none has expired, a newly authenticated hook is simply not kept.
pub const MAX_ENTRIES: usize = 10_000;

/// See the module documentation.
#[derive(Debug)]
pub struct HookCache {
    ttl: Duration,
    entries: Mutex<HashMap<Uuid, Kept>>,
}

impl Default for HookCache {
    fn default() -> Self {
        Self::new(TTL)
    }
}

#[derive(Debug)]
struct Kept {
    at: Instant,
    hook: Arc<Hook>,
}

impl HookCache {
    /// A cache that trusts a kept hook for `ttl`.
    pub fn new(ttl: Duration) -> Self {
        HookCache {
            ttl,
            entries: Mutex::default(),
        }
    }

    /// Hook `id` if it was kept within the TTL before `now`.
    pub fn get(&self, id: Uuid, now: Instant) -> Option<Arc<Hook>> {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(&id)
            .filter(|kept| now.saturating_duration_since(kept.at) < self.ttl)
            .map(|kept| kept.hook.clone())
    }

    /// Keeps `hook`, which a correctly signed delivery has just authenticated.
    pub fn keep(&self, hook: Arc<Hook>, now: Instant) {
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&hook.id) {
            let ttl = self.ttl;
            entries.retain(|_, kept| now.saturating_duration_since(kept.at) < ttl);
            if entries.len() >= MAX_ENTRIES {
                return;
            }
        }
        entries.insert(hook.id, Kept { at: now, hook });
    }

    /// Forgets hook `id` (its secret was rotated, or it was deleted).
    pub fn forget(&self, id: Uuid) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&id);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::OffsetDateTime;

    fn hook(id: Uuid) -> Arc<Hook> {
        Arc::new(Hook {
            id,
            service_id: 1,
            service: "api".into(),
            team: "shop".into(),
            environment_id: 1,
            environment: "staging".into(),
            ref_pattern: "refs/heads/main".into(),
            image_template: "registry.example.com/shop/api:{sha}".into(),
            paths: Vec::new(),
            secret_sealed: vec![1, 2, 3],
            previous_sealed: None,
            previous_valid_until: None,
            created_by: "test".into(),
            created_at: OffsetDateTime::UNIX_EPOCH,
        })
    }

    #[test]
    fn a_kept_hook_is_trusted_for_the_ttl_then_read_again() {
        let cache = HookCache::default();
        let id = Uuid::new_v4();
        let now = Instant::now();
        assert!(cache.get(id, now).is_none(), "never kept");
        cache.keep(hook(id), now);
        assert_eq!(cache.get(id, now + TTL / 2).map(|h| h.id), Some(id));
        assert!(cache.get(id, now + TTL).is_none(), "expired");
        cache.keep(hook(id), now);
        cache.forget(id);
        assert!(cache.get(id, now).is_none(), "forgotten");
    }

    #[test]
    fn a_full_cache_drops_expired_hooks_and_otherwise_keeps_no_more() {
        let cache = HookCache::default();
        let now = Instant::now();
        for _ in 0..MAX_ENTRIES {
            cache.keep(hook(Uuid::new_v4()), now);
        }
        let late = Uuid::new_v4();
        cache.keep(hook(late), now + TTL / 2);
        assert!(cache.get(late, now + TTL / 2).is_none(), "full: not kept");
        assert_eq!(cache.len(), MAX_ENTRIES);

        cache.keep(hook(late), now + TTL);
        assert_eq!(cache.get(late, now + TTL).map(|h| h.id), Some(late));
        assert_eq!(cache.len(), 1, "the expired ones were dropped");
    }
}
