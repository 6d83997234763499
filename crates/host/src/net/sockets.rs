//! `netstat()`: the host's TCP and UDP sockets, IPv4 and IPv6, and its Unix sockets.
//!
//! The kernel's socket tables are read as files, so each needs `file_system::Action::"read"`
//! on it (`/proc/net/tcp`, `tcp6`, `udp`, `udp6`, `unix`), as `free()` needs read on
//! `/proc/meminfo`.
//! A socket's owner is found by looking for its inode among a process's descriptors, and that
//! is done only for processes the policy lets the principal list
//! (`process_system::Action::"list"`, as in `ps()`); for the others the owner is left out.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::error::{HostError, HostResult};
use crate::supervisor_call::{DescriptorsUnder, SupervisorAnswer, SupervisorCall};
use crate::Host;

/// The tables read, with the protocol name each stands for (as `netstat` prints it).
const TABLES: [(&str, &str); 4] = [
    ("/proc/net/tcp", "tcp"),
    ("/proc/net/tcp6", "tcp6"),
    ("/proc/net/udp", "udp"),
    ("/proc/net/udp6", "udp6"),
];

/// One socket.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Socket {
    /// `tcp`, `tcp6`, `udp` or `udp6`.
    pub protocol: &'static str,
    pub local_address: SocketAddr,
    pub remote_address: SocketAddr,
    /// The kernel's name of the TCP state (`LISTEN`, `ESTABLISHED`, ...); a UDP socket is
    /// `CLOSE` unless connected.
    pub state: &'static str,
    pub send_queue: u64,
    pub recv_queue: u64,
    pub inode: u64,
    /// The owning process, only when the policy lets the principal list it.
    pub owner: Option<SocketOwner>,
}

/// One Unix socket (a row of `/proc/net/unix`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnixSocket {
    /// The socket type: `stream`, `dgram` or `seqpacket`.
    pub kind: &'static str,
    /// The socket's state: `unconnected`, `connecting`, `connected` or `disconnecting`.
    pub state: &'static str,
    pub ref_count: u32,
    pub inode: u64,
    /// The bound path (`@name` for an abstract socket), empty when unbound.
    pub path: String,
    /// The owning process, only when the policy lets the principal list it.
    pub owner: Option<SocketOwner>,
}

/// Everything `netstat()` reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SocketTables {
    pub internet: Vec<Socket>,
    pub unix: Vec<UnixSocket>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SocketOwner {
    pub pid: u32,
    pub name: String,
}

/// TCP states by their number in the socket tables (include/net/tcp_states.h).
const STATES: [&str; 13] = [
    "UNKNOWN",
    "ESTABLISHED",
    "SYN_SENT",
    "SYN_RECV",
    "FIN_WAIT1",
    "FIN_WAIT2",
    "TIME_WAIT",
    "CLOSE",
    "CLOSE_WAIT",
    "LAST_ACK",
    "LISTEN",
    "CLOSING",
    "NEW_SYN_RECV",
];

/// An address as the tables print it: the address's 32-bit words in the machine's byte
/// order, in hex, then `:` and the port in hex.
fn address(field: &str) -> Option<SocketAddr> {
    let (ip, port) = field.split_once(':')?;
    let port = u16::from_str_radix(port, 16).ok()?;
    let mut bytes = Vec::with_capacity(16);
    for i in (0..ip.len()).step_by(8) {
        let word = u32::from_str_radix(ip.get(i..i + 8)?, 16).ok()?;
        bytes.extend_from_slice(&word.to_ne_bytes());
    }
    let ip = match bytes.len() {
        4 => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => return None,
    };
    Some(SocketAddr::new(ip, port))
}

/// One row of a table; `None` for the header and anything malformed.
fn parse_row(line: &str, protocol: &'static str) -> Option<Socket> {
    let f: Vec<&str> = line.split_whitespace().collect();
    let state = usize::from_str_radix(f.get(3)?, 16).ok()?;
    let (tx, rx) = f.get(4)?.split_once(':')?;
    Some(Socket {
        protocol,
        local_address: address(f.get(1)?)?,
        remote_address: address(f.get(2)?)?,
        state: STATES.get(state).copied().unwrap_or("UNKNOWN"),
        send_queue: u64::from_str_radix(tx, 16).ok()?,
        recv_queue: u64::from_str_radix(rx, 16).ok()?,
        inode: f.get(9)?.parse().ok()?,
        owner: None,
    })
}

/// The Unix socket table.
const UNIX_TABLE: &str = "/proc/net/unix";

/// One row of `/proc/net/unix`: `Num RefCount Protocol Flags Type St Inode [Path]`, the
/// numbers but the inode in hex. `None` for the header and anything malformed.
fn parse_unix_row(line: &str) -> Option<UnixSocket> {
    let mut f = line.split_whitespace();
    let _num = f.next()?;
    let ref_count = u32::from_str_radix(f.next()?, 16).ok()?;
    let _protocol = f.next()?;
    let _flags = f.next()?;
    let kind = match u16::from_str_radix(f.next()?, 16).ok()? {
        1 => "stream",
        2 => "dgram",
        5 => "seqpacket",
        _ => return None,
    };
    let state = match u8::from_str_radix(f.next()?, 16).ok()? {
        1 => "unconnected",
        2 => "connecting",
        3 => "connected",
        4 => "disconnecting",
        _ => return None,
    };
    let inode = f.next()?.parse().ok()?;
    // The path is the rest of the line: the kernel prints it unescaped, and nothing follows.
    let path = f.collect::<Vec<_>>().join(" ");
    Some(UnixSocket {
        kind,
        state,
        ref_count,
        inode,
        path,
        owner: None,
    })
}

impl Host {
    /// The internet and Unix socket tables; with `owners`, each socket with its owner where
    /// the policy lets the principal list the owning process (a `list` decision on every
    /// process, so only when the caller shows owners).
    pub fn netstat(&self, owners: bool) -> HostResult<SocketTables> {
        let mut out = Vec::new();
        for (path, protocol) in TABLES {
            let table = match self.read_table(path) {
                Ok(t) => t,
                // A kernel without IPv6 has no tcp6/udp6: nothing to list there.
                Err(HostError::NotFound { .. }) => continue,
                Err(e) => return Err(e),
            };
            out.extend(table.lines().skip(1).filter_map(|l| parse_row(l, protocol)));
            if out.len() > self.limits.max_items {
                return Err(HostError::TooLarge {
                    what: "the socket list".to_owned(),
                    limit: format!("{} entries", self.limits.max_items),
                });
            }
        }
        let unix: Vec<UnixSocket> = match self.read_table(UNIX_TABLE) {
            Ok(t) => t.lines().skip(1).filter_map(parse_unix_row).collect(),
            Err(HostError::NotFound { .. }) => Vec::new(),
            Err(e) => return Err(e),
        };
        if out.len() + unix.len() > self.limits.max_items {
            return Err(HostError::TooLarge {
                what: "the socket list".to_owned(),
                limit: format!("{} entries", self.limits.max_items),
            });
        }
        if !owners {
            return Ok(SocketTables {
                internet: out,
                unix,
            });
        }
        let owners = self.socket_owners()?;
        for s in &mut out {
            s.owner = owners.get(&s.inode).cloned();
        }
        let mut unix = unix;
        for s in &mut unix {
            s.owner = owners.get(&s.inode).cloned();
        }
        Ok(SocketTables {
            internet: out,
            unix,
        })
    }

    /// Socket inode → owner, over the processes `ps()` lists (those the policy lets the
    /// principal list).
    fn socket_owners(&self) -> HostResult<HashMap<u64, SocketOwner>> {
        let mut owners = HashMap::new();
        let mut recheck = crate::process::Recheck::new()?;
        for process in self.ps()? {
            self.interrupt.check()?;
            // Descriptors of another user's process are unreadable without privilege; its
            // sockets then have no known owner.
            // `ps()` decided `list` on it just now: this permit is that remembered decision.
            let Ok(permit) = self.gate.authorize(
                &[tollgate_policy::Action::ProcList],
                &crate::process::resource(&process),
            ) else {
                continue;
            };
            let call = SupervisorCall::Descriptors {
                pid: process.pid,
                under: DescriptorsUnder::List,
            };
            let target = format!("process {}", process.pid);
            let Ok(SupervisorAnswer::Descriptors(targets)) =
                self.supervisor_call(&permit, &call, "list the descriptors of", &target)
            else {
                continue;
            };
            // Read by pid after the decision: if the pid now names another process, what
            // was read is that one's, which nothing permitted. Its sockets get no owner.
            if !recheck.still_running(&process) {
                continue;
            }
            for target in targets {
                let inode = target
                    .strip_prefix("socket:[")
                    .and_then(|t| t.strip_suffix(']'))
                    .and_then(|t| t.parse::<u64>().ok());
                if let Some(inode) = inode {
                    owners.entry(inode).or_insert_with(|| SocketOwner {
                        pid: process.pid,
                        name: process.name.clone(),
                    });
                }
            }
        }
        Ok(owners)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The rows below are as a little-endian machine prints them.
    #[cfg(target_endian = "little")]
    #[test]
    fn parses_rows_of_the_kernel_tables() {
        let row = "   0: 0100007F:1F90 00000000:0000 0A 00000001:00000002 00:00000000 00000000  1000        0 12345 1 0000000000000000 100 0 0 10 0";
        let s = parse_row(row, "tcp").unwrap();
        assert_eq!(s.local_address.to_string(), "127.0.0.1:8080");
        assert_eq!(s.remote_address.to_string(), "0.0.0.0:0");
        assert_eq!(s.state, "LISTEN");
        assert_eq!((s.send_queue, s.recv_queue, s.inode), (1, 2, 12345));
        let row6 = "   0: 00000000000000000000000001000000:0016 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 999 1 0000000000000000 100 0 0 10 0";
        let s = parse_row(row6, "tcp6").unwrap();
        assert_eq!(s.local_address.to_string(), "[::1]:22");
        assert!(parse_row("  sl  local_address rem_address   st", "tcp").is_none());
    }

    #[test]
    fn parses_rows_of_the_unix_table() {
        let bound = "0000000000000000: 00000002 00000000 00010000 0001 01 23456 /run/app.sock";
        let s = parse_unix_row(bound).unwrap();
        assert_eq!((s.kind, s.state), ("stream", "unconnected"));
        assert_eq!(
            (s.ref_count, s.inode, s.path.as_str()),
            (2, 23456, "/run/app.sock")
        );
        let peer = "0000000000000000: 00000003 00000000 00000000 0002 03 777";
        let s = parse_unix_row(peer).unwrap();
        assert_eq!(
            (s.kind, s.state, s.path.as_str()),
            ("dgram", "connected", "")
        );
        assert!(
            parse_unix_row("Num       RefCount Protocol Flags    Type St Inode Path").is_none()
        );
    }
}
