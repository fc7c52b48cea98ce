//! The async pinger: fping's probe schedule and statistics over one shared socket per address
//! family.
//!
//! Owns: the probe schedule of one `ping` call, the table of probes awaiting a reply, the
//! receive loop that matches replies to them, and the statistics of a result. Must not: decide
//! when or what to ping (the check scheduler does) or know what a target is.
//!
//! How it works:
//! - Each family's socket is opened on first use (see `socket.rs` for the mode choice) and
//!   registered with tokio's reactor; one receive task per socket, owned by the [`Pinger`] and
//!   aborted when it is dropped, waits for readiness, drains every datagram until `WouldBlock`
//!   and settles the probe each reply belongs to. The registration goes through
//!   `tokio::net::UdpSocket::from_std`, which wraps any datagram descriptor (raw and ping
//!   sockets included) and offers the same `readable` / `try_recv_from` drain as
//!   `tokio::io::unix::AsyncFd`: since tokio 1.54 AsyncFd's safe constructors are deprecated in
//!   favour of an `unsafe` one, and this crate denies `unsafe`. Each sender also drains the
//!   socket once right after its send, through a second descriptor, so a burst of thousands of
//!   probes cannot fill the receive buffer while the receive task waits in the run queue.
//! - A probe waiting for its reply is one entry in a `HashMap` keyed by (target address,
//!   sequence number), holding the send instant and a handle to its `ping` call's shared state.
//!   Sequence numbers come from one 16-bit counter per socket; a number still in use for the
//!   same target is skipped, so keys never collide as long as one target has fewer than 65,536
//!   probes in flight.
//! - A reply counts only if it carries our identifier (ours on raw sockets, the kernel's on
//!   datagram ones), starts its payload with this pinger's token and has the length we sent.
//!   Raw sockets see every ICMP message the host receives, our own requests to loopback
//!   included; everything else is dropped after decoding.
//! - No task, socket or timer per probe: a `ping` call sleeps until each send time in turn,
//!   then waits once, until every probe is settled or the last probe's timeout has passed.
//!   A probe whose reply comes later than its own timeout counts as lost, as in fping (`-t`
//!   is per probe).
//!
//! RTTs are measured with [`Instant`] (monotonic) from just before `sendto` to the moment the
//! reply was read (by a sender's drain or the receive task), so any delay before that read is
//! included: on an idle loopback that is a few microseconds more than fping, which reads kernel
//! receive timestamps. Those (`SO_TIMESTAMPNS`) are not used here: they arrive as control
//! messages of `recvmsg`, which socket2 exposes only through `MaybeUninit` buffers that need
//! `unsafe` to read, and they are wall-clock time, which would have to be related to the
//! monotonic send time.
//!
//! Timing granularity: sends wait on tokio's timer, which has millisecond resolution, so each
//! probe leaves at its scheduled instant or up to about a millisecond later (fping's `-p` is
//! milliseconds too). IPv6 link-local targets would need a scope id, which [`IpAddr`] cannot
//! carry; they are not supported.
//!
//! Send errors (no route, unreachable network, prohibited) make that probe lost, like fping;
//! they do not fail the call. [`PingError`] is for a call that cannot run at all.

use std::collections::HashMap;
use std::fmt;
use std::hash::{BuildHasher, Hash, Hasher};
use std::io;
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::task::AbortHandle;
use tracing::{debug, info, trace, warn};

use super::packet::{
    Framing, IcmpFamily, TOKEN_LEN, decode_echo_reply, encode_echo_request, payload_len,
    write_payload,
};
use super::socket::{self, SocketMode};

/// Most probes one `ping` call may send.
pub const MAX_COUNT: u32 = 100_000;

/// Longest interval or timeout a probe may ask for.
pub const MAX_PROBE_DURATION: Duration = Duration::from_secs(3600);

/// Receive buffer of the receive loop: the largest IPv4 datagram fits.
const DATAGRAM_BUFFER: usize = 65_536;

/// Datagrams the receive loop handles before yielding to other tasks, so a flood cannot hold a
/// worker thread.
const DRAIN_BUDGET: usize = 512;

/// Consecutive receive errors after which the loop pauses instead of retrying at once.
const ERROR_BURST: u32 = 64;

/// What to send to one target: fping's `-c count -p interval -b bytes -t timeout`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Probe {
    /// Echo requests to send (`-c`).
    pub count: u32,
    /// Time between two requests to the target (`-p`).
    pub interval: Duration,
    /// Payload bytes per request (`-b`); at least the 8-byte token is always sent.
    pub bytes: usize,
    /// How long each request waits for its reply (`-t`, per probe).
    pub timeout: Duration,
}

impl Default for Probe {
    /// OpenWISP's ping check defaults: 5 probes, 25 ms apart, 56 bytes, 800 ms timeout.
    fn default() -> Self {
        Self {
            count: 5,
            interval: Duration::from_millis(25),
            bytes: 56,
            timeout: Duration::from_millis(800),
        }
    }
}

impl Probe {
    fn validate(&self, family: IcmpFamily) -> Result<(), PingError> {
        if self.count == 0 || self.count > MAX_COUNT {
            return Err(PingError::InvalidProbe(format!(
                "count {} is outside 1..={MAX_COUNT}",
                self.count
            )));
        }
        if payload_len(self.bytes) > family.max_payload() {
            return Err(PingError::InvalidProbe(format!(
                "{} payload bytes exceed the {} that fit in one datagram",
                self.bytes,
                family.max_payload()
            )));
        }
        if self.interval > MAX_PROBE_DURATION || self.timeout > MAX_PROBE_DURATION {
            return Err(PingError::InvalidProbe(format!(
                "interval {:?} or timeout {:?} exceeds {MAX_PROBE_DURATION:?}",
                self.interval, self.timeout
            )));
        }
        Ok(())
    }
}

/// The outcome of one `ping` call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PingResult {
    /// Requests sent, counting those the kernel refused to send (as fping does).
    pub sent: u32,
    /// Replies received within their probe's timeout.
    pub received: u32,
    /// One entry per probe, in send order: its round-trip time, or `None` if it was lost.
    pub rtts: Vec<Option<Duration>>,
}

impl PingResult {
    /// Whether any reply came back (OpenWISP's `reachable`: loss below 100 %).
    pub fn reachable(&self) -> bool {
        self.received > 0
    }

    /// Loss in percent as fping prints it: `(sent − received) × 100 / sent` in integer
    /// arithmetic, so 1 lost of 3 is 33.0; 0 when nothing was sent.
    pub fn loss_percent(&self) -> f64 {
        if self.sent == 0 {
            return 0.0;
        }
        let lost = u64::from(self.sent.saturating_sub(self.received));
        (lost * 100 / u64::from(self.sent)) as f64
    }

    fn received_ms(&self) -> impl Iterator<Item = f64> + '_ {
        self.rtts.iter().flatten().map(|d| d.as_secs_f64() * 1e3)
    }

    /// Minimum, mean and maximum RTT of the received replies in milliseconds (unrounded; fping
    /// prints them with two or three decimals), or `None` if none came back.
    pub fn rtt_min_avg_max_ms(&self) -> Option<(f64, f64, f64)> {
        let (mut min, mut max, mut sum, mut n) = (f64::INFINITY, 0.0_f64, 0.0, 0u32);
        for ms in self.received_ms() {
            min = min.min(ms);
            max = max.max(ms);
            sum += ms;
            n += 1;
        }
        (n > 0).then(|| (min, sum / f64::from(n), max))
    }

    /// Jitter in milliseconds: the mean absolute difference between consecutive received RTTs
    /// (lost probes skipped), or `None` with fewer than two replies.
    pub fn jitter_ms(&self) -> Option<f64> {
        let mut prev: Option<f64> = None;
        let (mut sum, mut n) = (0.0, 0u32);
        for ms in self.received_ms() {
            if let Some(p) = prev {
                sum += (ms - p).abs();
                n += 1;
            }
            prev = Some(ms);
        }
        (n > 0).then(|| sum / f64::from(n))
    }
}

/// Why a `ping` call could not run at all (lost probes are a result, not an error).
#[derive(Debug, thiserror::Error)]
pub enum PingError {
    /// Neither an unprivileged ping socket nor a raw socket could be opened for the family.
    #[error("{0}")]
    NoSocket(String),
    /// The probe's parameters are out of range.
    #[error("invalid probe: {0}")]
    InvalidProbe(String),
    /// Not called from within a tokio runtime, or the socket could not be registered with it.
    #[error("cannot register the ICMP socket with the tokio runtime: {0}")]
    Runtime(#[source] io::Error),
}

/// Pings targets over shared ICMP sockets; cheap to share as `Arc<Pinger>` between tasks.
///
/// Each family's socket and receive task are created on first use and belong to the tokio
/// runtime that first used them; they end when the `Pinger` is dropped. If that runtime shuts
/// down first, the next call reopens the socket on the caller's runtime.
pub struct Pinger {
    /// Starts the payload of every request; replies without it are somebody else's.
    token: [u8; TOKEN_LEN],
    /// Identifier of our requests on raw sockets (datagram sockets get the kernel's).
    raw_ident: u16,
    v4: Slot,
    v6: Slot,
}

impl fmt::Debug for Pinger {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pinger")
            .field("raw_ident", &self.raw_ident)
            .field("v4", &self.mode(false))
            .field("v6", &self.mode(true))
            .finish_non_exhaustive()
    }
}

impl Default for Pinger {
    fn default() -> Self {
        Self::new()
    }
}

/// One family's socket, opened lazily.
#[derive(Default)]
struct Slot {
    open: Mutex<Option<(Arc<Channel>, AbortHandle)>>,
    /// The mode line is logged once per family and pinger.
    announced: AtomicBool,
    /// So is a refusal, or 10,000 checks would log 10,000 of them.
    refusal_logged: AtomicBool,
}

/// An open socket with its table of waiting probes.
struct Channel {
    socket: tokio::net::UdpSocket,
    /// A second descriptor of the same socket, read directly by senders (see `drain_now`).
    direct: UdpSocket,
    /// The buffer for `drain_now`; whoever holds it drains, the others need not.
    direct_buf: Mutex<Vec<u8>>,
    mode: SocketMode,
    framing: Framing,
    family: IcmpFamily,
    /// The identifier our requests carry on the wire.
    ident: u16,
    token: [u8; TOKEN_LEN],
    pending: Mutex<Pending>,
    /// Cleared when the receive loop ends (runtime shut down, socket failed).
    alive: AtomicBool,
}

struct Pending {
    next_seq: u16,
    probes: HashMap<(IpAddr, u16), Waiting>,
}

/// A probe that was sent and has no reply yet.
struct Waiting {
    ping: Arc<PingState>,
    index: u32,
    sent_at: Instant,
}

/// What the receive loop and a `ping` call share.
struct PingState {
    /// Nanoseconds per probe; `LOST` until a reply in time arrives.
    rtt_nanos: Box<[AtomicU64]>,
    /// Probes neither answered nor known lost yet.
    unsettled: AtomicU32,
    /// Signalled when `unsettled` reaches zero.
    done: Notify,
    timeout: Duration,
    payload_len: usize,
}

const LOST: u64 = u64::MAX;

impl PingState {
    fn new(probe: &Probe) -> Self {
        Self {
            rtt_nanos: (0..probe.count).map(|_| AtomicU64::new(LOST)).collect(),
            unsettled: AtomicU32::new(probe.count),
            done: Notify::new(),
            timeout: probe.timeout,
            payload_len: payload_len(probe.bytes),
        }
    }

    /// Records the fate of probe `index`: answered after `rtt`, or lost (`None`, or an RTT
    /// beyond the timeout).
    fn settle(&self, index: u32, rtt: Option<Duration>) {
        if let Some(rtt) = rtt.filter(|rtt| *rtt <= self.timeout) {
            let nanos = u64::try_from(rtt.as_nanos()).unwrap_or(LOST - 1);
            if let Some(slot) = self.rtt_nanos.get(index as usize) {
                slot.store(nanos, Ordering::Release);
            }
        }
        if self.unsettled.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.done.notify_one();
        }
    }

    fn result(&self) -> PingResult {
        let rtts: Vec<Option<Duration>> = self
            .rtt_nanos
            .iter()
            .map(|a| match a.load(Ordering::Acquire) {
                LOST => None,
                n => Some(Duration::from_nanos(n)),
            })
            .collect();
        let received = rtts.iter().filter(|r| r.is_some()).count();
        PingResult {
            sent: u32::try_from(rtts.len()).unwrap_or(u32::MAX),
            received: u32::try_from(received).unwrap_or(u32::MAX),
            rtts,
        }
    }
}

/// 64 bits that differ between pingers, processes and runs. Not a secret: it only keeps our
/// replies apart from other pingers' (the random source proper belongs to `domain/id.rs`).
fn nonce() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // RandomState's keys are seeded from the OS once per thread and then varied per instance.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.write_u32(std::process::id());
    Instant::now().hash(&mut h);
    h.finish()
}

impl Pinger {
    /// A pinger with a fresh identifier and token. Opens nothing yet: sockets are opened by
    /// the first [`ping`](Self::ping) or [`open`](Self::open) of each family.
    pub fn new() -> Self {
        let token = nonce().to_be_bytes();
        // Truncation keeps 16 of the nonce's bits: any 16 bits serve as an identifier.
        let raw_ident = nonce() as u16;
        Self {
            token,
            raw_ident,
            v4: Slot::default(),
            v6: Slot::default(),
        }
    }

    fn slot(&self, family: IcmpFamily) -> &Slot {
        match family {
            IcmpFamily::V4 => &self.v4,
            IcmpFamily::V6 => &self.v6,
        }
    }

    /// The socket kind in use for IPv6 (`v6`) or IPv4, or `None` while it is not open.
    pub fn mode(&self, v6: bool) -> Option<SocketMode> {
        let family = if v6 { IcmpFamily::V6 } else { IcmpFamily::V4 };
        let open = self.slot(family).open.lock();
        open.as_ref()
            .filter(|(c, _)| c.alive.load(Ordering::Acquire))
            .map(|(c, _)| c.mode)
    }

    /// Opens the IPv6 (`v6`) or IPv4 socket now if it is not open yet, and tells its kind.
    ///
    /// # Errors
    /// [`PingError::NoSocket`] when neither socket kind is allowed, [`PingError::Runtime`]
    /// outside a tokio runtime.
    ///
    /// # Panics
    /// On a tokio runtime built without I/O or time enabled, like every tokio socket.
    pub fn open(&self, v6: bool) -> Result<SocketMode, PingError> {
        let family = if v6 { IcmpFamily::V6 } else { IcmpFamily::V4 };
        self.channel(family).map(|c| c.mode)
    }

    /// Probes waiting for a reply in the table of IPv6 (`v6`) or IPv4 (for tests).
    #[cfg(test)]
    pub(super) fn waiting_probes(&self, v6: bool) -> usize {
        let family = if v6 { IcmpFamily::V6 } else { IcmpFamily::V4 };
        let open = self.slot(family).open.lock();
        open.as_ref()
            .map_or(0, |(c, _)| c.pending.lock().probes.len())
    }

    /// The open channel of `family`, opening it (and starting its receive task) if needed.
    fn channel(&self, family: IcmpFamily) -> Result<Arc<Channel>, PingError> {
        let slot = self.slot(family);
        let mut open = slot.open.lock();
        if let Some((channel, _)) = open.as_ref() {
            if channel.alive.load(Ordering::Acquire) {
                return Ok(Arc::clone(channel));
            }
        }
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|e| PingError::Runtime(io::Error::other(e)))?;
        let opened = match socket::open(family) {
            Ok(opened) => opened,
            Err(refused) => {
                if !slot.refusal_logged.swap(true, Ordering::Relaxed) {
                    warn!("{}", refused.why);
                }
                return Err(PingError::NoSocket(refused.why));
            }
        };
        let ident = opened.kernel_ident.unwrap_or(self.raw_ident);
        if slot.announced.swap(true, Ordering::Relaxed) {
            debug!(ident, "{}", opened.why);
        } else {
            info!(ident, recv_buffer = opened.recv_buffer, "{}", opened.why);
        }
        let direct = opened.socket.try_clone().map_err(PingError::Runtime)?;
        let socket = {
            let _entered = runtime.enter();
            tokio::net::UdpSocket::from_std(opened.socket).map_err(PingError::Runtime)?
        };
        let channel = Arc::new(Channel {
            socket,
            direct,
            direct_buf: Mutex::new(vec![0; DATAGRAM_BUFFER]),
            mode: opened.mode,
            framing: opened.framing,
            family,
            ident,
            token: self.token,
            pending: Mutex::new(Pending {
                // Any start will do; a varied one makes captures of two runs easier to tell
                // apart.
                next_seq: (nonce() >> 16) as u16,
                probes: HashMap::new(),
            }),
            alive: AtomicBool::new(true),
        });
        let task = runtime.spawn(receive_loop(Arc::clone(&channel)));
        if let Some((_, old_task)) = open.replace((Arc::clone(&channel), task.abort_handle())) {
            old_task.abort();
        }
        Ok(channel)
    }

    /// Pings `target` the way `fping -c count -p interval -b bytes -t timeout` does: `count`
    /// echo requests, `interval` apart, each waiting up to `timeout` for its reply. Returns when
    /// every probe is answered or the last one's timeout has passed, so a target that never
    /// answers takes `(count − 1) × interval + timeout`.
    ///
    /// Dropping the returned future abandons the remaining probes cleanly.
    ///
    /// # Errors
    /// [`PingError`] when the probe is out of range or no ICMP socket can be had; lost probes,
    /// including those the kernel refused to send, are part of the [`PingResult`].
    ///
    /// # Panics
    /// On a tokio runtime built without I/O or time enabled, like every tokio socket.
    pub async fn ping(&self, target: IpAddr, probe: &Probe) -> Result<PingResult, PingError> {
        let target = target.to_canonical();
        let family = match target {
            IpAddr::V4(_) => IcmpFamily::V4,
            IpAddr::V6(_) => IcmpFamily::V6,
        };
        probe.validate(family)?;
        let channel = self.channel(family)?;
        let state = Arc::new(PingState::new(probe));

        let mut payload = Vec::new();
        write_payload(&mut payload, self.token, probe.bytes);
        let mut packet = Vec::with_capacity(payload.len() + 8);
        let mut in_flight = InFlight {
            channel: &channel,
            target,
            state: &state,
            seqs: Vec::with_capacity(probe.count as usize),
        };

        // Send times are fixed from the start, as in fping, so a late wake-up does not push
        // every later probe back.
        // Deadlines are on tokio's clock (so a runtime with paused time stays consistent),
        // RTTs on the monotonic clock read right at send and receipt.
        let start = tokio::time::Instant::now();
        let mut last_sent = start;
        for index in 0..probe.count {
            if index > 0 {
                let offset = probe.interval.saturating_mul(index);
                if let Some(at) = start.checked_add(offset) {
                    tokio::time::sleep_until(at).await;
                }
            }
            in_flight.send(index, &payload, &mut packet).await;
            last_sent = tokio::time::Instant::now();
        }

        if state.unsettled.load(Ordering::Acquire) > 0 {
            let all_settled = async {
                while state.unsettled.load(Ordering::Acquire) > 0 {
                    state.done.notified().await;
                }
            };
            match last_sent.checked_add(probe.timeout) {
                Some(deadline) => {
                    let _ = tokio::time::timeout_at(deadline, all_settled).await;
                }
                None => all_settled.await,
            }
        }
        // Forget the probes still waiting before reading the result: the receive loop settles
        // probes under the table's lock, so nothing changes after this.
        drop(in_flight);
        Ok(state.result())
    }
}

impl Drop for Pinger {
    fn drop(&mut self) {
        for slot in [&self.v4, &self.v6] {
            if let Some((_, task)) = slot.open.lock().take() {
                task.abort();
            }
        }
    }
}

/// The probes of one `ping` call that may still be in the table; removes them when dropped,
/// whether the call finished or was cancelled.
struct InFlight<'a> {
    channel: &'a Channel,
    target: IpAddr,
    state: &'a Arc<PingState>,
    seqs: Vec<u16>,
}

impl InFlight<'_> {
    /// Sends probe `index`; returns once it was sent (or found unsendable). A probe that cannot
    /// be sent is settled as lost at once.
    async fn send(&mut self, index: u32, payload: &[u8], packet: &mut Vec<u8>) {
        let channel = self.channel;
        let sent_at = Instant::now();
        let waiting = Waiting {
            ping: Arc::clone(self.state),
            index,
            sent_at,
        };
        // Registered before sending: on loopback the reply can be read by the receive loop on
        // another thread before `sendto` has even returned here.
        let Some(seq) = channel.register(self.target, waiting) else {
            debug!(target = %self.target, "65,536 probes in flight to one target; probe lost");
            self.state.settle(index, None);
            return;
        };
        self.seqs.push(seq);
        encode_echo_request(packet, channel.family, channel.ident, seq, payload);
        let dest = SocketAddr::new(self.target, 0);
        match channel.send(packet, dest, self.target, seq).await {
            Ok(()) => channel.drain_now(),
            Err(e) => {
                debug!(target = %self.target, seq, err = %e, "echo request not sent; probe lost");
                if channel
                    .pending
                    .lock()
                    .probes
                    .remove(&(self.target, seq))
                    .is_some()
                {
                    self.state.settle(index, None);
                }
            }
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut pending = self.channel.pending.lock();
        for &seq in &self.seqs {
            let key = (self.target, seq);
            if pending
                .probes
                .get(&key)
                .is_some_and(|w| Arc::ptr_eq(&w.ping, self.state))
            {
                pending.probes.remove(&key);
            }
        }
    }
}

impl Channel {
    /// Puts a probe into the table under a free sequence number for its target.
    fn register(&self, target: IpAddr, waiting: Waiting) -> Option<u16> {
        let mut pending = self.pending.lock();
        for _ in 0..=u16::MAX {
            let seq = pending.next_seq;
            pending.next_seq = seq.wrapping_add(1);
            if let std::collections::hash_map::Entry::Vacant(slot) =
                pending.probes.entry((target, seq))
            {
                slot.insert(waiting);
                return Some(seq);
            }
        }
        None
    }

    /// Sends one datagram, waiting for the socket to become writable if it is not. After a
    /// wait the probe's send instant in the table is renewed; it is always taken before
    /// `sendto`, because on loopback the reply can be read on another thread before `sendto`
    /// returns.
    async fn send(
        &self,
        packet: &[u8],
        dest: SocketAddr,
        target: IpAddr,
        seq: u16,
    ) -> io::Result<()> {
        loop {
            match self.socket.try_send_to(packet, dest) {
                Ok(_) => return Ok(()),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) => return Err(e),
            }
            // A full send buffer, or a socket whose first readiness event is still to come.
            self.socket.writable().await?;
            if let Some(w) = self.pending.lock().probes.get_mut(&(target, seq)) {
                w.sent_at = Instant::now();
            }
        }
    }

    /// Reads whatever the socket holds right now, on the sender's thread, without waiting for
    /// readiness.
    ///
    /// Called after every send. When thousands of probes start at once, the receive task sits
    /// in the run queue behind the tasks sending them, while each send on loopback (or a burst
    /// of fast replies) queues datagrams for us; draining here keeps the socket's receive
    /// buffer from overflowing and the RTTs from growing by the queueing delay. On a quiet
    /// socket it costs one `recvfrom` that returns `EAGAIN`. The tokio side is unaffected: the
    /// receive task finds the socket empty, and its readiness is cleared by that `WouldBlock`.
    fn drain_now(&self) {
        let Some(mut buf) = self.direct_buf.try_lock() else {
            return;
        };
        for _ in 0..DRAIN_BUDGET {
            match self.direct.recv_from(&mut buf) {
                Ok((n, from)) => {
                    let received_at = Instant::now();
                    self.dispatch(buf.get(..n).unwrap_or(&buf), from.ip(), received_at);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // WouldBlock (drained), or an error the receive loop will see and log.
                Err(_) => break,
            }
        }
    }

    /// Matches one received datagram to the probe it answers.
    fn dispatch(&self, datagram: &[u8], from: IpAddr, received_at: Instant) {
        let reply = match decode_echo_reply(datagram, self.framing) {
            Ok(reply) => reply,
            Err(e) => {
                trace!(%from, err = %e, "ignored ICMP datagram");
                return;
            }
        };
        if reply.ident != self.ident || !reply.payload.starts_with(&self.token) {
            trace!(%from, ident = reply.ident, seq = reply.seq, "echo reply for someone else");
            return;
        }
        let key = (from.to_canonical(), reply.seq);
        let mut pending = self.pending.lock();
        let fits = pending
            .probes
            .get(&key)
            .is_some_and(|w| w.ping.payload_len == reply.payload.len());
        if !fits {
            trace!(%from, seq = reply.seq, "duplicate, late or mangled echo reply");
            return;
        }
        if let Some(w) = pending.probes.remove(&key) {
            let rtt = received_at.saturating_duration_since(w.sent_at);
            // Settled under the lock, so a `ping` call that removes its leftovers under the
            // same lock sees every reply recorded before it.
            w.ping.settle(w.index, Some(rtt));
        }
    }
}

/// Clears `alive` however the receive loop ends, aborts included.
struct AliveGuard<'a>(&'a Channel);

impl Drop for AliveGuard<'_> {
    fn drop(&mut self) {
        self.0.alive.store(false, Ordering::Release);
    }
}

/// Drains the socket whenever it is readable and dispatches every datagram.
async fn receive_loop(channel: Arc<Channel>) {
    let _alive = AliveGuard(&channel);
    let mut buf = vec![0u8; DATAGRAM_BUFFER];
    let mut errors = 0u32;
    loop {
        if let Err(e) = channel.socket.readable().await {
            warn!(err = %e, "ICMP receive loop stopped");
            return;
        }
        let mut handled = 0;
        while handled < DRAIN_BUDGET {
            match channel.socket.try_recv_from(&mut buf) {
                Ok((n, from)) => {
                    let received_at = Instant::now();
                    errors = 0;
                    handled += 1;
                    channel.dispatch(buf.get(..n).unwrap_or(&buf), from.ip(), received_at);
                }
                // Drained: readiness is cleared and the next `readable` waits for the kernel.
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    // Datagram sockets report ICMP errors for earlier sends here once each;
                    // they are not replies and change nothing.
                    debug!(err = %e, "ICMP receive error");
                    errors += 1;
                    if errors >= ERROR_BURST {
                        break;
                    }
                }
            }
        }
        if errors >= ERROR_BURST {
            warn!(
                errors,
                "ICMP socket keeps failing; pausing its receive loop"
            );
            errors = 0;
            tokio::time::sleep(Duration::from_millis(100)).await;
        } else if handled >= DRAIN_BUDGET {
            tokio::task::yield_now().await;
        }
    }
}

#[cfg(test)]
mod stats_tests {
    use super::*;

    fn result(rtts_ms: &[Option<u64>]) -> PingResult {
        let rtts: Vec<_> = rtts_ms
            .iter()
            .map(|r| r.map(Duration::from_millis))
            .collect();
        PingResult {
            sent: rtts.len() as u32,
            received: rtts.iter().flatten().count() as u32,
            rtts,
        }
    }

    #[test]
    fn loss_is_truncated_to_whole_percent_like_fping() {
        assert_eq!(result(&[Some(1), None, Some(1)]).loss_percent(), 33.0);
        assert_eq!(result(&[None, None, Some(1)]).loss_percent(), 66.0);
        assert_eq!(result(&[Some(1); 5]).loss_percent(), 0.0);
        assert_eq!(result(&[None; 5]).loss_percent(), 100.0);
        assert_eq!(result(&[]).loss_percent(), 0.0);
    }

    #[test]
    fn stats_cover_received_replies_only() {
        let r = result(&[Some(10), None, Some(30), Some(20)]);
        assert!(r.reachable());
        assert_eq!(r.loss_percent(), 25.0);
        let (min, avg, max) = r.rtt_min_avg_max_ms().unwrap();
        assert_eq!((min, avg, max), (10.0, 20.0, 30.0));
        // |30 − 10| and |20 − 30|.
        assert_eq!(r.jitter_ms(), Some(15.0));
        let lost = result(&[None, None]);
        assert!(!lost.reachable());
        assert_eq!(lost.rtt_min_avg_max_ms(), None);
        assert_eq!(lost.jitter_ms(), None);
        assert_eq!(result(&[Some(5)]).jitter_ms(), None);
    }

    #[test]
    fn probe_defaults_are_openwisps() {
        let p = Probe::default();
        assert_eq!(
            (p.count, p.interval, p.bytes, p.timeout),
            (5, Duration::from_millis(25), 56, Duration::from_millis(800))
        );
    }

    #[test]
    fn out_of_range_probes_are_refused() {
        let p = Probe {
            count: 0,
            ..Probe::default()
        };
        assert!(matches!(
            p.validate(IcmpFamily::V4),
            Err(PingError::InvalidProbe(_))
        ));
        let p = Probe {
            bytes: 65_508,
            ..Probe::default()
        };
        assert!(p.validate(IcmpFamily::V4).is_err());
        assert!(p.validate(IcmpFamily::V6).is_ok());
    }

    #[test]
    fn a_late_reply_counts_as_lost() {
        let probe = Probe {
            count: 2,
            timeout: Duration::from_millis(100),
            ..Probe::default()
        };
        let state = PingState::new(&probe);
        state.settle(0, Some(Duration::from_millis(100)));
        state.settle(1, Some(Duration::from_millis(101)));
        let r = state.result();
        assert_eq!(r.rtts, vec![Some(Duration::from_millis(100)), None]);
        assert_eq!((r.sent, r.received), (2, 1));
        assert_eq!(state.unsettled.load(Ordering::Acquire), 0);
    }

    #[test]
    fn pinger_is_send_and_sync() {
        fn check<T: Send + Sync>() {}
        check::<Pinger>();
        check::<Arc<Pinger>>();
    }
}
