//! Checks of node addresses: libp2p TCP multiaddrs and API socket addresses.
//!
//! The genesis crate does not depend on libp2p itself (only on
//! `libp2p-identity`, for peer ids), so it checks the small subset of multiaddr
//! text that gemtrail nodes use: `/ip4/<address>/tcp/<port>`,
//! `/ip6/<address>/tcp/<port>` and `/dns/<host>/tcp/<port>` (also `dns4`, `dns6`).
//! Everything it accepts is accepted by `multiaddr` 0.19, the version libp2p 0.57
//! uses. Both kinds of address are returned in a canonical text form, so that
//! `/ip6/0:0::1/tcp/7001` and `/ip6/::1/tcp/7001` are one address to the
//! duplicate check and to the genesis hash.

use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;

use crate::error::Problem;

/// Longest DNS host name (RFC 1035).
const HOST_NAME_BYTES_MAX: usize = 253;

/// A checked network endpoint: its canonical text, and the `host:port` it
/// occupies (shared by listen and API addresses, for the duplicate check).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Endpoint {
    /// Canonical text of the address.
    pub(crate) text: String,
    /// `host:port`, comparable between multiaddrs and socket addresses.
    pub(crate) host_port: String,
}

/// Checks a libp2p listen address.
pub(crate) fn check_multiaddr(text: &str) -> Result<Endpoint, Problem> {
    let invalid = |reason: &'static str| Problem::InvalidMultiaddr {
        value: text.chars().take(80).collect(),
        reason,
    };
    let mut parts = text.split('/');
    if parts.next() != Some("") {
        return Err(invalid("it must start with /"));
    }
    let (Some(protocol), Some(host), Some(transport), Some(port), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(invalid("it must have exactly four components"));
    };
    let host = canonical_host(protocol, host).map_err(invalid)?;
    if transport != "tcp" {
        return Err(invalid("the transport must be tcp"));
    }
    let port = parse_port(port).ok_or_else(|| invalid("the port must be 1 to 65535"))?;
    let host_port = match protocol {
        "ip6" => format!("[{host}]:{port}"),
        _ => format!("{host}:{port}"),
    };
    Ok(Endpoint {
        text: format!("/{protocol}/{host}/tcp/{port}"),
        host_port,
    })
}

/// The canonical text of a multiaddr host component.
fn canonical_host(protocol: &str, host: &str) -> Result<String, &'static str> {
    match protocol {
        "ip4" => Ipv4Addr::from_str(host)
            .map(|ip| ip.to_string())
            .map_err(|_| "the /ip4 address does not parse"),
        "ip6" => Ipv6Addr::from_str(host)
            .map(|ip| ip.to_string())
            .map_err(|_| "the /ip6 address does not parse"),
        "dns" | "dns4" | "dns6" => check_host_name(host).map(|()| host.to_ascii_lowercase()),
        _ => Err("the first protocol must be ip4, ip6, dns, dns4 or dns6"),
    }
}

/// A DNS name: dot-separated labels of letters, digits and inner hyphens.
fn check_host_name(host: &str) -> Result<(), &'static str> {
    const REASON: &str = "the host is not a DNS name";
    if host.is_empty() || host.len() > HOST_NAME_BYTES_MAX {
        return Err(REASON);
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    if host.split('.').all(label_ok) {
        Ok(())
    } else {
        Err(REASON)
    }
}

fn parse_port(text: &str) -> Option<u16> {
    // `u16::from_str` accepts a leading `+`; a multiaddr port is digits only.
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    u16::from_str(text).ok().filter(|port| *port != 0)
}

/// Checks an HTTP API address: `<ip>:<port>` (`[<ipv6>]:<port>`), port not 0.
pub(crate) fn check_socket_addr(text: &str) -> Result<Endpoint, Problem> {
    let invalid = || Problem::InvalidSocketAddr {
        value: text.chars().take(80).collect(),
    };
    let address = SocketAddr::from_str(text).map_err(|_| invalid())?;
    if address.port() == 0 {
        return Err(invalid());
    }
    let canonical = address.to_string();
    Ok(Endpoint {
        host_port: canonical.clone(),
        text: canonical,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn supported_multiaddrs_are_canonicalised() {
        let endpoint = check_multiaddr("/ip6/0:0::1/tcp/7001").unwrap();
        assert_eq!(endpoint.text, "/ip6/::1/tcp/7001");
        assert_eq!(endpoint.host_port, "[::1]:7001");
        let endpoint = check_multiaddr("/dns/Node-1.Example.org/tcp/443").unwrap();
        assert_eq!(endpoint.text, "/dns/node-1.example.org/tcp/443");
        assert_eq!(endpoint.host_port, "node-1.example.org:443");
        let endpoint = check_multiaddr("/ip4/127.0.0.1/tcp/7001").unwrap();
        assert_eq!(endpoint.host_port, "127.0.0.1:7001");
    }

    #[test]
    fn unsupported_multiaddrs_say_why() {
        let reason = |text: &str| match check_multiaddr(text) {
            Err(Problem::InvalidMultiaddr { reason, .. }) => reason,
            other => panic!("unexpected {other:?}"),
        };
        assert_eq!(reason("ip4/1.2.3.4/tcp/1"), "it must start with /");
        assert_eq!(
            reason("/ip4/1.2.3.4/tcp/1/p2p/x"),
            "it must have exactly four components"
        );
        assert_eq!(
            reason("/ip4/1.2.3/tcp/1"),
            "the /ip4 address does not parse"
        );
        assert_eq!(reason("/ip4/1.2.3.4/udp/1"), "the transport must be tcp");
        assert_eq!(reason("/ip4/1.2.3.4/tcp/+1"), "the port must be 1 to 65535");
        assert_eq!(reason("/ip4/1.2.3.4/tcp/0"), "the port must be 1 to 65535");
        assert_eq!(
            reason("/ip4/1.2.3.4/tcp/65536"),
            "the port must be 1 to 65535"
        );
        assert_eq!(reason("/dns/-bad/tcp/1"), "the host is not a DNS name");
        assert_eq!(
            reason("/unix/x/tcp/1"),
            "the first protocol must be ip4, ip6, dns, dns4 or dns6"
        );
    }

    #[test]
    fn api_addresses_need_an_ip_and_a_port() {
        assert_eq!(
            check_socket_addr("127.0.0.1:8081").unwrap().text,
            "127.0.0.1:8081"
        );
        assert_eq!(
            check_socket_addr("[0:0::1]:8081").unwrap().text,
            "[::1]:8081"
        );
        for bad in ["localhost:8081", "127.0.0.1", "127.0.0.1:0", " 127.0.0.1:1"] {
            assert_eq!(
                check_socket_addr(bad),
                Err(Problem::InvalidSocketAddr {
                    value: bad.to_owned()
                })
            );
        }
    }
}
