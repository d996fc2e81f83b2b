//! Mixed load, bounded: 200 simulated people for 60 seconds (at most 100
//! actions each) against one server on 127.0.0.1, browsing the catalog,
//! searching, opening service pages, the history and the approvals queue, saving
//! revisions and requesting deploys. No response may be a 5xx, and afterwards
//! every write the server accepted (each revision number and deploy id it
//! answered) must be found in the database. Figures are printed, never asserted:
//! wall-clock time is the machine's, not the code's.
//!
//! `SLIPWAY_MIXED_LOAD_SECONDS` shortens the run for a quick try (default 60).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sqlx::PgPool;

use crate::harness::{
    PASSWORD, SpecBuilder, TestApp, api_token, browser, create_service, create_user, extract_csrf,
    with_token,
};

/// Signs `email` in on `app` through the login form, in `client`'s cookie store.
async fn sign_in(app: &TestApp, client: &reqwest::Client, email: &str) {
    let form = client.get(app.url("/login")).send().await.unwrap();
    let token = extract_csrf(&form.text().await.unwrap()).expect("the login form's token");
    let res = client
        .post(app.url("/login"))
        .form(&[
            ("email", email),
            ("password", PASSWORD),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{email} signs in");
}

const PEOPLE: usize = 200;
const ACCOUNTS: usize = 20;
const TEAMS: usize = 10;
const SERVICES_PER_TEAM: usize = 3;
const ACTIONS_EACH: usize = 100;

/// What one simulated person does on their `n`th action.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    Catalog,
    Search,
    ServicePage,
    History,
    Approvals,
    SaveRevision,
    RequestDeploy,
}

const PLAN: [Action; 10] = [
    Action::Catalog,
    Action::Search,
    Action::ServicePage,
    Action::Catalog,
    Action::SaveRevision,
    Action::History,
    Action::ServicePage,
    Action::Approvals,
    Action::RequestDeploy,
    Action::Search,
];

/// A write the server accepted.
#[derive(Debug)]
enum Accepted {
    Revision {
        team: String,
        service: String,
        number: i64,
    },
    Deploy(i64),
}

/// One account's way in: a signed-in cookie client and an API token.
struct Account {
    client: reqwest::Client,
    token: String,
    team: String,
}

#[derive(Default)]
struct Tally {
    by_action: BTreeMap<Action, (usize, usize)>,
    server_errors: Vec<String>,
    accepted: Vec<Accepted>,
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn two_hundred_people_browse_and_write_with_no_5xx_and_every_accepted_write_kept(
    pool: PgPool,
) {
    let seconds: u64 = std::env::var("SLIPWAY_MIXED_LOAD_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60)
        .clamp(1, 120);
    let app = Arc::new(TestApp::spawn(pool.clone()).await);
    let mut accounts = Vec::new();
    for a in 0..ACCOUNTS {
        let team = format!("load-{}", a % TEAMS);
        let email = format!("person{a}@example.com");
        let user = create_user(&pool, &email, false, &[&team]).await;
        if a < TEAMS {
            for s in 0..SERVICES_PER_TEAM {
                let yaml = SpecBuilder::web(&format!("api-{s}")).team(&team).to_yaml();
                create_service(&pool, &email, &team, &yaml).await;
            }
        }
        let client = browser();
        sign_in(&app, &client, &email).await;
        accounts.push(Arc::new(Account {
            client,
            token: api_token(&pool, user.id, "load").await,
            team,
        }));
    }

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let writes = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut people = Vec::new();
    for p in 0..PEOPLE {
        let (app, account, writes) = (app.clone(), accounts[p % ACCOUNTS].clone(), writes.clone());
        people.push(tokio::spawn(async move {
            let mut tally = Tally::default();
            for n in 0..ACTIONS_EACH {
                if Instant::now() >= deadline {
                    break;
                }
                let action = PLAN[(p + n) % PLAN.len()];
                let service = format!("api-{}", (p + n) % SERVICES_PER_TEAM);
                let base = format!("/api/v1/teams/{}/services/{service}", account.team);
                let page = |path: String| account.client.get(app.url(&path));
                let request = match action {
                    Action::Catalog => page("/".into()),
                    Action::Search => page("/?q=api-1".into()).header("hx-request", "true"),
                    Action::ServicePage => page(format!("/services/{}/{service}", account.team)),
                    Action::History => {
                        page(format!("/services/{}/{service}/history", account.team))
                    }
                    Action::Approvals => page("/approvals".into()),
                    Action::SaveRevision => {
                        // A CPU request of its own (never the 10m the services start with)
                        // makes every save new content.
                        let cpu = format!("{}m", 11 + writes.fetch_add(1, Ordering::Relaxed));
                        let spec = SpecBuilder::web(&service)
                            .team(&account.team)
                            .cpu(&cpu)
                            .to_json();
                        with_token(account.client.put(app.url(&base)), &account.token)
                            .json(&json!({"spec": spec, "message": "load"}))
                    }
                    Action::RequestDeploy => with_token(
                        account.client.post(app.url(&format!("{base}/deploys"))),
                        &account.token,
                    )
                    .json(&json!({
                        "environment": "development",
                        "image": format!("registry.example.com/load/{service}:{p}-{n}"),
                    })),
                };
                let entry = tally.by_action.entry(action).or_default();
                entry.0 += 1;
                let res = match request.send().await {
                    Ok(res) => res,
                    Err(e) => {
                        tally.server_errors.push(format!("{action:?}: {e}"));
                        continue;
                    }
                };
                let status = res.status().as_u16();
                let body = res.text().await.unwrap_or_default();
                if status >= 500 {
                    tally
                        .server_errors
                        .push(format!("{action:?} {status}: {body}"));
                    continue;
                }
                entry.1 += 1;
                match (action, status) {
                    (Action::SaveRevision, 201) => {
                        let answer: Value = serde_json::from_str(&body).unwrap();
                        tally.accepted.push(Accepted::Revision {
                            team: account.team.clone(),
                            service: service.clone(),
                            number: answer["revision"].as_i64().expect("a revision number"),
                        });
                    }
                    (Action::RequestDeploy, 202) => {
                        let answer: Value = serde_json::from_str(&body).unwrap();
                        tally.accepted.push(Accepted::Deploy(
                            answer["id"].as_i64().expect("a deploy id"),
                        ));
                    }
                    (Action::SaveRevision | Action::RequestDeploy, other) => {
                        panic!("{action:?} answered {other}: {body}")
                    }
                    (_, 200) => {}
                    (_, other) => panic!("{action:?} of {service} answered {other}: {body}"),
                }
            }
            tally
        }));
    }
    let mut total = Tally::default();
    for person in people {
        let tally = person.await.expect("a simulated person panicked");
        for (action, (sent, answered)) in tally.by_action {
            let entry = total.by_action.entry(action).or_default();
            entry.0 += sent;
            entry.1 += answered;
        }
        total.server_errors.extend(tally.server_errors);
        total.accepted.extend(tally.accepted);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let sent: usize = total.by_action.values().map(|(s, _)| s).sum();
    println!(
        "mixed load: {PEOPLE} people, {sent} requests in {elapsed:.1}s ({:.0}/s)",
        sent as f64 / elapsed
    );
    for (action, (sent, answered)) in &total.by_action {
        println!("  {action:?}: {sent} sent, {answered} answered below 500");
    }

    assert!(
        total.server_errors.is_empty(),
        "{} requests failed or answered 5xx, e.g. {:?}",
        total.server_errors.len(),
        &total.server_errors[..total.server_errors.len().min(5)]
    );
    assert!(sent >= PEOPLE, "every simulated person acted at least once");
    let revisions: Vec<_> = total
        .accepted
        .iter()
        .filter_map(|a| match a {
            Accepted::Revision {
                team,
                service,
                number,
            } => Some((team.clone(), service.clone(), *number)),
            Accepted::Deploy(_) => None,
        })
        .collect();
    let deploys: Vec<i64> = total
        .accepted
        .iter()
        .filter_map(|a| match a {
            Accepted::Deploy(id) => Some(*id),
            Accepted::Revision { .. } => None,
        })
        .collect();
    assert!(
        !revisions.is_empty() && !deploys.is_empty(),
        "both kinds of write were accepted: {} revisions, {} deploys",
        revisions.len(),
        deploys.len()
    );
    for (team, service, number) in &revisions {
        let found: i64 = sqlx::query_scalar(
            "select count(*) from service_revisions r join services s on s.id = r.service_id
             where s.team_name = $1 and s.name = $2 and r.number = $3",
        )
        .bind(team)
        .bind(service)
        .bind(*number as i32)
        .fetch_one(&pool)
        .await
        .unwrap();
        assert_eq!(
            found, 1,
            "revision {number} of {team}/{service} was answered but is not kept"
        );
    }
    let found: i64 = sqlx::query_scalar("select count(*) from deploys where id = any($1)")
        .bind(&deploys)
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(
        found as usize,
        deploys.len(),
        "every deploy id answered is a stored deploy"
    );
    println!(
        "  kept: {} revisions, {} deploys, all found by number and id",
        revisions.len(),
        deploys.len()
    );
}
