//! The `filter` query parameter of Oomnitza's API v3: a small SQL-like language
//! (`serial_number eq 'C02XYZ'`, `(a eq 'x') and (b ne "y")`, `assigned_to IS NULL`).
//!
//! It exists as its own parser so the simulator rejects what the real API rejects (syntax errors
//! and unknown fields answer 400) instead of silently matching nothing.
//!
//! Grammar (keywords and operators case-insensitive, field names exact):
//!
//! ```text
//! expr    := and ( OR and )*
//! and     := primary ( AND primary )*
//! primary := '(' expr ')' | cond
//! cond    := FIELD (eq|ne|lt|lte|gt|gte) value
//!          | FIELD LIKE value                 -- SQL LIKE: % any run, _ one char
//!          | FIELD IN '[' value (',' value)* ']'   (parentheses also accepted)
//!          | FIELD IS [NOT] NULL
//!          | FIELD BETWEEN value AND value
//! value   := 'text' | "text" | bare word (numbers, true/false)
//! ```
//!
//! Semantics chosen where Oomnitza's docs are silent: a null or missing field matches no
//! comparison (as in SQL), only `IS NULL`; numbers compare numerically, ISO 8601 dates compare
//! as Unix seconds against numeric fields, everything else compares as case-sensitive text.

use serde_json::Value;

/// A parsed filter expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    /// Both sides must match.
    And(Box<Filter>, Box<Filter>),
    /// Either side must match.
    Or(Box<Filter>, Box<Filter>),
    /// One field test.
    Cond(Cond),
}

/// One test on one field.
#[derive(Debug, Clone, PartialEq)]
pub struct Cond {
    /// Field name, exactly as sent.
    pub field: String,
    /// What the field must satisfy.
    pub test: Test,
}

/// The comparison a condition makes.
#[derive(Debug, Clone, PartialEq)]
pub enum Test {
    /// `eq`, `ne`, `lt`, `lte`, `gt`, `gte` against one value.
    Cmp(Op, String),
    /// SQL `LIKE` pattern.
    Like(String),
    /// Equal to any of the values.
    In(Vec<String>),
    /// `IS NULL` (false) or `IS NOT NULL` (true).
    Null { negated: bool },
    /// Inclusive range.
    Between(String, String),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `eq`: equal (numbers and dates by value, text case-sensitively).
    Eq,
    /// `ne`: not equal.
    Ne,
    /// `lt`: before or below (a date literal counts as Unix seconds against a number).
    Lt,
    /// `lte`: at or below.
    Lte,
    /// `gt`: e.g. `creation_date gt 1700000000`.
    Gt,
    /// `gte`: at or above.
    Gte,
}

/// Parses a filter; `Err` is a message naming what is wrong and where.
pub fn parse(text: &str) -> Result<Filter, String> {
    let tokens = tokenize(text)?;
    if tokens.is_empty() {
        return Err("filter is empty".into());
    }
    let mut parser = Parser { tokens, pos: 0 };
    let filter = parser.expr()?;
    match parser.peek() {
        None => Ok(filter),
        Some(t) => Err(format!(
            "unexpected {} at the end of the filter",
            t.describe()
        )),
    }
}

impl Filter {
    /// Every field name the filter mentions, so callers can reject unknown ones.
    pub fn fields(&self) -> Vec<&str> {
        match self {
            Filter::And(a, b) | Filter::Or(a, b) => {
                let mut out = a.fields();
                out.extend(b.fields());
                out
            }
            Filter::Cond(c) => vec![c.field.as_str()],
        }
    }

    /// Whether a record (a JSON object) matches.
    pub fn matches(&self, record: &serde_json::Map<String, Value>) -> bool {
        match self {
            Filter::And(a, b) => a.matches(record) && b.matches(record),
            Filter::Or(a, b) => a.matches(record) || b.matches(record),
            Filter::Cond(c) => c.matches(record.get(&c.field).unwrap_or(&Value::Null)),
        }
    }
}

impl Cond {
    fn matches(&self, value: &Value) -> bool {
        if let Test::Null { negated } = self.test {
            return value.is_null() != negated;
        }
        if value.is_null() {
            return false;
        }
        match &self.test {
            Test::Cmp(op, lit) => compare(value, lit).is_some_and(|ord| op.holds(ord)),
            Test::Like(pattern) => like(&text_of(value), pattern),
            Test::In(list) => list
                .iter()
                .any(|lit| compare(value, lit).is_some_and(|o| o.is_eq())),
            Test::Between(lo, hi) => {
                compare(value, lo).is_some_and(|o| o.is_ge())
                    && compare(value, hi).is_some_and(|o| o.is_le())
            }
            Test::Null { .. } => false,
        }
    }
}

impl Op {
    fn from_word(word: &str) -> Option<Op> {
        Some(match word.to_ascii_lowercase().as_str() {
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "lt" => Op::Lt,
            "lte" => Op::Lte,
            "gt" => Op::Gt,
            "gte" => Op::Gte,
            _ => return None,
        })
    }

    fn holds(self, ord: std::cmp::Ordering) -> bool {
        match self {
            Op::Eq => ord.is_eq(),
            Op::Ne => ord.is_ne(),
            Op::Lt => ord.is_lt(),
            Op::Lte => ord.is_le(),
            Op::Gt => ord.is_gt(),
            Op::Gte => ord.is_ge(),
        }
    }
}

/// A record value as text (strings as-is, other scalars as JSON).
fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Orders a record value against a literal: numerically when both are numbers (a date literal
/// counts as Unix seconds), as booleans for booleans, otherwise as text.
fn compare(value: &Value, lit: &str) -> Option<std::cmp::Ordering> {
    match value {
        Value::Number(n) => {
            let left = n.as_f64()?;
            let right = number_of(lit)?;
            left.partial_cmp(&right)
        }
        Value::Bool(b) => {
            let right = match lit.to_ascii_lowercase().as_str() {
                "true" | "1" => true,
                "false" | "0" => false,
                _ => return None,
            };
            Some(b.cmp(&right))
        }
        Value::String(s) => Some(s.as_str().cmp(lit)),
        _ => None,
    }
}

/// A literal as a number: plain numbers, or ISO 8601 dates/datetimes as Unix seconds (UTC).
fn number_of(lit: &str) -> Option<f64> {
    if let Ok(n) = lit.parse::<f64>() {
        return Some(n);
    }
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(lit) {
        return Some(dt.timestamp() as f64);
    }
    if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(lit, "%Y-%m-%dT%H:%M:%S") {
        return Some(dt.and_utc().timestamp() as f64);
    }
    let date = chrono::NaiveDate::parse_from_str(lit, "%Y-%m-%d").ok()?;
    Some(date.and_hms_opt(0, 0, 0)?.and_utc().timestamp() as f64)
}

/// SQL `LIKE`: `%` matches any run of characters, `_` exactly one; case-sensitive.
fn like(text: &str, pattern: &str) -> bool {
    let t: Vec<char> = text.chars().collect();
    let p: Vec<char> = pattern.chars().collect();
    // dp[j]: pattern[..i] matches text[..j]
    let mut dp = vec![false; t.len() + 1];
    dp[0] = true;
    for pc in &p {
        let mut next = vec![false; t.len() + 1];
        match pc {
            '%' => {
                let mut any = false;
                for j in 0..=t.len() {
                    any = any || dp[j];
                    next[j] = any;
                }
            }
            _ => {
                for j in 1..=t.len() {
                    next[j] = dp[j - 1] && (*pc == '_' || *pc == t[j - 1]);
                }
            }
        }
        dp = next;
    }
    dp[t.len()]
}

/// One lexical unit of a filter.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    /// Unquoted word: field name, keyword, operator, number.
    Word(String),
    /// Quoted text (quotes removed).
    Quoted(String),
    Open,
    Close,
    OpenBracket,
    CloseBracket,
    Comma,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Word(w) => format!("'{w}'"),
            Token::Quoted(q) => format!("\"{q}\""),
            Token::Open => "'('".into(),
            Token::Close => "')'".into(),
            Token::OpenBracket => "'['".into(),
            Token::CloseBracket => "']'".into(),
            Token::Comma => "','".into(),
        }
    }

    fn is_keyword(&self, kw: &str) -> bool {
        matches!(self, Token::Word(w) if w.eq_ignore_ascii_case(kw))
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(&c) = chars.peek() {
        match c {
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' | ',' => {
                chars.next();
                tokens.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '[' => Token::OpenBracket,
                    ']' => Token::CloseBracket,
                    _ => Token::Comma,
                });
            }
            '\'' | '"' => {
                chars.next();
                tokens.push(Token::Quoted(quoted(&mut chars, c)?));
            }
            _ => {
                let mut word = String::new();
                while let Some(&c) = chars.peek() {
                    if c.is_whitespace() || "()[],'\"".contains(c) {
                        break;
                    }
                    word.push(c);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

/// Reads a quoted string after its opening quote; a doubled quote or a backslash escapes.
fn quoted(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    quote: char,
) -> Result<String, String> {
    let mut out = String::new();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.next() {
                Some(escaped) => out.push(escaped),
                None => break,
            }
        } else if c == quote {
            if chars.peek() == Some(&quote) {
                chars.next();
                out.push(quote);
            } else {
                return Ok(out);
            }
        } else {
            out.push(c);
        }
    }
    Err(format!("unterminated string starting with {quote}{out}"))
}

const KEYWORDS: &[&str] = &[
    "and", "or", "eq", "ne", "lt", "lte", "gt", "gte", "like", "in", "is", "not", "null", "between",
];

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let t = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    fn eat_keyword(&mut self, kw: &str) -> bool {
        if self.peek().is_some_and(|t| t.is_keyword(kw)) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expr(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while self.eat_keyword("or") {
            let right = self.and()?;
            left = Filter::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.primary()?;
        while self.eat_keyword("and") {
            let right = self.primary()?;
            left = Filter::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn primary(&mut self) -> Result<Filter, String> {
        if self.peek() == Some(&Token::Open) {
            self.pos += 1;
            let inner = self.expr()?;
            return match self.next() {
                Some(Token::Close) => Ok(inner),
                Some(t) => Err(format!("expected ')' but found {}", t.describe())),
                None => Err("missing ')'".into()),
            };
        }
        self.cond().map(Filter::Cond)
    }

    fn cond(&mut self) -> Result<Cond, String> {
        let field = match self.next() {
            Some(Token::Word(w)) if !is_keyword(&w) => w,
            Some(t) => return Err(format!("expected a field name but found {}", t.describe())),
            None => return Err("expected a field name at the end of the filter".into()),
        };
        let op = match self.next() {
            Some(Token::Word(w)) => w,
            Some(t) => {
                return Err(format!(
                    "expected an operator after {field} but found {}",
                    t.describe()
                ));
            }
            None => return Err(format!("expected an operator after {field}")),
        };
        let test = self.test(&field, &op)?;
        Ok(Cond { field, test })
    }

    fn test(&mut self, field: &str, op: &str) -> Result<Test, String> {
        if let Some(op) = Op::from_word(op) {
            return Ok(Test::Cmp(op, self.value()?));
        }
        match op.to_ascii_lowercase().as_str() {
            "like" => Ok(Test::Like(self.value()?)),
            "in" => Ok(Test::In(self.list()?)),
            "is" => {
                let negated = self.eat_keyword("not");
                if self.eat_keyword("null") {
                    Ok(Test::Null { negated })
                } else {
                    Err(format!("expected NULL after {field} IS"))
                }
            }
            "between" => {
                let lo = self.value()?;
                if !self.eat_keyword("and") {
                    return Err(format!("expected AND in {field} BETWEEN"));
                }
                Ok(Test::Between(lo, self.value()?))
            }
            _ => Err(format!("unknown operator '{op}' after {field}")),
        }
    }

    fn value(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Quoted(q)) => Ok(q),
            Some(Token::Word(w)) if !is_keyword(&w) || w.eq_ignore_ascii_case("null") => Ok(w),
            Some(t) => Err(format!("expected a value but found {}", t.describe())),
            None => Err("expected a value at the end of the filter".into()),
        }
    }

    fn list(&mut self) -> Result<Vec<String>, String> {
        let close = match self.next() {
            Some(Token::OpenBracket) => Token::CloseBracket,
            Some(Token::Open) => Token::Close,
            _ => return Err("expected '[' after IN".into()),
        };
        let mut items = vec![self.value()?];
        loop {
            match self.next() {
                Some(Token::Comma) => items.push(self.value()?),
                Some(t) if t == close => return Ok(items),
                Some(t) => {
                    return Err(format!(
                        "expected ',' or {} but found {}",
                        close.describe(),
                        t.describe()
                    ));
                }
                None => return Err(format!("missing {} after IN list", close.describe())),
            }
        }
    }
}

fn is_keyword(word: &str) -> bool {
    KEYWORDS.iter().any(|k| k.eq_ignore_ascii_case(word))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rec(v: Value) -> serde_json::Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn parses_eq_with_either_quote() {
        let f = parse("serial_number eq 'C02XK1ABJHD5'").unwrap();
        assert_eq!(
            f,
            Filter::Cond(Cond {
                field: "serial_number".into(),
                test: Test::Cmp(Op::Eq, "C02XK1ABJHD5".into())
            })
        );
        assert_eq!(parse("serial_number EQ \"C02XK1ABJHD5\"").unwrap(), f);
    }

    #[test]
    fn and_binds_tighter_than_or() {
        let r = rec(json!({"a": "1", "b": "2", "c": "3"}));
        assert!(
            parse("a eq '9' and b eq '9' or c eq '3'")
                .unwrap()
                .matches(&r)
        );
        assert!(
            !parse("a eq '9' and (b eq '9' or c eq '3')")
                .unwrap()
                .matches(&r)
        );
        assert!(parse("(a eq '1') AND (b ne '3')").unwrap().matches(&r));
    }

    #[test]
    fn null_tests_and_sql_null_semantics() {
        let r = rec(json!({"assigned_to": null, "name": "x"}));
        assert!(parse("assigned_to IS NULL").unwrap().matches(&r));
        assert!(!parse("assigned_to is not null").unwrap().matches(&r));
        assert!(parse("name IS NOT NULL").unwrap().matches(&r));
        assert!(!parse("assigned_to ne 'bob'").unwrap().matches(&r));
        assert!(parse("missing IS NULL").unwrap().matches(&r));
    }

    #[test]
    fn numbers_dates_like_in_between() {
        let r = rec(json!({"creation_date": 1700000100, "device_name": "WS-CAROL-MBP"}));
        assert!(parse("creation_date gt 1700000000").unwrap().matches(&r));
        assert!(
            parse("creation_date gte '2023-11-14T22:13:20Z'")
                .unwrap()
                .matches(&r)
        );
        assert!(!parse("creation_date lt 2023-11-14").unwrap().matches(&r));
        assert!(parse("device_name LIKE \"WS-%\"").unwrap().matches(&r));
        assert!(parse("device_name like 'WS-_AROL%'").unwrap().matches(&r));
        assert!(!parse("device_name like 'ws-%'").unwrap().matches(&r));
        assert!(
            parse("device_name IN [\"A\", 'WS-CAROL-MBP']")
                .unwrap()
                .matches(&r)
        );
        assert!(
            parse("creation_date BETWEEN 1 AND 1800000000 and device_name ne 'x'")
                .unwrap()
                .matches(&r)
        );
    }

    #[test]
    fn quotes_escape_and_keep_spaces() {
        let r = rec(json!({"model": "O'Brien Book 14"}));
        assert!(parse("model eq 'O''Brien Book 14'").unwrap().matches(&r));
        assert!(parse(r"model eq 'O\'Brien Book 14'").unwrap().matches(&r));
    }

    #[test]
    fn rejects_bad_syntax() {
        for bad in [
            "",
            "serial_number",
            "serial_number eq",
            "serial_number equals 'x'",
            "serial_number eq 'x",
            "(serial_number eq 'x'",
            "serial_number eq 'x' and",
            "serial_number eq 'x' 'y'",
            "eq eq 'x'",
            "a IS 'x'",
            "a in 'x'",
        ] {
            assert!(parse(bad).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn lists_fields() {
        let f = parse("(a eq '1' or b IS NULL) and c like 'x%'").unwrap();
        assert_eq!(f.fields(), vec!["a", "b", "c"]);
    }
}
