//! nginx serving the same bytes as the exporter (the Valkey nodes and the exporter
//! itself run through the test harness, `support`), and the memory and CPU time of a
//! process. nginx is stopped with its whole process group when its handle drops, and killed by the
//! kernel if the benchmark dies (`PR_SET_PDEATHSIG`; spawn it from the main thread,
//! which lives as long as the benchmark).

use std::net::SocketAddr;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A child process killed on drop.
pub struct Guard {
    child: Child,
    what: String,
}

impl Guard {
    pub fn spawn(program: &Path, args: &[String], log: &Path, what: &str) -> Guard {
        let log_file = std::fs::File::create(log).unwrap_or_else(|e| panic!("create {}: {e}", log.display()));
        let mut command = Command::new(program);
        command.args(args).stdin(Stdio::null()).stdout(log_file.try_clone().expect("log handle")).stderr(log_file);
        // Its own process group, so that whatever it forks (nginx's workers) can be
        // killed with it.
        command.process_group(0);
        // SAFETY: the hook only calls the async-signal-safe prctl.
        unsafe {
            command.pre_exec(|| {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().unwrap_or_else(|e| panic!("start {what} ({}): {e}", program.display()));
        Guard { child, what: what.to_string() }
    }

    /// Fails with the log if the process has already exited.
    pub fn check_running(&mut self, log: &Path) {
        if let Ok(Some(status)) = self.child.try_wait() {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            panic!("{} exited with {status}:\n{text}", self.what);
        }
    }
}

impl Drop for Guard {
    /// SIGTERM first (nginx's master then stops its workers), then SIGKILL to the
    /// whole process group: a SIGKILLed nginx master leaves its workers running.
    fn drop(&mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: plain signal sends to a child we started and have not reaped.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(3);
        while matches!(self.child.try_wait(), Ok(None)) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: the group is the one the child leads (process_group(0) at spawn).
        unsafe { libc::killpg(pid, libc::SIGKILL) };
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Peak and current resident set size of `pid`, in bytes (VmHWM, VmRSS).
pub fn rss(pid: libc::pid_t) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    };
    (field("VmHWM:"), field("VmRSS:"))
}

/// CPU time `pid` has used so far, user and system, in seconds (`/proc/PID/stat`,
/// in clock ticks: 10 ms steps, fine for the minutes the fleet section measures).
pub fn cpu_seconds(pid: libc::pid_t) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The command name, in brackets, may hold spaces: count fields after it. utime and
    // stime are fields 14 and 15 of the line, so 12th and 13th after the name.
    let after_name = stat.rsplit_once(") ").map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or_else(|| panic!("{pid}: {stat}"));
    // SAFETY: sysconf reads a constant of the system.
    let per_second = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    (ticks(11) + ticks(12)) as f64 / per_second
}

/// Waits until something accepts connections on `addr`.
pub fn wait_listening(addr: SocketAddr, guard: &mut Guard, log: &Path) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        guard.check_running(log);
        assert!(Instant::now() < deadline, "{addr} is not accepting connections:\n{}", read(log));
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// nginx serving `identity` at `/metrics` and `gzip` at `/metrics.gz` (with
/// `Content-Encoding: gzip`), the same headers the exporter sends, from a directory
/// of its own: the static-file baseline.
pub struct Nginx {
    pub addr: SocketAddr,
    _guard: Guard,
}

impl Nginx {
    pub fn start(dir: &Path, identity: &[u8], gzip: &[u8], workers: usize) -> Nginx {
        let root = dir.join("nginx");
        let www = root.join("www");
        std::fs::create_dir_all(&www).expect("nginx directories");
        std::fs::write(www.join("metrics"), identity).expect("write the identity body");
        std::fs::write(www.join("metrics.gz"), gzip).expect("write the gzip body");
        // nginx workers drop root privileges: let them read the files.
        for path in [dir, &root, &www] {
            set_mode(path, 0o755);
        }
        let addr = crate::support::free_local_addr();
        let conf = root.join("nginx.conf");
        std::fs::write(&conf, config(&root, &www, addr, workers)).expect("write nginx.conf");
        let log = root.join("nginx.out");
        let program = which("nginx").expect("nginx is installed (scripts/bench.sh installs it)");
        let args = ["-p", &root.display().to_string(), "-c", &conf.display().to_string()].map(str::to_string).to_vec();
        let mut guard = Guard::spawn(&program, &args, &log, "nginx");
        wait_listening(addr, &mut guard, &root.join("error.log"));
        Nginx { addr, _guard: guard }
    }
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode));
}

fn config(root: &Path, www: &Path, addr: SocketAddr, workers: usize) -> String {
    let content_type = "text/plain; version=0.0.4; charset=utf-8";
    format!(
        r#"daemon off;
master_process on;
worker_processes {workers};
pid {root}/nginx.pid;
error_log {root}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 1000000;
    keepalive_timeout 60s;
    client_body_temp_path {root}/body;
    types {{ }}
    default_type "{content_type}";
    server {{
        listen {addr} reuseport;
        root {www};
        location = /metrics {{
            add_header Vary Accept-Encoding;
            add_header Cache-Control no-store;
        }}
        location = /metrics.gz {{
            add_header Content-Encoding gzip;
            add_header Vary Accept-Encoding;
            add_header Cache-Control no-store;
        }}
    }}
}}
"#,
        root = root.display(),
        www = www.display(),
    )
}

pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let extra = [PathBuf::from("/usr/sbin"), PathBuf::from("/sbin")];
    std::env::split_paths(&path).chain(extra).map(|d| d.join(name)).find(|p| p.is_file())
}
