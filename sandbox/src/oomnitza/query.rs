//! The list parameters of Oomnitza's API v3 (`filter`, `limit`, `skip`, `sortby`, `fields`) and
//! how they shape a list of records, kept apart from HTTP so they can be unit-tested.
//!
//! Choices where the vendor's docs are silent: `limit` defaults to 100 and is capped at 1000
//! (larger values are clamped, not refused); `sortby` takes `field [asc|desc]`, several separated
//! by commas, nulls last; a field that the collection does not know, anywhere, is a 400.

use std::cmp::Ordering;
use std::collections::BTreeSet;

use serde_json::{Map, Value};

use super::filter::{self, Filter};

/// Records answered when `limit` is absent.
pub const DEFAULT_LIMIT: usize = 100;
/// Most records one request answers.
pub const MAX_LIMIT: usize = 1000;

/// A rejected parameter: which one and why (answered as the error object, 400).
#[derive(Debug, Clone, PartialEq)]
pub struct ParamError {
    /// The query parameter at fault.
    pub param: &'static str,
    /// What is wrong with it.
    pub message: String,
}

/// The parsed list parameters of one request.
#[derive(Debug, Clone, PartialEq)]
pub struct ListParams {
    /// Records must match this, if given.
    pub filter: Option<Filter>,
    /// Page size: `limit`, 100 when absent, capped at 1000.
    pub limit: usize,
    /// Records skipped before the page.
    pub skip: usize,
    /// Sort keys: field and whether descending.
    pub sort: Vec<(String, bool)>,
    /// Only these fields are answered, if given.
    pub fields: Option<Vec<String>>,
}

impl ListParams {
    /// Parses the query string and checks every field name against `known`.
    pub fn parse(query: Option<&str>, known: &BTreeSet<String>) -> Result<ListParams, ParamError> {
        let one = |name| crate::args::query_one(query, name);
        let params = ListParams {
            filter: parse_filter(one("filter"))?,
            limit: parse_count("limit", one("limit"), DEFAULT_LIMIT)?.clamp(1, MAX_LIMIT),
            skip: parse_count("skip", one("skip"), 0)?,
            sort: parse_sort(one("sortby"))?,
            fields: parse_fields(one("fields")),
        };
        params.check_fields(known)?;
        Ok(params)
    }

    fn check_fields(&self, known: &BTreeSet<String>) -> Result<(), ParamError> {
        let unknown = |param: &'static str, name: &str| ParamError {
            param,
            message: format!("Unknown field '{name}'"),
        };
        let filter_fields = self.filter.iter().flat_map(Filter::fields);
        if let Some(name) = filter_fields.into_iter().find(|n| !known.contains(*n)) {
            return Err(unknown("filter", name));
        }
        if let Some((name, _)) = self.sort.iter().find(|(n, _)| !known.contains(n)) {
            return Err(unknown("sortby", name));
        }
        if let Some(name) = self.fields.iter().flatten().find(|n| !known.contains(*n)) {
            return Err(unknown("fields", name));
        }
        Ok(())
    }

    /// Filters, sorts, pages and projects `records`.
    pub fn apply(&self, records: &[Map<String, Value>]) -> Vec<Value> {
        let mut hits: Vec<&Map<String, Value>> = records
            .iter()
            .filter(|r| self.filter.as_ref().is_none_or(|f| f.matches(r)))
            .collect();
        if !self.sort.is_empty() {
            hits.sort_by(|a, b| self.order(a, b));
        }
        hits.into_iter()
            .skip(self.skip)
            .take(self.limit)
            .map(|r| self.project(r))
            .collect()
    }

    fn order(&self, a: &Map<String, Value>, b: &Map<String, Value>) -> Ordering {
        for (field, desc) in &self.sort {
            let ord = compare_values(a.get(field), b.get(field));
            let ord = if *desc { ord.reverse() } else { ord };
            if ord.is_ne() {
                return ord;
            }
        }
        Ordering::Equal
    }

    /// The record with only the requested fields (absent ones as null), or whole.
    pub fn project(&self, record: &Map<String, Value>) -> Value {
        let Some(fields) = &self.fields else {
            return Value::Object(record.clone());
        };
        let out = fields
            .iter()
            .map(|f| (f.clone(), record.get(f).cloned().unwrap_or(Value::Null)))
            .collect();
        Value::Object(out)
    }
}

fn parse_filter(raw: Option<String>) -> Result<Option<Filter>, ParamError> {
    match raw {
        None => Ok(None),
        Some(s) if s.trim().is_empty() => Ok(None),
        Some(s) => filter::parse(&s).map(Some).map_err(|message| ParamError {
            param: "filter",
            message: format!("Invalid filter: {message}"),
        }),
    }
}

fn parse_count(
    param: &'static str,
    raw: Option<String>,
    default: usize,
) -> Result<usize, ParamError> {
    match raw {
        None => Ok(default),
        Some(s) if s.trim().is_empty() => Ok(default),
        Some(s) => s.trim().parse::<usize>().map_err(|_| ParamError {
            param,
            message: format!("'{s}' is not a non-negative integer"),
        }),
    }
}

fn parse_sort(raw: Option<String>) -> Result<Vec<(String, bool)>, ParamError> {
    let Some(raw) = raw else { return Ok(vec![]) };
    let mut out = Vec::new();
    for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let mut words = part.split_whitespace();
        let field = words.next().unwrap_or_default().to_string();
        let desc = match words.next().map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(ParamError {
                    param: "sortby",
                    message: format!("Invalid sort direction '{other}' (use asc or desc)"),
                });
            }
        };
        if words.next().is_some() {
            return Err(ParamError {
                param: "sortby",
                message: format!("Invalid sort '{part}' (use 'field asc' or 'field desc')"),
            });
        }
        out.push((field, desc));
    }
    Ok(out)
}

fn parse_fields(raw: Option<String>) -> Option<Vec<String>> {
    let raw = raw?;
    let list: Vec<String> = raw
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_string)
        .collect();
    (!list.is_empty()).then_some(list)
}

/// Orders two field values: nulls last, numbers numerically, everything else as text.
fn compare_values(a: Option<&Value>, b: Option<&Value>) -> Ordering {
    let a = a.filter(|v| !v.is_null());
    let b = b.filter(|v| !v.is_null());
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Greater,
        (Some(_), None) => Ordering::Less,
        (Some(Value::Number(x)), Some(Value::Number(y))) => x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal),
        (Some(x), Some(y)) => text(x).cmp(&text(y)),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn known() -> BTreeSet<String> {
        ["name", "n", "tag"].iter().map(|s| s.to_string()).collect()
    }

    fn records() -> Vec<Map<String, Value>> {
        [
            json!({"name": "b", "n": 2, "tag": "x"}),
            json!({"name": "a", "n": 10, "tag": null}),
            json!({"name": "c", "n": 1, "tag": "x"}),
        ]
        .into_iter()
        .filter_map(|v| v.as_object().cloned())
        .collect()
    }

    #[test]
    fn defaults_and_clamps() {
        let p = ListParams::parse(None, &known()).unwrap();
        assert_eq!((p.limit, p.skip), (DEFAULT_LIMIT, 0));
        let p = ListParams::parse(Some("limit=5000&skip=3"), &known()).unwrap();
        assert_eq!((p.limit, p.skip), (MAX_LIMIT, 3));
        assert_eq!(
            ListParams::parse(Some("limit=ten"), &known())
                .unwrap_err()
                .param,
            "limit"
        );
    }

    #[test]
    fn sorts_pages_and_projects() {
        let p = ListParams::parse(Some("sortby=n%20desc&limit=2&skip=0&fields=name"), &known())
            .unwrap();
        assert_eq!(
            p.apply(&records()),
            vec![json!({"name": "a"}), json!({"name": "b"})]
        );
        let p =
            ListParams::parse(Some("sortby=tag%20asc,name%20desc&fields=name"), &known()).unwrap();
        assert_eq!(
            p.apply(&records()),
            vec![
                json!({"name": "c"}),
                json!({"name": "b"}),
                json!({"name": "a"})
            ]
        );
    }

    #[test]
    fn filters_and_rejects_unknown_fields() {
        let p = ListParams::parse(Some("filter=tag%20eq%20%27x%27&sortby=name"), &known()).unwrap();
        let names: Vec<Value> = p
            .apply(&records())
            .iter()
            .map(|r| r["name"].clone())
            .collect();
        assert_eq!(names, vec![json!("b"), json!("c")]);
        for (q, param) in [
            ("filter=nope%20eq%20%271%27", "filter"),
            ("filter=name%20eq", "filter"),
            ("sortby=nope", "sortby"),
            ("sortby=name%20up", "sortby"),
            ("fields=name,nope", "fields"),
        ] {
            assert_eq!(
                ListParams::parse(Some(q), &known()).unwrap_err().param,
                param,
                "{q}"
            );
        }
    }
}
