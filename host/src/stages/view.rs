//! `runnerwire view FILE`: opens a stream in the page (`web/`) in the system's browser, as
//! the npm package's `runnerwire-view` does. It serves the page's files and that one stream
//! (at `/stream`, nothing else of the disk) on 127.0.0.1 until interrupted; the page fetches
//! the stream named by the URL's fragment (`#src=stream&name=FILE`) and reads it in the
//! browser. Plain std::net: a loopback server for one user needs no HTTP crate.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cli::ViewArgs;
use crate::exit;
use crate::failure::{Failure, StageResult};

/// The policy `web/index.html` carries in its meta tag, sent as a header too (the same as
/// view.mjs's `CSP`).
pub const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; worker-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; connect-src 'self'; manifest-src 'none'; media-src 'none'; object-src 'none'; frame-src 'none'; child-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/// A request head bigger than this is refused: browsers send a few hundred bytes.
const MAX_HEAD: usize = 16 * 1024;

pub fn run(args: ViewArgs) -> StageResult {
    let file = std::fs::canonicalize(&args.file)
        .ok()
        .filter(|p| p.is_file())
        .ok_or_else(|| Failure { code: exit::IO_ERROR, message: format!("view: {}: no such file", args.file.display()) })?;
    let web = find_web(args.web.clone())?;
    let listener = TcpListener::bind(("127.0.0.1", args.port))
        .map_err(|e| Failure { code: exit::IO_ERROR, message: format!("view: cannot listen on 127.0.0.1:{}: {e}", args.port) })?;
    let port = listener.local_addr().map_err(|e| Failure::io(e.into()))?.port();
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let url = format!("http://127.0.0.1:{port}/#src=stream&name={}", form_encode(&name));
    let mut text = format!("Serving {} on {url}\nOpen that URL in a browser (only this machine can reach it); Ctrl-C stops.\n", file.display());
    if !args.no_open && !open_browser(&url) {
        text.push_str("(no xdg-open here: open the URL yourself)\n");
    }
    // Best effort: whoever read the URL may close the pipe (`| head -1`); the server stays.
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes()).and_then(|()| out.flush());
    drop(out);
    let site = Site { web, file, port };
    // Until interrupted (SIGINT ends the process): one thread per connection, since the
    // page opens several at once and a slow one must not hold up the others.
    let site = std::sync::Arc::new(site);
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let site = site.clone();
        std::thread::spawn(move || {
            let _ = site.serve(conn);
        });
    }
    Ok(exit::SUCCESS)
}

/// Where the page is: `--web DIR`, `RUNNERWIRE_WEB`, the install's
/// `<bin>/../share/runnerwire/web`, or, for a binary in a checkout's `target/`, its `web/`.
fn find_web(explicit: Option<PathBuf>) -> Result<PathBuf, Failure> {
    let given = explicit.or_else(|| std::env::var_os("RUNNERWIRE_WEB").filter(|v| !v.is_empty()).map(PathBuf::from));
    if let Some(dir) = given {
        return check_web(&dir).map_err(|why| Failure::usage(format!("view: {}: {why}", dir.display())));
    }
    let exe = std::env::current_exe().and_then(std::fs::canonicalize).ok();
    let bin_dir = exe.as_deref().and_then(Path::parent);
    if let Some(share) = bin_dir.map(|b| b.join("../share/runnerwire/web")).filter(|d| d.join("index.html").is_file()) {
        return check_web(&share).map_err(|why| Failure { code: exit::IO_ERROR, message: format!("view: {}: {why}", share.display()) });
    }
    // A build in a checkout: target/release/runnerwire (or target/<triple>/release/...).
    let checkout = bin_dir
        .into_iter()
        .flat_map(Path::ancestors)
        .find(|d| d.file_name().is_some_and(|n| n == "target"))
        .and_then(Path::parent)
        .map(|root| root.join("web"))
        .filter(|web| web.join("index.html").is_file());
    match checkout {
        Some(web) => check_web(&web).map_err(|why| Failure { code: exit::IO_ERROR, message: format!("view: {}: {why}", web.display()) }),
        None => Err(Failure {
            code: exit::IO_ERROR,
            message: "view: no page found: pass --web DIR or set RUNNERWIRE_WEB (the install's share/runnerwire/web, or a checkout's web/)".into(),
        }),
    }
}

/// The page needs its index.html and the component `make bindings` puts in dist/.
fn check_web(dir: &Path) -> Result<PathBuf, &'static str> {
    if !dir.join("index.html").is_file() {
        return Err("no index.html: not the page's directory");
    }
    if !dir.join("dist/codec/runnerwire_codec.js").is_file() {
        return Err("dist/ is missing: run `make bindings` first");
    }
    std::fs::canonicalize(dir).map_err(|_| "cannot resolve the directory")
}

struct Site {
    web: PathBuf,
    file: PathBuf,
    port: u16,
}

struct Reply {
    status: &'static str,
    content_type: &'static str,
    body: Body,
}

enum Body {
    Empty,
    File(PathBuf),
}

impl Site {
    fn serve(&self, conn: TcpStream) -> std::io::Result<()> {
        conn.set_read_timeout(Some(Duration::from_secs(10)))?;
        conn.set_write_timeout(Some(Duration::from_secs(60)))?;
        let mut reader = BufReader::new(conn.try_clone()?);
        let head = read_head(&mut reader)?;
        let (method, reply) = match head {
            Some(head) => {
                let method = head.method.clone();
                (method, self.route(&head))
            }
            None => (String::new(), Reply { status: "400 Bad Request", content_type: "", body: Body::Empty }),
        };
        respond(conn, &method, reply)
    }

    fn route(&self, head: &Head) -> Reply {
        let empty = |status| Reply { status, content_type: "", body: Body::Empty };
        if head.method != "GET" && head.method != "HEAD" {
            return empty("405 Method Not Allowed");
        }
        // Only this server's own names: a page elsewhere that rebinds its host name to
        // 127.0.0.1 must not read the stream.
        let own = [format!("127.0.0.1:{}", self.port), format!("localhost:{}", self.port)];
        if !head.host.as_deref().is_some_and(|h| own.iter().any(|o| o.eq_ignore_ascii_case(h))) {
            return empty("403 Forbidden");
        }
        let Some(path) = decode_path(&head.target) else { return empty("400 Bad Request") };
        if path == "/stream" {
            return Reply { status: "200 OK", content_type: "application/octet-stream", body: Body::File(self.file.clone()) };
        }
        match self.page_file(&path) {
            Some(file) => Reply { status: "200 OK", content_type: content_type(&file), body: Body::File(file) },
            None => empty("404 Not Found"),
        }
    }

    /// A file under the page's directory, never `..`, never through a link out of it.
    fn page_file(&self, path: &str) -> Option<PathBuf> {
        let mut file = self.web.clone();
        for part in path.split('/').filter(|p| !p.is_empty()) {
            if part == "." || part == ".." || part.contains('\\') || part.contains('\0') {
                return None;
            }
            file.push(part);
        }
        if path.ends_with('/') {
            file.push("index.html");
        }
        let real = std::fs::canonicalize(&file).ok()?;
        (real.starts_with(&self.web) && real.is_file()).then_some(real)
    }
}

struct Head {
    method: String,
    target: String,
    host: Option<String>,
}

/// The request line and the Host header; None for a head that is not HTTP/1.
fn read_head(reader: &mut impl BufRead) -> std::io::Result<Option<Head>> {
    let mut lines = Vec::new();
    let mut total = 0;
    loop {
        let mut line = Vec::new();
        let n = reader.by_ref().take((MAX_HEAD - total + 1) as u64).read_until(b'\n', &mut line)?;
        total += n;
        if n == 0 || total > MAX_HEAD {
            return Ok(None);
        }
        let text = String::from_utf8_lossy(&line).trim_end_matches(['\r', '\n']).to_string();
        if text.is_empty() {
            break;
        }
        lines.push(text);
    }
    let mut first = lines.first().map(|l| l.split(' ')).into_iter().flatten();
    let (Some(method), Some(target), Some(version)) = (first.next(), first.next(), first.next()) else { return Ok(None) };
    if !version.starts_with("HTTP/1.") {
        return Ok(None);
    }
    let host = lines[1..]
        .iter()
        .find_map(|l| l.split_once(':').filter(|(k, _)| k.trim().eq_ignore_ascii_case("host")).map(|(_, v)| v.trim().to_string()));
    Ok(Some(Head { method: method.to_string(), target: target.to_string(), host }))
}

/// The path of an origin-form target, percent-decoded; None when it is not one.
fn decode_path(target: &str) -> Option<String> {
    let path = target.split(['?', '#']).next()?;
    if !path.starts_with('/') {
        return None;
    }
    let bytes = path.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn respond(mut conn: TcpStream, method: &str, reply: Reply) -> std::io::Result<()> {
    let mut head = format!(
        "HTTP/1.1 {}\r\nx-content-type-options: nosniff\r\nreferrer-policy: no-referrer\r\ncache-control: no-store\r\nconnection: close\r\n",
        reply.status
    );
    if reply.status.starts_with("405") {
        head.push_str("allow: GET, HEAD\r\n");
    }
    let file = match &reply.body {
        Body::File(path) => match std::fs::File::open(path) {
            Ok(f) => Some(f),
            Err(_) => return conn.write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"),
        },
        Body::Empty => None,
    };
    let length = match &file {
        Some(f) => f.metadata()?.len(),
        None => 0,
    };
    if file.is_some() {
        head.push_str(&format!("content-type: {}\r\n", reply.content_type));
        if reply.content_type.starts_with("text/html") {
            head.push_str(&format!("content-security-policy: {CSP}\r\n"));
        }
    }
    head.push_str(&format!("content-length: {length}\r\n\r\n"));
    conn.write_all(head.as_bytes())?;
    if let (Some(mut f), true) = (file, method != "HEAD") {
        std::io::copy(&mut f, &mut conn)?;
    }
    conn.flush()
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("mjs" | "js") => "text/javascript",
        Some("css") => "text/css",
        Some("wasm") => "application/wasm",
        Some("json") => "application/json",
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        _ => "application/octet-stream",
    }
}

/// `application/x-www-form-urlencoded`, as URLSearchParams writes the fragment in view.mjs.
fn form_encode(text: &str) -> String {
    let mut out = String::new();
    for &b in text.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => out.push(b as char),
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Opens `url` with the desktop's opener; false when there is none.
fn open_browser(url: &str) -> bool {
    let opener = if cfg!(target_os = "macos") { "open" } else { "xdg-open" };
    let spawned = std::process::Command::new(opener)
        .arg(url)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
    match spawned {
        Ok(mut child) => {
            // Reaped in the background, so no zombie stays while the server runs.
            std::thread::spawn(move || child.wait());
            true
        }
        Err(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_decode_and_names_encode_as_the_page_reads_them() {
        assert_eq!(decode_path("/%2e%2e/Makefile?x=1").as_deref(), Some("/../Makefile"));
        assert_eq!(decode_path("/a%2"), None);
        assert_eq!(decode_path("http://x/"), None);
        assert_eq!(form_encode("my result.stream&x=ü"), "my+result.stream%26x%3D%C3%BC");
    }
}
