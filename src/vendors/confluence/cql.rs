//! The CQL Vigil sends to find an SOP. Invariant: whatever text reaches a query (an alert
//! name, a type from a classifier that read attacker-written alert text) stays one quoted
//! value: quotes and backslashes are escaped, control characters dropped, and free text for
//! `text ~` is reduced to plain words so it cannot carry CQL or Lucene operators either.

/// Longest free text put in a `text ~` clause, in characters.
const MAX_TEXT: usize = 200;

/// A CQL string literal holding `value` exactly (control characters dropped).
pub fn quote(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    out.push('"');
    for c in value.chars().filter(|c| !c.is_control()) {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// Free text reduced to words (letters, digits; everything else a space), at most
/// `MAX_TEXT` (200) characters; `None` when nothing searchable is left.
pub fn words(text: &str) -> Option<String> {
    let cleaned: String = text
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { ' ' })
        .collect();
    let mut out = String::new();
    for w in cleaned.split_whitespace() {
        if out.len() + w.len() + 1 > MAX_TEXT {
            break;
        }
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(w);
    }
    (!out.is_empty()).then_some(out)
}

/// Every page of a space (what `vigil doctor` searches to prove access).
pub fn in_space(space: &str) -> String {
    format!("type = page AND space = {}", quote(space))
}

/// The pages of a space with a label, oldest title first so the answer is stable:
/// `type = page AND space = "SEC" AND label = "sop-phishing" ORDER BY title`.
pub fn by_label(space: &str, label: &str) -> String {
    format!(
        "{} AND label = {} ORDER BY title",
        in_space(space),
        quote(label)
    )
}

/// The fallback when no page has the label: pages of the space with `label` whose text has
/// every word of `text`. `None` when `text` has no words.
pub fn by_text(space: &str, label: &str, text: &str) -> Option<String> {
    let words = words(text)?;
    Some(format!(
        "{} AND label = {} AND text ~ {} ORDER BY title",
        in_space(space),
        quote(label),
        quote(&words)
    ))
}
