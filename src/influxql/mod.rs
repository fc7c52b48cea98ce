//! InfluxQL: lexer with positions, recursive-descent parser with a depth limit, an AST whose
//! `Display` is canonical InfluxQL, a planner and a streaming executor over storage's scan and
//! rollup API.
//!
//! Owns: the query language and its evaluation. Must not: know about HTTP or the monitoring
//! domain; the domain runs its chart queries through this module like any client.
