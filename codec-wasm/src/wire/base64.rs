//! Standard padded base64, as the `zipfile` frames carry it.
//!
//! The decoder is incremental and knows from the announced archive size exactly how many
//! base64 characters belong to the archive (`4 * ceil(n / 3)`), skipping the whitespace that
//! upstream also skips (Python's `bytes.split()` set) between them.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const INVALID: u8 = 0xff;
const WHITESPACE: u8 = 0xfe;
const PAD: u8 = 0xfd;

const DECODE: [u8; 256] = {
    let mut table = [INVALID; 256];
    let mut i = 0;
    while i < 64 {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table[b' ' as usize] = WHITESPACE;
    table[b'\t' as usize] = WHITESPACE;
    table[b'\n' as usize] = WHITESPACE;
    table[b'\r' as usize] = WHITESPACE;
    table[0x0b] = WHITESPACE;
    table[0x0c] = WHITESPACE;
    table[b'=' as usize] = PAD;
    table
};

/// Number of base64 characters that encode `n` bytes.
pub fn encoded_len(n: u64) -> u64 {
    n.div_ceil(3) * 4
}

/// The two characters of every 12 bits, as one little-endian `u16`: half the lookups of one
/// per 6 bits, and eight characters go out in one store (archives, the bulk of a job
/// stream, go through here).
const PAIRS: [u16; 4096] = {
    let mut table = [0u16; 4096];
    let mut i = 0;
    while i < 4096 {
        table[i] = ALPHABET[i >> 6] as u16 | (ALPHABET[i & 63] as u16) << 8;
        i += 1;
    }
    table
};

/// Appends the padded base64 of `input` to `out`.
pub fn encode(input: &[u8], out: &mut Vec<u8>) {
    let start = out.len();
    out.resize(start + encoded_len(input.len() as u64) as usize, 0);
    let dst = &mut out[start..];
    let sextet = |n: u32, shift: u32| ALPHABET[(n >> shift) as usize & 63];
    // Six bytes a step, read as one 8-byte load (so the last step stops 2 bytes short),
    // written in place as eight characters in one 8-byte store.
    let steps = input.len().saturating_sub(2) / 6;
    for (i, d) in dst.chunks_exact_mut(8).take(steps).enumerate() {
        let at = i * 6;
        let word: [u8; 8] = input[at..at + 8].try_into().unwrap_or_default();
        let n = u64::from_be_bytes(word) >> 16;
        let pair = |shift: u32| u64::from(PAIRS[(n >> shift) as usize & 0xfff]);
        let chars = pair(36) | pair(24) << 16 | pair(12) << 32 | pair(0) << 48;
        d.copy_from_slice(&chars.to_le_bytes());
    }
    let done = steps * 6;
    let (input, dst) = (&input[done..], &mut dst[done / 3 * 4..]);
    let mut groups = input.chunks_exact(3);
    let mut slots = dst.chunks_exact_mut(4);
    for (c, d) in (&mut groups).zip(&mut slots) {
        let n = (u32::from(c[0]) << 16) | (u32::from(c[1]) << 8) | u32::from(c[2]);
        d.copy_from_slice(&[sextet(n, 18), sextet(n, 12), sextet(n, 6), sextet(n, 0)]);
    }
    let last = match *groups.remainder() {
        [a] => {
            let n = u32::from(a) << 16;
            [sextet(n, 18), sextet(n, 12), b'=', b'=']
        }
        [a, b] => {
            let n = (u32::from(a) << 16) | (u32::from(b) << 8);
            [sextet(n, 18), sextet(n, 12), sextet(n, 6), b'=']
        }
        _ => return,
    };
    if let Some(d) = slots.next() {
        d.copy_from_slice(&last);
    }
}

/// A bad byte inside the base64 text: its index in the slice given to [`Decoder::decode`].
#[derive(Debug, PartialEq, Eq)]
pub struct BadByte {
    pub index: usize,
    pub message: String,
}

/// Incremental decoder for exactly `expected` bytes of payload.
#[derive(Debug)]
pub struct Decoder {
    /// Payload bytes still to produce.
    remaining_bytes: u64,
    quad: [u8; 4],
    quad_len: usize,
}

impl Decoder {
    pub fn new(expected: u64) -> Self {
        Decoder { remaining_bytes: expected, quad: [0; 4], quad_len: 0 }
    }

    /// True once every base64 character of the payload has been consumed.
    pub fn is_done(&self) -> bool {
        self.remaining_bytes == 0 && self.quad_len == 0
    }

    /// Base64 characters (whitespace aside) still to come before the payload is complete.
    pub fn remaining_chars(&self) -> u64 {
        if self.quad_len == 0 {
            return encoded_len(self.remaining_bytes);
        }
        // The quad under way still yields up to three bytes.
        let rest_of_quad = (4 - self.quad_len) as u64;
        rest_of_quad + encoded_len(self.remaining_bytes.saturating_sub(3))
    }

    /// Decodes from `input`, appending payload bytes to `out`; returns how many input bytes
    /// were consumed. Consumption stops right after the payload's last character, so the
    /// next frame may start in the same slice.
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, BadByte> {
        let mut i = 0;
        while i < input.len() && !self.is_done() {
            // Fast path: whole quads that are not the last one.
            if self.quad_len == 0 && self.remaining_bytes > 3 {
                let quads = ((input.len() - i) / 4).min(((self.remaining_bytes - 1) / 3) as usize);
                let mut done = 0;
                while done < quads {
                    let q = &input[i..i + 4];
                    let (a, b, c, d) =
                        (DECODE[q[0] as usize], DECODE[q[1] as usize], DECODE[q[2] as usize], DECODE[q[3] as usize]);
                    if (a | b | c | d) & 0xc0 != 0 {
                        break; // whitespace, padding or junk: take the careful path
                    }
                    let n = (u32::from(a) << 18) | (u32::from(b) << 12) | (u32::from(c) << 6) | u32::from(d);
                    out.extend_from_slice(&[(n >> 16) as u8, (n >> 8) as u8, n as u8]);
                    i += 4;
                    done += 1;
                }
                self.remaining_bytes -= 3 * done as u64;
                if done == quads && done > 0 {
                    continue;
                }
            }
            if i >= input.len() {
                break;
            }
            let byte = input[i];
            let value = DECODE[byte as usize];
            if value == WHITESPACE {
                i += 1;
                continue;
            }
            let in_last_quad = self.remaining_bytes <= 3;
            // Padding positions in the last quad: 1 byte -> "xx==", 2 bytes -> "xxx=".
            let pad_from = if in_last_quad { 1 + self.remaining_bytes as usize } else { 4 };
            if value == PAD {
                if self.quad_len < pad_from {
                    return Err(BadByte { index: i, message: "unexpected '=' padding inside base64 data".into() });
                }
            } else if value == INVALID {
                return Err(BadByte { index: i, message: format!("invalid base64 character {}", show_byte(byte)) });
            } else if self.quad_len >= pad_from {
                return Err(BadByte { index: i, message: "expected '=' padding at the end of base64 data".into() });
            }
            self.quad[self.quad_len] = if value == PAD { 0 } else { value };
            self.quad_len += 1;
            i += 1;
            if self.quad_len == 4 {
                let q = self.quad;
                let n = (u32::from(q[0]) << 18) | (u32::from(q[1]) << 12) | (u32::from(q[2]) << 6) | u32::from(q[3]);
                let bytes = [(n >> 16) as u8, (n >> 8) as u8, n as u8];
                let take = self.remaining_bytes.min(3) as usize;
                out.extend_from_slice(&bytes[..take]);
                self.remaining_bytes -= take as u64;
                self.quad_len = 0;
            }
        }
        Ok(i)
    }
}

fn show_byte(b: u8) -> String {
    if b.is_ascii_graphic() {
        format!("'{}'", b as char)
    } else {
        format!("0x{b:02x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(n: u64, input: &[u8]) -> Result<(Vec<u8>, usize), BadByte> {
        let mut d = Decoder::new(n);
        let mut out = Vec::new();
        let used = d.decode(input, &mut out)?;
        assert!(d.is_done(), "decoder not done after {used} bytes");
        Ok((out, used))
    }

    #[test]
    fn round_trips_every_remainder_and_stops_at_the_payload_end() {
        for len in 0..40u8 {
            let data: Vec<u8> = (0..len).map(|i| i.wrapping_mul(37)).collect();
            let mut text = Vec::new();
            encode(&data, &mut text);
            assert_eq!(text.len() as u64, encoded_len(len as u64));
            text.extend_from_slice(b"{\"eof\": true}\n");
            let (out, used) = decode_all(len as u64, &text).unwrap();
            assert_eq!(out, data);
            assert_eq!(&text[used..], b"{\"eof\": true}\n");
        }
    }

    /// The table-driven encoder against the definition, one sextet at a time.
    #[test]
    fn encoding_matches_the_definition_at_every_length() {
        let reference = |data: &[u8]| {
            let bits: Vec<bool> = data.iter().flat_map(|b| (0..8).rev().map(move |i| b >> i & 1 == 1)).collect();
            let mut text: Vec<u8> = bits.chunks(6).map(|c| ALPHABET[c.iter().chain(std::iter::repeat(&false)).take(6).fold(0, |n, &b| n << 1 | usize::from(b))]).collect();
            while text.len() % 4 != 0 {
                text.push(b'=');
            }
            text
        };
        let data: Vec<u8> = (0..1500u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8).collect();
        for len in (0..64).chain([255, 256, 1499, 1500]) {
            let mut text = b"prefix".to_vec();
            encode(&data[..len], &mut text);
            assert_eq!(&text[6..], &reference(&data[..len])[..], "length {len}");
        }
        let mut hello = Vec::new();
        encode(b"hello world", &mut hello);
        assert_eq!(hello, b"aGVsbG8gd29ybGQ=");
    }

    #[test]
    fn skips_python_whitespace_in_wrapped_base64() {
        let (out, used) = decode_all(5, b"aGVs\n bG8=\x0b!").unwrap();
        assert_eq!(out, b"hello");
        assert_eq!(used, 10);
    }

    #[test]
    fn any_chunking_gives_the_same_bytes() {
        let data: Vec<u8> = (0..1000u32).map(|i| (i * 7 % 251) as u8).collect();
        let mut text = Vec::new();
        encode(&data, &mut text);
        for step in [1, 2, 3, 5, 7, 64, 999] {
            let mut d = Decoder::new(data.len() as u64);
            let mut out = Vec::new();
            for chunk in text.chunks(step) {
                assert_eq!(d.decode(chunk, &mut out).unwrap(), chunk.len());
            }
            assert!(d.is_done());
            assert_eq!(out, data);
        }
    }

    #[test]
    fn rejects_junk_and_misplaced_padding_with_the_index() {
        assert_eq!(decode_all(6, b"aGVs*G8h").unwrap_err().index, 4);
        assert_eq!(decode_all(6, b"aG=sbG8h").unwrap_err().index, 2);
        // 5 bytes need exactly one '=' at the end.
        assert_eq!(decode_all(5, b"aGVsbG8h").unwrap_err().index, 7);
        assert_eq!(decode_all(5, b"aGVsbG==").unwrap_err().index, 6);
        assert_eq!(decode_all(4, b"aGVsbG==").unwrap().0, b"hell");
    }
}
