//! Differential tests against the real CPython (`python3` on PATH; missing python3 is a
//! failure, not a skip), plus unit tests.

use super::*;
use std::io::Write as _;
use std::process::{Command, Stdio};

// ---------------------------------------------------------------------------------------
// Python oracle
// ---------------------------------------------------------------------------------------

const ORACLE: &str = r#"
import sys, json
if hasattr(sys, "set_int_max_str_digits"):
    sys.set_int_max_str_digits(4300)
out = []
for line in sys.stdin.buffer.read().split(b"\n"):
    line = line.strip()
    if line == b"":
        continue
    kind, _, payload = line.partition(b":")
    b = bytes.fromhex(payload.decode("ascii"))
    try:
        if kind == b"J":
            r = json.dumps(json.loads(b))
        elif kind == b"S":          # str() of the parsed value
            r = str(json.loads(b)).encode("utf-8", "surrogatepass").hex()
        else:
            raise SystemExit("bad kind")
        out.append("OK " + r)
    except RecursionError:
        out.append("ERR RecursionError")
    except Exception as e:
        out.append("ERR " + type(e).__name__)
sys.stdout.write(sys.version.split()[0] + "\n" + "\n".join(out) + "\n")
"#;

fn hex(b: &[u8]) -> String {
    const H: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(b.len() * 2);
    for &x in b {
        s.push(H[(x >> 4) as usize] as char);
        s.push(H[(x & 15) as usize] as char);
    }
    s
}

fn unhex(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let v = |c: u8| match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        _ => panic!("bad hex from python"),
    };
    b.chunks(2).map(|p| v(p[0]) << 4 | v(p[1])).collect()
}

/// Runs ONE python3 process over all requests (`kind` is "J" for json.dumps(json.loads(b))
/// or "S" for str(json.loads(b))); returns `Ok(output)` / `Err(exception name)` for each.
fn python_batch(kind: &str, inputs: &[Vec<u8>]) -> Vec<Result<String, String>> {
    let mut child = Command::new("python3")
        .args(["-I", "-c", ORACLE])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| {
            panic!("these differential tests need CPython 3.11 as `python3` on PATH: cannot run python3: {e}")
        });
    let mut payload = String::new();
    for b in inputs {
        payload.push_str(kind);
        payload.push(':');
        payload.push_str(&hex(b));
        payload.push('\n');
    }
    let mut stdin = child.stdin.take().expect("stdin");
    let writer = std::thread::spawn(move || {
        stdin
            .write_all(payload.as_bytes())
            .expect("write to python3");
    });
    let output = child.wait_with_output().expect("wait for python3");
    writer.join().expect("writer thread");
    assert!(
        output.status.success(),
        "python3 oracle failed: {:?}",
        output.status
    );
    let text = String::from_utf8(output.stdout).expect("python output is ASCII");
    let mut lines = text.lines();
    let version = lines.next().unwrap_or("");
    assert!(
        version.starts_with("3.11"),
        "the oracle must be CPython 3.11 (ansible-runner's interpreter), found {version}"
    );
    let results: Vec<Result<String, String>> = lines
        .map(|l| {
            if let Some(ok) = l.strip_prefix("OK ") {
                Ok(ok.to_string())
            } else {
                Err(l.strip_prefix("ERR ").unwrap_or(l).to_string())
            }
        })
        .collect();
    assert_eq!(
        results.len(),
        inputs.len(),
        "python answered a different number of lines"
    );
    results
}

/// Would `json.detect_encoding` pick something other than UTF-8 (we deliberately don't)?
fn python_uses_non_utf8(b: &[u8]) -> bool {
    if b.starts_with(&[0, 0, 0xFE, 0xFF])
        || b.starts_with(&[0xFF, 0xFE, 0, 0])
        || b.starts_with(&[0xFE, 0xFF])
        || b.starts_with(&[0xFF, 0xFE])
    {
        return true;
    }
    if b.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return false;
    }
    if b.len() >= 4 || b.len() == 2 {
        return b[0] == 0 || b[1] == 0;
    }
    false
}

const DIFF_MAX_DEPTH: usize = 1000;

/// Compares our parse+encode with Python for every input; returns (accepted, rejected).
fn differential(inputs: &[Vec<u8>]) -> (usize, usize) {
    for b in inputs {
        assert!(
            !python_uses_non_utf8(b),
            "test input would be UTF-16/32 for Python: {b:?}"
        );
    }
    let py = python_batch("J", inputs);
    let mut failures = Vec::new();
    let (mut ok, mut rejected) = (0, 0);
    for (b, expected) in inputs.iter().zip(&py) {
        let ours = parse(b, DIFF_MAX_DEPTH);
        match (&ours, expected) {
            (Ok(v), Ok(py_out)) => {
                let mut enc = Vec::new();
                encode(v, &mut enc);
                if enc != py_out.as_bytes() {
                    failures.push(format!(
                        "input {:?}\n  python: {}\n  ours:   {}",
                        String::from_utf8_lossy(b),
                        py_out,
                        String::from_utf8_lossy(&enc)
                    ));
                    continue;
                }
                // Our own output must parse back, and a second round must be stable. (The
                // first round may merge keys: raw CESU-8 surrogates and the escape pair are
                // different keys that encode identically — Python does the same.)
                match parse(&enc, DIFF_MAX_DEPTH) {
                    Ok(v2) => {
                        let enc2 = encode_to_string(&v2);
                        let stable =
                            parse(enc2.as_bytes(), DIFF_MAX_DEPTH).map(|v3| encode_to_string(&v3));
                        if stable.as_deref() != Ok(enc2.as_str()) {
                            failures.push(format!(
                                "re-encode not stable for {:?}",
                                String::from_utf8_lossy(b)
                            ));
                        }
                    }
                    Err(e) => failures.push(format!(
                        "cannot re-parse our output {:?}: {e}",
                        String::from_utf8_lossy(&enc)
                    )),
                }
                ok += 1;
            }
            (Err(_), Err(_)) => rejected += 1,
            (Ok(v), Err(py_err)) => failures.push(format!(
                "input {:?} ({})\n  python raised {py_err}, we accepted {:?}",
                String::from_utf8_lossy(b),
                hex(b),
                encode_to_string(v)
            )),
            (Err(e), Ok(py_out)) => failures.push(format!(
                "input {:?} ({})\n  python gave {py_out}, we rejected: {e}",
                String::from_utf8_lossy(b),
                hex(b)
            )),
        }
    }
    if !failures.is_empty() {
        let n = failures.len();
        failures.truncate(20);
        panic!("{n} differences from CPython:\n{}", failures.join("\n"));
    }
    (ok, rejected)
}

// ---------------------------------------------------------------------------------------
// Hand-picked cases
// ---------------------------------------------------------------------------------------

fn tricky_inputs() -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = Vec::new();
    let texts: &[&[u8]] = &[
        // literals
        b"null", b"true", b"false", b"NaN", b"Infinity", b"-Infinity", b"nan", b"inf",
        b"-inf", b"-NaN", b"+Infinity", b"Infinit", b"-Infinit", b"nul", b"nulls", b"truefalse",
        b"True", b"None", b"[NaN, Infinity, -Infinity]", b"-", b"--1", b"- 1",
        // numbers
        b"0", b"-0", b"-0.0", b"0.0", b"1", b"-1", b"1180591620717411303424",
        b"-1180591620717411303424", b"1e400", b"-1e400", b"1e-400", b"-1e-400", b"0.1",
        b"1e16", b"1e15", b"1.5e-5", b"123.456e10", b"0.0001", b"0.00001", b"1e-7",
        b"5e-324", b"2e-324", b"3e-324", b"1.7976931348623157e308", b"1.7976931348623158e308",
        b"1.7976931348623159e308", b"2.2250738585072014e-308", b"2.2250738585072011e-308",
        b"9007199254740993", b"9007199254740993.0", b"123456789012345678", b"1234567890123456.0",
        b"12345678901234567.0", b"123456789012345.6", b"0.1e1", b"1E5", b"1e05", b"1E+5",
        b"1e-5", b"1.0e+0", b"100", b"1e2", b"1.", b"01", b"-01", b"00", b"1e", b"1e+",
        b"1e-", b"1E", b".5", b"+1", b"0x10", b"1_000", b"1.5.5", b"1e5e5", b"0.", b"-.5",
        b"[1.]", b"[01]", b"[1e]", b"[-]", b"1 2", b"0.30000000000000004", b"100.0",
        b"1e22", b"1e23", b"4.35", b"2.675", b"0.3", b"-1.5e-10", b"3.14159265358979323846",
        b"1e-4", b"9.999999999999999e15", b"9.999999999999999e16", b"1e308", b"1e-308",
        b"4.9406564584124654e-324", b"0e0", b"-0e0", b"0e-5", b"0.000e400",
        b"123e-20", b"8.5e+15", b"1.25e16", b"4503599627370496.5", b"18446744073709551616",
        b"1e99999999999999999999", b"-1e-99999999999999999999", b"0e99999999999999999999",
        b"0.00000000000000000000000000000000000000000000000000001e400", b"1104896754342368.25",
        b"2.4703282292062327e-324", b"2.4703282292062328e-324", b"1e-323", b"2.225073858507201e-308",
        b"179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497791.9999",
        b"179769313486231580793728971405303415079934132710037826936173778980444968292764750946649017977587207096330286416692887910946555547851940402630657488671505820681908902000708383676273854845817711531764475730270069855571366959622842914819860834936475292719074168444365510704342711559699508093042880177904174497792.0",
        // whitespace
        b" 1", b"1 ", b"\t\n\r 1\r\n\t ", b"", b" ", b"\n", b"\x0c1", b"\x0b1", b"1\x0c",
        b"[ 1 , 2 ]", b"{ \"a\" : 1 , \"b\" : [ ] }", b"[\n]", b"{\t}", b"\xc2\xa01",
        b"1\xc2\xa0", b"\xe3\x80\x801",
        // strings
        b"\"\"", b"\"abc\"", b"\"a\\\"b\"", b"\"\\\\\"", b"\"\\/\"", b"\"/\"",
        b"\"\\b\\f\\n\\r\\t\"", b"\"\\u0000\"", b"\"\\u001f\\u0020\\u007e\\u007f\\u0080\"",
        b"\"\\u00e9\\u00E9\\u00C9\"", b"\"\\uffff\"", b"\"\\uFFFE\"", b"\"\\ud83d\\ude00\"",
        b"\"\\uD83D\\uDE00\"", b"\"\\ud83d\\u0041\"", b"\"\\ud83d\"", b"\"\\ude00\"",
        b"\"\\ude00\\ud83d\"", b"\"\\ud800\\ud800\\udc00\"", b"\"\\udbff\\udfff\"",
        b"\"\\ud83d\\ude0\"", b"\"\\ud83d\\uzzzz\"", b"\"\\ud83d\\\"", b"\"\\ud83d\\n\"",
        b"\"\\ud83d\\\\ude00\"", b"\"\\ud83d\xed\xb8\x80\"", b"\"\xed\xa0\xbd\\ude00\"",
        b"\"\xed\xa0\xbd\xed\xb8\x80\"", b"\"\xed\xa0\x80\"", b"\"\xed\xbf\xbf\"",
        b"\"\xed\x9f\xbf\"", b"\"\xed\xa0\"", b"\"\xed\"", b"\"\xed\xa0\x80", b"\"\xc0\x80\"",
        b"\"\xc1\xbf\"", b"\"\xe0\x80\x80\"", b"\"\xf0\x80\x80\x80\"", b"\"\xf4\x90\x80\x80\"",
        b"\"\xf5\x80\x80\x80\"", b"\"\xff\"", b"\"\x80\"", b"\"\xc3\"", b"\"\xc3\xa9\"",
        b"\"\xf0\x9f\x8e\x89\"", b"\"\xf4\x8f\xbf\xbf\"", b"\"\xe2\x80\xa8\"", b"\"\x7f\"",
        b"\"\\u007f\"", b"\"\x01\"", b"\"\x1f\"", b"\"\t\"", b"\"\n\"", b"\"\\x41\"", b"\"\\a\"",
        b"\"\\U0001F600\"", b"\"\\u12\"", b"\"\\u\"", b"\"\\", b"\"\\\"", b"\"abc", b"\"",
        b"'a'", b"\"a\"\"b\"", b"\"\\u0061\"", b"\"\\'\"", b"\"\\ \"", b"\"\\0\"",
        b"[\"\\ud83d\", \"\\ude00\"]", b"\"\xef\xbb\xbf\"", b"\"\\ufeff\"",
        // BOM
        b"\xef\xbb\xbf1", b"\xef\xbb\xbf\xef\xbb\xbf1", b"\xef\xbb\xbf", b"\xef\xbb\xbf ",
        b" \xef\xbb\xbf1", b"\xef\xbb\xbf{\"a\": \"\xef\xbb\xbf\"}", b"\xef\xbb",
        // arrays and objects
        b"[]", b"{}", b"[[]]", b"[{}]", b"[1,2]", b"[1,]", b"[,1]", b"[1,,2]", b"[", b"]",
        b"[1", b"[1,", b"[1 2]", b"{\"a\":1}", b"{\"a\":1,}", b"{,}", b"{\"a\"}",
        b"{\"a\":}", b"{\"a\" 1}", b"{1:1}", b"{a:1}", b"{'a':1}", b"{\"a\":1 \"b\":2}",
        b"{\"a\":1,\"b\":2,\"a\":3}", b"{\"a\":1,\"a\":{\"x\":1},\"b\":0,\"a\":[]}",
        b"{\"a\":1,\"\\u0061\":2}", b"{\"\\ud83d\\ude00\":1,\"\xed\xa0\xbd\xed\xb8\x80\":2}",
        b"{\"\\ud83d\\ude00\":1,\"\xf0\x9f\x98\x80\":2}", b"{\"\":1,\"\":2}",
        b"{\"a\":{\"a\":{\"a\":null}}}", b"[1]]", b"{}}", b"[][]", b"{\"a\":1}x", b"[]\x00",
        b"{\"a\"\n:\n1\n}", b"{\"\xe9\":1}", b"[true,false,null]",
    ];
    for t in texts {
        v.push(t.to_vec());
    }
    // Integer digit limit (4300 digits; the sign does not count).
    for n in [4299usize, 4300, 4301, 5000] {
        v.push(vec![b'7'; n]);
        let mut neg = vec![b'-'];
        neg.extend(std::iter::repeat_n(b'7', n));
        v.push(neg);
        let mut f = vec![b'7'; n];
        f.extend_from_slice(b".5");
        v.push(f);
        let mut e = vec![b'7'; n];
        e.extend_from_slice(b"e-4000");
        v.push(e);
    }
    v.push(format!("0.{}", "1".repeat(5000)).into_bytes());
    v.push(format!("[{}]", "9".repeat(4300)).into_bytes());
    // Deep nesting below Python's recursion limit.
    for d in [1usize, 10, 100, 500, 900] {
        v.push(format!("{}{}", "[".repeat(d), "]".repeat(d)).into_bytes());
        v.push(format!("{}1{}", "{\"a\":".repeat(d), "}".repeat(d)).into_bytes());
        v.push(format!("{}{}", "[{\"k\":".repeat(d / 2), "[]}]".repeat(d / 2)).into_bytes());
        v.push("[".repeat(d).into_bytes());
    }
    // Big objects with duplicate keys (exercise the hash index).
    for (n, modulo) in [
        (15usize, 7usize),
        (16, 16),
        (17, 5),
        (100, 37),
        (3000, 1000),
        (5000, 5000),
    ] {
        let mut s = String::from("{");
        for i in 0..n {
            if i > 0 {
                s.push(',');
            }
            let k = (i * 7919) % modulo;
            if i % 3 == 0 {
                // Same key spelled with an escape.
                s.push_str(&format!("\"\\u006b{k}\":{i}"));
            } else {
                s.push_str(&format!("\"k{k}\":{i}"));
            }
        }
        s.push('}');
        v.push(s.into_bytes());
    }
    // Every single byte as a string body, and as a whole document.
    for b in 1u8..=255 {
        v.push(vec![b'"', b, b'"']);
        v.push(vec![b'[', b, b']']);
        v.push(vec![b]);
    }
    // Every escape letter.
    for b in 0x20u8..=0x7E {
        v.push(vec![b'"', b'\\', b, b'"']);
    }
    // \u escapes around interesting boundaries.
    for c in [
        0u32, 0x1F, 0x20, 0x22, 0x2F, 0x5C, 0x7E, 0x7F, 0x80, 0x9F, 0xA0, 0xFF, 0x100, 0x7FF,
        0x800, 0xD7FF, 0xD800, 0xDBFF, 0xDC00, 0xDFFF, 0xE000, 0xFEFF, 0xFFFD, 0xFFFF,
    ] {
        v.push(format!("\"\\u{c:04x}\"").into_bytes());
        v.push(format!("\"x\\u{c:04X}y\"").into_bytes());
    }
    v
}

#[test]
fn differential_tricky_inputs() {
    let inputs = tricky_inputs();
    let (ok, rejected) = differential(&inputs);
    eprintln!(
        "tricky inputs: {} total, {ok} accepted, {rejected} rejected, all equal to CPython",
        inputs.len()
    );
    assert!(ok > 200 && rejected > 200);
}

// ---------------------------------------------------------------------------------------
// Random documents
// ---------------------------------------------------------------------------------------

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next() % n
        }
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
    fn pick_bytes(&mut self, items: &[&'static [u8]]) -> &'static [u8] {
        items[self.below(items.len() as u64) as usize]
    }
}

fn gen_ws(r: &mut Rng, out: &mut Vec<u8>) {
    if r.chance(70) {
        return;
    }
    for _ in 0..r.below(3) + 1 {
        out.push(*r.pick(b" \t\n\r"));
    }
}

fn gen_string(r: &mut Rng, out: &mut Vec<u8>) {
    out.push(b'"');
    let len = if r.chance(10) {
        r.below(200)
    } else {
        r.below(12)
    };
    for _ in 0..len {
        match r.below(20) {
            0..=7 => out.push(b'a' + r.below(26) as u8),
            8 => out.push(*r.pick(b" /'~{}:,0")),
            9 => {
                let e = *r.pick(b"\"\\/bfnrt");
                out.extend_from_slice(&[b'\\', e]);
            }
            10 | 11 => {
                let c: u32 = match r.below(6) {
                    0 => r.below(0x80) as u32,
                    1 => r.below(0x800) as u32,
                    2 => 0xD800 + r.below(0x800) as u32,
                    3 => r.below(0x10000) as u32,
                    4 => *r.pick(&[0x7F, 0x22, 0x5C, 0x2F, 0xFEFF, 0xFFFF, 0x2028]),
                    _ => 0xE000 + r.below(0x2000) as u32,
                };
                let s = format!("{c:04x}");
                let s = if r.chance(30) { s.to_uppercase() } else { s };
                out.extend_from_slice(b"\\u");
                out.extend_from_slice(s.as_bytes());
            }
            12 => {
                // escaped surrogate pair (sometimes a mismatched one)
                let hi = 0xD800 + r.below(0x400) as u32;
                let lo = if r.chance(80) {
                    0xDC00 + r.below(0x400) as u32
                } else {
                    0xD800 + r.below(0x800) as u32
                };
                out.extend_from_slice(format!("\\u{hi:04x}\\u{lo:04X}").as_bytes());
            }
            13 | 14 => {
                // raw non-ASCII UTF-8
                let c = match r.below(4) {
                    0 => 0x80 + r.below(0x780) as u32,
                    1 => 0x800 + r.below(0xD000) as u32,
                    2 => 0x10000 + r.below(0x100000) as u32,
                    _ => *r.pick(&[0xE9, 0x1F600, 0x1F389, 0x4E2D, 0xFEFF, 0x85, 0xA0]),
                };
                if let Some(ch) = char::from_u32(c) {
                    let mut b = [0u8; 4];
                    out.extend_from_slice(ch.encode_utf8(&mut b).as_bytes());
                }
            }
            15 => {
                // raw surrogate (surrogatepass), sometimes as a CESU-8 pair
                let c = 0xD800 + r.below(0x800) as u32;
                push_code_point(out, c);
                if r.chance(50) {
                    push_code_point(out, 0xDC00 + r.below(0x400) as u32);
                }
            }
            16 => out.push(0x7F),
            17 => {
                if r.chance(5) {
                    out.push(1 + r.below(0x1F) as u8); // raw control char: error
                } else {
                    out.push(b'x');
                }
            }
            18 => {
                if r.chance(5) {
                    let e = *r.pick(b"xaU0' u");
                    out.extend_from_slice(&[b'\\', e]); // invalid escape (or \u without hex)
                } else {
                    out.push(b'-');
                }
            }
            _ => out.extend_from_slice(b"\\u0000"),
        }
    }
    out.push(b'"');
}

fn gen_digits(r: &mut Rng, out: &mut Vec<u8>, max: u64) {
    let n = r.below(max) + 1;
    out.push(b'1' + r.below(9) as u8);
    for _ in 1..n {
        out.push(b'0' + r.below(10) as u8);
    }
}

fn gen_number(r: &mut Rng, out: &mut Vec<u8>) {
    if r.chance(30) {
        out.push(b'-');
    }
    match r.below(10) {
        0 => out.push(b'0'),
        1..=3 => gen_digits(r, out, 4),
        4 => gen_digits(r, out, 40),
        _ => {
            if r.chance(30) {
                out.push(b'0');
            } else {
                let max = if r.chance(80) { 5 } else { 25 };
                gen_digits(r, out, max);
            }
            if r.chance(70) {
                out.push(b'.');
                let max = if r.chance(90) { 6 } else { 30 };
                for _ in 0..r.below(max) + 1 {
                    out.push(b'0' + r.below(10) as u8);
                }
            }
            if r.chance(50) {
                out.push(*r.pick(b"eE"));
                match r.below(3) {
                    0 => out.push(b'+'),
                    1 => out.push(b'-'),
                    _ => {}
                }
                let e = match r.below(4) {
                    0 => r.below(10),
                    1 => r.below(30),
                    2 => r.below(330),
                    _ => r.below(500),
                };
                let e = if r.chance(10) {
                    format!("0{e}")
                } else {
                    e.to_string()
                };
                out.extend_from_slice(e.as_bytes());
            }
        }
    }
}

const KEYS: &[&[u8]] = &[
    b"\"a\"",
    b"\"\\u0061\"",
    b"\"b\"",
    b"\"event\"",
    b"\"ev\\u0065nt\"",
    b"\"\"",
    b"\"\xc3\xa9\"",
    b"\"\\u00e9\"",
    b"\"\\ud83d\\ude00\"",
    b"\"\xf0\x9f\x98\x80\"",
    b"\"\xed\xa0\xbd\xed\xb8\x80\"",
    b"\"\\ud83d\xed\xb8\x80\"",
    b"\"k\\n\"",
    b"\"k\n\"",
    b"\"uuid\"",
    b"\"stdout\"",
    b"\"counter\"",
    b"\"\\/\"",
    b"\"/\"",
    b"\"\\u0000\"",
];

fn gen_value(r: &mut Rng, out: &mut Vec<u8>, depth: u32) {
    let container_weight = if depth >= 6 { 0 } else { 4 };
    match r.below(10 + container_weight) {
        0 => out.extend_from_slice(r.pick_bytes(&[b"null", b"true", b"false"])),
        1 => out.extend_from_slice(r.pick_bytes(&[b"NaN", b"Infinity", b"-Infinity", b"null"])),
        2..=4 => gen_number(r, out),
        5..=9 => gen_string(r, out),
        10 | 11 => {
            out.push(b'[');
            gen_ws(r, out);
            let n = if r.chance(5) { r.below(60) } else { r.below(5) };
            for i in 0..n {
                if i > 0 {
                    out.push(b',');
                }
                gen_ws(r, out);
                gen_value(r, out, depth + 1);
                gen_ws(r, out);
            }
            out.push(b']');
        }
        _ => {
            out.push(b'{');
            gen_ws(r, out);
            let n = if r.chance(8) { r.below(80) } else { r.below(6) };
            for i in 0..n {
                if i > 0 {
                    out.push(b',');
                }
                gen_ws(r, out);
                if r.chance(60) {
                    out.extend_from_slice(r.pick_bytes(KEYS));
                } else if r.chance(50) {
                    out.extend_from_slice(format!("\"k{}\"", r.below(40)).as_bytes());
                } else {
                    gen_string(r, out);
                }
                gen_ws(r, out);
                out.push(b':');
                gen_ws(r, out);
                gen_value(r, out, depth + 1);
                gen_ws(r, out);
            }
            out.push(b'}');
        }
    }
}

fn mutate(r: &mut Rng, doc: &mut Vec<u8>) {
    const INSERTS: &[u8] =
        b"[]{}\",:\\/-+.eE0123456789 \t\nuntfalsNI\x01\x1f\x7f\x80\xbf\xc3\xed\xa0\xf0\xff";
    for _ in 0..r.below(3) + 1 {
        let len = doc.len() as u64;
        let at = r.below(len + 1) as usize;
        match r.below(4) {
            0 if !doc.is_empty() => {
                doc.remove(at.min(doc.len() - 1));
            }
            1 => doc.insert(at, *r.pick(INSERTS)),
            2 if !doc.is_empty() => {
                let i = at.min(doc.len() - 1);
                doc[i] = *r.pick(INSERTS);
            }
            _ => doc.truncate(at),
        }
    }
}

fn random_documents(seed: u64, count: usize) -> Vec<Vec<u8>> {
    let mut r = Rng(seed);
    let mut docs = Vec::with_capacity(count);
    while docs.len() < count {
        let mut d = Vec::new();
        if r.chance(3) {
            d.extend_from_slice(&[0xEF, 0xBB, 0xBF]);
        }
        gen_ws(&mut r, &mut d);
        gen_value(&mut r, &mut d, 0);
        gen_ws(&mut r, &mut d);
        if r.chance(25) {
            mutate(&mut r, &mut d);
        }
        if python_uses_non_utf8(&d) {
            continue;
        }
        docs.push(d);
    }
    docs
}

#[test]
fn differential_random_documents() {
    let docs = random_documents(0x9E37_79B9_7F4A_7C15, 6000);
    let (ok, rejected) = differential(&docs);
    eprintln!(
        "random documents: {} total, {ok} accepted, {rejected} rejected, all equal to CPython",
        docs.len()
    );
    assert!(
        ok > 3000,
        "generator should produce mostly valid documents ({ok})"
    );
    assert!(
        rejected > 500,
        "generator should produce some invalid documents ({rejected})"
    );
}

#[test]
fn differential_random_floats() {
    let mut r = Rng(0xDEAD_BEEF_1234_5678);
    let mut inputs = Vec::new();
    for i in 0..30000 {
        let f = match i % 4 {
            // random bit patterns (all exponents, subnormals included)
            0 | 1 => f64::from_bits(r.next()),
            // "human" decimals
            2 => {
                let m = r.below(1_000_000) as f64;
                let e = r.below(40) as i32 - 20;
                m * 10f64.powi(e)
            }
            // small integers and halves, near the 1e16 switch
            _ => {
                (r.below(1 << 53) as f64) * [1.0, 0.5, 0.25, 10.0, 100.0, 1e-5][r.below(6) as usize]
            }
        };
        if !f.is_finite() {
            continue;
        }
        // 17 significant digits round-trip exactly.
        let text = format!("{:.16e}", f);
        inputs.push(format!("[{text}, {}]", f).into_bytes());
    }
    // Candidates for round-half-even ties: exact expansions of 17-18 digits ending in 5.
    for _ in 0..20000 {
        let k = r.below(25) as i32 + 1;
        let bits = r.below(53) + 1;
        let m = (r.next() >> (64 - bits)) | 1;
        let f = m as f64 / 2f64.powi(k);
        inputs.push(format!("{:.17e}", f).into_bytes());
    }
    for _ in 0..3000 {
        let a = r.below(23) as u32;
        let odd = (r.next() >> 40) | 1;
        if let Some(m) = 5u64.pow(a).checked_mul(odd).filter(|m| *m < 1 << 53) {
            let f = m as f64 * 2f64.powi(r.below(a as u64 + 1) as i32);
            inputs.push(format!("{:.17e}", f).into_bytes());
        }
    }
    for e in -330..=310 {
        inputs.push(format!("[1e{e}, 9.999999999999999e{e}, 1.5e{e}, 5e{e}]").into_bytes());
    }
    let (ok, rejected) = differential(&inputs);
    eprintln!(
        "random floats: {} documents, {ok} accepted, all equal to CPython",
        inputs.len()
    );
    assert_eq!(rejected, 0);
}

#[test]
fn differential_python_str() {
    let inputs: Vec<Vec<u8>> = [
        &b"null"[..],
        b"true",
        b"false",
        b"0",
        b"-0",
        b"12345678901234567890",
        b"1.5",
        b"1e16",
        b"1e22",
        b"-0.0",
        b"NaN",
        b"Infinity",
        b"-Infinity",
        b"1e-5",
        b"0.1",
        b"100.0",
        b"\"plain\"",
        b"\"caf\xc3\xa9\"",
        b"\"\"",
        b"[]",
        b"{}",
        b"[1, 2.5, \"a\", null, true, NaN]",
        b"{\"a\": [1, {\"b\": -Infinity}], \"c\": \"it's\"}",
        b"[\"say \\\"hi\\\"\", \"both ' and \\\"\"]",
        b"[\"tab\\tnl\\ncr\\rbs\\\\\", \"\\u0001\\u007f\"]",
        b"[\"\xc3\xa9\", \"\\u00a0\", \"\\u0085\", \"\\u2028\"]",
        b"[\"\xf0\x9f\x8e\x89\", \"\xe4\xb8\xad\"]",
        b"[\"\\ud800\"]",
        b"{\"k\": {\"\": []}}",
    ]
    .iter()
    .map(|b| b.to_vec())
    .collect();
    let py = python_batch("S", &inputs);
    for (b, expected) in inputs.iter().zip(&py) {
        let expected = expected
            .as_ref()
            .unwrap_or_else(|e| panic!("python failed on {b:?}: {e}"));
        let expected = String::from_utf8_lossy(&unhex(expected)).into_owned();
        let v = parse(b, 10).expect("valid");
        assert_eq!(
            python_str(&v),
            expected,
            "str() of {:?}",
            String::from_utf8_lossy(b)
        );
    }
}

// ---------------------------------------------------------------------------------------
// Unit tests
// ---------------------------------------------------------------------------------------

fn err_at(input: &[u8]) -> usize {
    match parse(input, 100) {
        Ok(v) => panic!(
            "{:?} should fail, parsed {v:?}",
            String::from_utf8_lossy(input)
        ),
        Err(e) => {
            assert!(!e.message.contains('\n'));
            e.offset
        }
    }
}

#[test]
fn error_offsets_point_at_the_offending_byte() {
    assert_eq!(err_at(b""), 0);
    assert_eq!(err_at(b"   "), 3);
    assert_eq!(err_at(b"[1, 2,]"), 6);
    assert_eq!(err_at(b"[1 2]"), 3);
    assert_eq!(err_at(b"[1, 2"), 5);
    assert_eq!(err_at(b"{\"a\" 1}"), 5);
    assert_eq!(err_at(b"{\"a\": 1,}"), 8);
    assert_eq!(err_at(b"{\"a\": 1 \"b\": 2}"), 8);
    assert_eq!(err_at(b"{1: 2}"), 1);
    assert_eq!(err_at(b"\"ab\x01\""), 3);
    assert_eq!(err_at(b"\"ab\\x\""), 3);
    assert_eq!(err_at(b"\"ab\\u12g4\""), 3);
    assert_eq!(err_at(b"  \"abc"), 2);
    assert_eq!(err_at(b"[1] x"), 4);
    assert_eq!(err_at(b"01"), 1);
    assert_eq!(err_at(b"1."), 1);
    assert_eq!(err_at(b"nul"), 0);
    assert_eq!(err_at(b"[-]"), 1);
    assert_eq!(err_at(b"-Inf"), 0);
    // Decode errors come first, like Python's bytes.decode before scanning.
    assert_eq!(err_at(b"\"a\xff\""), 2);
    assert_eq!(err_at(b"[1,] \"\xed\xa0\""), 6);
    assert_eq!(err_at(b"\xef\xbb\xbf[\xc3]"), 4);
    let big = format!("[{}]", "1".repeat(4301));
    assert_eq!(err_at(big.as_bytes()), 1);
    let e = parse(b"[1, 2", 10).unwrap_err();
    assert!(e.message.contains("','"), "{}", e.message);
    assert!(e.to_string().contains("at byte 5"));
}

#[test]
fn depth_limit() {
    assert_eq!(parse(b"1", 0), Ok(Value::Int("1".into())));
    assert_eq!(parse(b"[]", 0).unwrap_err().offset, 0);
    assert_eq!(parse(b"{}", 0).unwrap_err().offset, 0);
    assert!(parse(b"[[]]", 2).is_ok());
    assert!(parse(b"[{\"a\": []}]", 3).is_ok());
    assert_eq!(parse(b"[[[]]]", 2).unwrap_err().offset, 2);
    assert_eq!(parse(b"[{\"a\": []}]", 2).unwrap_err().offset, 7);
    // Siblings do not add up.
    assert!(parse(b"[[1], [2], {\"a\": [3]}]", 3).is_ok());
    let deep = |d: usize| format!("{}{}", "[".repeat(d), "]".repeat(d)).into_bytes();
    assert!(parse(&deep(1000), 1000).is_ok());
    assert!(parse(&deep(1001), 1000).is_err());
    // Far beyond any recursion limit: no stack overflow, just the limit error or a result.
    let very_deep = deep(200_000);
    assert_eq!(parse(&very_deep, 1000).unwrap_err().offset, 1000);
    let v = parse(&deep(2000), 10_000).unwrap();
    let mut out = Vec::new();
    encode(&v, &mut out);
    assert_eq!(out, deep(2000));
}

#[test]
fn python_str_values() {
    let p = |s: &str| python_str(&parse(s.as_bytes(), 10).unwrap());
    assert_eq!(p("null"), "None");
    assert_eq!(p("true"), "True");
    assert_eq!(p("false"), "False");
    assert_eq!(p("-0"), "0");
    assert_eq!(
        p("123456789012345678901234567890"),
        "123456789012345678901234567890"
    );
    assert_eq!(p("NaN"), "nan");
    assert_eq!(p("Infinity"), "inf");
    assert_eq!(p("-Infinity"), "-inf");
    assert_eq!(p("1e16"), "1e+16");
    assert_eq!(p("2.50"), "2.5");
    assert_eq!(p("3.0"), "3.0");
    assert_eq!(p("\"a\\ud800b\""), "a\u{FFFD}b");
    assert_eq!(p("[1, \"a\", null, 1.5, NaN]"), "[1, 'a', None, 1.5, nan]");
    assert_eq!(p("{\"a\": {\"b\": [true]}}"), "{'a': {'b': [True]}}");
    assert_eq!(p("[\"it's\"]"), "[\"it's\"]");
    assert_eq!(float_repr(0.1), "0.1");
    assert_eq!(float_repr(-0.0), "-0.0");
    assert_eq!(float_repr(1e-7), "1e-07");
}

#[test]
fn truthiness() {
    let t = |s: &str| parse(s.as_bytes(), 10).unwrap().is_truthy();
    for falsy in [
        "null",
        "false",
        "0",
        "-0",
        "0.0",
        "-0.0",
        "0e5",
        "1e-400000",
        "\"\"",
        "[]",
        "{}",
    ] {
        assert!(!t(falsy), "{falsy} should be falsy");
    }
    for truthy in [
        "true",
        "1",
        "-1",
        "0.5",
        "NaN",
        "Infinity",
        "-Infinity",
        "\" \"",
        "\"0\"",
        "[0]",
        "{\"\": null}",
        "[[]]",
    ] {
        assert!(t(truthy), "{truthy} should be truthy");
    }
    assert!(!Value::Int("000".into()).is_truthy());
    assert!(Value::Int("10".into()).is_truthy());
}

#[test]
fn get_and_accessors() {
    let v = parse(
        b"{\"a\": 1, \"b\": \"x\", \"a\": 2, \"\\u0063\": [true], \"s\": \"\\udc00\"}",
        10,
    )
    .unwrap();
    assert_eq!(v.get("a"), Some(&Value::Int("2".into())));
    assert_eq!(v.get("c"), Some(&Value::Array(vec![Value::Bool(true)])));
    assert_eq!(v.get("missing"), None);
    assert_eq!(
        v.get("b").and_then(Value::as_py_str),
        Some(&PyStr::from_str("x"))
    );
    assert_eq!(v.get("b").and_then(Value::as_str), Some("x"));
    let s = v.get("s").and_then(Value::as_py_str).unwrap();
    assert_eq!(s.as_str(), None);
    assert_eq!(s.to_string_lossy(), "\u{FFFD}");
    assert_eq!(s.as_wtf8(), b"\xed\xb0\x80");
    assert_eq!(s.code_points().collect::<Vec<_>>(), vec![0xDC00]);
    assert!(!s.is_empty());
    assert!(PyStr::from_str("").is_empty());
    // Keys in first-occurrence order.
    let keys: Vec<String> = v
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, _)| k.to_string_lossy())
        .collect();
    assert_eq!(keys, ["a", "b", "c", "s"]);
    assert_eq!(Value::Array(vec![]).get("a"), None);
    assert_eq!(Value::Null.as_py_str(), None);
    assert_eq!(
        PyStr::from_wtf8(b"\xed\xa0\x80".to_vec()).map(|s| s.len_bytes()),
        Some(3)
    );
    assert_eq!(PyStr::from_wtf8(b"\xff".to_vec()), None);
}

#[test]
fn surrogate_forms_are_distinct_keys() {
    // Escape pair = one astral code point; raw CESU-8 bytes = two lone surrogates (Python
    // keeps them apart), so these are three different dict keys with the same JSON output.
    let v = parse(
        b"{\"\\ud83d\\ude00\": 1, \"\xed\xa0\xbd\xed\xb8\x80\": 2, \"\xf0\x9f\x98\x80\": 3}",
        10,
    )
    .unwrap();
    assert_eq!(v.as_object().unwrap().len(), 2);
    assert_eq!(
        encode_to_string(&v),
        "{\"\\ud83d\\ude00\": 3, \"\\ud83d\\ude00\": 2}"
    );
}

#[test]
fn large_object_duplicates_keep_first_position_last_value() {
    let mut s = String::from("{");
    for i in 0..2000 {
        s.push_str(&format!("\"k{}\": {i},", i % 700));
    }
    s.push_str("\"k0\": \"last\"}");
    let v = parse(s.as_bytes(), 10).unwrap();
    let o = v.as_object().unwrap();
    assert_eq!(o.len(), 700);
    assert_eq!(o[0], (PyStr::from_str("k0"), Value::Str("last".into())));
    assert_eq!(o[5], (PyStr::from_str("k5"), Value::Int("1405".into())));
    assert_eq!(o[699].0, PyStr::from_str("k699"));
}

#[test]
fn no_panics_on_garbage() {
    let mut r = Rng(42);
    for _ in 0..20000 {
        let len = r.below(40) as usize;
        let alphabet =
            b"[]{}\":,\\u0123456789abcdefABCDEF-+.eE ntrfalsNI\xed\xa0\xbf\xf0\x80\xc3\xef\xbb\x01";
        let doc: Vec<u8> = (0..len).map(|_| *r.pick(alphabet)).collect();
        if let Ok(v) = parse(&doc, 4) {
            let mut out = Vec::new();
            encode(&v, &mut out);
            let _ = python_str(&v);
            assert!(out.is_ascii());
        }
    }
}

#[test]
fn encode_hand_built_values() {
    let v = Value::Object(vec![
        (PyStr::from_str("a/b"), Value::Float(f64::NAN)),
        (
            PyStr::from_str("\u{7f}\u{e9}\u{1f389}"),
            Value::Array(vec![
                Value::Float(1e16),
                Value::Float(-0.0),
                Value::Float(123456789012345.0),
            ]),
        ),
        (PyStr::from_str("q\"\\\n"), Value::Object(vec![])),
    ]);
    assert_eq!(
        encode_to_string(&v),
        r#"{"a/b": NaN, "\u007f\u00e9\ud83c\udf89": [1e+16, -0.0, 123456789012345.0], "q\"\\\n": {}}"#
    );
}

/// Every line of the recorded ansible-runner streams in `fixtures/`.
fn fixture_lines() -> Vec<Vec<u8>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../fixtures");
    let mut lines = Vec::new();
    let Ok(dirs) = std::fs::read_dir(&root) else {
        return lines;
    };
    let mut paths: Vec<_> = dirs.filter_map(|d| d.ok()).map(|d| d.path()).collect();
    paths.sort();
    for dir in paths {
        for name in ["result.stream", "job.stream"] {
            if let Ok(data) = std::fs::read(dir.join(name)) {
                lines.extend(
                    data.split(|&b| b == b'\n')
                        .filter(|l| !l.is_empty())
                        .map(<[u8]>::to_vec),
                );
            }
        }
    }
    lines
}

#[test]
fn differential_fixture_lines() {
    let lines: Vec<Vec<u8>> = fixture_lines()
        .into_iter()
        .filter(|l| !python_uses_non_utf8(l))
        .collect();
    let (ok, rejected) = differential(&lines);
    eprintln!(
        "fixture lines: {} total, {ok} accepted, {rejected} rejected, all equal to CPython",
        lines.len()
    );
}

/// `cargo test --release -p runnerwire-codec --lib pyjson::tests::throughput -- --ignored --nocapture`
#[test]
#[ignore]
fn throughput() {
    let lines: Vec<Vec<u8>> = fixture_lines()
        .into_iter()
        .filter(|l| parse(l, 1000).is_ok())
        .collect();
    assert!(!lines.is_empty(), "no fixture lines");
    let bytes: usize = lines.iter().map(Vec::len).sum();
    let mut out = Vec::with_capacity(1 << 16);
    let start = std::time::Instant::now();
    let mut rounds = 0u32;
    while start.elapsed().as_secs_f64() < 2.0 {
        for l in &lines {
            let v = parse(l, 1000).unwrap();
            out.clear();
            encode(&v, &mut out);
        }
        rounds += 1;
    }
    let secs = start.elapsed().as_secs_f64();
    eprintln!(
        "parse+encode: {:.0} lines/s, {:.1} MB/s ({} lines of {} bytes avg)",
        (lines.len() as f64 * rounds as f64) / secs,
        (bytes as f64 * rounds as f64) / secs / 1e6,
        lines.len(),
        bytes / lines.len()
    );
}

#[test]
fn ensure_ascii_false_matches_python() {
    let input = "{\"k\u{e9}\": [\"caf\u{e9} \u{1f389}\", \"\\u0001 \\\" \\\\ \\n \u{7f}\"]}";
    let value = parse(input.as_bytes(), 10).unwrap();
    let mut ours = Vec::new();
    encode_unicode(&value, &mut ours);
    let out = std::process::Command::new("python3")
        .args(["-c", "import json,sys; sys.stdout.buffer.write(json.dumps(json.loads(sys.argv[1]), ensure_ascii=False).encode())", input])
        .output()
        .expect("python3 is needed for the differential tests");
    assert_eq!(String::from_utf8_lossy(&ours), String::from_utf8_lossy(&out.stdout));
}

// ---------------------------------------------------------------------------------------
// The canonical scanner against the full parser and encoder (the slow path is its oracle)
// ---------------------------------------------------------------------------------------

/// What the slow path writes for `doc`, when it parses to an object.
fn reencoded_object(doc: &[u8]) -> Option<Vec<u8>> {
    let value = parse(doc, 1000).ok()?;
    value.as_object()?;
    let mut out = Vec::new();
    encode(&value, &mut out);
    Some(out)
}

/// Accepted only if the slow path writes the same bytes; the wanted members found where
/// the slow path has them.
fn check_canonical(doc: &[u8]) -> bool {
    let Some(members) = canonical::scan(doc, 1000, [b"counter".as_slice(), b"uuid", b"stdout"]) else {
        return false;
    };
    let body = doc.strip_suffix(b"\n").unwrap_or(doc);
    let again = reencoded_object(doc).unwrap_or_else(|| panic!("scan accepted what the parser refuses: {:?}", String::from_utf8_lossy(doc)));
    assert_eq!(again, body, "scan accepted a non-canonical line: {:?}", String::from_utf8_lossy(doc));
    let value = parse(doc, 1000).unwrap();
    for (name, range) in ["counter", "uuid", "stdout"].iter().zip(&members.values) {
        // Compared as written (NaN is not equal to itself).
        let written = |v: Option<&Value>| {
            v.map(|v| {
                let mut out = Vec::new();
                encode(v, &mut out);
                out
            })
        };
        let from_scan = range.clone().map(|r| parse(&body[r], 1000).unwrap());
        assert_eq!(written(from_scan.as_ref()), written(value.get(name)), "{name} in {:?}", String::from_utf8_lossy(doc));
    }
    true
}

#[test]
fn canonical_scan_accepts_only_what_reencodes_to_itself() {
    let mut accepted = 0;
    let mut docs = random_documents(0x51_7CC1_B727_220A, 6000);
    docs.extend(tricky_inputs());
    for doc in &docs {
        // Each document as it is, and as the slow path writes it (canonical by construction).
        accepted += check_canonical(doc) as usize;
        if let Some(canonical) = reencoded_object(doc) {
            let has_surrogate = parse(doc, 1000).map(|v| format!("{v:?}").contains("\\u{d")).unwrap_or(false);
            if !check_canonical(&canonical) && !canonical.windows(3).any(|w| w == b"\\ud") && !has_surrogate {
                panic!("scan refused a canonical line: {:?}", String::from_utf8_lossy(&canonical));
            }
        }
    }
    assert!(accepted > 0, "no random document was canonical as generated");
}

#[test]
fn canonical_scan_takes_every_recorded_line() {
    let lines = fixture_lines();
    let objects: Vec<&Vec<u8>> = lines.iter().filter(|l| l.starts_with(b"{")).collect();
    assert!(objects.len() > 100);
    let taken = objects.iter().filter(|l| check_canonical(l)).count();
    // Upstream writes every line with json.dumps: all of them take the fast path.
    assert_eq!(taken, objects.len(), "recorded lines the scan refused");
}

/// The slow check the canonical scanner falls back to: parse, write as repr, compare.
fn float_is_its_repr(text: &[u8]) -> bool {
    let Some(value) = std::str::from_utf8(text).ok().and_then(|t| t.parse::<f64>().ok()) else { return false };
    let mut out = Vec::new();
    float_repr::write_json_float(value, &mut out);
    out == text
}

/// The shortcut that takes floats of up to 15 digits without parsing them may only ever
/// accept what the slow check accepts: near misses of every kind (trailing zeros, too many
/// digits, exponents at the layout's edges and the range's, padded exponents), and it must
/// take repr's own output of such values.
#[test]
fn short_floats_are_taken_only_when_they_are_their_repr() {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let digits = |rng: &mut Rng, n: u64, first_nonzero: bool| -> Vec<u8> {
        (0..n).map(|i| if i == 0 && first_nonzero { b'1' + rng.below(9) as u8 } else if rng.chance(30) { b'0' } else { b'0' + rng.below(10) as u8 }).collect()
    };
    let (mut taken, mut tried) = (0, 0);
    for _ in 0..400_000 {
        let mut text = Vec::new();
        if rng.chance(30) {
            text.push(b'-');
        }
        let int_len = rng.below(19);
        if int_len == 0 {
            text.push(b'0');
        } else {
            text.extend(digits(&mut rng, int_len, true));
        }
        let exponent = rng.chance(40);
        if !exponent || rng.chance(60) {
            text.push(b'.');
            let frac_len = 1 + rng.below(18);
            text.extend(digits(&mut rng, frac_len, false));
        }
        if exponent {
            text.push(b'e');
            match rng.below(3) {
                0 => text.push(b'+'),
                1 => text.push(b'-'),
                _ => {}
            }
            let exp_len = 1 + rng.below(4);
            text.extend(digits(&mut rng, exp_len, false));
        }
        tried += 1;
        if canonical::short_float_repr(&text) {
            taken += 1;
            assert!(float_is_its_repr(&text), "taken but not its repr: {}", String::from_utf8_lossy(&text));
        }
    }
    assert!(taken > tried / 100, "the shortcut was hardly taken: {taken} of {tried}");
    // Repr's own output, of values with up to 15 digits across the range it covers.
    let mut missed = Vec::new();
    for _ in 0..200_000 {
        let digits = 1 + rng.below(15) as usize;
        let exp = rng.below(601) as i32 - 300;
        let value: f64 = format!("{}e{exp}", rng.next() % 10u64.pow(digits as u32)).parse().unwrap();
        let value = if rng.chance(50) { -value } else { value };
        let mut text = Vec::new();
        float_repr::write_json_float(value, &mut text);
        let expected = value == 0.0 || (1e-300..1e301).contains(&value.abs());
        if canonical::short_float_repr(&text) != expected && missed.len() < 10 {
            missed.push(String::from_utf8_lossy(&text).into_owned());
        }
    }
    assert!(missed.is_empty(), "repr's output the shortcut misjudged: {missed:?}");
    for edge in [&b"0.0"[..], b"-0.0", b"0.0001", b"1000000000000000.0", b"1e+16", b"1e-05", b"1.5e+300", b"1e-300", b"123456789012345.0", b"0.123456789012345"] {
        assert!(canonical::short_float_repr(edge), "{}", String::from_utf8_lossy(edge));
    }
    for miss in [&b"0.00"[..], b"1.50", b"0.00001", b"1e+15", b"1e-04", b"1e5", b"1e+5", b"1e+016", b"1.0e+16", b"10e+16", b"1e+301", b"1e-301", b"10000000000000000.0", b"1.1234567890123456", b"1E+16"] {
        assert!(!canonical::short_float_repr(miss), "{}", String::from_utf8_lossy(miss));
    }
}

#[test]
fn canonical_scan_refuses_near_misses() {
    for doc in [
        &br#"{"a":1}"#[..],
        br#"{"a": 1,"b": 2}"#,
        br#"{"a": 1, "a": 2}"#,
        br#"{"a": -0}"#,
        br#"{"a": 1.50}"#,
        br#"{"a": 1e5}"#,
        br#"{"a": "\u0041"}"#,
        br#"{"a": "\u00E9"}"#,
        br#"{"a": "\u000a"}"#,
        br#"{"a": "\/"}"#,
        br#"{"a": "\ud83d"}"#,
        br#"{"a": "\ude00\ud83d"}"#,
        "{\"a\": \"\u{e9}\"}".as_bytes(),
        b"{\"a\": \"\x7f\"}",
        br#" {"a": 1}"#,
        br#"{"a": 1} "#,
        br#"{"a": 1}\r"#,
        br#"[1, 2]"#,
        br#"{"a": [1,2]}"#,
        br#"{"a": tru}"#,
        br#"{"a": "#,
    ] {
        assert!(canonical::scan(doc, 1000, [b"a".as_slice()]).is_none(), "{:?}", String::from_utf8_lossy(doc));
    }
    let members = canonical::scan(b"{\"a\": [1, {\"b\": NaN}], \"c\": \"x\\ny\"}\n", 1000, [b"c".as_slice(), b"a", b"z"]).unwrap();
    assert_eq!(members.values, [Some(28..34), Some(6..21), None]);
    // Depth: the object is depth 1, the list 2, the inner object 3.
    assert!(canonical::scan(br#"{"a": [{}]}"#, 3, [b"a".as_slice()]).is_some());
    assert!(canonical::scan(br#"{"a": [{}]}"#, 2, [b"a".as_slice()]).is_none());
}

/// Paths reach members of nested objects, only through objects, only by unescaped names,
/// and the same member may end several paths.
#[test]
fn canonical_scan_finds_members_by_path() {
    let doc = br#"{"event_data": {"host": "web1", "res": {"host": "inner"}}, "list": [{"host": "x"}], "host": 1, "s": "event_data"}"#;
    let members = canonical::scan_paths(
        doc,
        1000,
        [
            [b"event_data".as_slice(), b"host"].as_slice(),
            &[b"event_data", b"res", b"host"],
            &[b"list", b"host"],
            &[b"host"],
            &[b"s", b"host"],
            &[b"host"],
            &[b"event_data", b"missing"],
        ],
    )
    .unwrap();
    let text = |r: &Option<std::ops::Range<usize>>| r.clone().map(|r| String::from_utf8_lossy(&doc[r]).into_owned());
    let found: Vec<_> = members.values.iter().map(text).collect();
    assert_eq!(
        found,
        [Some("\"web1\"".into()), Some("\"inner\"".into()), None, Some("1".into()), None, Some("1".into()), None]
    );
    // An escaped spelling of a wanted key is a different key on the wire, never a match.
    let escaped = br#"{"event\u00e9": {"host": 1}}"#;
    assert_eq!(canonical::scan_paths(escaped, 1000, [[b"event\xc3\xa9".as_slice(), b"host"].as_slice()]).unwrap().values, [None]);
    // Duplicate keys inside a nested object still make the line non-canonical.
    assert!(canonical::scan_paths(br#"{"a": {"b": 1, "b": 2}}"#, 1000, [[b"a".as_slice(), b"b"].as_slice()]).is_none());
    // Equal keys in different objects are fine.
    assert!(canonical::scan(br#"{"a": {"a": 1}, "b": {"a": 2}}"#, 1000, [b"a".as_slice()]).is_some());
}

/// Buffers kept from scan to scan, whatever the last scan left in them (a refusal midway,
/// a slow-checked float), give what fresh ones give.
#[test]
fn canonical_scans_with_kept_buffers_agree_with_fresh_ones() {
    let docs: [&[u8]; 6] = [
        br#"{"a": {"b": 1, "b": 2}}"#,
        br#"{"a": 0.30000000000000004, "b": {"c": [1e-07, 5e-324]}, "host": "h"}"#,
        br#"{"event_data": {"host": "web1", "x": 1.50}}"#,
        br#"{"event_data": {"host": "web1", "res": {"host": 1}}, "host": 2}"#,
        br#"{"a": "#,
        br#"{"host": 1, "event_data": {"y": [], "host": "z"}}"#,
    ];
    let nested: [&[u8]; 2] = [b"event_data", b"host"];
    let wanted: [&[&[u8]]; 3] = [&nested, &[b"host"], &[b"a"]];
    let mut space = canonical::ScanSpace::default();
    for round in 0..2 {
        for doc in docs {
            let kept = canonical::scan_paths_in(&mut space, doc, 100, wanted).map(|m| m.values);
            let fresh = canonical::scan_paths(doc, 100, wanted).map(|m| m.values);
            assert_eq!(kept, fresh, "round {round}: {}", String::from_utf8_lossy(doc));
        }
    }
}

/// A line scanned with what follows it (the rest of a chunk) reads as the line alone, and
/// only when a newline ends it.
#[test]
fn canonical_line_scans_agree_with_scans_of_the_line_alone() {
    let lines = fixture_lines();
    let nested: [&[u8]; 2] = [b"event_data", b"host"];
    let wanted: [&[&[u8]]; 3] = [&nested, &[b"event"], &[b"counter"]];
    let mut space = canonical::ScanSpace::default();
    let mut taken = 0;
    for (i, line) in lines.iter().enumerate() {
        let alone = canonical::scan_paths(line, 100, wanted).map(|m| m.values);
        let next = lines.get(i + 1).map_or(&b""[..], |l| l.as_slice());
        for (follows, ends_line) in [(&b"\n"[..], true), (b"\r\n", false), (b" \n", false), (b"", false)] {
            let text = [line.as_slice(), follows, next].concat();
            let found = canonical::scan_line_in(&mut space, &text, 100, wanted);
            let expected = alone.clone().filter(|_| ends_line).map(|values| (line.len(), values));
            assert_eq!(found.map(|(len, m)| (len, m.values)), expected, "{}", String::from_utf8_lossy(line));
        }
        taken += usize::from(alone.is_some());
    }
    assert!(taken > 100, "hardly any canonical line: {taken}");
}
