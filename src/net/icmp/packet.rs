//! ICMP echo messages as bytes: encoding Echo Requests and decoding Echo Replies for IPv4
//! (RFC 792) and IPv6 (RFC 4443), and the Internet checksum (RFC 1071).
//!
//! Owns: the wire layout only. Must not: touch sockets or clocks, or keep state; these are
//! pure functions over byte slices that allocate nothing beyond the caller's output buffer.
//!
//! Layout of an echo message (both families):
//! ```text
//!  0       1       2       3       4       5       6       7       8 ...
//! +-------+-------+-------+-------+-------+-------+-------+-------+---------------------+
//! | type  | code  |   checksum    |  identifier   |   sequence    | payload             |
//! +-------+-------+-------+-------+-------+-------+-------+-------+---------------------+
//!   v4: request 8, reply 0        big-endian      big-endian      | token (8) | padding |
//!   v6: request 128, reply 129
//! ```
//! Our payload starts with an 8-byte token chosen per pinger, then padding up to the probe's
//! size, so replies to somebody else's echo requests (another process, another pinger in this
//! one) are told apart even when identifier and sequence happen to collide.
//!
//! Checksums: ICMPv4 carries a checksum over the ICMP message alone, which we compute (a raw
//! socket sends our bytes as they are; a datagram "ping" socket recomputes it anyway). ICMPv6's
//! checksum covers a pseudo-header with both IP addresses, which we do not know on the sending
//! side; Linux computes it for every ICMPv6 socket (raw sockets have `IPV6_CHECKSUM` forced on
//! at offset 2, datagram ping sockets fill it in), so we leave it zero. On receipt, IPv4 replies
//! are verified here (raw sockets see packets before the kernel's ICMP layer checks them);
//! ICMPv6 replies are not, because the kernel already drops ICMPv6 datagrams with a bad checksum
//! before either socket kind returns them, and we lack the destination address to check it.
//!
//! Framing on receipt (Linux): a raw `AF_INET` socket returns the whole IPv4 packet, header
//! included; a datagram `AF_INET` ping socket and both `AF_INET6` kinds return the ICMP message
//! alone. [`Framing`] names the three cases.
//!
//! Bounds: decoding reads at most the slice it is given, never indexes past it and never
//! panics; every malformed input maps to a [`DecodeError`].

use std::fmt;

/// Length of an ICMP echo header (type, code, checksum, identifier, sequence).
pub const ECHO_HEADER_LEN: usize = 8;

/// Length of the per-pinger token at the start of every payload we send.
pub const TOKEN_LEN: usize = 8;

/// Shortest IPv4 header (IHL 5).
pub const IPV4_MIN_HEADER_LEN: usize = 20;

/// Largest echo payload IPv4 can carry: 65,535 minus a 20-byte IP header and the ICMP header.
pub const MAX_PAYLOAD_V4: usize = 65_535 - IPV4_MIN_HEADER_LEN - ECHO_HEADER_LEN;

/// Largest echo payload IPv6 can carry without jumbograms: the 16-bit payload length minus the
/// ICMPv6 header (the fixed IPv6 header is not counted in the payload length).
pub const MAX_PAYLOAD_V6: usize = 65_535 - ECHO_HEADER_LEN;

/// ICMPv4 Echo Reply type.
pub const ICMPV4_ECHO_REPLY: u8 = 0;
/// ICMPv4 Echo Request type.
pub const ICMPV4_ECHO_REQUEST: u8 = 8;
/// ICMPv6 Echo Request type.
pub const ICMPV6_ECHO_REQUEST: u8 = 128;
/// ICMPv6 Echo Reply type.
pub const ICMPV6_ECHO_REPLY: u8 = 129;

/// IP protocol number of ICMP, as found in an IPv4 header.
const IPPROTO_ICMP: u8 = 1;

/// Which ICMP the bytes are: IPv4's (RFC 792) or IPv6's (RFC 4443).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IcmpFamily {
    /// ICMP for IPv4.
    V4,
    /// ICMPv6.
    V6,
}

impl IcmpFamily {
    /// The Echo Request type of this family.
    pub fn echo_request_type(self) -> u8 {
        match self {
            Self::V4 => ICMPV4_ECHO_REQUEST,
            Self::V6 => ICMPV6_ECHO_REQUEST,
        }
    }

    /// The Echo Reply type of this family.
    pub fn echo_reply_type(self) -> u8 {
        match self {
            Self::V4 => ICMPV4_ECHO_REPLY,
            Self::V6 => ICMPV6_ECHO_REPLY,
        }
    }

    /// Largest echo payload this family can carry.
    pub fn max_payload(self) -> usize {
        match self {
            Self::V4 => MAX_PAYLOAD_V4,
            Self::V6 => MAX_PAYLOAD_V6,
        }
    }
}

/// How a received datagram is framed, which depends on the socket it came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Framing {
    /// Raw `AF_INET` socket: an IPv4 header (length from its IHL field), then ICMP.
    Ipv4Header,
    /// Datagram `AF_INET` ping socket: the ICMP message alone.
    Icmpv4,
    /// Any `AF_INET6` ICMP socket: the ICMPv6 message alone.
    Icmpv6,
}

impl Framing {
    /// The ICMP family inside this framing.
    pub fn family(self) -> IcmpFamily {
        match self {
            Self::Ipv4Header | Self::Icmpv4 => IcmpFamily::V4,
            Self::Icmpv6 => IcmpFamily::V6,
        }
    }
}

/// A decoded Echo Reply, borrowing its payload from the received datagram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EchoReply<'a> {
    /// Identifier, as sent by the requester (for a datagram socket: the socket's local port).
    pub ident: u16,
    /// Sequence number, as sent by the requester.
    pub seq: u16,
    /// Everything after the 8-byte echo header.
    pub payload: &'a [u8],
}

/// Why a datagram is not an Echo Reply we can use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than the headers it must hold.
    Truncated {
        /// Bytes the headers need.
        needed: usize,
        /// Bytes there were.
        got: usize,
    },
    /// The IPv4 header's version field is not 4.
    NotIpv4 {
        /// The version found.
        version: u8,
    },
    /// The IPv4 header length (IHL × 4) is below 20 or beyond the total length.
    BadIpHeaderLength {
        /// IHL × 4.
        header_len: usize,
        /// The IPv4 total length field.
        total_len: usize,
    },
    /// The IPv4 packet carries another protocol than ICMP.
    NotIcmp {
        /// The protocol number found.
        protocol: u8,
    },
    /// A well-formed ICMP message of another type: our own echo requests looped back on a raw
    /// socket, errors such as Destination Unreachable, neighbour discovery on IPv6, …
    NotEchoReply {
        /// ICMP type.
        kind: u8,
        /// ICMP code.
        code: u8,
    },
    /// The ICMPv4 checksum does not verify.
    BadChecksum,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::Truncated { needed, got } => {
                write!(f, "truncated datagram: need {needed} bytes, got {got}")
            }
            Self::NotIpv4 { version } => write!(f, "not an IPv4 packet (version {version})"),
            Self::BadIpHeaderLength {
                header_len,
                total_len,
            } => write!(
                f,
                "bad IPv4 header length {header_len} (total length {total_len})"
            ),
            Self::NotIcmp { protocol } => write!(f, "not ICMP (IP protocol {protocol})"),
            Self::NotEchoReply { kind, code } => {
                write!(f, "not an echo reply (ICMP type {kind}, code {code})")
            }
            Self::BadChecksum => f.write_str("bad ICMP checksum"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// The Internet checksum (RFC 1071) of `data`: the ones' complement of the ones' complement sum
/// of its big-endian 16-bit words, an odd last byte padded with zero.
///
/// A message whose checksum field is filled in correctly sums to zero here.
pub fn internet_checksum(data: &[u8]) -> u16 {
    let mut words = data.chunks_exact(2);
    // A u64 accumulator cannot overflow for any slice that fits in memory: each word adds at
    // most 0xffff, and 2^48 words would be 512 TiB.
    let mut sum: u64 = words
        .by_ref()
        .map(|w| u64::from(u16::from_be_bytes([w[0], w[1]])))
        .sum();
    if let [last] = words.remainder() {
        sum += u64::from(u16::from_be_bytes([*last, 0]));
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    // The loop leaves at most 16 bits.
    !(sum as u16)
}

/// Payload length actually sent for a probe of `bytes`: the token always travels, so at least
/// [`TOKEN_LEN`].
pub fn payload_len(bytes: usize) -> usize {
    bytes.max(TOKEN_LEN)
}

/// Writes the payload of our echo requests into `out` (cleared first): the `token`, then
/// padding bytes counting up from 0 (mod 256) until [`payload_len`]`(bytes)` bytes.
pub fn write_payload(out: &mut Vec<u8>, token: [u8; TOKEN_LEN], bytes: usize) {
    out.clear();
    out.extend_from_slice(&token);
    // Truncation to u8 is the pattern itself: 0, 1, …, 255, 0, 1, …
    out.extend((0..payload_len(bytes) - TOKEN_LEN).map(|i| i as u8));
}

/// Writes an echo message of ICMP `kind` into `out` (cleared first); for IPv4 the checksum is
/// filled in, for IPv6 it is left zero for the kernel (see the module docs).
fn encode_echo(
    out: &mut Vec<u8>,
    family: IcmpFamily,
    kind: u8,
    ident: u16,
    seq: u16,
    payload: &[u8],
) {
    out.clear();
    out.reserve(ECHO_HEADER_LEN + payload.len());
    out.extend_from_slice(&[kind, 0, 0, 0]);
    out.extend_from_slice(&ident.to_be_bytes());
    out.extend_from_slice(&seq.to_be_bytes());
    out.extend_from_slice(payload);
    if family == IcmpFamily::V4 {
        let sum = internet_checksum(out).to_be_bytes();
        if let Some(field) = out.get_mut(2..4) {
            field.copy_from_slice(&sum);
        }
    }
}

/// Writes an Echo Request (IPv4 type 8 or IPv6 type 128) into `out`, replacing its contents.
pub fn encode_echo_request(
    out: &mut Vec<u8>,
    family: IcmpFamily,
    ident: u16,
    seq: u16,
    payload: &[u8],
) {
    encode_echo(out, family, family.echo_request_type(), ident, seq, payload);
}

/// Writes an Echo Reply (IPv4 type 0 or IPv6 type 129) into `out`, replacing its contents: what
/// a peer answers. For tests, fuzzing and anyone simulating a peer; the pinger never sends one.
pub fn encode_echo_reply(
    out: &mut Vec<u8>,
    family: IcmpFamily,
    ident: u16,
    seq: u16,
    payload: &[u8],
) {
    encode_echo(out, family, family.echo_reply_type(), ident, seq, payload);
}

/// Splits the ICMP message out of a raw IPv4 packet.
fn strip_ipv4_header(buf: &[u8]) -> Result<&[u8], DecodeError> {
    let got = buf.len();
    let (&[ver_ihl, _tos, tl_hi, tl_lo], rest) =
        split_array::<4>(buf).ok_or(DecodeError::Truncated {
            needed: IPV4_MIN_HEADER_LEN,
            got,
        })?;
    let version = ver_ihl >> 4;
    if version != 4 {
        return Err(DecodeError::NotIpv4 { version });
    }
    let header_len = usize::from(ver_ihl & 0x0f) * 4;
    let total_len = usize::from(u16::from_be_bytes([tl_hi, tl_lo]));
    if got < IPV4_MIN_HEADER_LEN {
        return Err(DecodeError::Truncated {
            needed: IPV4_MIN_HEADER_LEN,
            got,
        });
    }
    if header_len < IPV4_MIN_HEADER_LEN || header_len > total_len {
        return Err(DecodeError::BadIpHeaderLength {
            header_len,
            total_len,
        });
    }
    if got < total_len {
        return Err(DecodeError::Truncated {
            needed: total_len,
            got,
        });
    }
    // Protocol is byte 9; `rest` starts at byte 4 and holds at least 16 more bytes here.
    let protocol = rest.get(5).copied().unwrap_or(0);
    if protocol != IPPROTO_ICMP {
        return Err(DecodeError::NotIcmp { protocol });
    }
    // Bytes past the total length (link padding) are not part of the packet.
    buf.get(header_len..total_len)
        .ok_or(DecodeError::Truncated {
            needed: total_len,
            got,
        })
}

/// The first `N` bytes as an array and the rest, or `None` if `buf` is shorter.
fn split_array<const N: usize>(buf: &[u8]) -> Option<(&[u8; N], &[u8])> {
    let (head, rest) = buf.split_at_checked(N)?;
    Some((head.try_into().ok()?, rest))
}

/// Decodes an Echo Reply from a datagram framed as `framing` says.
///
/// # Errors
/// [`DecodeError`] for anything that is not a complete, well-formed Echo Reply of the framing's
/// family (with a valid checksum for IPv4).
pub fn decode_echo_reply(buf: &[u8], framing: Framing) -> Result<EchoReply<'_>, DecodeError> {
    let icmp = match framing {
        Framing::Ipv4Header => strip_ipv4_header(buf)?,
        Framing::Icmpv4 | Framing::Icmpv6 => buf,
    };
    let family = framing.family();
    let (&[kind, code, _c0, _c1, id_hi, id_lo, seq_hi, seq_lo], payload) =
        split_array::<ECHO_HEADER_LEN>(icmp).ok_or(DecodeError::Truncated {
            needed: ECHO_HEADER_LEN,
            got: icmp.len(),
        })?;
    // RFC 792 and 4443 define only code 0 for echo replies; like ping and fping we accept any
    // code rather than lose a reply from a peer that sets it.
    if kind != family.echo_reply_type() {
        return Err(DecodeError::NotEchoReply { kind, code });
    }
    if family == IcmpFamily::V4 && internet_checksum(icmp) != 0 {
        return Err(DecodeError::BadChecksum);
    }
    Ok(EchoReply {
        ident: u16::from_be_bytes([id_hi, id_lo]),
        seq: u16::from_be_bytes([seq_hi, seq_lo]),
        payload,
    })
}

/// Wraps an ICMP message in a minimal IPv4 header (IHL 5, TTL 64, protocol ICMP, header
/// checksum filled in) as a raw `AF_INET` socket would return it. For tests and fuzzing.
///
/// Returns `None` when the packet would exceed 65,535 bytes.
pub fn wrap_ipv4(src: [u8; 4], dst: [u8; 4], icmp: &[u8]) -> Option<Vec<u8>> {
    let total = u16::try_from(IPV4_MIN_HEADER_LEN + icmp.len()).ok()?;
    let mut out = Vec::with_capacity(usize::from(total));
    out.extend_from_slice(&[0x45, 0]);
    out.extend_from_slice(&total.to_be_bytes());
    out.extend_from_slice(&[0, 0, 0x40, 0, 64, IPPROTO_ICMP, 0, 0]);
    out.extend_from_slice(&src);
    out.extend_from_slice(&dst);
    let sum = internet_checksum(&out).to_be_bytes();
    out.get_mut(10..12)?.copy_from_slice(&sum);
    out.extend_from_slice(icmp);
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn checksum_matches_rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2 (ones' complement sum).
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(internet_checksum(&data), !0xddf2);
        assert_eq!(internet_checksum(&[]), 0xffff);
        // An odd byte is padded with zero on the right.
        assert_eq!(internet_checksum(&[0x12]), !0x1200);
    }

    #[test]
    fn echo_request_v4_has_type_8_and_a_valid_checksum() {
        let mut out = Vec::new();
        encode_echo_request(&mut out, IcmpFamily::V4, 0x1234, 0xabcd, b"hello");
        assert_eq!(&out[..2], &[8, 0]);
        assert_eq!(&out[4..8], &[0x12, 0x34, 0xab, 0xcd]);
        assert_eq!(&out[8..], b"hello");
        assert_eq!(internet_checksum(&out), 0);
    }

    #[test]
    fn echo_request_v6_has_type_128_and_leaves_the_checksum_to_the_kernel() {
        let mut out = Vec::new();
        encode_echo_request(&mut out, IcmpFamily::V6, 7, 9, b"abc");
        assert_eq!(&out[..8], &[128, 0, 0, 0, 0, 7, 0, 9]);
    }

    #[test]
    fn payload_starts_with_the_token_and_has_the_probe_size() {
        let mut p = Vec::new();
        write_payload(&mut p, *b"TOKEN123", 56);
        assert_eq!(p.len(), 56);
        assert_eq!(&p[..8], b"TOKEN123");
        assert_eq!(p[8], 0);
        assert_eq!(p[55], 47);
        write_payload(&mut p, *b"TOKEN123", 3);
        assert_eq!(p, b"TOKEN123");
    }

    #[test]
    fn decode_skips_the_ipv4_header_by_ihl() {
        let mut icmp = Vec::new();
        encode_echo_reply(&mut icmp, IcmpFamily::V4, 1, 2, b"payload!");
        let mut pkt = wrap_ipv4([127, 0, 0, 1], [127, 0, 0, 1], &icmp).unwrap();
        // Grow the header to IHL 6 with a 4-byte option (NOPs).
        pkt[0] = 0x46;
        let total = u16::try_from(pkt.len() + 4).unwrap().to_be_bytes();
        pkt[2..4].copy_from_slice(&total);
        pkt.splice(20..20, [1, 1, 1, 1]);
        let reply = decode_echo_reply(&pkt, Framing::Ipv4Header).unwrap();
        assert_eq!(
            reply,
            EchoReply {
                ident: 1,
                seq: 2,
                payload: b"payload!"
            }
        );
        // Link padding past the total length is ignored.
        pkt.extend_from_slice(&[0, 0]);
        assert!(decode_echo_reply(&pkt, Framing::Ipv4Header).is_ok());
    }

    #[test]
    fn decode_rejects_requests_errors_and_damage() {
        let mut icmp = Vec::new();
        encode_echo_request(&mut icmp, IcmpFamily::V4, 1, 2, b"x");
        assert_eq!(
            decode_echo_reply(&icmp, Framing::Icmpv4),
            Err(DecodeError::NotEchoReply { kind: 8, code: 0 })
        );
        encode_echo_reply(&mut icmp, IcmpFamily::V4, 1, 2, b"x");
        icmp[8] ^= 0xff;
        assert_eq!(
            decode_echo_reply(&icmp, Framing::Icmpv4),
            Err(DecodeError::BadChecksum)
        );
        assert_eq!(
            decode_echo_reply(&icmp[..7], Framing::Icmpv4),
            Err(DecodeError::Truncated { needed: 8, got: 7 })
        );
        // Destination Unreachable (3/1) quoting something.
        let unreachable = [3, 1, 0, 0, 0, 0, 0, 0, 0x45];
        assert_eq!(
            decode_echo_reply(&unreachable, Framing::Icmpv6),
            Err(DecodeError::NotEchoReply { kind: 3, code: 1 })
        );
        // A v4 reply type is not a v6 reply.
        encode_echo_reply(&mut icmp, IcmpFamily::V4, 1, 2, b"x");
        assert!(matches!(
            decode_echo_reply(&icmp, Framing::Icmpv6),
            Err(DecodeError::NotEchoReply { kind: 0, .. })
        ));
    }

    #[test]
    fn decode_rejects_bad_ipv4_headers() {
        let mut icmp = Vec::new();
        encode_echo_reply(&mut icmp, IcmpFamily::V4, 1, 2, b"x");
        let good = wrap_ipv4([127, 0, 0, 1], [127, 0, 0, 1], &icmp).unwrap();
        let mut p = good.clone();
        p[0] = 0x65;
        assert_eq!(
            decode_echo_reply(&p, Framing::Ipv4Header),
            Err(DecodeError::NotIpv4 { version: 6 })
        );
        let mut p = good.clone();
        p[0] = 0x44;
        assert!(matches!(
            decode_echo_reply(&p, Framing::Ipv4Header),
            Err(DecodeError::BadIpHeaderLength { header_len: 16, .. })
        ));
        let mut p = good.clone();
        p[9] = 6;
        assert_eq!(
            decode_echo_reply(&p, Framing::Ipv4Header),
            Err(DecodeError::NotIcmp { protocol: 6 })
        );
        assert_eq!(
            decode_echo_reply(&good[..good.len() - 1], Framing::Ipv4Header),
            Err(DecodeError::Truncated {
                needed: good.len(),
                got: good.len() - 1
            })
        );
        assert_eq!(
            decode_echo_reply(&good[..3], Framing::Ipv4Header),
            Err(DecodeError::Truncated { needed: 20, got: 3 })
        );
        // IHL says 60 bytes of header but the total length is only 29.
        let mut p = good;
        p[0] = 0x4f;
        assert!(matches!(
            decode_echo_reply(&p, Framing::Ipv4Header),
            Err(DecodeError::BadIpHeaderLength { header_len: 60, .. })
        ));
    }

    #[test]
    fn decode_error_messages_are_lowercase_and_specific() {
        let e = DecodeError::Truncated { needed: 8, got: 3 };
        assert_eq!(e.to_string(), "truncated datagram: need 8 bytes, got 3");
        let e = DecodeError::NotEchoReply { kind: 3, code: 1 };
        assert_eq!(e.to_string(), "not an echo reply (ICMP type 3, code 1)");
    }

    proptest! {
        #[test]
        fn reply_round_trips_in_every_framing(
            ident: u16,
            seq: u16,
            payload in proptest::collection::vec(any::<u8>(), 0..600),
        ) {
            let mut icmp = Vec::new();
            for (family, framing) in [
                (IcmpFamily::V4, Framing::Icmpv4),
                (IcmpFamily::V6, Framing::Icmpv6),
            ] {
                encode_echo_reply(&mut icmp, family, ident, seq, &payload);
                let reply = decode_echo_reply(&icmp, framing).unwrap();
                prop_assert_eq!(reply, EchoReply { ident, seq, payload: &payload });
            }
            encode_echo_reply(&mut icmp, IcmpFamily::V4, ident, seq, &payload);
            let pkt = wrap_ipv4([10, 0, 0, 1], [10, 0, 0, 2], &icmp).unwrap();
            let reply = decode_echo_reply(&pkt, Framing::Ipv4Header).unwrap();
            prop_assert_eq!(reply, EchoReply { ident, seq, payload: &payload });
        }

        #[test]
        fn a_request_is_never_taken_for_a_reply(
            ident: u16,
            seq: u16,
            payload in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut icmp = Vec::new();
            encode_echo_request(&mut icmp, IcmpFamily::V4, ident, seq, &payload);
            prop_assert_eq!(internet_checksum(&icmp), 0);
            let is_not_reply = matches!(
                decode_echo_reply(&icmp, Framing::Icmpv4),
                Err(DecodeError::NotEchoReply { kind: 8, .. })
            );
            prop_assert!(is_not_reply);
        }

        #[test]
        fn decode_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..128)) {
            for framing in [Framing::Ipv4Header, Framing::Icmpv4, Framing::Icmpv6] {
                let _ = decode_echo_reply(&bytes, framing);
            }
        }
    }
}
