//! A pod's log from the API server (`pods/log`): the last lines, the previous
//! container's, or a bounded follow stream. What comes back is the
//! application's own output; Slipway adds nothing and keeps nothing.

use futures::{AsyncBufReadExt, Stream, StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::Client;
use kube::api::{Api, LogParams};

/// At most this much text per tail, whatever the line count.
pub const TAIL_BYTES: i64 = 256 * 1024;

/// Which log.
#[derive(Debug, Clone)]
pub struct LogTarget {
    /// Namespace of the pod.
    pub namespace: String,
    /// Pod name.
    pub pod: String,
    /// Container name.
    pub container: String,
}

/// The last `lines` lines (bounded by [`TAIL_BYTES`]) of the current or the
/// previous container; the API server's message when it refuses (e.g. no
/// previous container).
pub async fn tail(
    client: &Client,
    target: &LogTarget,
    lines: i64,
    previous: bool,
) -> Result<String, String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &target.namespace);
    let params = LogParams {
        container: Some(target.container.clone()),
        previous,
        tail_lines: Some(lines),
        limit_bytes: Some(TAIL_BYTES),
        ..LogParams::default()
    };
    pods.logs(&target.pod, &params).await.map_err(|e| match e {
        kube::Error::Api(s) => s.message,
        other => other.to_string(),
    })
}

/// Follows the container's log from its last `lines` lines on, line by line
/// (each ends with a newline), until the container stops or the caller drops
/// the stream; the caller bounds time and size.
pub async fn follow(
    client: &Client,
    target: &LogTarget,
    lines: i64,
) -> Result<impl Stream<Item = Result<String, std::io::Error>> + Send + use<>, String> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), &target.namespace);
    let params = LogParams {
        container: Some(target.container.clone()),
        follow: true,
        tail_lines: Some(lines),
        ..LogParams::default()
    };
    let reader = pods
        .log_stream(&target.pod, &params)
        .await
        .map_err(|e| match e {
            kube::Error::Api(s) => s.message,
            other => other.to_string(),
        })?;
    Ok(reader
        .lines()
        .map_ok(|line| line + "\n")
        .into_stream()
        .boxed())
}
