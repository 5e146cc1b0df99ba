//! Upstream's `valid_inventory`: which paths an `--inventory` value may name, in the order
//! they are tried, and what is said when none exists. Checking that a path exists is the
//! host's (the component sees no such filesystem).

use std::path::{Path, PathBuf};

/// Where `inventory` may be: as given, made absolute against `cwd` (`abspath`); then, for a
/// relative value, joined under `<private_data_dir>/inventory/` (`os.path.join`, kept as
/// joined). The first that is a file or a directory wins.
pub fn candidates(cwd: &Path, private_data_dir: &Path, inventory: &Path) -> Vec<PathBuf> {
    let mut out = vec![crate::paths::absolute(cwd, inventory)];
    if !inventory.is_absolute() {
        out.push(private_data_dir.join("inventory").join(inventory));
    }
    out
}

/// The usage error when no candidate exists (upstream's words).
pub fn not_found(inventory: &str) -> String {
    format!("value for --inventory does not appear to be a valid path: {inventory}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_values_are_also_tried_under_the_inventory_dir() {
        let (cwd, pdd) = (Path::new("/work"), Path::new("/jobs/1"));
        assert_eq!(candidates(cwd, pdd, Path::new("hosts")), [PathBuf::from("/work/hosts"), PathBuf::from("/jobs/1/inventory/hosts")]);
        assert_eq!(candidates(cwd, pdd, Path::new("/etc/hosts.yml")), [PathBuf::from("/etc/hosts.yml")]);
        assert_eq!(candidates(cwd, pdd, Path::new("../inv/./h"))[0], PathBuf::from("/inv/h"));
    }
}
