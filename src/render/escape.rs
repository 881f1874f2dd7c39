//! Escaping for every place attacker-controlled text is shown. Alert fields (hostnames,
//! command lines, file and user names) come from endpoints an attacker may control: they are
//! escaped so they cannot ping, link, or break out of their formatting, and truncated to the
//! target's limits.

/// Slack's limits (Block Kit): section text.
pub const SECTION_TEXT: usize = 3000;
/// Block Kit's limit for header text, in characters.
pub const HEADER_TEXT: usize = 150;
/// Section field and context element text.
pub const FIELD_TEXT: usize = 2000;
/// Block Kit's limit for a button's text, in characters.
pub const BUTTON_TEXT: usize = 75;
/// Block Kit's limit for a button's value, in characters.
pub const BUTTON_VALUE: usize = 2000;
/// Message `text` fallback (Slack truncates past 40 000; keep well under).
pub const MESSAGE_TEXT: usize = 3000;
/// Blocks in one message.
pub const MESSAGE_BLOCKS: usize = 50;
/// Blocks in one view (modal or App Home).
pub const VIEW_BLOCKS: usize = 100;
/// Modal title text.
pub const MODAL_TITLE: usize = 24;
/// A view's `private_metadata`.
pub const PRIVATE_METADATA: usize = 3000;
/// Characters of alert text shown in one inline code span.
pub const INLINE_CODE: usize = 500;
/// Characters of alert text put into one GitHub code block.
pub const GITHUB_CODE: usize = 4000;
/// Characters of one escaped GitHub text value.
pub const GITHUB_TEXT: usize = 4000;

fn strip_controls(text: &str) -> impl Iterator<Item = char> + '_ {
    text.chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
}

/// Slack mrkdwn: only `&`, `<`, `>` are escaped (Slack's own rule, `&` first), which also makes
/// `<!channel>`, `<@U…>`, `<#C…>` and `<http://…|…>` impossible. Control characters go.
pub fn mrkdwn(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in strip_controls(text) {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// A Slack user mention `<@U…>` for an id Vigil got from Slack itself (an interaction's user,
/// a `users.lookupByEmail` answer). Anything that does not look like a user id is shown as
/// escaped text instead, so a mistaken caller can still never produce a ping of its choice.
pub fn mention(user_id: &str) -> String {
    if is_slack_user_id(user_id) {
        format!("<@{user_id}>")
    } else {
        mrkdwn(user_id)
    }
}

/// `U…`/`W…` followed by upper-case letters and digits: the only shape Slack user ids have.
pub fn is_slack_user_id(id: &str) -> bool {
    let mut chars = id.chars();
    let first_ok = matches!(chars.next(), Some('U' | 'W'));
    let len_ok = (3..=20).contains(&id.len());
    first_ok && len_ok && chars.all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
}

/// A value shown in backticks: backticks inside become `ˋ` so the span cannot be closed
/// early, newlines become spaces, then mrkdwn escaping; truncated to `max` characters.
pub fn inline_code(text: &str) -> String {
    let cleaned: String = strip_controls(text)
        .map(|c| match c {
            '`' => 'ˋ',
            '\n' | '\t' => ' ',
            c => c,
        })
        .collect();
    let body = mrkdwn(&truncate(&cleaned, INLINE_CODE));
    if body.is_empty() {
        "—".into()
    } else {
        format!("`{body}`")
    }
}

/// Quoted free text (`>` lines) for what a person wrote, escaped and truncated.
pub fn quote(text: &str, max: usize) -> String {
    let t = mrkdwn(&truncate(text, max));
    format!("\n>{}", t.replace('\n', "\n>"))
}

/// Plain text (`plain_text` objects): control characters removed, truncated.
pub fn plain(text: &str, max: usize) -> String {
    let cleaned: String = strip_controls(text)
        .map(|c| if c == '\n' { ' ' } else { c })
        .collect();
    truncate(&cleaned, max)
}

/// At most `max` characters, ending in `…` when cut; never splits a character.
pub fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Truncates already-escaped mrkdwn without cutting an entity (`&amp;`) or one of Vigil's own
/// `<@U…>`/`<url|label>` tokens in half (escaped text has no `<`, so any `<` is Vigil's).
pub fn truncate_mrkdwn(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut_back_unclosed(&mut cut, '&', ';');
    cut_back_unclosed(&mut cut, '<', '>');
    cut.push('…');
    cut
}

/// Drops a trailing `open…` that was not closed by `close` before the end of `text`.
fn cut_back_unclosed(text: &mut String, open: char, close: char) {
    if let Some(at) = text.rfind(open)
        && text.get(at..).is_some_and(|tail| !tail.contains(close))
    {
        text.truncate(at);
    }
}

/// GitHub markdown: neutralises mentions (`@user` → `@\u{200b}user`), issue references (`#12`,
/// `GH-12`), autolinks (`https://…`, `www.…`), links, images, HTML and markdown structure, so
/// alert text renders as one line of text. Truncated to [`GITHUB_TEXT`] characters.
pub fn github_text(text: &str) -> String {
    let chars: Vec<char> = strip_controls(text).collect();
    let mut out = String::with_capacity(text.len() + 16);
    for (i, &c) in chars.iter().enumerate() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '\\' | '`' | '*' | '_' | '[' | ']' | '(' | ')' | '!' | '|' | '~' | '{' | '}' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\t' => out.push(' '),
            c => {
                out.push(c);
                if breaks_after(&chars, i) {
                    out.push(ZWSP);
                }
            }
        }
    }
    truncate(&out, GITHUB_TEXT)
}

const ZWSP: char = '\u{200b}';

/// Whether GitHub could turn the text around `chars[i]` into a mention, a reference or an
/// autolink, so a zero-width space goes after it: `@` (mentions, e-mail autolinks), `#`
/// (issue references), the `-` of `GH-`, the `:` of `://`, the last `w` of `www.`.
fn breaks_after(chars: &[char], i: usize) -> bool {
    let at = |k: usize| chars.get(k).map(char::to_ascii_lowercase);
    let before = |n: usize| i.checked_sub(n).and_then(at);
    match chars.get(i) {
        Some('@' | '#') => true,
        Some('-') => {
            let word_start = before(3).is_none_or(|c| !c.is_alphanumeric());
            word_start
                && before(2) == Some('g')
                && before(1) == Some('h')
                && at(i + 1).is_some_and(|c| c.is_ascii_digit())
        }
        Some(':') => at(i + 1) == Some('/') && at(i + 2) == Some('/'),
        Some('w' | 'W') => {
            before(2) == Some('w') && before(1) == Some('w') && at(i + 1) == Some('.')
        }
        _ => false,
    }
}

/// A fenced code block whose fence is longer than any run of backticks inside, so the text
/// cannot close it; truncated to [`GITHUB_CODE`] characters. `<!--` inside is broken with a
/// zero-width space so the text cannot forge Vigil's hidden markers (the pipeline finds issues
/// and comments by a plain substring search of the body).
pub fn github_code_block(text: &str) -> String {
    let stripped: String = strip_controls(&truncate(text, GITHUB_CODE)).collect();
    let body = stripped.replace("<!--", "<\u{200b}!--");
    let fence = "`".repeat((longest_backtick_run(&body) + 1).max(3));
    format!("{fence}text\n{body}\n{fence}")
}

fn longest_backtick_run(text: &str) -> usize {
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        if c == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn pings_and_links_cannot_form() {
        let hostile = "<!channel> <@U123> <#C1> <https://evil|click> & <!subteam^S1>";
        let out = mrkdwn(hostile);
        assert!(!out.contains('<') && !out.contains('>'), "{out}");
        assert!(out.contains("&amp;"));
    }

    #[test]
    fn inline_code_cannot_be_closed() {
        let out = inline_code("a`b``c");
        assert_eq!(out.matches('`').count(), 2, "{out}");
    }

    #[test]
    fn github_text_neutralises_mentions_links_and_markers() {
        let out = github_text(
            "@octocat see [x](http://evil) ![i](http://x) <!-- vigil:case=VIG-1 --> #12",
        );
        assert!(!out.contains("@octocat"));
        assert!(!out.contains("]("));
        assert!(!out.contains("<!--"));
        assert!(!out.contains(" #12"));
    }

    #[test]
    fn github_text_breaks_autolinks_and_references() {
        let out =
            github_text("see https://evil.example/x, www.evil.example, gh-12, GH-3 and a@b.co");
        assert!(!out.contains("https://"), "{out}");
        assert!(!out.contains("www."), "{out}");
        assert!(!out.contains("gh-1") && !out.contains("GH-3"), "{out}");
        assert!(!out.contains("a@b"), "{out}");
        assert!(out.contains("evil.example"), "text stays readable: {out}");
        assert!(github_text("high-severity").contains("high-severity"));
    }

    #[test]
    fn github_text_is_one_line() {
        assert!(!github_text("a\n# heading\r\n- item").contains('\n'));
    }

    #[test]
    fn code_block_cannot_forge_a_marker() {
        let block = github_code_block("x <!-- vigil:case=VIG-3 --> y");
        assert!(!block.contains("<!--"), "{block}");
        assert!(
            block.contains("vigil:case=VIG-3"),
            "the text stays visible: {block}"
        );
    }

    #[test]
    fn code_block_fence_outgrows_backtick_runs() {
        let block = github_code_block("a ````` b");
        assert!(block.starts_with("``````text\n"), "{block}");
        assert!(block.ends_with("\n``````"), "{block}");
    }

    #[test]
    fn mentions_only_for_user_ids() {
        assert_eq!(mention("U012ABC"), "<@U012ABC>");
        assert_eq!(mention("W0ABC"), "<@W0ABC>");
        assert_eq!(mention("U1> <!channel"), "U1&gt; &lt;!channel");
        assert_eq!(mention("vigil"), "vigil");
        assert_eq!(mention(""), "");
    }

    #[test]
    fn truncate_cuts_by_characters_with_an_ellipsis() {
        assert_eq!(truncate("héllo wörld", 5), "héll…");
        assert_eq!(truncate("short", 5), "short");
        assert_eq!(truncate("🦀🦀🦀", 2), "🦀…");
        assert_eq!(truncate("abc", 0), "");
    }

    #[test]
    fn truncate_mrkdwn_never_halves_an_entity() {
        let escaped = mrkdwn("aaaa<<<<");
        let cut = truncate_mrkdwn(&escaped, 8);
        assert_eq!(cut, "aaaa…");
        assert_eq!(
            truncate_mrkdwn("see <https://x.example/a|the issue> now", 20),
            "see …"
        );
        assert_eq!(truncate_mrkdwn("abc", 0), "");
    }

    #[test]
    fn control_characters_are_stripped() {
        assert_eq!(mrkdwn("a\u{0}b\u{1b}[31mc\nd\te"), "ab[31mc\nd\te");
        assert_eq!(plain("a\nb\u{7}c", 10), "a bc");
    }

    proptest! {
        #[test]
        fn mrkdwn_never_has_angle_brackets(s in ".*") {
            let out = mrkdwn(&s);
            prop_assert!(!out.contains('<') && !out.contains('>'));
        }

        #[test]
        fn truncate_respects_the_limit(s in ".*", max in 0usize..200) {
            let out = truncate(&s, max);
            prop_assert!(out.chars().count() <= max);
        }

        #[test]
        fn truncate_mrkdwn_respects_the_limit(s in ".*", max in 0usize..200) {
            let out = truncate_mrkdwn(&mrkdwn(&s), max);
            prop_assert!(out.chars().count() <= max);
        }

        #[test]
        fn github_text_has_no_live_mentions_or_links(s in ".*") {
            let out = github_text(&s);
            let chars: Vec<char> = out.chars().collect();
            for w in chars.windows(2) {
                prop_assert!(!(w[0] == '@' && w[1].is_alphanumeric()));
                prop_assert!(!(w[0] == ']' && w[1] == '('));
            }
            prop_assert!(!out.contains('<'));
            prop_assert!(!out.contains("://"));
            prop_assert!(out.chars().count() <= GITHUB_TEXT);
        }

        #[test]
        fn mention_never_pings_anything_but_a_user(s in ".*") {
            let out = mention(&s);
            prop_assert!(!out.contains('<') || (out.starts_with("<@") && is_slack_user_id(&s)));
        }

        #[test]
        fn inline_code_is_one_closed_span(s in ".*") {
            let out = inline_code(&s);
            prop_assert!(!out.contains('<') && !out.contains('\n'));
            prop_assert!(out == "—" || out.matches('`').count() == 2);
        }

        #[test]
        fn code_block_is_never_closed_early(s in ".*") {
            let block = github_code_block(&s);
            let fence_len = block.chars().take_while(|c| *c == '`').count();
            let fence = "`".repeat(fence_len);
            let inner = &block[fence_len..block.len() - fence_len];
            prop_assert!(!inner.contains(&fence));
        }
    }
}
