//! Small host-side path and naming helpers (CLI plumbing, not format rules).

use std::io::Read;

pub use runnerwire_policy::paths::absolute;

/// Carries out the policy's preparation steps (`runnerwire_policy::prepare`), in order.
pub fn prepare(steps: &[runnerwire_policy::prepare::Step]) -> anyhow::Result<()> {
    use anyhow::Context;
    use runnerwire_policy::prepare::Step;
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    for step in steps {
        match step {
            Step::Dir { path, mode } if !path.is_dir() => {
                std::fs::DirBuilder::new().recursive(true).mode(*mode).create(path).with_context(|| format!("cannot create {}", path.display()))?;
            }
            Step::EmptyFile { path, mode } if std::fs::symlink_metadata(path).is_err() => {
                std::fs::OpenOptions::new()
                    .write(true)
                    .create_new(true)
                    .mode(*mode)
                    .open(path)
                    .with_context(|| format!("cannot create {}", path.display()))?;
            }
            _ => {}
        }
    }
    Ok(())
}

/// A fresh `uuid4().hex`, which is what upstream's transmit uses as the default ident.
pub fn random_hex_ident() -> String {
    let mut bytes = [0u8; 16];
    if std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes)).is_err() {
        let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
        bytes = (nanos ^ (u128::from(std::process::id()) << 64)).to_le_bytes();
    }
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
