//! The property the fuzz target (`fuzz/fuzz_targets/icmp_packet.rs`) checks, shared with the
//! seed-replay test so CI runs the same property on every seed in `fuzz/seeds/icmp/`. Not part
//! of the API.

use super::packet::{
    DecodeError, ECHO_HEADER_LEN, Framing, IcmpFamily, decode_echo_reply, encode_echo_reply,
    encode_echo_request, internet_checksum, wrap_ipv4,
};

/// Checks, for arbitrary bytes `data`:
/// - decoding them in each of the three framings returns without panicking, and a reply it
///   accepts is consistent: its payload is the tail of the message (of `data`, or of the IPv4
///   packet's total length), and for IPv4 the message checksums to zero;
/// - read as a probe (`ident`, `seq` from the first 4 bytes, the rest as payload), an encoded
///   reply decodes back to exactly those values in every framing (IPv4 inside a header too),
///   and an encoded request is never taken for a reply.
///
/// Returns how many framings accepted `data` as an Echo Reply, or a description of the first
/// violation. Never panics itself, so a panic under the fuzzer is the codec's.
pub fn packet_property(data: &[u8]) -> Result<usize, String> {
    let mut accepted = 0;
    for framing in [Framing::Ipv4Header, Framing::Icmpv4, Framing::Icmpv6] {
        match decode_echo_reply(data, framing) {
            Ok(reply) => {
                accepted += 1;
                // The message ends where the input does, except in an IPv4 packet, which ends
                // at its total length (bytes after it are link padding).
                let end = match framing {
                    Framing::Ipv4Header => data
                        .get(2..4)
                        .map_or(0, |b| usize::from(u16::from_be_bytes([b[0], b[1]]))),
                    Framing::Icmpv4 | Framing::Icmpv6 => data.len(),
                };
                if !data.get(..end).is_some_and(|m| m.ends_with(reply.payload)) {
                    return Err(format!(
                        "{framing:?}: payload is not the tail of the message"
                    ));
                }
                if framing == Framing::Icmpv4 && internet_checksum(data) != 0 {
                    return Err("Icmpv4: accepted a message with a bad checksum".to_owned());
                }
            }
            Err(DecodeError::Truncated { needed, got }) if needed <= got => {
                return Err(format!(
                    "{framing:?}: truncated with needed {needed} <= {got}"
                ));
            }
            Err(_) => {}
        }
    }

    let (ident, seq, payload) = match data {
        [a, b, c, d, rest @ ..] => (
            u16::from_be_bytes([*a, *b]),
            u16::from_be_bytes([*c, *d]),
            rest,
        ),
        _ => return Ok(accepted),
    };
    let mut icmp = Vec::with_capacity(ECHO_HEADER_LEN + payload.len());
    for (family, framing) in [
        (IcmpFamily::V4, Framing::Icmpv4),
        (IcmpFamily::V6, Framing::Icmpv6),
    ] {
        encode_echo_reply(&mut icmp, family, ident, seq, payload);
        check_reply(&icmp, framing, ident, seq, payload)?;
        if family == IcmpFamily::V4 {
            if let Some(packet) = wrap_ipv4([127, 0, 0, 1], [127, 0, 0, 2], &icmp) {
                check_reply(&packet, Framing::Ipv4Header, ident, seq, payload)?;
            }
        }
        encode_echo_request(&mut icmp, family, ident, seq, payload);
        if decode_echo_reply(&icmp, framing).is_ok() {
            return Err(format!("{framing:?}: an echo request decoded as a reply"));
        }
    }
    Ok(accepted)
}

fn check_reply(
    bytes: &[u8],
    framing: Framing,
    ident: u16,
    seq: u16,
    payload: &[u8],
) -> Result<(), String> {
    match decode_echo_reply(bytes, framing) {
        Ok(r) if r.ident == ident && r.seq == seq && r.payload == payload => Ok(()),
        Ok(r) => Err(format!(
            "{framing:?}: round trip changed ident/seq {ident}/{seq} to {}/{}",
            r.ident, r.seq
        )),
        Err(e) => Err(format!("{framing:?}: encoded reply did not decode: {e}")),
    }
}
