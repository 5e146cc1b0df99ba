//! `runnerwire worker cleanup`: upstream's housekeeping for execution nodes (AWX runs it):
//! remove private data dirs of finished jobs matching a glob, and container images.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use crate::cli::CleanupArgs;
use crate::failure::{Failure, StageResult};

/// Directories no pattern may ever delete (upstream's list).
const PROTECTED: &[&str] = &["/", "/bin", "/dev", "/home", "/lib", "/mnt", "/proc", "/run", "/sys", "/usr", "/boot", "/etc", "/opt", "/sbin", "/var"];
const REGISTRY_AUTH_PREFIX: &str = "ansible_runner_registry_";

pub fn run(args: CleanupArgs) -> StageResult {
    let excludes: Vec<String> = args.exclude_strings.iter().flat_map(|s| s.split(',')).map(str::to_string).filter(|s| !s.is_empty()).collect();
    let images: Vec<String> = args.remove_images.iter().flat_map(|s| s.split(',')).map(str::to_string).filter(|s| !s.is_empty()).collect();
    let mut changed = false;
    if let Some(pattern) = &args.file_pattern {
        let removed = cleanup_dirs(pattern, &excludes, args.grace_period)?;
        if removed > 0 {
            println!("Removed {removed} private data dir(s) in pattern {pattern}");
            changed = true;
        }
    }
    if !images.is_empty() {
        let removed = cleanup_images(&images, &args.process_isolation_executable);
        if removed > 0 {
            println!("Removed {removed} image(s)");
            changed = true;
        }
    }
    if args.image_prune && prune_images(&args.process_isolation_executable) {
        println!("Pruned images");
        changed = true;
    }
    println!("(changed: {})", if changed { "True" } else { "False" });
    Ok(crate::exit::SUCCESS)
}

fn matches(pattern: &str) -> Vec<PathBuf> {
    // Python's glob: `*` does not match a leading dot.
    let options = glob::MatchOptions { case_sensitive: true, require_literal_separator: true, require_literal_leading_dot: true };
    glob::glob_with(pattern, options).map(|paths| paths.filter_map(Result::ok).collect()).unwrap_or_default()
}

fn cleanup_dirs(pattern: &str, excludes: &[String], grace_minutes: u64) -> Result<usize, Failure> {
    let found = matches(pattern);
    let temp = std::env::temp_dir();
    let protected: Vec<PathBuf> = PROTECTED.iter().map(PathBuf::from).chain([temp]).flat_map(|p| [p.canonicalize().unwrap_or(p.clone()), p]).collect();
    let bad: Vec<String> =
        found.iter().filter(|d| protected.contains(&d.canonicalize().unwrap_or((*d).clone()))).map(|d| d.display().to_string()).collect();
    if !bad.is_empty() {
        return Err(Failure::usage(format!(
            "provided pattern could result in deleting system folders: {}; refusing to continue",
            bad.join(" ")
        )));
    }
    let cutoff = SystemTime::now() - Duration::from_secs(grace_minutes * 60);
    let mut removed = 0;
    for dir in found {
        let text = dir.display().to_string();
        if excludes.iter().any(|e| text.contains(e.as_str())) {
            continue;
        }
        if grace_minutes > 0 && std::fs::metadata(&dir).and_then(|m| m.modified()).is_ok_and(|t| t > cutoff) {
            continue;
        }
        if is_alive(&dir) {
            println!("Excluding running project {text} from cleanup");
            continue;
        }
        remove_registry_auth_dirs(&dir);
        if std::fs::remove_dir_all(&dir).is_ok() {
            removed += 1;
        }
    }
    Ok(removed)
}

/// A private data dir whose `pid` file names a live process belongs to a running job.
fn is_alive(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string(dir.join("pid")) else { return false };
    let Ok(pid) = text.lines().next().unwrap_or("").trim().parse::<libc::pid_t>() else { return false };
    // SAFETY: signal 0 only checks that the process exists.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Registry credential dirs upstream's container runs leave in the temp dir, per ident.
fn remove_registry_auth_dirs(dir: &Path) {
    let Ok(idents) = std::fs::read_dir(dir.join("artifacts")) else { return };
    for ident in idents.flatten() {
        let pattern = format!("{}/{REGISTRY_AUTH_PREFIX}{}_*", std::env::temp_dir().display(), ident.file_name().to_string_lossy());
        for auth_dir in matches(&pattern) {
            if std::fs::remove_dir_all(&auth_dir).is_ok() {
                println!("Removed associated registry auth dir {}", auth_dir.display());
            }
        }
    }
}

fn run_quiet(args: &[&str]) -> Option<String> {
    let out = Command::new(args[0]).args(&args[1..]).output().ok()?;
    Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// As upstream: podman untags, docker `rmi -f`s each tag found.
fn cleanup_images(images: &[String], runtime: &str) -> usize {
    let mut removed = 0;
    for image in images {
        let Some(found) = run_quiet(&[runtime, "images", "--format=\"{{.Repository}}:{{.Tag}}\"", image]) else { continue };
        for tag in found.lines().filter(|l| !l.is_empty()) {
            if runtime == "podman" {
                if run_quiet(&[runtime, "untag", image]).is_some_and(|o| o.is_empty()) {
                    removed += 1;
                }
            } else if let Some(out) = run_quiet(&[runtime, "rmi", tag.trim().trim_matches('"'), "-f"]) {
                removed += out.matches("Untagged:").count();
            }
        }
    }
    removed
}

fn prune_images(runtime: &str) -> bool {
    run_quiet(&[runtime, "image", "prune", "-f"]).is_some_and(|o| !o.is_empty() && o != "Total reclaimed space: 0B")
}
