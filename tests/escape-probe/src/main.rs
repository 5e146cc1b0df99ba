//! Tries every way out of the preopened `/artifacts` and `/scratch` a buggy codec could
//! take, and prints one line per attempt: `<name>: allowed` or `<name>: denied (<error>)`.
//! The first attempt writes inside and must be allowed, so a probe that cannot write at all
//! does not pass as a sandbox.

use std::fs;
use std::io;

fn attempt(name: &str, result: io::Result<()>) {
    match result {
        Ok(()) => println!("{name}: allowed"),
        Err(e) => println!("{name}: denied ({e})"),
    }
}

fn main() {
    attempt("control: write inside", fs::write("/artifacts/inside.txt", b"inside"));
    attempt("write through ..", fs::write("/artifacts/../escape.txt", b"x"));
    attempt("write through nested ..", fs::write("/artifacts/sub/../../escape.txt", b"x"));
    attempt("write at an absolute path", fs::write("/escape.txt", b"x"));
    attempt("write at the host path", fs::write(std::env::var("VICTIM_HOST_PATH").unwrap_or_default() + "/escape.txt", b"x"));
    attempt("write through a relative link out", fs::write("/artifacts/link-out/escape.txt", b"x"));
    attempt("write through an absolute link out", fs::write("/artifacts/abs-link-out/escape.txt", b"x"));
    attempt("overwrite a file through a link", fs::write("/artifacts/secret-link", b"pwned"));
    attempt("read through a link out", fs::read("/artifacts/link-out/secret").map(|_| ()));
    attempt("make a directory through ..", fs::create_dir("/artifacts/../escape-dir"));
    attempt("rename out through ..", fs::rename("/artifacts/inside.txt", "/artifacts/../escape.txt"));
    attempt("remove through a link out", fs::remove_file("/artifacts/link-out/secret"));
    attempt("hard link to a file outside", fs::hard_link("/artifacts/link-out/secret", "/artifacts/hard-link"));
    attempt("write through scratch ..", fs::write("/scratch/../escape.txt", b"x"));
    attempt("list the root", fs::read_dir("/").map(|_| ()));
    attempt("connect to the network", std::net::TcpStream::connect("127.0.0.1:9").map(|_| ()));
    attempt("resolve a host name", std::net::ToSocketAddrs::to_socket_addrs("localhost:80").map(|_| ()));
}
