//! What the kernel holds a script's worker to, applied by the worker to itself before the
//! script starts and before it starts any thread (Landlock binds the calling thread and what
//! it starts later; the seccomp filter is synchronized to every thread).
//!
//! - `no_new_privs`: nothing it executes gains privileges (setuid, file capabilities);
//! - no core dumps, and a bounded number of descriptors;
//! - a bound on the memory it can map (`RLIMIT_DATA`): what it had at the fork plus
//!   `--max-memory` and a small allowance for thread stacks;
//! - Landlock: reading and writing only where some permit could allow it, Tollgate's own
//!   files excepted (see `tollgate_host::confine`), and beneath the audit log's segments;
//! - seccomp: the system calls no SDK call needs fail with `EPERM` ([`REFUSED_SYSCALLS`]).

use std::collections::BTreeMap;

use seccompiler::{BpfProgram, SeccompAction, SeccompFilter, TargetArch};
use serde::{Deserialize, Serialize};
use tollgate_host::confine::{confine_worker, Landlock};
use tollgate_policy::{AbsPath, Gate};

/// Room above `--max-memory` for what the worker maps besides the script's heap: the stacks
/// of its few threads and the allocator's slack.
const MEMORY_ALLOWANCE: u64 = 12 << 20;

/// Most descriptors a worker may hold at once. A walk holds one per level it is down, and
/// the deepest path the kernel can name (`PATH_MAX`, 4096 bytes) is 2048 levels of
/// one-character names: room for that and the worker's own few.
const MAX_DESCRIPTORS: u64 = 2048 + 256;

/// System calls that no SDK call makes from the worker: tracing and reading other processes,
/// mounting, namespaces, kernel modules and images, BPF, perf, keys, userfaultfd, and other
/// ways to reconfigure the host. The filter is inherited by what the worker executes.
const REFUSED_SYSCALLS: &[i64] = &[
    libc::SYS_ptrace,
    libc::SYS_process_vm_readv,
    libc::SYS_process_vm_writev,
    libc::SYS_mount,
    libc::SYS_umount2,
    libc::SYS_pivot_root,
    libc::SYS_chroot,
    libc::SYS_unshare,
    libc::SYS_setns,
    libc::SYS_kexec_load,
    libc::SYS_kexec_file_load,
    libc::SYS_bpf,
    libc::SYS_perf_event_open,
    libc::SYS_init_module,
    libc::SYS_finit_module,
    libc::SYS_delete_module,
    libc::SYS_keyctl,
    libc::SYS_add_key,
    libc::SYS_request_key,
    libc::SYS_userfaultfd,
    libc::SYS_swapon,
    libc::SYS_swapoff,
    libc::SYS_reboot,
    libc::SYS_acct,
    libc::SYS_settimeofday,
    libc::SYS_clock_settime,
    libc::SYS_adjtimex,
    libc::SYS_sethostname,
    libc::SYS_setdomainname,
    libc::SYS_open_by_handle_at,
    libc::SYS_name_to_handle_at,
    libc::SYS_fsopen,
    libc::SYS_fsmount,
    libc::SYS_fsconfig,
    libc::SYS_move_mount,
    libc::SYS_open_tree,
    libc::SYS_quotactl,
    libc::SYS_kcmp,
    libc::SYS_pidfd_getfd,
    libc::SYS_io_uring_setup,
    libc::SYS_personality,
];

/// What confinement the worker got, for the run's start record.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Confinement {
    pub no_new_privs: bool,
    /// `enforced`, `unbounded` (permits for reading and writing apply anywhere) or
    /// `unsupported`.
    pub landlock: String,
    /// What the Landlock ruleset narrows: `reads`, `writes`, both, or none (some permit
    /// for them applies anywhere).
    #[serde(default)]
    pub landlock_narrows: Vec<String>,
    pub seccomp: bool,
    /// The bound on mapped memory, in bytes.
    pub memory_bytes: u64,
    /// The worker's cgroup with `memory.max`, where the host let one be made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_cgroup: Option<String>,
    /// Why no cgroup bounds the worker's memory (`memory_bytes` alone does).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_cgroup_unavailable: Option<String>,
    /// What could not be applied, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub missing: Vec<String>,
}

impl Confinement {
    /// Whether everything the host could apply was applied.
    pub fn complete(&self) -> bool {
        self.missing.is_empty()
    }
}

/// Confines the calling process. `appendable` are the directories the worker must still be
/// able to write (the audit log's segments). A step the kernel cannot take is listed in
/// `missing`; a step that fails otherwise is an error, and the script does not start.
pub fn confine(
    gate: &Gate,
    appendable: &[AbsPath],
    max_memory: usize,
) -> Result<Confinement, String> {
    let mut missing = Vec::new();
    set_limit(libc::RLIMIT_CORE, 0).map_err(|e| format!("cannot turn off core dumps: {e}"))?;
    set_limit(libc::RLIMIT_NOFILE, MAX_DESCRIPTORS)
        .map_err(|e| format!("cannot bound descriptors: {e}"))?;
    let memory_bytes = mapped_data_bytes()
        .saturating_add(max_memory as u64)
        .saturating_add(MEMORY_ALLOWANCE);
    set_limit(libc::RLIMIT_DATA, memory_bytes)
        .map_err(|e| format!("cannot bound the worker's memory: {e}"))?;
    rustix::thread::set_no_new_privs(true).map_err(|e| format!("cannot set no_new_privs: {e}"))?;
    drop_ptrace_capability().map_err(|e| format!("cannot give up CAP_SYS_PTRACE: {e}"))?;
    let mut landlock_narrows = Vec::new();
    let landlock = match confine_worker(gate, appendable) {
        Ok(Landlock::Enforced { reads, writes }) => {
            for (narrowed, what) in [(reads, "reads"), (writes, "writes")] {
                if narrowed {
                    landlock_narrows.push(what.to_owned());
                }
            }
            "enforced"
        }
        Ok(Landlock::Unbounded) => "unbounded",
        Ok(Landlock::Unsupported) => {
            missing.push("landlock: the kernel does not support it".to_owned());
            "unsupported"
        }
        Err(e) => return Err(format!("cannot apply the Landlock ruleset: {e}")),
    };
    let seccomp = match seccomp_filter() {
        Ok(program) => match seccompiler::apply_filter_all_threads(&program) {
            Ok(()) => true,
            Err(e) => {
                missing.push(format!("seccomp: {e}"));
                false
            }
        },
        Err(e) => {
            missing.push(format!("seccomp: {e}"));
            false
        }
    };
    Ok(Confinement {
        no_new_privs: true,
        landlock: landlock.to_owned(),
        landlock_narrows,
        seccomp,
        memory_bytes,
        memory_cgroup: None,
        memory_cgroup_unavailable: None,
        missing,
    })
}

/// `CAP_SYS_PTRACE`: what lets root read another process's environment, memory maps and
/// memory past its not being dumpable (the supervisor's). No SDK call needs it: another
/// process's descriptors are read by the supervisor for the worker.
const CAP_SYS_PTRACE: u32 = 19;

/// Gives up `CAP_SYS_PTRACE` for good: out of the bounding set (so nothing executed later
/// gets it back) and out of the effective, permitted and inheritable sets.
fn drop_ptrace_capability() -> std::io::Result<()> {
    #[repr(C)]
    struct Header {
        version: u32,
        pid: i32,
    }
    #[repr(C)]
    #[derive(Clone, Copy, Default)]
    struct Data {
        effective: u32,
        permitted: u32,
        inheritable: u32,
    }
    const VERSION_3: u32 = 0x2008_0522;
    let mut header = Header {
        version: VERSION_3,
        pid: 0,
    };
    let mut data = [Data::default(); 2];
    // SAFETY: capget writes one header and two data structs of the layout above.
    if unsafe { libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    let bit = 1u32 << CAP_SYS_PTRACE;
    let held = data[0].permitted & bit != 0;
    // SAFETY: prctl with integer arguments only.
    let dropped = unsafe {
        libc::prctl(
            libc::PR_CAPBSET_DROP,
            CAP_SYS_PTRACE as libc::c_ulong,
            0,
            0,
            0,
        )
    };
    // Without CAP_SETPCAP (not root) the bounding set cannot change, and there is nothing
    // to give up unless the capability is held.
    if dropped != 0 && held {
        return Err(std::io::Error::last_os_error());
    }
    if held {
        for d in &mut data[..1] {
            d.effective &= !bit;
            d.permitted &= !bit;
            d.inheritable &= !bit;
        }
        // SAFETY: capset reads the header and the two data structs.
        if unsafe { libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
    }
    Ok(())
}

fn set_limit(resource: libc::__rlimit_resource_t, value: u64) -> std::io::Result<()> {
    let limit = libc::rlimit {
        rlim_cur: value,
        rlim_max: value,
    };
    // SAFETY: setrlimit reads the struct it is given and nothing else.
    if unsafe { libc::setrlimit(resource, &limit) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// What the process has mapped privately and writably now (`VmData`), which is what
/// `RLIMIT_DATA` counts: the worker starts with a copy of its supervisor's heap.
fn mapped_data_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|l| l.strip_prefix("VmData:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(64 << 20, |kb| kb * 1024)
}

fn seccomp_filter() -> Result<BpfProgram, String> {
    let arch = TargetArch::try_from(std::env::consts::ARCH).map_err(|e| e.to_string())?;
    let rules: BTreeMap<i64, Vec<seccompiler::SeccompRule>> =
        REFUSED_SYSCALLS.iter().map(|&n| (n, Vec::new())).collect();
    let filter = SeccompFilter::new(
        rules,
        SeccompAction::Allow,
        SeccompAction::Errno(libc::EPERM as u32),
        arch,
    )
    .map_err(|e| e.to_string())?;
    filter
        .try_into()
        .map_err(|e: seccompiler::BackendError| e.to_string())
}
