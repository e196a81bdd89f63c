//! Entry point: read configuration, start logging, then either run a one-shot command
//! (`plan`, `top`) or bind and serve until SIGTERM/SIGINT.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::signal::unix::{Signal, SignalKind, signal};
use tracing_subscriber::EnvFilter;
use valkey_slot_exporter::config::{self, LogFormat, Settings};
use valkey_slot_exporter::http::ServeOptions;
use valkey_slot_exporter::{Exporter, oneshot, serve};

#[tokio::main]
async fn main() -> ExitCode {
    let (settings, command) = match config::load_from_env() {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("valkey-slot-exporter: {e}");
            return ExitCode::from(2);
        }
    };
    init_logging(&settings);
    if let Some(command) = command {
        return ExitCode::from(oneshot::run(&settings, command).await);
    }
    keep_large_buffers_out_of_the_heap();
    // Installed before anything else can take time, so a SIGTERM that arrives during
    // start-up is a clean shutdown rather than death by signal.
    let shutdown = match ShutdownSignal::install() {
        Ok(signal) => signal,
        Err(e) => {
            tracing::error!(error = %e, "cannot install signal handlers");
            return ExitCode::from(1);
        }
    };
    let listener = match tokio::net::TcpListener::bind(settings.listen).await {
        Ok(listener) => listener,
        Err(e) => {
            tracing::error!(listen = %settings.listen, error = %e, "cannot listen (key `listen`)");
            return ExitCode::from(1);
        }
    };
    for cluster in &settings.clusters {
        let seeds: Vec<String> = cluster.seeds.iter().map(ToString::to_string).collect();
        tracing::info!(
            cluster = %cluster.name,
            seeds = ?seeds,
            cache_ttl = ?cluster.cache_ttl,
            node_timeout = ?cluster.node_timeout,
            include_replicas = cluster.include_replicas,
            slot_series = %cluster.slot_series,
            valkey_auth = cluster.password.is_some(),
            valkey_tls = cluster.valkey_tls.is_some(),
            "cluster configured"
        );
    }
    tracing::info!(
        listen = %settings.listen,
        clusters = settings.clusters.len(),
        web_tls = settings.web.tls.is_some(),
        web_basic_auth = settings.web.basic_auth.is_some(),
        "valkey-slot-exporter {} serving",
        env!("CARGO_PKG_VERSION")
    );
    let options = match ServeOptions::from_settings(&settings) {
        Ok(options) => options,
        Err(e) => {
            tracing::error!(error = %e, "cannot set up the web endpoint");
            return ExitCode::from(1);
        }
    };
    serve(listener, Arc::new(Exporter::from_settings(&settings)), options, shutdown.recv()).await;
    tracing::info!("stopped");
    ExitCode::SUCCESS
}

fn init_logging(settings: &Settings) {
    let filter = EnvFilter::new(&settings.log_level);
    // Colour only for a person at a terminal, not for files, journald or Kubernetes.
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal());
    match settings.log_format {
        LogFormat::Text => builder.init(),
        LogFormat::Json => builder.json().init(),
    }
}

/// SIGTERM (how Kubernetes and systemd stop a process) and SIGINT, caught from the
/// moment [`ShutdownSignal::install`] returns.
struct ShutdownSignal {
    term: Signal,
    int: Signal,
}

impl ShutdownSignal {
    fn install() -> std::io::Result<Self> {
        Ok(ShutdownSignal { term: signal(SignalKind::terminate())?, int: signal(SignalKind::interrupt())? })
    }

    /// Completes on the first of the two signals.
    async fn recv(mut self) {
        tokio::select! {
            _ = self.term.recv() => tracing::info!("SIGTERM received"),
            _ = self.int.recv() => tracing::info!("SIGINT received"),
        }
    }
}

/// Every refresh and render makes buffers of several megabytes (a body per format and
/// encoding, the snapshot, the JSON entries) that live until the next snapshot. glibc
/// serves such buffers with mmap, but raises that threshold to the size of the first
/// one freed, after which they come from the heap, where freed space is rarely given
/// back: resident memory then stays near the worst overlap of two snapshots (77 MB
/// instead of 49 MB with replicas, docs/performance.md). A fixed threshold keeps them
/// mapped, and each is returned to the system when freed.
fn keep_large_buffers_out_of_the_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        static ONCE: std::sync::Once = std::sync::Once::new();
        const THRESHOLD: libc::c_int = 256 * 1024;
        // SAFETY: mallopt only tunes the allocator, which stays valid for any value.
        ONCE.call_once(|| unsafe {
            libc::mallopt(libc::M_MMAP_THRESHOLD, THRESHOLD);
        });
    }
}
