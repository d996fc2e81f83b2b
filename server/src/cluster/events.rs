//! A deploy's Kubernetes events: what the controllers, the scheduler and the
//! kubelet said about the objects it applied and the ReplicaSets, pods and
//! Jobs those made, read once the rollout has ended so that the deploy's
//! record keeps them after Kubernetes has dropped them (an hour, by default).

use std::collections::HashSet;

use k8s_openapi::api::core::v1::Event;
use kube::Client;
use kube::api::{Api, ListParams};
use tracing::instrument;

use super::apply::{Manifest, Target};
use super::retry::{ClusterError, RetryPolicy, one_line, with_retry};

/// Events kept per deploy at most (the newest), so that a crash loop's
/// chatter cannot grow a record without bound.
pub const MAX_EVENTS: usize = 200;

/// Longest message kept of one event.
const MAX_MESSAGE: usize = 1000;

/// One event, as the ledger keeps it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClusterEvent {
    /// The event's uid: the same event seen twice is one row.
    pub uid: String,
    /// `Normal` or `Warning`.
    pub kind: String,
    /// `BackOff`, `FailedScheduling`, `ScalingReplicaSet`, …
    pub reason: String,
    /// The involved object's kind.
    pub object_kind: String,
    /// The involved object's name.
    pub object_name: String,
    /// What it says, trimmed.
    pub message: String,
    /// How often it happened.
    pub count: i32,
    /// First and last time (Unix seconds).
    pub first_seen: i64,
    /// Last time (Unix seconds).
    pub last_seen: i64,
}

/// The events in the deploy's namespace about its objects that happened at
/// `since` (Unix seconds) or later, oldest first, at most [`MAX_EVENTS`].
#[instrument(skip_all, fields(deploy.id = target.deploy_id))]
pub async fn of_deploy(
    client: &Client,
    target: &Target,
    manifests: &[Manifest],
    since: i64,
    retry: RetryPolicy,
) -> Result<Vec<ClusterEvent>, ClusterError> {
    let api: Api<Event> = Api::namespaced(client.clone(), &target.namespace);
    let params = ListParams::default();
    let list = with_retry(
        retry,
        "listing events",
        || api.list(&params),
        |e| ClusterError::Refused {
            object: format!("events in {}", target.namespace),
            message: one_line(&e),
        },
    )
    .await?;
    let objects: Vec<(&str, &str)> = manifests
        .iter()
        .map(|m| (m.resource.kind.as_str(), m.name.as_str()))
        .collect();
    Ok(select(list.items.iter().filter_map(read), &objects, since))
}

/// Pure: of `events`, those about `objects` (kind, name) or what their
/// controllers made, at `since` or later, oldest first, the newest
/// [`MAX_EVENTS`].
pub fn select(
    events: impl Iterator<Item = ClusterEvent>,
    objects: &[(&str, &str)],
    since: i64,
) -> Vec<ClusterEvent> {
    let mut seen = HashSet::new();
    let mut out: Vec<ClusterEvent> = events
        .filter(|e| e.last_seen >= since)
        .filter(|e| belongs(&e.object_kind, &e.object_name, objects))
        .filter(|e| seen.insert(e.uid.clone()))
        .collect();
    out.sort_by(|a, b| (a.last_seen, &a.uid).cmp(&(b.last_seen, &b.uid)));
    let skip = out.len().saturating_sub(MAX_EVENTS);
    out.drain(..skip);
    out
}

/// Whether an event's object is one of `objects` or was made from one: a
/// Deployment's ReplicaSets (`web-7d9f8b6c5`) and their pods
/// (`web-7d9f8b6c5-x2x9z`), a StatefulSet's pods (`web-0`), a CronJob's Jobs
/// (`report-29406120`) and their pods. Generated suffixes are matched by their
/// alphabet, so `web-worker`'s objects never count as `web`'s.
pub fn belongs(kind: &str, name: &str, objects: &[(&str, &str)]) -> bool {
    objects.iter().any(|(owner_kind, owner)| {
        if *owner_kind == kind && *owner == name {
            return true;
        }
        let Some(rest) = name.strip_prefix(owner).and_then(|r| r.strip_prefix('-')) else {
            return false;
        };
        let parts: Vec<&str> = rest.split('-').collect();
        match (*owner_kind, kind, parts.as_slice()) {
            ("Deployment", "ReplicaSet", [hash]) => is_hash(hash),
            ("Deployment", "Pod", [hash, pod]) => is_hash(hash) && is_pod_suffix(pod),
            ("StatefulSet", "Pod", [ordinal]) => is_digits(ordinal),
            ("CronJob", "Job", [stamp]) => is_digits(stamp),
            ("CronJob", "Pod", [stamp, pod]) => is_digits(stamp) && is_pod_suffix(pod),
            _ => false,
        }
    })
}

/// The alphabet Kubernetes uses for generated names (no vowels, no 0, 1, 3).
fn is_safe_alphabet(s: &str) -> bool {
    s.bytes()
        .all(|b| b"bcdfghjklmnpqrstvwxz2456789".contains(&b))
}

fn is_hash(s: &str) -> bool {
    (6..=10).contains(&s.len()) && is_safe_alphabet(s)
}

fn is_pod_suffix(s: &str) -> bool {
    s.len() == 5 && is_safe_alphabet(s)
}

fn is_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// An API event as the ledger keeps it; `None` without a uid or a time.
fn read(e: &Event) -> Option<ClusterEvent> {
    let uid = e.metadata.uid.clone()?;
    let last = e
        .last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or_else(|| e.event_time.as_ref().map(|t| t.0))
        .or_else(|| e.metadata.creation_timestamp.as_ref().map(|t| t.0))?;
    let first = e.first_timestamp.as_ref().map_or(last, |t| t.0);
    let mut message = e.message.as_deref().unwrap_or_default().trim().to_owned();
    if message.len() > MAX_MESSAGE {
        let mut cut = MAX_MESSAGE;
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    Some(ClusterEvent {
        uid,
        // The API knows two types; anything else is kept as the ordinary one.
        kind: if e.type_.as_deref() == Some("Warning") {
            "Warning"
        } else {
            "Normal"
        }
        .to_owned(),
        reason: e
            .reason
            .as_deref()
            .unwrap_or_default()
            .chars()
            .take(256)
            .collect(),
        object_kind: e.involved_object.kind.clone().unwrap_or_default(),
        object_name: e.involved_object.name.clone().unwrap_or_default(),
        message,
        count: e.count.unwrap_or(1).max(1),
        first_seen: first.as_second(),
        last_seen: last.as_second(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(uid: &str, kind: &str, name: &str, at: i64) -> ClusterEvent {
        ClusterEvent {
            uid: uid.into(),
            kind: "Warning".into(),
            reason: "BackOff".into(),
            object_kind: kind.into(),
            object_name: name.into(),
            message: "Back-off restarting failed container".into(),
            count: 1,
            first_seen: at,
            last_seen: at,
        }
    }

    const WEB: [(&str, &str); 3] = [
        ("Deployment", "web"),
        ("HorizontalPodAutoscaler", "web"),
        ("StatefulSet", "cache"),
    ];

    #[test]
    fn the_objects_and_what_their_controllers_made_belong() {
        assert!(belongs("Deployment", "web", &WEB));
        assert!(belongs("HorizontalPodAutoscaler", "web", &WEB));
        assert!(belongs("ReplicaSet", "web-7d9f8b6c5", &WEB));
        assert!(belongs("Pod", "web-7d9f8b6c5-x2x9z", &WEB));
        assert!(belongs("Pod", "cache-0", &WEB));
        assert!(belongs("Job", "report-29406120", &[("CronJob", "report")]));
        assert!(belongs(
            "Pod",
            "report-29406120-bq4z7",
            &[("CronJob", "report")]
        ));
    }

    #[test]
    fn a_neighbour_with_a_longer_name_does_not_belong() {
        // web-worker is another service in the same namespace.
        assert!(!belongs("Deployment", "web-worker", &WEB));
        assert!(!belongs("ReplicaSet", "web-worker", &WEB));
        assert!(!belongs("Pod", "web-worker-7d9f8b6c5-x2x9z", &WEB));
        assert!(!belongs("ReplicaSet", "web-worker-7d9f8b6c5", &WEB));
        assert!(!belongs("Pod", "cache-warm", &WEB));
        assert!(!belongs("Service", "web", &WEB));
        assert!(!belongs("Pod", "web-7d9f8b6c5-x2x9", &WEB));
    }

    #[test]
    fn select_keeps_the_deploys_recent_events_once_oldest_first_and_bounded() {
        let events = vec![
            event("b", "Pod", "web-7d9f8b6c5-x2x9z", 200),
            event("a", "Deployment", "web", 150),
            event("old", "Pod", "web-7d9f8b6c5-x2x9z", 50),
            event("other", "Pod", "web-worker-7d9f8b6c5-x2x9z", 200),
            event("b", "Pod", "web-7d9f8b6c5-x2x9z", 200),
        ];
        let kept = select(events.into_iter(), &WEB, 100);
        let uids: Vec<&str> = kept.iter().map(|e| e.uid.as_str()).collect();
        assert_eq!(uids, ["a", "b"]);

        let many =
            (0..MAX_EVENTS as i64 + 20).map(|i| event(&i.to_string(), "Deployment", "web", i));
        let kept = select(many, &WEB, 0);
        assert_eq!(kept.len(), MAX_EVENTS);
        assert_eq!(kept[0].last_seen, 20, "the newest are kept");
    }
}
