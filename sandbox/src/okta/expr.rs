//! Okta's `filter` and `search` expression language for `GET /api/v1/users` (the SCIM-like
//! subset Okta documents): `attr op "value"` clauses joined by `and` / `or`, parentheses, and
//! the operators `eq`, `ne`, `sw`, `co`, `gt`, `ge`, `lt`, `le` and `pr` (present). Attributes
//! are `id`, `status`, `created`, `lastUpdated`, `statusChanged`, `activated`,
//! `type.id` and `profile.<name>`. Invariant: an expression parses completely or is refused
//! with a message (Okta's 400 `E0000031` "Invalid search criteria").

use serde_json::Value;

/// A parsed expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// Both hold.
    And(Box<Expr>, Box<Expr>),
    /// Either holds.
    Or(Box<Expr>, Box<Expr>),
    /// `attr op value` (value empty for `pr`).
    Cmp(String, Op, String),
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// equal (case-insensitive for strings, as Okta compares logins).
    Eq,
    /// `ne`: not equal, case-insensitive; a missing attribute counts as not equal.
    Ne,
    /// `sw`: starts with, case-insensitive (`profile.login sw "al"`).
    Sw,
    /// `co`: contains, case-insensitive.
    Co,
    /// `gt`: compared as text, so ISO 8601 times order correctly.
    Gt,
    /// `ge`: as `gt`, or equal.
    Ge,
    /// `lt`: compared as text.
    Lt,
    /// `le`: as `lt`, or equal.
    Le,
    /// attribute present and not null.
    Pr,
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
}

fn tokenize(s: &str) -> Result<Vec<Tok>, String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Tok::Open);
                i += 1;
            }
            ')' => {
                out.push(Tok::Close);
                i += 1;
            }
            '"' => {
                let mut v = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated string".into()),
                        Some('\\') => {
                            if let Some(n) = chars.get(i + 1) {
                                v.push(*n);
                            }
                            i += 2;
                        }
                        Some('"') => {
                            i += 1;
                            break;
                        }
                        Some(c) => {
                            v.push(*c);
                            i += 1;
                        }
                    }
                }
                out.push(Tok::Str(v));
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !matches!(chars[i], '(' | ')' | '"')
                {
                    i += 1;
                }
                out.push(Tok::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(out)
}

struct P {
    toks: Vec<Tok>,
    pos: usize,
}

impl P {
    fn kw(&self, k: &str) -> bool {
        matches!(self.toks.get(self.pos), Some(Tok::Word(w)) if w.eq_ignore_ascii_case(k))
    }

    fn or(&mut self) -> Result<Expr, String> {
        let mut l = self.and()?;
        while self.kw("or") {
            self.pos += 1;
            l = Expr::Or(Box::new(l), Box::new(self.and()?));
        }
        Ok(l)
    }

    fn and(&mut self) -> Result<Expr, String> {
        let mut l = self.atom()?;
        while self.kw("and") {
            self.pos += 1;
            l = Expr::And(Box::new(l), Box::new(self.atom()?));
        }
        Ok(l)
    }

    fn atom(&mut self) -> Result<Expr, String> {
        match self.toks.get(self.pos).cloned() {
            Some(Tok::Open) => {
                self.pos += 1;
                let e = self.or()?;
                if self.toks.get(self.pos) != Some(&Tok::Close) {
                    return Err("expected ')'".into());
                }
                self.pos += 1;
                Ok(e)
            }
            Some(Tok::Word(attr)) => {
                self.pos += 1;
                if !known_attr(&attr) {
                    return Err(format!("unknown attribute '{attr}'"));
                }
                let op = match self.toks.get(self.pos) {
                    Some(Tok::Word(o)) => o.to_ascii_lowercase(),
                    _ => return Err(format!("expected an operator after '{attr}'")),
                };
                self.pos += 1;
                let op = match op.as_str() {
                    "eq" => Op::Eq,
                    "ne" => Op::Ne,
                    "sw" => Op::Sw,
                    "co" => Op::Co,
                    "gt" => Op::Gt,
                    "ge" => Op::Ge,
                    "lt" => Op::Lt,
                    "le" => Op::Le,
                    "pr" => return Ok(Expr::Cmp(attr, Op::Pr, String::new())),
                    other => return Err(format!("unknown operator '{other}'")),
                };
                let value = match self.toks.get(self.pos).cloned() {
                    Some(Tok::Str(v)) => v,
                    Some(Tok::Word(w))
                        if w == "true" || w == "false" || w.parse::<f64>().is_ok() =>
                    {
                        w
                    }
                    _ => return Err(format!("expected a quoted value after '{attr}'")),
                };
                self.pos += 1;
                Ok(Expr::Cmp(attr, op, value))
            }
            _ => Err("expected an attribute".into()),
        }
    }
}

fn known_attr(a: &str) -> bool {
    matches!(
        a,
        "id" | "status"
            | "created"
            | "lastUpdated"
            | "statusChanged"
            | "activated"
            | "lastLogin"
            | "passwordChanged"
            | "type.id"
    ) || a.strip_prefix("profile.").is_some_and(|n| !n.is_empty())
}

/// Parses a `filter` or `search` expression.
pub fn parse(s: &str) -> Result<Expr, String> {
    let toks = tokenize(s)?;
    if toks.is_empty() {
        return Err("empty expression".into());
    }
    let mut p = P { toks, pos: 0 };
    let e = p.or()?;
    if p.pos != p.toks.len() {
        return Err("unexpected text after the expression".into());
    }
    Ok(e)
}

fn lookup<'a>(user: &'a Value, attr: &str) -> Option<&'a Value> {
    let mut v = user;
    for part in attr.split('.') {
        v = v.get(part)?;
    }
    (!v.is_null()).then_some(v)
}

impl Expr {
    /// Whether a user object (Okta's JSON shape) meets the expression.
    pub fn matches(&self, user: &Value) -> bool {
        match self {
            Expr::And(a, b) => a.matches(user) && b.matches(user),
            Expr::Or(a, b) => a.matches(user) || b.matches(user),
            Expr::Cmp(attr, op, want) => {
                let Some(have) = lookup(user, attr) else {
                    return *op == Op::Ne;
                };
                let have = match have {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                let (h, w) = (have.to_lowercase(), want.to_lowercase());
                match op {
                    Op::Eq => h == w,
                    Op::Ne => h != w,
                    Op::Sw => h.starts_with(&w),
                    Op::Co => h.contains(&w),
                    Op::Gt => have.as_str() > want.as_str(),
                    Op::Ge => have.as_str() >= want.as_str(),
                    Op::Lt => have.as_str() < want.as_str(),
                    Op::Le => have.as_str() <= want.as_str(),
                    Op::Pr => true,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn filters_by_login_status_and_prefix() {
        let u = json!({"id": "00u1", "status": "ACTIVE", "profile": {"login": "Carol.Diaz@acme.example", "department": null}});
        assert!(
            parse(r#"profile.login eq "carol.diaz@acme.example""#)
                .unwrap()
                .matches(&u)
        );
        assert!(
            parse(r#"status eq "ACTIVE" and (profile.login sw "carol" or id eq "x")"#)
                .unwrap()
                .matches(&u)
        );
        assert!(!parse(r#"status eq "SUSPENDED""#).unwrap().matches(&u));
        assert!(!parse("profile.department pr").unwrap().matches(&u));
        for bad in [
            "",
            "status eq",
            r#"status is "ACTIVE""#,
            r#"nope eq "x""#,
            r#"(status eq "A""#,
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
