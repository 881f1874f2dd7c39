//! The subset of CQL (Confluence Query Language) the sandbox understands, parsed into a tree
//! and matched against pages. Invariant: a query either parses completely or is refused with a
//! message naming what was wrong (Confluence answers 400 "Could not parse cql"); nothing is
//! silently ignored, so a typo in Vigil's query fails a test instead of matching everything.
//!
//! Grammar (keywords case-insensitive):
//! ```text
//! query   := expr [ORDER BY field [ASC|DESC] {, field [ASC|DESC]}]
//! expr    := term {OR term}
//! term    := factor {AND factor}
//! factor  := NOT factor | '(' expr ')' | clause
//! clause  := field op value | field [NOT] IN '(' value {, value} ')'
//! op      := = | != | ~ | !~
//! field   := type | space | space.key | label | title | text | id | content
//! value   := "quoted" | 'quoted' | bare-word
//! ```
//! `~` is Confluence's text match: every word of the value (case-insensitive, `*` wildcards
//! dropped) must occur in the field; `text` covers the title, the body's text and the labels.
//! Sortable fields: `title`, `created`, `lastmodified`, `id`.

/// A CQL query that parsed completely: the filter and its sort keys.
#[derive(Debug, Clone, PartialEq)]
pub struct Query {
    /// The condition every result meets.
    pub expr: Expr,
    /// `ORDER BY` keys, most significant first; the flag is `true` for `ASC` (the default).
    pub order: Vec<(SortField, bool)>,
}

/// A condition tree; `AND` binds tighter than `OR`, as in Confluence.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    /// `a AND b`.
    And(Box<Expr>, Box<Expr>),
    /// `a OR b`.
    Or(Box<Expr>, Box<Expr>),
    /// `NOT a`.
    Not(Box<Expr>),
    /// `field op value`, or `field [NOT] IN (…)` with every listed value (one for `op`).
    Clause(Field, Op, Vec<String>),
}

/// Fields a clause may test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// `type`: `page` for every sandbox page.
    Type,
    /// `space` / `space.key`: the space key, case-insensitive.
    Space,
    /// `label`: `=` holds when any of the page's labels equals the value (case-insensitive).
    Label,
    /// `title`: `=` is a case-insensitive whole-title match, `~` a word match.
    Title,
    /// `text`: title, body text and labels.
    Text,
    /// `id` / `content`: the numeric page id, compared exactly.
    Id,
}

/// Clause operators; `IN` lists are folded into `Eq` and `NotEq` with several values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `=` or `IN`: any value matches.
    Eq,
    /// `!=` or `NOT IN`: no value matches.
    NotEq,
    /// `~`: every word of the value occurs in the field (text match).
    Contains,
    /// `!~`: the text match fails.
    NotContains,
}

/// Fields `ORDER BY` accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortField {
    /// `title`: the current title, by text.
    Title,
    /// `created`: the first version's time.
    Created,
    /// `lastmodified`: the current version's time.
    LastModified,
    /// `id` / `content`: the numeric page id.
    Id,
}

/// What a page offers to a query.
pub trait Subject {
    /// Space key the page is in (what `space =` compares).
    fn space(&self) -> &str;
    /// Current title (what `title` clauses and `ORDER BY title` read).
    fn title(&self) -> &str;
    /// Current labels (what `label =` tests; also part of `text`).
    fn labels(&self) -> &[String];
    /// Body as plain text (markup removed).
    fn text(&self) -> String;
    /// Numeric page id as text (what `id =` compares).
    fn id(&self) -> &str;
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Op(&'static str),
    Open,
    Close,
    Comma,
}

fn tokenize(input: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = input.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                out.push(Token::Open);
                i += 1;
            }
            ')' => {
                out.push(Token::Close);
                i += 1;
            }
            ',' => {
                out.push(Token::Comma);
                i += 1;
            }
            '=' => {
                out.push(Token::Op("="));
                i += 1;
            }
            '~' => {
                out.push(Token::Op("~"));
                i += 1;
            }
            '!' => match chars.get(i + 1) {
                Some('=') => {
                    out.push(Token::Op("!="));
                    i += 2;
                }
                Some('~') => {
                    out.push(Token::Op("!~"));
                    i += 2;
                }
                _ => return Err(format!("unexpected '!' at position {i}")),
            },
            '"' | '\'' => {
                let quote = c;
                let mut value = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated string".into()),
                        Some('\\') => {
                            if let Some(n) = chars.get(i + 1) {
                                value.push(*n);
                            }
                            i += 2;
                        }
                        Some(&ch) if ch == quote => {
                            i += 1;
                            break;
                        }
                        Some(&ch) => {
                            value.push(ch);
                            i += 1;
                        }
                    }
                }
                out.push(Token::Quoted(value));
            }
            _ => {
                let start = i;
                while i < chars.len()
                    && !chars[i].is_whitespace()
                    && !matches!(chars[i], '(' | ')' | ',' | '=' | '~' | '!' | '"' | '\'')
                {
                    i += 1;
                }
                if start == i {
                    return Err(format!("unexpected '{c}' at position {i}"));
                }
                out.push(Token::Word(chars[start..i].iter().collect()));
            }
        }
    }
    Ok(out)
}

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

    fn keyword(&self, kw: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(kw))
    }

    fn expr(&mut self) -> Result<Expr, String> {
        let mut left = self.term()?;
        while self.keyword("or") {
            self.pos += 1;
            let right = self.term()?;
            left = Expr::Or(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn term(&mut self) -> Result<Expr, String> {
        let mut left = self.factor()?;
        while self.keyword("and") {
            self.pos += 1;
            let right = self.factor()?;
            left = Expr::And(Box::new(left), Box::new(right));
        }
        Ok(left)
    }

    fn factor(&mut self) -> Result<Expr, String> {
        if self.keyword("not") {
            self.pos += 1;
            return Ok(Expr::Not(Box::new(self.factor()?)));
        }
        if self.peek() == Some(&Token::Open) {
            self.pos += 1;
            let inner = self.expr()?;
            if self.next() != Some(Token::Close) {
                return Err("expected ')'".into());
            }
            return Ok(inner);
        }
        self.clause()
    }

    fn clause(&mut self) -> Result<Expr, String> {
        let name = match self.next() {
            Some(Token::Word(w)) => w,
            Some(t) => return Err(format!("expected a field name, found {t:?}")),
            None => return Err("expected a field name, found the end of the query".into()),
        };
        let field = field(&name)?;
        if self.keyword("in") || self.keyword("not") {
            let negated = self.keyword("not");
            self.pos += 1;
            if negated {
                if !self.keyword("in") {
                    return Err(format!("expected IN after NOT for field '{name}'"));
                }
                self.pos += 1;
            }
            let values = self.list()?;
            let op = if negated { Op::NotEq } else { Op::Eq };
            return Ok(Expr::Clause(field, op, values));
        }
        let op = match self.next() {
            Some(Token::Op("=")) => Op::Eq,
            Some(Token::Op("!=")) => Op::NotEq,
            Some(Token::Op("~")) => Op::Contains,
            Some(Token::Op("!~")) => Op::NotContains,
            _ => return Err(format!("expected an operator after '{name}'")),
        };
        if matches!(op, Op::Contains | Op::NotContains)
            && !matches!(field, Field::Title | Field::Text)
        {
            return Err(format!(
                "the ~ operator is not supported for field '{name}'"
            ));
        }
        let value = self.value()?;
        Ok(Expr::Clause(field, op, vec![value]))
    }

    fn value(&mut self) -> Result<String, String> {
        match self.next() {
            Some(Token::Quoted(v)) => Ok(v),
            Some(Token::Word(w)) if !is_reserved(&w) => Ok(w),
            _ => Err("expected a value".into()),
        }
    }

    fn list(&mut self) -> Result<Vec<String>, String> {
        if self.next() != Some(Token::Open) {
            return Err("expected '(' after IN".into());
        }
        let mut values = vec![self.value()?];
        loop {
            match self.next() {
                Some(Token::Comma) => values.push(self.value()?),
                Some(Token::Close) => return Ok(values),
                _ => return Err("expected ',' or ')' in an IN list".into()),
            }
        }
    }

    fn order(&mut self) -> Result<Vec<(SortField, bool)>, String> {
        if !self.keyword("order") {
            return Ok(vec![]);
        }
        self.pos += 1;
        if !self.keyword("by") {
            return Err("expected BY after ORDER".into());
        }
        self.pos += 1;
        let mut keys = Vec::new();
        loop {
            let name = match self.next() {
                Some(Token::Word(w)) => w,
                _ => return Err("expected a field to order by".into()),
            };
            let field = match name.to_ascii_lowercase().as_str() {
                "title" => SortField::Title,
                "created" => SortField::Created,
                "lastmodified" => SortField::LastModified,
                "id" | "content" => SortField::Id,
                _ => return Err(format!("cannot order by '{name}'")),
            };
            let mut ascending = true;
            if self.keyword("asc") {
                self.pos += 1;
            } else if self.keyword("desc") {
                self.pos += 1;
                ascending = false;
            }
            keys.push((field, ascending));
            if self.peek() == Some(&Token::Comma) {
                self.pos += 1;
                continue;
            }
            return Ok(keys);
        }
    }
}

fn is_reserved(w: &str) -> bool {
    ["and", "or", "not", "in", "order", "by"]
        .iter()
        .any(|k| w.eq_ignore_ascii_case(k))
}

fn field(name: &str) -> Result<Field, String> {
    match name.to_ascii_lowercase().as_str() {
        "type" => Ok(Field::Type),
        "space" | "space.key" => Ok(Field::Space),
        "label" => Ok(Field::Label),
        "title" => Ok(Field::Title),
        "text" => Ok(Field::Text),
        "id" | "content" | "content.id" => Ok(Field::Id),
        _ => Err(format!("unsupported field '{name}'")),
    }
}

/// Parses a CQL string.
pub fn parse(input: &str) -> Result<Query, String> {
    let tokens = tokenize(input)?;
    if tokens.is_empty() {
        return Err("the query is empty".into());
    }
    let mut p = Parser { tokens, pos: 0 };
    let expr = if p.keyword("order") {
        return Err("a query needs a condition before ORDER BY".into());
    } else {
        p.expr()?
    };
    let order = p.order()?;
    if let Some(t) = p.peek() {
        return Err(format!("unexpected {t:?} after the query"));
    }
    Ok(Query { expr, order })
}

/// Lower-cased words of `s`, `*` wildcards dropped.
fn words(s: &str) -> Vec<String> {
    s.split(|c: char| !c.is_alphanumeric() && c != '-' && c != '_')
        .map(|w| w.trim_matches('*').to_lowercase())
        .filter(|w| !w.is_empty())
        .collect()
}

fn contains_all(haystack: &str, needle: &str) -> bool {
    let have = words(haystack);
    let want = words(needle);
    !want.is_empty() && want.iter().all(|w| have.iter().any(|h| h.starts_with(w)))
}

impl Expr {
    /// Whether `page` meets this condition.
    pub fn matches(&self, page: &dyn Subject) -> bool {
        match self {
            Expr::And(a, b) => a.matches(page) && b.matches(page),
            Expr::Or(a, b) => a.matches(page) || b.matches(page),
            Expr::Not(a) => !a.matches(page),
            Expr::Clause(field, op, values) => clause(page, *field, *op, values),
        }
    }
}

fn clause(page: &dyn Subject, field: Field, op: Op, values: &[String]) -> bool {
    let eq = |v: &String| match field {
        Field::Type => v.eq_ignore_ascii_case("page"),
        Field::Space => v.eq_ignore_ascii_case(page.space()),
        Field::Label => page.labels().iter().any(|l| l.eq_ignore_ascii_case(v)),
        Field::Title => v.eq_ignore_ascii_case(page.title()),
        Field::Text => contains_all(&full_text(page), v),
        Field::Id => v == page.id(),
    };
    let contains = |v: &String| match field {
        Field::Title => contains_all(page.title(), v),
        _ => contains_all(&full_text(page), v),
    };
    match op {
        Op::Eq => values.iter().any(eq),
        Op::NotEq => !values.iter().any(eq),
        Op::Contains => values.iter().any(contains),
        Op::NotContains => !values.iter().any(contains),
    }
}

fn full_text(page: &dyn Subject) -> String {
    format!(
        "{} {} {}",
        page.title(),
        page.text(),
        page.labels().join(" ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    struct P(&'static str, &'static str, Vec<String>, &'static str);
    impl Subject for P {
        fn space(&self) -> &str {
            self.0
        }
        fn title(&self) -> &str {
            self.1
        }
        fn labels(&self) -> &[String] {
            &self.2
        }
        fn text(&self) -> String {
            self.3.into()
        }
        fn id(&self) -> &str {
            "42"
        }
    }

    fn page() -> P {
        P(
            "SEC",
            "SOP: Phishing response",
            vec!["sop".into(), "sop-phishing".into()],
            "Check the sender with EmailRep, then scan every URL.",
        )
    }

    #[test]
    fn the_query_vigil_sends_matches() {
        let q = parse(r#"type = page AND space = "SEC" AND label = "sop-phishing" ORDER BY title"#)
            .unwrap();
        assert!(q.expr.matches(&page()));
        assert_eq!(q.order, vec![(SortField::Title, true)]);
        let other = parse(r#"type = page and space = SEC and label = "sop-malware""#).unwrap();
        assert!(!other.expr.matches(&page()));
    }

    #[test]
    fn text_and_title_match_words() {
        let p = page();
        assert!(parse(r#"title ~ "phishing""#).unwrap().expr.matches(&p));
        assert!(
            parse(r#"text ~ "emailrep sender""#)
                .unwrap()
                .expr
                .matches(&p)
        );
        assert!(!parse(r#"title ~ "emailrep""#).unwrap().expr.matches(&p));
        assert!(
            parse(r#"label in ("x", "sop") and not title ~ malware"#)
                .unwrap()
                .expr
                .matches(&p)
        );
        assert!(
            parse(r#"(label = x OR label = sop) AND space.key != OPS"#)
                .unwrap()
                .expr
                .matches(&p)
        );
    }

    #[test]
    fn malformed_queries_are_refused() {
        for bad in [
            "",
            "space = ",
            r#"title ~ "open"#,
            "creator = me",
            "label ~ sop",
            "space = SEC ORDER title",
            "space = SEC AND",
            "(space = SEC",
            "space = SEC order by author",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} should not parse");
        }
    }
}
