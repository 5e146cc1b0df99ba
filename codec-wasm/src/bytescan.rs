//! Byte searches eight bytes at a time (SWAR on `u64`): the newline search and the runs of
//! plain string bytes in JSON are most of the time spent reading a stream, and wasm has
//! 64-bit integers everywhere, SIMD not.
//!
//! Every mask below is exact per byte (no carry crosses a byte), so the lowest set bit names
//! the first matching byte.

const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
const HIGH: u64 = 0x8080_8080_8080_8080;
const ONES: u64 = 0x0101_0101_0101_0101;

/// High bit set in each byte of `word` equal to `byte`.
#[inline(always)]
fn equal_mask(word: u64, byte: u8) -> u64 {
    let diff = word ^ (ONES * byte as u64);
    // A byte is zero when neither its low seven bits carry into bit 7 nor bit 7 is set.
    !(((diff & LOW7) + LOW7) | diff) & HIGH
}

/// High bit set in each byte that ends a run of unescaped JSON string bytes: a control
/// (< 0x20), `"` or `\`.
#[inline(always)]
fn string_end_mask(word: u64) -> u64 {
    let below_space = !(((word & LOW7) + ONES * 0x60) | word) & HIGH;
    below_space | equal_mask(word, b'"') | equal_mask(word, b'\\')
}

/// High bit set in each byte that is not printable ASCII or is `"` or `\`: what ends a run
/// of string bytes as Python's `ensure_ascii` writes them. Computed on each byte's low seven
/// bits `t` (no sum below carries out of its byte): `t + 0x60` reaches bit 7 from 0x20 up,
/// `t + 1` only at 0x7f, and the byte's own bit 7 marks 0x80 up; `t ^ c` is zero only where
/// the byte is `c`, and adding 0x7f sets bit 7 wherever it is not. Fewer operations than
/// asking each question on its own: this runs over every byte of every string in a line.
#[inline(always)]
fn ascii_string_end_mask(word: u64) -> u64 {
    let t = word & LOW7;
    let outside = !(t + ONES * 0x60) | (t + ONES) | word;
    let quote = !((t ^ (ONES * b'"' as u64)) + LOW7);
    let backslash = !((t ^ (ONES * b'\\' as u64)) + LOW7);
    (outside | quote | backslash) & HIGH
}

/// The first eight bytes as a little-endian word (0 when fewer: callers pass exact chunks).
#[inline(always)]
fn word_of(bytes: &[u8]) -> u64 {
    bytes.first_chunk::<8>().map_or(0, |w| u64::from_le_bytes(*w))
}

/// Index of the first `needle` in `haystack`. Sixteen bytes a round: lines are long, and
/// one test for two words halves the loop's branches.
#[inline]
pub fn find_byte(needle: u8, haystack: &[u8]) -> Option<usize> {
    let mut at = 0;
    let mut pairs = haystack.chunks_exact(16);
    for pair in &mut pairs {
        let (low, high) = (equal_mask(word_of(pair), needle), equal_mask(word_of(&pair[8..]), needle));
        if low | high != 0 {
            let first = if low != 0 { low.trailing_zeros() } else { 64 + high.trailing_zeros() };
            return Some(at + (first / 8) as usize);
        }
        at += 16;
    }
    let rest = pairs.remainder();
    let mut words = rest.chunks_exact(8);
    for chunk in &mut words {
        let mask = equal_mask(word_of(chunk), needle);
        if mask != 0 {
            return Some(at + (mask.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words.remainder().iter().position(|&b| b == needle).map(|i| at + i)
}

/// How many leading bytes a JSON string may hold unescaped: anything but controls, `"`
/// and `\`.
#[inline]
pub fn plain_string_len(bytes: &[u8]) -> usize {
    leading_run(bytes, string_end_mask, ends_string)
}

/// How many leading bytes are printable ASCII other than `"` and `\` (what a JSON string
/// written with `ensure_ascii` holds unescaped).
#[inline]
pub fn plain_ascii_len(bytes: &[u8]) -> usize {
    leading_run(bytes, ascii_string_end_mask, |b| ends_string(b) || b >= 0x7f)
}

#[inline(always)]
fn leading_run(bytes: &[u8], word_mask: impl Fn(u64) -> u64, ends: impl Fn(u8) -> bool) -> usize {
    let mut at = 0;
    let mut words = bytes.chunks_exact(8);
    for chunk in &mut words {
        let mask = word_mask(word_of(chunk));
        if mask != 0 {
            return at + (mask.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    let tail = words.remainder();
    at + tail.iter().position(|&b| ends(b)).unwrap_or(tail.len())
}

fn ends_string(b: u8) -> bool {
    b < 0x20 || b == b'"' || b == b'\\'
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte value at every position of a word and in the tail, against the plain loop.
    #[test]
    fn agrees_with_the_byte_loop_for_every_byte_at_every_position() {
        for len in 0..40 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    assert_eq!(find_byte(b'\n', &bytes), bytes.iter().position(|&x| x == b'\n'), "{bytes:?}");
                    assert_eq!(find_byte(b, &bytes), Some(at.min(bytes.iter().position(|&x| x == b).unwrap())));
                    let plain = bytes.iter().position(|&x| ends_string(x) || x >= 0x7f).unwrap_or(len);
                    assert_eq!(plain_ascii_len(&bytes), plain, "{bytes:?}");
                    let plain = bytes.iter().position(|&x| ends_string(x)).unwrap_or(len);
                    assert_eq!(plain_string_len(&bytes), plain, "{bytes:?}");
                }
            }
        }
    }

    /// Two special bytes in one word: the first one counts, whatever the second.
    #[test]
    fn the_first_of_several_matches_is_found() {
        for first in 0..8 {
            for second in first + 1..8 {
                for (x, y) in [(0x00u8, 0xffu8), (0x1f, b'"'), (0x7f, b'\\'), (0x80, 0x00), (b'"', b'"')] {
                    let mut bytes = *b"abcdefghij";
                    bytes[first] = x;
                    bytes[second] = y;
                    assert_eq!(plain_ascii_len(&bytes), first);
                    let expected = bytes.iter().position(|&b| ends_string(b)).unwrap_or(bytes.len());
                    assert_eq!(plain_string_len(&bytes), expected);
                }
                let mut bytes = *b"abcdefghij";
                bytes[first] = b'\n';
                bytes[second] = b'\n';
                assert_eq!(find_byte(b'\n', &bytes), Some(first));
            }
        }
    }
}
