//! Test harness shared by the integration tests (and the system benchmark): real
//! Valkey/Redis servers and a small client to set them up and check them, the
//! exporter binary as a process, and an HTTP client to ask it.
//!
//! Use it from a test file with `mod support;`. The harness deliberately does not
//! depend on the crate under test (nor on a Redis client library), so that a bug
//! in the exporter cannot also break the tools that check it.
//!
//! * [`cluster`]: [`ValkeyCluster`] (a converged cluster of real nodes) and
//!   [`Standalone`] (a non-cluster Valkey, or a Redis 7 cluster without slot stats);
//! * [`browser`]: headless Chromium through chromedriver (WebDriver), for the page;
//! * [`resp`]: [`Conn`], a blocking RESP2 client with pipelining, and [`Value`];
//! * [`slots`]: slot arithmetic, [`slots_of`] a node, and [`fill`], which loads a
//!   known number of keys into every slot;
//! * [`commands`]: GETs and SETs aimed at one slot, and [`send`], which pipelines
//!   them and returns the bytes the server counts for that slot;
//! * [`acl`]: ACL users and `ACL LOG` on every node;
//! * [`reshard`]: moving slots between primaries the classic way;
//! * [`live`]: traffic that follows `-MOVED`/`-ASK` while slots move, remembering every
//!   acknowledged write, and [`live::missing`], which reads them all back after;
//! * [`pki`]: a generated CA with server and client certificates, as PEM files;
//! * [`tls`]: [`TlsValkey`](tls::TlsValkey), a one-node Valkey cluster serving TLS;
//! * [`exporter_bin`]: [`ExporterBinary`], the exporter executable as a child process,
//!   either serving (for its log, signals and memory) or run to completion (for its
//!   exit status and output), or [`exporter_bin::Launched`], a one-shot command a test
//!   acts on while it runs; the only place that runs the binary;
//! * [`http`]: the one HTTP/1.1 client, plain or TLS: [`http::request`],
//!   [`http::Request`] and [`HttpResponse`];
//! * [`siege`]: hostile clients: connections held open, answers never read;
//! * [`eventually`]: the one poller, [`eventually`] and [`eventually_async`]: a check
//!   asked again until it holds, or a failure naming what was awaited and last seen;
//! * [`process`]: [`spawn`](process::spawn), how every process above is started, and
//!   the guard that kills it;
//! * [`free_local_addr`]: a free port on 127.0.0.1, picked by the OS.
//!
//! Servers are killed when their handle is dropped, even if the test panics, and
//! by the kernel if the test process dies. Create them on the test's own thread:
//! see `process.rs` for why.

// Each test binary compiles its own copy of this module and uses only part of it.
#![allow(dead_code, unused_imports)]

pub mod acl;
pub mod browser;
pub mod cluster;
pub mod commands;
pub mod eventually;
pub mod exporter_bin;
pub mod http;
pub mod live;
pub mod pki;
mod ports;
pub mod process;
pub mod reshard;
pub mod resp;
mod server;
pub mod siege;
pub mod slots;
pub mod tls;
mod topology;

pub use cluster::{Standalone, ValkeyCluster};
pub use commands::{gets, send, sets, slot_key};
pub use eventually::{Unmet, eventually, eventually_async, try_eventually, try_eventually_async};
pub use exporter_bin::ExporterBinary;
pub use http::HttpResponse;
pub use ports::free_local_addr;
pub use resp::{Conn, Value};
pub use slots::{EXPECTED_KEYS_TOTAL, SLOT_COUNT, expected_keys, fill, key_slot, slot_tag, slots_of};
