//! `runnerwire transmit`: CLI checks that need the real filesystem, then the component.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;

use crate::cli::TransmitArgs;

use crate::failure::{Failure, StageResult};
use crate::sandbox::{wit_transmit, Budget, Grant, Runtime};
use super::paths::{absolute, random_hex_ident};

pub fn run(args: TransmitArgs) -> StageResult {
    let cwd = std::env::current_dir().context("cannot read the current directory").map_err(Failure::io)?;
    let budget = crate::sandbox::budget(&args.sandbox);
    let (pdd, request) = request_for(args, &cwd)?;
    let runtime = Runtime::new().map_err(Failure::internal)?;
    let stdout = std::io::stdout();
    transmit(&runtime, &pdd, &request, budget, &mut stdout.lock())
}

/// The component's request for `args`, after the checks upstream's CLI makes on the real
/// filesystem (the private data dir made if missing, `--inventory` resolved); with the
/// private data dir, absolute. The Python package's Transmitter builds its request here too.
pub fn request_for(args: TransmitArgs, cwd: &Path) -> Result<(PathBuf, wit_transmit::TransmitRequest), Failure> {
    let pdd = absolute(cwd, &args.private_data_dir);
    // Like upstream's CLI: a missing private data dir is created (0700).
    super::paths::prepare(&runnerwire_policy::prepare::for_transmit(&pdd)).map_err(Failure::io)?;
    if args.host_pattern.is_some() && args.module.is_none() && args.role.is_none() {
        return Err(Failure::usage("the --hosts option can only be used with -m or -r"));
    }
    if let Some(vars) = &args.role_vars {
        // Upstream unpacks `key, value = item.split('=')` (and crashes otherwise).
        if let Some(bad) = vars.split_whitespace().find(|item| item.matches('=').count() != 1) {
            return Err(Failure::usage(format!("--role-vars items must be key=value, found {bad:?}")));
        }
    }
    let inventory = match &args.inventory {
        Some(inv) => Some(
            valid_inventory(cwd, &pdd, inv).ok_or_else(|| Failure::usage(runnerwire_policy::inventory::not_found(&inv.to_string_lossy())))?,
        ),
        None => None,
    };
    let request = wit_transmit::TransmitRequest {
        private_data_dir: pdd.to_string_lossy().into_owned(),
        ident: args.ident.clone().unwrap_or_else(random_hex_ident),
        binary: args.binary,
        playbook: args.playbook,
        module: args.module,
        module_args: args.module_args,
        host_pattern: args.host_pattern,
        verbosity: (args.verbose > 0).then_some(u32::from(args.verbose)),
        quiet: args.quiet,
        rotate_artifacts: args.rotate_artifacts,
        json_mode: args.json_mode,
        omit_event_data: args.omit_event_data,
        only_failed_event_data: args.only_failed_event_data,
        inventory: inventory.map(|p| p.to_string_lossy().into_owned()),
        forks: args.forks,
        project_dir: args.project_dir,
        artifact_dir: args.artifact_dir,
        roles_path: args.roles_path,
        container_image: args.container_image,
        container_volume_mounts: (!args.container_volume_mounts.is_empty()).then_some(args.container_volume_mounts),
        container_options: (!args.container_options.is_empty()).then_some(args.container_options),
        cmdline: args.cmdline,
        limit: args.limit,
        suppress_env_files: args.suppress_env_files,
        role: args.role,
        role_vars: args.role_vars,
        role_skip_facts: args.role_skip_facts,
        generated_name: random_hex_ident(),
        only_transmit_kwargs: args.only_transmit_kwargs,
        now: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0),
    };
    Ok((pdd, request))
}

/// The stage for a validated request, in a runtime the caller keeps, on any output (the
/// Python module's Transmitter uses it).
pub fn transmit(runtime: &Runtime, pdd: &Path, request: &wit_transmit::TransmitRequest, budget: Budget, out: &mut dyn Write) -> StageResult {
    let scratch = super::scratch::scratch_dir("transmit")?;
    let grants = Grant::with_scratch(pdd, "/pdd", false, scratch.path());
    let mut instance = runtime.instantiate(&grants, budget).map_err(Failure::internal)?;
    let api = instance.codec.runnerwire_codec_transmit().transmitter();
    let transmitter = instance.store.call(|store| api.call_start(store, request))?.map_err(Failure::stream)?;
    loop {
        let chunk = instance.store.call(|store| api.call_next_chunk(store, transmitter))?.map_err(Failure::stream)?;
        let Some(chunk) = chunk else { break };
        out.write_all(&chunk).map_err(Failure::write)?;
    }
    out.flush().map_err(Failure::write)?;
    let _ = instance.store.call(|store| transmitter.resource_drop(store));
    Ok(crate::exit::SUCCESS)
}

/// Upstream's `valid_inventory`: the first of the policy's candidates that is a file or a
/// directory.
fn valid_inventory(cwd: &Path, pdd: &Path, inventory: &Path) -> Option<PathBuf> {
    runnerwire_policy::inventory::candidates(cwd, pdd, inventory).into_iter().find(|p| p.is_file() || p.is_dir())
}
