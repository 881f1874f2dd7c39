//! A small JSON Schema validator and value generator for the subset structured outputs use
//! (`type`, `properties`, `required`, `additionalProperties`, `enum`, `const`, `items`,
//! `minItems`/`maxItems`, `minLength`/`maxLength`, `minimum`/`maximum`,
//! `exclusiveMinimum`/`exclusiveMaximum`, `anyOf`/`oneOf`/`allOf`, local `$ref` into `$defs` or
//! `definitions`). Other keywords (`pattern`, `format`, …) are not checked.
//!
//! Why not the `jsonschema` crate: it brings a regex engine, an HTTP resolver and a few dozen
//! crates to a build shared by many; the scripted model only needs to produce and check answers
//! for the schemas Vigil writes, which stay inside this subset.
//!
//! Invariant: [`generate`] answers a value that [`validate`] accepts for every schema inside
//! the subset (the unit tests check this on the shapes Vigil uses), filling fields from the
//! caller's hints where they fit.

use serde_json::{Map, Value, json};

/// Maximum `$ref` depth followed (a self-referencing schema must not loop forever).
const MAX_DEPTH: usize = 16;

fn resolve<'a>(root: &'a Value, schema: &'a Value) -> &'a Value {
    let mut s = schema;
    for _ in 0..MAX_DEPTH {
        let Some(r) = s.get("$ref").and_then(Value::as_str) else {
            return s;
        };
        let Some(path) = r.strip_prefix("#/") else {
            return s;
        };
        let mut target = root;
        for part in path.split('/') {
            match target.get(part) {
                Some(t) => target = t,
                None => return s,
            }
        }
        if r == "#" {
            return root;
        }
        s = target;
    }
    s
}

fn types(schema: &Value) -> Vec<String> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(|t| t.as_str().map(str::to_string))
            .collect(),
        _ => vec![],
    }
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "integer" => v.as_f64().is_some_and(|f| f.fract() == 0.0),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "null" => v.is_null(),
        _ => true,
    }
}

/// Every way `value` breaks `schema` (empty = valid), each with a JSON-pointer-like path.
pub fn validate(schema: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(schema, schema, value, "$", 0, &mut errors);
    errors
}

fn check(root: &Value, schema: &Value, v: &Value, at: &str, depth: usize, errs: &mut Vec<String>) {
    if depth > MAX_DEPTH {
        return;
    }
    let s = resolve(root, schema);
    let ts = types(s);
    if !ts.is_empty() && !ts.iter().any(|t| type_ok(t, v)) {
        errs.push(format!("{at}: expected {}", ts.join(" or ")));
        return;
    }
    if let Some(c) = s.get("const")
        && c != v
    {
        errs.push(format!("{at}: expected the constant {c}"));
    }
    if let Some(options) = s.get("enum").and_then(Value::as_array)
        && !options.contains(v)
    {
        errs.push(format!(
            "{at}: {v} is not one of {}",
            Value::Array(options.clone())
        ));
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(branches) = s.get(key).and_then(Value::as_array) {
            let ok = branches.iter().filter(|b| {
                let mut e = Vec::new();
                check(root, b, v, at, depth + 1, &mut e);
                e.is_empty()
            });
            let n = ok.count();
            if n == 0 || (key == "oneOf" && n > 1) {
                errs.push(format!("{at}: does not match {key}"));
            }
        }
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        for b in all {
            check(root, b, v, at, depth + 1, errs);
        }
    }
    match v {
        Value::Object(m) => {
            let props = s.get("properties").and_then(Value::as_object);
            for r in s
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(name) = r.as_str()
                    && !m.contains_key(name)
                {
                    errs.push(format!("{at}: missing required property '{name}'"));
                }
            }
            for (k, x) in m {
                match props.and_then(|p| p.get(k)) {
                    Some(ps) => check(root, ps, x, &format!("{at}.{k}"), depth + 1, errs),
                    None => match s.get("additionalProperties") {
                        Some(Value::Bool(false)) => {
                            errs.push(format!("{at}: unexpected property '{k}'"))
                        }
                        Some(extra @ Value::Object(_)) => {
                            check(root, extra, x, &format!("{at}.{k}"), depth + 1, errs)
                        }
                        _ => {}
                    },
                }
            }
        }
        Value::Array(items) => {
            let n = items.len() as u64;
            if s.get("minItems")
                .and_then(Value::as_u64)
                .is_some_and(|min| n < min)
            {
                errs.push(format!("{at}: fewer than minItems"));
            }
            if s.get("maxItems")
                .and_then(Value::as_u64)
                .is_some_and(|max| n > max)
            {
                errs.push(format!("{at}: more than maxItems"));
            }
            if let Some(item) = s.get("items").filter(|i| i.is_object()) {
                for (i, x) in items.iter().enumerate() {
                    check(root, item, x, &format!("{at}[{i}]"), depth + 1, errs);
                }
            }
        }
        Value::String(text) => {
            let n = text.chars().count() as u64;
            if s.get("minLength")
                .and_then(Value::as_u64)
                .is_some_and(|min| n < min)
            {
                errs.push(format!("{at}: shorter than minLength"));
            }
            if s.get("maxLength")
                .and_then(Value::as_u64)
                .is_some_and(|max| n > max)
            {
                errs.push(format!("{at}: longer than maxLength"));
            }
        }
        Value::Number(num) => {
            let f = num.as_f64().unwrap_or(0.0);
            let bound = |k: &str| s.get(k).and_then(Value::as_f64);
            if bound("minimum").is_some_and(|b| f < b)
                || bound("maximum").is_some_and(|b| f > b)
                || bound("exclusiveMinimum").is_some_and(|b| f <= b)
                || bound("exclusiveMaximum").is_some_and(|b| f >= b)
            {
                errs.push(format!("{at}: {f} is out of range"));
            }
        }
        _ => {}
    }
}

/// Values to fill into generated answers, by property name.
pub type Hints = Map<String, Value>;

/// A value valid for `schema`, using `hints[property name]` wherever the hint fits.
pub fn generate(schema: &Value, hints: &Hints) -> Value {
    gen_value(schema, schema, None, hints, 0)
}

fn fits(root: &Value, schema: &Value, v: &Value) -> bool {
    let mut e = Vec::new();
    check(root, schema, v, "$", 0, &mut e);
    e.is_empty()
}

fn gen_value(
    root: &Value,
    schema: &Value,
    name: Option<&str>,
    hints: &Hints,
    depth: usize,
) -> Value {
    let s = resolve(root, schema);
    if depth > MAX_DEPTH {
        return Value::Null;
    }
    if let Some(hint) = name.and_then(|n| hints.get(n)) {
        if fits(root, s, hint) {
            return hint.clone();
        }
        if let (Some(options), Some(h)) = (s.get("enum").and_then(Value::as_array), hint.as_str()) {
            let norm = |x: &str| x.to_lowercase().replace([' ', '-'], "_");
            if let Some(o) = options
                .iter()
                .find(|o| o.as_str().is_some_and(|o| norm(o) == norm(h)))
            {
                return o.clone();
            }
        }
    }
    if let Some(c) = s.get("const") {
        return c.clone();
    }
    if let Some(first) = s
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|o| o.first())
    {
        return first.clone();
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(branches) = s.get(key).and_then(Value::as_array) {
            let pick = branches
                .iter()
                .find(|b| !types(resolve(root, b)).iter().all(|t| t == "null"))
                .or(branches.first());
            if let Some(b) = pick {
                return gen_value(root, b, name, hints, depth + 1);
            }
        }
    }
    if let Some(all) = s.get("allOf").and_then(Value::as_array) {
        let mut merged = Map::new();
        for b in all {
            if let Value::Object(m) = gen_value(root, b, name, hints, depth + 1) {
                merged.extend(m);
            }
        }
        return Value::Object(merged);
    }
    let ts = types(s);
    let t = ts
        .iter()
        .find(|t| *t != "null")
        .or(ts.first())
        .map(String::as_str)
        .unwrap_or(if s.get("properties").is_some() {
            "object"
        } else {
            "string"
        });
    match t {
        "object" => {
            let mut out = Map::new();
            if let Some(props) = s.get("properties").and_then(Value::as_object) {
                for (k, ps) in props {
                    out.insert(k.clone(), gen_value(root, ps, Some(k), hints, depth + 1));
                }
            }
            Value::Object(out)
        }
        "array" => {
            let min = s.get("minItems").and_then(Value::as_u64).unwrap_or(1);
            let max = s
                .get("maxItems")
                .and_then(Value::as_u64)
                .unwrap_or(u64::MAX);
            let n = min.max(1).min(max).min(16);
            let item = s.get("items").cloned().unwrap_or(json!({}));
            Value::Array(
                (0..n)
                    .map(|_| gen_value(root, &item, name, hints, depth + 1))
                    .collect(),
            )
        }
        "integer" => json!(number_in(s, 1.0).round() as i64),
        "number" => json!(number_in(s, 0.8)),
        "boolean" => json!(false),
        "null" => Value::Null,
        _ => {
            let mut text = match name {
                Some(n) => format!("sandbox {n}"),
                None => "sandbox".to_string(),
            };
            if let Some(max) = s.get("maxLength").and_then(Value::as_u64) {
                text = text
                    .chars()
                    .take(usize::try_from(max).unwrap_or(usize::MAX))
                    .collect();
            }
            let min = s.get("minLength").and_then(Value::as_u64).unwrap_or(0);
            while (text.chars().count() as u64) < min {
                text.push('x');
            }
            json!(text)
        }
    }
}

fn number_in(s: &Value, preferred: f64) -> f64 {
    let lo = s.get("minimum").and_then(Value::as_f64).or_else(|| {
        s.get("exclusiveMinimum")
            .and_then(Value::as_f64)
            .map(|b| b + 1.0)
    });
    let hi = s.get("maximum").and_then(Value::as_f64).or_else(|| {
        s.get("exclusiveMaximum")
            .and_then(Value::as_f64)
            .map(|b| b - 1.0)
    });
    let mut v = preferred;
    if let Some(lo) = lo {
        v = v.max(lo);
    }
    if let Some(hi) = hi {
        v = v.min(hi);
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn triage_schema() -> Value {
        json!({
            "type": "object",
            "properties": {
                "alert_type": {"type": "string", "enum": ["malware", "phishing", "suspicious_login", "c2", "data_exfiltration", "other"]},
                "severity": {"type": "string", "enum": ["low", "medium", "high", "critical"]},
                "rationale": {"type": "string", "maxLength": 200},
                "confidence": {"type": "number", "minimum": 0, "maximum": 1},
                "entities": {"type": "array", "items": {"$ref": "#/$defs/entity"}},
                "notes": {"anyOf": [{"type": "string"}, {"type": "null"}]}
            },
            "required": ["alert_type", "severity", "rationale", "confidence", "entities", "notes"],
            "additionalProperties": false,
            "$defs": {"entity": {"type": "object", "properties": {"kind": {"type": "string"}, "count": {"type": "integer", "minimum": 2}}, "required": ["kind", "count"], "additionalProperties": false}}
        })
    }

    #[test]
    fn generated_answers_validate_and_take_fitting_hints() {
        let schema = triage_schema();
        let mut hints = Hints::new();
        hints.insert("alert_type".into(), json!("Suspicious Login"));
        hints.insert("severity".into(), json!("extreme"));
        hints.insert("rationale".into(), json!("Keyword brute force"));
        let v = generate(&schema, &hints);
        assert_eq!(validate(&schema, &v), Vec::<String>::new(), "{v}");
        assert_eq!(
            v["alert_type"], "suspicious_login",
            "hint normalised onto the enum"
        );
        assert_eq!(v["severity"], "low", "a hint outside the enum is not used");
        assert_eq!(v["rationale"], "Keyword brute force");
        assert_eq!(v["entities"][0]["count"], 2);
    }

    #[test]
    fn validation_reports_each_kind_of_error() {
        let schema = triage_schema();
        let bad = json!({"alert_type": "ransomware", "severity": "low", "rationale": 3, "confidence": 2, "entities": [{"kind": "x"}], "extra": 1});
        let errors = validate(&schema, &bad);
        for want in [
            "not one of",
            "expected string",
            "out of range",
            "missing required property 'count'",
            "unexpected property 'extra'",
            "missing required property 'notes'",
        ] {
            assert!(
                errors.iter().any(|e| e.contains(want)),
                "{want} in {errors:?}"
            );
        }
    }
}
