use super::long_float_repr;
use crate::pyjson::float_repr::write_json_float;

/// The slow check it stands in for: parse, write repr, compare.
fn slow(text: &[u8]) -> bool {
    let Some(value) = std::str::from_utf8(text).ok().and_then(|t| t.parse::<f64>().ok()) else { return false };
    let mut out = Vec::new();
    write_json_float(value, &mut out);
    out == text
}

fn fast(text: &[u8]) -> bool {
    long_float_repr(text, &mut Vec::new())
}

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // splitmix64
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

fn repr(value: f64) -> Vec<u8> {
    let mut out = Vec::new();
    write_json_float(value, &mut out);
    out
}

fn significant_digits(text: &[u8]) -> usize {
    let mantissa = text.split(|&b| b == b'e').next().unwrap_or(b"");
    let digits: Vec<u8> = mantissa.iter().copied().filter(u8::is_ascii_digit).skip_while(|&d| d == b'0').collect();
    digits.len()
}

/// Texts near `text`: the last digit moved either way, a digit more or fewer, the other
/// layout, a sign, an exponent spelled differently.
fn near_misses(text: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let last = text.iter().rposition(u8::is_ascii_digit).unwrap();
    for delta in [1u8, 9] {
        let mut t = text.to_vec();
        if t[last].is_ascii_digit() {
            t[last] = b'0' + (t[last] - b'0' + delta) % 10;
            out.push(t);
        }
    }
    let mantissa_end = text.iter().position(|&b| b == b'e').unwrap_or(text.len());
    for extra in [b'0', b'1', b'5', b'9'] {
        let mut t = text[..mantissa_end].to_vec();
        t.push(extra);
        t.extend_from_slice(&text[mantissa_end..]);
        out.push(t);
    }
    let mut shorter = text[..mantissa_end].to_vec();
    if shorter.last().is_some_and(u8::is_ascii_digit) && shorter.len() > 3 && shorter[shorter.len() - 2] != b'.' {
        shorter.pop();
        shorter.extend_from_slice(&text[mantissa_end..]);
        out.push(shorter);
    }
    let value: f64 = std::str::from_utf8(text).unwrap().parse().unwrap();
    out.push(format!("{value:e}").into_bytes());
    out.push(format!("{value:E}").into_bytes());
    out.push(format!("{:.17e}", value).into_bytes());
    out.push(format!("{:.16e}", value).into_bytes());
    out.push(format!("{:.17}", value).into_bytes());
    out.push([b"-".as_slice(), text].concat());
    if let Some(rest) = text.strip_prefix(b"-") {
        out.push(rest.to_vec());
    }
    if let Some(e) = text.iter().position(|&b| b == b'e') {
        out.push([&text[..e], b"E", &text[e + 1..]].concat());
        out.push([&text[..e + 2], b"0", &text[e + 2..]].concat());
    }
    out
}

/// Whatever it takes, the slow check takes: repr's output of doubles from every part of
/// the range (random bits, random() alike, durations, values by powers of ten and two,
/// subnormals) and texts next to each.
#[test]
fn long_floats_are_taken_only_when_they_are_their_repr() {
    let mut rng = Rng(0x5eed);
    let (mut long, mut taken) = (0, 0);
    let check = |text: &[u8]| {
        if fast(text) {
            assert!(slow(text), "taken but not its repr: {}", String::from_utf8_lossy(text));
            true
        } else {
            false
        }
    };
    for i in 0..300_000u64 {
        let value = match i % 6 {
            0 => f64::from_bits(rng.next()),
            1 => (rng.next() >> 11) as f64 / (1u64 << 53) as f64,
            2 => 0.001 + 3.0 * ((rng.next() >> 11) as f64 / (1u64 << 53) as f64),
            3 => ((rng.next() >> 11) as f64 / (1u64 << 53) as f64) * 10f64.powi(rng.below(40) as i32 - 20),
            4 => f64::from_bits(rng.below(1 << 53)),
            _ => 2f64.powi(rng.below(200) as i32 - 100) * (1.0 + (rng.below(16) as f64 - 8.0) * f64::EPSILON),
        };
        if !value.is_finite() {
            continue;
        }
        let value = if rng.below(2) == 0 { -value } else { value };
        let text = repr(value);
        let digits = significant_digits(&text);
        if check(&text) {
            taken += 1;
        }
        if (16..=17).contains(&digits) && (4e-6..1e16).contains(&value.abs()) && value.to_bits() & ((1 << 52) - 1) != 0 {
            long += 1;
        }
        for miss in near_misses(&text) {
            check(&miss);
        }
    }
    // Within its range it takes nearly all of repr's long output (ties and values next to
    // a shorter decimal are left to the slow check).
    assert!(taken * 100 > long * 95, "taken {taken} of {long} long floats in range");
}

#[test]
fn long_float_edges() {
    for text in [&b"0.30000000000000004"[..], b"-0.30000000000000004", b"0.6162671660548478", b"2.223001299070097", b"1.2345678901234568e-05", b"1.2345678901234567e-06", b"123456789012345.67"] {
        assert!(slow(text), "{}", String::from_utf8_lossy(text));
        assert!(fast(text), "{}", String::from_utf8_lossy(text));
    }
    for text in [
        // Fewer than 16 digits, or the slow path's cases: powers of two, subnormals, the
        // extremes, values from 1e16 and below 1e-7.
        &b"0.1"[..], b"-0.0", b"0.0", b"1e+16", b"5e-324", b"2.2250738585072014e-308", b"1.7976931348623157e+308",
        b"0.5", b"4.440892098500626e-16", b"1.2345678901234568e+16", b"1.2345678901234567e-08",
        // Not repr: 2**53 + 1 reads as 2**53, a 17th digit where 16 do, a trailing zero,
        // 18 digits, other spellings.
        b"9007199254740993.0", b"0.30000000000000010", b"0.3000000000000000", b"0.300000000000000044", b"0.30000000000000005",
        b"3.0000000000000004e-01", b"3.0000000000000004E-01", b"0.30000000000000004e0", b"00.30000000000000004",
        // A tie, where Python and Rust would choose differently: Python's digits are
        // '...368.2', Rust's '...368.3'; neither is known here.
        b"1104896754342368.2", b"1104896754342368.3", b"1234567890123456.8",
    ] {
        assert!(!fast(text), "{}", String::from_utf8_lossy(text));
    }
    assert!(slow(b"1104896754342368.2") && !slow(b"1104896754342368.3"));
    // Any number of zeros before the digits, or after the point: no overflow, no panic.
    let zeros = "0".repeat(100_000);
    for text in [format!("0.{zeros}30000000000000004"), format!("0.30000000000000004{zeros}"), format!("3.0000000000000004e-{zeros}1")] {
        assert!(!fast(text.as_bytes()));
    }
}
