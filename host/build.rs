//! Embeds the codec component (the host binary is one file to install) and the
//! conformance corpus: upstream's recorded fixtures and the hostile corpus, as one
//! zstd-compressed tar, so `runnerwire conformance` works from the installed binary alone.
use std::path::{Path, PathBuf};

fn main() {
    embed_component();
    embed_precompiled();
    embed_corpus();
    println!("cargo:rustc-env=RUNNERWIRE_TARGET={}", std::env::var("TARGET").unwrap());
}

/// The component compiled to native code by `runnerwire-precompile` (`make build` runs it
/// between two builds of this crate); until then an empty file: the binary compiles the
/// component at start instead.
fn embed_precompiled() {
    let path = build_output("RUNNERWIRE_PRECOMPILED", "runnerwire_codec.cwasm");
    let path = if path.exists() {
        path.canonicalize().unwrap()
    } else {
        let empty = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("no-precompiled-component");
        std::fs::write(&empty, b"").unwrap();
        empty
    };
    println!("cargo:rustc-env=RUNNERWIRE_PRECOMPILED_PATH={}", path.display());
}

fn embed_component() {
    let path = build_output("RUNNERWIRE_COMPONENT", "runnerwire_codec.wasm");
    if !path.exists() {
        panic!(
            "the codec component is missing at {}: build it first with `make component` \
             (cargo build -p runnerwire-codec --target wasm32-wasip2 --release)",
            path.display()
        );
    }
    let path = path.canonicalize().unwrap();
    println!("cargo:rustc-env=RUNNERWIRE_COMPONENT_PATH={}", path.display());
}

/// `$variable` if set, else `file` among the component build's outputs; watched either way.
fn build_output(variable: &str, file: &str) -> PathBuf {
    println!("cargo:rerun-if-env-changed={variable}");
    let path = match std::env::var_os(variable) {
        Some(p) => PathBuf::from(p),
        None => {
            let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| manifest.join("../target"));
            target.join("wasm32-wasip2/release").join(file)
        }
    };
    println!("cargo:rerun-if-changed={}", path.display());
    path
}

/// Files of each recorded scenario the kit needs, and the hostile corpus.
const SCENARIO_FILES: &[&str] = &["args.json", "pdd.tar", "job.stream", "result.stream", "process.stdout", "process.tar"];

fn embed_corpus() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let fixtures = manifest.join("../fixtures");
    println!("cargo:rerun-if-changed={}", fixtures.display());
    let mut builder = tar::Builder::new(Vec::new());
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&fixtures).unwrap().map(|e| e.unwrap().path()).collect();
    dirs.sort();
    for dir in dirs.iter().filter(|d| d.join("args.json").exists()) {
        println!("cargo:rerun-if-changed={}", dir.display());
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        for file in SCENARIO_FILES {
            let path = dir.join(file);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
                append(&mut builder, &path, &format!("{name}/{file}"));
            }
        }
    }
    let hostile = fixtures.join("hostile");
    append(&mut builder, &hostile.join("cases.json"), "hostile/cases.json");
    for kind in ["job", "result"] {
        let mut streams: Vec<PathBuf> = std::fs::read_dir(hostile.join(kind)).unwrap().map(|e| e.unwrap().path()).collect();
        streams.sort();
        for path in streams {
            println!("cargo:rerun-if-changed={}", path.display());
            let rel = format!("hostile/{kind}/{}", path.file_name().unwrap().to_string_lossy());
            append(&mut builder, &path, &rel);
        }
    }
    let tar = builder.into_inner().unwrap();
    let compressed = ruzstd::encoding::compress_to_vec(tar.as_slice(), ruzstd::encoding::CompressionLevel::Fastest);
    let out = PathBuf::from(std::env::var_os("OUT_DIR").unwrap()).join("corpus.tar.zst");
    std::fs::write(&out, compressed).unwrap();
    println!("cargo:rustc-env=RUNNERWIRE_CORPUS_PATH={}", out.display());
}

/// Appends a file with fixed owner and time, so the corpus bytes depend on content only.
fn append(builder: &mut tar::Builder<Vec<u8>>, path: &Path, name: &str) {
    let data = std::fs::read(path).unwrap();
    let mut header = tar::Header::new_gnu();
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_mtime(0);
    header.set_cksum();
    builder.append_data(&mut header, name, data.as_slice()).unwrap();
}
