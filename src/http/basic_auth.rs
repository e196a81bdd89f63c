//! HTTP basic auth (RFC 7617) against the bcrypt hashes of the web-config file, built
//! so that it is neither a CPU lever nor an oracle of which users exist. As Prometheus
//! exporter-toolkit does it:
//!
//! - bcrypt, slow on purpose (tens of milliseconds at cost 10), runs on tokio's blocking
//!   pool, never on the threads that serve requests, and one verification at a time:
//!   a flood of guesses takes at most one core and queues behind itself;
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
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use tokio::sync::OwnedMutexGuard;

mod outcomes;

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
#[derive(Debug)]
pub enum BasicAuthError {
    /// A user's hash is not a bcrypt hash (validation normally catches this first).
    InvalidHash { user: String },
    /// The system's random source failed, so there is no key for the cache digests.
    NoRandomness,
    /// bcrypt could not produce the dummy hash.
    DummyHash(bcrypt::BcryptError),
}

impl fmt::Display for BasicAuthError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BasicAuthError::InvalidHash { user } => write!(f, "basic_auth_users.{user}: not a bcrypt hash"),
            BasicAuthError::NoRandomness => write!(f, "basic_auth_users: the system random source failed"),
            BasicAuthError::DummyHash(e) => write!(f, "basic_auth_users: cannot compute the dummy hash: {e}"),
        }
    }
}

impl std::error::Error for BasicAuthError {}

/// The credential checker every request goes through when `basic_auth_users` is set.
pub struct BasicAuth {
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
            verifications: Arc::new(AtomicU64::new(0)),
        })
    }

    /// Whether an `Authorization` header value carries the credentials of a configured
    /// user. Only a well-formed `Basic` header ever reaches bcrypt.
    pub(crate) async fn check(&self, authorization: Option<&str>) -> bool {
        let Some(credentials) = authorization.and_then(Credentials::from_header) else { return false };
        let digest = self.digest(&credentials);
        if let Some(accepted) = self.remembered(&digest) {
            return accepted;
        }
        self.verify(credentials, digest).await
    }

    async fn verify(&self, credentials: Credentials, digest: CredentialDigest) -> bool {
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
        self.outcomes.lock().unwrap_or_else(PoisonError::into_inner).get(digest)
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
        self.outcomes.lock().unwrap_or_else(PoisonError::into_inner).record(self.digest, accepted);
        accepted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const USER: &str = "prom";
    const PASSWORD: &str = "s3cret";

    /// bcrypt's lowest cost keeps the tests fast; nothing here depends on the cost.
    fn auth_with_capacity(capacity: usize) -> BasicAuth {
        let hash = bcrypt::hash(PASSWORD, 4).expect("hash");
        BasicAuth::with_capacity(HashMap::from([(USER.to_string(), hash)]), capacity).expect("checker")
    }

    fn auth() -> BasicAuth {
        auth_with_capacity(CACHE_CAPACITY)
    }

    fn basic(user: &str, password: &str) -> String {
        format!("Basic {}", STANDARD.encode(format!("{user}:{password}")))
    }

    fn verifications(auth: &BasicAuth) -> u64 {
        auth.verifications.load(Ordering::Relaxed)
    }

    #[tokio::test]
    async fn the_right_credentials_pass_and_are_verified_once() {
        let auth = auth();
        for _ in 0..3 {
            assert!(auth.check(Some(&basic(USER, PASSWORD))).await);
        }
        assert_eq!(verifications(&auth), 1);
    }

    #[tokio::test]
    async fn a_repeated_wrong_password_fails_and_is_verified_once() {
        let auth = auth();
        for _ in 0..3 {
            assert!(!auth.check(Some(&basic(USER, "wrong"))).await);
        }
        assert_eq!(verifications(&auth), 1);
    }

    #[tokio::test]
    async fn an_unknown_user_fails_after_a_bcrypt_run_like_a_wrong_password() {
        let auth = auth();
        // Even with the password of the dummy hash, or of a real user.
        for password in [PASSWORD, DUMMY_PASSWORD, PASSWORD] {
            assert!(!auth.check(Some(&basic("eve", password))).await);
        }
        assert_eq!(verifications(&auth), 2);
    }

    #[tokio::test]
    async fn the_dummy_hash_costs_as_much_as_the_costliest_user() {
        let users = HashMap::from([
            ("cheap".to_string(), bcrypt::hash("a", 4).expect("hash")),
            ("dear".to_string(), bcrypt::hash("b", 5).expect("hash")),
        ]);
        let auth = BasicAuth::with_capacity(users, CACHE_CAPACITY).expect("checker");
        assert_eq!(bcrypt_cost(&auth.dummy_hash), Some(5));
    }

    #[tokio::test]
    async fn the_scheme_name_is_case_insensitive() {
        let auth = auth();
        let encoded = STANDARD.encode(format!("{USER}:{PASSWORD}"));
        for scheme in ["basic", "Basic", "BASIC", "bAsIc"] {
            assert!(auth.check(Some(&format!("{scheme} {encoded}"))).await, "{scheme}");
        }
        assert!(auth.check(Some(&format!("Basic   {encoded}  "))).await, "extra spaces");
    }

    #[tokio::test]
    async fn a_password_may_contain_colons() {
        let hash = bcrypt::hash("a:b:c", 4).expect("hash");
        let auth =
            BasicAuth::with_capacity(HashMap::from([(USER.to_string(), hash)]), CACHE_CAPACITY).expect("checker");
        assert!(auth.check(Some(&basic(USER, "a:b:c"))).await);
        assert!(!auth.check(Some(&basic(USER, "a:b"))).await);
    }

    #[tokio::test]
    async fn malformed_headers_fail_without_a_bcrypt_run() {
        let auth = auth();
        let no_colon = format!("Basic {}", STANDARD.encode(format!("{USER}{PASSWORD}")));
        let unpadded = format!("Basic {}", STANDARD.encode("prom:s3cre").trim_end_matches('='));
        for header in ["", "Basic", "Basic ", "Bearer x", "Basic !!!!", "Basic ****", "Basicx cHJvbTpzM2NyZXQ="] {
            assert!(!auth.check(Some(header)).await, "{header:?}");
        }
        assert!(!auth.check(Some(&no_colon)).await);
        assert!(!auth.check(Some(&unpadded)).await);
        assert!(!auth.check(None).await);
        assert_eq!(verifications(&auth), 0);
    }

    #[tokio::test]
    async fn non_utf8_credentials_are_an_unknown_user_or_a_wrong_password() {
        let auth = auth();
        let header = |bytes: &[u8]| format!("Basic {}", STANDARD.encode(bytes));
        assert!(!auth.check(Some(&header(b"\xff\xfe:s3cret"))).await);
        assert!(!auth.check(Some(&header(b"prom:\xff\xfe"))).await);
        assert_eq!(verifications(&auth), 2);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_identical_credentials_are_verified_once() {
        let auth = Arc::new(auth());
        let checks: Vec<_> = (0..8)
            .map(|_| {
                let auth = auth.clone();
                tokio::spawn(async move { auth.check(Some(&basic(USER, "wrong"))).await })
            })
            .collect();
        for check in checks {
            assert!(!check.await.expect("check task"));
        }
        assert_eq!(verifications(&auth), 1);
    }

    #[tokio::test]
    async fn caches_stay_bounded_and_guesses_never_evict_a_success() {
        let auth = auth_with_capacity(4);
        assert!(auth.check(Some(&basic(USER, PASSWORD))).await);
        for i in 0..10 {
            assert!(!auth.check(Some(&basic(USER, &format!("guess-{i}")))).await);
            assert!(!auth.check(Some(&basic(&format!("user-{i}"), "guess"))).await);
        }
        assert_eq!(auth.outcomes.lock().expect("outcomes").sizes(), (1, 4));
        assert_eq!(verifications(&auth), 21);
        assert!(auth.check(Some(&basic(USER, PASSWORD))).await);
        assert_eq!(verifications(&auth), 21, "the success is still remembered");
        // The oldest guess was forgotten: it costs bcrypt again, and is refused again.
        assert!(!auth.check(Some(&basic(USER, "guess-0"))).await);
        assert_eq!(verifications(&auth), 22);
    }

    #[test]
    fn only_bcrypt_hashes_have_a_cost() {
        assert_eq!(bcrypt_cost(&bcrypt::hash("x", 4).expect("hash")), Some(4));
        assert_eq!(bcrypt_cost("hunter2"), None);
        assert_eq!(bcrypt_cost("$2y$99$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"), None);
    }
}
