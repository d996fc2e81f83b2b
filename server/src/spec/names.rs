//! Syntax of names Kubernetes and container registries accept.
//!
//! Each check returns the plain message a user sees after the field path.

/// A DNS-1123 label: object names, port-less hosts' parts, container names.
pub fn dns_label(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > 63 {
        return Err(format!("`{s}` is longer than 63 characters"));
    }
    if !is_label(s) {
        return Err(format!(
            "`{s}` is not a DNS-1123 label: use lowercase letters, digits and '-', starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

fn is_label(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// A DNS-1123 subdomain: Secret, ConfigMap and class names, host names.
pub fn dns_subdomain(s: &str) -> Result<(), String> {
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    if s.len() > 253 {
        return Err(format!("`{s}` is longer than 253 characters"));
    }
    if !s.split('.').all(is_label) {
        return Err(format!(
            "`{s}` is not a DNS-1123 subdomain: use lowercase letters, digits, '-' and '.'"
        ));
    }
    Ok(())
}

/// An Ingress host: a subdomain, optionally starting with `*.`.
pub fn host(s: &str) -> Result<(), String> {
    let rest = s.strip_prefix("*.").unwrap_or(s);
    if !rest.contains('.') {
        return Err(format!("`{s}` is not a fully qualified host name"));
    }
    dns_subdomain(rest).map_err(|_| format!("`{s}` is not a valid host name"))
}

/// A port name (IANA service name syntax, as Kubernetes requires).
pub fn port_name(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 15
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && s.bytes().any(|b| b.is_ascii_lowercase())
        && !s.starts_with('-')
        && !s.ends_with('-')
        && !s.contains("--");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a port name: at most 15 lowercase letters, digits and single '-', with at least one letter"
        ))
    }
}

/// An environment variable name; stricter than Kubernetes so that shells and
/// Python's `os.environ` see the same names.
pub fn env_name(s: &str) -> Result<(), String> {
    let mut chars = s.chars();
    let ok = match chars.next() {
        Some(first) => {
            (first.is_ascii_alphabetic() || first == '_')
                && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        }
        None => false,
    };
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a valid variable name: use letters, digits and '_', not starting with a digit"
        ))
    }
}

/// A key of a ConfigMap or Secret (also a config file name).
pub fn config_key(s: &str) -> Result<(), String> {
    let ok = !s.is_empty()
        && s.len() <= 253
        && s != "."
        && s != ".."
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{s}` is not a valid key: use letters, digits, '-', '_' and '.'"
        ))
    }
}

/// An absolute path inside a container.
pub fn absolute_path(s: &str) -> Result<(), String> {
    if !s.starts_with('/') {
        return Err(format!("`{s}` must be an absolute path"));
    }
    if s.split('/').any(|part| part == "..") {
        return Err(format!("`{s}` must not contain '..'"));
    }
    if s.contains(':') {
        return Err(format!("`{s}` must not contain ':'"));
    }
    Ok(())
}

/// A label or annotation key: an optional DNS subdomain prefix and `/`, then a
/// name of at most 63 characters.
pub fn qualified_name(s: &str) -> Result<(), String> {
    let (prefix, name) = match s.rsplit_once('/') {
        Some((prefix, name)) => (Some(prefix), name),
        None => (None, s),
    };
    if let Some(prefix) = prefix
        && dns_subdomain(prefix).is_err()
    {
        return Err(format!("`{s}` has an invalid prefix `{prefix}`"));
    }
    if label_value(name) && !name.is_empty() {
        Ok(())
    } else {
        Err(format!("`{s}` is not a valid key"))
    }
}

/// Whether `s` may be a label value.
pub fn label_value(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.is_empty() {
        return true;
    }
    bytes.len() <= 63
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && bytes
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

/// An IPv4 or IPv6 CIDR.
pub fn cidr(s: &str) -> Result<(), String> {
    let bad = || format!("`{s}` is not a CIDR such as 10.0.0.0/16");
    let (address, bits) = s.split_once('/').ok_or_else(bad)?;
    let bits: u8 = bits.parse().map_err(|_| bad())?;
    match address.parse::<std::net::IpAddr>().map_err(|_| bad())? {
        std::net::IpAddr::V4(_) if bits <= 32 => Ok(()),
        std::net::IpAddr::V6(_) if bits <= 128 => Ok(()),
        _ => Err(bad()),
    }
}

/// A parsed container image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry and repository, e.g. `registry.example.com/shop/web`.
    pub repository: String,
    /// Tag, e.g. `1.4.2`.
    pub tag: Option<String>,
    /// Digest, e.g. `sha256:…`.
    pub digest: Option<String>,
}

impl ImageRef {
    /// Whether the reference names one immutable build: a digest, or a tag other than `latest`.
    pub fn is_pinned(&self) -> bool {
        self.digest.is_some() || self.tag.as_deref().is_some_and(|t| t != "latest")
    }
}

/// Parse an image reference (`[registry[:port]/]path[:tag][@algo:hex]`), the
/// grammar of the distribution project's `reference` package.
pub fn image(s: &str) -> Result<ImageRef, String> {
    let bad = |why: &str| format!("`{s}` is not an image reference: {why}");
    if s.is_empty() {
        return Err("must not be empty".into());
    }
    let (rest, digest) = match s.split_once('@') {
        Some((rest, digest)) => {
            check_digest(digest).map_err(|why| bad(&why))?;
            (rest, Some(digest.to_owned()))
        }
        None => (s, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    if let Some(tag) = tag {
        let ok = !tag.is_empty()
            && tag.len() <= 128
            && tag
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_')
            && tag
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
        if !ok {
            return Err(bad("invalid tag"));
        }
    }
    if name.is_empty() || name.len() > 255 {
        return Err(bad("invalid repository name"));
    }
    let mut components: Vec<&str> = name.split('/').collect();
    if components.len() > 1 {
        let first = components[0];
        if first.contains('.') || first.contains(':') || first == "localhost" {
            check_domain(first).map_err(|why| bad(&why))?;
            components.remove(0);
        }
    }
    for component in components {
        if !path_component(component) {
            return Err(bad(
                "repository parts use lowercase letters, digits and single separators ('.', '_', '__', '-')",
            ));
        }
    }
    Ok(ImageRef {
        repository: name.to_owned(),
        tag: tag.map(str::to_owned),
        digest,
    })
}

fn check_digest(digest: &str) -> Result<(), String> {
    let (algorithm, hex) = digest
        .split_once(':')
        .ok_or_else(|| "a digest is written algorithm:hex".to_owned())?;
    let hex_ok = |len: usize| {
        hex.len() == len
            && hex
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    };
    match algorithm {
        "sha256" if hex_ok(64) => Ok(()),
        "sha512" if hex_ok(128) => Ok(()),
        "sha256" | "sha512" => Err(format!(
            "a {algorithm} digest has lowercase hex of the right length"
        )),
        _ => Err("the digest algorithm must be sha256 or sha512".into()),
    }
}

fn check_domain(domain: &str) -> Result<(), String> {
    let (host, port) = match domain.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (domain, None),
    };
    if let Some(port) = port
        && port.parse::<u16>().is_err()
    {
        return Err("invalid registry port".into());
    }
    let host_ok = !host.is_empty()
        && host.split('.').all(|part| {
            !part.is_empty()
                && part.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !part.starts_with('-')
                && !part.ends_with('-')
        });
    if host_ok {
        Ok(())
    } else {
        Err("invalid registry host".into())
    }
}

/// `[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*`
fn path_component(s: &str) -> bool {
    let bytes = s.as_bytes();
    if bytes.is_empty() || !is_alnum(bytes[0]) || !is_alnum(bytes[bytes.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < bytes.len() {
        if is_alnum(bytes[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < bytes.len() && !is_alnum(bytes[i]) {
            i += 1;
        }
        let separator = &s[start..i];
        let ok = separator == "."
            || separator == "_"
            || separator == "__"
            || separator.bytes().all(|b| b == b'-');
        if !ok {
            return false;
        }
    }
    true
}

fn is_alnum(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_label_rejects_uppercase_and_edge_hyphens() {
        assert!(dns_label("shop-web").is_ok());
        assert!(dns_label("Shop").is_err());
        assert!(dns_label("-shop").is_err());
        assert!(dns_label("shop-").is_err());
        assert!(dns_label(&"a".repeat(64)).is_err());
    }

    #[test]
    fn image_references_with_registry_port_tag_and_digest_parse() {
        let r = image("registry.example.com:5000/shop/web:1.4.2").unwrap();
        assert_eq!(r.repository, "registry.example.com:5000/shop/web");
        assert_eq!(r.tag.as_deref(), Some("1.4.2"));
        let digest = format!("python@sha256:{}", "a".repeat(64));
        assert!(image(&digest).unwrap().is_pinned());
        assert!(!image("python").unwrap().is_pinned());
        assert!(!image("python:latest").unwrap().is_pinned());
    }

    #[test]
    fn malformed_image_references_are_rejected() {
        for bad in [
            "",
            "Shop/Web:1",
            "web:",
            "web:-x",
            "web@sha256:abc",
            "a//b",
            "web:1 2",
        ] {
            assert!(image(bad).is_err(), "{bad} should be rejected");
        }
    }

    #[test]
    fn port_names_follow_the_iana_rules() {
        assert!(port_name("http").is_ok());
        assert!(port_name("8080").is_err());
        assert!(port_name("a--b").is_err());
        assert!(port_name("much-too-long-name").is_err());
    }

    #[test]
    fn cidrs_need_an_address_and_a_prefix_length() {
        assert!(cidr("10.0.0.0/16").is_ok());
        assert!(cidr("fd00::/8").is_ok());
        assert!(cidr("10.0.0.0").is_err());
        assert!(cidr("10.0.0.0/33").is_err());
    }

    #[test]
    fn hosts_must_be_fully_qualified_and_may_be_wildcards() {
        assert!(host("shop.example.com").is_ok());
        assert!(host("*.example.com").is_ok());
        assert!(host("localhost").is_err());
        assert!(host("Shop.example.com").is_err());
    }
}

/// Longest link kept in a spec.
pub const MAX_LINK: usize = 500;

/// A link people follow from the portal: an absolute `https://` or `http://`
/// URL with a host (never `javascript:` or another scheme a browser would run).
pub fn link(text: &str) -> Result<(), String> {
    if text.len() > MAX_LINK {
        return Err(format!("must be at most {MAX_LINK} characters"));
    }
    match url::Url::parse(text) {
        Ok(u)
            if matches!(u.scheme(), "https" | "http")
                && u.host_str().is_some_and(|h| !h.is_empty()) =>
        {
            Ok(())
        }
        Ok(u) => Err(format!(
            "`{text}` is not an https:// or http:// URL (scheme `{}`)",
            u.scheme()
        )),
        Err(e) => Err(format!("`{text}` is not a URL: {e}")),
    }
}

#[cfg(test)]
mod link_tests {
    use super::link;

    #[test]
    fn links_are_web_urls_with_a_host() {
        assert!(link("https://github.com/shop/web").is_ok());
        assert!(link("http://grafana.internal:3000/d/abc").is_ok());
        for bad in [
            "javascript:alert(1)",
            "ftp://x.example/a",
            "/relative",
            "https://",
            "data:text/html,hi",
        ] {
            assert!(link(bad).is_err(), "{bad}");
        }
        assert!(link(&format!("https://x.example/{}", "a".repeat(600))).is_err());
    }
}
