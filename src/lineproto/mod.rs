//! InfluxDB 1.x line protocol: a bounded, zero-copy parser (one result per line, so one bad
//! line does not hide the others) and a writer for round trips.
//!
//! Owns: the text grammar only. Must not: know about storage or HTTP; the conversion of parsed
//! lines into storage's write batches lives at the HTTP edge.
