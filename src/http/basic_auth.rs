//! HTTP basic auth (RFC 7617) against the bcrypt hashes of the web-config file, built
//! so that it is neither a CPU lever nor an oracle of which users exist. As Prometheus
//! exporter-toolkit does it:
//!
//! - bcrypt, slow on purpose (tens of milliseconds at cost 10), runs on tokio's blocking
//!   pool, never on the threads that serve requests, and one verification at a time:
//!   a flood of guesses takes at most one core;
//! - each client address has at most one verification queued or running
//!   ([`in_flight`]); another credential from it meanwhile gets [`Verdict::Busy`] (a
//!   429) at once, so a flood from one address delays a scraper elsewhere by one bcrypt
//!   run, not by one run per guess;
//! - every outcome is remembered under an HMAC of user and password, so a repeated
//!   guess, or a scraper's credentials, cost bcrypt once; neither the password nor the
//!   header is kept;
//! - successes and failures are remembered apart, each bounded, so guesses can never
//!   push a scraper's success out and make it queue behind the flood;
//! - an unknown user is verified against a dummy hash as costly as the real ones and
//!   refused with the same 401, so neither the answer nor its timing says which users
//!   exist.

use crate::config::web::{BCRYPT_COSTS, BasicAuthUsers, bcrypt_cost};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::hmac;
use ring::rand::SystemRandom;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::OwnedMutexGuard;

mod in_flight;
mod outcomes;

use in_flight::{Claim, InFlight};
use outcomes::Outcomes;

/// Outcomes remembered of each kind. Scrapers present a handful of credentials, so the
/// successes never come close; failures are bounded because guesses are unbounded.
const CACHE_CAPACITY: usize = 1024;

/// The password of the dummy hash. Whatever matches it is refused anyway: the user is
/// unknown.
const DUMMY_PASSWORD: &str = "no configured user has this password";

/// HMAC-SHA256 of a user and password: what the caches hold instead of either.
type CredentialDigest = [u8; 32];

/// Why the checker could not be built (at start-up, from the web-config file).
#[derive(Debug, thiserror::Error)]
pub enum BasicAuthError {
    /// A user's hash is not a bcrypt hash (validation normally catches this first).
    #[error("basic_auth_users.{user}: not a bcrypt hash")]
    InvalidHash { user: String },
    /// The system's random source failed, so there is no key for the cache digests.
    #[error("basic_auth_users: the system random source failed")]
    NoRandomness,
    /// bcrypt could not produce the dummy hash.
    #[error("basic_auth_users: cannot compute the dummy hash: {0}")]
    DummyHash(bcrypt::BcryptError),
}

/// What a request's credentials are worth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// A configured user's, verified now or before.
    Accepted,
    /// Missing, malformed, an unknown user or a wrong password.
    Refused,
    /// Not verified: the client's address already has another credential waiting for
    /// or in a bcrypt run. Worth a retry once that one is done.
    Busy,
}

impl From<bool> for Verdict {
    fn from(accepted: bool) -> Verdict {
        if accepted { Verdict::Accepted } else { Verdict::Refused }
    }
}

/// The credential checker every request goes through when `basic_auth_users` is set.
pub(crate) struct BasicAuth {
    /// User name to bcrypt hash, from `basic_auth_users`: what credentials must match.
    users: HashMap<String, String>,
    /// Verified instead when the user is unknown, so that an unknown user costs what a
    /// wrong password costs; made at the highest cost among `users`.
    dummy_hash: String,
    /// Keys the digests the caches hold. Drawn at start-up and never shown, so a digest
    /// seen in memory or a core dump cannot be matched against guessed passwords.
    digest_key: hmac::Key,
    /// Outcomes already verified; shared with the blocking task, which records its
    /// outcome before letting the next verification start.
    outcomes: Arc<Mutex<Outcomes>>,
    /// Held from before a bcrypt run until its outcome is recorded: one verification
    /// at a time. An owned guard, moved into the blocking task, so that a request
    /// dropped mid-verification does not let another bcrypt start alongside.
    bcrypt_turn: Arc<tokio::sync::Mutex<()>>,
    /// The credential each client address has queued for bcrypt: one at most.
    in_flight: InFlight,
    /// bcrypt runs so far, so that tests can tell a cached answer from a verified one.
    verifications: Arc<AtomicU64>,
}

impl BasicAuth {
    /// A checker for `users` (user name to bcrypt hash); computes the dummy hash, which
    /// takes one bcrypt run at the highest cost among them.
    pub(crate) fn new(users: &BasicAuthUsers) -> Result<BasicAuth, BasicAuthError> {
        let users = users.hashes().iter().map(|(u, h)| (u.clone(), h.clone())).collect();
        BasicAuth::with_capacity(users, CACHE_CAPACITY)
    }

    fn with_capacity(users: HashMap<String, String>, capacity: usize) -> Result<BasicAuth, BasicAuthError> {
        let dummy_hash = dummy_hash(&users)?;
        let digest_key =
            hmac::Key::generate(hmac::HMAC_SHA256, &SystemRandom::new()).map_err(|_| BasicAuthError::NoRandomness)?;
        Ok(BasicAuth {
            users,
            dummy_hash,
            digest_key,
            outcomes: Arc::new(Mutex::new(Outcomes::new(capacity))),
            bcrypt_turn: Arc::new(tokio::sync::Mutex::new(())),
            in_flight: InFlight::default(),
            verifications: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Whether an `Authorization` header value, sent from `client`, carries the
    /// credentials of a configured user. Only a well-formed `Basic` header ever reaches
    /// bcrypt, and only if `client` has no other credential queued for it.
    pub(crate) async fn check(&self, authorization: Option<&str>, client: IpAddr) -> Verdict {
        let Some(credentials) = authorization.and_then(Credentials::from_header) else { return Verdict::Refused };
        let digest = self.digest(&credentials);
        if let Some(accepted) = self.remembered(&digest) {
            return accepted.into();
        }
        let Some(claim) = self.in_flight.claim(client, &digest) else {
            tracing::debug!(%client, "basic auth: a verification is already queued for this client");
            return Verdict::Busy;
        };
        self.verify(credentials, digest, claim).await.into()
    }

    async fn verify(&self, credentials: Credentials, digest: CredentialDigest, claim: Claim) -> bool {
        let turn = self.bcrypt_turn.clone().lock_owned().await;
        // The same credentials may have been verified while this request waited its turn.
        if let Some(accepted) = self.remembered(&digest) {
            return accepted;
        }
        let user_hash = std::str::from_utf8(&credentials.user).ok().and_then(|user| self.users.get(user));
        let verification = Verification {
            password: credentials.password,
            known_user: user_hash.is_some(),
            hash: user_hash.unwrap_or(&self.dummy_hash).clone(),
            digest,
            outcomes: self.outcomes.clone(),
            verifications: self.verifications.clone(),
            _claim: claim,
            _turn: turn,
        };
        // A bcrypt that panicked is a refusal, not a dropped connection.
        tokio::task::spawn_blocking(move || verification.run()).await.unwrap_or(false)
    }

    /// The HMAC of user and password. The user's length goes first, so that no two
    /// different pairs feed the same bytes.
    fn digest(&self, credentials: &Credentials) -> CredentialDigest {
        let mut context = hmac::Context::with_key(&self.digest_key);
        context.update(&(credentials.user.len() as u64).to_be_bytes());
        context.update(&credentials.user);
        context.update(&credentials.password);
        let mut digest = [0; 32];
        // HMAC-SHA256 tags are 32 bytes, whatever the input.
        digest.copy_from_slice(context.sign().as_ref());
        digest
    }

    fn remembered(&self, digest: &CredentialDigest) -> Option<bool> {
        crate::sync::lock(&self.outcomes).get(digest)
    }
}

/// A dummy hash at the highest cost among `users`' hashes.
fn dummy_hash(users: &HashMap<String, String>) -> Result<String, BasicAuthError> {
    let mut highest = *BCRYPT_COSTS.start();
    for (user, hash) in users {
        let cost = bcrypt_cost(hash).ok_or_else(|| BasicAuthError::InvalidHash { user: user.clone() })?;
        highest = highest.max(cost);
    }
    bcrypt::hash(DUMMY_PASSWORD, highest).map_err(BasicAuthError::DummyHash)
}

/// User and password from a `Basic` authorization header, as bytes: RFC 7617 does not
/// promise UTF-8, and bcrypt does not need it.
struct Credentials {
    /// Before the first `:`; looked up among the configured users.
    user: Vec<u8>,
    /// After the first `:` (a password may contain `:`, a user name may not).
    password: Vec<u8>,
}

impl Credentials {
    /// `None` unless `header` is `Basic <base64 of user:password>`. The scheme name is
    /// case-insensitive (RFC 7235, section 2.1).
    fn from_header(header: &str) -> Option<Credentials> {
        let (scheme, encoded) = header.trim_start().split_once(' ')?;
        if !scheme.eq_ignore_ascii_case("basic") {
            return None;
        }
        let mut user = STANDARD.decode(encoded.trim()).ok()?;
        let colon = user.iter().position(|&b| b == b':')?;
        let password = user.split_off(colon + 1);
        user.truncate(colon);
        Some(Credentials { user, password })
    }
}

/// One bcrypt run, with everything it needs to record its outcome on the blocking pool.
struct Verification {
    /// What the client sent; dropped with the run, never logged nor cached.
    password: Vec<u8>,
    /// Whether the user is configured; if not, `hash` is the dummy and the outcome is a
    /// refusal whatever bcrypt says.
    known_user: bool,
    /// The user's hash, or the dummy one; owned, as the blocking task outlives `&self`.
    hash: String,
    /// Recorded with the outcome, so that these credentials cost bcrypt only once.
    digest: CredentialDigest,
    /// Written here rather than by the request, so that the outcome is recorded before
    /// the turn passes on, even if the request is gone by then.
    outcomes: Arc<Mutex<Outcomes>>,
    /// Counted where the run happens, so that every run counts, finished request or not.
    verifications: Arc<AtomicU64>,
    /// The client's claim, released when the run is over, not when the request is
    /// gone: a client that hangs up cannot get a second run queued beside this one.
    _claim: Claim,
    /// Released only when `run` returns, after the outcome is recorded, so that a
    /// request waiting with the same credentials finds it.
    _turn: OwnedMutexGuard<()>,
}

impl Verification {
    fn run(self) -> bool {
        let matched = bcrypt::verify(&self.password, &self.hash).unwrap_or(false);
        let accepted = self.known_user && matched;
        self.verifications.fetch_add(1, Ordering::Relaxed);
        // No user name (chosen by whoever sent it), no password, no header.
        tracing::debug!(outcome = if accepted { "accepted" } else { "rejected" }, "basic auth: bcrypt verification");
        crate::sync::lock(&self.outcomes).record(self.digest, accepted);
        accepted
    }
}

#[cfg(test)]
mod tests;
