//! Network operations. `url` holds the canonical forms the policy sees; `http` the GET
//! behind `curl` and `http_get`; `connect` the TCP reachability probe; `sockets` the socket
//! tables behind `netstat`; `interfaces` the interface list behind `ip_addr`.

mod connect;
mod http;
mod interfaces;
mod sockets;
mod url;

pub use connect::{ConnectReport, CONNECT_TIMEOUT};
pub(crate) use http::agent;
pub use http::{HttpOptions, HttpResponse};
pub use interfaces::Interface;
pub use sockets::{Socket, SocketOwner, SocketTables, UnixSocket};
pub use url::{tcp_endpoint, HttpUrl, TcpEndpoint};
