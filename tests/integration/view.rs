//! `runnerwire view FILE`: the page's files and that one stream over HTTP on 127.0.0.1, with
//! view.mjs's headers, and nothing else of the disk (no `..`, encoded or not, no link out of
//! the page's directory, no other method or Host); where the page is found; its errors.
//! Needs only the built binary: the page here is a stand-in directory with the files the
//! command checks for (the real page in Chromium: bindings/js/test/web-output.test.mjs).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::common::*;

/// A page directory: index.html (the real one, so its CSP meta tag is there), a module, a
/// wasm file and the component's entry point that `view` checks for.
fn fake_page(web: &Path) {
    std::fs::create_dir_all(web.join("dist/codec")).unwrap();
    std::fs::copy(repo_root().join("web/index.html"), web.join("index.html")).unwrap();
    std::fs::write(web.join("app.mjs"), "export {};\n").unwrap();
    std::fs::write(web.join("dist/codec/runnerwire_codec.js"), "export {};\n").unwrap();
    std::fs::write(web.join("dist/codec/runnerwire_codec.core.wasm"), b"\0asm\x01\0\0\0").unwrap();
}

/// The running server; killed when dropped.
struct Server {
    child: Child,
    url: String,
    port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(mut cmd: Command) -> Server {
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("spawn runnerwire view");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim_end().rsplit(' ').next().unwrap_or_default().to_string();
    if !url.starts_with("http://127.0.0.1:") {
        let _ = child.kill();
        let mut err = String::new();
        child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
        panic!("no URL from view: {line:?} {err}");
    }
    let port = url["http://127.0.0.1:".len()..].split('/').next().unwrap().parse().unwrap();
    Server { child, url, port }
}

struct Response {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// One raw request (the target sent exactly as given: no client normalizes `..` away).
fn request(port: u16, method: &str, target: &str, host: &str) -> Response {
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(conn, "{method} {target} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n").unwrap();
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw).unwrap();
    let end = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head");
    let head = String::from_utf8(raw[..end].to_vec()).unwrap();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split(' ').nth(1).unwrap().parse().unwrap();
    let headers = lines.map(|l| l.split_once(':').unwrap()).map(|(k, v)| (k.trim().to_string(), v.trim().to_string())).collect();
    Response { status, headers, body: raw[end + 4..].to_vec() }
}

fn get(server: &Server, target: &str) -> Response {
    request(server.port, "GET", target, &format!("127.0.0.1:{}", server.port))
}

fn view(file: &Path, web: &Path) -> Command {
    let mut cmd = runnerwire();
    cmd.env_remove("RUNNERWIRE_WEB").arg("view").arg(file).arg("--no-open").arg("--web").arg(web);
    cmd
}

#[test]
fn serves_the_page_and_the_stream_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let web = tmp.path().join("web");
    fake_page(&web);
    std::fs::write(tmp.path().join("secret.txt"), "not for the page").unwrap();
    std::os::unix::fs::symlink(tmp.path().join("secret.txt"), web.join("out.txt")).unwrap();
    let stream = repo_root().join("fixtures/awx/result.stream");
    let server = serve(view(&stream, &web));
    assert!(server.url.ends_with("/#src=stream&name=result.stream"), "{}", server.url);

    let index = get(&server, "/");
    assert_eq!(index.status, 200);
    assert_eq!(index.body, std::fs::read(web.join("index.html")).unwrap());
    assert_eq!(index.header("content-type"), Some("text/html; charset=utf-8"));
    // The header says what the page's meta tag says.
    let html = String::from_utf8(index.body.clone()).unwrap();
    let csp = index.header("content-security-policy").expect("a CSP header");
    for directive in ["default-src 'none'", "script-src 'self' 'wasm-unsafe-eval'", "connect-src 'self'", "object-src 'none'", "base-uri 'none'"] {
        assert!(csp.contains(directive) && html.contains(directive), "{directive}: {csp}");
    }
    for response in [&index, &get(&server, "/stream"), &get(&server, "/nope")] {
        assert_eq!(response.header("x-content-type-options"), Some("nosniff"));
        assert_eq!(response.header("referrer-policy"), Some("no-referrer"));
        assert_eq!(response.header("cache-control"), Some("no-store"));
    }
    assert_eq!(get(&server, "/index.html").body, index.body);

    let body = get(&server, "/stream");
    assert_eq!(body.status, 200);
    assert_eq!(body.header("content-type"), Some("application/octet-stream"));
    assert_eq!(body.body, std::fs::read(&stream).unwrap());
    assert_eq!(body.header("content-length"), Some(body.body.len().to_string().as_str()));
    let head = request(server.port, "HEAD", "/stream", &format!("localhost:{}", server.port));
    assert_eq!((head.status, head.body.len()), (200, 0));
    assert_eq!(head.header("content-length"), Some(body.body.len().to_string().as_str()));

    for (path, kind) in [("/app.mjs", "text/javascript"), ("/dist/codec/runnerwire_codec.core.wasm", "application/wasm")] {
        let r = get(&server, path);
        assert_eq!((r.status, r.header("content-type")), (200, Some(kind)), "{path}");
        assert_eq!(r.body, std::fs::read(web.join(&path[1..])).unwrap(), "{path}");
        assert_eq!(r.header("content-security-policy"), None, "{path}: only the page carries the policy");
    }

    // Nothing else of the disk: `..` plain, encoded, deeper, as a link out of the directory.
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/%2E%2E%2Fsecret.txt",
        "/dist/../../secret.txt",
        "/dist/%2e%2e/%2e%2e/secret.txt",
        "/..%5csecret.txt",
        "/out.txt",
        "/../../../../etc/passwd",
        "/stream/",
        "/stream.txt",
        "/nope",
        "/dist/",
    ] {
        let r = get(&server, path);
        assert_eq!(r.status, 404, "{path}");
        assert!(!String::from_utf8_lossy(&r.body).contains("not for the page"), "{path}");
    }
    assert_eq!(get(&server, "/%zz").status, 400);
    for method in ["POST", "PUT", "DELETE", "OPTIONS"] {
        let r = request(server.port, method, "/stream", &format!("127.0.0.1:{}", server.port));
        assert_eq!(r.status, 405, "{method}");
        assert!(r.body.is_empty(), "{method}");
    }
    // A name other than its own (a rebound DNS name): refused, so no other site reads the stream.
    assert_eq!(request(server.port, "GET", "/stream", "attacker.example").status, 403);
    assert_eq!(request(server.port, "GET", "/stream", &format!("attacker.example:{}", server.port)).status, 403);
}

#[test]
fn the_port_is_the_one_asked_for() {
    let tmp = tempfile::tempdir().unwrap();
    let web = tmp.path().join("web");
    fake_page(&web);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut cmd = view(&repo_root().join("fixtures/simple/result.stream"), &web);
    cmd.arg("--port").arg(port.to_string());
    let server = serve(cmd);
    assert_eq!(server.port, port);
    assert_eq!(get(&server, "/stream").status, 200);
}

/// An installed layout: `<prefix>/bin/runnerwire` finds `<prefix>/share/runnerwire/web`.
#[test]
fn an_install_finds_its_page_beside_the_binary() {
    let tmp = tempfile::tempdir().unwrap();
    let prefix = tmp.path().join("prefix");
    std::fs::create_dir_all(prefix.join("bin")).unwrap();
    let binary = prefix.join("bin/runnerwire");
    std::fs::copy(env!("CARGO_BIN_EXE_runnerwire"), &binary).unwrap();
    let stream = repo_root().join("fixtures/simple/result.stream");

    // No page yet: one line, exit 74, no server.
    let out = Command::new(&binary).env_remove("RUNNERWIRE_WEB").arg("view").arg(&stream).arg("--no-open").output().unwrap();
    assert_eq!(out.status.code(), Some(74), "{out:?}");
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("runnerwire: view: no page found"), "{err}");

    let web = prefix.join("share/runnerwire/web");
    fake_page(&web);
    let mut cmd = Command::new(&binary);
    cmd.env_remove("RUNNERWIRE_WEB").arg("view").arg(&stream).arg("--no-open");
    let server = serve(cmd);
    assert_eq!(get(&server, "/app.mjs").status, 200);
    drop(server);

    // RUNNERWIRE_WEB is taken before the install's page.
    let other = tmp.path().join("other");
    fake_page(&other);
    std::fs::write(other.join("app.mjs"), "export const other = 1;\n").unwrap();
    let mut cmd = Command::new(&binary);
    cmd.env("RUNNERWIRE_WEB", &other).arg("view").arg(&stream).arg("--no-open");
    let server = serve(cmd);
    assert_eq!(get(&server, "/app.mjs").body, b"export const other = 1;\n");
}

#[test]
fn errors_are_one_line_with_their_exit_code() {
    let tmp = tempfile::tempdir().unwrap();
    let web = tmp.path().join("web");
    fake_page(&web);
    let stream = repo_root().join("fixtures/simple/result.stream");
    let no_dist = tmp.path().join("no-dist");
    std::fs::create_dir_all(&no_dist).unwrap();
    std::fs::copy(web.join("index.html"), no_dist.join("index.html")).unwrap();
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port().to_string();
    let cases: Vec<(Vec<PathBuf>, Vec<&str>, i32, &str)> = vec![
        (vec![tmp.path().join("missing.stream")], vec!["--web"], 74, "no such file"),
        (vec![stream.clone()], vec!["--web"], 2, "dist/ is missing: run `make bindings` first"),
        (vec![stream.clone()], vec!["--port", &busy_port, "--web"], 74, "cannot listen on 127.0.0.1:"),
        (vec![tmp.path().to_path_buf()], vec!["--web"], 74, "no such file"),
    ];
    for (i, (file, opts, code, message)) in cases.into_iter().enumerate() {
        let page = if i == 1 { &no_dist } else { &web };
        let out = runnerwire().env_remove("RUNNERWIRE_WEB").arg("view").args(&file).arg("--no-open").args(&opts).arg(page).output().unwrap();
        let err = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(code), "case {i}: {err}");
        assert_eq!(err.lines().count(), 1, "case {i}: {err}");
        assert!(err.starts_with("runnerwire: view: ") && err.contains(message), "case {i}: {err}");
    }
    drop(busy);
}
