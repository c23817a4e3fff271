//! The labelled messages the guard learns from (`corpus/*.tsv`: one message a line,
//! `label<TAB>category<TAB>text`, `#` comments, `\u{XXXX}` and `\\` escapes for characters one
//! cannot see). The held-out sets in `tests/data/safety/` share the format and are never learnt.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Label {
    Emergency,
    Crisis,
    Medical,
    None,
}

impl Label {
    pub const ALL: [Label; 4] = [Label::Emergency, Label::Crisis, Label::Medical, Label::None];

    pub fn index(self) -> usize {
        self as usize
    }
}

#[derive(Debug, Clone)]
pub struct Case {
    pub label: Label,
    pub category: String,
    pub text: String,
}

/// The training files, each written by another hand in other voices.
pub const FILES: &[(&str, &str)] = &[
    ("corpus", include_str!("corpus/corpus.tsv")),
    ("voices_a", include_str!("corpus/corpus_voices_a.tsv")),
    ("voices_b", include_str!("corpus/corpus_voices_b.tsv")),
    ("voices_c", include_str!("corpus/corpus_voices_c.tsv")),
    ("voices_d", include_str!("corpus/corpus_voices_d.tsv")),
    ("voices_e", include_str!("corpus/corpus_voices_e.tsv")),
    ("voices_f", include_str!("corpus/corpus_voices_f.tsv")),
    ("voices_g", include_str!("corpus/corpus_voices_g.tsv")),
    ("voices_h", include_str!("corpus/corpus_voices_h.tsv")),
    ("voices_i", include_str!("corpus/corpus_voices_i.tsv")),
    ("voices_j", include_str!("corpus/corpus_voices_j.tsv")),
    ("voices_k", include_str!("corpus/corpus_voices_k.tsv")),
    ("voices_l", include_str!("corpus/corpus_voices_l.tsv")),
];

/// Every training message.
pub fn training() -> Vec<Case> {
    FILES.iter().flat_map(|(_, tsv)| parse(tsv)).collect()
}

/// `\u{XXXX}` and `\\` escapes, as the corpus writes invisible characters.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('\\') {
        out.push_str(&rest[..i]);
        let tail = &rest[i + 1..];
        if let Some(t) = tail.strip_prefix('\\') {
            out.push('\\');
            rest = t;
        } else if let Some(t) = tail.strip_prefix("u{")
            && let Some(end) = t.find('}')
            && let Some(c) = u32::from_str_radix(&t[..end], 16).ok().and_then(char::from_u32)
        {
            out.push(c);
            rest = &t[end + 1..];
        } else {
            out.push('\\');
            rest = tail;
        }
    }
    out.push_str(rest);
    out
}

/// The messages of one file. A line with an unknown label is a mistake in the file: it panics
/// (the files are compiled in, and the corpus test reads every one).
pub fn parse(tsv: &str) -> Vec<Case> {
    tsv.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#') && !l.starts_with("label\t"))
        .map(|l| {
            let mut cols = l.splitn(3, '\t');
            let (label, category, text) = (cols.next().unwrap_or(""), cols.next().unwrap_or(""), cols.next().unwrap_or(""));
            let label = match label.trim() {
                "emergency" => Label::Emergency,
                "crisis" => Label::Crisis,
                "medical" => Label::Medical,
                "none" => Label::None,
                other => panic!("unknown label {other:?} in the safety corpus line {l:?}"),
            };
            Case { label, category: category.trim().to_string(), text: unescape(text) }
        })
        .collect()
}
