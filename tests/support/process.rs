//! Child processes owned by a test: started directly, logged to files, killed on drop.
//!
//! Every server and tool the harness runs goes through [`spawn`] (or [`spawn_command`]
//! for a prepared command), which guarantees:
//!
//! * the process is a direct child (no `--daemonize`, no shell), so the harness
//!   can kill it and reap it;
//! * its stdout and stderr go to files next to its data, where they can be read
//!   after a failure instead of interleaving with the test output;
//! * it is killed with SIGKILL and reaped when its [`ChildGuard`] is dropped,
//!   which also happens while a panicking test unwinds;
//! * it is killed by the kernel if the test process dies without unwinding
//!   (SIGKILL from a timeout, `abort`, Ctrl-C), via `PR_SET_PDEATHSIG`.
//!
//! **Caveat (`PR_SET_PDEATHSIG`):** the signal is sent when the *thread* that
//! spawned the child exits, not when the process does. Start servers on the
//! test's own thread (the one running the `#[test]`/`#[tokio::test]` body, which
//! outlives the server handle) and never from a short-lived thread such as
//! `tokio::task::spawn_blocking` (its threads exit after a few idle seconds) or a
//! helper thread that ends before the test does: the servers would die with it.

use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use super::eventually::try_eventually;

/// How often [`ChildGuard::wait_until`] checks whether the child has exited.
const EXIT_POLL_INTERVAL: Duration = Duration::from_millis(20);

/// A running child process that is killed and reaped when dropped.
pub struct ChildGuard {
    child: Child,
    log_dir: PathBuf,
    label: String,
}

/// Starts `program` with `args` as a direct child of this process.
///
/// Its output goes to `<log_dir>/<label>.stdout` and `<log_dir>/<label>.stderr`.
pub fn spawn<S: AsRef<OsStr>>(program: &Path, args: &[S], log_dir: &Path, label: &str) -> io::Result<ChildGuard> {
    let mut command = Command::new(program);
    command.args(args);
    spawn_command(command, log_dir, label)
}

/// Starts a prepared `command` (program, arguments, environment) as [`spawn`] does:
/// stdin closed, output to `<log_dir>/<label>.stdout` and `.stderr`, killed on drop
/// and with the spawning thread.
pub fn spawn_command(mut command: Command, log_dir: &Path, label: &str) -> io::Result<ChildGuard> {
    let stdout = File::create(log_dir.join(format!("{label}.stdout")))?;
    let stderr = File::create(log_dir.join(format!("{label}.stderr")))?;
    command.stdin(Stdio::null()).stdout(stdout).stderr(stderr);
    die_with_spawning_thread(&mut command);
    Ok(ChildGuard { child: command.spawn()?, log_dir: log_dir.to_owned(), label: label.to_owned() })
}

/// Makes the kernel SIGKILL the child when the spawning thread exits (see the
/// module docs for why that must be the test's own thread).
fn die_with_spawning_thread(command: &mut Command) {
    // SAFETY: `getpid` has no preconditions.
    let parent = unsafe { libc::getpid() };
    // SAFETY: the hook runs in the forked child before `exec`; it only calls the
    // async-signal-safe `prctl` and `getppid` and does not allocate.
    unsafe {
        command.pre_exec(move || set_parent_death_signal(parent));
    }
}

/// The `pre_exec` hook: asks for SIGKILL on parent death, then checks the parent
/// has not already died between `fork` and `prctl` (no signal would come then).
fn set_parent_death_signal(parent: libc::pid_t) -> io::Result<()> {
    let signal = libc::c_ulong::try_from(libc::SIGKILL).expect("SIGKILL is positive");
    // SAFETY: PR_SET_PDEATHSIG takes one unsigned long argument, a signal number.
    if unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, signal) } == -1 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `getppid` has no preconditions.
    if unsafe { libc::getppid() } != parent {
        // `from_raw_os_error` does not allocate, unlike `io::Error::other`.
        return Err(io::Error::from_raw_os_error(libc::ESRCH));
    }
    Ok(())
}

impl ChildGuard {
    /// The child's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The exit status, if the child has exited (without blocking).
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits for the child to exit until `deadline`; `None` if it is still running.
    pub fn wait_until(&mut self, deadline: Instant) -> Option<ExitStatus> {
        let within = deadline.saturating_duration_since(Instant::now());
        try_eventually("the child exits", within, EXIT_POLL_INTERVAL, || self.exit_status().ok_or("still running")).ok()
    }

    /// SIGKILLs the child and reaps it. Safe to call on a child that has exited.
    pub fn kill(&mut self) {
        // Both fail only if the child is already gone, which is the goal anyway.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The last `lines` lines of the child's stdout and stderr, for error messages.
    pub fn output_tail(&self, lines: usize) -> String {
        ["stdout", "stderr"]
            .iter()
            .map(|stream| {
                let path = self.log_dir.join(format!("{}.{stream}", self.label));
                format!("--- {} ---\n{}", path.display(), file_tail(&path, lines))
            })
            .collect::<Vec<_>>()
            .join("\n")
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The last `lines` lines of the file at `path`, or why it could not be read.
pub fn file_tail(path: &Path, lines: usize) -> String {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let all: Vec<&str> = text.lines().collect();
            all[all.len().saturating_sub(lines)..].join("\n")
        }
        Err(error) => format!("(unreadable: {error})"),
    }
}
