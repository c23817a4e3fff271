//! Property tests of the guard over arbitrary text (a fixed budget of cases): normalising and
//! checking never panic, and normalising its own compact form changes nothing.

use super::{check, normalize};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_text_is_checked_without_panicking(text in "\\PC{0,200}", noise in "[\u{0}-\u{3000}\u{E0000}-\u{E007F}\u{1100}-\u{11FF}]{0,40}") {
        let _ = check(&text);
        let _ = check(&format!("{noise}{text}{noise}"));
        let once = normalize(&text);
        let twice = normalize(&once.compact);
        prop_assert_eq!(&once.compact, &twice.compact);
    }
}
