//! A Falcon Query Language (FQL) subset, enough for the filters and sorts Falcon clients send to
//! the Alerts and Hosts APIs (vendor-apis §2.6).
//!
//! Grammar (whitespace between tokens is ignored; whitespace *between two terms* counts as AND,
//! because a literal `+` in a query string arrives decoded as a space):
//!
//! ```text
//! expr   := and (',' and)*            OR
//! and    := unary (('+' | ws) unary)*  AND (binds tighter than OR)
//! unary  := '(' expr ')' | term
//! term   := field ':' '!'? op? value
//! op     := '>=' | '>' | '<=' | '<' | '~'
//! value  := 'quoted' | "quoted" | bare | '[' value (',' value)* ']'
//! ```
//!
//! Strings compare case-insensitively (as Falcon does for keyword fields), `*` in a value is a
//! wildcard, range operators compare timestamps as instants (RFC 3339 or `now-15m`-style relative
//! times) and numbers numerically. Nested fields use dots (`device.hostname`). An array field
//! matches when any element matches; a missing field never matches (so a negation matches it).

use std::cmp::Ordering;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

/// A filter that did not parse; the text names the problem and is sent back in the 400.
#[derive(Debug, Clone, PartialEq)]
pub struct FqlError(pub String);

impl std::fmt::Display for FqlError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A parsed filter, ready to test records against.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Matches everything (empty filter or `*`).
    All,
    /// Every part must match.
    And(Vec<Filter>),
    /// Any part must match.
    Or(Vec<Filter>),
    /// One `field:op value` comparison.
    Term(Term),
}

/// One comparison of a field against one or more literal values.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// Dotted path into the record.
    pub field: String,
    /// `!` before the operator.
    pub negated: bool,
    /// The operator after the `:` (`:` alone is `Eq`).
    pub op: Op,
    /// One value, or several for `[…]` (any of them).
    pub values: Vec<String>,
}

/// Comparison operators of FQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// Exact (case-insensitive, `*` wildcard) match.
    Eq,
    /// `field:>value`: after or above (times as instants, `now-15m` allowed; numbers numerically).
    Gt,
    /// `field:>=value`, e.g. `created_timestamp:>='now-1h'`.
    Ge,
    /// `field:<value`: before or below.
    Lt,
    /// `field:<=value`.
    Le,
    /// `~`: case-insensitive substring (text match).
    Contains,
}

/// Parses a filter string; an empty or all-whitespace filter matches everything.
pub fn parse(input: &str) -> Result<Filter, FqlError> {
    let mut p = Parser {
        chars: input.chars().collect(),
        pos: 0,
    };
    p.skip_ws();
    if p.at_end() {
        return Ok(Filter::All);
    }
    if input.trim() == "*" {
        return Ok(Filter::All);
    }
    let filter = p.expr()?;
    p.skip_ws();
    if !p.at_end() {
        return Err(p.error("unexpected character"));
    }
    Ok(filter)
}

struct Parser {
    chars: Vec<char>,
    pos: usize,
}

impl Parser {
    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn peek_at(&self, offset: usize) -> Option<char> {
        self.chars.get(self.pos + offset).copied()
    }

    fn skip_ws(&mut self) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
        self.pos != start
    }

    fn error(&self, what: &str) -> FqlError {
        match self.peek() {
            Some(c) => FqlError(format!(
                "invalid filter: {what} '{c}' at position {}",
                self.pos
            )),
            None => FqlError(format!("invalid filter: {what} at end of filter")),
        }
    }

    fn expr(&mut self) -> Result<Filter, FqlError> {
        let mut parts = vec![self.and()?];
        loop {
            self.skip_ws();
            if self.peek() != Some(',') {
                break;
            }
            self.pos += 1;
            parts.push(self.and()?);
        }
        Ok(collapse(parts, Filter::Or))
    }

    fn and(&mut self) -> Result<Filter, FqlError> {
        let mut parts = vec![self.unary()?];
        loop {
            let had_ws = self.skip_ws();
            match self.peek() {
                Some('+') => {
                    self.pos += 1;
                    parts.push(self.unary()?);
                }
                Some(c) if had_ws && (c == '(' || is_field_char(c)) => {
                    parts.push(self.unary()?);
                }
                _ => break,
            }
        }
        Ok(collapse(parts, Filter::And))
    }

    fn unary(&mut self) -> Result<Filter, FqlError> {
        self.skip_ws();
        if self.peek() == Some('(') {
            self.pos += 1;
            let inner = self.expr()?;
            self.skip_ws();
            if self.peek() != Some(')') {
                return Err(self.error("expected ')'"));
            }
            self.pos += 1;
            return Ok(inner);
        }
        self.term().map(Filter::Term)
    }

    fn term(&mut self) -> Result<Term, FqlError> {
        let field = self.field()?;
        self.skip_ws();
        if self.peek() != Some(':') {
            return Err(self.error(&format!("expected ':' after field '{field}', found")));
        }
        self.pos += 1;
        self.skip_ws();
        let negated = self.eat('!');
        let op = self.op();
        self.skip_ws();
        let values = self.values()?;
        if op != Op::Eq && values.len() > 1 {
            return Err(FqlError(format!(
                "invalid filter: operator on field '{field}' cannot take a list"
            )));
        }
        for v in &values {
            check_relative_time(v)?;
        }
        Ok(Term {
            field,
            negated,
            op,
            values,
        })
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn field(&mut self) -> Result<String, FqlError> {
        let start = self.pos;
        while self.peek().is_some_and(is_field_char) {
            self.pos += 1;
        }
        if start == self.pos {
            return Err(self.error("expected a field name, found"));
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
            return Err(FqlError(format!("invalid filter: bad field name '{name}'")));
        }
        Ok(name)
    }

    fn op(&mut self) -> Op {
        let (op, len) = match (self.peek(), self.peek_at(1)) {
            (Some('>'), Some('=')) => (Op::Ge, 2),
            (Some('<'), Some('=')) => (Op::Le, 2),
            (Some('>'), _) => (Op::Gt, 1),
            (Some('<'), _) => (Op::Lt, 1),
            (Some('~'), _) => (Op::Contains, 1),
            _ => (Op::Eq, 0),
        };
        self.pos += len;
        op
    }

    fn values(&mut self) -> Result<Vec<String>, FqlError> {
        if !self.eat('[') {
            return Ok(vec![self.scalar()?]);
        }
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            out.push(self.scalar()?);
            self.skip_ws();
            if self.eat(']') {
                return Ok(out);
            }
            if !self.eat(',') {
                return Err(self.error("expected ',' or ']' in list, found"));
            }
        }
    }

    fn scalar(&mut self) -> Result<String, FqlError> {
        match self.peek() {
            Some(q @ ('\'' | '"')) => self.quoted(q),
            _ => self.bare(),
        }
    }

    fn quoted(&mut self, quote: char) -> Result<String, FqlError> {
        let open = self.pos;
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(FqlError(format!(
                        "invalid filter: unterminated string starting at position {open}"
                    )));
                }
                Some('\\') if self.peek_at(1).is_some() => {
                    out.extend(self.peek_at(1));
                    self.pos += 2;
                }
                Some(c) if c == quote => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(c) => {
                    out.push(c);
                    self.pos += 1;
                }
            }
        }
    }

    fn bare(&mut self) -> Result<String, FqlError> {
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| !c.is_whitespace() && !"+,()[]'\"".contains(c))
        {
            self.pos += 1;
        }
        if start == self.pos {
            return Err(self.error("expected a value, found"));
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }
}

fn is_field_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-'
}

fn collapse(mut parts: Vec<Filter>, wrap: fn(Vec<Filter>) -> Filter) -> Filter {
    if parts.len() == 1 {
        parts.remove(0)
    } else {
        wrap(parts)
    }
}

fn check_relative_time(value: &str) -> Result<(), FqlError> {
    let lower = value.trim().to_ascii_lowercase();
    let looks_relative = lower == "now" || lower.starts_with("now-") || lower.starts_with("now+");
    if looks_relative && relative_time(&lower, Utc::now()).is_none() {
        return Err(FqlError(format!(
            "invalid filter: bad relative time '{value}' (use e.g. 'now-15m', 'now-1h', 'now-7d')"
        )));
    }
    Ok(())
}

/// `now`, `now-15m`, `now+1h`, `now-7d` (units s, m, h, d, w, y) resolved against `now`.
fn relative_time(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    let rest = text.strip_prefix("now")?;
    if rest.is_empty() {
        return Some(now);
    }
    let sign = match rest.chars().next()? {
        '-' => -1,
        '+' => 1,
        _ => return None,
    };
    let body = rest.get(1..)?;
    let unit = body.chars().last()?;
    let amount: i64 = body.get(..body.len() - unit.len_utf8())?.parse().ok()?;
    let span = match unit {
        's' => Duration::try_seconds(amount)?,
        'm' => Duration::try_minutes(amount)?,
        'h' => Duration::try_hours(amount)?,
        'd' => Duration::try_days(amount)?,
        'w' => Duration::try_weeks(amount)?,
        'y' => Duration::try_days(amount.checked_mul(365)?)?,
        _ => return None,
    };
    now.checked_add_signed(span * sign)
}

/// Reads a record's value as an instant (RFC 3339 only).
fn field_instant(text: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|dt| dt.with_timezone(&Utc))
}

/// Reads a filter literal as an instant: RFC 3339, or a relative time.
fn literal_instant(text: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    field_instant(text).or_else(|| relative_time(&text.trim().to_ascii_lowercase(), now))
}

/// The value at a dotted path (`device.hostname`), if any.
pub fn lookup<'a>(record: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.')
        .try_fold(record, |v, key| v.as_object()?.get(key))
        .filter(|v| !v.is_null())
}

impl Filter {
    /// Whether `record` matches, with relative times resolved against `now`.
    pub fn matches(&self, record: &Value, now: DateTime<Utc>) -> bool {
        match self {
            Filter::All => true,
            Filter::And(parts) => parts.iter().all(|f| f.matches(record, now)),
            Filter::Or(parts) => parts.iter().any(|f| f.matches(record, now)),
            Filter::Term(t) => t.matches(record, now),
        }
    }
}

impl Term {
    fn matches(&self, record: &Value, now: DateTime<Utc>) -> bool {
        let hit = match lookup(record, &self.field) {
            None => false,
            Some(Value::Array(items)) => items.iter().any(|item| self.any_value(item, now)),
            Some(v) => self.any_value(v, now),
        };
        hit != self.negated
    }

    fn any_value(&self, field: &Value, now: DateTime<Utc>) -> bool {
        self.values
            .iter()
            .any(|lit| compare_one(field, self.op, lit, now))
    }
}

fn compare_one(field: &Value, op: Op, literal: &str, now: DateTime<Utc>) -> bool {
    match op {
        Op::Eq => equals(field, literal, now),
        Op::Contains => scalar_text(field).is_some_and(|s| {
            s.to_lowercase()
                .contains(&literal.trim_matches('*').to_lowercase())
        }),
        _ => order_against(field, literal, now).is_some_and(|ord| op_accepts(op, ord)),
    }
}

fn op_accepts(op: Op, ord: Ordering) -> bool {
    match op {
        Op::Gt => ord == Ordering::Greater,
        Op::Ge => ord != Ordering::Less,
        Op::Lt => ord == Ordering::Less,
        Op::Le => ord != Ordering::Greater,
        Op::Eq | Op::Contains => ord == Ordering::Equal,
    }
}

fn scalar_text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn equals(field: &Value, literal: &str, now: DateTime<Utc>) -> bool {
    match field {
        Value::Number(n) => literal
            .trim()
            .parse::<f64>()
            .is_ok_and(|x| n.as_f64() == Some(x)),
        Value::Bool(b) => literal.trim().eq_ignore_ascii_case(&b.to_string()),
        Value::String(s) if literal.contains('*') => {
            wildcard(&s.to_lowercase(), &literal.to_lowercase())
        }
        Value::String(s) => {
            s.eq_ignore_ascii_case(literal)
                || matches!(
                    (field_instant(s), literal_instant(literal, now)),
                    (Some(a), Some(b)) if a == b
                )
        }
        _ => false,
    }
}

fn order_against(field: &Value, literal: &str, now: DateTime<Utc>) -> Option<Ordering> {
    match field {
        Value::Number(n) => n
            .as_f64()?
            .partial_cmp(&literal.trim().parse::<f64>().ok()?),
        Value::String(s) => {
            if let (Some(a), Some(b)) = (field_instant(s), literal_instant(literal, now)) {
                return Some(a.cmp(&b));
            }
            if let (Ok(a), Ok(b)) = (s.trim().parse::<f64>(), literal.trim().parse::<f64>()) {
                return a.partial_cmp(&b);
            }
            Some(s.to_lowercase().cmp(&literal.to_lowercase()))
        }
        _ => None,
    }
}

/// `*` matches any run of characters (both sides already lower-cased).
fn wildcard(text: &str, pattern: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    let (first, rest) = match parts.split_first() {
        Some(x) => x,
        None => return text.is_empty(),
    };
    let Some(mut remaining) = text.strip_prefix(first) else {
        return false;
    };
    let Some((last, middle)) = rest.split_last() else {
        return remaining.is_empty();
    };
    for part in middle {
        match remaining.find(part) {
            Some(i) => remaining = &remaining[i + part.len()..],
            None => return false,
        }
    }
    remaining.len() >= last.len() && remaining.ends_with(last)
}

/// A parsed `sort` parameter: field and direction.
#[derive(Debug, Clone, PartialEq)]
pub struct Sort {
    /// Dotted field path.
    pub field: String,
    /// True for descending.
    pub desc: bool,
}

impl Sort {
    /// Parses `field|asc`, `field|desc`, `field.asc`, `field.desc` or a bare field (ascending),
    /// the forms the Alerts (`|`) and Hosts (`.`) APIs document.
    pub fn parse(text: &str) -> Result<Sort, FqlError> {
        let t = text.trim();
        let (field, dir) = if let Some((f, d)) = t.split_once('|') {
            (f.trim(), Some(d.trim()))
        } else if let Some((f, d)) = t.rsplit_once('.')
            && matches!(d.to_ascii_lowercase().as_str(), "asc" | "desc")
        {
            (f, Some(d))
        } else {
            (t, None)
        };
        let desc = match dir.map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(FqlError(format!(
                    "invalid sort direction '{other}': use asc or desc"
                )));
            }
        };
        if field.is_empty() || !field.chars().all(is_field_char) {
            return Err(FqlError(format!("invalid sort field '{field}'")));
        }
        Ok(Sort {
            field: field.to_string(),
            desc,
        })
    }

    /// Orders two records by this sort (missing values last in either direction).
    pub fn compare(&self, a: &Value, b: &Value) -> Ordering {
        let (x, y) = (lookup(a, &self.field), lookup(b, &self.field));
        match (x, y) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Greater,
            (Some(_), None) => Ordering::Less,
            (Some(x), Some(y)) => {
                let ord = compare_values(x, y);
                if self.desc { ord.reverse() } else { ord }
            }
        }
    }
}

/// Total order on JSON scalars for sorting: numbers numerically, RFC 3339 strings as instants,
/// other strings case-insensitively, then by type.
pub fn compare_values(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x
            .as_f64()
            .unwrap_or(0.0)
            .total_cmp(&y.as_f64().unwrap_or(0.0)),
        (Value::String(x), Value::String(y)) => {
            match (
                DateTime::parse_from_rfc3339(x),
                DateTime::parse_from_rfc3339(y),
            ) {
                (Ok(p), Ok(q)) => p.cmp(&q),
                _ => x
                    .to_lowercase()
                    .cmp(&y.to_lowercase())
                    .then_with(|| x.cmp(y)),
            }
        }
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => type_rank(a).cmp(&type_rank(b)),
    }
}

fn type_rank(v: &Value) -> u8 {
    match v {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn alert() -> Value {
        json!({
            "composite_id": "cid:ind:aid:1",
            "status": "new",
            "product": "epp",
            "severity": 70,
            "show_in_ui": true,
            "tags": ["true_positive", "vip"],
            "created_timestamp": "2024-08-27T03:21:32.123Z",
            "device": {"device_id": "abc", "hostname": "WS-CAROL-MBP"}
        })
    }

    fn check(filter: &str) -> bool {
        let now = DateTime::parse_from_rfc3339("2024-08-27T03:30:00Z")
            .map(|d| d.with_timezone(&Utc))
            .unwrap();
        parse(filter).unwrap().matches(&alert(), now)
    }

    #[test]
    fn exact_match_is_case_insensitive() {
        assert!(check("status:'new'"));
        assert!(check("status:'NEW'"));
        assert!(!check("status:'closed'"));
        assert!(check("status:new"));
        assert!(check("status:\"new\""));
    }

    #[test]
    fn and_or_and_negation() {
        assert!(check("product:'epp'+status:'new'+severity:>=50"));
        assert!(!check("product:'epp'+status:'closed'"));
        assert!(check("status:'closed',product:'epp'"));
        assert!(check("status:!'closed'"));
        assert!(!check("status:!'new'"));
        assert!(check("(status:'closed',status:'new')+product:'epp'"));
        assert!(check("product:'epp' status:'new'"), "decoded + is a space");
    }

    #[test]
    fn numbers_and_timestamps_compare_as_values() {
        assert!(check("severity:>50"));
        assert!(check("severity:<=70"));
        assert!(!check("severity:<70"));
        assert!(check("severity:70"));
        assert!(check("created_timestamp:>'2024-08-27T03:21:32Z'"));
        assert!(check("created_timestamp:>'2024-08-27T05:21:00+02:00'"));
        assert!(!check("created_timestamp:>='2024-08-27T03:21:33Z'"));
        assert!(check("created_timestamp:>'now-15m'"));
        assert!(!check("created_timestamp:>'now-5m'"));
        assert!(check("created_timestamp:<'now'"));
        assert!(check(
            "created_timestamp:>'now-7d'+created_timestamp:<'now+1h'"
        ));
    }

    #[test]
    fn arrays_wildcards_nested_fields() {
        assert!(check("status:['new','in_progress']"));
        assert!(!check("status:['closed','in_progress']"));
        assert!(check("status:!['closed','in_progress']"));
        assert!(check("device.hostname:'WS-*'"));
        assert!(check("device.hostname:'ws-*-mbp'"));
        assert!(!check("device.hostname:'SRV-*'"));
        assert!(check("device.device_id:'abc'"));
        assert!(check("tags:'vip'"));
        assert!(!check("tags:'false_positive'"));
        assert!(check("show_in_ui:true"));
        assert!(!check("missing.field:'x'"));
        assert!(check("missing.field:!'x'"));
        assert!(check("device.hostname:~'carol'"));
        assert!(check("*"));
        assert!(check(""));
    }

    #[test]
    fn bad_filters_name_the_problem() {
        let err = |f: &str| parse(f).unwrap_err().0;
        assert!(err("status'new'").contains("expected ':'"));
        assert!(err("status:'new").contains("unterminated string"));
        assert!(err("status:['new'").contains("list"));
        assert!(err("(status:'new'").contains("expected ')'"));
        assert!(err("created_timestamp:>'now-15x'").contains("relative time"));
        assert!(err("status:'new'+").contains("field name"));
        assert!(err(":'x'").contains("field name"));
        assert!(err("severity:>[1,2]").contains("list"));
    }

    #[test]
    fn sorts_parse_both_syntaxes() {
        assert_eq!(
            Sort::parse("created_timestamp|desc").unwrap(),
            Sort {
                field: "created_timestamp".into(),
                desc: true
            }
        );
        assert_eq!(
            Sort::parse("device.hostname.asc").unwrap(),
            Sort {
                field: "device.hostname".into(),
                desc: false
            }
        );
        assert_eq!(Sort::parse("hostname").unwrap().field, "hostname");
        assert!(Sort::parse("hostname|sideways").is_err());
        assert!(Sort::parse("|asc").is_err());
    }

    #[test]
    fn sort_orders_timestamps_as_instants_and_missing_last() {
        let s = Sort::parse("t|asc").unwrap();
        let a = json!({"t": "2024-01-01T00:00:00.5Z"});
        let b = json!({"t": "2024-01-01T00:00:01Z"});
        let none = json!({});
        assert_eq!(s.compare(&a, &b), Ordering::Less);
        assert_eq!(s.compare(&a, &none), Ordering::Less);
        let d = Sort::parse("t|desc").unwrap();
        assert_eq!(d.compare(&a, &b), Ordering::Greater);
        assert_eq!(d.compare(&none, &a), Ordering::Greater);
    }

    #[test]
    fn wildcard_edges() {
        assert!(wildcard("ws-1", "ws-*"));
        assert!(wildcard("ws-1", "*"));
        assert!(wildcard("abc", "a*c"));
        assert!(!wildcard("ab", "a*bc"));
        assert!(wildcard("aXbXc", "a*b*c"));
        assert!(!wildcard("abca", "a*c"));
    }
}
