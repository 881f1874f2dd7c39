//! The storm digest (SPEC §5 "Storms"): one alerts-channel message listing the cases of a burst
//! that were folded instead of getting their own cards. Invariant: every alert value is escaped
//! (`escape::mrkdwn`) and sent in `verbatim` mrkdwn, and the message stays inside Block Kit's
//! limits (at most [`MAX_ENTRIES`] + 2 blocks, each section under 3,000 characters), so a full
//! digest is the caller's cue to start the next one.

use slack_morphism::prelude::*;

use super::escape::{self, SECTION_TEXT};

/// Cases one digest message lists (one section each, plus a header and a context line: Slack
/// allows 50 blocks).
pub const MAX_ENTRIES: usize = 45;
/// Characters of an alert name shown per line.
const NAME_CHARS: usize = 120;

/// One folded case, as the digest shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DigestLine {
    /// Case id, e.g. `VIG-12`.
    pub case_id: String,
    /// `high` or `low`.
    pub priority: String,
    /// The alert's name (raw; escaped here).
    pub name: String,
}

fn verbatim_section(text: &str) -> SlackBlock {
    SlackSectionBlock::new()
        .with_text(
            SlackBlockMarkDownText::new(escape::truncate_mrkdwn(text, SECTION_TEXT))
                .with_verbatim(true)
                .into(),
        )
        .into()
}

/// The digest's fallback text and blocks for `lines` (only the first [`MAX_ENTRIES`] are
/// shown; callers never pass more).
pub fn digest(lines: &[DigestLine]) -> (String, Vec<SlackBlock>) {
    let n = lines.len().min(MAX_ENTRIES);
    let text = format!(
        "Alert storm: {n} case{} listed here instead of getting their own cards",
        if n == 1 { "" } else { "s" }
    );
    let mut blocks = vec![verbatim_section(&format!(":rotating_light: *{text}*"))];
    for line in lines.iter().take(MAX_ENTRIES) {
        blocks.push(verbatim_section(&format!(
            "*{}* · {} · {}",
            escape::mrkdwn(&line.case_id),
            escape::mrkdwn(&line.priority),
            escape::mrkdwn(&escape::truncate(&line.name, NAME_CHARS)),
        )));
    }
    blocks.push(
        SlackContextBlock::new(vec![SlackContextBlockElement::MarkDown(
            SlackBlockMarkDownText::new(
                "Each case works as usual: the owner is asked in a DM, updates go in this \
                 thread, and `/triage ack|resolve VIG-n` acts on it."
                    .into(),
            )
            .with_verbatim(true),
        )])
        .into(),
    );
    (text, blocks)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_digest_fits_block_kit_and_escapes_names() {
        let lines: Vec<DigestLine> = (0..MAX_ENTRIES + 5)
            .map(|i| DigestLine {
                case_id: format!("VIG-{i}"),
                priority: "low".into(),
                name: format!("<!channel> & {}", "x".repeat(5000)),
            })
            .collect();
        let (text, blocks) = digest(&lines);
        assert!(blocks.len() <= 50, "{} blocks", blocks.len());
        assert!(text.contains(&MAX_ENTRIES.to_string()));
        let json = serde_json::to_string(&blocks).expect("json");
        assert!(!json.contains("<!channel>"), "names are escaped");
        assert!(json.contains("&lt;!channel&gt; &amp;"));
        for b in serde_json::to_value(&blocks)
            .expect("json")
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(t) = b.pointer("/text/text").and_then(|t| t.as_str()) {
                assert!(t.chars().count() <= 3000);
                assert_eq!(b.pointer("/text/verbatim"), Some(&serde_json::json!(true)));
            }
        }
    }
}
