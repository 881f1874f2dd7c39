//! Block Kit validation with Slack's real limits (vendor-apis §1.9, the python slack_sdk
//! validators): what makes `chat.postMessage` answer `invalid_blocks` and `views.open` answer
//! `invalid_arguments`. Pure functions, so the rules are unit-tested without a server.
//!
//! Each violation is reported the way Slack words it in `response_metadata.messages`:
//! `[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]`.

use std::collections::HashSet;

use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Map, Value};

/// Most blocks in one message.
pub const MAX_MESSAGE_BLOCKS: usize = 50;
/// Most blocks in one modal or App Home view.
pub const MAX_VIEW_BLOCKS: usize = 100;

/// Block types Slack accepts.
const BLOCK_TYPES: &[&str] = &[
    "section",
    "header",
    "divider",
    "actions",
    "context",
    "input",
    "image",
    "rich_text",
    "markdown",
    "file",
    "video",
];

/// Interactive element types (actions elements, section accessories, input elements).
const ELEMENT_TYPES: &[&str] = &[
    "button",
    "checkboxes",
    "datepicker",
    "datetimepicker",
    "email_text_input",
    "external_select",
    "file_input",
    "multi_channels_select",
    "multi_conversations_select",
    "multi_external_select",
    "multi_static_select",
    "multi_users_select",
    "number_input",
    "overflow",
    "plain_text_input",
    "radio_buttons",
    "rich_text_input",
    "static_select",
    "channels_select",
    "conversations_select",
    "users_select",
    "timepicker",
    "url_text_input",
    "workflow_button",
];

/// Where blocks are shown: decides the block-count limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    /// A message (≤ 50 blocks).
    Message,
    /// A modal or App Home (≤ 100 blocks).
    View,
}

/// Why a set of blocks was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum BlocksError {
    /// `blocks` is not a JSON array (Slack: `invalid_blocks_format`).
    Format,
    /// Block Kit violations, each in Slack's `[ERROR] … [json-pointer:…]` wording.
    Invalid(Vec<String>),
}

impl BlocksError {
    /// Slack's error code for a message surface.
    pub fn code(&self) -> &'static str {
        match self {
            BlocksError::Format => "invalid_blocks_format",
            BlocksError::Invalid(_) => "invalid_blocks",
        }
    }

    /// The `response_metadata.messages` lines.
    pub fn messages(&self) -> Vec<String> {
        match self {
            BlocksError::Format => vec![],
            BlocksError::Invalid(m) => m.clone(),
        }
    }
}

/// Validates `blocks` for `surface`; `root` is the JSON pointer of the array in the request
/// (`/blocks` for messages, `/view/blocks` for views).
pub fn validate(blocks: &Value, surface: Surface, root: &str) -> Result<(), BlocksError> {
    let Value::Array(items) = blocks else {
        return Err(BlocksError::Format);
    };
    let mut c = Checker::default();
    let max = match surface {
        Surface::Message => MAX_MESSAGE_BLOCKS,
        Surface::View => MAX_VIEW_BLOCKS,
    };
    if items.len() > max {
        c.err(format!("no more than {max} items allowed"), root);
    }
    for (i, block) in items.iter().enumerate() {
        c.block(block, &format!("{root}/{i}"));
    }
    c.finish()
}

/// Validates a modal or home view object (`views.open`, `views.update`, `views.publish`).
/// `expected` limits the type (`Some("modal")` for `views.open`, `Some("home")` for
/// `views.publish`). Errors are reported with
/// pointers under `/view`.
pub fn validate_view(view: &Value, expected: Option<&str>) -> Result<(), Vec<String>> {
    let mut c = Checker::default();
    let Value::Object(v) = view else {
        c.err("must be an object", "/view");
        return c.finish().map_err(|e| e.messages());
    };
    let kind = v.get("type").and_then(Value::as_str).unwrap_or("");
    let allowed: Vec<&str> = match expected {
        Some(k) => vec![k],
        None => vec!["modal", "home"],
    };
    if kind.is_empty() {
        c.err("missing required field: type", "/view/type");
    } else if !allowed.contains(&kind) {
        c.err("must be a valid enum value", "/view/type");
    }
    if kind == "modal" {
        c.modal_fields(v);
    }
    c.opt_str(v, "callback_id", 255, "/view/callback_id");
    c.opt_str(v, "private_metadata", 3000, "/view/private_metadata");
    c.opt_str(v, "external_id", 255, "/view/external_id");
    match v.get("blocks") {
        None => c.err("missing required field: blocks", "/view/blocks"),
        Some(blocks) => match validate(blocks, Surface::View, "/view/blocks") {
            Ok(()) => {}
            Err(BlocksError::Format) => c.err("must be an array", "/view/blocks"),
            Err(BlocksError::Invalid(m)) => c.errors.extend(m),
        },
    }
    c.finish().map_err(|e| e.messages())
}

/// Gives every block a `block_id` and every interactive element an `action_id` when the
/// sender left them out, as Slack does when it stores a message or view.
pub fn fill_ids(blocks: &mut Value) {
    let Value::Array(items) = blocks else { return };
    for block in items.iter_mut() {
        let Value::Object(b) = block else { continue };
        if !b.contains_key("block_id") {
            b.insert("block_id".into(), Value::String(random_id(5)));
        }
        if let Some(Value::Array(elements)) = b.get_mut("elements") {
            for e in elements.iter_mut() {
                fill_action_id(e);
            }
        }
        if let Some(e) = b.get_mut("accessory") {
            fill_action_id(e);
        }
        if let Some(e) = b.get_mut("element") {
            fill_action_id(e);
        }
    }
}

fn fill_action_id(element: &mut Value) {
    let Value::Object(e) = element else { return };
    let interactive = e
        .get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| ELEMENT_TYPES.contains(&t));
    if interactive && !e.contains_key("action_id") {
        e.insert("action_id".into(), Value::String(random_id(5)));
    }
}

fn random_id(n: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(n)
        .map(char::from)
        .collect()
}

/// Collects violations while walking blocks; remembers ids to find duplicates.
#[derive(Default)]
struct Checker {
    errors: Vec<String>,
    block_ids: HashSet<String>,
    action_ids: HashSet<String>,
}

impl Checker {
    fn err(&mut self, msg: impl std::fmt::Display, ptr: &str) {
        self.errors
            .push(format!("[ERROR] {msg} [json-pointer:{ptr}]"));
    }

    fn finish(self) -> Result<(), BlocksError> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(BlocksError::Invalid(self.errors))
        }
    }

    fn max_len(&mut self, s: &str, max: usize, ptr: &str) {
        if s.chars().count() > max {
            self.err(format!("must be less than {} characters", max + 1), ptr);
        }
    }

    /// An optional string field: must be a string and at most `max` characters.
    fn opt_str<'a>(
        &mut self,
        obj: &'a Map<String, Value>,
        key: &str,
        max: usize,
        ptr: &str,
    ) -> Option<&'a str> {
        match obj.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                self.max_len(s, max, ptr);
                Some(s)
            }
            Some(_) => {
                self.err("must be a string", ptr);
                None
            }
        }
    }

    /// An optional boolean flag of a text object (`emoji`, `verbatim`).
    fn opt_bool(&mut self, t: &Map<String, Value>, key: &str, ptr: &str) {
        if t.get(key).is_some_and(|v| !v.is_boolean() && !v.is_null()) {
            self.err("must be a boolean", &format!("{ptr}/{key}"));
        }
    }

    /// A text object (`{"type":"plain_text"|"mrkdwn","text":…}`), required or optional.
    fn text(&mut self, v: Option<&Value>, ptr: &str, max: usize, plain_only: bool, required: bool) {
        let Some(v) = v.filter(|v| !v.is_null()) else {
            if required {
                let field = ptr.rsplit('/').next().unwrap_or("text");
                self.err(format!("missing required field: {field}"), ptr);
            }
            return;
        };
        let Value::Object(t) = v else {
            self.err("must be an object", ptr);
            return;
        };
        match t.get("type").and_then(Value::as_str) {
            None => self.err("missing required field: type", &format!("{ptr}/type")),
            Some("plain_text") => self.opt_bool(t, "emoji", ptr),
            // `verbatim` (mrkdwn only) turns off Slack's auto-linking of URLs, channel names
            // and mentions in the text; Slack refuses it unless it is a boolean.
            Some("mrkdwn") if !plain_only => self.opt_bool(t, "verbatim", ptr),
            Some(_) => self.err("must be a valid enum value", &format!("{ptr}/type")),
        }
        match t.get("text") {
            Some(Value::String(s)) if s.is_empty() => {
                self.err("must be more than 0 characters", &format!("{ptr}/text"));
            }
            Some(Value::String(s)) => self.max_len(s, max, &format!("{ptr}/text")),
            Some(_) => self.err("must be a string", &format!("{ptr}/text")),
            None => self.err("missing required field: text", &format!("{ptr}/text")),
        }
    }

    fn block(&mut self, block: &Value, ptr: &str) {
        let Value::Object(b) = block else {
            self.err("must be an object", ptr);
            return;
        };
        if let Some(id) = self.opt_str(b, "block_id", 255, &format!("{ptr}/block_id"))
            && !self.block_ids.insert(id.to_string())
        {
            {
                self.err(
                    format!("duplicate block_id: {id}"),
                    &format!("{ptr}/block_id"),
                );
            }
        }
        let kind = match b.get("type").and_then(Value::as_str) {
            Some(k) => k,
            None => {
                self.err("missing required field: type", &format!("{ptr}/type"));
                return;
            }
        };
        if !BLOCK_TYPES.contains(&kind) {
            self.err(format!("unsupported type: {kind}"), &format!("{ptr}/type"));
            return;
        }
        match kind {
            "section" => self.section(b, ptr),
            "header" => self.text(b.get("text"), &format!("{ptr}/text"), 150, true, true),
            "actions" => self.actions(b, ptr),
            "context" => self.context(b, ptr),
            "input" => self.input(b, ptr),
            "image" => self.image(b, ptr),
            "markdown" => self.markdown(b, ptr),
            "rich_text" => {
                self.required_array(b, "elements", ptr);
            }
            _ => {}
        }
    }

    fn section(&mut self, b: &Map<String, Value>, ptr: &str) {
        let has_text = b.get("text").is_some_and(|v| !v.is_null());
        let fields = b.get("fields").filter(|v| !v.is_null());
        if !has_text && fields.is_none() {
            self.err("must provide either text or fields", ptr);
        }
        if has_text {
            self.text(b.get("text"), &format!("{ptr}/text"), 3000, false, true);
        }
        if let Some(fields) = fields {
            self.fields(fields, &format!("{ptr}/fields"));
        }
        if let Some(acc) = b.get("accessory").filter(|v| !v.is_null()) {
            self.element(acc, &format!("{ptr}/accessory"), true);
        }
    }

    fn fields(&mut self, fields: &Value, ptr: &str) {
        let Value::Array(items) = fields else {
            self.err("must be an array", ptr);
            return;
        };
        if items.len() > 10 {
            self.err("no more than 10 items allowed", ptr);
        }
        for (i, f) in items.iter().enumerate() {
            self.text(Some(f), &format!("{ptr}/{i}"), 2000, false, true);
        }
    }

    fn required_array<'a>(
        &mut self,
        b: &'a Map<String, Value>,
        key: &str,
        ptr: &str,
    ) -> Option<&'a Vec<Value>> {
        match b.get(key) {
            Some(Value::Array(items)) => Some(items),
            Some(_) => {
                self.err("must be an array", &format!("{ptr}/{key}"));
                None
            }
            None => {
                self.err(
                    format!("missing required field: {key}"),
                    &format!("{ptr}/{key}"),
                );
                None
            }
        }
    }

    fn actions(&mut self, b: &Map<String, Value>, ptr: &str) {
        let Some(items) = self.required_array(b, "elements", ptr) else {
            return;
        };
        if items.len() > 25 {
            self.err("no more than 25 items allowed", &format!("{ptr}/elements"));
        }
        for (i, e) in items.iter().enumerate() {
            self.element(e, &format!("{ptr}/elements/{i}"), false);
        }
    }

    fn context(&mut self, b: &Map<String, Value>, ptr: &str) {
        let Some(items) = self.required_array(b, "elements", ptr) else {
            return;
        };
        if items.len() > 10 {
            self.err("no more than 10 items allowed", &format!("{ptr}/elements"));
        }
        for (i, e) in items.iter().enumerate() {
            let eptr = format!("{ptr}/elements/{i}");
            match e.get("type").and_then(Value::as_str) {
                Some("image") => self.image_element(e, &eptr),
                _ => self.text(Some(e), &eptr, 3000, false, true),
            }
        }
    }

    fn input(&mut self, b: &Map<String, Value>, ptr: &str) {
        self.text(b.get("label"), &format!("{ptr}/label"), 2000, true, true);
        self.text(b.get("hint"), &format!("{ptr}/hint"), 2000, true, false);
        match b.get("element").filter(|v| !v.is_null()) {
            Some(e) => self.element(e, &format!("{ptr}/element"), false),
            None => self.err("missing required field: element", &format!("{ptr}/element")),
        }
    }

    fn image(&mut self, b: &Map<String, Value>, ptr: &str) {
        if !b.contains_key("image_url") && !b.contains_key("slack_file") {
            self.err(
                "missing required field: image_url",
                &format!("{ptr}/image_url"),
            );
        }
        self.opt_str(b, "image_url", 3000, &format!("{ptr}/image_url"));
        self.required_string(b, "alt_text", 2000, ptr);
        self.text(b.get("title"), &format!("{ptr}/title"), 2000, true, false);
    }

    fn image_element(&mut self, e: &Value, ptr: &str) {
        let Value::Object(m) = e else { return };
        self.opt_str(m, "image_url", 3000, &format!("{ptr}/image_url"));
        self.required_string(m, "alt_text", 2000, ptr);
    }

    fn markdown(&mut self, b: &Map<String, Value>, ptr: &str) {
        self.required_string(b, "text", 12000, ptr);
    }

    fn required_string(&mut self, m: &Map<String, Value>, key: &str, max: usize, ptr: &str) {
        let fptr = format!("{ptr}/{key}");
        if m.get(key).is_none_or(Value::is_null) {
            self.err(format!("missing required field: {key}"), &fptr);
        } else {
            self.opt_str(m, key, max, &fptr);
        }
    }

    /// An interactive element; `accessory` also allows `image`.
    fn element(&mut self, e: &Value, ptr: &str, accessory: bool) {
        let Value::Object(m) = e else {
            self.err("must be an object", ptr);
            return;
        };
        let kind = m.get("type").and_then(Value::as_str).unwrap_or("");
        if accessory && kind == "image" {
            self.image_element(e, ptr);
            return;
        }
        if !ELEMENT_TYPES.contains(&kind) {
            self.err(format!("unsupported type: {kind}"), &format!("{ptr}/type"));
            return;
        }
        if let Some(id) = self.opt_str(m, "action_id", 255, &format!("{ptr}/action_id"))
            && !self.action_ids.insert(id.to_string())
        {
            {
                self.err(
                    format!("duplicate action_id: {id}"),
                    &format!("{ptr}/action_id"),
                );
            }
        }
        if let Some(confirm) = m.get("confirm").filter(|v| !v.is_null()) {
            self.confirm(confirm, &format!("{ptr}/confirm"));
        }
        self.text(
            m.get("placeholder"),
            &format!("{ptr}/placeholder"),
            150,
            true,
            false,
        );
        if kind == "button" {
            self.button(m, ptr);
        }
    }

    fn button(&mut self, m: &Map<String, Value>, ptr: &str) {
        self.text(m.get("text"), &format!("{ptr}/text"), 75, true, true);
        self.opt_str(m, "value", 2000, &format!("{ptr}/value"));
        self.opt_str(m, "url", 3000, &format!("{ptr}/url"));
        self.opt_str(
            m,
            "accessibility_label",
            75,
            &format!("{ptr}/accessibility_label"),
        );
        self.style(m, ptr);
    }

    fn style(&mut self, m: &Map<String, Value>, ptr: &str) {
        match m.get("style") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) if s == "primary" || s == "danger" => {}
            Some(_) => self.err("must be a valid enum value", &format!("{ptr}/style")),
        }
    }

    fn confirm(&mut self, c: &Value, ptr: &str) {
        let Value::Object(m) = c else {
            self.err("must be an object", ptr);
            return;
        };
        self.text(m.get("title"), &format!("{ptr}/title"), 100, true, true);
        self.text(m.get("text"), &format!("{ptr}/text"), 300, false, true);
        self.text(m.get("confirm"), &format!("{ptr}/confirm"), 30, true, true);
        self.text(m.get("deny"), &format!("{ptr}/deny"), 30, true, true);
        self.style(m, ptr);
    }

    fn modal_fields(&mut self, v: &Map<String, Value>) {
        self.text(v.get("title"), "/view/title", 24, true, true);
        self.text(v.get("submit"), "/view/submit", 24, true, false);
        self.text(v.get("close"), "/view/close", 24, true, false);
        let has_input = v
            .get("blocks")
            .and_then(Value::as_array)
            .is_some_and(|b| b.iter().any(|x| x["type"] == "input"));
        if has_input && v.get("submit").is_none_or(Value::is_null) {
            self.err(
                "submit is required when an input block is within the blocks array",
                "/view/submit",
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn msgs(blocks: Value) -> Vec<String> {
        match validate(&blocks, Surface::Message, "/blocks") {
            Ok(()) => vec![],
            Err(e) => e.messages(),
        }
    }

    fn button(action_id: &str, text: &str) -> Value {
        json!({"type":"button","action_id":action_id,"text":{"type":"plain_text","text":text},"value":"v"})
    }

    #[test]
    fn accepts_a_typical_card() {
        let blocks = json!([
            {"type":"header","text":{"type":"plain_text","text":"Case 1"}},
            {"type":"section","text":{"type":"mrkdwn","text":"*host*"},
             "fields":[{"type":"mrkdwn","text":"a"}],
             "accessory": button("case_ticket","Open")},
            {"type":"divider"},
            {"type":"actions","block_id":"b1","elements":[button("case_ack","Ack"),
              {"type":"button","action_id":"case_contain","style":"danger",
               "text":{"type":"plain_text","text":"Contain"},
               "confirm":{"title":{"type":"plain_text","text":"Sure?"},
                          "text":{"type":"mrkdwn","text":"Really"},
                          "confirm":{"type":"plain_text","text":"Yes"},
                          "deny":{"type":"plain_text","text":"No"}}}]},
            {"type":"context","elements":[{"type":"mrkdwn","text":"ctx"}]}
        ]);
        assert_eq!(msgs(blocks), Vec::<String>::new());
    }

    #[test]
    fn section_text_over_3000_points_at_the_field() {
        let long = "x".repeat(3001);
        let m = msgs(json!([{"type":"section","text":{"type":"mrkdwn","text":long}}]));
        assert_eq!(
            m,
            vec!["[ERROR] must be less than 3001 characters [json-pointer:/blocks/0/text/text]"]
        );
    }

    #[test]
    fn limits_counts_and_lengths() {
        let many: Vec<Value> = (0..51).map(|_| json!({"type":"divider"})).collect();
        assert_eq!(
            msgs(Value::Array(many.clone())),
            vec!["[ERROR] no more than 50 items allowed [json-pointer:/blocks]"]
        );
        assert!(validate(&Value::Array(many), Surface::View, "/view/blocks").is_ok());
        let header = msgs(json!([{"type":"header","text":{"type":"mrkdwn","text":"h"}}]));
        assert_eq!(
            header,
            vec!["[ERROR] must be a valid enum value [json-pointer:/blocks/0/text/type]"]
        );
        let btn = msgs(json!([{"type":"actions","elements":[button("a", &"b".repeat(76))]}]));
        assert_eq!(
            btn,
            vec![
                "[ERROR] must be less than 76 characters [json-pointer:/blocks/0/elements/0/text/text]"
            ]
        );
        let fields: Vec<Value> = (0..11)
            .map(|_| json!({"type":"mrkdwn","text":"f"}))
            .collect();
        assert_eq!(
            msgs(json!([{"type":"section","fields":fields}])),
            vec!["[ERROR] no more than 10 items allowed [json-pointer:/blocks/0/fields]"]
        );
    }

    #[test]
    fn rejects_duplicates_unknown_types_and_bad_style() {
        let dup = msgs(json!([
            {"type":"actions","block_id":"x","elements":[button("a","A")]},
            {"type":"actions","block_id":"x","elements":[button("a","B")]}
        ]));
        assert_eq!(dup.len(), 2, "{dup:?}");
        assert!(dup[0].contains("duplicate block_id"));
        assert!(dup[1].contains("duplicate action_id"));
        let unknown = msgs(json!([{"type":"carousel_x"}]));
        assert_eq!(
            unknown,
            vec!["[ERROR] unsupported type: carousel_x [json-pointer:/blocks/0/type]"]
        );
        let mut b = button("a", "A");
        b["style"] = json!("green");
        assert_eq!(
            msgs(json!([{"type":"actions","elements":[b]}])),
            vec!["[ERROR] must be a valid enum value [json-pointer:/blocks/0/elements/0/style]"]
        );
    }

    #[test]
    fn text_objects_need_type_and_text_and_section_needs_content() {
        let m = msgs(json!([{"type":"section","text":{"text":"t"}}, {"type":"section"}]));
        assert_eq!(
            m,
            vec![
                "[ERROR] missing required field: type [json-pointer:/blocks/0/text/type]",
                "[ERROR] must provide either text or fields [json-pointer:/blocks/1]",
            ]
        );
    }

    #[test]
    fn verbatim_and_emoji_are_accepted_as_booleans_only() {
        let ok = json!([{"type":"section","text":{"type":"mrkdwn","text":"a","verbatim":true}},
                        {"type":"header","text":{"type":"plain_text","text":"h","emoji":true}}]);
        assert!(msgs(ok).is_empty());
        let bad = json!([{"type":"section","text":{"type":"mrkdwn","text":"a","verbatim":"yes"}}]);
        assert_eq!(
            msgs(bad),
            vec!["[ERROR] must be a boolean [json-pointer:/blocks/0/text/verbatim]"]
        );
    }

    #[test]
    fn not_an_array_is_a_format_error() {
        let e = validate(&json!({"type":"divider"}), Surface::Message, "/blocks").unwrap_err();
        assert_eq!(e.code(), "invalid_blocks_format");
    }

    #[test]
    fn views_check_title_and_submit() {
        let view = json!({"type":"modal","title":{"type":"plain_text","text":"t".repeat(25)},
            "blocks":[{"type":"input","label":{"type":"plain_text","text":"Reason"},
                       "element":{"type":"plain_text_input","action_id":"r"}}]});
        let m = validate_view(&view, None).unwrap_err();
        assert_eq!(
            m,
            vec![
                "[ERROR] must be less than 25 characters [json-pointer:/view/title/text]",
                "[ERROR] submit is required when an input block is within the blocks array [json-pointer:/view/submit]",
            ]
        );
        let home = json!({"type":"home","blocks":[]});
        assert!(validate_view(&home, Some("home")).is_ok());
        assert!(validate_view(&json!({"type":"modal","blocks":[]}), Some("home")).is_err());
    }

    #[test]
    fn fill_ids_adds_missing_ids_only() {
        let mut blocks = json!([{"type":"actions","elements":[{"type":"button","text":{"type":"plain_text","text":"x"}}]},
                                {"type":"divider","block_id":"keep"}]);
        fill_ids(&mut blocks);
        assert!(blocks[0]["block_id"].is_string());
        assert!(blocks[0]["elements"][0]["action_id"].is_string());
        assert_eq!(blocks[1]["block_id"], "keep");
    }
}
