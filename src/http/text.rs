//! Strict readers for what clients type: text that people will see, e-mail addresses and ISO
//! dates. Shared by every domain, so "a name made of invisible characters" or "1988-3-5" is refused
//! the same way everywhere. Each rule is also written as a regular expression for the OpenAPI
//! document (`@text` and friends in a `#[schema(pattern = ..)]`, expanded by
//! [`expand_patterns`]), built from the same character tables, so a generated client refuses
//! exactly what the server refuses.

use chrono::NaiveDate;

/// Characters nobody needs to type into a name, a note or a message, and which can hide or reorder
/// what others see: controls, zero-width and joiner characters, bidirectional embeddings,
/// overrides and isolates, line and paragraph separators, fillers (Hangul fillers, the blank
/// braille pattern), variation selectors, noncharacters at the end of the BMP, invisible format
/// characters of the supplementary planes and the tag characters (U+E0000 block). In prose (chat,
/// notes) the joiner, the variation selectors and the tag characters are allowed where they
/// belong to an emoji (see [`EMOJI`]).
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
    (0x2800, 0x2800),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF0, 0xFFFF),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0000, 0xE007F),
    (0xE0100, 0xE01EF),
];

/// Characters that start or continue an emoji (Unicode `Emoji`, rounded to blocks, plus the keycap
/// bases `#`, `*` and digits): a variation selector may follow one, a joiner may stand between two.
const EMOJI: &[(u32, u32)] = &[
    (0x0023, 0x0023),
    (0x002A, 0x002A),
    (0x0030, 0x0039),
    (0x00A9, 0x00A9),
    (0x00AE, 0x00AE),
    (0x203C, 0x203C),
    (0x2049, 0x2049),
    (0x2122, 0x2122),
    (0x2139, 0x2139),
    (0x2194, 0x2199),
    (0x21A9, 0x21AA),
    (0x231A, 0x231B),
    (0x2328, 0x2328),
    (0x23CF, 0x23CF),
    (0x23E9, 0x23F3),
    (0x23F8, 0x23FA),
    (0x24C2, 0x24C2),
    (0x25AA, 0x25AB),
    (0x25B6, 0x25B6),
    (0x25C0, 0x25C0),
    (0x25FB, 0x25FE),
    (0x2600, 0x27BF),
    (0x2934, 0x2935),
    (0x2B05, 0x2B07),
    (0x2B1B, 0x2B1C),
    (0x2B50, 0x2B50),
    (0x2B55, 0x2B55),
    (0x3030, 0x3030),
    (0x303D, 0x303D),
    (0x3297, 0x3297),
    (0x3299, 0x3299),
    (0x1F000, 0x1FAFF),
];

/// The variation selectors that ask for text or emoji presentation.
const PRESENTATION: &[(u32, u32)] = &[(0xFE0E, 0xFE0F)];
const ZWJ: char = '\u{200D}';
/// A black flag followed by tag letters and a cancel tag spells a subdivision flag (🏴󠁧󠁢󠁳󠁣󠁴󠁿).
const BLACK_FLAG: char = '\u{1F3F4}';
const TAGS: &[(u32, u32)] = &[(0xE0020, 0xE007E)];
const CANCEL_TAG: char = '\u{E007F}';

/// Characters a file name may not hold besides the hidden ones: path separators, and what
/// Windows, shells or markup read as syntax.
const FILE_NAME_SYNTAX: &[(u32, u32)] = &[
    (0x0022, 0x0022),
    (0x002A, 0x002A),
    (0x002F, 0x002F),
    (0x003A, 0x003A),
    (0x003C, 0x003C),
    (0x003E, 0x003F),
    (0x005C, 0x005C),
    (0x007C, 0x007C),
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

/// Whether `c` is one of the hidden characters.
pub fn is_hidden(c: char) -> bool {
    within(HIDDEN, c)
}

fn is_emoji(c: char) -> bool {
    within(EMOJI, c)
}

/// Whether every hidden character of `text` belongs to an emoji, or is a `\n`: a variation
/// selector right after an emoji character, a joiner between two emoji (the first possibly with its
/// selector), tag letters between a black flag and a cancel tag. The same as the prose pattern.
fn hidden_only_in_emoji(text: &str) -> bool {
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == BLACK_FLAG && chars.get(i + 1).is_some_and(|t| within(TAGS, *t)) {
            let mut j = i + 1;
            while chars.get(j).is_some_and(|t| within(TAGS, *t)) {
                j += 1;
            }
            if chars.get(j) != Some(&CANCEL_TAG) {
                return false;
            }
            i = j + 1;
            continue;
        }
        if is_emoji(c) {
            // One emoji cluster: E VS? (ZWJ E VS?)*
            let mut j = i + 1;
            loop {
                if chars.get(j).is_some_and(|v| within(PRESENTATION, *v)) {
                    j += 1;
                }
                if chars.get(j) == Some(&ZWJ) && chars.get(j + 1).is_some_and(|e| is_emoji(*e)) {
                    j += 2;
                } else {
                    break;
                }
            }
            i = j;
            continue;
        }
        if is_hidden(c) && c != '\n' {
            return false;
        }
        i += 1;
    }
    true
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

/// A visible text of at most `max_chars` characters as sent, returned trimmed. With `multiline`
/// (prose: chat, notes), `\n` may separate lines and emoji keep their joiners, variation selectors
/// and flag tags; every other hidden character inside is refused (whitespace at either end is
/// trimmed away, whatever it is). Too long is said before anything else.
pub fn visible_text(raw: &str, max_chars: usize, multiline: bool) -> Result<String, TextError> {
    if raw.chars().count() > max_chars {
        return Err(TextError::TooLong);
    }
    let core = raw.trim();
    if core.is_empty() {
        return Err(TextError::Empty);
    }
    let clean = if multiline { hidden_only_in_emoji(core) } else { !core.chars().any(is_hidden) };
    if !clean {
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

/// A file name as the user knows it (shown back, never used as a path): a line of visible text
/// without path separators or `"*:<>?|`, not starting with a dot.
pub fn file_name(raw: &str, max_chars: usize) -> Result<String, TextError> {
    let name = visible_text(raw, max_chars, false)?;
    if name.starts_with('.') || name.chars().any(|c| within(FILE_NAME_SYNTAX, c)) {
        return Err(TextError::Forbidden);
    }
    Ok(name)
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

/// `\uXXXX` in the BMP, `\UXXXXXXXX` beyond it (Python's `re` and Rust's `regex` read both).
fn escape(c: u32) -> String {
    if c <= 0xFFFF { format!("\\u{c:04X}") } else { format!("\\U{c:08X}") }
}

fn range(lo: u32, hi: u32) -> String {
    if lo == hi { escape(lo) } else { format!("{}-{}", escape(lo), escape(hi)) }
}

/// The regular expression for a placeholder of `#[schema(pattern = "...")]`, if it is one:
/// `@text` (a line of visible text), `@text-or-empty` (the same, or nothing visible at all),
/// `@multiline` (prose: visible text, lines separated by `\n`, emoji with their joiners, variation
/// selectors and flag tags; `@multiline-or-empty` also nothing visible), `@file-name`, `@email`,
/// `@date` (`YYYY-MM-DD`), `@identifier` (what [`identifier`] accepts).
pub fn pattern(placeholder: &str) -> Option<String> {
    let (h, w) = (class(HIDDEN, &[]), class(WHITESPACE, &[]));
    let visible = |h: &str| format!("[^{h}]*[^{h}{w}][^{h}]*");
    let prose = || {
        let (h, e) = (class(HIDDEN, &['\n' as u32]), class(EMOJI, &[]));
        let (vs, tags) = (class(PRESENTATION, &[]), class(TAGS, &[]));
        let cluster = format!("[{e}][{vs}]?(?:{}[{e}][{vs}]?)*", escape(ZWJ as u32));
        let flag = format!("{}[{tags}]+{}", escape(BLACK_FLAG as u32), escape(CANCEL_TAG as u32));
        let unit = format!("(?:{flag}|{cluster}|[^{h}{e}])");
        let seen = format!("(?:{flag}|{cluster}|[^{h}{e}{w}])");
        format!("{unit}*{seen}{unit}*")
    };
    Some(match placeholder {
        "@text" => format!("^[{w}]*{}[{w}]*$", visible(&h)),
        "@text-or-empty" => format!("^[{w}]*({}[{w}]*)?$", visible(&h)),
        "@multiline" => format!("^[{w}]*{}[{w}]*$", prose()),
        "@multiline-or-empty" => format!("^[{w}]*({}[{w}]*)?$", prose()),
        "@file-name" => {
            let f = class(FILE_NAME_SYNTAX, &[]);
            format!("^[{w}]*[^{h}{w}{f}.][^{h}{f}]*[{w}]*$")
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
        assert!(text.contains("\\U000E0000-\\U000E007F"), "tag characters refused: {text}");
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

    /// Hostile and ordinary strings every rule is tried on.
    const SAMPLES: &[&str] = &[
        "김건강",
        "  김건강 ",
        "a\u{0}b",
        "\u{0}",
        "invoice\u{202E}gnp.exe",
        "\u{200B}\u{200B}",
        "a\u{200B}b",
        "\u{3164}",
        "\u{115F}\u{1160}",
        "\u{2800}",
        "a\u{E0041}b",
        "\u{E0001}",
        "abc\u{E0100}",
        "a\u{1D173}b",
        "줄 하나\n줄 둘",
        "a\r\nb",
        "❤\u{FE0F}",
        "오늘도 ❤\u{FE0F} 화이팅",
        "👨\u{200D}👩\u{200D}👧\u{200D}👦",
        "🏳\u{FE0F}\u{200D}🌈",
        "🧑🏽\u{200D}💻",
        "1\u{FE0F}\u{20E3}",
        "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}",
        "🏴\u{E0067}\u{E0062}",
        "\u{E0067}\u{E007F}",
        "a\u{FE0F}",
        "❤\u{FE0F}\u{FE0F}",
        "👨\u{200D}",
        "\u{200D}👨",
        "👨\u{200D}\u{200D}👩",
        "a\u{200D}b",
        "👨\u{200D}a",
        "report.pdf",
        ".hidden",
        "a/b.pdf",
        "..\\x.pdf",
        "<script>.pdf",
        "결과지 2025.pdf",
        "a:b",
        "   ",
        "",
        "\u{2028}a\u{2029}",
    ];

    #[test]
    fn emoji_keep_their_joiners_and_selectors_in_prose_only() {
        for ok in [
            "❤\u{FE0F}",
            "👨\u{200D}👩\u{200D}👧",
            "🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}",
        ] {
            assert!(visible_text(ok, 50, true).is_ok(), "{ok:?} in prose");
            assert_eq!(visible_text(ok, 50, false), Err(TextError::Forbidden), "{ok:?} in a name");
        }
        for bad in ["a\u{200D}b", "\u{FE0F}", "a\u{E0041}", "👨\u{200D}", "🏴\u{E0067}"] {
            assert_eq!(visible_text(bad, 50, true), Err(TextError::Forbidden), "{bad:?}");
        }
        // Too long is said as too long, whatever else is wrong.
        assert_eq!(visible_text(&"\u{0}".repeat(51), 50, true), Err(TextError::TooLong));
    }

    #[test]
    fn file_names_are_visible_text_without_path_or_markup() {
        assert_eq!(file_name(" 결과지 2025.pdf ", 200), Ok("결과지 2025.pdf".into()));
        for bad in
            ["invoice\u{202E}gnp.exe", "\u{200B}.pdf", "a/b", "..\\x", ".env", "<b>x</b>", "x\u{E0041}"]
        {
            assert!(file_name(bad, 200).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn each_pattern_accepts_exactly_what_its_reader_accepts() {
        type Reader = fn(&str) -> bool;
        let rules: [(&str, Reader); 5] = [
            ("@text", |s| visible_text(s, 10_000, false).is_ok()),
            ("@text-or-empty", |s| !matches!(visible_text(s, 10_000, false), Err(TextError::Forbidden))),
            ("@multiline", |s| visible_text(s, 10_000, true).is_ok()),
            ("@multiline-or-empty", |s| !matches!(visible_text(s, 10_000, true), Err(TextError::Forbidden))),
            ("@file-name", |s| file_name(s, 10_000).is_ok()),
        ];
        for (placeholder, reader) in rules {
            let re = regex::Regex::new(&pattern(placeholder).unwrap()).unwrap();
            for s in SAMPLES {
                assert_eq!(re.is_match(s), reader(s), "{placeholder} on {s:?}");
            }
        }
    }
}
