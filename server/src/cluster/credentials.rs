//! The credentials of a registered cluster, checked before anything is stored.
//!
//! An administrator gives either a kubeconfig document or an API server URL
//! with a ServiceAccount token and the cluster's CA. Either way Slipway keeps
//! one self-contained kubeconfig holding only the context it uses: no other
//! contexts (they may hold credentials Slipway has no business keeping), and
//! nothing that makes Slipway's own host do something — an `exec` plugin or an
//! auth provider would run a program on the portal's server, and a file path
//! would read one of its files. TLS verification stays on.

use base64::Engine as _;
use kube::config::{
    AuthInfo, Cluster, Context, Kubeconfig, NamedAuthInfo, NamedCluster, NamedContext,
};

use crate::secret::SecretString;

/// A kubeconfig Slipway may store: one context, inline credentials only.
#[derive(Debug)]
pub struct Checked {
    /// The minimal kubeconfig document (JSON), to be sealed.
    pub document: SecretString,
    /// The API server's URL, shown to people.
    pub server: String,
}

/// A problem with what was given, and the form field it belongs to.
#[derive(Debug, PartialEq, Eq)]
pub struct Refusal {
    /// `kubeconfig`, `server`, `token` or `ca`.
    pub field: &'static str,
    /// Why, in words.
    pub message: String,
}

fn refuse(field: &'static str, message: impl Into<String>) -> Refusal {
    Refusal {
        field,
        message: message.into(),
    }
}

/// Largest kubeconfig or CA accepted (a real one is a few KiB).
const MAX_DOCUMENT: usize = 64 * 1024;

/// Checks a kubeconfig document and keeps its current context (or its only one).
pub fn from_kubeconfig(text: &str) -> Result<Checked, Refusal> {
    const F: &str = "kubeconfig";
    if text.trim().is_empty() {
        return Err(refuse(F, "paste a kubeconfig document"));
    }
    if text.len() > MAX_DOCUMENT {
        return Err(refuse(
            F,
            "is larger than 64 KiB; a kubeconfig is a few KiB",
        ));
    }
    let config = Kubeconfig::from_yaml(text)
        .map_err(|e| refuse(F, format!("is not a kubeconfig document: {e}")))?;
    let context_name = match (&config.current_context, config.contexts.as_slice()) {
        (Some(name), _) if !name.is_empty() => name.clone(),
        (_, [only]) => only.name.clone(),
        (_, []) => return Err(refuse(F, "has no context")),
        _ => {
            return Err(refuse(
                F,
                "has several contexts and no current-context: set one",
            ));
        }
    };
    let context = config
        .contexts
        .iter()
        .find(|c| c.name == context_name)
        .and_then(|c| c.context.clone())
        .ok_or_else(|| {
            refuse(
                F,
                format!("its current-context `{context_name}` is not defined"),
            )
        })?;
    let cluster = config
        .clusters
        .iter()
        .find(|c| c.name == context.cluster)
        .and_then(|c| c.cluster.clone())
        .ok_or_else(|| {
            refuse(
                F,
                format!("its cluster `{}` is not defined", context.cluster),
            )
        })?;
    let user_name = context.user.clone().unwrap_or_default();
    let user = config
        .auth_infos
        .iter()
        .find(|u| u.name == user_name)
        .and_then(|u| u.auth_info.clone())
        .ok_or_else(|| refuse(F, format!("its user `{user_name}` is not defined")))?;
    let server = check_cluster(&cluster).map_err(|m| refuse(F, m))?;
    check_user(&user).map_err(|m| refuse(F, m))?;
    Ok(Checked {
        document: minimal(cluster, user, context.namespace)?,
        server,
    })
}

/// Builds the kubeconfig of a ServiceAccount token and the cluster's CA.
pub fn from_token(server: &str, token: &str, ca_pem: &str) -> Result<Checked, Vec<Refusal>> {
    let mut problems = Vec::new();
    let server = server.trim();
    if let Err(m) = check_server_url(server) {
        problems.push(refuse("server", m));
    }
    let token = token.trim();
    if token.is_empty() {
        problems.push(refuse("token", "paste the ServiceAccount's token"));
    } else if token.len() > MAX_DOCUMENT
        || token.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        problems.push(refuse(
            "token",
            "must be one line without spaces (a bearer token)",
        ));
    }
    let ca_pem = ca_pem.trim();
    if !ca_pem.starts_with("-----BEGIN CERTIFICATE-----")
        || !ca_pem.ends_with("-----END CERTIFICATE-----")
        || ca_pem.len() > MAX_DOCUMENT
    {
        problems.push(refuse(
            "ca",
            "paste the cluster's CA certificate in PEM (-----BEGIN CERTIFICATE----- …)",
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let cluster = Cluster {
        server: Some(server.to_owned()),
        certificate_authority_data: Some(
            base64::engine::general_purpose::STANDARD.encode(format!("{ca_pem}\n")),
        ),
        ..Cluster::default()
    };
    let user = AuthInfo {
        token: Some(token.to_owned().into()),
        ..AuthInfo::default()
    };
    let document = minimal(cluster, user, None).map_err(|r| vec![r])?;
    Ok(Checked {
        document,
        server: server.to_owned(),
    })
}

/// The API server URL: https, a host, nothing else.
fn check_server_url(server: &str) -> Result<(), String> {
    let url = url::Url::parse(server).map_err(|_| {
        "must be the API server's URL, e.g. https://api.eu-1.example.com:6443".to_owned()
    })?;
    if url.scheme() != "https" {
        return Err("must start with https:// (Slipway does not send credentials in clear)".into());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must name a host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not hold a user name or password".into());
    }
    Ok(())
}

fn check_cluster(cluster: &Cluster) -> Result<String, String> {
    let server = cluster.server.clone().unwrap_or_default();
    check_server_url(&server).map_err(|m| format!("its cluster's server {m}"))?;
    if cluster.insecure_skip_tls_verify == Some(true) {
        return Err(
            "turns TLS verification off (insecure-skip-tls-verify); give the cluster's CA instead"
                .into(),
        );
    }
    if cluster.certificate_authority.is_some() {
        return Err(
            "names a CA file (certificate-authority); Slipway reads no files of its host: \
             inline it as certificate-authority-data"
                .into(),
        );
    }
    if cluster.proxy_url.is_some() {
        return Err("uses a proxy (proxy-url), which Slipway does not support".into());
    }
    Ok(server)
}

fn check_user(user: &AuthInfo) -> Result<(), String> {
    if user.exec.is_some() {
        return Err(
            "runs a program for its credentials (exec), which would run on Slipway's own server; \
             use a ServiceAccount token or a client certificate"
                .into(),
        );
    }
    if user.auth_provider.is_some() {
        return Err(
            "uses an auth-provider plugin; use a ServiceAccount token or a client certificate"
                .into(),
        );
    }
    if user.token_file.is_some() || user.client_certificate.is_some() || user.client_key.is_some() {
        return Err(
            "names credential files (tokenFile, client-certificate or client-key); Slipway reads \
             no files of its host: inline them (token, client-certificate-data, client-key-data)"
                .into(),
        );
    }
    if user.username.is_some() || user.password.is_some() {
        return Err("uses a user name and password; use a token or a client certificate".into());
    }
    if user.impersonate.is_some() || user.impersonate_groups.is_some() {
        return Err("impersonates another user (as); register that user's own credentials".into());
    }
    let has_token = user.token.is_some();
    let has_cert = user.client_certificate_data.is_some() && user.client_key_data.is_some();
    if !has_token && !has_cert {
        return Err(
            "holds no inline credentials: give a token, or client-certificate-data with client-key-data"
                .into(),
        );
    }
    Ok(())
}

/// One cluster, one user, one context, serialized.
fn minimal(
    cluster: Cluster,
    user: AuthInfo,
    namespace: Option<String>,
) -> Result<SecretString, Refusal> {
    let config = Kubeconfig {
        clusters: vec![NamedCluster {
            name: "slipway".into(),
            cluster: Some(cluster),
            ..NamedCluster::default()
        }],
        auth_infos: vec![NamedAuthInfo {
            name: "slipway".into(),
            auth_info: Some(user),
            ..NamedAuthInfo::default()
        }],
        contexts: vec![NamedContext {
            name: "slipway".into(),
            context: Some(Context {
                cluster: "slipway".into(),
                user: Some("slipway".into()),
                namespace,
                ..Context::default()
            }),
            ..NamedContext::default()
        }],
        current_context: Some("slipway".into()),
        api_version: Some("v1".into()),
        kind: Some("Config".into()),
        ..Kubeconfig::default()
    };
    serde_json::to_string(&config)
        .map(SecretString::new)
        .map_err(|e| refuse("kubeconfig", format!("cannot be kept: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----";

    fn kubeconfig(user: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: eu\n\
             clusters:\n- name: eu\n  cluster:\n    server: https://api.eu.example:6443\n    certificate-authority-data: Zm9v\n\
             - name: other\n  cluster:\n    server: https://other.example\n\
             users:\n- name: deployer\n  user:\n{user}\n- name: unrelated\n  user:\n    token: sentinel-unrelated\n\
             contexts:\n- name: eu\n  context:\n    cluster: eu\n    user: deployer\n\
             - name: other\n  context:\n    cluster: other\n    user: unrelated\n"
        )
    }

    #[test]
    fn a_kubeconfig_is_cut_down_to_its_current_context() {
        let checked = from_kubeconfig(&kubeconfig("    token: abc.def")).unwrap();
        assert_eq!(checked.server, "https://api.eu.example:6443");
        let kept = checked.document.expose();
        assert!(kept.contains("abc.def"), "{kept}");
        assert!(
            !kept.contains("sentinel-unrelated"),
            "other users are dropped: {kept}"
        );
        assert!(
            !kept.contains("other.example"),
            "other clusters are dropped: {kept}"
        );
        let again = Kubeconfig::from_yaml(kept).unwrap();
        assert_eq!(again.current_context.as_deref(), Some("slipway"));
    }

    #[test]
    fn a_kubeconfig_that_would_run_or_read_something_on_slipways_host_is_refused() {
        let cases = [
            (
                "    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/sh\n",
                "exec",
            ),
            ("    tokenFile: /etc/shadow\n", "files"),
            (
                "    client-certificate: /root/cert.pem\n    client-key: /root/key.pem\n",
                "files",
            ),
            ("    auth-provider:\n      name: gcp\n", "auth-provider"),
            ("    username: admin\n    password: secret\n", "password"),
            ("    as: system:admin\n    token: x\n", "impersonates"),
            ("    {}\n", "no inline credentials"),
        ];
        for (user, why) in cases {
            let refusal = from_kubeconfig(&kubeconfig(user)).unwrap_err();
            assert_eq!(refusal.field, "kubeconfig");
            assert!(refusal.message.contains(why), "{why}: {}", refusal.message);
        }
    }

    #[test]
    fn tls_must_stay_verified_and_the_server_must_be_https() {
        let insecure = kubeconfig("    token: x").replace(
            "certificate-authority-data: Zm9v",
            "insecure-skip-tls-verify: true",
        );
        assert!(
            from_kubeconfig(&insecure)
                .unwrap_err()
                .message
                .contains("TLS")
        );
        let plain = kubeconfig("    token: x").replace("https://api.eu", "http://api.eu");
        assert!(
            from_kubeconfig(&plain)
                .unwrap_err()
                .message
                .contains("https://")
        );
        assert!(from_kubeconfig("").unwrap_err().message.contains("paste"));
        assert!(from_kubeconfig("a: [").is_err());
    }

    #[test]
    fn a_token_and_ca_become_a_kubeconfig_and_each_bad_field_is_named() {
        let checked = from_token("https://10.0.0.1:6443", "tok.en", CA).unwrap();
        assert_eq!(checked.server, "https://10.0.0.1:6443");
        let config = Kubeconfig::from_yaml(checked.document.expose()).unwrap();
        let cluster = config.clusters[0].cluster.clone().unwrap();
        assert_eq!(cluster.server.as_deref(), Some("https://10.0.0.1:6443"));
        assert!(cluster.certificate_authority_data.is_some());
        let problems = from_token("http://x", "two words", "not a pem").unwrap_err();
        let fields: Vec<_> = problems.iter().map(|p| p.field).collect();
        assert_eq!(fields, ["server", "token", "ca"]);
        assert_eq!(
            from_token("https://x", "", CA).unwrap_err()[0].field,
            "token"
        );
    }
}
