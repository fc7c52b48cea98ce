//! The numbers a validated DeviceMonitoring document yields for the metric writes of spec §3.4,
//! as typed values: no JSON lookups left for the writer, and every division already guarded by
//! validation (`cpus` ≥ 1, `memory.total` ≥ 1, `load` has three values).

/// What one document contributes to the device's metrics (spec §3.4).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Sample {
    /// `general.uptime`, seconds since the device booted.
    pub uptime: Option<u64>,
    /// `general.local_time`, epoch seconds shifted by the router's time zone (device-agents
    /// §1.7), so not a UTC instant.
    pub local_time: Option<i64>,
    /// The interfaces in document order.
    pub interfaces: Vec<InterfaceSample>,
    /// Present when `resources` has both `load` and `cpus`.
    pub cpu: Option<Cpu>,
    /// Present when `resources.memory` is.
    pub memory: Option<Memory>,
    /// `used_disk`, percent: 100 × Σ`used_bytes` / Σ`size_bytes` over every listed
    /// filesystem, the read-only `/rom` included.
    ///
    /// Absent when `resources.disk` is, and also when Σ`size_bytes` is 0 (an empty list, or
    /// only zero-sized filesystems). There upstream writes the *integer* 100, a departure on
    /// purpose: a field type change would make the engine refuse the measurement's point, and
    /// an initramfs router (`"disk": {}`) is not a full disk — reporting 100 % would raise a
    /// disk alert (threshold 90) on every such device.
    pub disk: Option<f64>,
}

/// One entry of `interfaces`.
#[derive(Debug, Clone, PartialEq)]
pub struct InterfaceSample {
    /// The raw `name` (non-empty, unique in the document); cleaning it into a tag value is the
    /// writer's business.
    pub name: String,
    /// `type`: `ethernet`, `wireless`, `bridge`, `modem-manager`, `virtual`, ...
    pub kind: Option<String>,
    /// Byte counters, present when `statistics` has `rx_bytes` or `tx_bytes` (even 0).
    pub traffic: Option<Traffic>,
    /// The `wireless` block.
    pub wireless: Option<Wireless>,
    /// The `mobile` block.
    pub mobile: Option<Mobile>,
}

/// Lifetime byte counters of an interface as the device reports them; the traffic metric is
/// their increment against the previous snapshot (spec §3.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Traffic {
    /// `statistics.rx_bytes`, 0 when only `tx_bytes` is present. On access-point interfaces
    /// the agent has already swapped rx and tx, so this is what the clients downloaded.
    pub rx_bytes: u64,
    /// `statistics.tx_bytes`, 0 when only `rx_bytes` is present.
    pub tx_bytes: u64,
}

/// The `wireless` block of an interface.
#[derive(Debug, Clone, PartialEq)]
pub struct Wireless {
    /// `access_point`, `station`, `802.11s`, `adhoc` or iwinfo's raw text.
    pub mode: String,
    /// The SSID, lossily decoded if the device sent bytes that are not UTF-8.
    pub ssid: String,
    /// `htmode` (`HT20`, `VHT80`, `HE80`, `NOHT`, ...).
    pub htmode: Option<String>,
    /// The associated clients, in document order; empty when `clients` is absent.
    pub clients: Vec<WifiClient>,
}

/// One associated WiFi client, with capability flags already nulled by the radio's `htmode`
/// (spec §3.3): a flag the radio mode cannot use is `None`, not `false`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WifiClient {
    /// `mac` as sent (hostapd: lower case; iwinfo on mesh/station: upper case).
    pub mac: String,
    /// 802.11n.
    pub ht: Option<bool>,
    /// 802.11ac.
    pub vht: Option<bool>,
    /// 802.11ax.
    pub he: Option<bool>,
    /// WMM.
    pub wmm: bool,
    /// WDS.
    pub wds: Option<bool>,
    /// WPS.
    pub wps: Option<bool>,
    /// The manufacturer: from the document, or set by [`super::Document::set_vendors`].
    pub vendor: Option<String>,
}

/// The `mobile` block of a modem interface.
#[derive(Debug, Clone, PartialEq)]
pub struct Mobile {
    /// `operator_code` (MCC+MNC, 4 to 6 digits); `None` when the modem is not registered and
    /// sent mmcli's `--` (accepted on purpose: upstream refuses the whole sample for it).
    pub operator_code: Option<String>,
    /// The chosen signal section, `None` when no recognisable one is present.
    pub signal: Option<Signal>,
}

/// Radio access technology, in upstream's `ACCESS_TECHNOLOGIES` order: the discriminant is
/// the `access_tech` value written, and a higher one is "more evolved".
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccessTech {
    /// `gsm`, 2G.
    Gsm = 0,
    /// `cdma1x`.
    Cdma1x = 1,
    /// `evdo`.
    Evdo = 2,
    /// `umts`, 3G.
    Umts = 3,
    /// `lte`, 4G.
    Lte = 4,
    /// `5g`.
    Nr = 5,
}

impl AccessTech {
    /// Every technology, least evolved first.
    pub const ALL: [AccessTech; 6] = [
        AccessTech::Gsm,
        AccessTech::Cdma1x,
        AccessTech::Evdo,
        AccessTech::Umts,
        AccessTech::Lte,
        AccessTech::Nr,
    ];

    /// The `access_tech` field value, 0 to 5.
    pub fn index(self) -> u8 {
        self as u8
    }

    /// The section name in `mobile.signal`.
    pub fn section(self) -> &'static str {
        match self {
            AccessTech::Gsm => "gsm",
            AccessTech::Cdma1x => "cdma1x",
            AccessTech::Evdo => "evdo",
            AccessTech::Umts => "umts",
            AccessTech::Lte => "lte",
            AccessTech::Nr => "5g",
        }
    }
}

/// The signal metrics of a modem (spec §3.4 "Interfaces — mobile"), from the most evolved
/// technology present.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Signal {
    /// The section the values come from.
    pub access_tech: AccessTech,
    /// `rssi`.
    pub signal_strength: Option<f64>,
    /// `rsrp`, else `rscp`.
    pub signal_power: Option<f64>,
    /// `sinr`, else `ecio`, else `snr`.
    pub snr: Option<f64>,
    /// `rsrq`.
    pub signal_quality: Option<f64>,
}

/// The `cpu` metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Cpu {
    /// 100 × `load[0]` / `cpus`; can exceed 100 on an overloaded device.
    pub cpu_usage: f64,
    /// `load[0]`.
    pub load_1: f64,
    /// `load[1]`.
    pub load_5: f64,
    /// `load[2]`.
    pub load_15: f64,
}

impl Cpu {
    /// Upstream's `100 * float(load[0] / cpus)`, in that order so the float rounding matches.
    pub(super) fn new(load: [f64; 3], cpus: u64) -> Cpu {
        Cpu {
            cpu_usage: 100.0 * (load[0] / cpus as f64),
            load_1: load[0],
            load_5: load[1],
            load_15: load[2],
        }
    }
}

/// The `memory` metric.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Memory {
    /// 100 × (1 − (free + buffered) / total), with `available` in place of `free` when it is
    /// present and greater than `free`.
    pub percent_used: f64,
    /// `total` bytes, at least 1.
    pub total: u64,
    /// `free` bytes, at most `total`.
    pub free: u64,
    /// `buffered` bytes.
    pub buffered: u64,
    /// `shared` bytes.
    pub shared: u64,
    /// `cached` bytes (missing on old OpenWrt).
    pub cached: Option<u64>,
    /// `available` bytes (missing on old OpenWrt), at most `total`.
    pub available: Option<u64>,
}

impl Memory {
    /// Computes `percent_used`; `total` must be non-zero (validation guarantees it).
    pub(super) fn new(
        total: u64,
        free: u64,
        buffered: u64,
        shared: u64,
        cached: Option<u64>,
        available: Option<u64>,
    ) -> Memory {
        let unused = match available {
            Some(a) if a > free => a,
            _ => free,
        };
        // Python divides the exact integer sum; summing in u128 keeps it exact too.
        let ratio = (u128::from(unused) + u128::from(buffered)) as f64 / total as f64;
        Memory {
            percent_used: 100.0 * (1.0 - ratio),
            total,
            free,
            buffered,
            shared,
            cached,
            available,
        }
    }
}

/// `used_disk` from the byte sums; `None` without any size (see [`Sample::disk`]).
pub(super) fn used_disk(used: u128, size: u128) -> Option<f64> {
    if size == 0 {
        return None;
    }
    // Upstream's `100 * used / size`: the product first, then one division.
    Some((100 * used) as f64 / size as f64)
}
