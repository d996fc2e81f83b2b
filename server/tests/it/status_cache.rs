//! The status watch cache against the local control plane.

use std::time::{Duration, Instant};

use slipway::cluster::status::StatusCache;

use crate::harness::cluster_handle;

/// How long the cache must stay fresh with nothing happening: past the kube
/// client's 30 s read timeout, which cut every idle watch before.
const QUIET: Duration = Duration::from_secs(45);

/// Right after `make run` nothing changes in the cluster for minutes; the
/// status must not turn stale (and relist) every 30 s meanwhile. Each watch
/// request now ends on the server's side before the read timeout, and the
/// watcher carries on from where it was. Polled every 100 ms, so even a
/// short reconnect shows. (With other tests changing the cluster at the same
/// time the watches are rarely idle; run alone, this fails without the fix.)
#[tokio::test]
async fn a_quiet_watch_stays_fresh_past_the_read_timeout() {
    let cache = StatusCache::start(cluster_handle().await);
    let fresh = || !cache.service("nowhere", "nothing", "development").stale;
    let started = Instant::now();
    while !fresh() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the status cache never synced: {:?}",
            cache.sizes()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let quiet = Instant::now();
    while quiet.elapsed() < QUIET {
        assert!(fresh(), "stale after {:?} of quiet", quiet.elapsed());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
