//! Every request Slipway makes to the API server, counted by verb and
//! resource: for `/metrics` (`slipway_kube_requests_total{verb,resource}`)
//! and, per connection, so a test can prove that a page makes none.
//!
//! A tower layer on the kube client's HTTP stack: it sees each request
//! before it is sent (a retry is another request), never its body.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use axum::http::{Method, Request};

/// The counts of one connection, by (verb, resource).
#[derive(Debug, Default)]
pub struct RequestCounts(Mutex<BTreeMap<(&'static str, String), u64>>);

impl RequestCounts {
    fn add(&self, verb: &'static str, resource: &str) {
        let mut counts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *counts.entry((verb, resource.to_owned())).or_default() += 1;
    }

    /// A copy of the counts.
    pub fn snapshot(&self) -> BTreeMap<(&'static str, String), u64> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// The layer: counts into `counts` and the global recorder.
#[derive(Clone, Debug)]
pub struct CountRequests {
    counts: Arc<RequestCounts>,
}

impl CountRequests {
    /// A layer counting into `counts`.
    pub fn new(counts: Arc<RequestCounts>) -> Self {
        Self { counts }
    }
}

impl<S> tower::Layer<S> for CountRequests {
    type Service = Counted<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Counted {
            inner,
            counts: self.counts.clone(),
        }
    }
}

/// The counting service.
#[derive(Clone, Debug)]
pub struct Counted<S> {
    inner: S,
    counts: Arc<RequestCounts>,
}

impl<S, B> tower::Service<Request<B>> for Counted<S>
where
    S: tower::Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let uri = request.uri();
        let (verb, resource) = classify(request.method(), uri.path(), uri.query());
        self.counts.add(verb, &resource);
        metrics::counter!("slipway_kube_requests_total", "verb" => verb, "resource" => resource)
            .increment(1);
        self.inner.call(request)
    }
}

/// Pure: the Kubernetes verb and resource of a request, e.g. (`watch`,
/// `pods`), (`get`, `deployments`), (`create`, `pods/eviction`); a path
/// outside the resource API is named by its first segment (`version`).
pub fn classify(method: &Method, path: &str, query: Option<&str>) -> (&'static str, String) {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    let rest: &[&str] = match segments.as_slice() {
        ["api", _version, rest @ ..] => rest,
        ["apis", _group, _version, rest @ ..] => rest,
        [first, ..] => {
            return (verb_of(method, false, query), (*first).to_owned());
        }
        [] => return (verb_of(method, false, query), String::new()),
    };
    // `namespaces/NS/kind/...` is a namespaced resource; `namespaces[/NS]` alone the namespaces.
    let rest = match rest {
        ["namespaces", _ns, kind, more @ ..] => {
            let mut v = vec![*kind];
            v.extend_from_slice(more);
            v
        }
        other => other.to_vec(),
    };
    let resource = match rest.as_slice() {
        [kind, _name, sub, ..] => format!("{kind}/{sub}"),
        [kind, ..] => (*kind).to_owned(),
        [] => String::new(),
    };
    let named = rest.len() >= 2;
    (verb_of(method, named, query), resource)
}

fn verb_of(method: &Method, named: bool, query: Option<&str>) -> &'static str {
    let watching = query.is_some_and(|q| q.split('&').any(|p| p == "watch=true" || p == "watch=1"));
    match *method {
        Method::GET if watching => "watch",
        Method::GET if named => "get",
        Method::GET => "list",
        Method::POST => "create",
        Method::PUT => "update",
        Method::PATCH => "patch",
        Method::DELETE if named => "delete",
        Method::DELETE => "deletecollection",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_named_by_verb_and_resource_as_rbac_names_them() {
        let c = |m: Method, p: &str, q: Option<&str>| {
            let (v, r) = classify(&m, p, q);
            format!("{v} {r}")
        };
        assert_eq!(
            c(
                Method::GET,
                "/api/v1/pods",
                Some("labelSelector=a%3Db&watch=true&timeoutSeconds=20")
            ),
            "watch pods"
        );
        assert_eq!(
            c(Method::GET, "/api/v1/pods", Some("labelSelector=a")),
            "list pods"
        );
        assert_eq!(
            c(
                Method::GET,
                "/apis/apps/v1/namespaces/shop/deployments/web",
                None
            ),
            "get deployments"
        );
        assert_eq!(
            c(
                Method::PATCH,
                "/apis/apps/v1/namespaces/shop/deployments/web",
                Some("fieldManager=x")
            ),
            "patch deployments"
        );
        assert_eq!(
            c(Method::GET, "/api/v1/namespaces/shop/pods/web-1/log", None),
            "get pods/log"
        );
        assert_eq!(
            c(Method::POST, "/api/v1/namespaces", None),
            "create namespaces"
        );
        assert_eq!(
            c(Method::GET, "/api/v1/namespaces/shop", None),
            "get namespaces"
        );
        assert_eq!(
            c(Method::DELETE, "/api/v1/namespaces/shop/configmaps", None),
            "deletecollection configmaps"
        );
        assert_eq!(c(Method::GET, "/version", None), "list version");
    }

    #[test]
    fn counts_add_up_per_verb_and_resource() {
        let counts = RequestCounts::default();
        counts.add("get", "pods");
        counts.add("get", "pods");
        counts.add("watch", "pods");
        let s = counts.snapshot();
        assert_eq!(s[&("get", "pods".to_owned())], 2);
        assert_eq!(s[&("watch", "pods".to_owned())], 1);
    }
}
