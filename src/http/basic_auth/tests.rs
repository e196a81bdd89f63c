//! The checker's unit tests: outcomes, caching, the dummy hash, header parsing, and the
//! bound on verifications queued per client address.

use super::*;

const USER: &str = "prom";
const PASSWORD: &str = "s3cret";
const CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

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

/// Whether `header` passes, from one client address checking one credential at a
/// time, which is never busy.
async fn passes(auth: &BasicAuth, header: Option<&str>) -> bool {
    match auth.check(header, CLIENT).await {
        Verdict::Accepted => true,
        Verdict::Refused => false,
        Verdict::Busy => panic!("busy, with one credential at a time"),
    }
}

fn verifications(auth: &BasicAuth) -> u64 {
    auth.verifications.load(Ordering::Relaxed)
}

#[tokio::test]
async fn the_right_credentials_pass_and_are_verified_once() {
    let auth = auth();
    for _ in 0..3 {
        assert!(passes(&auth, Some(&basic(USER, PASSWORD))).await);
    }
    assert_eq!(verifications(&auth), 1);
}

#[tokio::test]
async fn a_repeated_wrong_password_fails_and_is_verified_once() {
    let auth = auth();
    for _ in 0..3 {
        assert!(!passes(&auth, Some(&basic(USER, "wrong"))).await);
    }
    assert_eq!(verifications(&auth), 1);
}

#[tokio::test]
async fn an_unknown_user_fails_after_a_bcrypt_run_like_a_wrong_password() {
    let auth = auth();
    // Even with the password of the dummy hash, or of a real user.
    for password in [PASSWORD, DUMMY_PASSWORD, PASSWORD] {
        assert!(!passes(&auth, Some(&basic("eve", password))).await);
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
        assert!(passes(&auth, Some(&format!("{scheme} {encoded}"))).await, "{scheme}");
    }
    assert!(passes(&auth, Some(&format!("Basic   {encoded}  "))).await, "extra spaces");
}

#[tokio::test]
async fn a_password_may_contain_colons() {
    let hash = bcrypt::hash("a:b:c", 4).expect("hash");
    let auth = BasicAuth::with_capacity(HashMap::from([(USER.to_string(), hash)]), CACHE_CAPACITY).expect("checker");
    assert!(passes(&auth, Some(&basic(USER, "a:b:c"))).await);
    assert!(!passes(&auth, Some(&basic(USER, "a:b"))).await);
}

#[tokio::test]
async fn malformed_headers_fail_without_a_bcrypt_run() {
    let auth = auth();
    let no_colon = format!("Basic {}", STANDARD.encode(format!("{USER}{PASSWORD}")));
    let unpadded = format!("Basic {}", STANDARD.encode("prom:s3cre").trim_end_matches('='));
    for header in ["", "Basic", "Basic ", "Bearer x", "Basic !!!!", "Basic ****", "Basicx cHJvbTpzM2NyZXQ="] {
        assert!(!passes(&auth, Some(header)).await, "{header:?}");
    }
    assert!(!passes(&auth, Some(&no_colon)).await);
    assert!(!passes(&auth, Some(&unpadded)).await);
    assert!(!passes(&auth, None).await);
    assert_eq!(verifications(&auth), 0);
}

#[tokio::test]
async fn non_utf8_credentials_are_an_unknown_user_or_a_wrong_password() {
    let auth = auth();
    let header = |bytes: &[u8]| format!("Basic {}", STANDARD.encode(bytes));
    assert!(!passes(&auth, Some(&header(b"\xff\xfe:s3cret"))).await);
    assert!(!passes(&auth, Some(&header(b"prom:\xff\xfe"))).await);
    assert_eq!(verifications(&auth), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_identical_credentials_are_verified_once() {
    let auth = Arc::new(auth());
    let checks: Vec<_> = (0..8)
        .map(|_| {
            let auth = auth.clone();
            tokio::spawn(async move { passes(&auth, Some(&basic(USER, "wrong"))).await })
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
    assert!(passes(&auth, Some(&basic(USER, PASSWORD))).await);
    for i in 0..10 {
        assert!(!passes(&auth, Some(&basic(USER, &format!("guess-{i}")))).await);
        assert!(!passes(&auth, Some(&basic(&format!("user-{i}"), "guess"))).await);
    }
    assert_eq!(auth.outcomes.lock().expect("outcomes").sizes(), (1, 4));
    assert_eq!(verifications(&auth), 21);
    assert!(passes(&auth, Some(&basic(USER, PASSWORD))).await);
    assert_eq!(verifications(&auth), 21, "the success is still remembered");
    // The oldest guess was forgotten: it costs bcrypt again, and is refused again.
    assert!(!passes(&auth, Some(&basic(USER, "guess-0"))).await);
    assert_eq!(verifications(&auth), 22);
}

const OTHER_CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(127, 0, 0, 2));

/// Yields until `addresses` client addresses hold a claim: the spawned checks have
/// reached the bcrypt queue.
async fn until_claimed(auth: &BasicAuth, addresses: usize) {
    for _ in 0..10_000 {
        if auth.in_flight.addresses() == addresses {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("{} addresses claimed, not {addresses}", auth.in_flight.addresses());
}

fn spawn_check(auth: &Arc<BasicAuth>, header: String, client: IpAddr) -> tokio::task::JoinHandle<Verdict> {
    let auth = auth.clone();
    tokio::spawn(async move { auth.check(Some(&header), client).await })
}

#[tokio::test]
async fn one_queued_verification_per_address_the_next_credential_is_busy_at_once() {
    let auth = Arc::new(auth());
    assert_eq!(auth.check(Some(&basic(USER, PASSWORD)), CLIENT).await, Verdict::Accepted);
    // Holding the turn keeps the next verification queued.
    let turn = auth.bcrypt_turn.clone().lock_owned().await;
    let queued = spawn_check(&auth, basic(USER, "guess-1"), CLIENT);
    until_claimed(&auth, 1).await;
    assert_eq!(auth.check(Some(&basic(USER, "guess-2")), CLIENT).await, Verdict::Busy);
    assert_eq!(auth.check(Some(&basic("eve", "guess-3")), CLIENT).await, Verdict::Busy);
    // Remembered outcomes do not queue, so they are answered as ever.
    assert_eq!(auth.check(Some(&basic(USER, PASSWORD)), CLIENT).await, Verdict::Accepted);
    assert_eq!(auth.check(None, CLIENT).await, Verdict::Refused, "malformed: refused, never busy");
    // Another address queues its own verification, behind the one already queued.
    let elsewhere = spawn_check(&auth, basic(USER, "guess-4"), OTHER_CLIENT);
    until_claimed(&auth, 2).await;
    drop(turn);
    assert_eq!(queued.await.expect("check"), Verdict::Refused);
    assert_eq!(elsewhere.await.expect("check"), Verdict::Refused);
    assert_eq!(verifications(&auth), 3, "the busy answers cost no bcrypt run");
    assert_eq!(auth.in_flight.addresses(), 0);
    assert_eq!(auth.check(Some(&basic(USER, "guess-2")), CLIENT).await, Verdict::Refused, "free again");
}

#[tokio::test]
async fn a_request_dropped_while_queued_frees_its_address() {
    let auth = Arc::new(auth());
    let turn = auth.bcrypt_turn.clone().lock_owned().await;
    let queued = spawn_check(&auth, basic(USER, "guess-1"), CLIENT);
    until_claimed(&auth, 1).await;
    queued.abort();
    until_claimed(&auth, 0).await;
    drop(turn);
    assert_eq!(auth.check(Some(&basic(USER, PASSWORD)), CLIENT).await, Verdict::Accepted);
    assert_eq!(verifications(&auth), 1, "the dropped request never reached bcrypt");
}

#[test]
fn only_bcrypt_hashes_have_a_cost() {
    assert_eq!(bcrypt_cost(&bcrypt::hash("x", 4).expect("hash")), Some(4));
    assert_eq!(bcrypt_cost("hunter2"), None);
    assert_eq!(bcrypt_cost("$2y$99$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi"), None);
}
