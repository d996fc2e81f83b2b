//! Sign-in under attack: parallel guessing, a saturated password check, forged
//! `X-Forwarded-For`, an attacker trying to lock the owner out, open redirects.

use futures::future::join_all;
use slipway::cluster::Handle as ClusterHandle;
use sqlx::PgPool;

use crate::harness::{PASSWORD, TestApp, create_user, extract_csrf};

const ATTACKER: &str = "203.0.113.7";
const OWNER: &str = "198.51.100.9";

/// Serves with `127.0.0.1` (the test client) as a trusted proxy, so each request
/// can say which client it stands for in `X-Forwarded-For`.
async fn behind_a_proxy(pool: &PgPool, concurrency: Option<usize>) -> TestApp {
    TestApp::spawn_with(pool.clone(), ClusterHandle::disabled(), |c| {
        c.trusted_proxies = vec!["127.0.0.1/32".parse().unwrap()];
        c.login_concurrency = concurrency.and_then(std::num::NonZeroUsize::new);
    })
    .await
}

/// One login POST from `from` (an `X-Forwarded-For` value) with the form token
/// `token`: (status, Retry-After, body).
async fn attempt(
    app: &TestApp,
    token: &str,
    from: &str,
    email: &str,
    password: &str,
) -> (u16, Option<u64>, String) {
    let res = app
        .client
        .post(app.url("/login"))
        .header("x-forwarded-for", from)
        .form(&[
            ("email", email),
            ("password", password),
            ("csrf_token", token),
        ])
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let retry_after = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (status, retry_after, res.text().await.unwrap())
}

async fn attempts_from(pool: &PgPool, addr: &str) -> i64 {
    sqlx::query_scalar("select count(*) from login_attempts where client_addr = $1")
        .bind(addr)
        .fetch_one(pool)
        .await
        .unwrap()
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn forty_parallel_wrong_logins_are_throttled_and_the_owner_still_signs_in(pool: PgPool) {
    create_user(&pool, "ann@example.com", false, &[]).await;
    let app = behind_a_proxy(&pool, None).await;
    let token = app.csrf_token().await;

    let flood =
        (0..40).map(|_| attempt(&app, &token, ATTACKER, "ann@example.com", "guess-guess-1"));
    let answers = join_all(flood).await;
    let checked = answers.iter().filter(|a| a.0 == 422).count();
    let refused: Vec<_> = answers.iter().filter(|a| a.0 == 429).collect();
    assert_eq!(
        checked + refused.len(),
        40,
        "every answer is 422 or 429: {:?}",
        answers.iter().map(|a| a.0).collect::<Vec<_>>()
    );
    assert!(
        (1..=5).contains(&checked),
        "at most the 5 free attempts were checked, got {checked}"
    );
    assert!(
        refused.iter().all(|a| a.1.is_some_and(|secs| secs >= 1)),
        "every 429 says when to come back"
    );
    // Counted before hashing: the rows are exactly the checked attempts, however parallel.
    assert_eq!(attempts_from(&pool, ATTACKER).await, checked as i64);
    assert_eq!(app.get("/healthz").await.status(), 200);

    // Use up the free attempts one by one (some of the flood found the address busy).
    for _ in checked..5 {
        let (status, ..) =
            attempt(&app, &token, ATTACKER, "ann@example.com", "guess-guess-2").await;
        assert_eq!(status, 422);
    }
    // Now the attacker's address waits 30 s for this account, even with the right password.
    let (status, retry_after, body) =
        attempt(&app, &token, ATTACKER, "ann@example.com", PASSWORD).await;
    assert_eq!(status, 429, "{body}");
    assert!(body.contains("Too many failed sign-ins"), "{body}");
    let retry_after = retry_after.unwrap();
    assert!((2..=31).contains(&retry_after), "{retry_after}");

    // The owner, from their own address, is not slowed by any of it.
    let owner = behind_a_proxy(&pool, None).await;
    let owner_token = owner.csrf_token().await;
    let (status, _, body) = attempt(&owner, &owner_token, OWNER, "ann@example.com", PASSWORD).await;
    assert_eq!(status, 303, "{body}");

    // Once the backoff has passed (the failures aged by 31 s), the attacker's
    // address may try again: the backoff slows guessing, it locks nobody out.
    sqlx::query(
        "update login_attempts set created_at = created_at - interval '31 seconds'
         where client_addr = $1",
    )
    .bind(ATTACKER)
    .execute(&pool)
    .await
    .unwrap();
    let (status, _, body) = attempt(&app, &token, ATTACKER, "ann@example.com", PASSWORD).await;
    assert_eq!(status, 303, "{body}");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_saturated_password_check_answers_429_and_counts_nothing(pool: PgPool) {
    create_user(&pool, "ann@example.com", false, &[]).await;
    // One check at a time; forty different addresses and accounts, so no
    // backoff applies and only the cap can refuse.
    let app = behind_a_proxy(&pool, Some(1)).await;
    let token = app.csrf_token().await;
    let flood = (0..40).map(|i| {
        let (from, email) = (format!("10.9.0.{i}"), format!("nobody{i}@example.com"));
        let token = token.clone();
        let app = &app;
        async move { attempt(app, &token, &from, &email, "guess-guess-1").await }
    });
    let answers = join_all(flood).await;
    let busy: Vec<_> = answers.iter().filter(|a| a.0 == 429).collect();
    let checked = answers.iter().filter(|a| a.0 == 422).count();
    assert_eq!(checked + busy.len(), 40, "only 422 and 429, no 5xx");
    assert!(
        !busy.is_empty(),
        "forty checks at once through a gate of one must turn some away"
    );
    assert!(checked >= 1, "the gate lets checks through");
    for (_, retry_after, body) in &busy {
        assert_eq!(*retry_after, Some(1));
        assert!(body.contains("checking many sign-ins"), "{body}");
    }
    // A refused attempt was never checked, so it does not count against anyone.
    let rows: i64 = sqlx::query_scalar("select count(*) from login_attempts")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(rows, checked as i64);
    assert_eq!(app.get("/healthz").await.status(), 200);
    let (status, _, body) = attempt(&app, &token, OWNER, "ann@example.com", PASSWORD).await;
    assert_eq!(status, 303, "the server still signs people in: {body}");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn x_forwarded_for_from_an_untrusted_peer_is_ignored(pool: PgPool) {
    create_user(&pool, "ann@example.com", false, &[]).await;
    // No trusted proxies: a guesser cannot get fresh attempts by inventing addresses.
    let app = TestApp::spawn(pool.clone()).await;
    let token = app.csrf_token().await;
    for i in 0..5 {
        let from = format!("192.0.2.{i}");
        let (status, ..) = attempt(&app, &token, &from, "ann@example.com", "guess-guess-1").await;
        assert_eq!(status, 422);
    }
    let (status, ..) = attempt(&app, &token, "192.0.2.99", "ann@example.com", PASSWORD).await;
    assert_eq!(status, 429);
    assert_eq!(attempts_from(&pool, "127.0.0.1").await, 5);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn guessing_from_many_addresses_slows_new_addresses_but_not_the_owners(pool: PgPool) {
    create_user(&pool, "ann@example.com", false, &[]).await;
    let app = behind_a_proxy(&pool, None).await;
    let token = app.csrf_token().await;
    // The owner signed in from home before.
    let (status, ..) = attempt(&app, &token, OWNER, "ann@example.com", PASSWORD).await;
    assert_eq!(status, 303);
    // A botnet: sixty addresses, one failure each (written directly: sixty
    // argon2 checks would take minutes in a debug build).
    sqlx::query(
        "insert into login_attempts (email, client_addr, succeeded)
         select 'ann@example.com', '100.64.0.' || n, false from generate_series(1, 60) n",
    )
    .execute(&pool)
    .await
    .unwrap();
    let newcomer = behind_a_proxy(&pool, None).await;
    let newcomer_token = newcomer.csrf_token().await;
    let (status, retry_after, _) = attempt(
        &newcomer,
        &newcomer_token,
        "100.64.1.1",
        "ann@example.com",
        PASSWORD,
    )
    .await;
    assert_eq!(status, 429, "an address the account never used waits");
    assert!(retry_after.is_some());
    let home = behind_a_proxy(&pool, None).await;
    let home_token = home.csrf_token().await;
    let (status, _, body) = attempt(&home, &home_token, OWNER, "ann@example.com", PASSWORD).await;
    assert_eq!(
        status, 303,
        "the owner's usual address is not slowed: {body}"
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn next_never_leads_off_site(pool: PgPool) {
    create_user(&pool, "ann@example.com", false, &[]).await;
    let app = TestApp::spawn(pool).await;
    let attacks = [
        "/%09/evil.example",
        "/%0A/evil.example",
        "/%0D%0A/evil.example",
        "%09//evil.example",
        "//evil.example",
        "/%5Cevil.example",
        "/%5C/evil.example",
        "https://evil.example",
        "/%20/evil.example",
        "/%C2%A0/evil.example",
    ];
    // Posted with the login form.
    let html = app.page("/login").await;
    let token = extract_csrf(&html).unwrap();
    let form_body = |next: &str| {
        format!(
            "email=ann%40example.com&password={}&csrf_token={token}&next={next}",
            PASSWORD
        )
    };
    let res = app
        .client
        .post(app.url("/login"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form_body(attacks[0]))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/", "posted next {}", attacks[0]);
    // A signed-in visitor is sent on at once from GET /login?next=….
    for attack in attacks {
        let res = app.get(&format!("/login?next={attack}")).await;
        assert_eq!(res.status(), 303, "{attack}");
        assert_eq!(res.headers()["location"], "/", "next={attack}");
    }
    let res = app.get("/login?next=/deploys%3Fstate%3Dfailed").await;
    assert_eq!(res.headers()["location"], "/deploys?state=failed");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn parallel_attempts_from_one_address_cannot_all_pass_the_count(pool: PgPool) {
    use slipway::store::login_attempts::{Begun, begin};
    // Straight at the store, without HTTP or hashing in between, so the forty
    // counts really overlap: without the address lock each would see zero.
    let attempts = (0..40).map(|_| {
        begin(
            &pool,
            "ann@example.com",
            ATTACKER,
            slipway::auth::throttle::retry_after,
        )
    });
    let outcomes: Vec<Begun> = join_all(attempts)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let counted = outcomes
        .iter()
        .filter(|o| matches!(o, Begun::Counted { .. }))
        .count();
    assert!(
        (1..=5).contains(&counted),
        "{counted} of 40 parallel attempts got past a limit of 5: {outcomes:?}"
    );
    assert_eq!(attempts_from(&pool, ATTACKER).await, counted as i64);
}
