//! Opening ICMP sockets: an unprivileged datagram "ping" socket where the kernel allows one,
//! else a raw socket, and the one line that says which and why.
//!
//! Owns: every use of `socket2` in the pinger, and the reading of the kernel settings that
//! decide the mode. Must not: send or receive probes (the pinger does, on the socket returned).
//!
//! The socket is handed back as a `std::net::UdpSocket`. That type is only a datagram file
//! descriptor with `sendto`/`recvfrom` over `sockaddr_in`/`sockaddr_in6`, which is exactly what
//! both ICMP socket kinds speak; using it keeps the receive path free of `unsafe`, where
//! socket2's `recv_from` fills a `MaybeUninit` buffer that only `unsafe` code could read back.
//! None of its UDP-specific behaviour (connect, ports) is used.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use super::packet::{Framing, IcmpFamily};

/// Receive buffer asked of the kernel for each socket. Loopback floods (thousands of probes at
/// once, each also seen as a request on a raw socket) would overflow the default 208 KiB; the
/// kernel caps the request at `net.core.rmem_max` (doubled), so this is an upper bound only.
const RECV_BUFFER_BYTES: usize = 8 << 20;

/// Which kind of ICMP socket a family uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocketMode {
    /// `SOCK_DGRAM` with `IPPROTO_ICMP`/`IPPROTO_ICMPV6`: no privilege needed where
    /// `net.ipv4.ping_group_range` includes our group; the kernel sets the identifier and only
    /// delivers replies carrying it.
    Datagram,
    /// `SOCK_RAW`: needs `CAP_NET_RAW`; sees every ICMP message the host receives.
    Raw,
}

impl fmt::Display for SocketMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Datagram => "datagram (unprivileged ping socket)",
            Self::Raw => "raw (CAP_NET_RAW)",
        })
    }
}

/// A socket ready for the pinger: non-blocking, with its mode and framing.
#[derive(Debug)]
pub(super) struct Opened {
    pub(super) socket: UdpSocket,
    pub(super) mode: SocketMode,
    pub(super) framing: Framing,
    /// The identifier the kernel writes into our requests (a datagram socket's local "port");
    /// `None` for raw sockets, where the pinger chooses it.
    pub(super) kernel_ident: Option<u16>,
    /// The receive buffer the kernel granted, in bytes.
    pub(super) recv_buffer: usize,
    /// One sentence for the log: which mode and why.
    pub(super) why: String,
}

/// Neither socket kind could be opened.
#[derive(Debug)]
pub(super) struct Refused {
    /// One sentence: what was refused and what would fix it.
    pub(super) why: String,
}

fn family_name(family: IcmpFamily) -> &'static str {
    match family {
        IcmpFamily::V4 => "IPv4",
        IcmpFamily::V6 => "IPv6",
    }
}

/// Opens the ICMP socket for `family`: datagram first, raw second.
pub(super) fn open(family: IcmpFamily) -> Result<Opened, Refused> {
    let datagram = match open_datagram(family) {
        Ok(opened) => return Ok(opened),
        Err(e) => e,
    };
    let fallback_reason = datagram_refusal(&datagram);
    match open_raw(family) {
        Ok(mut opened) => {
            opened.why = format!(
                "{} ICMP: {fallback_reason}; using raw sockets (CAP_NET_RAW)",
                family_name(family)
            );
            Ok(opened)
        }
        Err(raw) => {
            let raw_reason = if raw.kind() == io::ErrorKind::PermissionDenied {
                "not permitted without CAP_NET_RAW".to_owned()
            } else {
                raw.to_string()
            };
            let why = format!(
                "no {} ICMP socket: unprivileged ping socket refused ({fallback_reason}) and raw \
                 socket refused ({raw_reason}); widen net.ipv4.ping_group_range to include our \
                 group or grant CAP_NET_RAW",
                family_name(family)
            );
            Err(Refused { why })
        }
    }
}

fn domain_and_protocol(family: IcmpFamily) -> (Domain, Protocol, IpAddr) {
    match family {
        IcmpFamily::V4 => (
            Domain::IPV4,
            Protocol::ICMPV4,
            IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        ),
        IcmpFamily::V6 => (
            Domain::IPV6,
            Protocol::ICMPV6,
            IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        ),
    }
}

fn open_datagram(family: IcmpFamily) -> io::Result<Opened> {
    let (domain, protocol, unspecified) = domain_and_protocol(family);
    let socket = Socket::new(domain, Type::DGRAM, Some(protocol))?;
    // Binding to port 0 makes the kernel pick the identifier now, so we can learn it before
    // the first probe instead of after the first send's implicit bind.
    socket.bind(&SockAddr::from(SocketAddr::new(unspecified, 0)))?;
    let ident = socket
        .local_addr()?
        .as_socket()
        .map(|a| a.port())
        .ok_or_else(|| io::Error::other("ping socket has no local address"))?;
    let framing = match family {
        IcmpFamily::V4 => Framing::Icmpv4,
        IcmpFamily::V6 => Framing::Icmpv6,
    };
    let (socket, recv_buffer) = finish(socket)?;
    Ok(Opened {
        socket,
        mode: SocketMode::Datagram,
        framing,
        kernel_ident: Some(ident),
        recv_buffer,
        why: format!(
            "{} ICMP: using unprivileged ping sockets ({})",
            family_name(family),
            group_range_description()
                .map(|(range, gid)| format!("ping_group_range {range} includes gid {gid}"))
                .unwrap_or_else(|| "ping_group_range allows it".to_owned())
        ),
    })
}

fn open_raw(family: IcmpFamily) -> io::Result<Opened> {
    let (domain, protocol, _) = domain_and_protocol(family);
    let socket = Socket::new(domain, Type::RAW, Some(protocol))?;
    let framing = match family {
        IcmpFamily::V4 => Framing::Ipv4Header,
        IcmpFamily::V6 => Framing::Icmpv6,
    };
    let (socket, recv_buffer) = finish(socket)?;
    Ok(Opened {
        socket,
        mode: SocketMode::Raw,
        framing,
        kernel_ident: None,
        recv_buffer,
        why: String::new(),
    })
}

/// Non-blocking, a large receive buffer, and the std type the pinger drives.
fn finish(socket: Socket) -> io::Result<(UdpSocket, usize)> {
    socket.set_nonblocking(true)?;
    // Best effort: a smaller buffer only makes loss under floods likelier.
    let _ = socket.set_recv_buffer_size(RECV_BUFFER_BYTES);
    let granted = socket.recv_buffer_size().unwrap_or(0);
    Ok((UdpSocket::from(socket), granted))
}

/// Why the datagram socket was refused, in words an operator can act on.
fn datagram_refusal(e: &io::Error) -> String {
    if e.kind() == io::ErrorKind::PermissionDenied {
        if let Some((range, gid)) = group_range_description() {
            return format!("ping_group_range {range} excludes gid {gid}");
        }
        return "unprivileged ping sockets refused (net.ipv4.ping_group_range)".to_owned();
    }
    format!("unprivileged ping socket failed: {e}")
}

/// `("1 0", "0")`: the current `net.ipv4.ping_group_range` (which also governs ICMPv6 ping
/// sockets) and our effective group id, both read from `/proc`.
fn group_range_description() -> Option<(String, String)> {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").ok()?;
    let range = range.split_whitespace().collect::<Vec<_>>().join(" ");
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    // "Gid:\treal\teffective\tsaved\tfs"; the kernel checks the effective group (and the
    // supplementary ones).
    let gid = status
        .lines()
        .find_map(|l| l.strip_prefix("Gid:"))?
        .split_whitespace()
        .nth(1)?
        .to_owned();
    Some((range, gid))
}
