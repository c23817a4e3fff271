//! Strict readers for what clients type: text that people will see, e-mail addresses and ISO
//! dates. Shared by every domain, so "a name made of invisible characters" or "1988-3-5" is refused
//! the same way everywhere. Each rule is also written as a regular expression for the OpenAPI
//! document (`@text` and friends in a `#[schema(pattern = ..)]`, expanded by
//! [`expand_patterns`]), built from the same character tables, so a generated client refuses
//! exactly what the server refuses.

use chrono::NaiveDate;

/// Characters nobody needs to type into a name, a note or a message, and which can hide or reorder
/// what others see: controls, zero-width and joiner characters, bidirectional embeddings,
/// overrides and isolates, line and paragraph separators, fillers, variation selectors,
/// noncharacters at the end of the BMP.
const HIDDEN: &[(u32, u32)] = &[
    (0x0000, 0x001F),
    (0x007F, 0x009F),
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x061C, 0x061C),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x206F),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFFF),
];

/// Unicode `White_Space`, what `str::trim` removes.
const WHITESPACE: &[(u32, u32)] = &[
    (0x0009, 0x000D),
    (0x0020, 0x0020),
    (0x0085, 0x0085),
    (0x00A0, 0x00A0),
    (0x1680, 0x1680),
    (0x2000, 0x200A),
    (0x2028, 0x2029),
    (0x202F, 0x202F),
    (0x205F, 0x205F),
    (0x3000, 0x3000),
];

fn within(table: &[(u32, u32)], c: char) -> bool {
    table.iter().any(|(lo, hi)| (*lo..=*hi).contains(&(c as u32)))
}

/// Whether `c` is one of the hidden characters. (Beyond the BMP nothing is refused: the tag
/// characters there spell emoji flags.)
pub fn is_hidden(c: char) -> bool {
    within(HIDDEN, c)
}

/// Why a text was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextError {
    /// Nothing visible is left after trimming.
    Empty,
    /// Longer than allowed (in characters, as sent).
    TooLong,
    /// It holds a control, invisible, bidirectional-override or line/paragraph-separator character.
    Forbidden,
}

/// A visible text of at most `max_chars` characters as sent, returned trimmed. With `multiline`,
/// `\n` may separate lines; every other hidden character inside is refused (whitespace at either
/// end is trimmed away, whatever it is).
pub fn visible_text(raw: &str, max_chars: usize, multiline: bool) -> Result<String, TextError> {
    if raw.chars().count() > max_chars {
        return Err(TextError::TooLong);
    }
    let core = raw.trim();
    if core.is_empty() {
        return Err(TextError::Empty);
    }
    if core.chars().any(|c| is_hidden(c) && !(multiline && c == '\n')) {
        return Err(TextError::Forbidden);
    }
    Ok(core.to_string())
}

/// An identifier a client chose (a chat session's id): 1 to `max_chars` characters taken exactly as
/// sent, with no hidden character anywhere and no whitespace at either end (`" a"` and `"a"`
/// would otherwise look like one id and be two).
pub fn identifier(raw: &str, max_chars: usize) -> Result<&str, TextError> {
    if raw.chars().count() > max_chars {
        return Err(TextError::TooLong);
    }
    if raw.trim().is_empty() {
        return Err(TextError::Empty);
    }
    if raw.chars().any(is_hidden) || raw.trim() != raw {
        return Err(TextError::Forbidden);
    }
    Ok(raw)
}

/// `local@domain.tld` as [`visible_text`] reads it: trimmed, one `@`, both sides non-empty, at
/// least two dot-separated labels in the domain, no whitespace or hidden character inside.
pub fn plausible_email(raw: &str, max_chars: usize) -> Option<String> {
    if raw.chars().count() > max_chars {
        return None;
    }
    let email = raw.trim();
    let (local, domain) = email.split_once('@')?;
    let bad = |c: char| c.is_whitespace() || is_hidden(c);
    let ok = !local.is_empty()
        && !local.chars().any(bad)
        && domain.split('.').count() >= 2
        && domain.split('.').all(|label| !label.is_empty() && !label.chars().any(|c| c == '@' || bad(c)));
    ok.then(|| email.to_string())
}

/// An ISO 8601 calendar date written exactly `YYYY-MM-DD`: no sign, no extended year, no single
/// digits, no time.
pub fn iso_date(raw: &str) -> Option<NaiveDate> {
    let b = raw.as_bytes();
    let shape = b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
    if !shape {
        return None;
    }
    NaiveDate::parse_from_str(raw, "%Y-%m-%d").ok()
}

/// A character class body (`\uXXXX-\uYYYY…`) for a table, optionally without some characters.
fn class(table: &[(u32, u32)], except: &[u32]) -> String {
    let mut out = String::new();
    for (lo, hi) in table {
        let mut start = *lo;
        for c in *lo..=*hi {
            if except.contains(&c) {
                if start < c {
                    out.push_str(&range(start, c - 1));
                }
                start = c + 1;
            }
        }
        if start <= *hi {
            out.push_str(&range(start, *hi));
        }
    }
    out
}

fn range(lo: u32, hi: u32) -> String {
    if lo == hi { format!("\\u{lo:04X}") } else { format!("\\u{lo:04X}-\\u{hi:04X}") }
}

/// The regular expression for a placeholder of `#[schema(pattern = "...")]`, if it is one:
/// `@text` (a line of visible text), `@text-or-empty` (the same, or nothing visible at all),
/// `@multiline` (visible text, lines separated by `\n`; `@multiline-or-empty` also nothing visible),
/// `@email`, `@date` (`YYYY-MM-DD`), `@identifier` (what [`identifier`] accepts).
pub fn pattern(placeholder: &str) -> Option<String> {
    let (h, w) = (class(HIDDEN, &[]), class(WHITESPACE, &[]));
    let visible = |h: &str| format!("[^{h}]*[^{h}{w}][^{h}]*");
    Some(match placeholder {
        "@text" => format!("^[{w}]*{}[{w}]*$", visible(&h)),
        "@text-or-empty" => format!("^[{w}]*({}[{w}]*)?$", visible(&h)),
        "@multiline" => {
            let h = class(HIDDEN, &['\n' as u32]);
            format!("^[{w}]*{}[{w}]*$", visible(&h))
        }
        "@multiline-or-empty" => {
            let h = class(HIDDEN, &['\n' as u32]);
            format!("^[{w}]*({}[{w}]*)?$", visible(&h))
        }
        "@email" => format!("^[{w}]*[^@{h}{w}]+@[^@.{h}{w}]+(\\.[^@.{h}{w}]+)+[{w}]*$"),
        "@date" => "^[0-9]{4}-[0-9]{2}-[0-9]{2}$".to_string(),
        "@identifier" => format!("^[^{h}{w}]([^{h}]*[^{h}{w}])?$"),
        _ => return None,
    })
}

/// Replaces every placeholder pattern in an OpenAPI document (as JSON) by its expression.
pub fn expand_patterns(doc: &mut serde_json::Value) {
    use serde_json::Value;
    match doc {
        Value::Object(map) => {
            for (key, value) in map.iter_mut() {
                match value {
                    Value::String(s) if key == "pattern" => {
                        if let Some(p) = pattern(s) {
                            *s = p;
                        }
                    }
                    other => expand_patterns(other),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(expand_patterns),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hidden_characters_are_refused_and_visible_text_is_trimmed() {
        assert_eq!(visible_text("  김건강 ", 50, false), Ok("김건강".into()));
        assert_eq!(visible_text("\n\t김건강\u{2028}", 50, false), Ok("김건강".into()));
        for bad in [
            "\u{200B}\u{200B}",
            "a\u{202E}b",
            "a\u{2028}b",
            "a\u{2029}b",
            "\u{3164}",
            "a\nb",
            "a\u{0}b",
            "\u{FEFF}x",
        ] {
            assert_eq!(visible_text(bad, 50, false), Err(TextError::Forbidden), "{bad:?}");
        }
        assert_eq!(visible_text("   ", 50, false), Err(TextError::Empty));
        assert_eq!(visible_text("가나다", 2, false), Err(TextError::TooLong));
        assert_eq!(visible_text("a  ", 2, false), Err(TextError::TooLong), "length as sent");
        assert_eq!(visible_text("줄 하나\n줄 둘", 50, true), Ok("줄 하나\n줄 둘".into()));
        assert_eq!(visible_text("a\r\nb", 50, true), Err(TextError::Forbidden));
        assert_eq!(visible_text("a\u{202E}b", 50, true), Err(TextError::Forbidden));
    }

    #[test]
    fn identifiers_are_taken_exactly_as_sent() {
        for good in ["a", "chat-2026-12-07 저녁", "0192f0c4-7d3e-7a51-9c1e-1f0e8b7a6d5c", "😀"] {
            assert_eq!(identifier(good, 100), Ok(good), "{good:?}");
        }
        assert_eq!(identifier("", 100), Err(TextError::Empty));
        assert_eq!(identifier("  ", 100), Err(TextError::Empty));
        for bad in [" a", "a ", "a\u{200B}b", "a\nb", "\u{202E}ab"] {
            assert_eq!(identifier(bad, 100), Err(TextError::Forbidden), "{bad:?}");
        }
        assert_eq!(identifier(&"가".repeat(101), 100), Err(TextError::TooLong));
        assert_eq!(identifier(&"가".repeat(100), 100).map(str::len), Ok(300));
    }

    #[test]
    fn only_plain_iso_dates_are_dates() {
        assert_eq!(iso_date("1988-03-05"), NaiveDate::from_ymd_opt(1988, 3, 5));
        for bad in [
            "+002000-01-01",
            "1988-3-5",
            "1988-03-5",
            "19880305",
            "1988-02-30",
            "1988-03-05T00:00",
            " 1988-03-05",
            "１９８８-03-05",
        ] {
            assert_eq!(iso_date(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert_eq!(plausible_email(" a.b+c@example.co.kr ", 320).as_deref(), Some("a.b+c@example.co.kr"));
        for bad in ["@", "a@", "@b.c", "a@b", "a@@b.c", "a b@c.d", "a@b..c", "a\u{202E}@b.c", "a@b.c\u{200B}"]
        {
            assert_eq!(plausible_email(bad, 320), None, "{bad:?}");
        }
    }

    #[test]
    fn the_patterns_are_built_from_the_same_tables() {
        let text = pattern("@text").unwrap();
        assert!(text.starts_with("^[\\u0009-\\u000D\\u0020"), "{text}");
        assert!(text.contains("\\u202A") || text.contains("\\u2028-\\u202E"), "{text}");
        let multi = pattern("@multiline").unwrap();
        assert!(
            multi.contains("\\u0000-\\u0009\\u000B-\\u001F"),
            "newline left out of the hidden class: {multi}"
        );
        let mut doc =
            serde_json::json!({"a": {"pattern": "@date", "b": [{"pattern": "@email"}, {"pattern": "^x$"}]}});
        expand_patterns(&mut doc);
        assert_eq!(doc["a"]["pattern"], "^[0-9]{4}-[0-9]{2}-[0-9]{2}$");
        assert!(doc["a"]["b"][0]["pattern"].as_str().unwrap().contains('@'));
        assert_eq!(doc["a"]["b"][1]["pattern"], "^x$");
    }
}
