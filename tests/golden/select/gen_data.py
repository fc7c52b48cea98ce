#!/usr/bin/env python3
"""Generates data.lp, the fixed data set of the SELECT golden cases (deterministic, stdlib only).

    python3 tests/golden/select/gen_data.py > tests/golden/select/data.lp

data.lp is the checked-in artefact; this script only documents how it was made. Changing it
means re-recording cases.json with record.py against a real InfluxDB.

Floats that queries sum or average over many points are multiples of 1/8, so every sum is exact
whatever the summation order; arbitrary decimals live only in the `m` series host=x (the "weird"
values), which queries aggregate per series or select single points from.
"""

import datetime as dt

DEV1 = "5d2b7c1e-8f43-4a7e-9c61-2f0e9b1a7d33"
DEV2 = "a7f3c2d1-4b5e-4c6d-8e9f-0a1b2c3d4e5f"
DEV3 = "0c9e8d7f-6a5b-4c3d-9e2f-1a0b9c8d7e6f"
ORG1 = "e1a2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8"
ORG2 = "11111111-2222-4333-8444-555555555555"

START = dt.datetime(2023, 3, 24, 22, 0, tzinfo=dt.timezone.utc)
END = dt.datetime(2023, 3, 27, 2, 0, tzinfo=dt.timezone.utc)  # exclusive
STEP = 300


def ns(t):
    return int(t.timestamp()) * 1_000_000_000


def ts(s):
    """'2023-03-25T13:00' (UTC) -> datetime."""
    return dt.datetime.fromisoformat(s).replace(tzinfo=dt.timezone.utc)


def in_any(t, ranges):
    return any(ts(a) <= t < ts(b) for a, b in ranges)


def fmt_float(x):
    r = repr(float(x))
    return r


out = []


def line(s):
    out.append(s)


def slots():
    t = START
    k = 0
    while t < END:
        yield k, t
        t += dt.timedelta(seconds=STEP)
        k += 1


# ---------------------------------------------------------------- ping (3 devices)
PING = {
    DEV1: {
        "gaps": [("2023-03-25T13:00", "2023-03-25T15:00")],
        "down": [("2023-03-25T03:00", "2023-03-25T04:00")],
        "lossy": 7,
    },
    DEV2: {
        "gaps": [("2023-03-26T00:00", "2023-03-26T01:30")],
        "down": [("2023-03-26T05:30", "2023-03-26T05:50")],
        "lossy": 11,
    },
    DEV3: {
        "gaps": [("2023-03-26T08:00", "2023-03-26T09:00"), ("2023-03-24T22:00", "2023-03-24T23:00")],
        "down": [("2023-03-26T20:00", "2023-03-26T21:30"), ("2023-03-25T22:55", "2023-03-25T23:10")],
        "lossy": 5,
    },
}
for n, (dev, cfg) in enumerate(PING.items()):
    for k, t in slots():
        if in_any(t, cfg["gaps"]):
            continue
        jitter = 0
        if k % 13 == 5:
            jitter = 3
        elif k % 17 == 8:
            jitter = -2
        at = ns(t) + jitter * 1_000_000_000
        tags = f"ping,content_type=config.device,object_id={dev}"
        if in_any(t, cfg["down"]):
            line(f"{tags} loss=100.0,reachable=0i {at}")
            continue
        loss = 0.0
        if k % cfg["lossy"] == 0:
            loss = 12.5 * (1 + (k // cfg["lossy"]) % 3)
        avg = 8 + n * 4 + ((k * 37) % 64) / 8
        mx = avg + ((k * 13) % 16) / 4
        mn = avg - ((k * 7) % 8) / 8
        line(
            f"{tags} loss={fmt_float(loss)},reachable=1i,rtt_avg={fmt_float(avg)},"
            f"rtt_max={fmt_float(mx)},rtt_min={fmt_float(mn)} {at}"
        )

# ---------------------------------------------------------------- traffic (2 devices)
TRAFFIC = [
    (DEV1, ORG1, "wan", 5_000_000, 1_200_000),
    (DEV1, ORG1, "wlan0", 2_500_000, 800_000),
    (DEV2, ORG2, "eth1", 9_000_000, 3_000_000),
]
for dev, org, ifname, rx0, tx0 in TRAFFIC:
    for k, t in slots():
        if dev == DEV1 and in_any(t, PING[DEV1]["gaps"]):
            continue
        hour = t.hour
        busy = 3 if 8 <= hour < 20 else 1
        rx = rx0 * busy + (k * 7919) % 1_000_003
        tx = tx0 * busy + (k * 104729) % 300_007
        if dev == DEV2 and ifname == "eth1" and k == 300:
            rx = 0  # an idle sample
        line(
            f"traffic,content_type=config.device,ifname={ifname},object_id={dev},"
            f"organization_id={org} rx_bytes={rx}i,tx_bytes={tx}i {ns(t)}"
        )

# ---------------------------------------------------------------- wifi_clients (µs-distinct points)
MACS = [
    "00:11:22:33:44:55",
    "66:77:88:99:aa:bb",
    "cc:dd:ee:ff:00:11",
    "22:33:44:55:66:77",
    "88:99:aa:bb:cc:dd",
    "ee:ff:00:11:22:33",
    "a0:b1:c2:d3:e4:f5",
]
for dev, org, pool in ((DEV1, ORG1, MACS[:5]), (DEV2, ORG2, MACS[3:])):
    for k, t in slots():
        if k % 4:
            continue  # every 20 minutes
        if dev == DEV1 and in_any(t, PING[DEV1]["gaps"]):
            continue
        n = (k // 4) % 4  # 0..3 clients
        for j in range(n):
            # pool[0] is always there (a clear MODE); the others rotate.
            mac = pool[0] if j == 0 else pool[1 + (k // 12 + j) % (len(pool) - 1)]
            line(
                f"wifi_clients,content_type=config.device,ifname=wlan0,object_id={dev},"
                f'organization_id={org} clients="{mac}" {ns(t) + j * 1000}'
            )

# ---------------------------------------------------------------- cpu / memory / disk (every 30 min)
for n, dev in enumerate((DEV1, DEV2)):
    for k, t in slots():
        if k % 6:
            continue
        if dev == DEV1 and in_any(t, PING[DEV1]["gaps"]):
            continue
        tags = f"content_type=config.device,object_id={dev}"
        cpu = ((k * 29 + n * 11) % 160) / 8
        load1 = cpu / 64
        line(f"cpu,{tags} cpu_usage={fmt_float(cpu)},load_1={fmt_float(load1)} {ns(t)}")
        mem = 40 + ((k * 13 + n * 5) % 96) / 4
        line(
            f"memory,{tags} percent_used={fmt_float(mem)},total_memory=268435456i,"
            f"free_memory={268435456 - int(mem * 2684354)}i {ns(t)}"
        )
        disk = 20 + n * 30 + (k // 6) * 0.125
        line(f"disk,{tags} used_disk={fmt_float(disk)} {ns(t)}")

# ---------------------------------------------------------------- signal (mobile interface of DEV2)
for k, t in slots():
    if k % 6:
        continue
    h = k // 6
    strength = -(60 + h % 20) - (0.5 if h % 3 == 0 else 0)
    power = -(90 + (h * 7) % 15) + 0.25 * (h % 4)
    quality = -(5 + h % 10) + 0.5 * (h % 2)
    snr = 10 + (h * 3) % 12 + 0.125 * (h % 8)
    tech = 4 if h % 5 else (3 if h % 2 else 5)
    line(
        f"signal,content_type=config.device,ifname=wwan0,object_id={DEV2} "
        f"access_tech={tech}i,signal_power={fmt_float(power)},signal_quality={fmt_float(quality)},"
        f"signal_strength={fmt_float(strength)},snr={fmt_float(snr)} {ns(t)}"
    )

# ---------------------------------------------------------------- generic measurement m
T0 = ts("2023-06-01T00:00")
STRS = [
    'hello, world',
    'say \\"hi\\"',
    'back\\\\slash',
    'a=b c',
    '',
    'plain',
]
for k in range(20):
    t = ns(T0) + k * 10_000_000_000
    f = k * 0.5 - 3
    i = k * 3 - 10
    b = "true" if k % 3 == 0 else "false"
    s = STRS[k % len(STRS)]
    line(f'm,host=a,region=eu b={b},f={fmt_float(f)},i={i}i,s="{s}" {t}')
for k in range(20):
    t = ns(T0) + k * 10_000_000_000 + 5_000_000_000
    fields = []
    if k % 4 != 3:
        fields.append(f"f={fmt_float(100 + k * 0.125)}")
    fields.append(f"i={k * k}i")
    if k % 5 == 0:
        fields.append(f"b={'t' if k % 10 == 0 else 'F'}")
    if k % 2 == 0:
        fields.append(f's="b{k}"')
    line(f"m,host=b,region=us {','.join(fields)} {t}")
# host=c has no region; odd sub-second timestamps for RFC3339 trimming.
SUBSEC = [0, 123_000_000, 10, 500_000_000, 999_999_999, 1_000, 120_000, 0, 7, 250_000_000]
for k in range(10):
    t = ns(T0) + k * 20_000_000_000 + SUBSEC[k]
    line(f"m,host=c f={fmt_float(2.5 * k)},i={-k}i {t}")
# host=x: the weird values.
WEIRD = [
    ("1.2493916e-08", "9223372036854775807i", "t", '"max"'),
    ("-0.0", "-9223372036854775808i", "f", '"min"'),
    ("1e+21", "0i", "t", '"big float"'),
    ("123456789.123", "-1i", "f", '"comma, space"'),
    ("-3.75", "42i", "t", '"quote \\" inside"'),
    ("0.1", "7i", "f", '"tab\tx"'),
    ("3.141592653589793", "9223372036854775806i", "t", '"pi"'),
    ("1.7976931348623157e+308", "-42i", "f", '"maxfloat"'),
]
for k, (f, i, b, s) in enumerate(WEIRD):
    t = ns(T0) + 30_000_000_000 + k * 30_000_000_000
    line(f"m,host=x f={f},i={i},b={b},s={s} {t}")

# ---------------------------------------------------------------- m2: shares field names with m
for k in range(10):
    t = ns(T0) + k * 20_000_000_000
    line(f"m2,host=a,region=eu f={fmt_float(k * 1.25)},i={k * 10}i,g={fmt_float(k * 0.25)} {t}")
    line(f"m2,host=b,region=us f={fmt_float(-k * 0.5)},i={k}i {t + 1_000_000_000}")

# ---------------------------------------------------------------- names that need quoting
for k in range(4):
    t = ns(T0) + k * 60_000_000_000
    line(f"cpu\\ load,eq\\=k=v\\=1\\ x,host=a value={fmt_float(1.5 + k)} {t}")
    line(f"cpu\\ load,eq\\=k=plain,host=b load\\ avg={k}i,value={fmt_float(10.25 * k)} {t}")

# ---------------------------------------------------------------- autumn DST (Rome: 2023-10-29 01:00Z)
DT0 = ts("2023-10-27T20:00")
for k in range(57):
    t = DT0 + dt.timedelta(hours=k)
    line(f"dst,site=rome v={k}i,x={fmt_float(k * 0.25)} {ns(t)}")

print("\n".join(out))
