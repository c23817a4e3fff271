//! Reading the NHIS open-data CSV (DOMAIN.md §2): the header is decoded (CP949 through
//! encoding_rs, or UTF-8 when it is valid UTF-8) and mapped by a normalised alias table, never by
//! position; data rows are ASCII numbers, split on raw bytes (CP949's multi-byte sequences never
//! contain `,` or a newline) and written straight into PostgreSQL's COPY text format. Blank cells
//! are missing; 999 in waist, AST, ALT and γ-GTP is a sentinel, also missing.

use std::io::Write as _;

/// The columns we load, in the order of `health.population_checkups`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Col {
    Year,
    Sido,
    Sex,
    AgeBand,
    Height,
    Weight,
    Waist,
    Systolic,
    Diastolic,
    Glucose,
    TotalCholesterol,
    Triglycerides,
    Hdl,
    Ldl,
    Hemoglobin,
    UrineProtein,
    Creatinine,
    Ast,
    Alt,
    Ggt,
    Smoking,
    Drinking,
}

pub const COLS: [Col; 22] = [
    Col::Year,
    Col::Sido,
    Col::Sex,
    Col::AgeBand,
    Col::Height,
    Col::Weight,
    Col::Waist,
    Col::Systolic,
    Col::Diastolic,
    Col::Glucose,
    Col::TotalCholesterol,
    Col::Triglycerides,
    Col::Hdl,
    Col::Ldl,
    Col::Hemoglobin,
    Col::UrineProtein,
    Col::Creatinine,
    Col::Ast,
    Col::Alt,
    Col::Ggt,
    Col::Smoking,
    Col::Drinking,
];

/// The table's column list for COPY, in [`COLS`] order.
pub const COPY_COLUMNS: &str = "year, sido, sex, age_band, height, weight, waist, systolic, diastolic, fasting_glucose, \
    total_cholesterol, triglycerides, hdl, ldl, hemoglobin, urine_protein, serum_creatinine, ast, alt, ggt, smoking, drinking";

/// Every known spelling, normalised (no whitespace, ASCII lower case): the 2023/2024 layout, the
/// older Korean ones (`신장(5Cm단위)`, `체중(5Kg 단위)`, `(혈청지오티)AST`, and the old files'
/// `(혈청지오티)ALT` typo) and the oldest English codes.
const ALIASES: &[(&str, Col)] = &[
    ("기준년도", Col::Year),
    ("기준연도", Col::Year),
    ("hchk_year", Col::Year),
    ("시도코드", Col::Sido),
    ("sido", Col::Sido),
    ("성별코드", Col::Sex),
    ("성별", Col::Sex),
    ("sex", Col::Sex),
    ("연령대코드(5세단위)", Col::AgeBand),
    ("연령대코드", Col::AgeBand),
    ("age_group", Col::AgeBand),
    ("신장(5cm단위)", Col::Height),
    ("height", Col::Height),
    ("체중(5kg단위)", Col::Weight),
    ("weight", Col::Weight),
    ("허리둘레", Col::Waist),
    ("waist", Col::Waist),
    ("수축기혈압", Col::Systolic),
    ("bp_high", Col::Systolic),
    ("이완기혈압", Col::Diastolic),
    ("bp_lwst", Col::Diastolic),
    ("식전혈당(공복혈당)", Col::Glucose),
    ("식전혈당", Col::Glucose),
    ("blds", Col::Glucose),
    ("총콜레스테롤", Col::TotalCholesterol),
    ("tot_chole", Col::TotalCholesterol),
    ("트리글리세라이드", Col::Triglycerides),
    ("중성지방", Col::Triglycerides),
    ("triglyceride", Col::Triglycerides),
    ("hdl콜레스테롤", Col::Hdl),
    ("hdl_chole", Col::Hdl),
    ("ldl콜레스테롤", Col::Ldl),
    ("ldl_chole", Col::Ldl),
    ("혈색소", Col::Hemoglobin),
    ("hmg", Col::Hemoglobin),
    ("요단백", Col::UrineProtein),
    ("olig_prote_cd", Col::UrineProtein),
    ("혈청크레아티닌", Col::Creatinine),
    ("creatinine", Col::Creatinine),
    ("혈청지오티(ast)", Col::Ast),
    ("(혈청지오티)ast", Col::Ast),
    ("sgot_ast", Col::Ast),
    ("혈청지피티(alt)", Col::Alt),
    ("(혈청지피티)alt", Col::Alt),
    ("(혈청지오티)alt", Col::Alt),
    ("sgpt_alt", Col::Alt),
    ("감마지티피", Col::Ggt),
    ("gamma_gtp", Col::Ggt),
    ("흡연상태", Col::Smoking),
    ("smk_stat_type_cd", Col::Smoking),
    ("음주여부", Col::Drinking),
    ("drk_yn", Col::Drinking),
];

pub fn normalise(header: &str) -> String {
    header
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !c.is_whitespace() && *c != '"')
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// The header's text: UTF-8 when it is valid UTF-8, else CP949 (encoding_rs's EUC-KR is the
/// WHATWG one, i.e. windows-949).
pub fn decode_header(raw: &[u8]) -> (String, &'static str) {
    let raw = raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw);
    match std::str::from_utf8(raw) {
        Ok(s) => (s.to_string(), "UTF-8"),
        Err(_) => {
            let (text, _, _) = encoding_rs::EUC_KR.decode(raw);
            (text.into_owned(), "CP949")
        }
    }
}

/// Where each loaded column sits in a file's rows.
#[derive(Debug, Clone)]
pub struct Layout {
    pub at: [Option<usize>; 22],
    pub width: usize,
    pub encoding: &'static str,
}

impl Layout {
    /// From the decoded header line; the year, sex and age band must be there.
    pub fn from_header(line: &[u8]) -> Result<Self, String> {
        let (text, encoding) = decode_header(line);
        let names: Vec<String> = text.trim_end_matches(['\r', '\n']).split(',').map(normalise).collect();
        let mut at = [None; 22];
        for (i, name) in names.iter().enumerate() {
            if let Some((_, col)) = ALIASES.iter().find(|(alias, _)| alias == name) {
                let slot = COLS.iter().position(|c| c == col).unwrap_or(0);
                at[slot].get_or_insert(i);
            }
        }
        for (need, label) in [(Col::Year, "기준년도"), (Col::Sex, "성별코드"), (Col::AgeBand, "연령대코드")] {
            let slot = COLS.iter().position(|c| *c == need).unwrap_or(0);
            if at[slot].is_none() {
                return Err(format!("the header has no {label} column"));
            }
        }
        Ok(Layout { at, width: names.len(), encoding })
    }

    pub fn mapped(&self) -> usize {
        self.at.iter().filter(|a| a.is_some()).count()
    }
}

/// Splits a CSV line into fields; quoted fields (rare here) are unquoted into `owned`.
fn split<'a>(line: &'a [u8], owned: &'a mut Vec<Vec<u8>>) -> Vec<&'a [u8]> {
    if !line.contains(&b'"') {
        return line.split(|b| *b == b',').collect();
    }
    let mut field = Vec::new();
    let mut quoted = false;
    let mut i = 0;
    while i < line.len() {
        match (line[i], quoted) {
            (b'"', true) if line.get(i + 1) == Some(&b'"') => {
                field.push(b'"');
                i += 1;
            }
            (b'"', q) => quoted = !q,
            (b',', false) => owned.push(std::mem::take(&mut field)),
            (b, _) => field.push(b),
        }
        i += 1;
    }
    owned.push(field);
    owned.iter().map(Vec::as_slice).collect()
}

fn trim(f: &[u8]) -> &[u8] {
    let start = f.iter().position(|b| !b.is_ascii_whitespace()).unwrap_or(f.len());
    let end = f.iter().rposition(|b| !b.is_ascii_whitespace()).map_or(start, |e| e + 1);
    &f[start..end]
}

fn number(f: &[u8]) -> Option<f64> {
    std::str::from_utf8(f).ok()?.parse::<f64>().ok().filter(|v| v.is_finite())
}

/// Why a row was not loaded.
pub type BadRow = &'static str;

/// What one row contributed besides its COPY line.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct RowInfo {
    pub year: i16,
    pub sentinels: u32,
}

/// Parses one data line and appends its COPY text line to `out`; on a bad row `out` is left as
/// it was.
pub fn row_to_copy(line: &[u8], layout: &Layout, out: &mut Vec<u8>) -> Result<RowInfo, BadRow> {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let mut owned = Vec::new();
    let fields = split(line, &mut owned);
    encode(&fields, layout, out)
}

fn encode(fields: &[&[u8]], layout: &Layout, out: &mut Vec<u8>) -> Result<RowInfo, BadRow> {
    if fields.len() != layout.width && !(fields.len() == layout.width + 1 && fields.last().is_some_and(|f| f.is_empty())) {
        return Err("column count differs from the header");
    }
    let start = out.len();
    let mut info = RowInfo::default();
    for (slot, col) in COLS.iter().enumerate() {
        if slot > 0 {
            out.push(b'\t');
        }
        let cell = layout.at[slot].map(|i| trim(fields[i])).unwrap_or(b"");
        if cell.is_empty() {
            if matches!(col, Col::Year | Col::Sex | Col::AgeBand) {
                out.truncate(start);
                return Err("year, sex or age band is blank");
            }
            out.extend_from_slice(b"\\N");
            continue;
        }
        let Some(v) = number(cell).or_else(|| yes_no(*col, cell)) else {
            out.truncate(start);
            return Err("a cell is not a number");
        };
        let ok = match col {
            Col::Year => (1990.0..=2100.0).contains(&v) && v.fract() == 0.0,
            Col::Sex => v == 1.0 || v == 2.0,
            Col::AgeBand => (1.0..=18.0).contains(&v) && v.fract() == 0.0,
            Col::UrineProtein => (1.0..=6.0).contains(&v) && v.fract() == 0.0,
            Col::Smoking => (1.0..=3.0).contains(&v) && v.fract() == 0.0,
            Col::Drinking => v == 0.0 || v == 1.0,
            Col::Sido => (0.0..=99.0).contains(&v) && v.fract() == 0.0,
            _ => v >= 0.0,
        };
        if !ok {
            out.truncate(start);
            return Err("a code is out of range");
        }
        if matches!(col, Col::Waist | Col::Ast | Col::Alt | Col::Ggt) && v == 999.0 {
            info.sentinels += 1;
            out.extend_from_slice(b"\\N");
            continue;
        }
        match col {
            Col::Year => info.year = v as i16,
            Col::Drinking => {
                out.push(if v == 1.0 { b't' } else { b'f' });
                continue;
            }
            _ => {}
        }
        if matches!(col, Col::Year | Col::Sido | Col::Sex | Col::AgeBand | Col::UrineProtein | Col::Smoking) {
            let _ = write!(out, "{}", v as i64);
        } else {
            out.extend_from_slice(cell);
        }
    }
    out.push(b'\n');
    Ok(info)
}

/// `Y`/`N` in the drinking column of the oldest files.
fn yes_no(col: Col, cell: &[u8]) -> Option<f64> {
    match (col, cell) {
        (Col::Drinking, b"Y" | b"y") => Some(1.0),
        (Col::Drinking, b"N" | b"n") => Some(0.0),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NEW: &str = "기준년도,가입자일련번호,시도코드,성별코드,연령대코드(5세단위),신장(5cm단위),체중(5kg단위),허리둘레,시력(좌),시력(우),청력(좌),청력(우),수축기혈압,이완기혈압,식전혈당(공복혈당),총콜레스테롤,트리글리세라이드,HDL콜레스테롤,LDL콜레스테롤,혈색소,요단백,혈청크레아티닌,혈청지오티(AST),혈청지피티(ALT),감마지티피,흡연상태,음주여부,구강검진수검여부,치아우식증유무,결손치 유무,치아마모증유무,제3대구치(사랑니) 이상,치석";

    fn copy(layout: &Layout, line: &str) -> Result<(String, RowInfo), BadRow> {
        let mut out = Vec::new();
        let info = row_to_copy(line.as_bytes(), layout, &mut out)?;
        Ok((String::from_utf8(out).unwrap(), info))
    }

    #[test]
    fn the_2024_layout_in_cp949_maps_every_column_by_name() {
        let (cp949, _, _) = encoding_rs::EUC_KR.encode(NEW);
        let layout = Layout::from_header(&cp949).unwrap();
        assert_eq!((layout.width, layout.mapped(), layout.encoding), (33, 22, "CP949"));
        let (line, info) = copy(
            &layout,
            "2024,1,11,1,9,170,70,85.5,1.0,1.2,1,1,128,82,99,190,150,55,105,15.1,1,0.9,999,25,40,1,1,Y,0,0,0,0,1\r\n",
        )
        .unwrap();
        assert_eq!(
            line,
            "2024\t11\t1\t9\t170\t70\t85.5\t128\t82\t99\t190\t150\t55\t105\t15.1\t1\t0.9\t\\N\t25\t40\t1\tt\n"
        );
        assert_eq!(info, RowInfo { year: 2024, sentinels: 1 });
    }

    #[test]
    fn old_spellings_and_english_codes_are_aliases() {
        let old = "기준년도,성별코드,시도코드,연령대 코드(5세단위),신장(5Cm단위),체중(5Kg 단위),허리둘레,(혈청지오티)AST,(혈청지오티)ALT,감마지티피,치석유무,데이터 기준일자";
        let l = Layout::from_header(old.as_bytes()).unwrap();
        assert_eq!((l.mapped(), l.encoding), (10, "UTF-8"));
        let (line, _) = copy(&l, "2019,2,41,12,155,55,,30,22,18,0,2019-12-31").unwrap();
        assert!(line.starts_with("2019\t41\t2\t12\t155\t55\t\\N\t"), "{line}");
        let eng = "HCHK_YEAR,IDV_ID,SIDO,SEX,AGE_GROUP,HEIGHT,WEIGHT,WAIST,BP_HIGH,BP_LWST,BLDS,TOT_CHOLE,TRIGLYCERIDE,HDL_CHOLE,LDL_CHOLE,HMG,OLIG_PROTE_CD,CREATININE,SGOT_AST,SGPT_ALT,GAMMA_GTP,SMK_STAT_TYPE_CD,DRK_YN";
        let l = Layout::from_header(eng.as_bytes()).unwrap();
        assert_eq!(l.mapped(), 22);
        let (line, _) = copy(&l, "2015,7,26,2,8,160,55,70,118,78,91,201,80,60,125,13.1,1,0.7,20,15,12,1,N").unwrap();
        assert!(line.ends_with("\t1\tf\n"), "{line}");
        assert!(Layout::from_header("이름,나이".as_bytes()).is_err());
    }

    #[test]
    fn bad_rows_are_refused_whole() {
        let l = Layout::from_header(NEW.as_bytes()).unwrap();
        let good = "2024,1,11,1,9,170,70,85,1.0,1.2,1,1,128,82,99,190,150,55,105,15.1,1,0.9,20,25,40,1,1,Y,0,0,0,0,1";
        assert!(copy(&l, good).is_ok());
        for (bad, why) in [
            ("2024,1,11,1,9,170", "column count differs from the header"),
            (&good.replacen(",1,11,1,9,", ",1,11,3,9,", 1), "a code is out of range"),
            (&good.replacen(",1,11,1,9,", ",1,11,1,19,", 1), "a code is out of range"),
            (&good.replacen(",128,", ",abc,", 1), "a cell is not a number"),
            (&good.replacen("2024,", ",", 1), "year, sex or age band is blank"),
        ] {
            assert_eq!(copy(&l, bad).unwrap_err(), why, "{bad}");
        }
        let quoted = good.replacen(",170,", ",\"170\",", 1);
        assert!(copy(&l, &quoted).is_ok());
    }
}
