//! Prometheus and promtool as child processes of the test.
//!
//! A trimmed copy of `tests/support/process.rs` (private to that harness): a spawned
//! child logs to files, is SIGKILLed and reaped when its [`ChildGuard`] drops (also
//! while a failing test unwinds), and is killed by the kernel if the spawning thread
//! dies first (`PR_SET_PDEATHSIG`). As there, spawn on the test's own thread.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

/// A running child process, killed and reaped on drop.
pub struct ChildGuard {
    child: Child,
    log_dir: PathBuf,
    label: String,
}

/// Starts `program` with `args`; output goes to `<log_dir>/<label>.{stdout,stderr}`.
pub fn spawn<S: AsRef<OsStr>>(program: &Path, args: &[S], log_dir: &Path, label: &str) -> io::Result<ChildGuard> {
    let stdout = File::create(log_dir.join(format!("{label}.stdout")))?;
    let stderr = File::create(log_dir.join(format!("{label}.stderr")))?;
    let mut command = Command::new(program);
    command.args(args).stdin(Stdio::null()).stdout(stdout).stderr(stderr);
    // SAFETY: `getpid` has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the hook runs in the forked child before `exec` and only calls the
    // async-signal-safe `prctl` and `getppid`, without allocating.
    unsafe {
        command.pre_exec(move || die_with_parent(parent));
    }
    Ok(ChildGuard { child: command.spawn()?, log_dir: log_dir.to_owned(), label: label.to_owned() })
}

/// Asks for SIGKILL when the spawning thread exits, then checks that the parent did
/// not already die between `fork` and `prctl` (no signal would come then).
fn die_with_parent(parent: libc::pid_t) -> io::Result<()> {
    let signal = libc::c_ulong::try_from(libc::SIGKILL).expect("SIGKILL is positive");
    // SAFETY: PR_SET_PDEATHSIG takes one unsigned long argument, a signal number.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `getppid` has no preconditions.
    if unsafe { libc::getppid() } != parent {
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    Ok(())
}

impl ChildGuard {
    /// Whether the child has exited (without blocking).
    pub fn has_exited(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(Some(_)))
    }

    /// The last `lines` lines of the child's stdout and stderr, for failure messages.
    pub fn output_tail(&self, lines: usize) -> String {
        ["stdout", "stderr"]
            .iter()
            .map(|stream| {
                let path = self.log_dir.join(format!("{}.{stream}", self.label));
                let text = std::fs::read_to_string(&path).unwrap_or_else(|e| format!("(unreadable: {e})"));
                let all: Vec<&str> = text.lines().collect();
                format!("--- {} ---\n{}", path.display(), all[all.len().saturating_sub(lines)..].join("\n"))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        // Both fail only if the child is already gone, which is the goal anyway.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
