//! The real `valkey-slot-exporter` executable as a child process: the one way tests and
//! benchmarks run the binary, for what an in-process exporter cannot show (its log on
//! stderr, its exit status, how it reacts to signals, its memory as a process).
//!
//! * [`ExporterBinary::start`] runs it as a server on a port of its own and waits until
//!   it accepts connections; it is killed on drop and dies with the spawning thread
//!   (see `process.rs`): start it on the test's own thread.
//! * [`ExporterBinary::run`] runs it to completion (`--help`, a configuration it must
//!   refuse) and returns its exit status and output.
//!
//! Either way the binary sees only the `VALKEY_SLOT_EXPORTER_*` variables the caller
//! passes: a stray one in the environment of `cargo test` must not change an outcome.
//!
//! `CARGO_BIN_EXE_valkey-slot-exporter` is set by cargo when it compiles this package's
//! integration tests and benchmarks, the only places this module is used.

use std::ffi::OsString;
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::{Command, ExitStatus};
use std::time::{Duration, Instant};

use tempfile::TempDir;

use super::eventually::{Unmet, eventually, try_eventually};
use super::ports::free_local_addr;
use super::process::{self, ChildGuard};

/// How long a started exporter may take to accept connections.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// How often a starting exporter is asked whether it listens.
const STARTUP_STEP: Duration = Duration::from_millis(20);
/// How often the log is read again while waiting for a line.
const LOG_STEP: Duration = Duration::from_millis(50);
/// How long [`ExporterBinary::run`] waits for the binary to exit by itself.
const RUN_TIMEOUT: Duration = Duration::from_secs(30);
/// The prefix of every environment variable the exporter reads.
const ENV_PREFIX: &str = "VALKEY_SLOT_EXPORTER_";
/// The `label` of the process's output files (`exporter.stdout`, `exporter.stderr`).
const LABEL: &str = "exporter";

/// The exporter executable, running with the flags a test gave it, listening on a
/// port of its own on 127.0.0.1. Its stdout and stderr (the log) go to files.
pub struct ExporterBinary {
    pub addr: SocketAddr,
    /// Declared before `dir` so that it is dropped (killed) first.
    process: ChildGuard,
    dir: TempDir,
}

/// How a run to completion ended.
#[derive(Debug)]
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
}

impl ExporterBinary {
    /// Starts the binary with `flags` plus `--listen 127.0.0.1:<free port>` and waits
    /// until it accepts connections.
    pub fn start(flags: &[&str]) -> ExporterBinary {
        ExporterBinary::start_with_env(flags, &[])
    }

    /// [`ExporterBinary::start`] with the exporter's environment variables `env`, for
    /// settings that must come from the environment (a password, as the README advises).
    pub fn start_with_env(flags: &[&str], env: &[(&str, &str)]) -> ExporterBinary {
        let dir = temp_dir();
        let addr = free_local_addr();
        let listen = addr.to_string();
        let mut args: Vec<&str> = flags.to_vec();
        args.extend(["--listen", &listen]);
        let process =
            process::spawn_command(command(&args, env), dir.path(), LABEL).expect("spawn the exporter binary");
        let mut exporter = ExporterBinary { addr, process, dir };
        let listening = try_eventually("the exporter listens", READY_TIMEOUT, STARTUP_STEP, || {
            if let Some(status) = exporter.process.exit_status() {
                return Err(Unmet::Never(format!("the exporter exited with {status} at start")));
            }
            TcpStream::connect(addr).map(drop).map_err(|error| Unmet::NotYet(format!("connect {addr}: {error}")))
        });
        if let Err(error) = listening {
            panic!("{error}:\n{}", exporter.stderr());
        }
        exporter
    }

    /// Runs the binary with `args` and the environment variables `env` until it exits,
    /// and returns its exit status and output. Panics if it is still running after 30 s.
    pub fn run(args: &[&str], env: &[(&str, &str)]) -> Finished {
        let dir = temp_dir();
        let mut process =
            process::spawn_command(command(args, env), dir.path(), LABEL).expect("run the exporter binary");
        let status = process.wait_until(Instant::now() + RUN_TIMEOUT).unwrap_or_else(|| {
            panic!("the exporter ({args:?}) still runs after {RUN_TIMEOUT:?}:\n{}", process.output_tail(20))
        });
        Finished { status, stdout: read_output(dir.path(), "stdout"), stderr: read_output(dir.path(), "stderr") }
    }

    /// Runs the binary as [`Self::run`] does, but on a terminal of its own (util-linux's
    /// `script`, part of every Debian) at which nobody types: its input ends at once, as
    /// when a person just presses Ctrl-D. The terminal's output (stdout and stderr
    /// together) comes back as `stdout`.
    pub fn run_at_terminal(args: &[&str], env: &[(&str, &str)]) -> Finished {
        let line = std::iter::once(env!("CARGO_BIN_EXE_valkey-slot-exporter"))
            .chain(args.iter().copied())
            .map(|word| format!("'{}'", word.replace('\'', r"'\''")))
            .collect::<Vec<_>>()
            .join(" ");
        let mut script = Command::new("script");
        script.args(["--quiet", "--return", "--command", &line, "/dev/null"]);
        let inner = command(args, env);
        for (key, value) in inner.get_envs() {
            match value {
                Some(value) => script.env(key, value),
                None => script.env_remove(key),
            };
        }
        let dir = temp_dir();
        let mut process = process::spawn_command(script, dir.path(), LABEL)
            .unwrap_or_else(|e| panic!("run the exporter under `script` (util-linux's bsdutils): {e}"));
        let status = process.wait_until(Instant::now() + RUN_TIMEOUT).unwrap_or_else(|| {
            panic!("the exporter ({args:?}) still runs after {RUN_TIMEOUT:?}:\n{}", process.output_tail(20))
        });
        Finished { status, stdout: read_output(dir.path(), "stdout"), stderr: read_output(dir.path(), "stderr") }
    }

    pub fn pid(&self) -> libc::pid_t {
        libc::pid_t::try_from(self.process.pid()).expect("pid fits pid_t")
    }

    /// The process's resident set size, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("process status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .expect("VmRSS")
    }

    /// Sends `signal` (e.g. `libc::SIGTERM`) to the process.
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is our own child,
        // not yet reaped (the guard reaps it only on wait or drop).
        let rc = unsafe { libc::kill(self.pid(), signal) };
        assert_eq!(rc, 0, "kill({}, {signal}): {}", self.pid(), std::io::Error::last_os_error());
    }

    /// Waits for the process to exit until `timeout` passes.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        self.process.wait_until(Instant::now() + timeout)
    }

    /// Everything the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        read_output(self.dir.path(), "stderr")
    }

    /// Everything the process wrote to stdout so far.
    pub fn stdout(&self) -> String {
        read_output(self.dir.path(), "stdout")
    }

    /// Polls stderr until it contains `needle`; panics with the log otherwise.
    pub fn wait_for_log(&self, needle: &str, timeout: Duration) {
        eventually(&format!("`{needle}` in the log"), timeout, LOG_STEP, || {
            let log = self.stderr();
            if log.contains(needle) { Ok(()) } else { Err(log) }
        });
    }
}

/// A one-shot command (`plan --apply`) running in the background, for a test that acts
/// while it runs: waits for a line on its stderr, kills a node, sends it Ctrl-C.
pub struct Launched {
    process: ChildGuard,
    dir: TempDir,
    args: Vec<String>,
}

impl Launched {
    /// Starts the binary with `args` and `env` without waiting for anything.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Launched {
        let dir = temp_dir();
        let process = process::spawn_command(command(args, env), dir.path(), LABEL).expect("run the exporter binary");
        Launched { process, dir, args: args.iter().map(|a| a.to_string()).collect() }
    }

    /// Waits until stderr contains `needle`; panics with the output if the process
    /// exits first or `timeout` passes.
    pub fn wait_for_stderr(&mut self, needle: &str, timeout: Duration) {
        let found = try_eventually(&format!("`{needle}` on stderr"), timeout, LOG_STEP, || {
            let err = read_output(self.dir.path(), "stderr");
            if err.contains(needle) {
                return Ok(());
            }
            match self.process.exit_status() {
                Some(status) => Err(Unmet::Never(format!("exited with {status} first:\n{err}"))),
                None => Err(Unmet::NotYet(err)),
            }
        });
        if let Err(error) = found {
            panic!("{error}\nstdout:\n{}", read_output(self.dir.path(), "stdout"));
        }
    }

    /// Everything the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        read_output(self.dir.path(), "stderr")
    }

    /// Sends `signal` (e.g. `libc::SIGINT`, what Ctrl-C sends) to the process.
    pub fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.process.pid()).expect("pid fits pid_t");
        // SAFETY: kill(2) has no memory-safety preconditions; the pid is our own child,
        // not yet reaped (the guard reaps it only on wait or drop).
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill({pid}, {signal}): {}", std::io::Error::last_os_error());
    }

    /// Waits for the process to exit; panics after `timeout`.
    pub fn finish(mut self, timeout: Duration) -> Finished {
        let status = self.process.wait_until(Instant::now() + timeout).unwrap_or_else(|| {
            panic!("the exporter ({:?}) still runs after {timeout:?}:\n{}", self.args, self.process.output_tail(20))
        });
        Finished {
            status,
            stdout: read_output(self.dir.path(), "stdout"),
            stderr: read_output(self.dir.path(), "stderr"),
        }
    }
}

/// The command line of every start: the binary cargo built, `args`, and of the
/// caller's environment everything but the exporter's own variables, which come from
/// `env` only.
fn command(args: &[&str], env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_valkey-slot-exporter"));
    command.args(args);
    let stray: Vec<OsString> = std::env::vars_os()
        .map(|(key, _)| key)
        .filter(|key| key.to_str().is_some_and(|k| k.starts_with(ENV_PREFIX)))
        .collect();
    for key in stray {
        command.env_remove(key);
    }
    command.envs(env.iter().copied());
    command
}

fn temp_dir() -> TempDir {
    tempfile::Builder::new().prefix("exporter-bin-").tempdir().expect("create a temp dir")
}

/// What the process wrote to `stream` ("stdout" or "stderr"), lossily decoded.
fn read_output(dir: &Path, stream: &str) -> String {
    let bytes = std::fs::read(dir.join(format!("{LABEL}.{stream}"))).unwrap_or_default();
    String::from_utf8_lossy(&bytes).into_owned()
}
