//! Text made safe for `client-markdown`: Chatbot hands it to Slack, Teams or
//! Chime as their markdown. `<`, `>` and `&` are escaped (Slack reads
//! `<!channel>` as a mention and `<url|text>` as a link), one value is one
//! inline code span (no formatting inside), and lines stay lines.

/// `text` cut to at most `max` characters, with `…` where it was cut.
pub fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// The guard's own sentence, with values in it: one line, entities escaped,
/// and backticks only in pairs (an odd one would open a code span to the end).
pub fn prose(text: &str) -> String {
    let line = one_line(text);
    let line = if line.matches('`').count().is_multiple_of(2) {
        line
    } else {
        line.replace('`', "'")
    };
    escape(&line)
}

/// One value as an inline code span, at most `max` characters of it.
pub fn code(value: &str, max: usize) -> String {
    let value = one_line(value).replace('`', "'");
    let value = if value.trim().is_empty() {
        "(none)".to_owned()
    } else {
        clip(value.trim(), max)
    };
    format!("`{}`", escape(&value))
}

/// The sentences of `text`: split after a `. ` that a capital letter
/// follows, outside code spans (`1.29. Then` splits, `v1.2.3` does not).
pub fn sentences(text: &str) -> Vec<String> {
    let mut sentences = Vec::new();
    let mut current = String::new();
    let mut in_code = false;
    let text = one_line(text);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        current.push(c);
        in_code ^= c == '`';
        let ends = c == '.' && !in_code && chars.peek() == Some(&' ');
        if ends {
            let mut lookahead = chars.clone();
            lookahead.next();
            if lookahead.next().is_some_and(char::is_uppercase) {
                chars.next();
                sentences.push(current.trim().to_owned());
                current.clear();
            }
        }
    }
    if !current.trim().is_empty() {
        sentences.push(current.trim().to_owned());
    }
    sentences
}

/// Control characters (newlines, tabs) as spaces.
fn one_line(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The three characters Slack asks senders to escape.
fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mention_or_link_in_a_value_is_escaped_not_sent() {
        assert_eq!(
            code("<!channel> & <http://x|y>", 100),
            "`&lt;!channel&gt; &amp; &lt;http://x|y&gt;`"
        );
        assert_eq!(prose("group <!here>"), "group &lt;!here&gt;");
    }

    #[test]
    fn a_value_is_one_code_span_whatever_it_holds() {
        assert_eq!(code("a`b\nc", 100), "`a'b c`");
        assert_eq!(code("  ", 100), "`(none)`");
    }

    #[test]
    fn an_odd_backtick_in_prose_cannot_open_a_code_span() {
        assert_eq!(prose("run `aws x` now"), "run `aws x` now");
        assert_eq!(prose("it's `odd"), "it's 'odd");
    }

    #[test]
    fn clip_keeps_at_most_max_characters() {
        assert_eq!(clip("abcdef", 4), "abc…");
        assert_eq!(clip("abc", 4), "abc");
        assert_eq!(clip("ééééé", 3).chars().count(), 3);
    }

    #[test]
    fn sentences_split_after_a_full_stop_and_a_capital_outside_code() {
        assert_eq!(
            sentences("Fix the template. Then run `aws x. Y` again. v1.2. done"),
            vec!["Fix the template.", "Then run `aws x. Y` again. v1.2. done"]
        );
    }
}
