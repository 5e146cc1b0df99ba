//! Embeds the codec component: the host binary is one file to install.
use std::path::PathBuf;

fn main() {
    println!("cargo:rerun-if-env-changed=RUNNERWIRE_COMPONENT");
    let path = match std::env::var_os("RUNNERWIRE_COMPONENT") {
        Some(p) => PathBuf::from(p),
        None => {
            let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
            let target = std::env::var_os("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| manifest.join("../target"));
            target.join("wasm32-wasip2/release/runnerwire_codec.wasm")
        }
    };
    println!("cargo:rerun-if-changed={}", path.display());
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
