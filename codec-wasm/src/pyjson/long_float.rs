//! Knowing that a float written with 16 or 17 significant digits is `float.__repr__` of the
//! value it parses to, without finding that value's shortest digits. Such floats are common
//! (`random()`, `0.1 + 0.2`, a duration now and then) and printing each one's shortest form
//! to compare was most of what a float costs the canonical scanner.
//!
//! With `x` the parsed value and `D * 10**q` the text (`D` of `n` digits), repr's digits are
//! `D` when no decimal of fewer than `n` digits parses to `x` and `D` is strictly the
//! nearest `n`-digit decimal to `x`: then the shortest length is `n` and there is no tie to
//! break (Python and Rust break ties differently). Both are decided exactly in integers, for
//! values in the range most floats live in; anything else is "not known" and the caller
//! checks the slow way.

use super::float_repr::write_repr_layout;

/// True when `text` (a JSON number with a fraction or exponent) is known to be repr of its
/// value; false means "not known". `scratch` is reused for the layout.
pub(super) fn long_float_repr(text: &[u8], scratch: &mut Vec<u8>) -> bool {
    let Some(decimal) = Decimal::read(text) else { return false };
    if !(16..=17).contains(&decimal.len) || decimal.digits[decimal.len - 1] == b'0' {
        return false;
    }
    let Some(value) = std::str::from_utf8(text).ok().and_then(|t| t.parse::<f64>().ok()) else { return false };
    if !digits_are_repr(decimal.value, decimal.decpt - decimal.len as i32, value.abs()) {
        return false;
    }
    // The digits are repr's: the text is repr when it lays them out as repr does.
    scratch.clear();
    if decimal.negative {
        scratch.push(b'-');
    }
    write_repr_layout(&decimal.digits[..decimal.len], decimal.decpt, scratch);
    scratch.len() == text.len() && scratch.iter().zip(text).all(|(a, b)| a == b)
}

/// A number's significant digits: `0.d1d2...dn * 10**decpt`, and `d1...dn` as an integer.
struct Decimal {
    negative: bool,
    digits: [u8; 17],
    len: usize,
    value: u64,
    decpt: i32,
}

impl Decimal {
    /// `None` when the text has more than 17 significant digits, none, or an exponent of
    /// more than four digits (never repr of a long float).
    fn read(text: &[u8]) -> Option<Decimal> {
        let negative = text.first() == Some(&b'-');
        let body = if negative { &text[1..] } else { text };
        let mut d = Decimal { negative, digits: [0; 17], len: 0, value: 0, decpt: 0 };
        // Digits before the point, and leading zeros (not significant) among all digits.
        let (mut before_point, mut leading_zeros, mut in_fraction) = (0i32, 0i32, false);
        let mut rest = body;
        while let Some((&b, tail)) = rest.split_first() {
            match b {
                b'.' => in_fraction = true,
                b'0'..=b'9' => {
                    if !in_fraction {
                        before_point = before_point.saturating_add(1);
                    }
                    if d.len == 0 && b == b'0' {
                        leading_zeros = leading_zeros.saturating_add(1);
                    } else {
                        *d.digits.get_mut(d.len)? = b;
                        d.len += 1;
                        d.value = d.value * 10 + u64::from(b - b'0');
                    }
                }
                _ => break,
            }
            rest = tail;
        }
        if d.len == 0 {
            return None;
        }
        let exponent = match rest.split_first() {
            None => 0,
            Some((b'e' | b'E', digits)) => {
                let (sign, digits) = match digits.split_first() {
                    Some((b'-', tail)) => (-1, tail),
                    Some((b'+', tail)) => (1, tail),
                    _ => (1, digits),
                };
                if digits.is_empty() || digits.len() > 4 || !digits.iter().all(u8::is_ascii_digit) {
                    return None;
                }
                sign * digits.iter().fold(0i32, |n, &c| n * 10 + i32::from(c - b'0'))
            }
            Some(_) => return None,
        };
        // Saturating: a fraction may hold any number of leading zeros.
        d.decpt = before_point.saturating_sub(leading_zeros).saturating_add(exponent);
        Some(d)
    }
}

/// 10**0 to 10**38, all the u128 holds: looked up, since computing one is several u128
/// multiplies, each a call in wasm.
const POWERS_OF_TEN: [u128; 39] = {
    let mut table = [1u128; 39];
    let mut i = 1;
    while i < table.len() {
        table[i] = table[i - 1] * 10;
        i += 1;
    }
    table
};

/// Whether `digits * 10**q` (which parses to the positive double `x`) are repr's digits of
/// `x`: see the module docs. False also when the values fall outside the range the integer
/// arithmetic covers (from about 1e-6 to 1e16), or `x` is a power of two (its lower neighbour
/// is nearer than its upper one) or subnormal.
fn digits_are_repr(digits: u64, q: i32, x: f64) -> bool {
    let bits = x.to_bits();
    let (biased, fraction) = ((bits >> 52) as i32, bits & ((1 << 52) - 1));
    if biased == 0 || biased == 0x7ff || fraction == 0 || q >= 0 {
        return false;
    }
    let (m, e) = (u128::from(fraction | 1 << 52), biased - 1075);
    // Below 2**-73 the products overflow anyway; the bound keeps 2P itself in range.
    if !(-125..0).contains(&e) {
        return false;
    }
    // Everything times 2 * 2**-e * 10**-q: x is 2mQ, the decimal grid's half step P, half
    // the gap to x's neighbours Q, all integers (10**-q is at most 10**38 or None).
    let (k, Some(&q10)) = (e.unsigned_abs(), POWERS_OF_TEN.get(q.unsigned_abs() as usize)) else { return false };
    let p = 1u128 << k;
    // Times 2P is a shift (u128 multiplies are calls in wasm), when the result fits.
    let scaled = |units: u64| (u128::from(units).leading_zeros() > k + 1).then(|| u128::from(units) << (k + 1));
    let (Some(x2), Some(at)) = (m.checked_mul(2 * q10), scaled(digits)) else { return false };
    // Nearest n-digit decimal, strictly (no tie).
    if at.abs_diff(x2) >= p {
        return false;
    }
    // The (n-1)-digit decimals on either side of the text: were either within half a gap
    // of x (at exactly half, it parses to x when m is even), a shorter form would exist.
    let below = digits - digits % 10;
    let parses_to_x = |units: u64| match scaled(units) {
        Some(v) => v.abs_diff(x2) < q10 || (v.abs_diff(x2) == q10 && m % 2 == 0),
        None => true,
    };
    !parses_to_x(below) && !parses_to_x(below + 10)
}

#[cfg(test)]
mod tests;
