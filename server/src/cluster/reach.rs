//! What the local demo asks the cluster about: whether a node is Ready, and
//! the address a Service answers at (its cluster IP, which the local cluster's
//! kube-proxy routes from the host too).

use k8s_openapi::api::core::v1::{Node, Service};
use kube::Client;
use kube::api::Api;

use super::retry::{ClusterError, one_line};

/// Whether node `name` exists and reports `Ready=True`.
pub async fn node_is_ready(client: &Client, name: &str) -> Result<bool, ClusterError> {
    let node = Api::<Node>::all(client.clone())
        .get_opt(name)
        .await
        .map_err(|e| ClusterError::Refused {
            object: format!("Node/{name}"),
            message: one_line(&e),
        })?;
    Ok(node
        .and_then(|n| n.status)
        .and_then(|s| s.conditions)
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True")))
}

/// `http://<cluster IP>:<first port>` of Service `name` in `namespace`, when
/// it has a cluster IP.
pub async fn service_url(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Option<String>, ClusterError> {
    let service = Api::<Service>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .map_err(|e| ClusterError::Refused {
            object: format!("Service/{name}"),
            message: one_line(&e),
        })?;
    let Some(spec) = service.and_then(|s| s.spec) else {
        return Ok(None);
    };
    let ip = spec.cluster_ip.filter(|ip| !ip.is_empty() && ip != "None");
    let port = spec.ports.and_then(|p| p.first().map(|p| p.port));
    Ok(ip.zip(port).map(|(ip, port)| {
        if port == 80 {
            format!("http://{ip}")
        } else {
            format!("http://{ip}:{port}")
        }
    }))
}
