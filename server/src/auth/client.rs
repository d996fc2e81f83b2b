//! The client's address: the TCP peer, or what a trusted proxy says in
//! `X-Forwarded-For`.
//!
//! Behind an ingress controller every TCP peer is the controller, so throttling
//! by peer would put every user in one bucket. The header, though, is whatever
//! the client wrote, unless a proxy we trust wrote it. So the header is read only
//! when the peer is in `SLIPWAY_TRUSTED_PROXIES`, and from the right: each proxy
//! appends the address it saw, so the right-most entry that is not itself a
//! trusted proxy is the first address nobody we trust could have forged.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use super::extract::ClientAddr;

/// The proxies whose `X-Forwarded-For` is believed.
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Arc<[IpNet]>);

impl TrustedProxies {
    /// These networks.
    pub fn new(nets: &[IpNet]) -> Self {
        Self(nets.into())
    }

    fn contains(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        self.0.iter().any(|net| net.contains(&addr))
    }

    /// The client's address for a request from `peer` carrying these
    /// `X-Forwarded-For` values (in header order).
    pub fn client(&self, peer: IpAddr, forwarded_for: &[&str]) -> IpAddr {
        let peer = canonical(peer);
        if !self.contains(peer) {
            return peer;
        }
        let mut client = peer;
        let hops = forwarded_for
            .iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .rev();
        for hop in hops {
            let Some(addr) = parse_hop(hop) else {
                // Unreadable: no proxy we trust wrote that, so stop at the last one that did.
                break;
            };
            client = addr;
            if !self.contains(addr) {
                break;
            }
        }
        client
    }
}

/// An `X-Forwarded-For` entry: an address, possibly with a port (`1.2.3.4:5`, `[::1]:5`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(addr) = hop.parse::<IpAddr>() {
        return Some(canonical(addr));
    }
    hop.parse::<SocketAddr>()
        .ok()
        .map(|addr| canonical(addr.ip()))
}

/// IPv4-mapped IPv6 addresses (`::ffff:10.0.0.1`, from dual-stack sockets) as IPv4,
/// so `10.0.0.0/8` matches them and the same client has one spelling.
fn canonical(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    }
}

/// Middleware: works out the client address once per request and leaves it as a
/// [`ClientAddr`] extension for handlers, the audit log and the login throttle.
pub async fn resolve(
    State(trusted): State<TrustedProxies>,
    mut request: Request,
    next: Next,
) -> Response {
    if let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>() {
        let forwarded: Vec<&str> = request
            .headers()
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let client = trusted.client(peer.ip(), &forwarded);
        request
            .extensions_mut()
            .insert(ClientAddr(client.to_string()));
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn trusted(nets: &[&str]) -> TrustedProxies {
        let nets: Vec<IpNet> = nets.iter().map(|n| n.parse().unwrap()).collect();
        TrustedProxies::new(&nets)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn without_trusted_proxies_the_header_is_ignored() {
        let none = TrustedProxies::default();
        assert_eq!(
            none.client(ip("10.0.0.5"), &["198.51.100.1"]),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn a_peer_outside_the_list_cannot_claim_another_address() {
        let t = trusted(&["10.0.0.0/8"]);
        assert_eq!(
            t.client(ip("203.0.113.9"), &["198.51.100.1"]),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn a_trusted_peer_gives_the_right_most_untrusted_hop() {
        let t = trusted(&["10.0.0.0/8"]);
        // The client forged the first entry; the proxy appended what it saw.
        assert_eq!(
            t.client(ip("10.0.0.5"), &["1.1.1.1, 198.51.100.7"]),
            ip("198.51.100.7")
        );
        // Two proxies in a row, and the header split over two lines.
        assert_eq!(
            t.client(ip("10.0.0.5"), &["1.1.1.1, 198.51.100.7", "10.2.3.4"]),
            ip("198.51.100.7")
        );
    }

    #[test]
    fn garbage_stops_the_walk_at_the_last_trusted_hop() {
        let t = trusted(&["10.0.0.0/8"]);
        assert_eq!(
            t.client(ip("10.0.0.5"), &["not-an-address"]),
            ip("10.0.0.5")
        );
        assert_eq!(
            t.client(ip("10.0.0.5"), &["garbage, 10.9.9.9"]),
            ip("10.9.9.9")
        );
        assert_eq!(t.client(ip("10.0.0.5"), &[]), ip("10.0.0.5"));
    }

    #[test]
    fn ports_and_mapped_addresses_are_read() {
        let t = trusted(&["10.0.0.0/8"]);
        assert_eq!(
            t.client(ip("::ffff:10.0.0.5"), &["198.51.100.7:4242"]),
            ip("198.51.100.7")
        );
        assert_eq!(
            t.client(ip("10.0.0.5"), &["[2001:db8::1]:443"]),
            ip("2001:db8::1")
        );
    }
}
