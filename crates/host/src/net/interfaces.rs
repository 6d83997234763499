//! `ip_addr()`: network interfaces and their addresses. Like `uname()`, it describes the host
//! rather than reading a file, so it needs `sysinfo::Action::"list"` on `sysinfo::Sysinfo`
//! (as in Rex).

use std::net::IpAddr;

use nix::ifaddrs::getifaddrs;
use nix::net::if_::InterfaceFlags;
use nix::sys::socket::SockaddrStorage;

use crate::error::HostResult;
use crate::Host;

/// One interface.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    /// IPv4 and IPv6 addresses (`10.0.0.5`), as Rex lists them.
    pub addresses: Vec<String>,
    /// The same addresses, each with its prefix length (`10.0.0.5/24`).
    pub networks: Vec<String>,
    /// The link-layer (MAC) address, when the interface has one.
    pub mac: Option<String>,
    pub up: bool,
    pub loopback: bool,
}

fn ip(addr: &SockaddrStorage) -> Option<IpAddr> {
    addr.as_sockaddr_in()
        .map(|a| IpAddr::V4(a.ip()))
        .or_else(|| addr.as_sockaddr_in6().map(|a| IpAddr::V6(a.ip())))
}

impl Host {
    pub fn ip_addr(&self) -> HostResult<Vec<Interface>> {
        let all = self.sysinfo(|| getifaddrs().map_err(std::io::Error::from))?;
        let mut out: Vec<Interface> = Vec::new();
        for ifa in all {
            let at = match out.iter().position(|i| i.name == ifa.interface_name) {
                Some(at) => at,
                None => {
                    out.push(Interface {
                        name: ifa.interface_name.clone(),
                        addresses: Vec::new(),
                        networks: Vec::new(),
                        mac: None,
                        up: ifa.flags.contains(InterfaceFlags::IFF_UP),
                        loopback: ifa.flags.contains(InterfaceFlags::IFF_LOOPBACK),
                    });
                    out.len() - 1
                }
            };
            let Some(addr) = ifa.address else { continue };
            if let Some(address) = ip(&addr) {
                let prefix = ifa
                    .netmask
                    .as_ref()
                    .and_then(ip)
                    .map(|mask| match mask {
                        IpAddr::V4(m) => m.to_bits().count_ones(),
                        IpAddr::V6(m) => m.to_bits().count_ones(),
                    })
                    .map(|bits| format!("/{bits}"))
                    .unwrap_or_default();
                out[at].networks.push(format!("{address}{prefix}"));
                out[at].addresses.push(address.to_string());
            } else if let Some(link) = addr.as_link_addr() {
                out[at].mac = link.addr().filter(|a| a.iter().any(|b| *b != 0)).map(|a| {
                    a.iter()
                        .map(|b| format!("{b:02x}"))
                        .collect::<Vec<_>>()
                        .join(":")
                });
            }
        }
        Ok(out)
    }
}
