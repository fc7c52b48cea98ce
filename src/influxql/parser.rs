//! Recursive-descent parser from tokens to the [`ast`](super::ast), following InfluxDB 1.8's
//! grammar and error wording.
//!
//! Recursion only happens through parentheses, calls and subqueries, each of which counts one
//! level against [`MAX_DEPTH`]; binary operators are parsed by precedence climbing (at most five
//! nested frames per level) and the height of any expression tree is capped at
//! [`MAX_EXPR_HEIGHT`] so printing, comparing and dropping a tree stay shallow too.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

use super::ast::{
    AlterRetentionPolicy, BinaryExpr, BinaryOp, Call, CardinalityOf, CreateDatabase,
    CreateRetentionPolicy, DataType, Dimension, Expr, Field, Fill, Literal, MatchOp, Measurement,
    MeasurementName, OrderBy, Privilege, Query, Regex, RetentionPolicySpec, SelectStatement,
    SeriesFilter, ShowCardinality, ShowFieldKeys, ShowMeasurements, ShowSeries, ShowTagKeys,
    ShowTagValues, Source, Statement, TagKeyFilter, UnsupportedStatement, VarRef, WildcardType,
    ident_needs_quotes,
};
use super::error::ParseError;
use super::lexer::{self, Keyword as K, Kind, Loc, RegexScan, Token};

/// Deepest nesting of parentheses, function calls and subqueries accepted.
pub const MAX_DEPTH: usize = 64;

/// Tallest expression tree accepted (a chain of `n` binary operators is `n + 1` tall).
pub const MAX_EXPR_HEIGHT: u32 = 1000;

/// A check on text the parser keeps as-is (regex sources, time-zone names); `Err` holds the
/// message InfluxDB would show, e.g. ``error parsing regexp: missing closing ): `a(` ``.
pub type Validator<'a> = &'a dyn Fn(&str) -> std::result::Result<(), String>;

/// How to parse: bound parameters and optional validators for regexes and time zones (this
/// module has no regex engine and no zone database; pass them to reject bad input with a parse
/// error the way InfluxDB does, instead of failing later per statement).
#[derive(Clone, Copy, Default)]
pub struct ParseOptions<'a> {
    /// Values for `$name` parameters (InfluxDB's `params` JSON object).
    pub params: Option<&'a BTreeMap<String, Literal>>,
    /// Called with every regex source; an error becomes a parse error at the regex.
    pub check_regex: Option<Validator<'a>>,
    /// Called with the zone of `tz('...')`; an error becomes a parse error (no position).
    pub check_time_zone: Option<Validator<'a>>,
}

impl fmt::Debug for ParseOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParseOptions")
            .field("params", &self.params)
            .field("check_regex", &self.check_regex.is_some())
            .field("check_time_zone", &self.check_time_zone.is_some())
            .finish()
    }
}

const STATEMENT_START: &[&str] = &[
    "SELECT", "DELETE", "SHOW", "CREATE", "DROP", "EXPLAIN", "GRANT", "REVOKE", "ALTER", "SET",
    "KILL",
];
const SHOW_WHAT: &[&str] = &[
    "CONTINUOUS",
    "DATABASES",
    "DIAGNOSTICS",
    "FIELD",
    "GRANTS",
    "MEASUREMENT",
    "MEASUREMENTS",
    "QUERIES",
    "RETENTION",
    "SERIES",
    "SHARD",
    "SHARDS",
    "STATS",
    "SUBSCRIPTIONS",
    "TAG",
    "USERS",
];
const CREATE_WHAT: &[&str] = &[
    "CONTINUOUS",
    "DATABASE",
    "USER",
    "RETENTION",
    "SUBSCRIPTION",
];
const DROP_WHAT: &[&str] = &[
    "CONTINUOUS",
    "DATABASE",
    "MEASUREMENT",
    "RETENTION",
    "SERIES",
    "SHARD",
    "SUBSCRIPTION",
    "USER",
];
const UNARY_START: &[&str] = &["identifier", "string", "number", "bool"];
const CAST_TYPES: &[&str] = &[
    "float", "integer", "unsigned", "string", "boolean", "field", "tag",
];
const CAST_TYPES_SHORT: &[&str] = &["float", "integer", "string", "boolean", "field", "tag"];
const ONLY_ORDER_BY_TIME: &str = "only ORDER BY time supported at this time";

/// Whether a `SELECT` needs `INTO` (continuous queries) or merely allows it.
#[derive(Clone, Copy, PartialEq, Eq)]
enum IntoClause {
    Required,
    Optional,
}

/// How a run of `a.b.c` segments ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SegEnd {
    Normal,
    /// A `.` followed directly by `/`: a regex follows (`db.rp./re/`).
    DotSlash,
    /// A `.` followed directly by `:` (`rp.:MEASUREMENT`).
    DotColon,
}

type Result<T> = std::result::Result<T, ParseError>;

/// Parses `src` into statements. Like InfluxDB's HTTP handler, surrounding whitespace is
/// trimmed first, so reported lines and characters match InfluxDB's; `pos` stays an offset into
/// `src`.
pub(super) fn parse_query(src: &str, opts: &ParseOptions<'_>) -> Result<Query> {
    let (text, offset) = trim(src);
    parse_statements(text, opts).map_err(|e| shift(e, offset))
}

/// `src` without surrounding whitespace, and the byte offset of the kept text.
fn trim(src: &str) -> (&str, usize) {
    let start = src.len() - src.trim_start().len();
    (src.trim(), start)
}

fn shift(mut e: ParseError, offset: usize) -> ParseError {
    e.pos += offset;
    e
}

fn parse_statements(src: &str, opts: &ParseOptions<'_>) -> Result<Query> {
    let mut p = Parser::new(src, opts);
    let mut statements = Vec::new();
    let mut need_semicolon = false;
    loop {
        match p.peek().kind {
            Kind::Eof => return Ok(Query { statements }),
            Kind::Semicolon => {
                p.next();
                need_semicolon = false;
            }
            _ if need_semicolon => return Err(p.expected(&[";"])),
            _ => {
                statements.push(p.parse_statement()?);
                need_semicolon = true;
            }
        }
    }
}

/// Parses `src` as a single expression.
pub(super) fn parse_expr(src: &str, opts: &ParseOptions<'_>) -> Result<Expr> {
    let (text, offset) = trim(src);
    let mut p = Parser::new(text, opts);
    let expr = p.parse_expr().map_err(|e| shift(e, offset))?;
    if p.peek().kind != Kind::Eof {
        return Err(shift(p.expected(&["EOF"]), offset));
    }
    Ok(expr)
}

struct Parser<'a, 'o> {
    src: &'a str,
    /// Byte offset just past the last consumed token.
    pos: usize,
    peeked: Option<Token<'a>>,
    /// End of the last consumed token and whether it was a bare word (EOF position quirk).
    prev_end: usize,
    prev_bare: bool,
    /// A regex probe hit the end of the input (InfluxDB then reports EOF one char later).
    eof_probed: bool,
    depth: usize,
    opts: &'o ParseOptions<'o>,
}

impl<'a, 'o> Parser<'a, 'o> {
    fn new(src: &'a str, opts: &'o ParseOptions<'o>) -> Self {
        Parser {
            src,
            pos: 0,
            peeked: None,
            prev_end: 0,
            prev_bare: false,
            eof_probed: false,
            depth: 0,
            opts,
        }
    }

    // ------------------------------------------------------------------------------------------
    // Token plumbing.

    fn scan(&self) -> Token<'a> {
        let tok = lexer::scan(self.src, self.pos);
        if tok.kind != Kind::BoundParam {
            return tok;
        }
        let Some(params) = self.opts.params else {
            return tok;
        };
        let Some(value) = tok.lit.get(1..).and_then(|name| params.get(name)) else {
            return tok;
        };
        // InfluxDB substitutes parameters at the token level: a string becomes a string
        // token wherever it appears, a number a number token, and so on.
        let (kind, lit) = match value {
            Literal::Integer(n) => (Kind::Integer, n.to_string()),
            Literal::Unsigned(n) => (Kind::Integer, n.to_string()),
            Literal::Float(v) => (Kind::Number, v.to_string()),
            Literal::String(s) => (Kind::Str, s.clone()),
            Literal::Boolean(true) => (Kind::Kw(K::True), "true".to_owned()),
            Literal::Boolean(false) => (Kind::Kw(K::False), "false".to_owned()),
            Literal::Duration(ns) => (Kind::Duration, lexer::format_duration(*ns)),
            Literal::Regex(re) => (Kind::Regex, re.source.clone()),
        };
        Token {
            kind,
            lit: Cow::Owned(lit),
            bare_word: false,
            loc: Loc::At(tok.start),
            ..tok
        }
    }

    fn peek(&mut self) -> &Token<'a> {
        let tok = match self.peeked.take() {
            Some(tok) => tok,
            None => self.scan(),
        };
        self.peeked.insert(tok)
    }

    fn peek_kind(&mut self) -> Kind {
        self.peek().kind
    }

    fn next(&mut self) -> Token<'a> {
        let tok = match self.peeked.take() {
            Some(tok) => tok,
            None => self.scan(),
        };
        if tok.kind != Kind::Eof {
            self.pos = tok.end;
            self.prev_end = tok.end;
            self.prev_bare = tok.bare_word;
            self.eof_probed = false;
        }
        tok
    }

    fn eat_kw(&mut self, kw: K) -> bool {
        if self.peek().is_kw(kw) {
            self.next();
            true
        } else {
            false
        }
    }

    fn expect_kw(&mut self, kw: K) -> Result<Token<'a>> {
        if self.peek().is_kw(kw) {
            Ok(self.next())
        } else {
            Err(self.expected(&[kw.as_str()]))
        }
    }

    fn expect_kind(&mut self, kind: Kind, name: &str) -> Result<Token<'a>> {
        if self.peek_kind() == kind {
            Ok(self.next())
        } else {
            Err(self.expected(&[name]))
        }
    }

    fn parse_ident(&mut self) -> Result<String> {
        if self.peek_kind() == Kind::Ident {
            Ok(self.next().lit.into_owned())
        } else {
            Err(self.expected(&["identifier"]))
        }
    }

    fn parse_ident_list(&mut self) -> Result<Vec<String>> {
        let mut names = vec![self.parse_ident()?];
        while self.peek_kind() == Kind::Comma {
            self.next();
            names.push(self.parse_ident()?);
        }
        Ok(names)
    }

    fn parse_string(&mut self) -> Result<String> {
        if self.peek_kind() == Kind::Str {
            Ok(self.next().lit.into_owned())
        } else {
            Err(self.expected(&["string"]))
        }
    }

    fn parse_on(&mut self) -> Result<Option<String>> {
        if self.eat_kw(K::On) {
            Ok(Some(self.parse_ident()?))
        } else {
            Ok(None)
        }
    }

    /// Reads a regex if one starts here (after whitespace): a `/.../` literal or a bound
    /// parameter holding a regex. Consumes nothing otherwise.
    fn try_regex(&mut self) -> Result<Option<Regex>> {
        self.peeked = None;
        let at = lexer::skip_ws(self.src, self.pos);
        match self.src.as_bytes().get(at) {
            None => {
                self.eof_probed = true;
                Ok(None)
            }
            Some(b'/') => match lexer::scan_regex(self.src, at) {
                RegexScan::Ok(text, end) => {
                    let re = Regex::new(text);
                    self.check_regex(&re, Loc::Before(at))?;
                    self.pos = end;
                    self.prev_end = end;
                    self.prev_bare = false;
                    self.eof_probed = false;
                    Ok(Some(re))
                }
                // InfluxDB's message really is "bad regex: " followed by nothing.
                RegexScan::Unterminated => Err(self.located(Loc::Before(at), "bad regex: ")),
            },
            Some(b'$') if self.peek_kind() == Kind::Regex => {
                let tok = self.next();
                let re = Regex::new(tok.lit);
                self.check_regex(&re, tok.loc)?;
                Ok(Some(re))
            }
            Some(_) => Ok(None),
        }
    }

    fn check_regex(&self, re: &Regex, loc: Loc) -> Result<()> {
        match self.opts.check_regex {
            Some(check) => check(&re.source).map_err(|msg| self.located(loc, msg)),
            None => Ok(()),
        }
    }

    fn enter(&mut self, at: usize) -> Result<()> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.located(
                Loc::At(at),
                format!(
                    "query nested too deeply: more than {MAX_DEPTH} levels of parentheses, \
                     function calls or subqueries"
                ),
            ));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    fn check_height(&self, height: u32, at: usize) -> Result<()> {
        if height > MAX_EXPR_HEIGHT {
            return Err(self.located(
                Loc::At(at),
                format!("expression too complex: more than {MAX_EXPR_HEIGHT} levels of operators"),
            ));
        }
        Ok(())
    }

    // ------------------------------------------------------------------------------------------
    // Errors.

    /// 0-based line and character of byte offset `pos`, counting `\r\n` as one line break.
    fn line_col(&self, pos: usize) -> (usize, usize) {
        let before = self.src.get(..pos).unwrap_or(self.src);
        let mut line = 0;
        let mut col = 0;
        let mut chars = before.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\n' => {
                    line += 1;
                    col = 0;
                }
                '\r' if chars.peek() == Some(&'\n') => {}
                '\r' => {
                    line += 1;
                    col = 0;
                }
                _ => col += 1,
            }
        }
        (line, col)
    }

    /// Byte offset, 1-based line and 1-based char of an error location.
    fn position(&self, loc: Loc) -> (usize, usize, usize) {
        match loc {
            Loc::At(pos) => {
                let (line, col) = self.line_col(pos);
                (pos, line + 1, col + 1)
            }
            Loc::Before(pos) => {
                let prev = self
                    .src
                    .get(..pos)
                    .and_then(|s| s.char_indices().next_back())
                    .map(|(i, _)| i);
                match prev {
                    Some(prev) => {
                        let (line, col) = self.line_col(prev);
                        (pos, line + 1, col + 1)
                    }
                    None => (pos, 1, 1),
                }
            }
        }
    }

    /// Where InfluxDB reports the end of the input: just after the last token, one further
    /// after a bare word or a regex probe (its scanner reads the end twice there).
    fn eof_position(&self) -> (usize, usize, usize) {
        if let Some((end, bump)) = lexer::trailing_comment_end(self.src, self.prev_end) {
            let (line, col) = self.line_col(end);
            return (self.src.len(), line + 1, col + 1 + usize::from(bump));
        }
        let (line, col) = self.line_col(self.prev_end);
        let bump = usize::from(self.prev_bare || self.eof_probed);
        (self.src.len(), line + 1, col + 1 + bump)
    }

    fn located(&self, loc: Loc, message: impl Into<String>) -> ParseError {
        let (pos, line, char) = self.position(loc);
        ParseError {
            message: message.into(),
            pos,
            line,
            char,
            located: true,
        }
    }

    /// An error InfluxDB reports without a position.
    fn unlocated(&self, pos: usize, message: impl Into<String>) -> ParseError {
        let (pos, line, char) = self.position(Loc::At(pos));
        ParseError {
            message: message.into(),
            pos,
            line,
            char,
            located: false,
        }
    }

    /// An error InfluxDB reports at the zero position (`at line 1, char 1`).
    fn at_start(&self, message: impl Into<String>) -> ParseError {
        ParseError {
            message: message.into(),
            pos: 0,
            line: 1,
            char: 1,
            located: true,
        }
    }

    /// `found <next token>, expected <list>`.
    fn expected(&mut self, expected: &[&str]) -> ParseError {
        let tok = self.peek();
        let message = format!("found {}, expected {}", tok.found(), expected.join(", "));
        let (kind, loc) = (tok.kind, tok.loc);
        let (pos, line, char) = if kind == Kind::Eof {
            self.eof_position()
        } else {
            self.position(loc)
        };
        ParseError {
            message,
            pos,
            line,
            char,
            located: true,
        }
    }

    /// Like [`Self::expected`] where the next token had to touch the previous one: when
    /// whitespace separates them InfluxDB reports the whitespace itself as found.
    fn expected_adjacent(&mut self, expected: &[&str]) -> ParseError {
        if !self.peek().ws_before {
            return self.expected(expected);
        }
        let ws_end = lexer::skip_ws(self.src, self.pos);
        let ws = self.src.get(self.pos..ws_end).unwrap_or("");
        let message = format!("found {ws}, expected {}", expected.join(", "));
        self.located(Loc::At(self.pos), message)
    }

    // ------------------------------------------------------------------------------------------
    // Statements.

    fn parse_statement(&mut self) -> Result<Statement> {
        let kind = self.peek_kind();
        let Kind::Kw(kw) = kind else {
            return Err(self.expected(STATEMENT_START));
        };
        match kw {
            K::Select => {
                self.next();
                Ok(Statement::Select(Box::new(
                    self.parse_select(IntoClause::Optional)?,
                )))
            }
            K::Delete => {
                self.next();
                Ok(Statement::Delete(self.parse_series_filter()?))
            }
            K::Show => {
                self.next();
                self.parse_show()
            }
            K::Create => {
                self.next();
                self.parse_create()
            }
            K::Drop => {
                self.next();
                self.parse_drop()
            }
            K::Explain => {
                self.next();
                let analyze = self.eat_kw(K::Analyze);
                self.expect_kw(K::Select)?;
                let select = Box::new(self.parse_select(IntoClause::Optional)?);
                Ok(unsupported(UnsupportedStatement::Explain {
                    analyze,
                    select,
                }))
            }
            K::Grant => {
                self.next();
                self.parse_grant_revoke(true)
            }
            K::Revoke => {
                self.next();
                self.parse_grant_revoke(false)
            }
            K::Alter => {
                self.next();
                self.expect_kw(K::Retention)?;
                self.expect_kw(K::Policy)?;
                self.parse_alter_retention_policy()
            }
            K::Set => {
                self.next();
                self.expect_kw(K::Password)?;
                self.expect_kw(K::For)?;
                let name = self.parse_ident()?;
                self.expect_kind(Kind::Eq, "=")?;
                let password = self.parse_string()?;
                Ok(unsupported(UnsupportedStatement::SetPassword {
                    name,
                    password,
                }))
            }
            K::Kill => {
                self.next();
                self.expect_kw(K::Query)?;
                let id = self.parse_u64()?;
                let host = self.parse_on()?;
                Ok(unsupported(UnsupportedStatement::KillQuery { id, host }))
            }
            _ => Err(self.expected(STATEMENT_START)),
        }
    }

    fn parse_show(&mut self) -> Result<Statement> {
        let Kind::Kw(kw) = self.peek_kind() else {
            return Err(self.expected(SHOW_WHAT));
        };
        match kw {
            K::Continuous => {
                self.next();
                self.expect_kw(K::Queries)?;
                Ok(unsupported(UnsupportedStatement::ShowContinuousQueries))
            }
            K::Databases => {
                self.next();
                Ok(Statement::ShowDatabases)
            }
            K::Diagnostics => {
                self.next();
                let module = self.parse_for_module()?;
                Ok(unsupported(UnsupportedStatement::ShowDiagnostics {
                    module,
                }))
            }
            K::Field => {
                self.next();
                if self.eat_kw(K::Key) {
                    let exact = self.parse_exact_cardinality()?;
                    self.parse_cardinality(CardinalityOf::FieldKey, exact)
                } else if self.eat_kw(K::Keys) {
                    self.parse_show_field_keys()
                } else {
                    Err(self.expected(&["KEY", "KEYS"]))
                }
            }
            K::Grants => {
                self.next();
                self.expect_kw(K::For)?;
                let user = self.parse_ident()?;
                Ok(unsupported(UnsupportedStatement::ShowGrants { user }))
            }
            K::Measurement => {
                self.next();
                if self.eat_kw(K::Exact) {
                    self.expect_kw(K::Cardinality)?;
                    self.parse_cardinality(CardinalityOf::Measurement, true)
                } else if self.eat_kw(K::Cardinality) {
                    self.parse_cardinality(CardinalityOf::Measurement, false)
                } else {
                    Err(self.expected(&["EXACT", "CARDINALITY"]))
                }
            }
            K::Measurements => {
                self.next();
                self.parse_show_measurements()
            }
            K::Queries => {
                self.next();
                Ok(unsupported(UnsupportedStatement::ShowQueries))
            }
            K::Retention => {
                self.next();
                self.expect_kw(K::Policies)?;
                let database = self.parse_on()?;
                Ok(Statement::ShowRetentionPolicies { database })
            }
            K::Series => {
                self.next();
                // InfluxDB ignores an `EXACT` not followed by `CARDINALITY` here.
                let exact = self.eat_kw(K::Exact);
                if self.eat_kw(K::Cardinality) {
                    self.parse_cardinality(CardinalityOf::Series, exact)
                } else {
                    self.parse_show_series()
                }
            }
            K::Shard => {
                self.next();
                self.expect_kw(K::Groups)?;
                Ok(unsupported(UnsupportedStatement::ShowShardGroups))
            }
            K::Shards => {
                self.next();
                Ok(unsupported(UnsupportedStatement::ShowShards))
            }
            K::Stats => {
                self.next();
                let module = self.parse_for_module()?;
                Ok(unsupported(UnsupportedStatement::ShowStats { module }))
            }
            K::Subscriptions => {
                self.next();
                Ok(unsupported(UnsupportedStatement::ShowSubscriptions))
            }
            K::Tag => {
                self.next();
                if self.eat_kw(K::Key) {
                    let exact = self.parse_exact_cardinality()?;
                    self.parse_cardinality(CardinalityOf::TagKey, exact)
                } else if self.eat_kw(K::Keys) {
                    self.parse_show_tag_keys()
                } else if self.eat_kw(K::Values) {
                    if self.eat_kw(K::Exact) {
                        self.expect_kw(K::Cardinality)?;
                        self.parse_cardinality(CardinalityOf::TagValues, true)
                    } else if self.eat_kw(K::Cardinality) {
                        self.parse_cardinality(CardinalityOf::TagValues, false)
                    } else {
                        self.parse_show_tag_values()
                    }
                } else {
                    Err(self.expected(&["KEY", "KEYS", "VALUES"]))
                }
            }
            K::Users => {
                self.next();
                Ok(unsupported(UnsupportedStatement::ShowUsers))
            }
            _ => Err(self.expected(SHOW_WHAT)),
        }
    }

    /// `[EXACT] CARDINALITY` after `SHOW TAG KEY` / `SHOW FIELD KEY`.
    fn parse_exact_cardinality(&mut self) -> Result<bool> {
        if self.eat_kw(K::Exact) {
            self.expect_kw(K::Cardinality)?;
            Ok(true)
        } else if self.eat_kw(K::Cardinality) {
            Ok(false)
        } else {
            Err(self.expected(&["EXACT", "CARDINALITY"]))
        }
    }

    fn parse_for_module(&mut self) -> Result<Option<String>> {
        if self.eat_kw(K::For) {
            Ok(Some(self.parse_string()?))
        } else {
            Ok(None)
        }
    }

    fn parse_from_measurements(&mut self) -> Result<Vec<Measurement>> {
        if self.eat_kw(K::From) {
            self.parse_measurements()
        } else {
            Ok(Vec::new())
        }
    }

    fn parse_cardinality(&mut self, of: CardinalityOf, exact: bool) -> Result<Statement> {
        let database = self.parse_on()?;
        let sources = self.parse_from_measurements()?;
        let key = if of == CardinalityOf::TagValues {
            Some(self.parse_tag_key_filter()?)
        } else {
            None
        };
        let condition = self.parse_condition()?;
        let group_by = self.parse_dimensions()?;
        let limit = self.parse_opt_int(K::Limit)?;
        let offset = self.parse_opt_int(K::Offset)?;
        Ok(Statement::ShowCardinality(ShowCardinality {
            of,
            exact,
            database,
            sources,
            key,
            condition,
            group_by,
            limit,
            offset,
        }))
    }

    fn parse_show_measurements(&mut self) -> Result<Statement> {
        let database = self.parse_on()?;
        let with_measurement = if self.eat_kw(K::With) {
            self.expect_kw(K::Measurement)?;
            let op = match self.peek_kind() {
                Kind::Eq => MatchOp::Eq,
                Kind::EqRegex => MatchOp::EqRegex,
                _ => return Err(self.expected(&["=", "=~"])),
            };
            self.next();
            Some((op, self.parse_measurement()?))
        } else {
            None
        };
        let condition = self.parse_condition()?;
        let order_by = self.parse_order_by()?;
        let limit = self.parse_opt_int(K::Limit)?;
        let offset = self.parse_opt_int(K::Offset)?;
        Ok(Statement::ShowMeasurements(ShowMeasurements {
            database,
            with_measurement,
            condition,
            order_by,
            limit,
            offset,
        }))
    }

    fn parse_show_tag_keys(&mut self) -> Result<Statement> {
        let database = self.parse_on()?;
        let sources = self.parse_from_measurements()?;
        let key = if self.peek().is_kw(K::With) {
            Some(self.parse_tag_key_filter()?)
        } else {
            None
        };
        let condition = self.parse_condition()?;
        let order_by = self.parse_order_by()?;
        let limit = self.parse_opt_int(K::Limit)?;
        let offset = self.parse_opt_int(K::Offset)?;
        let slimit = self.parse_opt_int(K::Slimit)?;
        let soffset = self.parse_opt_int(K::Soffset)?;
        Ok(Statement::ShowTagKeys(ShowTagKeys {
            database,
            sources,
            key,
            condition,
            order_by,
            limit,
            offset,
            slimit,
            soffset,
        }))
    }

    fn parse_show_tag_values(&mut self) -> Result<Statement> {
        let database = self.parse_on()?;
        let sources = self.parse_from_measurements()?;
        let key = self.parse_tag_key_filter()?;
        let condition = self.parse_condition()?;
        let order_by = self.parse_order_by()?;
        let limit = self.parse_opt_int(K::Limit)?;
        let offset = self.parse_opt_int(K::Offset)?;
        Ok(Statement::ShowTagValues(ShowTagValues {
            database,
            sources,
            key,
            condition,
            order_by,
            limit,
            offset,
        }))
    }

    /// `WITH KEY (= k | != k | =~ /re/ | !~ /re/ | IN (k, ...))`
    fn parse_tag_key_filter(&mut self) -> Result<TagKeyFilter> {
        self.expect_kw(K::With)?;
        self.expect_kw(K::Key)?;
        match self.peek_kind() {
            Kind::Kw(K::In) => {
                self.next();
                self.expect_kind(Kind::LParen, "(")?;
                let keys = self.parse_ident_list()?;
                self.expect_kind(Kind::RParen, ")")?;
                Ok(TagKeyFilter::In(keys))
            }
            Kind::Eq => {
                self.next();
                Ok(TagKeyFilter::Eq(self.parse_ident()?))
            }
            Kind::Neq => {
                self.next();
                Ok(TagKeyFilter::NotEq(self.parse_ident()?))
            }
            kind @ (Kind::EqRegex | Kind::NeqRegex) => {
                self.next();
                let Some(re) = self.try_regex()? else {
                    return Err(self.expected(&["regex"]));
                };
                Ok(if kind == Kind::EqRegex {
                    TagKeyFilter::Regex(re)
                } else {
                    TagKeyFilter::NotRegex(re)
                })
            }
            _ => Err(self.expected(&["IN", "=", "=~"])),
        }
    }

    fn parse_show_field_keys(&mut self) -> Result<Statement> {
        let database = self.parse_on()?;
        let sources = self.parse_from_measurements()?;
        let order_by = self.parse_order_by()?;
        let limit = self.parse_opt_int(K::Limit)?;
        let offset = self.parse_opt_int(K::Offset)?;
        Ok(Statement::ShowFieldKeys(ShowFieldKeys {
            database,
            sources,
            order_by,
            limit,
            offset,
        }))
    }

    fn parse_show_series(&mut self) -> Result<Statement> {
        let database = self.parse_on()?;
        let sources = self.parse_from_measurements()?;
        let condition = self.parse_condition()?;
        let order_by = self.parse_order_by()?;
        let limit = self.parse_opt_int(K::Limit)?;
        let offset = self.parse_opt_int(K::Offset)?;
        Ok(Statement::ShowSeries(ShowSeries {
            database,
            sources,
            condition,
            order_by,
            limit,
            offset,
        }))
    }

    fn parse_create(&mut self) -> Result<Statement> {
        let Kind::Kw(kw) = self.peek_kind() else {
            return Err(self.expected(CREATE_WHAT));
        };
        match kw {
            K::Continuous => {
                self.next();
                self.expect_kw(K::Query)?;
                self.parse_create_continuous_query()
            }
            K::Database => {
                self.next();
                self.parse_create_database()
            }
            K::User => {
                self.next();
                let name = self.parse_ident()?;
                self.expect_kw(K::With)?;
                self.expect_kw(K::Password)?;
                let password = self.parse_string()?;
                let admin = if self.eat_kw(K::With) {
                    self.expect_kw(K::All)?;
                    self.expect_kw(K::Privileges)?;
                    true
                } else {
                    false
                };
                Ok(unsupported(UnsupportedStatement::CreateUser {
                    name,
                    password,
                    admin,
                }))
            }
            K::Retention => {
                self.next();
                self.expect_kw(K::Policy)?;
                self.parse_create_retention_policy()
            }
            K::Subscription => {
                self.next();
                let name = self.parse_ident()?;
                self.expect_kw(K::On)?;
                let (database, retention_policy) = self.parse_db_dot_rp()?;
                self.expect_kw(K::Destinations)?;
                let any = match self.peek_kind() {
                    Kind::Kw(K::Any) => true,
                    Kind::Kw(K::All) => false,
                    _ => return Err(self.expected(&["ALL", "ANY"])),
                };
                self.next();
                let mut destinations = vec![self.parse_string()?];
                while self.peek_kind() == Kind::Comma {
                    self.next();
                    destinations.push(self.parse_string()?);
                }
                Ok(unsupported(UnsupportedStatement::CreateSubscription {
                    name,
                    database,
                    retention_policy,
                    any,
                    destinations,
                }))
            }
            _ => Err(self.expected(CREATE_WHAT)),
        }
    }

    /// `db.rp` of the subscription statements (the dot must touch the database name).
    fn parse_db_dot_rp(&mut self) -> Result<(String, String)> {
        let database = self.parse_ident()?;
        if self.peek_kind() != Kind::Dot {
            return Err(self.expected(&["."]));
        }
        if self.peek().ws_before {
            return Err(self.expected_adjacent(&["."]));
        }
        self.next();
        let retention_policy = self.parse_ident()?;
        Ok((database, retention_policy))
    }

    fn parse_create_continuous_query(&mut self) -> Result<Statement> {
        let name = self.parse_ident()?;
        self.expect_kw(K::On)?;
        let database = self.parse_ident()?;
        let (mut resample_every, mut resample_for) = (None, None);
        if self.eat_kw(K::Resample) {
            if self.eat_kw(K::Every) {
                resample_every = Some(self.parse_duration_token()?);
            }
            if self.eat_kw(K::For) {
                resample_for = Some(self.parse_duration_token()?);
            }
            if resample_every.is_none() && resample_for.is_none() {
                return Err(self.expected(&["EVERY", "FOR"]));
            }
        }
        self.expect_kw(K::Begin)?;
        self.expect_kw(K::Select)?;
        let select = Box::new(self.parse_select(IntoClause::Required)?);
        self.expect_kw(K::End)?;
        Ok(unsupported(UnsupportedStatement::CreateContinuousQuery {
            name,
            database,
            resample_every,
            resample_for,
            select,
        }))
    }

    /// A duration token (`RESAMPLE EVERY/FOR`), errors positioned at the token.
    fn parse_duration_token(&mut self) -> Result<i64> {
        if self.peek_kind() != Kind::Duration {
            return Err(self.expected(&["duration"]));
        }
        let tok = self.next();
        lexer::parse_duration(&tok.lit).map_err(|e| self.located(tok.loc, e.message()))
    }

    /// A retention-policy duration: a duration token or `INF` (0).
    fn parse_rp_duration(&mut self, allow_inf: bool) -> Result<i64> {
        match self.peek_kind() {
            Kind::Kw(K::Inf) if allow_inf => {
                self.next();
                Ok(0)
            }
            Kind::Kw(K::Inf) => {
                let loc = self.peek().loc;
                Err(self.located(loc, "invalid duration INF for shard duration"))
            }
            _ => self.parse_duration_token(),
        }
    }

    /// `REPLICATION n`: 1 <= n <= 2147483647, InfluxDB's messages.
    fn parse_replication(&mut self) -> Result<u32> {
        if self.peek_kind() != Kind::Integer {
            return Err(self.expected(&["integer"]));
        }
        let tok = self.next();
        let Ok(n) = tok.lit.parse::<i64>() else {
            let msg = format!("strconv.Atoi: parsing {:?}: value out of range", tok.lit);
            return Err(self.located(tok.loc, msg));
        };
        match u32::try_from(n) {
            Ok(n) if (1..=2_147_483_647).contains(&n) => Ok(n),
            _ => Err(self.located(
                tok.loc,
                format!("invalid value {n}: must be 1 <= n <= 2147483647"),
            )),
        }
    }

    fn parse_u64(&mut self) -> Result<u64> {
        if self.peek_kind() != Kind::Integer {
            return Err(self.expected(&["integer"]));
        }
        let tok = self.next();
        tok.lit.parse::<u64>().map_err(|_| {
            let why = if tok.lit.starts_with('-') {
                "invalid syntax"
            } else {
                "value out of range"
            };
            let msg = format!("strconv.ParseUint: parsing {:?}: {why}", tok.lit);
            self.located(tok.loc, msg)
        })
    }

    fn parse_create_database(&mut self) -> Result<Statement> {
        let name = self.parse_ident()?;
        let mut with = None;
        if self.eat_kw(K::With) {
            if !matches!(
                self.peek_kind(),
                Kind::Kw(K::Duration | K::Name | K::Replication | K::Shard)
            ) {
                return Err(self.expected(&["DURATION", "NAME", "REPLICATION", "SHARD"]));
            }
            let mut spec = RetentionPolicySpec::default();
            if self.eat_kw(K::Duration) {
                spec.duration = Some(self.parse_rp_duration(true)?);
            }
            if self.eat_kw(K::Replication) {
                spec.replication = Some(self.parse_replication()?);
            }
            if self.eat_kw(K::Shard) {
                self.expect_kw(K::Duration)?;
                spec.shard_duration = Some(self.parse_rp_duration(true)?);
            }
            if self.eat_kw(K::Name) {
                spec.name = Some(self.parse_ident()?);
            }
            with = Some(spec);
        }
        Ok(Statement::CreateDatabase(CreateDatabase { name, with }))
    }

    fn parse_create_retention_policy(&mut self) -> Result<Statement> {
        let name = self.parse_ident()?;
        self.expect_kw(K::On)?;
        let database = self.parse_ident()?;
        self.expect_kw(K::Duration)?;
        let duration = self.parse_rp_duration(true)?;
        self.expect_kw(K::Replication)?;
        let replication = self.parse_replication()?;
        let shard_duration = if self.eat_kw(K::Shard) {
            self.expect_kw(K::Duration)?;
            Some(self.parse_rp_duration(false)?)
        } else {
            None
        };
        let default = self.eat_kw(K::Default);
        Ok(Statement::CreateRetentionPolicy(CreateRetentionPolicy {
            name,
            database,
            duration,
            replication,
            shard_duration,
            default,
        }))
    }

    fn parse_alter_retention_policy(&mut self) -> Result<Statement> {
        let name = match self.peek_kind() {
            Kind::Kw(K::Default) => {
                self.next();
                "default".to_owned()
            }
            Kind::Ident => self.next().lit.into_owned(),
            _ => return Err(self.expected(&["identifier"])),
        };
        self.expect_kw(K::On)?;
        let database = self.parse_ident()?;
        let mut stmt = AlterRetentionPolicy {
            name,
            database,
            duration: None,
            replication: None,
            shard_duration: None,
            default: false,
        };
        let mut seen: Vec<K> = Vec::new();
        loop {
            let (kind, loc) = {
                let tok = self.peek();
                (tok.kind, tok.loc)
            };
            let kw = match kind {
                Kind::Kw(kw @ (K::Duration | K::Replication | K::Shard | K::Default)) => kw,
                _ if seen.is_empty() => {
                    return Err(self.expected(&["DURATION", "REPLICATION", "SHARD", "DEFAULT"]));
                }
                _ => break,
            };
            if seen.contains(&kw) {
                return Err(self.located(loc, format!("found duplicate {} option", kw.as_str())));
            }
            self.next();
            match kw {
                K::Duration => stmt.duration = Some(self.parse_rp_duration(true)?),
                K::Replication => stmt.replication = Some(self.parse_replication()?),
                K::Shard => {
                    self.expect_kw(K::Duration)?;
                    stmt.shard_duration = Some(self.parse_rp_duration(false)?);
                }
                _ => stmt.default = true,
            }
            seen.push(kw);
        }
        Ok(Statement::AlterRetentionPolicy(stmt))
    }

    fn parse_drop(&mut self) -> Result<Statement> {
        let Kind::Kw(kw) = self.peek_kind() else {
            return Err(self.expected(DROP_WHAT));
        };
        match kw {
            K::Continuous => {
                self.next();
                self.expect_kw(K::Query)?;
                let name = self.parse_ident()?;
                self.expect_kw(K::On)?;
                let database = self.parse_ident()?;
                Ok(unsupported(UnsupportedStatement::DropContinuousQuery {
                    name,
                    database,
                }))
            }
            K::Database => {
                self.next();
                let name = self.parse_ident()?;
                Ok(Statement::DropDatabase { name })
            }
            K::Measurement => {
                self.next();
                let name = self.parse_ident()?;
                Ok(Statement::DropMeasurement { name })
            }
            K::Retention => {
                self.next();
                self.expect_kw(K::Policy)?;
                let name = self.parse_ident()?;
                self.expect_kw(K::On)?;
                let database = self.parse_ident()?;
                Ok(Statement::DropRetentionPolicy { name, database })
            }
            K::Series => {
                self.next();
                Ok(Statement::DropSeries(self.parse_series_filter()?))
            }
            K::Shard => {
                self.next();
                let id = self.parse_u64()?;
                Ok(unsupported(UnsupportedStatement::DropShard { id }))
            }
            K::Subscription => {
                self.next();
                let name = self.parse_ident()?;
                self.expect_kw(K::On)?;
                let (database, retention_policy) = self.parse_db_dot_rp()?;
                Ok(unsupported(UnsupportedStatement::DropSubscription {
                    name,
                    database,
                    retention_policy,
                }))
            }
            K::User => {
                self.next();
                let name = self.parse_ident()?;
                Ok(unsupported(UnsupportedStatement::DropUser { name }))
            }
            _ => Err(self.expected(DROP_WHAT)),
        }
    }

    /// `[FROM ...] [WHERE ...]` of `DELETE` and `DROP SERIES`: neither takes a database or
    /// retention policy qualifier (InfluxDB 1.6/1.8; later versions let `DELETE` name one).
    fn parse_series_filter(&mut self) -> Result<SeriesFilter> {
        let sources = self.parse_from_measurements()?;
        // InfluxDB checks every source; the last complaint wins.
        let mut complaint = None;
        for m in &sources {
            if m.database.is_some() {
                complaint = Some("database not supported");
            }
            if m.retention_policy.is_some() {
                complaint = Some("retention policy not supported");
            }
        }
        if let Some(msg) = complaint {
            return Err(self.at_start(msg));
        }
        let condition = self.parse_condition()?;
        if sources.is_empty() && condition.is_none() {
            return Err(self.expected(&["FROM", "WHERE"]));
        }
        Ok(SeriesFilter { sources, condition })
    }

    fn parse_grant_revoke(&mut self, grant: bool) -> Result<Statement> {
        let privilege = match self.peek_kind() {
            Kind::Kw(K::Read) => Privilege::Read,
            Kind::Kw(K::Write) => Privilege::Write,
            Kind::Kw(K::All) => Privilege::All,
            _ => return Err(self.expected(&["READ", "WRITE", "ALL [PRIVILEGES]"])),
        };
        self.next();
        if privilege == Privilege::All {
            self.eat_kw(K::Privileges);
        }
        let (to_kw, to_name) = if grant {
            (K::To, "TO")
        } else {
            (K::From, "FROM")
        };
        let kind = self.peek_kind();
        let database = if kind == Kind::Kw(K::On) {
            self.next();
            let database = self.parse_ident()?;
            self.expect_kw(to_kw)?;
            Some(database)
        } else if kind == Kind::Kw(to_kw) && privilege == Privilege::All {
            self.next();
            None
        } else if privilege == Privilege::All {
            return Err(self.expected(&["ON", to_name]));
        } else {
            return Err(self.expected(&["ON"]));
        };
        let user = self.parse_ident()?;
        Ok(unsupported(if grant {
            UnsupportedStatement::Grant {
                privilege,
                database,
                user,
            }
        } else {
            UnsupportedStatement::Revoke {
                privilege,
                database,
                user,
            }
        }))
    }

    // ------------------------------------------------------------------------------------------
    // SELECT.

    fn parse_select(&mut self, into: IntoClause) -> Result<SelectStatement> {
        let fields = self.parse_fields()?;
        let into = self.parse_into(into)?;
        self.expect_kw(K::From)?;
        let mut sources = vec![self.parse_source()?];
        while self.peek_kind() == Kind::Comma {
            self.next();
            sources.push(self.parse_source()?);
        }
        let condition = self.parse_condition()?;
        let group_by = self.parse_dimensions()?;
        let fill = self.parse_fill()?;
        let order_by = self.parse_order_by()?;
        let limit = self.parse_opt_int(K::Limit)?;
        let offset = self.parse_opt_int(K::Offset)?;
        let slimit = self.parse_opt_int(K::Slimit)?;
        let soffset = self.parse_opt_int(K::Soffset)?;
        let tz = self.parse_tz()?;
        Ok(SelectStatement {
            fields,
            into,
            sources,
            condition,
            group_by,
            fill,
            order_by,
            limit,
            offset,
            slimit,
            soffset,
            tz,
        })
    }

    fn parse_fields(&mut self) -> Result<Vec<Field>> {
        let mut fields = vec![self.parse_field()?];
        while self.peek_kind() == Kind::Comma {
            self.next();
            fields.push(self.parse_field()?);
        }
        Ok(fields)
    }

    fn parse_field(&mut self) -> Result<Field> {
        let expr = match self.try_regex()? {
            Some(re) => Expr::Literal(Literal::Regex(re)),
            None => {
                let start = self.peek().start;
                let expr = self.parse_expr()?;
                let mut bad = None;
                find_condition_op(&expr, &mut bad);
                if let Some(op) = bad {
                    let (_, line, char) = self.position(Loc::At(start));
                    return Err(self.unlocated(
                        start,
                        format!(
                            "invalid operator {op} in SELECT clause at line {line}, char {char}; \
                             operator is intended for WHERE clause"
                        ),
                    ));
                }
                expr
            }
        };
        let alias = if self.eat_kw(K::As) {
            Some(self.parse_ident()?)
        } else {
            None
        };
        Ok(Field { expr, alias })
    }

    fn parse_into(&mut self, into: IntoClause) -> Result<Option<Measurement>> {
        if !self.eat_kw(K::Into) {
            if into == IntoClause::Required {
                return Err(self.expected(&["INTO"]));
            }
            return Ok(None);
        }
        let (segments, end) = self.parse_segments(None)?;
        if segments.len() < 3 && end == SegEnd::DotColon {
            self.expect_kind(Kind::Colon, ":")?;
            self.expect_kw(K::Measurement)?;
            let mut it = segments.into_iter();
            let (first, second) = (it.next().unwrap_or_default(), it.next());
            let (database, retention_policy) = match second {
                Some(rp) => (non_empty(first), non_empty(rp)),
                None => (None, non_empty(first)),
            };
            return Ok(Some(Measurement {
                database,
                retention_policy,
                name: MeasurementName::SourceMeasurement,
            }));
        }
        Ok(Some(measurement_from_segments(segments, None)))
    }

    /// A `FROM` item of `SELECT`: a measurement, a regex or a subquery.
    fn parse_source(&mut self) -> Result<Source> {
        if let Some(re) = self.try_regex()? {
            return Ok(Source::Measurement(Measurement {
                database: None,
                retention_policy: None,
                name: MeasurementName::Regex(re),
            }));
        }
        if self.peek_kind() == Kind::LParen {
            let open = self.next();
            self.enter(open.start)?;
            self.expect_kw(K::Select)?;
            let select = self.parse_select(IntoClause::Optional)?;
            self.expect_kind(Kind::RParen, ")")?;
            self.leave();
            return Ok(Source::Subquery(Box::new(select)));
        }
        self.parse_measurement().map(Source::Measurement)
    }

    fn parse_measurements(&mut self) -> Result<Vec<Measurement>> {
        let mut sources = vec![self.parse_measurement()?];
        while self.peek_kind() == Kind::Comma {
            self.next();
            sources.push(self.parse_measurement()?);
        }
        Ok(sources)
    }

    /// `/re/`, `name`, `rp.name`, `db.rp.name`, `rp./re/`, `db.rp./re/`, `db..name`...
    fn parse_measurement(&mut self) -> Result<Measurement> {
        if let Some(re) = self.try_regex()? {
            return Ok(Measurement {
                database: None,
                retention_policy: None,
                name: MeasurementName::Regex(re),
            });
        }
        let (segments, end) = self.parse_segments(None)?;
        if segments.len() < 3 && end == SegEnd::DotSlash {
            let Some(re) = self.try_regex()? else {
                return Err(self.expected(&["regex"]));
            };
            return Ok(measurement_from_segments(segments, Some(re)));
        }
        Ok(measurement_from_segments(segments, None))
    }

    /// `ident(.ident){0,2}`, the dots touching the previous segment; `a..b` has an empty middle
    /// segment. Stops before a regex (`rp./re/`) or `:MEASUREMENT` after a dot.
    fn parse_segments(&mut self, first: Option<String>) -> Result<(Vec<String>, SegEnd)> {
        let first = match first {
            Some(first) => first,
            None => self.parse_ident()?,
        };
        let mut segments = vec![first];
        let end = loop {
            let tok = self.peek();
            if tok.kind != Kind::Dot || tok.ws_before {
                break SegEnd::Normal;
            }
            self.next();
            match self.src.as_bytes().get(self.pos) {
                None => {
                    // InfluxDB peeks past the dot and reads the end of the input.
                    self.eof_probed = true;
                    segments.push(self.parse_ident()?);
                }
                Some(b'/') => break SegEnd::DotSlash,
                Some(b':') => break SegEnd::DotColon,
                Some(b'.') => segments.push(String::new()),
                _ => segments.push(self.parse_ident()?),
            }
        };
        if segments.len() > 3 {
            return Err(self.at_start(format!(
                "too many segments in {}",
                quote_segments(&segments)
            )));
        }
        Ok((segments, end))
    }

    fn parse_condition(&mut self) -> Result<Option<Expr>> {
        if self.eat_kw(K::Where) {
            Ok(Some(self.parse_expr()?))
        } else {
            Ok(None)
        }
    }

    fn parse_dimensions(&mut self) -> Result<Vec<Dimension>> {
        if !self.eat_kw(K::Group) {
            return Ok(Vec::new());
        }
        self.expect_kw(K::By)?;
        let mut dims = Vec::new();
        loop {
            dims.push(match self.try_regex()? {
                Some(re) => Dimension::Regex(re),
                None => Dimension::Expr(self.parse_expr()?),
            });
            if self.peek_kind() != Kind::Comma {
                return Ok(dims);
            }
            self.next();
        }
    }

    /// Whether the next token is the bare-or-quoted identifier `word` (any case).
    fn peek_ident_is(&mut self, word: &str) -> Option<usize> {
        let tok = self.peek();
        (tok.kind == Kind::Ident && tok.lit.eq_ignore_ascii_case(word)).then_some(tok.start)
    }

    fn parse_fill(&mut self) -> Result<Option<Fill>> {
        let Some(start) = self.peek_ident_is("fill") else {
            return Ok(None);
        };
        let Expr::Call(call) = self.parse_expr()? else {
            return Err(self.unlocated(start, "fill must be a function call"));
        };
        let mut args = call.args.into_iter();
        let (Some(arg), None) = (args.next(), args.next()) else {
            return Err(self.unlocated(
                start,
                "fill requires an argument, e.g.: 0, null, none, previous, linear",
            ));
        };
        let fill = match arg {
            Expr::VarRef(VarRef {
                name,
                data_type: None,
            }) => match name.as_str() {
                "null" => Some(Fill::Null),
                "none" => Some(Fill::None),
                "previous" => Some(Fill::Previous),
                "linear" => Some(Fill::Linear),
                _ => None,
            },
            Expr::Literal(Literal::Integer(n)) => Some(Fill::Integer(n)),
            Expr::Literal(Literal::Float(v)) => Some(Fill::Float(v)),
            _ => None,
        };
        match fill {
            Some(fill) => Ok(Some(fill)),
            None => Err(self.unlocated(start, "expected number argument in fill()")),
        }
    }

    fn parse_tz(&mut self) -> Result<Option<String>> {
        let Some(start) = self.peek_ident_is("tz") else {
            return Ok(None);
        };
        let Expr::Call(call) = self.parse_expr()? else {
            return Err(self.unlocated(start, "tz must be a function call"));
        };
        let mut args = call.args.into_iter();
        let (Some(arg), None) = (args.next(), args.next()) else {
            return Err(self.unlocated(start, "tz requires exactly one argument"));
        };
        let Expr::Literal(Literal::String(zone)) = arg else {
            return Err(self.unlocated(start, "expected string argument in tz()"));
        };
        if let Some(check) = self.opts.check_time_zone {
            check(&zone).map_err(|msg| self.unlocated(start, msg))?;
        }
        Ok(Some(zone))
    }

    fn parse_order_by(&mut self) -> Result<Option<OrderBy>> {
        if !self.eat_kw(K::Order) {
            return Ok(None);
        }
        self.expect_kw(K::By)?;
        let order = match self.peek_kind() {
            Kind::Kw(kw @ (K::Asc | K::Desc)) => {
                let start = self.next().start;
                if self.peek_kind() == Kind::Comma {
                    return Err(self.unlocated(start, ONLY_ORDER_BY_TIME));
                }
                OrderBy {
                    time: false,
                    ascending: Some(kw == K::Asc),
                }
            }
            Kind::Ident => {
                let tok = self.next();
                let ascending = self.parse_direction();
                if tok.lit != "time" || self.peek_kind() == Kind::Comma {
                    return Err(self.unlocated(tok.start, ONLY_ORDER_BY_TIME));
                }
                OrderBy {
                    time: true,
                    ascending,
                }
            }
            _ => return Err(self.expected(&["identifier", "ASC", "DESC"])),
        };
        Ok(Some(order))
    }

    fn parse_direction(&mut self) -> Option<bool> {
        match self.peek_kind() {
            Kind::Kw(K::Asc) => {
                self.next();
                Some(true)
            }
            Kind::Kw(K::Desc) => {
                self.next();
                Some(false)
            }
            _ => None,
        }
    }

    /// `LIMIT n`-style clauses; values past `i64::MAX` saturate as in InfluxDB.
    fn parse_opt_int(&mut self, kw: K) -> Result<Option<u64>> {
        if !self.eat_kw(kw) {
            return Ok(None);
        }
        if self.peek_kind() != Kind::Integer {
            return Err(self.expected(&["integer"]));
        }
        let tok = self.next();
        let n = tok.lit.parse::<i64>().unwrap_or(i64::MAX);
        match u64::try_from(n) {
            Ok(n) => Ok(Some(n)),
            Err(_) => Err(self.located(tok.loc, format!("{} must be >= 0", kw.as_str()))),
        }
    }

    // ------------------------------------------------------------------------------------------
    // Expressions.

    fn parse_expr(&mut self) -> Result<Expr> {
        Ok(self.parse_binary(1)?.0)
    }

    /// Precedence climbing over operators binding at least as tight as `min_prec`; returns the
    /// tree and its height.
    fn parse_binary(&mut self, min_prec: u8) -> Result<(Expr, u32)> {
        let (lhs, height) = self.parse_unary()?;
        self.parse_binary_rest(lhs, height, min_prec)
    }

    /// Continues [`Self::parse_binary`] after its first operand.
    fn parse_binary_rest(
        &mut self,
        mut lhs: Expr,
        mut height: u32,
        min_prec: u8,
    ) -> Result<(Expr, u32)> {
        while let Some(op) = binary_op(self.peek_kind()) {
            let prec = op.precedence();
            if prec < min_prec {
                break;
            }
            let at = self.next().start;
            let (rhs, rhs_height) = if op.is_regex() {
                // Tighter operators after the regex apply to it, as in InfluxDB's tree
                // (`a =~ /x/ + 1` is `a =~ (/x/ + 1)`, refused later by the executor).
                match self.try_regex()? {
                    Some(re) => {
                        self.parse_binary_rest(Expr::Literal(Literal::Regex(re)), 1, prec + 1)?
                    }
                    None => return Err(self.expected(&["regex"])),
                }
            } else {
                self.parse_binary(prec + 1)?
            };
            height = height.max(rhs_height) + 1;
            self.check_height(height, at)?;
            lhs = Expr::Binary(Box::new(BinaryExpr { op, lhs, rhs }));
        }
        Ok((lhs, height))
    }

    fn parse_unary(&mut self) -> Result<(Expr, u32)> {
        let kind = self.peek_kind();
        match kind {
            Kind::LParen => {
                let open = self.next();
                self.enter(open.start)?;
                let (inner, height) = self.parse_binary(1)?;
                self.expect_kind(Kind::RParen, ")")?;
                self.leave();
                self.check_height(height + 1, open.start)?;
                Ok((Expr::Paren(Box::new(inner)), height + 1))
            }
            Kind::Ident => {
                let tok = self.next();
                let next = self.peek();
                if next.kind == Kind::LParen && !next.ws_before {
                    self.next();
                    return self.parse_call(&tok.lit, tok.start);
                }
                self.parse_var_ref(tok.lit.into_owned())
            }
            Kind::Kw(K::Distinct) => {
                let tok = self.next();
                let next = self.peek();
                if next.kind == Kind::LParen && !next.ws_before {
                    self.next();
                    return self.parse_call("distinct", tok.start);
                }
                if next.kind == Kind::Ident {
                    let name = self.next().lit.into_owned();
                    return Ok((Expr::Distinct(name), 1));
                }
                if next.ws_before {
                    Err(self.expected(&["identifier"]))
                } else {
                    Err(self.expected(&["(", "identifier"]))
                }
            }
            Kind::Str => Ok((
                Expr::Literal(Literal::String(self.next().lit.into_owned())),
                1,
            )),
            Kind::Number => {
                let tok = self.next();
                match tok.lit.parse::<f64>() {
                    Ok(v) if v.is_finite() => Ok((Expr::Literal(Literal::Float(v)), 1)),
                    _ => Err(self.located(tok.loc, "unable to parse number")),
                }
            }
            Kind::Integer => {
                let tok = self.next();
                if let Ok(n) = tok.lit.parse::<i64>() {
                    Ok((Expr::Literal(Literal::Integer(n)), 1))
                } else if let Ok(n) = tok.lit.parse::<u64>() {
                    Ok((Expr::Literal(Literal::Unsigned(n)), 1))
                } else {
                    Err(self.located(tok.loc, "unable to parse integer"))
                }
            }
            Kind::Kw(K::True) => {
                self.next();
                Ok((Expr::Literal(Literal::Boolean(true)), 1))
            }
            Kind::Kw(K::False) => {
                self.next();
                Ok((Expr::Literal(Literal::Boolean(false)), 1))
            }
            Kind::Duration => {
                let tok = self.next();
                match lexer::parse_duration(&tok.lit) {
                    Ok(ns) => Ok((Expr::Literal(Literal::Duration(ns)), 1)),
                    Err(e) => Err(self.unlocated(tok.start, e.message())),
                }
            }
            Kind::Mul => {
                self.next();
                let next = self.peek();
                if next.kind != Kind::DoubleColon || next.ws_before {
                    return Ok((Expr::Wildcard(None), 1));
                }
                self.next();
                let ty = match self.peek_kind() {
                    _ if self.peek().ws_before => {
                        return Err(self.expected_adjacent(&["field", "tag"]));
                    }
                    Kind::Kw(K::Field) => WildcardType::Field,
                    Kind::Kw(K::Tag) => WildcardType::Tag,
                    _ => return Err(self.expected(&["field", "tag"])),
                };
                self.next();
                Ok((Expr::Wildcard(Some(ty)), 1))
            }
            Kind::Regex => {
                // Only a bound parameter yields a regex token here.
                let tok = self.next();
                let re = Regex::new(tok.lit);
                self.check_regex(&re, tok.loc)?;
                Ok((Expr::Literal(Literal::Regex(re)), 1))
            }
            Kind::BoundParam => {
                let tok = self.peek();
                let (start, name) = (tok.start, tok.lit.get(1..).unwrap_or("").to_owned());
                if name.is_empty() {
                    Err(self.unlocated(start, "empty bound parameter"))
                } else {
                    Err(self.unlocated(start, format!("missing parameter: {name}")))
                }
            }
            Kind::Add | Kind::Sub => {
                let sign = self.next();
                match self.peek_kind() {
                    Kind::Number | Kind::Integer | Kind::Duration | Kind::LParen | Kind::Ident => {
                        let (operand, height) = self.parse_unary()?;
                        self.apply_sign(operand, height, kind == Kind::Sub, sign.start)
                    }
                    _ => Err(self.expected(&["identifier", "number", "duration", "("])),
                }
            }
            _ => Err(self.expected(UNARY_START)),
        }
    }

    /// Unary `-`/`+`: folded into a numeric literal; on anything else InfluxDB multiplies by
    /// `-1`/`1`. That product is wrapped in parentheses so the tree prints and reads back the
    /// same in any context (`a * -b` is `a * (-1 * b)`, not `(a * -1) * b`).
    fn apply_sign(
        &self,
        operand: Expr,
        height: u32,
        negate: bool,
        at: usize,
    ) -> Result<(Expr, u32)> {
        let lit = match operand {
            Expr::Literal(Literal::Float(v)) => Literal::Float(if negate { -v } else { v }),
            Expr::Literal(Literal::Integer(n)) => {
                Literal::Integer(if negate { n.wrapping_neg() } else { n })
            }
            Expr::Literal(Literal::Unsigned(n)) if !negate => Literal::Unsigned(n),
            Expr::Literal(Literal::Unsigned(n)) => {
                if n == 1 << 63 {
                    Literal::Integer(i64::MIN)
                } else {
                    return Err(self.unlocated(at, format!("constant -{n} underflows int64")));
                }
            }
            Expr::Literal(Literal::Duration(ns)) => {
                Literal::Duration(if negate { ns.wrapping_neg() } else { ns })
            }
            other => {
                let factor = Expr::Literal(Literal::Integer(if negate { -1 } else { 1 }));
                let product = Expr::Binary(Box::new(BinaryExpr {
                    op: BinaryOp::Mul,
                    lhs: factor,
                    rhs: other,
                }));
                self.check_height(height + 2, at)?;
                return Ok((Expr::Paren(Box::new(product)), height + 2));
            }
        };
        Ok((Expr::Literal(lit), 1))
    }

    /// Arguments of `name(`, the parenthesis consumed. Each argument may be a regex.
    fn parse_call(&mut self, name: &str, start: usize) -> Result<(Expr, u32)> {
        self.enter(start)?;
        let name = name.to_lowercase();
        let mut args = Vec::new();
        let mut height = 1;
        match self.try_regex()? {
            Some(re) => args.push(Expr::Literal(Literal::Regex(re))),
            None if self.peek_kind() == Kind::RParen => {
                self.next();
                self.leave();
                return Ok((Expr::Call(Call { name, args }), 1));
            }
            None => {
                let (arg, h) = self.parse_binary(1)?;
                height = height.max(h + 1);
                args.push(arg);
            }
        }
        while self.peek_kind() == Kind::Comma {
            self.next();
            match self.try_regex()? {
                Some(re) => args.push(Expr::Literal(Literal::Regex(re))),
                None => {
                    let (arg, h) = self.parse_binary(1)?;
                    height = height.max(h + 1);
                    args.push(arg);
                }
            }
        }
        self.expect_kind(Kind::RParen, ")")?;
        self.leave();
        self.check_height(height, start)?;
        Ok((Expr::Call(Call { name, args }), height))
    }

    /// A field/tag reference whose first segment has been read, with an optional `::type`.
    fn parse_var_ref(&mut self, first: String) -> Result<(Expr, u32)> {
        let (mut segments, _) = self.parse_segments(Some(first))?;
        let name = match (segments.pop(), segments.is_empty()) {
            (Some(only), true) => only,
            (last, _) => {
                segments.extend(last);
                segments.join(".")
            }
        };
        let next = self.peek();
        if next.kind != Kind::DoubleColon || next.ws_before {
            return Ok((
                Expr::VarRef(VarRef {
                    name,
                    data_type: None,
                }),
                1,
            ));
        }
        self.next();
        if self.peek().ws_before {
            return Err(self.expected_adjacent(CAST_TYPES_SHORT));
        }
        let next = self.peek();
        let data_type = match next.kind {
            Kind::Ident => match next.lit.to_ascii_lowercase().as_str() {
                "float" => DataType::Float,
                "integer" => DataType::Integer,
                "unsigned" => DataType::Unsigned,
                "string" => DataType::String,
                "boolean" => DataType::Boolean,
                _ => return Err(self.expected(CAST_TYPES)),
            },
            Kind::Kw(K::Field) => DataType::Field,
            Kind::Kw(K::Tag) => DataType::Tag,
            _ => return Err(self.expected(CAST_TYPES_SHORT)),
        };
        self.next();
        Ok((
            Expr::VarRef(VarRef {
                name,
                data_type: Some(data_type),
            }),
            1,
        ))
    }
}

fn unsupported(stmt: UnsupportedStatement) -> Statement {
    Statement::Unsupported(stmt)
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// Builds a measurement from 1..=3 segments (`name`, `rp.name`, `db.rp.name`), or from 1..=2
/// qualifier segments and a regex.
fn measurement_from_segments(segments: Vec<String>, regex: Option<Regex>) -> Measurement {
    let mut it = segments.into_iter();
    let (a, b, c) = (it.next(), it.next(), it.next());
    match regex {
        Some(re) => {
            let (database, retention_policy) = match (a, b) {
                (Some(db), Some(rp)) => (non_empty(db), non_empty(rp)),
                (rp, _) => (None, rp.and_then(non_empty)),
            };
            Measurement {
                database,
                retention_policy,
                name: MeasurementName::Regex(re),
            }
        }
        None => {
            let (database, retention_policy, name) = match (a, b, c) {
                (Some(db), Some(rp), Some(name)) => (non_empty(db), non_empty(rp), name),
                (Some(rp), Some(name), None) => (None, non_empty(rp), name),
                (name, _, _) => (None, None, name.unwrap_or_default()),
            };
            Measurement {
                database,
                retention_policy,
                name: MeasurementName::Name(name),
            }
        }
    }
}

/// InfluxDB's `QuoteIdent(segments...)`, used in the "too many segments" message.
fn quote_segments(segments: &[String]) -> String {
    let last = segments.len().saturating_sub(1);
    let mut out = String::new();
    for (i, seg) in segments.iter().enumerate() {
        let quote = (!seg.is_empty() && ident_needs_quotes(seg))
            || (i < last && !seg.is_empty())
            || ((i == 0 || i == last) && seg.is_empty());
        if quote {
            out.push('"');
        }
        for c in seg.chars() {
            match c {
                '\n' => out.push_str("\\n"),
                '\\' => out.push_str("\\\\"),
                '"' => out.push_str("\\\""),
                c => out.push(c),
            }
        }
        if quote {
            out.push('"');
        }
        if i < last {
            out.push('.');
        }
    }
    out
}

fn binary_op(kind: Kind) -> Option<BinaryOp> {
    Some(match kind {
        Kind::Add => BinaryOp::Add,
        Kind::Sub => BinaryOp::Sub,
        Kind::Mul => BinaryOp::Mul,
        Kind::Div => BinaryOp::Div,
        Kind::Mod => BinaryOp::Mod,
        Kind::BitAnd => BinaryOp::BitAnd,
        Kind::BitOr => BinaryOp::BitOr,
        Kind::BitXor => BinaryOp::BitXor,
        Kind::Kw(K::And) => BinaryOp::And,
        Kind::Kw(K::Or) => BinaryOp::Or,
        Kind::Eq => BinaryOp::Eq,
        Kind::Neq => BinaryOp::NotEq,
        Kind::EqRegex => BinaryOp::EqRegex,
        Kind::NeqRegex => BinaryOp::NotEqRegex,
        Kind::Lt => BinaryOp::Lt,
        Kind::Lte => BinaryOp::LtEq,
        Kind::Gt => BinaryOp::Gt,
        Kind::Gte => BinaryOp::GtEq,
        _ => return None,
    })
}

/// The comparison or logical operator InfluxDB complains about in a `SELECT` field: the last
/// one found walking the tree in order, not looking inside a found one.
fn find_condition_op(expr: &Expr, found: &mut Option<BinaryOp>) {
    match expr {
        Expr::Binary(b) if b.op.is_condition() => *found = Some(b.op),
        Expr::Binary(b) => {
            find_condition_op(&b.lhs, found);
            find_condition_op(&b.rhs, found);
        }
        Expr::Paren(inner) => find_condition_op(inner, found),
        Expr::Call(call) => {
            for arg in &call.args {
                find_condition_op(arg, found);
            }
        }
        Expr::Literal(_) | Expr::VarRef(_) | Expr::Distinct(_) | Expr::Wildcard(_) => {}
    }
}
