//! `connect(host, port)`: can a TCP connection be made? Authorized as
//! `network::Action::"connect"` on `network::url::"tcp://host:port"`; the connection is closed
//! at once, nothing is sent.

use std::time::{Duration, Instant};

use tollgate_policy::{Action, Resource};

use super::url::tcp_endpoint;
use crate::error::HostResult;
use crate::Host;

/// Default time to wait for a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// What `connect` found out.
#[derive(Clone, Debug, PartialEq)]
pub struct ConnectReport {
    /// The canonical `tcp://host:port` that was authorized.
    pub url: String,
    pub connected: bool,
    /// The address tried last (the one that answered, when connected).
    pub address: Option<String>,
    /// Milliseconds spent resolving and connecting, to the microsecond.
    pub time_ms: f64,
    /// Why it failed (refused, timed out, no address), when it did.
    pub error: Option<String>,
}

impl Host {
    /// Tries each address of `host` in turn, within `timeout` in all (and within what is
    /// left of the run's time).
    pub fn connect(&self, host: &str, port: i64, timeout: Duration) -> HostResult<ConnectReport> {
        let endpoint = tcp_endpoint(host, port)?;
        self.interrupt.check()?;
        let permit = self.gate.authorize(
            &[Action::NetConnect],
            &Resource::Url(endpoint.url().to_owned()),
        )?;
        let start = Instant::now();
        let deadline = start + self.interrupt.bound(timeout);
        let mut report = ConnectReport {
            url: endpoint.url().to_owned(),
            connected: false,
            address: None,
            time_ms: 0.0,
            error: None,
        };
        // The addresses of the canonical host, the one the policy decided on.
        match endpoint.addresses() {
            Err(e) => report.error = Some(format!("cannot resolve {}: {e}", endpoint.host())),
            Ok(addrs) => {
                for addr in addrs {
                    self.interrupt.check()?;
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        self.interrupt.check_deadline()?;
                        report.error =
                            Some(format!("no connection within {} ms", timeout.as_millis()));
                        break;
                    }
                    report.address = Some(addr.to_string());
                    match crate::effect::connect(&permit, endpoint.url(), &addr, left) {
                        Ok(_) => {
                            report.connected = true;
                            report.error = None;
                            break;
                        }
                        Err(e) => {
                            self.interrupt.check_deadline()?;
                            report.error = Some(e.to_string());
                        }
                    }
                }
                if report.address.is_none() {
                    report.error = Some(format!("{} has no address", endpoint.host()));
                }
            }
        }
        // Microseconds are the resolution that means anything here; more digits are noise.
        report.time_ms = start.elapsed().as_micros() as f64 / 1000.0;
        Ok(report)
    }
}
