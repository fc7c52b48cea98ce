//! A reader that takes keys out of a TOML table one by one, converts them, and records every
//! problem with its full key path instead of stopping at the first. Whatever is left in a table
//! once its section has been read is an unknown key, and an error.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::time::parse_duration;

/// One thing wrong with the configuration, with the key path it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Dotted key path, such as `monitoring.tolerance_interval`.
    pub key: String,
    /// What is wrong, lowercase.
    pub message: String,
    /// Where the value came from when it was not the config file (`env WISPMON_LISTEN`, `--listen`).
    pub origin: Option<String>,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.key, self.message)?;
        if let Some(o) = &self.origin {
            write!(f, " (set by {o})")?;
        }
        Ok(())
    }
}

/// Reads one section (table) of the configuration.
#[derive(Debug)]
pub(crate) struct Section<'p> {
    prefix: String,
    table: toml::Table,
    problems: &'p mut Vec<Problem>,
    origins: &'p [(String, String)],
}

impl<'p> Section<'p> {
    pub(crate) fn root(
        table: toml::Table,
        problems: &'p mut Vec<Problem>,
        origins: &'p [(String, String)],
    ) -> Self {
        Section {
            prefix: String::new(),
            table,
            problems,
            origins,
        }
    }

    fn path(&self, key: &str) -> String {
        if self.prefix.is_empty() {
            key.to_owned()
        } else {
            format!("{}.{key}", self.prefix)
        }
    }

    pub(crate) fn problem(&mut self, key: &str, message: impl Into<String>) {
        let key = self.path(key);
        let origin = self
            .origins
            .iter()
            .find(|(k, _)| *k == key || key.starts_with(&format!("{k}.")))
            .map(|(_, o)| o.clone());
        self.problems.push(Problem {
            key,
            message: message.into(),
            origin,
        });
    }

    /// Takes `key` and converts it, or records a problem and returns `default`.
    pub(crate) fn value<T>(
        &mut self,
        key: &str,
        default: T,
        convert: impl FnOnce(&toml::Value) -> Result<T, String>,
    ) -> T {
        match self.table.remove(key) {
            None => default,
            Some(v) => match convert(&v) {
                Ok(t) => t,
                Err(msg) => {
                    self.problem(key, msg);
                    default
                }
            },
        }
    }

    pub(crate) fn bool(&mut self, key: &str, default: bool) -> bool {
        self.value(key, default, |v| {
            v.as_bool()
                .ok_or_else(|| format!("expected true or false, found {}", type_name(v)))
        })
    }

    pub(crate) fn string(&mut self, key: &str, default: String) -> String {
        self.value(key, default, |v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| format!("expected a string, found {}", type_name(v)))
        })
    }

    /// A string parsed with `FromStr`, whose error message is reported as is.
    pub(crate) fn parsed<T: FromStr<Err = String>>(&mut self, key: &str, default: T) -> T {
        self.value(key, default, |v| match v {
            toml::Value::String(s) => s.parse(),
            // Sizes may be written as a bare number of bytes.
            toml::Value::Integer(i) => i.to_string().parse(),
            other => Err(format!("expected a string, found {}", type_name(other))),
        })
    }

    pub(crate) fn duration(&mut self, key: &str, default: Duration) -> Duration {
        self.value(key, default, |v| match v {
            toml::Value::String(s) => parse_duration(s).map_err(|e| e.to_string()),
            other => Err(format!(
                "expected a duration string such as \"5m\", found {}",
                type_name(other)
            )),
        })
    }

    pub(crate) fn string_list(&mut self, key: &str, default: Vec<String>) -> Vec<String> {
        self.value(key, default, |v| {
            let arr = v
                .as_array()
                .ok_or_else(|| format!("expected a list of strings, found {}", type_name(v)))?;
            arr.iter()
                .map(|e| {
                    e.as_str().map(str::to_owned).ok_or_else(|| {
                        format!("expected a list of strings, found {}", type_name(e))
                    })
                })
                .collect()
        })
    }

    /// Takes a free-form table (validated later by the component that owns it).
    pub(crate) fn table(&mut self, key: &str) -> toml::Table {
        self.value(key, toml::Table::new(), |v| match v {
            toml::Value::Table(t) => Ok(t.clone()),
            other => Err(format!("expected a table, found {}", type_name(other))),
        })
    }

    /// Takes a raw value if present, for callers with their own shape checks.
    pub(crate) fn raw(&mut self, key: &str) -> Option<toml::Value> {
        self.table.remove(key)
    }

    /// Opens the sub-table `key` as a section (an absent key reads as an empty section).
    pub(crate) fn section(&mut self, key: &str) -> Section<'_> {
        let table = match self.table.remove(key) {
            None => toml::Table::new(),
            Some(toml::Value::Table(t)) => t,
            Some(other) => {
                let msg = format!("expected a table, found {}", type_name(&other));
                self.problem(key, msg);
                toml::Table::new()
            }
        };
        Section {
            prefix: self.path(key),
            table,
            problems: self.problems,
            origins: self.origins,
        }
    }

    /// Ends the section: every key not taken is reported as unknown.
    pub(crate) fn finish(mut self) {
        let left: Vec<String> = self.table.keys().cloned().collect();
        for key in left {
            self.problem(&key, "unknown key");
        }
    }
}

pub(crate) fn type_name(v: &toml::Value) -> &'static str {
    match v {
        toml::Value::String(_) => "a string",
        toml::Value::Integer(_) => "an integer",
        toml::Value::Float(_) => "a float",
        toml::Value::Boolean(_) => "a boolean",
        toml::Value::Datetime(_) => "a datetime",
        toml::Value::Array(_) => "a list",
        toml::Value::Table(_) => "a table",
    }
}
