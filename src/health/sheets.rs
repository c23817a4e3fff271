//! What a result sheet's bytes must be: a PDF, PNG or JPEG whose structure holds from the first
//! byte to the last, checked while it streams in (only the head, the tail and the PNG chunk walk
//! are kept, never the file):
//! - PDF: starts `%PDF-`, and its last line is `%%EOF` (ISO 32000-1 §7.5.5: the trailer ends the
//!   file); only whitespace may follow it.
//! - PNG: the signature, `IHDR` first (13 bytes, width and height > 0), chunks one after another
//!   whose lengths add up, `IEND` last and nothing after it (PNG spec, 3rd ed., §5).
//! - JPEG: SOI (`FF D8`) and a marker right after it, EOI (`FF D9`) as the last two bytes
//!   (ITU-T T.81 Annex B).

/// A kind of result sheet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SheetKind {
    Pdf,
    Png,
    Jpeg,
}

impl SheetKind {
    pub fn content_type(self) -> &'static str {
        match self {
            SheetKind::Pdf => "application/pdf",
            SheetKind::Png => "image/png",
            SheetKind::Jpeg => "image/jpeg",
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            SheetKind::Pdf => "pdf",
            SheetKind::Png => "png",
            SheetKind::Jpeg => "jpg",
        }
    }
}

const PNG_SIGNATURE: &[u8] = &[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];
/// How much of the end is kept: a PDF's `%%EOF` line is looked for in its last 1024 bytes.
const TAIL: usize = 1024;
/// How much of the start is needed to tell the kind (PNG: signature + IHDR header and size).
pub const HEAD: usize = 24;

/// The kind the first bytes announce, if any (`None` until [`HEAD`] bytes or the end).
pub fn announced(head: &[u8]) -> Option<SheetKind> {
    if head.starts_with(b"%PDF-") {
        Some(SheetKind::Pdf)
    } else if head.starts_with(PNG_SIGNATURE) {
        Some(SheetKind::Png)
    } else if head.len() >= 4 && head.starts_with(&[0xFF, 0xD8, 0xFF]) && head[3] >= 0xC0 && head[3] != 0xFF {
        Some(SheetKind::Jpeg)
    } else {
        None
    }
}

/// Follows a file's bytes as they arrive and says at the end whether it is a whole sheet.
#[derive(Debug)]
pub struct SheetCheck {
    head: Vec<u8>,
    tail: Vec<u8>,
    len: u64,
    png: PngWalk,
}

#[derive(Debug, Default)]
struct PngWalk {
    /// Where the next chunk's header starts (after the signature: 8).
    next: u64,
    header: Vec<u8>,
    chunks: u32,
    iend_end: Option<u64>,
    broken: bool,
}

impl Default for SheetCheck {
    fn default() -> Self {
        Self::new()
    }
}

impl SheetCheck {
    pub fn new() -> Self {
        SheetCheck {
            head: Vec::new(),
            tail: Vec::new(),
            len: 0,
            png: PngWalk { next: PNG_SIGNATURE.len() as u64, ..Default::default() },
        }
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The first bytes seen (at most [`HEAD`]).
    pub fn head(&self) -> &[u8] {
        &self.head
    }

    pub fn feed(&mut self, chunk: &[u8]) {
        let start = self.len;
        if self.head.len() < HEAD {
            let take = (HEAD - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        if chunk.len() >= TAIL {
            self.tail.clear();
            self.tail.extend_from_slice(&chunk[chunk.len() - TAIL..]);
        } else {
            self.tail.extend_from_slice(chunk);
            let over = self.tail.len().saturating_sub(TAIL);
            self.tail.drain(..over);
        }
        self.len += chunk.len() as u64;
        if self.head.starts_with(PNG_SIGNATURE) || self.head.len() < PNG_SIGNATURE.len() {
            self.png.feed(chunk, start);
        }
    }

    /// The kind, when the whole file is one.
    pub fn verdict(&self) -> Option<SheetKind> {
        let kind = announced(&self.head)?;
        let whole = match kind {
            SheetKind::Pdf => pdf_ends(&self.tail),
            SheetKind::Png => self.png_whole(),
            SheetKind::Jpeg => self.len >= 6 && self.tail.ends_with(&[0xFF, 0xD9]),
        };
        whole.then_some(kind)
    }

    fn png_whole(&self) -> bool {
        let ihdr = self.head.len() >= HEAD
            && self.head[8..16] == [0, 0, 0, 13, b'I', b'H', b'D', b'R']
            && self.head[16..20] != [0, 0, 0, 0]
            && self.head[20..24] != [0, 0, 0, 0];
        ihdr && !self.png.broken && self.png.iend_end == Some(self.len) && self.png.next == self.len
    }
}

impl PngWalk {
    fn feed(&mut self, chunk: &[u8], start: u64) {
        let end = start + chunk.len() as u64;
        while !self.broken {
            let at = self.next + self.header.len() as u64;
            if at >= end || at < start {
                return;
            }
            let i = (at - start) as usize;
            let take = (8 - self.header.len()).min(chunk.len() - i);
            self.header.extend_from_slice(&chunk[i..i + take]);
            if self.header.len() < 8 {
                return;
            }
            let len = u32::from_be_bytes([self.header[0], self.header[1], self.header[2], self.header[3]]);
            let kind = &self.header[4..8];
            let first_is_ihdr = self.chunks > 0 || kind == b"IHDR";
            if len > i32::MAX as u32 || !kind.iter().all(u8::is_ascii_alphabetic) || !first_is_ihdr || self.iend_end.is_some()
            {
                self.broken = true;
                return;
            }
            let chunk_end = self.next + 8 + u64::from(len) + 4;
            if kind == b"IEND" {
                self.iend_end = Some(chunk_end);
            }
            self.chunks += 1;
            self.next = chunk_end;
            self.header.clear();
        }
    }
}

fn pdf_ends(tail: &[u8]) -> bool {
    let Some(at) = tail.windows(5).rposition(|w| w == b"%%EOF") else { return false };
    tail[at + 5..].iter().all(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n' | 0x0C | 0x00))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(parts: &[&[u8]]) -> Option<SheetKind> {
        let mut c = SheetCheck::new();
        for p in parts {
            c.feed(p);
        }
        c.verdict()
    }

    fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut out = (data.len() as u32).to_be_bytes().to_vec();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        out.extend_from_slice(&[0, 0, 0, 0]); // the CRC is not checked
        out
    }

    pub fn png() -> Vec<u8> {
        let mut out = PNG_SIGNATURE.to_vec();
        out.extend(png_chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 0, 0, 0, 0]));
        out.extend(png_chunk(b"IDAT", &[0x78, 0x9C, 0x63, 0, 0, 0, 2, 0, 1]));
        out.extend(png_chunk(b"IEND", &[]));
        out
    }

    #[test]
    fn whole_sheets_pass_in_any_split() {
        let pdf = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".to_vec();
        let jpeg = [&[0xFF, 0xD8, 0xFF, 0xE0, 0, 16][..], b"JFIF\0 data", &[0xFF, 0xD9]].concat();
        for (file, kind) in [(pdf, SheetKind::Pdf), (png(), SheetKind::Png), (jpeg, SheetKind::Jpeg)] {
            assert_eq!(check(&[&file]), Some(kind));
            for split in 1..file.len() {
                let (a, b) = file.split_at(split);
                assert_eq!(check(&[a, b]), Some(kind), "split at {split}");
            }
            let bytes: Vec<&[u8]> = file.chunks(1).collect();
            assert_eq!(check(&bytes), Some(kind), "byte by byte");
        }
    }

    #[test]
    fn a_right_start_with_anything_after_it_is_refused() {
        let mut png_then_html = PNG_SIGNATURE.to_vec();
        png_then_html.extend_from_slice(b"<html><script>alert(1)</script></html>");
        let mut png_trailing = png();
        png_trailing.extend_from_slice(b"<html>");
        let mut png_cut = png();
        png_cut.truncate(png_cut.len() - 4);
        let mut no_ihdr = PNG_SIGNATURE.to_vec();
        no_ihdr.extend(png_chunk(b"IEND", &[]));
        for bad in [
            png_then_html,
            png_trailing,
            png_cut,
            no_ihdr,
            vec![0xFF, 0xD8, 0xFF],
            vec![0xFF, 0xD8, 0xFF, 0xE0, 1, 2, 3],
            b"%PDF-1.7\n<html>".to_vec(),
            b"%PDF-1.7\n%%EOF\n<html>".to_vec(),
            b"GIF89a....".to_vec(),
            Vec::new(),
        ] {
            assert_eq!(check(&[&bad]), None, "{:?}", String::from_utf8_lossy(&bad));
        }
    }
}
