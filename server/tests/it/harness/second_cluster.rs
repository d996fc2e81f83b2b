//! The second local control plane (`e2e/cluster/up --name second`), for the
//! tests of many clusters: its admin client, and the API server URL, CA and a
//! token of Slipway's ServiceAccount there (the least-privilege roles of
//! rbac.yaml applied to it too), which is what an administrator registers.
//!
//! Needs `SLIPWAY_TEST_SECOND_KUBECONFIG` (`scripts/test-all` starts it);
//! without it these tests fail, because a skipped test proves nothing.

use std::net::SocketAddr;

use base64::Engine as _;
use kube::Client;
use kube::config::{KubeConfigOptions, Kubeconfig};

use super::cluster::slipway_sa_token;

/// What the tests know of the second control plane.
#[derive(Clone)]
pub struct SecondCluster {
    /// Its admin client, to look at what Slipway did there.
    pub admin: Client,
    /// `https://127.0.0.1:PORT`.
    pub server: String,
    /// `127.0.0.1:PORT`.
    pub addr: SocketAddr,
    /// Its CA certificate, PEM.
    pub ca_pem: String,
    /// A token of Slipway's ServiceAccount there.
    pub token: String,
}

/// `SLIPWAY_TEST_SECOND_KUBECONFIG`; panics with how to start it when unset.
pub fn second_kubeconfig_path() -> std::path::PathBuf {
    match std::env::var("SLIPWAY_TEST_SECOND_KUBECONFIG") {
        Ok(path) if !path.is_empty() => path.into(),
        _ => panic!(
            "SLIPWAY_TEST_SECOND_KUBECONFIG is not set: the tests of many clusters need a second \
             control plane (e2e/cluster/up --name second, then \
             SLIPWAY_TEST_SECOND_KUBECONFIG=.slipway/cluster-second/kubeconfig)"
        ),
    }
}

/// The second control plane, prepared once per test run.
pub async fn second_cluster() -> SecondCluster {
    static CELL: tokio::sync::OnceCell<(String, String, String)> =
        tokio::sync::OnceCell::const_new();
    let (server, ca_pem, token) = CELL
        .get_or_init(|| async {
            // Its own runtime: the cell outlives the test (and runtime) that fills it.
            std::thread::spawn(|| {
                tokio::runtime::Runtime::new()
                    .expect("a runtime")
                    .block_on(prepare())
            })
            .join()
            .expect("preparing the second cluster")
        })
        .await
        .clone();
    let addr = server
        .trim_start_matches("https://")
        .parse()
        .expect("the second cluster listens on an IP:port");
    SecondCluster {
        admin: admin_client().await,
        server,
        addr,
        ca_pem,
        token,
    }
}

fn kubeconfig() -> Kubeconfig {
    Kubeconfig::read_from(second_kubeconfig_path()).expect("the second cluster's kubeconfig")
}

async fn admin_client() -> Client {
    let config = kube::Config::from_custom_kubeconfig(kubeconfig(), &KubeConfigOptions::default())
        .await
        .expect("a usable kubeconfig");
    Client::try_from(config).expect("a client")
}

async fn prepare() -> (String, String, String) {
    let token = slipway_sa_token(&admin_client().await).await;
    let cluster = kubeconfig()
        .clusters
        .into_iter()
        .next()
        .and_then(|c| c.cluster)
        .expect("a cluster entry");
    let ca = base64::engine::general_purpose::STANDARD
        .decode(cluster.certificate_authority_data.expect("inline CA"))
        .expect("base64");
    (
        cluster.server.expect("a server"),
        String::from_utf8(ca).expect("PEM"),
        token,
    )
}
