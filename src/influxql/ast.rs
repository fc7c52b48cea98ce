//! The syntax tree and its canonical InfluxQL text.
//!
//! Every node's `Display` prints canonical InfluxQL: keywords upper case, function names lower
//! case, identifiers quoted only when they must be, strings single-quoted, durations in the
//! largest exact unit, one space around binary operators, `", "` between list items. Printing a
//! parsed tree and parsing the text again gives the same tree, and canonical text prints back
//! unchanged.
//!
//! The tree is syntax only: time strings stay string literals, regexes stay source text,
//! `GROUP BY time(...)` stays a call. Giving them meaning is the executor's job.

use std::fmt::{self, Display, Formatter, Write as _};

use super::lexer;

/// A parsed request: the statements of one `q` parameter, in order.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Query {
    /// The statements; empty statements between semicolons are dropped.
    pub statements: Vec<Statement>,
}

/// One InfluxQL statement.
#[derive(Debug, Clone, PartialEq)]
pub enum Statement {
    /// `SELECT ...`
    Select(Box<SelectStatement>),
    /// `SHOW DATABASES`
    ShowDatabases,
    /// `SHOW MEASUREMENTS ...`
    ShowMeasurements(ShowMeasurements),
    /// `SHOW TAG KEYS ...`
    ShowTagKeys(ShowTagKeys),
    /// `SHOW TAG VALUES ... WITH KEY ...`
    ShowTagValues(ShowTagValues),
    /// `SHOW FIELD KEYS ...`
    ShowFieldKeys(ShowFieldKeys),
    /// `SHOW SERIES ...`
    ShowSeries(ShowSeries),
    /// `SHOW RETENTION POLICIES [ON db]`
    ShowRetentionPolicies {
        /// `ON db`, if given.
        database: Option<String>,
    },
    /// `SHOW MEASUREMENT|SERIES|TAG KEY|TAG VALUES|FIELD KEY [EXACT] CARDINALITY ...`
    ShowCardinality(ShowCardinality),
    /// `CREATE DATABASE name [WITH ...]`
    CreateDatabase(CreateDatabase),
    /// `DROP DATABASE name`
    DropDatabase {
        /// The database.
        name: String,
    },
    /// `CREATE RETENTION POLICY ...`
    CreateRetentionPolicy(CreateRetentionPolicy),
    /// `ALTER RETENTION POLICY ...`
    AlterRetentionPolicy(AlterRetentionPolicy),
    /// `DROP RETENTION POLICY name ON db`
    DropRetentionPolicy {
        /// The policy.
        name: String,
        /// The database.
        database: String,
    },
    /// `DROP SERIES [FROM ...] [WHERE ...]` (at least one of the two).
    DropSeries(SeriesFilter),
    /// `DELETE [FROM ...] [WHERE ...]` (at least one of the two).
    Delete(SeriesFilter),
    /// `DROP MEASUREMENT name`
    DropMeasurement {
        /// The measurement.
        name: String,
    },
    /// A statement that parses (so a request containing it is not rejected) but that wispmon
    /// answers with a per-statement "not supported" error.
    Unsupported(UnsupportedStatement),
}

/// Statements outside wispmon's scope: users and privileges, continuous queries,
/// subscriptions, shards, query management, statistics and `EXPLAIN`.
#[derive(Debug, Clone, PartialEq)]
pub enum UnsupportedStatement {
    /// `CREATE USER name WITH PASSWORD 'pw' [WITH ALL PRIVILEGES]`
    CreateUser {
        /// User name.
        name: String,
        /// The password (printed back verbatim: do not log statements that hold one).
        password: String,
        /// `WITH ALL PRIVILEGES`.
        admin: bool,
    },
    /// `DROP USER name`
    DropUser {
        /// User name.
        name: String,
    },
    /// `SET PASSWORD FOR name = 'pw'`
    SetPassword {
        /// User name.
        name: String,
        /// The new password.
        password: String,
    },
    /// `GRANT priv ON db TO user` or `GRANT ALL [PRIVILEGES] TO user`
    Grant {
        /// The privilege.
        privilege: Privilege,
        /// `ON db`; `None` for the admin form.
        database: Option<String>,
        /// The grantee.
        user: String,
    },
    /// `REVOKE priv ON db FROM user` or `REVOKE ALL [PRIVILEGES] FROM user`
    Revoke {
        /// The privilege.
        privilege: Privilege,
        /// `ON db`; `None` for the admin form.
        database: Option<String>,
        /// The user.
        user: String,
    },
    /// `SHOW USERS`
    ShowUsers,
    /// `SHOW GRANTS FOR user`
    ShowGrants {
        /// The user.
        user: String,
    },
    /// `CREATE CONTINUOUS QUERY name ON db [RESAMPLE ...] BEGIN SELECT ... INTO ... END`
    CreateContinuousQuery {
        /// Query name.
        name: String,
        /// Database.
        database: String,
        /// `RESAMPLE EVERY d`, nanoseconds.
        resample_every: Option<i64>,
        /// `RESAMPLE FOR d`, nanoseconds.
        resample_for: Option<i64>,
        /// The query (always has `INTO`).
        select: Box<SelectStatement>,
    },
    /// `DROP CONTINUOUS QUERY name ON db`
    DropContinuousQuery {
        /// Query name.
        name: String,
        /// Database.
        database: String,
    },
    /// `SHOW CONTINUOUS QUERIES`
    ShowContinuousQueries,
    /// `CREATE SUBSCRIPTION name ON db.rp DESTINATIONS ALL|ANY 'url', ...`
    CreateSubscription {
        /// Subscription name.
        name: String,
        /// Database.
        database: String,
        /// Retention policy.
        retention_policy: String,
        /// `ANY` (true) or `ALL` (false).
        any: bool,
        /// Destination URLs.
        destinations: Vec<String>,
    },
    /// `DROP SUBSCRIPTION name ON db.rp`
    DropSubscription {
        /// Subscription name.
        name: String,
        /// Database.
        database: String,
        /// Retention policy.
        retention_policy: String,
    },
    /// `SHOW SUBSCRIPTIONS`
    ShowSubscriptions,
    /// `SHOW SHARDS`
    ShowShards,
    /// `SHOW SHARD GROUPS`
    ShowShardGroups,
    /// `DROP SHARD id`
    DropShard {
        /// Shard id.
        id: u64,
    },
    /// `SHOW STATS [FOR 'module']`
    ShowStats {
        /// Module.
        module: Option<String>,
    },
    /// `SHOW DIAGNOSTICS [FOR 'module']`
    ShowDiagnostics {
        /// Module.
        module: Option<String>,
    },
    /// `SHOW QUERIES`
    ShowQueries,
    /// `KILL QUERY id [ON host]`
    KillQuery {
        /// Query id.
        id: u64,
        /// `ON host`.
        host: Option<String>,
    },
    /// `EXPLAIN [ANALYZE] SELECT ...`
    Explain {
        /// `ANALYZE`.
        analyze: bool,
        /// The query.
        select: Box<SelectStatement>,
    },
}

impl UnsupportedStatement {
    /// The statement's leading keywords (`"CREATE USER"`, `"EXPLAIN"`...), for error messages.
    pub fn kind(&self) -> &'static str {
        match self {
            UnsupportedStatement::CreateUser { .. } => "CREATE USER",
            UnsupportedStatement::DropUser { .. } => "DROP USER",
            UnsupportedStatement::SetPassword { .. } => "SET PASSWORD",
            UnsupportedStatement::Grant { .. } => "GRANT",
            UnsupportedStatement::Revoke { .. } => "REVOKE",
            UnsupportedStatement::ShowUsers => "SHOW USERS",
            UnsupportedStatement::ShowGrants { .. } => "SHOW GRANTS",
            UnsupportedStatement::CreateContinuousQuery { .. } => "CREATE CONTINUOUS QUERY",
            UnsupportedStatement::DropContinuousQuery { .. } => "DROP CONTINUOUS QUERY",
            UnsupportedStatement::ShowContinuousQueries => "SHOW CONTINUOUS QUERIES",
            UnsupportedStatement::CreateSubscription { .. } => "CREATE SUBSCRIPTION",
            UnsupportedStatement::DropSubscription { .. } => "DROP SUBSCRIPTION",
            UnsupportedStatement::ShowSubscriptions => "SHOW SUBSCRIPTIONS",
            UnsupportedStatement::ShowShards => "SHOW SHARDS",
            UnsupportedStatement::ShowShardGroups => "SHOW SHARD GROUPS",
            UnsupportedStatement::DropShard { .. } => "DROP SHARD",
            UnsupportedStatement::ShowStats { .. } => "SHOW STATS",
            UnsupportedStatement::ShowDiagnostics { .. } => "SHOW DIAGNOSTICS",
            UnsupportedStatement::ShowQueries => "SHOW QUERIES",
            UnsupportedStatement::KillQuery { .. } => "KILL QUERY",
            UnsupportedStatement::Explain { analyze: false, .. } => "EXPLAIN",
            UnsupportedStatement::Explain { analyze: true, .. } => "EXPLAIN ANALYZE",
        }
    }
}

/// A privilege of `GRANT`/`REVOKE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Privilege {
    /// `READ`
    Read,
    /// `WRITE`
    Write,
    /// `ALL [PRIVILEGES]`
    All,
}

/// `SELECT fields [INTO target] FROM sources [WHERE] [GROUP BY] [fill()] [ORDER BY] [LIMIT]
/// [OFFSET] [SLIMIT] [SOFFSET] [tz()]`.
#[derive(Debug, Clone, PartialEq)]
pub struct SelectStatement {
    /// The selected expressions, at least one.
    pub fields: Vec<Field>,
    /// `INTO` (parsed so the statement is accepted; execution refuses it).
    pub into: Option<Measurement>,
    /// `FROM` sources, at least one.
    pub sources: Vec<Source>,
    /// `WHERE` condition.
    pub condition: Option<Expr>,
    /// `GROUP BY` dimensions, as written (`time(1m)` is an [`Expr::Call`]).
    pub group_by: Vec<Dimension>,
    /// `fill(...)`; `None` when absent (InfluxDB's default is `fill(null)`).
    pub fill: Option<Fill>,
    /// `ORDER BY time [ASC|DESC]`.
    pub order_by: Option<OrderBy>,
    /// `LIMIT n` (0 means no limit, as in InfluxDB).
    pub limit: Option<u64>,
    /// `OFFSET n`.
    pub offset: Option<u64>,
    /// `SLIMIT n`.
    pub slimit: Option<u64>,
    /// `SOFFSET n`.
    pub soffset: Option<u64>,
    /// `tz('Area/City')`: the zone name as written.
    pub tz: Option<String>,
}

/// One selected expression with its optional alias.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The expression (a regex literal for `SELECT /re/`).
    pub expr: Expr,
    /// `AS alias`.
    pub alias: Option<String>,
}

/// A `FROM` source.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A measurement name or regex, optionally qualified.
    Measurement(Measurement),
    /// `(SELECT ...)`
    Subquery(Box<SelectStatement>),
}

/// `[[db.]rp.]name`, `[[db.]rp.]/regex/` or, as an `INTO` target, `[db.]rp.:MEASUREMENT`.
///
/// Empty qualifiers (`db..m`, `"".m`) are `None`: InfluxDB treats an empty name as "not given".
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// Database qualifier.
    pub database: Option<String>,
    /// Retention policy qualifier.
    pub retention_policy: Option<String>,
    /// What is named.
    pub name: MeasurementName,
}

/// The last segment of a [`Measurement`].
#[derive(Debug, Clone, PartialEq)]
pub enum MeasurementName {
    /// A measurement name (may be empty: `""`).
    Name(String),
    /// `/regex/`
    Regex(Regex),
    /// `:MEASUREMENT`, only in `INTO` targets: the source measurement's name.
    SourceMeasurement,
}

/// A `GROUP BY` item.
#[derive(Debug, Clone, PartialEq)]
pub enum Dimension {
    /// An expression: a tag (`host`), `*`, or a call such as `time(1m)` / `time(1h, 15m)`.
    Expr(Expr),
    /// `/regex/` selecting tag keys.
    Regex(Regex),
}

/// `fill(...)` option.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fill {
    /// `fill(null)`
    Null,
    /// `fill(none)`
    None,
    /// `fill(previous)`
    Previous,
    /// `fill(linear)`
    Linear,
    /// `fill(<integer>)`
    Integer(i64),
    /// `fill(<float>)`
    Float(f64),
}

/// `ORDER BY [time] [ASC|DESC]` (InfluxDB only orders by time).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderBy {
    /// `time` was written (`ORDER BY DESC` omits it).
    pub time: bool,
    /// `Some(true)` for `ASC`, `Some(false)` for `DESC`, `None` when not written (ascending).
    pub ascending: Option<bool>,
}

impl OrderBy {
    /// Whether rows come in ascending time order.
    pub fn is_ascending(&self) -> bool {
        self.ascending.unwrap_or(true)
    }
}

/// `SHOW MEASUREMENTS [ON db] [WITH MEASUREMENT =|=~ m] [WHERE] [ORDER BY] [LIMIT] [OFFSET]`
#[derive(Debug, Clone, PartialEq)]
pub struct ShowMeasurements {
    /// `ON db`.
    pub database: Option<String>,
    /// `WITH MEASUREMENT = m` or `=~ m`, operator as written (`m` may be a regex or a name).
    pub with_measurement: Option<(MatchOp, Measurement)>,
    /// `WHERE`.
    pub condition: Option<Expr>,
    /// `ORDER BY`.
    pub order_by: Option<OrderBy>,
    /// `LIMIT`.
    pub limit: Option<u64>,
    /// `OFFSET`.
    pub offset: Option<u64>,
}

/// The operator of `WITH MEASUREMENT`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchOp {
    /// `=`
    Eq,
    /// `=~`
    EqRegex,
}

/// `SHOW TAG KEYS [ON db] [FROM] [WITH KEY ...] [WHERE] [ORDER BY] [LIMIT] [OFFSET] [SLIMIT]
/// [SOFFSET]`
#[derive(Debug, Clone, PartialEq)]
pub struct ShowTagKeys {
    /// `ON db`.
    pub database: Option<String>,
    /// `FROM` sources (no subqueries).
    pub sources: Vec<Measurement>,
    /// `WITH KEY ...`.
    pub key: Option<TagKeyFilter>,
    /// `WHERE`.
    pub condition: Option<Expr>,
    /// `ORDER BY`.
    pub order_by: Option<OrderBy>,
    /// `LIMIT`.
    pub limit: Option<u64>,
    /// `OFFSET`.
    pub offset: Option<u64>,
    /// `SLIMIT`.
    pub slimit: Option<u64>,
    /// `SOFFSET`.
    pub soffset: Option<u64>,
}

/// `SHOW TAG VALUES [ON db] [FROM] WITH KEY ... [WHERE] [ORDER BY] [LIMIT] [OFFSET]`
#[derive(Debug, Clone, PartialEq)]
pub struct ShowTagValues {
    /// `ON db`.
    pub database: Option<String>,
    /// `FROM` sources (no subqueries).
    pub sources: Vec<Measurement>,
    /// `WITH KEY ...` (required).
    pub key: TagKeyFilter,
    /// `WHERE`.
    pub condition: Option<Expr>,
    /// `ORDER BY`.
    pub order_by: Option<OrderBy>,
    /// `LIMIT`.
    pub limit: Option<u64>,
    /// `OFFSET`.
    pub offset: Option<u64>,
}

/// `WITH KEY ...`
#[derive(Debug, Clone, PartialEq)]
pub enum TagKeyFilter {
    /// `= key`
    Eq(String),
    /// `!= key`
    NotEq(String),
    /// `=~ /re/`
    Regex(Regex),
    /// `!~ /re/`
    NotRegex(Regex),
    /// `IN (k1, k2, ...)`
    In(Vec<String>),
}

/// `SHOW FIELD KEYS [ON db] [FROM] [ORDER BY] [LIMIT] [OFFSET]`
#[derive(Debug, Clone, PartialEq)]
pub struct ShowFieldKeys {
    /// `ON db`.
    pub database: Option<String>,
    /// `FROM` sources (no subqueries).
    pub sources: Vec<Measurement>,
    /// `ORDER BY`.
    pub order_by: Option<OrderBy>,
    /// `LIMIT`.
    pub limit: Option<u64>,
    /// `OFFSET`.
    pub offset: Option<u64>,
}

/// `SHOW SERIES [ON db] [FROM] [WHERE] [ORDER BY] [LIMIT] [OFFSET]`
#[derive(Debug, Clone, PartialEq)]
pub struct ShowSeries {
    /// `ON db`.
    pub database: Option<String>,
    /// `FROM` sources (no subqueries).
    pub sources: Vec<Measurement>,
    /// `WHERE`.
    pub condition: Option<Expr>,
    /// `ORDER BY`.
    pub order_by: Option<OrderBy>,
    /// `LIMIT`.
    pub limit: Option<u64>,
    /// `OFFSET`.
    pub offset: Option<u64>,
}

/// What a `SHOW ... CARDINALITY` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CardinalityOf {
    /// `SHOW MEASUREMENT [EXACT] CARDINALITY`
    Measurement,
    /// `SHOW SERIES [EXACT] CARDINALITY`
    Series,
    /// `SHOW TAG KEY [EXACT] CARDINALITY`
    TagKey,
    /// `SHOW TAG VALUES [EXACT] CARDINALITY` (has `WITH KEY`)
    TagValues,
    /// `SHOW FIELD KEY [EXACT] CARDINALITY`
    FieldKey,
}

/// `SHOW <what> [EXACT] CARDINALITY [ON db] [FROM] [WITH KEY] [WHERE] [GROUP BY] [LIMIT]
/// [OFFSET]`
#[derive(Debug, Clone, PartialEq)]
pub struct ShowCardinality {
    /// What is counted.
    pub of: CardinalityOf,
    /// `EXACT`.
    pub exact: bool,
    /// `ON db`.
    pub database: Option<String>,
    /// `FROM` sources (no subqueries).
    pub sources: Vec<Measurement>,
    /// `WITH KEY ...`: present exactly for [`CardinalityOf::TagValues`].
    pub key: Option<TagKeyFilter>,
    /// `WHERE`.
    pub condition: Option<Expr>,
    /// `GROUP BY`.
    pub group_by: Vec<Dimension>,
    /// `LIMIT`.
    pub limit: Option<u64>,
    /// `OFFSET`.
    pub offset: Option<u64>,
}

/// `CREATE DATABASE name [WITH [DURATION d] [REPLICATION n] [SHARD DURATION d] [NAME rp]]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateDatabase {
    /// Database name.
    pub name: String,
    /// The `WITH` clause (at least one option when present).
    pub with: Option<RetentionPolicySpec>,
}

/// The options of `CREATE DATABASE ... WITH`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RetentionPolicySpec {
    /// `DURATION d`, nanoseconds (`INF` is 0).
    pub duration: Option<i64>,
    /// `REPLICATION n`.
    pub replication: Option<u32>,
    /// `SHARD DURATION d`, nanoseconds.
    pub shard_duration: Option<i64>,
    /// `NAME rp`.
    pub name: Option<String>,
}

/// `CREATE RETENTION POLICY name ON db DURATION d REPLICATION n [SHARD DURATION d] [DEFAULT]`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreateRetentionPolicy {
    /// Policy name.
    pub name: String,
    /// Database.
    pub database: String,
    /// Nanoseconds; `INF` and `0s` are 0 (keep forever).
    pub duration: i64,
    /// Replication factor (1..=2147483647).
    pub replication: u32,
    /// `SHARD DURATION d`, nanoseconds.
    pub shard_duration: Option<i64>,
    /// `DEFAULT`.
    pub default: bool,
}

/// `ALTER RETENTION POLICY name ON db (DURATION d | REPLICATION n | SHARD DURATION d |
/// DEFAULT)+`
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlterRetentionPolicy {
    /// Policy name (`DEFAULT` as the name gives `"default"`).
    pub name: String,
    /// Database.
    pub database: String,
    /// `DURATION d`, nanoseconds.
    pub duration: Option<i64>,
    /// `REPLICATION n`.
    pub replication: Option<u32>,
    /// `SHARD DURATION d`, nanoseconds.
    pub shard_duration: Option<i64>,
    /// `DEFAULT`.
    pub default: bool,
}

/// The `[FROM ...] [WHERE ...]` of `DROP SERIES` and `DELETE`.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesFilter {
    /// `FROM` sources (no database qualifier; `DROP SERIES` also no retention policy).
    pub sources: Vec<Measurement>,
    /// `WHERE`.
    pub condition: Option<Expr>,
}

/// An expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// A literal value.
    Literal(Literal),
    /// A field or tag reference.
    VarRef(VarRef),
    /// A function call (name lower-cased), including `now()`, `time(1m)`, `distinct(x)`.
    Call(Call),
    /// `DISTINCT name` (the keyword form, without parentheses).
    Distinct(String),
    /// `*`, `*::field`, `*::tag`.
    Wildcard(Option<WildcardType>),
    /// `lhs op rhs`.
    Binary(Box<BinaryExpr>),
    /// `( expr )`.
    Paren(Box<Expr>),
}

/// A binary operation.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryExpr {
    /// The operator.
    pub op: BinaryOp,
    /// Left operand.
    pub lhs: Expr,
    /// Right operand (a regex literal for `=~` and `!~`).
    pub rhs: Expr,
}

/// Binary operators, loosest first: `OR`; `AND`; comparisons; `+ - | ^`; `* / % &`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `&`
    BitAnd,
    /// `|`
    BitOr,
    /// `^`
    BitXor,
    /// `AND`
    And,
    /// `OR`
    Or,
    /// `=`
    Eq,
    /// `!=` (also written `<>`)
    NotEq,
    /// `=~`
    EqRegex,
    /// `!~`
    NotEqRegex,
    /// `<`
    Lt,
    /// `<=`
    LtEq,
    /// `>`
    Gt,
    /// `>=`
    GtEq,
}

impl BinaryOp {
    /// Binding strength: 1 (`OR`) to 5 (`* / % &`).
    pub fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And => 2,
            BinaryOp::Eq
            | BinaryOp::NotEq
            | BinaryOp::EqRegex
            | BinaryOp::NotEqRegex
            | BinaryOp::Lt
            | BinaryOp::LtEq
            | BinaryOp::Gt
            | BinaryOp::GtEq => 3,
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::BitOr | BinaryOp::BitXor => 4,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod | BinaryOp::BitAnd => 5,
        }
    }

    /// `=~` or `!~`: the right operand is a regex.
    pub fn is_regex(self) -> bool {
        matches!(self, BinaryOp::EqRegex | BinaryOp::NotEqRegex)
    }

    /// A comparison or logical operator (not allowed in `SELECT` fields).
    pub fn is_condition(self) -> bool {
        self.precedence() <= 3
    }

    /// The operator's text.
    pub fn as_str(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::BitAnd => "&",
            BinaryOp::BitOr => "|",
            BinaryOp::BitXor => "^",
            BinaryOp::And => "AND",
            BinaryOp::Or => "OR",
            BinaryOp::Eq => "=",
            BinaryOp::NotEq => "!=",
            BinaryOp::EqRegex => "=~",
            BinaryOp::NotEqRegex => "!~",
            BinaryOp::Lt => "<",
            BinaryOp::LtEq => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::GtEq => ">=",
        }
    }
}

/// A literal.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// An integer that fits in `i64`.
    Integer(i64),
    /// An integer literal above `i64::MAX` (only such literals are unsigned).
    Unsigned(u64),
    /// A number with a decimal point (always finite).
    Float(f64),
    /// A single-quoted string; time literals such as `'2024-05-08'` stay strings.
    String(String),
    /// `true` / `false`.
    Boolean(bool),
    /// A duration literal (`5m`, `1596240000000ms`), in nanoseconds.
    Duration(i64),
    /// A regex literal (only where a regex is allowed).
    Regex(Regex),
}

/// A regex literal, kept as source text (without the slashes, `\/` unescaped to `/`); a later
/// stage compiles it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Regex {
    /// The pattern.
    pub source: String,
}

impl Regex {
    /// A regex literal with this pattern.
    pub fn new(source: impl Into<String>) -> Self {
        Regex {
            source: source.into(),
        }
    }
}

/// A reference to a field or tag, with an optional `::type` cast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarRef {
    /// The name; segments written `a.b` are joined with `.` as InfluxDB does.
    pub name: String,
    /// `::float`, `::tag`...
    pub data_type: Option<DataType>,
}

/// The types a reference can be cast to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataType {
    /// `::float`
    Float,
    /// `::integer`
    Integer,
    /// `::unsigned`
    Unsigned,
    /// `::string`
    String,
    /// `::boolean`
    Boolean,
    /// `::field`
    Field,
    /// `::tag`
    Tag,
}

impl DataType {
    /// The cast's name.
    pub fn as_str(self) -> &'static str {
        match self {
            DataType::Float => "float",
            DataType::Integer => "integer",
            DataType::Unsigned => "unsigned",
            DataType::String => "string",
            DataType::Boolean => "boolean",
            DataType::Field => "field",
            DataType::Tag => "tag",
        }
    }
}

/// `*::field` or `*::tag`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WildcardType {
    /// `*::field`
    Field,
    /// `*::tag`
    Tag,
}

/// A function call.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// The function name, lower-cased as InfluxDB does (`MEAN(x)` is `mean`).
    pub name: String,
    /// Arguments (a regex literal is allowed as an argument).
    pub args: Vec<Expr>,
}

// ----------------------------------------------------------------------------------------------
// Printing helpers.

/// Whether `name` must be double-quoted to read back as the same identifier: empty, a keyword,
/// a leading digit, or any character outside `[A-Za-z0-9_]`.
pub fn ident_needs_quotes(name: &str) -> bool {
    let mut chars = name.chars();
    match chars.next() {
        None => true,
        Some(first) => {
            !lexer::is_ident_first(first)
                || !chars.all(lexer::is_ident_char)
                || lexer::lookup_keyword(name).is_some()
        }
    }
}

/// Writes an identifier, double-quoted with `\"`, `\\` and `\n` escapes when needed.
fn write_ident(f: &mut Formatter<'_>, name: &str) -> fmt::Result {
    if !ident_needs_quotes(name) {
        return f.write_str(name);
    }
    write_quoted(f, name, '"')
}

fn write_quoted(f: &mut Formatter<'_>, s: &str, quote: char) -> fmt::Result {
    f.write_char(quote)?;
    for c in s.chars() {
        match c {
            '\n' => f.write_str("\\n")?,
            '\\' => f.write_str("\\\\")?,
            c if c == quote => {
                f.write_char('\\')?;
                f.write_char(c)?;
            }
            c => f.write_char(c)?,
        }
    }
    f.write_char(quote)
}

/// An identifier as canonical text (quoted when needed).
pub fn quote_ident(name: &str) -> String {
    Ident(name).to_string()
}

/// A string as a canonical single-quoted literal.
pub fn quote_string(s: &str) -> String {
    StringLit(s).to_string()
}

/// An identifier double-quoted whether or not it needs it: for text sent to another server,
/// whose keywords may be more than ours.
pub fn quote_ident_always(name: &str) -> String {
    QuotedIdent(name).to_string()
}

struct QuotedIdent<'a>(&'a str);

impl Display for QuotedIdent<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_quoted(f, self.0, '"')
    }
}

/// Formats nanoseconds as a duration literal in the largest exact unit (`90m`, `1w`, `0s`).
pub fn format_duration(ns: i64) -> String {
    lexer::format_duration(ns)
}

struct Ident<'a>(&'a str);

impl Display for Ident<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_ident(f, self.0)
    }
}

struct StringLit<'a>(&'a str);

impl Display for StringLit<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_quoted(f, self.0, '\'')
    }
}

/// Writes a float so it reads back as the same float: shortest round-trip digits, never an
/// exponent (InfluxQL has none), always a decimal point.
fn write_float(f: &mut Formatter<'_>, v: f64) -> fmt::Result {
    let text = v.to_string();
    f.write_str(&text)?;
    if v.is_finite() && !text.contains('.') {
        f.write_str(".0")?;
    }
    Ok(())
}

fn write_list<T: Display>(f: &mut Formatter<'_>, items: &[T]) -> fmt::Result {
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        item.fmt(f)?;
    }
    Ok(())
}

fn write_idents(f: &mut Formatter<'_>, names: &[String]) -> fmt::Result {
    for (i, name) in names.iter().enumerate() {
        if i > 0 {
            f.write_str(", ")?;
        }
        write_ident(f, name)?;
    }
    Ok(())
}

fn write_on(f: &mut Formatter<'_>, database: &Option<String>) -> fmt::Result {
    if let Some(db) = database {
        f.write_str(" ON ")?;
        write_ident(f, db)?;
    }
    Ok(())
}

fn write_from(f: &mut Formatter<'_>, sources: &[Measurement]) -> fmt::Result {
    if !sources.is_empty() {
        f.write_str(" FROM ")?;
        write_list(f, sources)?;
    }
    Ok(())
}

fn write_where(f: &mut Formatter<'_>, condition: &Option<Expr>) -> fmt::Result {
    if let Some(cond) = condition {
        write!(f, " WHERE {cond}")?;
    }
    Ok(())
}

fn write_group_by(f: &mut Formatter<'_>, dims: &[Dimension]) -> fmt::Result {
    if !dims.is_empty() {
        f.write_str(" GROUP BY ")?;
        write_list(f, dims)?;
    }
    Ok(())
}

fn write_order_by(f: &mut Formatter<'_>, order_by: &Option<OrderBy>) -> fmt::Result {
    if let Some(order) = order_by {
        write!(f, " {order}")?;
    }
    Ok(())
}

fn write_opt_int(f: &mut Formatter<'_>, keyword: &str, value: Option<u64>) -> fmt::Result {
    if let Some(n) = value {
        write!(f, " {keyword} {n}")?;
    }
    Ok(())
}

fn write_key(f: &mut Formatter<'_>, key: &Option<TagKeyFilter>) -> fmt::Result {
    if let Some(key) = key {
        write!(f, " {key}")?;
    }
    Ok(())
}

// ----------------------------------------------------------------------------------------------
// Display.

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, stmt) in self.statements.iter().enumerate() {
            if i > 0 {
                f.write_str(";\n")?;
            }
            stmt.fmt(f)?;
        }
        Ok(())
    }
}

impl Display for Statement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Statement::Select(s) => s.fmt(f),
            Statement::ShowDatabases => f.write_str("SHOW DATABASES"),
            Statement::ShowMeasurements(s) => s.fmt(f),
            Statement::ShowTagKeys(s) => s.fmt(f),
            Statement::ShowTagValues(s) => s.fmt(f),
            Statement::ShowFieldKeys(s) => s.fmt(f),
            Statement::ShowSeries(s) => s.fmt(f),
            Statement::ShowRetentionPolicies { database } => {
                f.write_str("SHOW RETENTION POLICIES")?;
                write_on(f, database)
            }
            Statement::ShowCardinality(s) => s.fmt(f),
            Statement::CreateDatabase(s) => s.fmt(f),
            Statement::DropDatabase { name } => write!(f, "DROP DATABASE {}", Ident(name)),
            Statement::CreateRetentionPolicy(s) => s.fmt(f),
            Statement::AlterRetentionPolicy(s) => s.fmt(f),
            Statement::DropRetentionPolicy { name, database } => write!(
                f,
                "DROP RETENTION POLICY {} ON {}",
                Ident(name),
                Ident(database)
            ),
            Statement::DropSeries(s) => {
                f.write_str("DROP SERIES")?;
                s.fmt(f)
            }
            Statement::Delete(s) => {
                f.write_str("DELETE")?;
                s.fmt(f)
            }
            Statement::DropMeasurement { name } => {
                write!(f, "DROP MEASUREMENT {}", Ident(name))
            }
            Statement::Unsupported(s) => s.fmt(f),
        }
    }
}

impl Display for Privilege {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Privilege::Read => "READ",
            Privilege::Write => "WRITE",
            Privilege::All => "ALL PRIVILEGES",
        })
    }
}

impl Display for UnsupportedStatement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            UnsupportedStatement::CreateUser {
                name,
                password,
                admin,
            } => {
                write!(
                    f,
                    "CREATE USER {} WITH PASSWORD {}",
                    Ident(name),
                    StringLit(password)
                )?;
                if *admin {
                    f.write_str(" WITH ALL PRIVILEGES")?;
                }
                Ok(())
            }
            UnsupportedStatement::DropUser { name } => write!(f, "DROP USER {}", Ident(name)),
            UnsupportedStatement::SetPassword { name, password } => write!(
                f,
                "SET PASSWORD FOR {} = {}",
                Ident(name),
                StringLit(password)
            ),
            UnsupportedStatement::Grant {
                privilege,
                database,
                user,
            } => {
                write!(f, "GRANT {privilege}")?;
                write_on(f, database)?;
                write!(f, " TO {}", Ident(user))
            }
            UnsupportedStatement::Revoke {
                privilege,
                database,
                user,
            } => {
                write!(f, "REVOKE {privilege}")?;
                write_on(f, database)?;
                write!(f, " FROM {}", Ident(user))
            }
            UnsupportedStatement::ShowUsers => f.write_str("SHOW USERS"),
            UnsupportedStatement::ShowGrants { user } => {
                write!(f, "SHOW GRANTS FOR {}", Ident(user))
            }
            UnsupportedStatement::CreateContinuousQuery {
                name,
                database,
                resample_every,
                resample_for,
                select,
            } => {
                write!(
                    f,
                    "CREATE CONTINUOUS QUERY {} ON {} ",
                    Ident(name),
                    Ident(database)
                )?;
                if resample_every.is_some() || resample_for.is_some() {
                    f.write_str("RESAMPLE ")?;
                    if let Some(d) = resample_every {
                        write!(f, "EVERY {} ", format_duration(*d))?;
                    }
                    if let Some(d) = resample_for {
                        write!(f, "FOR {} ", format_duration(*d))?;
                    }
                }
                write!(f, "BEGIN {select} END")
            }
            UnsupportedStatement::DropContinuousQuery { name, database } => write!(
                f,
                "DROP CONTINUOUS QUERY {} ON {}",
                Ident(name),
                Ident(database)
            ),
            UnsupportedStatement::ShowContinuousQueries => f.write_str("SHOW CONTINUOUS QUERIES"),
            UnsupportedStatement::CreateSubscription {
                name,
                database,
                retention_policy,
                any,
                destinations,
            } => {
                write!(
                    f,
                    "CREATE SUBSCRIPTION {} ON {}.{} DESTINATIONS {}",
                    Ident(name),
                    Ident(database),
                    Ident(retention_policy),
                    if *any { "ANY" } else { "ALL" }
                )?;
                for (i, d) in destinations.iter().enumerate() {
                    f.write_str(if i == 0 { " " } else { ", " })?;
                    write_quoted(f, d, '\'')?;
                }
                Ok(())
            }
            UnsupportedStatement::DropSubscription {
                name,
                database,
                retention_policy,
            } => write!(
                f,
                "DROP SUBSCRIPTION {} ON {}.{}",
                Ident(name),
                Ident(database),
                Ident(retention_policy)
            ),
            UnsupportedStatement::ShowSubscriptions => f.write_str("SHOW SUBSCRIPTIONS"),
            UnsupportedStatement::ShowShards => f.write_str("SHOW SHARDS"),
            UnsupportedStatement::ShowShardGroups => f.write_str("SHOW SHARD GROUPS"),
            UnsupportedStatement::DropShard { id } => write!(f, "DROP SHARD {id}"),
            UnsupportedStatement::ShowStats { module } => {
                f.write_str("SHOW STATS")?;
                if let Some(m) = module {
                    write!(f, " FOR {}", StringLit(m))?;
                }
                Ok(())
            }
            UnsupportedStatement::ShowDiagnostics { module } => {
                f.write_str("SHOW DIAGNOSTICS")?;
                if let Some(m) = module {
                    write!(f, " FOR {}", StringLit(m))?;
                }
                Ok(())
            }
            UnsupportedStatement::ShowQueries => f.write_str("SHOW QUERIES"),
            UnsupportedStatement::KillQuery { id, host } => {
                write!(f, "KILL QUERY {id}")?;
                write_on(f, host)
            }
            UnsupportedStatement::Explain { analyze, select } => {
                f.write_str(if *analyze {
                    "EXPLAIN ANALYZE "
                } else {
                    "EXPLAIN "
                })?;
                select.fmt(f)
            }
        }
    }
}

impl Display for SelectStatement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("SELECT ")?;
        write_list(f, &self.fields)?;
        if let Some(into) = &self.into {
            write!(f, " INTO {into}")?;
        }
        f.write_str(" FROM ")?;
        write_list(f, &self.sources)?;
        write_where(f, &self.condition)?;
        write_group_by(f, &self.group_by)?;
        if let Some(fill) = &self.fill {
            write!(f, " {fill}")?;
        }
        write_order_by(f, &self.order_by)?;
        write_opt_int(f, "LIMIT", self.limit)?;
        write_opt_int(f, "OFFSET", self.offset)?;
        write_opt_int(f, "SLIMIT", self.slimit)?;
        write_opt_int(f, "SOFFSET", self.soffset)?;
        if let Some(tz) = &self.tz {
            write!(f, " tz({})", StringLit(tz))?;
        }
        Ok(())
    }
}

impl Display for Field {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)?;
        if let Some(alias) = &self.alias {
            write!(f, " AS {}", Ident(alias))?;
        }
        Ok(())
    }
}

impl Display for Source {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Source::Measurement(m) => m.fmt(f),
            Source::Subquery(s) => write!(f, "({s})"),
        }
    }
}

impl Display for Measurement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let qualified = self.database.is_some() || self.retention_policy.is_some();
        if let Some(db) = &self.database {
            write_ident(f, db)?;
            f.write_char('.')?;
        }
        if let Some(rp) = &self.retention_policy {
            write_ident(f, rp)?;
        }
        if qualified {
            f.write_char('.')?;
        }
        match &self.name {
            MeasurementName::Name(name) => write_ident(f, name),
            MeasurementName::Regex(re) => re.fmt(f),
            // `:MEASUREMENT` needs a segment before it; an empty one reads back as "none".
            MeasurementName::SourceMeasurement if !qualified => f.write_str("\"\".:MEASUREMENT"),
            MeasurementName::SourceMeasurement => f.write_str(":MEASUREMENT"),
        }
    }
}

impl Display for Dimension {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Dimension::Expr(e) => e.fmt(f),
            Dimension::Regex(re) => re.fmt(f),
        }
    }
}

impl Display for Fill {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("fill(")?;
        match self {
            Fill::Null => f.write_str("null")?,
            Fill::None => f.write_str("none")?,
            Fill::Previous => f.write_str("previous")?,
            Fill::Linear => f.write_str("linear")?,
            Fill::Integer(n) => write!(f, "{n}")?,
            Fill::Float(v) => write_float(f, *v)?,
        }
        f.write_char(')')
    }
}

impl Display for OrderBy {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("ORDER BY")?;
        if self.time {
            f.write_str(" time")?;
        }
        match self.ascending {
            Some(true) => f.write_str(" ASC"),
            Some(false) => f.write_str(" DESC"),
            None => Ok(()),
        }
    }
}

impl Display for ShowMeasurements {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("SHOW MEASUREMENTS")?;
        write_on(f, &self.database)?;
        if let Some((op, m)) = &self.with_measurement {
            let op = match op {
                MatchOp::Eq => "=",
                MatchOp::EqRegex => "=~",
            };
            write!(f, " WITH MEASUREMENT {op} {m}")?;
        }
        write_where(f, &self.condition)?;
        write_order_by(f, &self.order_by)?;
        write_opt_int(f, "LIMIT", self.limit)?;
        write_opt_int(f, "OFFSET", self.offset)
    }
}

impl Display for ShowTagKeys {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("SHOW TAG KEYS")?;
        write_on(f, &self.database)?;
        write_from(f, &self.sources)?;
        write_key(f, &self.key)?;
        write_where(f, &self.condition)?;
        write_order_by(f, &self.order_by)?;
        write_opt_int(f, "LIMIT", self.limit)?;
        write_opt_int(f, "OFFSET", self.offset)?;
        write_opt_int(f, "SLIMIT", self.slimit)?;
        write_opt_int(f, "SOFFSET", self.soffset)
    }
}

impl Display for ShowTagValues {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("SHOW TAG VALUES")?;
        write_on(f, &self.database)?;
        write_from(f, &self.sources)?;
        write!(f, " {}", self.key)?;
        write_where(f, &self.condition)?;
        write_order_by(f, &self.order_by)?;
        write_opt_int(f, "LIMIT", self.limit)?;
        write_opt_int(f, "OFFSET", self.offset)
    }
}

impl Display for TagKeyFilter {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("WITH KEY ")?;
        match self {
            TagKeyFilter::Eq(k) => write!(f, "= {}", Ident(k)),
            TagKeyFilter::NotEq(k) => write!(f, "!= {}", Ident(k)),
            TagKeyFilter::Regex(re) => write!(f, "=~ {re}"),
            TagKeyFilter::NotRegex(re) => write!(f, "!~ {re}"),
            TagKeyFilter::In(keys) => {
                f.write_str("IN (")?;
                write_idents(f, keys)?;
                f.write_char(')')
            }
        }
    }
}

impl Display for ShowFieldKeys {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("SHOW FIELD KEYS")?;
        write_on(f, &self.database)?;
        write_from(f, &self.sources)?;
        write_order_by(f, &self.order_by)?;
        write_opt_int(f, "LIMIT", self.limit)?;
        write_opt_int(f, "OFFSET", self.offset)
    }
}

impl Display for ShowSeries {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str("SHOW SERIES")?;
        write_on(f, &self.database)?;
        write_from(f, &self.sources)?;
        write_where(f, &self.condition)?;
        write_order_by(f, &self.order_by)?;
        write_opt_int(f, "LIMIT", self.limit)?;
        write_opt_int(f, "OFFSET", self.offset)
    }
}

impl Display for ShowCardinality {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self.of {
            CardinalityOf::Measurement => "SHOW MEASUREMENT",
            CardinalityOf::Series => "SHOW SERIES",
            CardinalityOf::TagKey => "SHOW TAG KEY",
            CardinalityOf::TagValues => "SHOW TAG VALUES",
            CardinalityOf::FieldKey => "SHOW FIELD KEY",
        })?;
        if self.exact {
            f.write_str(" EXACT")?;
        }
        f.write_str(" CARDINALITY")?;
        write_on(f, &self.database)?;
        write_from(f, &self.sources)?;
        write_key(f, &self.key)?;
        write_where(f, &self.condition)?;
        write_group_by(f, &self.group_by)?;
        write_opt_int(f, "LIMIT", self.limit)?;
        write_opt_int(f, "OFFSET", self.offset)
    }
}

impl Display for CreateDatabase {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "CREATE DATABASE {}", Ident(&self.name))?;
        if let Some(spec) = &self.with {
            f.write_str(" WITH")?;
            if let Some(d) = spec.duration {
                write!(f, " DURATION {}", format_duration(d))?;
            }
            if let Some(n) = spec.replication {
                write!(f, " REPLICATION {n}")?;
            }
            if let Some(d) = spec.shard_duration {
                write!(f, " SHARD DURATION {}", format_duration(d))?;
            }
            if let Some(name) = &spec.name {
                write!(f, " NAME {}", Ident(name))?;
            }
        }
        Ok(())
    }
}

impl Display for CreateRetentionPolicy {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "CREATE RETENTION POLICY {} ON {} DURATION {} REPLICATION {}",
            Ident(&self.name),
            Ident(&self.database),
            format_duration(self.duration),
            self.replication
        )?;
        if let Some(d) = self.shard_duration {
            write!(f, " SHARD DURATION {}", format_duration(d))?;
        }
        if self.default {
            f.write_str(" DEFAULT")?;
        }
        Ok(())
    }
}

impl Display for AlterRetentionPolicy {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ALTER RETENTION POLICY {} ON {}",
            Ident(&self.name),
            Ident(&self.database)
        )?;
        if let Some(d) = self.duration {
            write!(f, " DURATION {}", format_duration(d))?;
        }
        if let Some(n) = self.replication {
            write!(f, " REPLICATION {n}")?;
        }
        if let Some(d) = self.shard_duration {
            write!(f, " SHARD DURATION {}", format_duration(d))?;
        }
        if self.default {
            f.write_str(" DEFAULT")?;
        }
        Ok(())
    }
}

impl Display for SeriesFilter {
    /// Prints ` FROM ... WHERE ...` (with a leading space) for `DROP SERIES` / `DELETE`.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_from(f, &self.sources)?;
        write_where(f, &self.condition)
    }
}

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Expr::Literal(lit) => lit.fmt(f),
            Expr::VarRef(v) => v.fmt(f),
            Expr::Call(c) => c.fmt(f),
            Expr::Distinct(name) => write!(f, "DISTINCT {}", Ident(name)),
            Expr::Wildcard(None) => f.write_char('*'),
            Expr::Wildcard(Some(WildcardType::Field)) => f.write_str("*::field"),
            Expr::Wildcard(Some(WildcardType::Tag)) => f.write_str("*::tag"),
            Expr::Binary(b) => b.fmt(f),
            Expr::Paren(e) => write!(f, "({e})"),
        }
    }
}

impl Display for BinaryExpr {
    /// Operands are parenthesised only when a hand-built tree needs it to read back with the
    /// same structure; parsed trees already carry their parentheses as [`Expr::Paren`].
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let prec = self.op.precedence();
        write_operand(f, &self.lhs, |p| p < prec)?;
        write!(f, " {} ", self.op.as_str())?;
        write_operand(f, &self.rhs, |p| p <= prec)
    }
}

fn write_operand(
    f: &mut Formatter<'_>,
    e: &Expr,
    needs_parens: impl Fn(u8) -> bool,
) -> fmt::Result {
    match e {
        Expr::Binary(b) if needs_parens(b.op.precedence()) => write!(f, "({e})"),
        _ => e.fmt(f),
    }
}

impl Display for BinaryOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Integer(n) => write!(f, "{n}"),
            Literal::Unsigned(n) => write!(f, "{n}"),
            Literal::Float(v) => write_float(f, *v),
            Literal::String(s) => write_quoted(f, s, '\''),
            Literal::Boolean(b) => f.write_str(if *b { "true" } else { "false" }),
            Literal::Duration(ns) => f.write_str(&format_duration(*ns)),
            Literal::Regex(re) => re.fmt(f),
        }
    }
}

impl Display for Regex {
    /// `/source/` with every `/` escaped as `\/`.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_char('/')?;
        for c in self.source.chars() {
            if c == '/' {
                f.write_str("\\/")?;
            } else {
                f.write_char(c)?;
            }
        }
        f.write_char('/')
    }
}

impl Display for VarRef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_ident(f, &self.name)?;
        if let Some(t) = self.data_type {
            write!(f, "::{}", t.as_str())?;
        }
        Ok(())
    }
}

impl Display for DataType {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Display for Call {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        // `distinct(x)` reads back as the keyword followed by a parenthesis: a call.
        if self.name == "distinct" {
            f.write_str("distinct")?;
        } else {
            write_ident(f, &self.name)?;
        }
        f.write_char('(')?;
        write_list(f, &self.args)?;
        f.write_char(')')
    }
}
