//! CPython's `float.__repr__` (`PyOS_double_to_string(x, 'r', 0, Py_DTSF_ADD_DOT_0)`).
//!
//! Rust's `{:e}` formatting of an `f64` yields the shortest digit string that round-trips,
//! choosing the closest one when several exist — the same digits as CPython's
//! `_Py_dg_dtoa(mode 0)`. Only the layout differs, and that is redone here.

use std::fmt::Write;

/// A small stack buffer for `core::fmt` output (an `f64` in `{:e}` needs at most ~25 bytes).
struct StackBuf {
    buf: [u8; 40],
    len: usize,
}

impl Write for StackBuf {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        match self.buf.get_mut(self.len..end) {
            Some(dst) => {
                dst.copy_from_slice(s.as_bytes());
                self.len = end;
                Ok(())
            }
            None => Err(std::fmt::Error),
        }
    }
}

/// Appends `repr(f)` for a finite `f` (`1.0`, `1e+16`, `1.5e-05`, `-0.0`, `5e-324`).
/// Non-finite values are written as `nan`, `inf`, `-inf`, like `repr`/`str` do.
pub(crate) fn write_py_float_str(f: f64, out: &mut Vec<u8>) {
    if f.is_nan() {
        out.extend_from_slice(b"nan");
        return;
    }
    if f.is_infinite() {
        out.extend_from_slice(if f > 0.0 { b"inf" } else { b"-inf" });
        return;
    }
    let a = f.abs();
    let mut sb = StackBuf {
        buf: [0; 40],
        len: 0,
    };
    let mut digits = if write!(sb, "{:e}", a).is_ok() {
        Digits::from_exp_form(sb.buf.get(..sb.len).unwrap_or(b""))
    } else {
        // Cannot happen (the buffer is large enough); fall back to an allocation.
        Digits::from_exp_form(format!("{:e}", a).as_bytes())
    };
    if let Some((want, scale)) = python_tie_choice(a, &digits) {
        digits = Digits::from_integer(want, scale);
    }
    if f.is_sign_negative() {
        out.push(b'-');
    }
    digits.layout(out);
}

/// Appends repr's layout of the positive value `0.digits * 10**decpt` (`digits`: 1 to 40
/// significant digits, no trailing zero), for a caller that already knows the digits are
/// repr's (the canonical scanner's check of long floats).
pub(super) fn write_repr_layout(digits: &[u8], decpt: i32, out: &mut Vec<u8>) {
    let mut d = Digits { buf: [b'0'; 40], len: digits.len().min(40), decpt };
    d.buf[..d.len].copy_from_slice(&digits[..d.len]);
    d.layout(out);
}

/// Shortest round-trip digits `0.d1d2...dn * 10**decpt` (no trailing zeros, except "0").
struct Digits {
    buf: [u8; 40],
    len: usize,
    decpt: i32,
}

impl Digits {
    fn digits(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(b"0")
    }

    /// From Rust's unsigned `d[.ddd]e[-]N`.
    fn from_exp_form(s: &[u8]) -> Digits {
        let epos = s.iter().position(|&b| b == b'e').unwrap_or(s.len());
        let mantissa = s.get(..epos).unwrap_or(b"");
        let exp_text = s.get(epos + 1..).unwrap_or(b"");
        let mut d = Digits {
            buf: [b'0'; 40],
            len: 0,
            decpt: 0,
        };
        for &b in mantissa {
            if b.is_ascii_digit() {
                if let Some(slot) = d.buf.get_mut(d.len) {
                    *slot = b;
                    d.len += 1;
                }
            }
        }
        if d.len == 0 {
            d.len = 1;
        }
        let (exp_neg, exp_digits) = match exp_text.split_first() {
            Some((b'-', rest)) => (true, rest),
            _ => (false, exp_text),
        };
        let mut exp: i32 = 0;
        for &b in exp_digits {
            if b.is_ascii_digit() {
                exp = exp.saturating_mul(10).saturating_add((b - b'0') as i32);
            }
        }
        d.decpt = if exp_neg { 1 - exp } else { exp + 1 };
        d
    }

    /// `value * 10**scale` for a nonzero `value`.
    fn from_integer(value: u128, scale: i32) -> Digits {
        let mut tmp = [0u8; 40];
        let mut n = 0;
        let mut v = value;
        while v > 0 && n < tmp.len() {
            tmp[n] = b'0' + (v % 10) as u8;
            v /= 10;
            n += 1;
        }
        let mut d = Digits {
            buf: [b'0'; 40],
            len: n.max(1),
            decpt: n as i32 + scale,
        };
        for k in 0..n {
            d.buf[k] = tmp[n - 1 - k];
        }
        while d.len > 1 && d.buf[d.len - 1] == b'0' {
            d.len -= 1;
        }
        d
    }

    /// CPython's repr layout: exponent notation if decpt <= -4 or decpt > 16.
    fn layout(&self, out: &mut Vec<u8>) {
        let digits = self.digits();
        let nd = digits.len();
        let decpt = self.decpt;
        if decpt <= -4 || decpt > 16 {
            let exp = decpt - 1;
            out.push(digits.first().copied().unwrap_or(b'0'));
            if nd > 1 {
                out.push(b'.');
                out.extend_from_slice(digits.get(1..).unwrap_or(b""));
            }
            out.push(b'e');
            out.push(if exp < 0 { b'-' } else { b'+' });
            let a = exp.unsigned_abs();
            if a < 10 {
                out.push(b'0');
            }
            let mut tmp = [0u8; 10];
            let mut n = 0;
            let mut v = a;
            loop {
                tmp[n] = b'0' + (v % 10) as u8;
                n += 1;
                v /= 10;
                if v == 0 || n == tmp.len() {
                    break;
                }
            }
            for k in (0..n).rev() {
                out.push(tmp[k]);
            }
        } else if decpt <= 0 {
            out.extend_from_slice(b"0.");
            for _ in 0..(-decpt) {
                out.push(b'0');
            }
            out.extend_from_slice(digits);
        } else {
            let decpt = decpt as usize;
            if decpt >= nd {
                out.extend_from_slice(digits);
                for _ in nd..decpt {
                    out.push(b'0');
                }
                out.extend_from_slice(b".0");
            } else {
                out.extend_from_slice(digits.get(..decpt).unwrap_or(b""));
                out.push(b'.');
                out.extend_from_slice(digits.get(decpt..).unwrap_or(b""));
            }
        }
    }
}

/// Tie-breaking. When the double `a` lies exactly halfway between the two nearest
/// candidates of the shortest length, Rust's formatter rounds the last digit up, while
/// CPython's dtoa.c rounds half to even (`repr(1104896754342368.25)` is
/// `'1104896754342368.2'`). A tie needs the exact decimal expansion of `a` to be one digit
/// longer than the shortest form and to end in 5, which limits it to expansions of at most
/// 18 significant digits — checked exactly here with integers. Returns CPython's choice as
/// `(value, scale)` meaning `value * 10**scale`, or `None` when Rust's digits stand.
fn python_tie_choice(a: f64, rust: &Digits) -> Option<(u128, i32)> {
    let bits = a.to_bits();
    let exp_bits = ((bits >> 52) & 0x7FF) as i32;
    let frac = bits & ((1u64 << 52) - 1);
    let (mut m, mut e) = if exp_bits == 0 {
        (frac, -1074)
    } else {
        (frac | (1u64 << 52), exp_bits - 1075)
    };
    if m == 0 {
        return None;
    }
    let tz = m.trailing_zeros();
    m >>= tz;
    e += tz as i32;
    // Exact significant digits `s` and the power of ten of its last digit `q`.
    let (s, q): (u128, i32) = if e >= 0 {
        // Ends in 5 only if there are more factors of 5 than of 2; m has at most 22 fives.
        if e >= 23 {
            return None;
        }
        let mut s = (m as u128) << e;
        let mut q = 0;
        while s.is_multiple_of(10) {
            s /= 10;
            q += 1;
        }
        (s, q)
    } else {
        // m / 2**k = m * 5**k / 10**k; more than 18 digits once 5**k > 10**18.
        let k = -e;
        if k > 25 {
            return None;
        }
        ((m as u128) * 5u128.pow(k as u32), -k)
    };
    if s % 10 != 5 || s >= 10u128.pow(18) {
        return None;
    }
    let lower = s / 10;
    let upper = lower + 1;
    let scale = q + 1;
    if lower == 0 {
        return None;
    }
    // Rust's digits as an integer at `scale`.
    let digits = rust.digits();
    let r_exp = rust.decpt - digits.len() as i32;
    if r_exp < scale || r_exp - scale > 20 {
        return None;
    }
    let mut r: u128 = 0;
    for &d in digits {
        r = r
            .checked_mul(10)?
            .checked_add((d.wrapping_sub(b'0')) as u128)?;
    }
    r = r.checked_mul(10u128.checked_pow((r_exp - scale) as u32)?)?;
    if r != lower && r != upper {
        return None;
    }
    let want = if lower % 2 == 0 { lower } else { upper };
    if want == r {
        return None;
    }
    // Both candidates are equally close; make sure CPython's also round-trips.
    let text = format!("{want}e{scale}");
    if text.parse::<f64>() != Ok(a) {
        return None;
    }
    Some((want, scale))
}

/// Appends the JSON form Python's encoder uses: `NaN`, `Infinity`, `-Infinity`, else repr.
#[inline]
pub(crate) fn write_json_float(f: f64, out: &mut Vec<u8>) {
    if f.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if f.is_infinite() {
        out.extend_from_slice(if f > 0.0 { b"Infinity" } else { b"-Infinity" });
    } else {
        write_py_float_str(f, out);
    }
}
