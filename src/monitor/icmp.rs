//! The ICMP pinger as the scheduler's [`Prober`]: a check's parameters become fping's probe
//! schedule, and the pinger's result becomes the statistics the domain stores.
//!
//! Owns: that translation only.

use std::future::Future;
use std::net::IpAddr;
use std::pin::Pin;
use std::time::Duration;

use super::scheduler::Prober;
use crate::domain::runs::{PingParams, PingStats};
use crate::net::icmp::{Pinger, Probe};

impl Prober for Pinger {
    fn ping(
        &self,
        target: IpAddr,
        params: PingParams,
    ) -> Pin<Box<dyn Future<Output = Result<PingStats, String>> + Send + '_>> {
        Box::pin(async move {
            let probe = Probe {
                count: params.count,
                interval: Duration::from_millis(u64::from(params.interval_ms)),
                bytes: usize::try_from(params.bytes).unwrap_or(usize::MAX),
                timeout: Duration::from_millis(u64::from(params.timeout_ms)),
            };
            let r = Pinger::ping(self, target, &probe)
                .await
                .map_err(|e| e.to_string())?;
            Ok(PingStats {
                loss: r.loss_percent(),
                rtt: r.rtt_min_avg_max_ms(),
                jitter: r.jitter_ms(),
                rtts: r
                    .rtts
                    .iter()
                    .flatten()
                    .map(|d| d.as_secs_f64() * 1e3)
                    .collect(),
            })
        })
    }
}
