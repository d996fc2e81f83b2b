//! Freeze windows: administrators add one-off and weekly windows through the
//! admin page and the API, every invalid field is named and nothing stored,
//! `active_freeze` finds the window in force and the end of the frozen stretch
//! at injected instants, deletes are audited, and members are refused.

use serde_json::{Value, json};
use slipway::domain::freeze::{self, ActiveFreeze};
use slipway::store;
use sqlx::PgPool;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::harness::{
    TestApp, add_freeze_window, api_token, create_user, once_window, weekly_window, with_token,
};

const PAGE: &str = "/admin/environments/production/freeze";
const API: &str = "/api/v1/environments/production/freeze-windows";

/// Fields of a portal form.
type Form = Vec<(&'static str, &'static str)>;

/// `(window id, reason, ends_at)` of an expected freeze.
type Expected = (i64, &'static str, &'static str);

fn at(rfc3339: &str) -> OffsetDateTime {
    OffsetDateTime::parse(rfc3339, &Rfc3339).unwrap()
}

async fn environment_id(pool: &PgPool, name: &str) -> i64 {
    store::environments::find_by_name(pool, name)
        .await
        .unwrap()
        .unwrap()
        .id
}

async fn window_count(pool: &PgPool) -> i64 {
    sqlx::query_scalar("select count(*) from freeze_windows")
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn audit_count(pool: &PgPool, action: &str) -> i64 {
    sqlx::query_scalar("select count(*) from audit_log where action = $1 and target = 'production'")
        .bind(action)
        .fetch_one(pool)
        .await
        .unwrap()
}

async fn admin_app(pool: &PgPool) -> TestApp {
    create_user(pool, "root@example.com", true, &[]).await;
    TestApp::signed_in(pool, "root@example.com").await
}

async fn admin_token(pool: &PgPool) -> (TestApp, String) {
    let root = create_user(pool, "root@example.com", true, &[]).await;
    let token = api_token(pool, root.id, "freeze").await;
    (TestApp::spawn(pool.clone()).await, token)
}

/// A UTC local time string (`YYYY-MM-DDTHH:MM`) `minutes` from now, and that instant.
fn utc_local(minutes: i64) -> (String, OffsetDateTime) {
    let t = OffsetDateTime::now_utc() + time::Duration::minutes(minutes);
    let t = t.replace_second(0).unwrap().replace_nanosecond(0).unwrap();
    let format = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]");
    (t.format(&format).unwrap(), t)
}

/// The API's key for a weekday (`fri`).
fn day_key(day: time::Weekday) -> String {
    day_label(day).to_lowercase()
}

/// The label's name for a weekday (`Fri`).
fn day_label(day: time::Weekday) -> String {
    day.to_string()[..3].to_string()
}

// ---------------------------------------------------------------- the admin page

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn an_admin_adds_a_one_off_and_a_weekly_window_through_the_forms(pool: PgPool) {
    let app = admin_app(&pool).await;
    let empty = app.page(PAGE).await;
    assert!(empty.contains("No freeze windows"), "{empty}");
    assert!(empty.contains("Not frozen now"), "{empty}");

    let res = app
        .post_form(
            PAGE,
            &[
                ("kind", "once"),
                ("starts_at", "2026-12-24T00:00"),
                ("ends_at", "2026-12-27T08:00"),
                ("time_zone", "Europe/Berlin"),
                ("reason", "Holiday freeze"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(res.headers()["location"], PAGE);
    let res = app
        .post_form(
            PAGE,
            &[
                ("kind", "weekly"),
                ("start_day", "fri"),
                ("start_time", "16:00"),
                ("end_day", "mon"),
                ("end_time", "08:00"),
                ("time_zone", "America/New_York"),
                ("reason", "No deploys over the weekend"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());

    let page = app.page(PAGE).await;
    assert!(
        page.contains("Freeze window added: weekly Fri 16:00 – Mon 08:00 America/New_York."),
        "{page}"
    );
    assert!(page.contains("once 2026-12-24 00:00 – 2026-12-27 08:00 Europe/Berlin"));
    assert!(page.contains("Holiday freeze"));
    assert!(page.contains("root@example.com"));

    // Stored as instants (once) and as local times (weekly).
    let (starts_at, ends_at): (OffsetDateTime, OffsetDateTime) =
        sqlx::query_as("select starts_at, ends_at from freeze_windows where kind = 'once'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(
        (starts_at, ends_at),
        (at("2026-12-23T23:00:00Z"), at("2026-12-27T07:00:00Z"))
    );
    let weekly: (i16, String, i16, String, String) = sqlx::query_as(
        "select start_day, to_char(start_time, 'HH24:MI'), end_day, to_char(end_time, 'HH24:MI'), time_zone
         from freeze_windows where kind = 'weekly'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(
        weekly,
        (
            4,
            "16:00".into(),
            0,
            "08:00".into(),
            "America/New_York".into()
        )
    );
    assert_eq!(audit_count(&pool, freeze::actions::ADD).await, 2);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn invalid_form_input_is_refused_with_422_naming_the_field_and_stores_nothing(pool: PgPool) {
    let app = admin_app(&pool).await;
    let once = |zone: &'static str, from: &'static str, to: &'static str, reason: &'static str| {
        vec![
            ("kind", "once"),
            ("starts_at", from),
            ("ends_at", to),
            ("time_zone", zone),
            ("reason", reason),
        ]
    };
    let weekly = |end_time: &'static str, day: &'static str| {
        vec![
            ("kind", "weekly"),
            ("start_day", day),
            ("start_time", "16:00"),
            ("end_day", "mon"),
            ("end_time", end_time),
            ("time_zone", "UTC"),
            ("reason", "weekend"),
        ]
    };
    let table: Vec<(Form, &str, &str)> = vec![
        (
            once("Mars/Olympus", "2026-12-24T00:00", "2026-12-27T08:00", "x"),
            "time_zone",
            "unknown time zone &#34;Mars/Olympus&#34;",
        ),
        (
            once("UTC", "2026-12-27T08:00", "2026-12-24T00:00", "x"),
            "ends_at",
            "must be after starts_at",
        ),
        (
            once("UTC", "2026-12-24T00:00", "2026-12-27T08:00", "  "),
            "reason",
            "required",
        ),
        (
            weekly("8am", "fri"),
            "end_time",
            "must be a time of day as HH:MM",
        ),
        (weekly("08:00", "someday"), "start_day", "must be a weekday"),
    ];
    for (fields, path, message) in table {
        let res = app.post_form(PAGE, &fields).await;
        assert_eq!(res.status(), 422, "{fields:?}");
        let body = res.text().await.unwrap();
        assert!(
            body.contains(&format!("<code>{path}</code>: {message}")),
            "{fields:?} should name {path}: {body}"
        );
        // The typed values come back in the form.
        assert!(
            body.contains(&format!("value=\"{}\"", fields[3].1)),
            "{body}"
        );
    }
    assert_eq!(window_count(&pool).await, 0);
    assert_eq!(audit_count(&pool, freeze::actions::ADD).await, 0);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_page_marks_the_window_in_force_and_when_deploys_resume(pool: PgPool) {
    let app = admin_app(&pool).await;
    let (from, _) = utc_local(-60);
    let (to, end) = utc_local(120);
    let now_window = add_freeze_window(
        &pool,
        "production",
        &once_window(&from, &to, "UTC", "Incident 42"),
    )
    .await;
    add_freeze_window(
        &pool,
        "production",
        &once_window("2099-01-01T00:00", "2099-01-02T00:00", "UTC", "Later"),
    )
    .await;
    let page = app.page(PAGE).await;
    assert!(page.contains("Frozen now"), "{page}");
    assert!(page.contains("Incident 42"));
    let end_words = end
        .format(time::macros::format_description!(
            "[year]-[month]-[day] [hour]:[minute] UTC"
        ))
        .unwrap();
    assert!(page.contains(&end_words), "ends at {end_words}: {page}");
    let row_start = page
        .find(&format!("id=\"freeze-{}\"", now_window.id))
        .unwrap();
    let row = &page[row_start..row_start + page[row_start..].find("</tr>").unwrap()];
    assert!(row.contains("active now"), "{row}");
    assert_eq!(page.matches("active now</span>").count(), 1, "{page}");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn deleting_through_the_form_removes_the_window_and_is_audited(pool: PgPool) {
    let app = admin_app(&pool).await;
    let window = add_freeze_window(
        &pool,
        "production",
        &weekly_window(("daily", "22:00"), ("daily", "06:00"), "UTC", "nightly"),
    )
    .await;
    // Through another environment's page, the window is not found.
    let res = app
        .post_form(
            &format!("/admin/environments/staging/freeze/{}/delete", window.id),
            &[],
        )
        .await;
    assert_eq!(res.status(), 404);
    assert_eq!(window_count(&pool).await, 1);

    let res = app
        .post_form(&format!("{PAGE}/{}/delete", window.id), &[])
        .await;
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], PAGE);
    assert_eq!(window_count(&pool).await, 0);
    let page = app.page(PAGE).await;
    assert!(
        page.contains("Freeze window removed: daily 22:00 – 06:00 UTC."),
        "{page}"
    );
    let detail: Value = sqlx::query_scalar(
        "select detail from audit_log where action = $1 and target = 'production'",
    )
    .bind(freeze::actions::REMOVE)
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(detail["window_id"], window.id);
    assert_eq!(detail["label"], "daily 22:00 – 06:00 UTC");
    assert_eq!(detail["reason"], "nightly");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn members_may_not_see_or_change_freeze_windows(pool: PgPool) {
    let ann = create_user(&pool, "ann@example.com", false, &["shop"]).await;
    let window = add_freeze_window(
        &pool,
        "production",
        &once_window("2099-01-01T00:00", "2099-01-02T00:00", "UTC", "later"),
    )
    .await;
    let app = TestApp::signed_in(&pool, "ann@example.com").await;
    assert_eq!(app.get(PAGE).await.status(), 403);
    let res = app
        .post_form(
            PAGE,
            &[
                ("kind", "once"),
                ("starts_at", "2099-02-01T00:00"),
                ("ends_at", "2099-02-02T00:00"),
                ("time_zone", "UTC"),
                ("reason", "mine"),
            ],
        )
        .await;
    assert_eq!(res.status(), 403);
    let res = app
        .post_form(&format!("{PAGE}/{}/delete", window.id), &[])
        .await;
    assert_eq!(res.status(), 403);

    let token = api_token(&pool, ann.id, "mine").await;
    let api = &app.client;
    let get = with_token(api.get(app.url(API)), &token)
        .send()
        .await
        .unwrap();
    assert_eq!(get.status(), 403);
    let body: Value = get.json().await.unwrap();
    assert_eq!(body["error"]["code"], "forbidden");
    let post = with_token(api.post(app.url(API)), &token)
        .json(
            &json!({"kind": "once", "starts_at": "2099-02-01T00:00", "ends_at": "2099-02-02T00:00",
                      "time_zone": "UTC", "reason": "mine"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 403);
    let delete = with_token(api.delete(app.url(&format!("{API}/{}", window.id))), &token)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), 403);
    assert_eq!(window_count(&pool).await, 1);
}

// ---------------------------------------------------------------- the API

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_api_adds_lists_and_deletes_windows(pool: PgPool) {
    let (app, token) = admin_token(&pool).await;
    let post = |body: Value| {
        with_token(app.client.post(app.url(API)), &token)
            .json(&body)
            .send()
    };
    let res = post(
        json!({"kind": "once", "starts_at": "2026-12-24T00:00", "ends_at": "2026-12-27T08:00",
                          "time_zone": "Europe/Berlin", "reason": "Holiday freeze"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let once: Value = res.json().await.unwrap();
    assert_eq!(once["kind"], "once");
    assert_eq!(once["starts_at"], "2026-12-24T00:00");
    assert_eq!(once["starts_at_utc"], "2026-12-23T23:00:00Z");
    assert_eq!(once["ends_at_utc"], "2026-12-27T07:00:00Z");
    assert_eq!(
        once["label"],
        "once 2026-12-24 00:00 – 2026-12-27 08:00 Europe/Berlin"
    );
    assert_eq!(once["created_by"], "root@example.com");

    // A weekly window that is not in force while the test runs: it starts three
    // days from now and ends the next morning (a fixed Fri–Mon window is in force
    // on weekends and would be the `active` one below).
    let start = (OffsetDateTime::now_utc() + time::Duration::days(3)).weekday();
    let end = start.next();
    let res = post(
        json!({"kind": "weekly", "start_day": day_key(start), "start_time": "16:00",
                          "end_day": day_key(end), "end_time": "08:00",
                          "time_zone": "America/New_York", "reason": "mid-week"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let weekly: Value = res.json().await.unwrap();
    assert_eq!(
        weekly["label"],
        format!(
            "weekly {} 16:00 – {} 08:00 America/New_York",
            day_label(start),
            day_label(end)
        )
    );
    assert_eq!(
        (&weekly["start_day"], &weekly["end_time"]),
        (&json!(day_key(start)), &json!("08:00"))
    );
    assert!(weekly.get("starts_at").is_none(), "{weekly}");

    // One in force now, so `active` is set.
    let (from, _) = utc_local(-30);
    let (to, end) = utc_local(90);
    let res = post(
        json!({"kind": "once", "starts_at": from, "ends_at": to, "time_zone": "UTC",
                          "reason": "Incident 42"}),
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 201);
    let now_window: Value = res.json().await.unwrap();

    let list: Value = with_token(app.client.get(app.url(API)), &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["windows"].as_array().unwrap().len(), 3, "{list}");
    assert_eq!(list["windows"][1]["id"], weekly["id"]);
    assert_eq!(list["active"]["window_id"], now_window["id"], "{list}");
    assert_eq!(list["active"]["reason"], "Incident 42");
    assert_eq!(
        list["active"]["ends_at"],
        end.format(&Rfc3339).unwrap(),
        "{list}"
    );

    let delete =
        |id: &Value| with_token(app.client.delete(app.url(&format!("{API}/{id}"))), &token).send();
    let res = delete(&now_window["id"]).await.unwrap();
    assert_eq!(res.status(), 204);
    let res = delete(&now_window["id"]).await.unwrap();
    assert_eq!(res.status(), 404);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], "not_found");
    let list: Value = with_token(app.client.get(app.url(API)), &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["windows"].as_array().unwrap().len(), 2);
    assert_eq!(list["active"], Value::Null);
    assert_eq!(audit_count(&pool, freeze::actions::ADD).await, 3);
    assert_eq!(audit_count(&pool, freeze::actions::REMOVE).await, 1);

    let res = with_token(
        app.client
            .get(app.url("/api/v1/environments/no-such-env/freeze-windows")),
        &token,
    )
    .send()
    .await
    .unwrap();
    assert_eq!(res.status(), 404);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn api_validation_errors_name_the_field_and_store_nothing(pool: PgPool) {
    let (app, token) = admin_token(&pool).await;
    let table = [
        (
            json!({"kind": "once", "starts_at": "2026-12-24T00:00", "ends_at": "2026-12-27T08:00",
                   "time_zone": "Mars/Olympus", "reason": "x"}),
            vec![("time_zone", "unknown time zone \"Mars/Olympus\"")],
        ),
        (
            json!({"kind": "once", "starts_at": "2026-12-27T08:00", "ends_at": "2026-12-24T00:00",
                   "time_zone": "UTC", "reason": "x"}),
            vec![("ends_at", "must be after starts_at")],
        ),
        (
            json!({"kind": "weekly", "start_day": "fri", "start_time": "16:00", "end_day": "mon",
                   "end_time": "25:00", "time_zone": "UTC", "reason": ""}),
            vec![
                ("reason", "required: say why deploys are frozen"),
                ("end_time", "must be a time of day as HH:MM, like 16:00"),
            ],
        ),
        (
            json!({"kind": "weekly", "start_day": "friday-ish", "start_time": "16:00",
                   "end_day": "mon", "end_time": "08:00", "time_zone": "UTC", "reason": "x"}),
            vec![("start_day", "must be a weekday (mon, tue, … sun) or daily")],
        ),
    ];
    for (body, expected) in table {
        let res = with_token(app.client.post(app.url(API)), &token)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "{body}");
        let error: Value = res.json().await.unwrap();
        assert_eq!(error["error"]["code"], "invalid");
        let fields: Vec<(String, String)> = error["error"]["fields"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| {
                (
                    f["path"].as_str().unwrap().to_owned(),
                    f["message"].as_str().unwrap().to_owned(),
                )
            })
            .collect();
        let expected: Vec<(String, String)> = expected
            .into_iter()
            .map(|(p, m)| (p.to_owned(), m.to_owned()))
            .collect();
        assert_eq!(fields, expected, "{body}");
    }
    // Unknown fields are refused by name.
    let res = with_token(app.client.post(app.url(API)), &token)
        .json(
            &json!({"kind": "once", "starts_at": "2026-12-24T00:00", "ends_at": "2026-12-27T08:00",
                      "time_zone": "UTC", "reason": "x", "timezone": "UTC"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let error: Value = res.json().await.unwrap();
    assert_eq!(error["error"]["fields"][0]["path"], "body");
    assert!(
        error["error"]["fields"][0]["message"]
            .as_str()
            .unwrap()
            .contains("unknown field `timezone`"),
        "{error}"
    );
    assert_eq!(window_count(&pool).await, 0);
    assert_eq!(audit_count(&pool, freeze::actions::ADD).await, 0);
}

// ---------------------------------------------------------------- active_freeze

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn active_freeze_finds_the_window_in_force_and_the_end_of_the_stretch(pool: PgPool) {
    let weekend = add_freeze_window(
        &pool,
        "production",
        &weekly_window(
            ("fri", "16:00"),
            ("mon", "08:00"),
            "America/New_York",
            "weekend",
        ),
    )
    .await;
    // Chains on from the weekend of 2026-12-05/06 (America/New_York is UTC-5).
    let monday = add_freeze_window(
        &pool,
        "production",
        &once_window(
            "2026-12-07T08:00",
            "2026-12-08T12:00",
            "America/New_York",
            "release",
        ),
    )
    .await;
    // Another environment's window never freezes production.
    add_freeze_window(
        &pool,
        "staging",
        &weekly_window(
            ("daily", "00:00"),
            ("daily", "23:59"),
            "UTC",
            "staging only",
        ),
    )
    .await;
    let production = environment_id(&pool, "production").await;
    let weekend_label = "weekly Fri 16:00 – Mon 08:00 America/New_York";
    let table: [(&str, Option<Expected>); 6] = [
        ("2026-12-02T12:00:00Z", None),
        ("2026-12-04T20:59:59Z", None),
        (
            "2026-12-04T21:00:00Z",
            Some((weekend.id, "weekend", "2026-12-08T17:00:00Z")),
        ),
        (
            "2026-12-07T14:00:00Z",
            Some((monday.id, "release", "2026-12-08T17:00:00Z")),
        ),
        ("2026-12-08T17:00:00Z", None),
        (
            "2026-12-12T12:00:00Z",
            Some((weekend.id, "weekend", "2026-12-14T13:00:00Z")),
        ),
    ];
    for (now, expected) in table {
        let got = freeze::active_freeze(&pool, production, at(now))
            .await
            .unwrap();
        let expected = expected.map(|(window_id, reason, ends_at)| ActiveFreeze {
            window_id,
            reason: reason.to_owned(),
            ends_at: at(ends_at),
            label: if window_id == weekend.id {
                weekend_label.to_owned()
            } else {
                "once 2026-12-07 08:00 – 2026-12-08 12:00 America/New_York".to_owned()
            },
        });
        assert_eq!(got, expected, "at {now}");
    }
    // Inside a transaction too (any executor).
    let mut tx = pool.begin().await.unwrap();
    let staging = environment_id(&pool, "staging").await;
    let in_tx = freeze::active_freeze(&mut *tx, staging, at("2026-12-02T12:00:00Z"))
        .await
        .unwrap();
    assert_eq!(in_tx.map(|a| a.reason), Some("staging only".to_owned()));
}
