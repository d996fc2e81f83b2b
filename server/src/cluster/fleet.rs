//! Every cluster Slipway manages, each with its own connection and watch cache.
//!
//! The configured cluster (Slipway's own configuration) is started once and
//! always kept; registered clusters come from the registry in PostgreSQL and
//! are started, replaced (their connection changed) and stopped by
//! [`Fleet::sync`], which the domain layer calls whenever the registry may have
//! changed — on this replica right after a change, on the others within a few
//! seconds. No restart is needed, and one cluster's connection never waits on
//! another's: each has its own background task and cache.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use super::connection::{ClusterState, Handle, KubeSource};
use super::status::StatusCache;

/// One managed cluster: its name, connection and watch cache.
#[derive(Clone)]
pub struct Member {
    /// The name environments target.
    pub name: String,
    /// The connection.
    pub handle: Handle,
    /// The watch cache behind status pages.
    pub status: StatusCache,
    /// Whether it is the configured cluster.
    pub configured: bool,
    /// What it was started from, to tell a changed registration from an
    /// unchanged one (the sealed credentials: a fresh seal differs).
    fingerprint: Vec<u8>,
}

impl std::fmt::Debug for Member {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Member")
            .field("name", &self.name)
            .field("state", &self.handle.state())
            .finish_non_exhaustive()
    }
}

impl Member {
    fn start(name: &str, source: KubeSource, configured: bool, fingerprint: Vec<u8>) -> Self {
        let handle = Handle::start(source);
        Member {
            name: name.to_owned(),
            status: StatusCache::start(handle.clone()),
            handle,
            configured,
            fingerprint,
        }
    }

    /// A cluster that is not (or no longer) registered: never connected, so
    /// whatever asks for it gets a reason naming it instead of another cluster.
    fn missing(name: &str) -> Self {
        let handle = Handle::unavailable(ClusterState::Unreachable(format!(
            "no cluster named `{name}` is registered"
        )));
        Member {
            name: name.to_owned(),
            status: StatusCache::default(),
            handle,
            configured: false,
            fingerprint: Vec::new(),
        }
    }

    fn stop(&self) {
        self.status.stop();
    }
}

/// A registered cluster as the registry describes it.
pub struct Registration {
    /// Its name.
    pub name: String,
    /// How to reach it.
    pub source: KubeSource,
    /// Changes whenever the registration's connection changes.
    pub fingerprint: Vec<u8>,
}

/// What one [`Fleet::sync`] changed, for the log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Changes {
    /// Clusters started.
    pub started: Vec<String>,
    /// Clusters whose connection was replaced.
    pub replaced: Vec<String>,
    /// Clusters stopped.
    pub stopped: Vec<String>,
}

impl Changes {
    /// Nothing changed.
    pub fn is_empty(&self) -> bool {
        self.started.is_empty() && self.replaced.is_empty() && self.stopped.is_empty()
    }
}

/// The managed clusters; cheap to clone, shared by every request and task.
#[derive(Clone)]
pub struct Fleet {
    members: Arc<RwLock<BTreeMap<String, Member>>>,
    configured: Arc<RwLock<String>>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.members()).finish()
    }
}

impl Fleet {
    /// A fleet of the configured cluster alone, named `name`.
    pub fn configured(name: &str, source: KubeSource) -> Self {
        Self::of_handle(name, Handle::start(source))
    }

    /// A fleet of one already started connection under the configured
    /// cluster's default name (`config::DEFAULT_CLUSTER_NAME`), which a fresh
    /// database's environments target.
    pub fn single(handle: Handle) -> Self {
        Self::of_handle(crate::config::DEFAULT_CLUSTER_NAME, handle)
    }

    /// A fleet whose configured cluster is an already started connection.
    pub fn of_handle(name: &str, handle: Handle) -> Self {
        let member = Member {
            name: name.to_owned(),
            status: StatusCache::start(handle.clone()),
            handle,
            configured: true,
            fingerprint: Vec::new(),
        };
        Fleet {
            members: Arc::new(RwLock::new(BTreeMap::from([(name.to_owned(), member)]))),
            configured: Arc::new(RwLock::new(name.to_owned())),
        }
    }

    /// The cluster named `name`; one that is not registered is a member that
    /// never connects and says so.
    pub fn member(&self, name: &str) -> Member {
        self.read()
            .get(name)
            .cloned()
            .unwrap_or_else(|| Member::missing(name))
    }

    /// The configured cluster.
    pub fn configured_member(&self) -> Member {
        let name = self.configured_name();
        self.member(&name)
    }

    /// The configured cluster's name.
    pub fn configured_name(&self) -> String {
        self.configured
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Every cluster, by name.
    pub fn members(&self) -> Vec<Member> {
        self.read().values().cloned().collect()
    }

    /// Makes the registered clusters exactly `registrations` (the configured
    /// one is kept whatever they say): starts new ones, replaces those whose
    /// connection changed and stops those no longer registered.
    pub fn sync(&self, registrations: Vec<Registration>) -> Changes {
        let configured = self.configured_name();
        let mut changes = Changes::default();
        let mut retired = Vec::new();
        {
            let mut members = self.members.write().unwrap_or_else(|e| e.into_inner());
            let wanted: BTreeMap<String, Registration> = registrations
                .into_iter()
                .filter(|r| r.name != configured)
                .map(|r| (r.name.clone(), r))
                .collect();
            members.retain(|name, member| {
                let keep = member.configured || wanted.contains_key(name);
                if !keep {
                    changes.stopped.push(name.clone());
                    retired.push(member.clone());
                }
                keep
            });
            for (name, registration) in wanted {
                match members.get(&name) {
                    Some(current) if current.fingerprint == registration.fingerprint => {}
                    current => {
                        if let Some(old) = current {
                            retired.push(old.clone());
                            changes.replaced.push(name.clone());
                        } else {
                            changes.started.push(name.clone());
                        }
                        let member = Member::start(
                            &name,
                            registration.source,
                            false,
                            registration.fingerprint,
                        );
                        members.insert(name, member);
                    }
                }
            }
        }
        for member in retired {
            member.stop();
        }
        changes
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Member>> {
        self.members.read().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn registration(name: &str, fingerprint: &[u8]) -> Registration {
        Registration {
            name: name.into(),
            source: KubeSource::Disabled,
            fingerprint: fingerprint.to_vec(),
        }
    }

    #[tokio::test]
    async fn sync_starts_replaces_and_stops_registered_clusters_and_keeps_the_configured_one() {
        let fleet = Fleet::configured("local", KubeSource::Disabled);
        let changes = fleet.sync(vec![registration("eu-1", b"a"), registration("us-1", b"a")]);
        assert_eq!(changes.started, ["eu-1", "us-1"]);
        let eu = fleet.member("eu-1");
        assert!(!eu.configured);

        let changes = fleet.sync(vec![
            registration("eu-1", b"b"),
            registration("local", b"x"),
        ]);
        assert_eq!(changes.replaced, ["eu-1"], "its connection changed");
        assert_eq!(changes.stopped, ["us-1"]);
        assert!(
            changes.started.is_empty(),
            "the configured name is not taken over"
        );
        let names: Vec<_> = fleet.members().into_iter().map(|m| m.name).collect();
        assert_eq!(names, ["eu-1", "local"]);
        assert!(fleet.member("local").configured);

        assert!(fleet.sync(vec![registration("eu-1", b"b")]).is_empty());
    }

    #[tokio::test]
    async fn a_replaced_or_removed_cluster_has_its_watch_tasks_ended() {
        let fleet = Fleet::configured("local", KubeSource::Disabled);
        // A kubeconfig that never appears: the cache's task waits for it.
        fleet.sync(vec![Registration {
            name: "eu-1".into(),
            source: KubeSource::File("/nonexistent/slipway-test/kubeconfig".into()),
            fingerprint: b"a".to_vec(),
        }]);
        let old = fleet.member("eu-1");
        tokio::task::yield_now().await;
        assert!(!old.status.stopped());
        fleet.sync(vec![]);
        for _ in 0..100 {
            if old.status.stopped() {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(old.status.stopped(), "the removed cluster's tasks ended");
    }

    #[test]
    fn an_unregistered_cluster_is_named_in_its_reason() {
        let member = Member::missing("eu-9");
        assert!(member.handle.client().is_none());
        assert!(member.handle.state().describe().contains("`eu-9`"));
    }
}
