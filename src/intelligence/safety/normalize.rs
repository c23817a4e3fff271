//! What the guard reads: a message reduced to what a person sees and means. The same words come
//! in many spellings — with and without spaces, decomposed or full-width, with dots or zero-width
//! characters between the letters, typed jamo by jamo, in colloquial forms — and a red flag must
//! not hide in any of them.
//!
//! 1. Compatibility jamo typed one by one (ㅈㅏㅅㅏㄹ) are composed into syllables.
//! 2. NFKC: full-width and styled letters become plain ones, compatibility jamo conjoining ones,
//!    and decomposed (NFD) Hangul is composed.
//! 3. Lower case; format characters (zero-width spaces and joiners, bidi controls, tag
//!    characters) and combining marks vanish; Hangul fillers and lone jamo (ㅠㅠ, ㅋㅋ) vanish;
//!    every other character that is not a letter or a digit separates words.
//! 4. Colloquial spellings fold to one form (아퍼 → 아파, 시퍼 → 싶어, 디지고 → 죽고, …).
//!
//! Two forms come out: `compact`, letters and digits only (Korean is written with and without
//! spaces, so its rules read this), and `spaced`, the same words one space apart (English rules
//! read words, so "diet" is not "die").

use unicode_normalization::UnicodeNormalization as _;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Normalized {
    pub compact: String,
    pub spaced: String,
}

/// Colloquial and misspelt forms, folded in the compact form (each `from` is specific enough not
/// to occur inside an unrelated word).
const FOLDS: &[(&str, &str)] = &[
    ("아퍼", "아파"),
    ("아포", "아파"),
    ("아펐", "아팠"),
    ("아푸", "아파"),
    ("시러", "싫어"),
    ("실어요", "싫어요"),
    ("시퍼", "싶어"),
    ("시포", "싶어"),
    ("십어", "싶어"),
    ("싶따", "싶다"),
    ("싶당", "싶다"),
    ("쉬겟", "쉬겠"),
    ("죽겄", "죽겠"),
    ("쥭", "죽"),
    ("쥬고", "죽고"),
    ("쥬거", "죽어"),
    ("디지고", "죽고"),
    ("뒤지고싶", "죽고싶"),
    ("디져버리", "죽어버리"),
    ("뒤져버리", "죽어버리"),
    ("자쌀", "자살"),
    ("쟈살", "자살"),
    ("숨을못쉬겠", "숨을못쉬"),
    ("숨이안쉬어져", "숨이안쉬어"),
    ("숨이안쉬져", "숨이안쉬어"),
    ("숨을못쉬어", "숨을못쉬"),
    ("쉴수가없", "쉴수없"),
    ("안멈쳐", "안멈춰"),
    ("멈추질", "멈추지"),
    ("쓰러졋", "쓰러졌"),
    ("먹엇", "먹었"),
    ("마셧", "마셨"),
    ("죽구싶", "죽고싶"),
    ("죽구파", "죽고파"),
    ("주거버리", "죽어버리"),
    ("지셧", "지셨"),
    ("셧어", "셨어"),
    ("졋어", "졌어"),
    ("햇어", "했어"),
    ("엇어", "었어"),
    ("왓어", "왔어"),
    ("았어용", "았어요"),
    ("묵어도", "먹어도"),
    ("끗내", "끝내"),
    ("끗낼", "끝낼"),
    ("살기시름", "살기싫음"),
    ("이유업", "이유없"),
    ("시러요", "싫어요"),
    ("묵으면", "먹으면"),
    ("되겄", "되겠"),
];

/// Characters that take space on screen but are letters to Unicode (Hangul fillers) or show
/// nothing: dropped without separating words.
fn vanishes(c: char) -> bool {
    matches!(c, '\u{115F}' | '\u{1160}' | '\u{3164}' | '\u{FFA0}' | '\u{17B4}' | '\u{17B5}' | '\u{180E}')
        || is_format(c)
        || is_combining_mark(c)
}

/// Zero-width spaces and joiners, bidi controls, word joiners, soft hyphens, variation selectors
/// and tag characters (Unicode category Cf and their kin).
fn is_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{206F}'
        | '\u{FEFF}' | '\u{FE00}'..='\u{FE0F}' | '\u{E0000}'..='\u{E007F}' | '\u{E0100}'..='\u{E01EF}'
        | '\u{034F}' | '\u{1BCA0}'..='\u{1BCA3}')
}

fn is_combining_mark(c: char) -> bool {
    matches!(c, '\u{0300}'..='\u{036F}' | '\u{1AB0}'..='\u{1AFF}' | '\u{1DC0}'..='\u{1DFF}' | '\u{20D0}'..='\u{20FF}' | '\u{FE20}'..='\u{FE2F}')
}

/// A jamo standing alone (after composition): ㅠㅠ, ㅋㅋ and the like, not words.
fn is_lone_jamo(c: char) -> bool {
    matches!(c, '\u{1100}'..='\u{11FF}' | '\u{3131}'..='\u{318E}' | '\u{A960}'..='\u{A97F}' | '\u{D7B0}'..='\u{D7FF}')
}

/// Apostrophes join the letters around them ("can't" is "cant").
fn is_apostrophe(c: char) -> bool {
    matches!(c, '\'' | '\u{2019}' | '\u{2018}' | '`' | '\u{00B4}')
}

const CHOSEONG: &str = "ㄱㄲㄴㄷㄸㄹㅁㅂㅃㅅㅆㅇㅈㅉㅊㅋㅌㅍㅎ";
const JUNGSEONG: &str = "ㅏㅐㅑㅒㅓㅔㅕㅖㅗㅘㅙㅚㅛㅜㅝㅞㅟㅠㅡㅢㅣ";
const JONGSEONG: &str = "ㄱㄲㄳㄴㄵㄶㄷㄹㄺㄻㄼㄽㄾㄿㅀㅁㅂㅄㅅㅆㅇㅈㅊㅋㅌㅍㅎ";

fn index_of(set: &str, c: char) -> Option<u32> {
    set.chars().position(|x| x == c).map(|i| i as u32)
}

/// Composes compatibility jamo typed one by one into syllables: a consonant and a vowel make a
/// syllable, which takes a following consonant as its final unless a vowel follows that one.
fn compose_jamo(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < chars.len() {
        let (Some(l), Some(v)) =
            (index_of(CHOSEONG, chars[i]), chars.get(i + 1).and_then(|c| index_of(JUNGSEONG, *c)))
        else {
            out.push(chars[i]);
            i += 1;
            continue;
        };
        let mut t = 0;
        let mut used = 2;
        if let Some(f) = chars.get(i + 2).and_then(|c| index_of(JONGSEONG, *c)) {
            let vowel_next = chars.get(i + 3).is_some_and(|c| index_of(JUNGSEONG, *c).is_some());
            if !vowel_next {
                t = f + 1;
                used = 3;
            }
        }
        out.push(char::from_u32(0xAC00 + (l * 21 + v) * 28 + t).unwrap_or(chars[i]));
        i += used;
    }
    out
}

fn fold(mut s: String) -> String {
    for (from, to) in FOLDS {
        if s.contains(from) {
            s = s.replace(from, to);
        }
    }
    s
}

/// ㅈㅅ is how 자살 is typed to slip past filters (and also "sorry"): only before what makes it the
/// word (하고 싶다, 충동, 생각, 시도…) is it spelt out.
static INITIALISMS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"ㅈ[\s.·]*ㅅ([\s.·]*(?:하고|할|하려|해버|충동|생각|시도|각|하는|했|마렵|마려))")
        .unwrap_or_else(|e| panic!("{e}"))
});
/// ㅈㄱㅅ(ㅇ/ㄷ/ㅍ): 죽고 싶어 typed by its initials.
static DEATH_WISH_INITIALS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"ㅈ[\s.·]*ㄱ[\s.·]*ㅅ[\s.·]*[ㅇㄷㅍ]?").unwrap_or_else(|e| panic!("{e}"))
});
static SELF_HARM_INITIALS: std::sync::LazyLock<regex::Regex> = std::sync::LazyLock::new(|| {
    regex::Regex::new(r"ㅈ[\s.·]*ㅎ([\s.·]*(?:하고|할|하려|충동|했|하는|자국|흉터|마렵))")
        .unwrap_or_else(|e| panic!("{e}"))
});

/// Laughter typed as ㅋ or ㅎ (after NFKC, their conjoining forms).
fn is_laughter(c: char) -> bool {
    matches!(c, 'ㅋ' | 'ㅎ' | '\u{110F}' | '\u{1112}' | '😂' | '🤣' | '😆' | '😹' | '😅')
}

/// The marker a message's laughter leaves at the end of its compact form (rules read it to tell
/// "숨을 못 쉬겠어요 ㅋㅋ" from a breathless message; it never splits words).
pub const LAUGHTER: &str = "ㅋㅋ";

pub fn normalize(text: &str) -> Normalized {
    let spelt = INITIALISMS.replace_all(text, "자살$1");
    let spelt = SELF_HARM_INITIALS.replace_all(&spelt, "자해$1");
    let spelt = DEATH_WISH_INITIALS.replace_all(&spelt, "죽고싶어");
    let composed: String = compose_jamo(&spelt).nfkc().collect();
    let mut compact = String::with_capacity(composed.len());
    let mut spaced = String::with_capacity(composed.len());
    let mut gap = false;
    let mut laughs = 0;
    for c in composed.chars().flat_map(char::to_lowercase) {
        if is_laughter(c) {
            laughs += 1;
            continue;
        }
        if vanishes(c) || is_apostrophe(c) {
            continue;
        }
        if c.is_alphanumeric() && !is_lone_jamo(c) {
            if gap && !spaced.is_empty() {
                spaced.push(' ');
            }
            gap = false;
            compact.push(c);
            spaced.push(c);
        } else {
            gap = true;
        }
    }
    // Dropping a separator can put two combining marks side by side: put them back in canonical
    // order, so that normalising a normalised text changes nothing.
    let mut compact = fold(compact.nfc().collect());
    if laughs >= 2 || composed.chars().any(|c| matches!(c, '😂' | '🤣' | '😆' | '😹')) {
        compact.push_str(LAUGHTER);
    }
    Normalized { compact, spaced: fold(spaced.nfc().collect()) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compact(s: &str) -> String {
        normalize(s).compact
    }

    #[test]
    fn every_spelling_of_one_message_reads_the_same() {
        let plain = "죽고싶어요";
        for s in [
            "죽고 싶어요",
            "죽.고.싶.어.요",
            "죽-고 싶어요",
            "죽고\u{2800}싶어요",
            "죽\u{200B}고\u{200D}싶어요",
            "죽고\u{3164}싶어요",
            "\u{110C}\u{116E}\u{11A8}\u{1100}\u{1169} \u{1109}\u{1175}\u{11C1}\u{110B}\u{1165}\u{110B}\u{116D}",
            "ㅈㅜㄱㄱㅗ ㅅㅣㅍㅇㅓㅇㅛ",
            "죽고 시퍼요ㅠㅠ",
            "쥭고 싶어요!!",
            "죽고 싶어요 \u{202E}",
        ] {
            assert_eq!(compact(s), plain, "{s:?}");
        }
        assert_eq!(compact("자·살"), "자살");
        assert_eq!(compact("가슴이 너무 아퍼요"), "가슴이너무아파요");
        assert_eq!(compact("ｉ ｗａｎｔ ｔｏ ｄｉｅ"), "iwanttodie");
        assert_eq!(normalize("I can't breathe").spaced, "i cant breathe");
        assert_eq!(normalize("k.i.l.l myself").compact, "killmyself");
        assert_eq!(normalize("I want to diet").spaced, "i want to diet");
        assert_eq!(compact("웃겨서 숨을 못 쉬겠어요 ㅋㅋㅋ"), "웃겨서숨을못쉬요ㅋㅋ");
        assert_eq!(compact("ㅈㅅ하고 싶어요"), "자살하고싶어요");
        assert_eq!(compact("ㅈㅅ합니다 늦었어요"), "합니다늦었어요");
    }
}
