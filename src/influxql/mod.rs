//! InfluxQL syntax: the lexer, a recursive-descent parser and the syntax tree with its
//! canonical text, for InfluxDB 1.8's query language as spoken by OpenWISP, Grafana and the
//! monitoring UI.
//!
//! Owns: tokens (with byte positions and InfluxDB's line/char reporting), the AST of every
//! InfluxQL 1.8 statement, InfluxDB-worded parse errors, bound-parameter substitution and the
//! canonical printing (`Display`) such that `parse(print(parse(q))) == parse(q)`.
//! Must not: evaluate anything, touch storage or know about HTTP. Regexes stay source text and
//! time strings stay string literals here; statements outside wispmon's scope still parse (as
//! [`Statement::Unsupported`]) so that one of them never rejects a whole request.
//!
//! ```text
//! parse_query("SELECT mean(value) FROM cpu GROUP BY time(1m)")
//!   -> Query { statements: [Statement::Select(..)] }
//! ```

mod ast;
#[doc(hidden)]
pub mod check;
mod error;
pub mod exec;
mod lexer;
mod parser;
pub mod select;
mod value;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

pub use ast::{
    AlterRetentionPolicy, BinaryExpr, BinaryOp, Call, CardinalityOf, CreateDatabase,
    CreateRetentionPolicy, DataType, Dimension, Expr, Field, Fill, Literal, MatchOp, Measurement,
    MeasurementName, OrderBy, Privilege, Query, Regex, RetentionPolicySpec, SelectStatement,
    SeriesFilter, ShowCardinality, ShowFieldKeys, ShowMeasurements, ShowSeries, ShowTagKeys,
    ShowTagValues, Source, Statement, TagKeyFilter, UnsupportedStatement, VarRef, WildcardType,
    format_duration, ident_needs_quotes, quote_ident, quote_ident_always, quote_string,
};
pub use error::ParseError;
pub use parser::{MAX_DEPTH, MAX_EXPR_HEIGHT, ParseOptions, Validator};
pub use value::Value;

/// Parses the `q` of a `/query` request: statements separated by `;` (empty ones ignored).
/// Surrounding whitespace is trimmed first, as InfluxDB's handler does, so error lines and
/// characters match InfluxDB's; an empty or blank `q` gives an empty [`Query`] (the HTTP layer
/// answers `missing required parameter "q"` for it).
///
/// # Errors
/// [`ParseError`] with InfluxDB's wording; the whole request is refused.
pub fn parse_query(q: &str) -> Result<Query, ParseError> {
    parser::parse_query(q, &ParseOptions::default())
}

/// [`parse_query`] with bound parameters: `$name` is replaced by `params["name"]` (InfluxDB's
/// `params` JSON object) as a token of the value's type, so `$host` can be a string literal,
/// `$n` a number (also in `LIMIT $n`), `$re` a regex after `=~`. A `$name` not in `params` is an
/// error (`missing parameter: name`).
///
/// # Errors
/// [`ParseError`] as for [`parse_query`].
pub fn parse_query_with_params(
    q: &str,
    params: &BTreeMap<String, Literal>,
) -> Result<Query, ParseError> {
    let opts = ParseOptions {
        params: Some(params),
        ..ParseOptions::default()
    };
    parser::parse_query(q, &opts)
}

/// [`parse_query`] with parameters and validators; see [`ParseOptions`].
///
/// # Errors
/// [`ParseError`] as for [`parse_query`], or a validator's message.
pub fn parse_query_with(q: &str, opts: &ParseOptions<'_>) -> Result<Query, ParseError> {
    parser::parse_query(q, opts)
}

/// Parses a single expression (`host = 'a' AND time > now() - 1h`), e.g. for tests or for
/// conditions built by other modules.
///
/// # Errors
/// [`ParseError`] when `expr` is not exactly one expression.
pub fn parse_expr(expr: &str) -> Result<Expr, ParseError> {
    parser::parse_expr(expr, &ParseOptions::default())
}
