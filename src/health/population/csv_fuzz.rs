//! Property tests of the open-data parser over arbitrary bytes and mangled real rows (a fixed
//! budget of cases, seeded by proptest): it never panics, a refused row leaves the COPY buffer
//! exactly as it was, and an accepted one adds one line of the 22 loaded columns.

use super::csv::{Layout, row_to_copy};
use proptest::prelude::*;

const HEADER: &str = "기준년도,가입자일련번호,시도코드,성별코드,연령대코드(5세단위),신장(5cm단위),체중(5kg단위),허리둘레,시력(좌),시력(우),청력(좌),청력(우),수축기혈압,이완기혈압,식전혈당(공복혈당),총콜레스테롤,트리글리세라이드,HDL콜레스테롤,LDL콜레스테롤,혈색소,요단백,혈청크레아티닌,혈청지오티(AST),혈청지피티(ALT),감마지티피,흡연상태,음주여부,구강검진수검여부,치아우식증유무,결손치 유무,치아마모증유무,제3대구치(사랑니) 이상,치석";
const ROW: &str = "2024,1,11,1,9,170,70,85.5,1.0,1.2,1,1,128,82,99,190,150,55,105,15.1,1,0.9,999,25,40,1,1,Y,0,0,0,0,1\r\n";

/// A real row with some of its bytes replaced, inserted or removed.
fn mangled_row() -> impl Strategy<Value = Vec<u8>> {
    let edits = prop::collection::vec((any::<prop::sample::Index>(), any::<u8>(), 0u8..3), 0..6);
    edits.prop_map(|edits| {
        let mut row = ROW.as_bytes().to_vec();
        for (at, byte, kind) in edits {
            let len = row.len();
            let i = at.index(len.max(1));
            match kind {
                0 if len > 0 => row[i.min(len - 1)] = byte,
                1 => row.insert(i.min(len), byte),
                _ if len > 0 => {
                    row.remove(i.min(len - 1));
                }
                _ => {}
            }
        }
        row
    })
}

fn check_row(layout: &Layout, line: &[u8]) {
    let mut out = b"previous\n".to_vec();
    match row_to_copy(line, layout, &mut out) {
        Ok(_) => {
            let added = &out[b"previous\n".len()..];
            assert_eq!(added.last(), Some(&b'\n'), "an accepted row ends its COPY line");
            assert_eq!(added.iter().filter(|b| **b == b'\t').count(), 21, "22 columns");
            assert_eq!(added.iter().filter(|b| **b == b'\n').count(), 1, "one line");
        }
        Err(_) => assert_eq!(out, b"previous\n", "a refused row leaves the buffer as it was"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn any_header_bytes_are_a_layout_or_a_reason(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let _ = Layout::from_header(&bytes);
    }

    #[test]
    fn arbitrary_rows_never_panic_and_never_half_write(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let layout = Layout::from_header(HEADER.as_bytes()).unwrap();
        check_row(&layout, &bytes);
    }

    #[test]
    fn mangled_real_rows_never_panic_and_never_half_write(row in mangled_row()) {
        let layout = Layout::from_header(HEADER.as_bytes()).unwrap();
        check_row(&layout, &row);
        let (cp949, _, _) = encoding_rs::EUC_KR.encode(HEADER);
        check_row(&Layout::from_header(&cp949).unwrap(), &row);
    }
}
