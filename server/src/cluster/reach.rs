//! What the local demo asks the cluster about: whether a node is Ready, and
//! the address a Service answers at (its cluster IP, which the local cluster's
//! kube-proxy routes from the host too) and the host its Ingress routes.

use k8s_openapi::api::core::v1::{Node, Service};
use k8s_openapi::api::networking::v1::Ingress;
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

/// Where a Service answers from this machine: its cluster IP and first port,
/// whether that port speaks HTTP (by its name or appProtocol, as Kubernetes
/// conventions have it), and the host name its Ingress routes, which an app
/// that checks `Host` (Django's ALLOWED_HOSTS) expects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceAddress {
    pub ip: String,
    pub port: i32,
    pub http: bool,
    pub host: Option<String>,
}

impl ServiceAddress {
    /// `http://ip[:port]` for an HTTP port, `ip:port` otherwise.
    pub fn url(&self) -> String {
        match (self.http, self.port) {
            (true, 80) => format!("http://{}", self.ip),
            (true, port) => format!("http://{}:{port}", self.ip),
            (false, port) => format!("{}:{port}", self.ip),
        }
    }

    /// A `curl` that reaches the app the way its Ingress would, for HTTP ports.
    pub fn curl(&self) -> Option<String> {
        self.http.then(|| match &self.host {
            Some(host) => format!("curl -H 'Host: {host}' {}/", self.url()),
            None => format!("curl {}/", self.url()),
        })
    }
}

/// The address of Service `name` in `namespace` (see [`ServiceAddress`]), when
/// it has a cluster IP; the host is the first rule's of Ingress `name`, if any.
pub async fn service_address(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Option<ServiceAddress>, ClusterError> {
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
    let Some((ip, port)) = ip.zip(spec.ports.and_then(|p| p.into_iter().next())) else {
        return Ok(None);
    };
    // The host only refines the hint: an Ingress that cannot be read leaves
    // the address without one rather than losing the address.
    let host = Api::<Ingress>::namespaced(client.clone(), namespace)
        .get_opt(name)
        .await
        .ok()
        .flatten()
        .and_then(|i| i.spec)
        .and_then(|s| s.rules)
        .and_then(|rules| rules.into_iter().find_map(|r| r.host));
    Ok(Some(ServiceAddress {
        ip,
        http: speaks_http(port.name.as_deref(), port.app_protocol.as_deref()),
        port: port.port,
        host,
    }))
}

/// Kubernetes' convention: a port named `http…`/`https…` (or with that
/// appProtocol) speaks HTTP; `redis` or `grpc` do not.
fn speaks_http(name: Option<&str>, app_protocol: Option<&str>) -> bool {
    [name, app_protocol]
        .into_iter()
        .flatten()
        .any(|n| n.starts_with("http"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn address(port: i32, http: bool, host: Option<&str>) -> ServiceAddress {
        ServiceAddress {
            ip: "10.96.1.2".into(),
            port,
            http,
            host: host.map(Into::into),
        }
    }

    #[test]
    fn an_http_port_gets_a_curl_with_the_ingress_host() {
        assert_eq!(
            address(80, true, Some("shop.dev.example.com"))
                .curl()
                .as_deref(),
            Some("curl -H 'Host: shop.dev.example.com' http://10.96.1.2/")
        );
        assert_eq!(
            address(8080, true, None).curl().as_deref(),
            Some("curl http://10.96.1.2:8080/")
        );
    }

    #[test]
    fn a_port_that_is_not_http_gets_an_address_and_no_curl() {
        let redis = address(6379, false, None);
        assert_eq!(redis.url(), "10.96.1.2:6379");
        assert_eq!(redis.curl(), None);
        assert!(!speaks_http(Some("redis"), None));
        assert!(speaks_http(Some("http-metrics"), None));
        assert!(speaks_http(None, Some("https")));
        assert!(!speaks_http(None, None));
    }
}
