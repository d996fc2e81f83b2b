//! The service pages: create from a preset, edit with inline validation,
//! revisions and diffs, concurrent saves, the catalog.

use sqlx::PgPool;

use std::sync::Arc;
use std::time::Duration;

use slipway::domain::catalog_cache::CatalogCache;
use slipway::store::catalog::CatalogFilter;

use crate::harness::{PASSWORD, TestApp, create_user, eventually, extract_csrf, save_revision};

async fn signed_in_member(pool: &PgPool) -> TestApp {
    create_user(pool, "ann@example.com", false, &["shop"]).await;
    TestApp::signed_in(pool, "ann@example.com").await
}

async fn create_django(app: &TestApp, name: &str) {
    let res = app
        .post_form(
            "/services/new",
            &[("team", "shop"), ("name", name), ("framework", "django")],
        )
        .await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(
        res.headers()["location"],
        format!("/services/shop/{name}").as_str()
    );
}

/// The editor's current text and base revision, read from the page like a browser.
async fn editor(app: &TestApp, name: &str) -> (String, String, String) {
    let html = app.page(&format!("/services/shop/{name}/edit")).await;
    let start = html.find("aria-label=\"Service spec (YAML)\">").unwrap()
        + "aria-label=\"Service spec (YAML)\">".len();
    let end = html[start..].find("</textarea>").unwrap() + start;
    let text = html_unescape(&html[start..end]);
    let base_at = html.find("name=\"base_revision\" value=\"").unwrap()
        + "name=\"base_revision\" value=\"".len();
    let base = html[base_at..base_at + html[base_at..].find('"').unwrap()].to_owned();
    (text, base, extract_csrf(&html).unwrap())
}

fn html_unescape(s: &str) -> String {
    s.replace("&#34;", "\"")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_member_creates_a_django_service_from_the_preset(pool: PgPool) {
    let app = signed_in_member(&pool).await;
    create_django(&app, "shop-web").await;
    let html = app.page("/services/shop/shop-web").await;
    assert!(
        html.contains("Created shop/shop-web from the django preset."),
        "flash shown"
    );
    assert!(html.contains("Production readiness"));
    assert!(html.contains("Deployment"), "rendered objects listed");
    let audit: i64 = sqlx::query_scalar("select count(*) from audit_log where action = 'service.create' and target = 'shop/shop-web'")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(audit, 1);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_bad_service_name_is_reported_on_its_field_and_kept(pool: PgPool) {
    let app = signed_in_member(&pool).await;
    let res = app
        .post_form(
            "/services/new",
            &[
                ("team", "shop"),
                ("name", "Shop_Web"),
                ("framework", "django"),
            ],
        )
        .await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("<code>name</code>"), "{html}");
    assert!(html.contains("value=\"Shop_Web\""), "typed value kept");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn an_invalid_edit_shows_field_errors_keeps_the_text_and_saves_nothing(pool: PgPool) {
    let app = signed_in_member(&pool).await;
    create_django(&app, "web").await;
    let (text, base, token) = editor(&app, "web").await;
    let broken = text.replace("replicas:", "replicaz:") + "\n  ports: nonsense\n";
    let broken = if broken == text {
        format!("{text}\n  replicaz: 3\n")
    } else {
        broken
    };
    let res = app
        .client
        .post(app.url("/services/shop/web/edit"))
        .header("hx-request", "true")
        .form(&[
            ("spec", broken.as_str()),
            ("base_revision", &base),
            ("message", "try"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"spec-errors\""), "{html}");
    assert!(
        html.contains("<code>spec."),
        "errors carry field paths: {html}"
    );
    assert!(
        html_unescape(&html).contains(broken.trim_end()),
        "the typed text is kept"
    );
    let revisions: i64 = sqlx::query_scalar("select count(*) from service_revisions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(revisions, 1, "nothing was saved");
}

/// The editor's live check: problems with their line as the text is typed,
/// or the checklist and the objects when it reads; never a save, and only for
/// those who may edit.
#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_live_check_names_each_problem_with_its_line_and_saves_nothing(pool: PgPool) {
    let app = signed_in_member(&pool).await;
    create_django(&app, "web").await;
    let (text, _, token) = editor(&app, "web").await;
    let check = |spec: String| {
        let app = &app;
        let token = token.clone();
        async move {
            app.client
                .post(app.url("/services/shop/web/edit/check"))
                .header("hx-request", "true")
                .form(&[("spec", spec.as_str()), ("csrf_token", &token)])
                .send()
                .await
                .unwrap()
        }
    };
    let res = check(text.clone()).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(html.contains("state ready\">reads"), "{html}");
    assert!(html.contains("<td>Deployment</td>"), "{html}");

    let broken = text.replacen("image:", "imagee:", 1);
    let line = broken
        .lines()
        .position(|l| l.contains("imagee:"))
        .expect("the starter has an image")
        + 1;
    let res = check(broken).await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(
        html.contains(&format!(
            "data-line=\"{line}\" title=\"put the cursor on line {line}\">line {line}</button> <code>spec.imagee</code>: unknown field"
        )),
        "{html}"
    );
    let revisions: i64 = sqlx::query_scalar("select count(*) from service_revisions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(revisions, 1, "nothing was saved");

    create_user(&pool, "bob@example.com", false, &["billing"]).await;
    let bob = TestApp::signed_in(&pool, "bob@example.com").await;
    let res = bob
        .post_form("/services/shop/web/edit/check", &[("spec", "x")])
        .await;
    assert_eq!(res.status(), 403);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_valid_edit_creates_revision_two_and_its_diff(pool: PgPool) {
    let app = signed_in_member(&pool).await;
    create_django(&app, "web").await;
    let (text, base, token) = editor(&app, "web").await;
    let changed = text.replace(
        "image: registry.example.com/web:0.1.0",
        "image: registry.example.com/web:0.2.0",
    );
    assert_ne!(changed, text, "starter spec has the expected image line");
    let res = app
        .client
        .post(app.url("/services/shop/web/edit"))
        .form(&[
            ("spec", changed.as_str()),
            ("base_revision", &base),
            ("message", "Bump to 0.2.0"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "/services/shop/web/diff?from=1&to=2"
    );
    let diff = app.page("/services/shop/web/diff?from=1&to=2").await;
    assert!(
        diff.contains("<span class=\"del\">-  image: registry.example.com/web:0.1.0</span>"),
        "{diff}"
    );
    assert!(diff.contains("<span class=\"add\">+  image: registry.example.com/web:0.2.0</span>"));
    assert!(diff.contains("id=\"manifest-diff\""));
    let revisions = app.page("/services/shop/web/revisions").await;
    assert!(revisions.contains("Bump to 0.2.0"));
    // The same text again changes nothing and creates no revision.
    let (_, base, token) = editor(&app, "web").await;
    let res = app
        .client
        .post(app.url("/services/shop/web/edit"))
        .form(&[
            ("spec", changed.as_str()),
            ("base_revision", &base),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 409);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("Nothing changed since revision 2")
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn two_concurrent_saves_lose_neither_edit_silently(pool: PgPool) {
    let app = signed_in_member(&pool).await;
    create_django(&app, "web").await;
    let (text, base, token) = editor(&app, "web").await;
    let first = text.replace("web:0.1.0", "web:0.3.0");
    let second = text.replace("web:0.1.0", "web:0.4.0");
    let send = |spec: String| {
        let app = &app;
        let base = base.clone();
        let token = token.clone();
        async move {
            app.client
                .post(app.url("/services/shop/web/edit"))
                .form(&[
                    ("spec", spec.as_str()),
                    ("base_revision", &base),
                    ("csrf_token", &token),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let (a, b) = tokio::join!(send(first.clone()), send(second.clone()));
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [303, 409], "one saves, the other gets a conflict");
    let loser = if a.status() == 409 { a } else { b };
    let html = html_unescape(&loser.text().await.unwrap());
    assert!(html.contains("id=\"conflict\""));
    assert!(
        html.contains("web:0.3.0") || html.contains("web:0.4.0"),
        "the loser's text is kept"
    );
    let revisions: i64 = sqlx::query_scalar("select count(*) from service_revisions")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(revisions, 2);
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_member_of_another_team_can_neither_see_nor_edit(pool: PgPool) {
    let app = signed_in_member(&pool).await;
    create_django(&app, "web").await;
    create_user(&pool, "bob@example.com", false, &["billing"]).await;
    let bob = TestApp::signed_in(&pool, "bob@example.com").await;
    assert_eq!(bob.get("/services/shop/web").await.status(), 403);
    assert_eq!(bob.get("/services/shop/web/edit").await.status(), 403);
    let res = bob
        .post_form(
            "/services/shop/web/edit",
            &[("spec", "x"), ("base_revision", "1")],
        )
        .await;
    assert_eq!(res.status(), 403);
    let catalog = bob.page("/").await;
    assert!(
        !catalog.contains("/services/shop/web"),
        "not listed in the catalog"
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_manifest_preview_renders_production_yaml_without_secret_values(pool: PgPool) {
    let app = signed_in_member(&pool).await;
    create_django(&app, "web").await;
    let html = app
        .page("/services/shop/web/manifests?env=production")
        .await;
    assert!(html.contains("kind: Deployment"), "{html}");
    assert!(html.contains("namespace: shop-production"));
    assert!(
        html.contains("secretKeyRef"),
        "secrets appear as references"
    );
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_catalog_filters_by_name_kind_and_team_and_htmx_gets_a_fragment(pool: PgPool) {
    let app = signed_in_member(&pool).await;
    create_django(&app, "shop-web").await;
    let res = app
        .post_form(
            "/services/new",
            &[
                ("team", "shop"),
                ("name", "shop-worker"),
                ("framework", "celery"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    let all = app.page("/").await;
    assert!(all.contains("shop-web") && all.contains("shop-worker"));
    assert!(all.contains("2 services"));
    // A page past the end (a stale link) shows the last page, not an empty one.
    let past = app.page("/?page=7").await;
    assert!(
        past.contains("shop-web") && past.contains("page 1 of 1"),
        "{past}"
    );
    let workers = app.page("/?kind=worker").await;
    assert!(workers.contains("shop-worker") && !workers.contains(">shop-web<"));
    let fragment = app
        .client
        .get(app.url("/?q=web"))
        .header("hx-request", "true")
        .send()
        .await
        .unwrap();
    let fragment = fragment.text().await.unwrap();
    assert!(!fragment.contains("<html"), "a fragment, not a page");
    assert!(fragment.contains("shop-web") && !fragment.contains("shop-worker"));
    let nothing = app.page("/?q=zzz").await;
    assert!(nothing.contains("No services match"));
    // Names are lowercase, so the search is case-insensitive; LIKE wildcards
    // are plain characters, which no service name contains.
    let upper = app.page("/?q=WORK").await;
    assert!(upper.contains("shop-worker") && !upper.contains(">shop-web<"));
    for wildcard in ["%25", "_", "shop%25web"] {
        let page = app.page(&format!("/?q={wildcard}")).await;
        assert!(page.contains("No services match"), "q={wildcard}");
    }
}

/// The catalog's search also matches the team's name and the description
/// the current revision gives (which follows each new revision).
#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_catalog_search_matches_team_names_and_descriptions(pool: PgPool) {
    create_user(&pool, "ann@example.com", false, &["shop", "billing"]).await;
    let app = TestApp::signed_in(&pool, "ann@example.com").await;
    create_django(&app, "web").await;
    create_django(&app, "reports").await;
    let res = app
        .post_form(
            "/services/new",
            &[
                ("team", "billing"),
                ("name", "ledger"),
                ("framework", "flask"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    // Give `reports` a description in a new revision.
    let (text, base, token) = editor(&app, "reports").await;
    let described = text.replacen(
        "metadata:\n",
        "metadata:\n  description: Sends the nightly sales report\n",
        1,
    );
    assert_ne!(described, text, "the starter has a metadata mapping");
    let res = app
        .client
        .post(app.url("/services/shop/reports/edit"))
        .form(&[
            ("spec", described.as_str()),
            ("base_revision", &base),
            ("message", "describe it"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());

    let by_description = app.page("/?q=NIGHTLY%20sales").await;
    assert!(
        by_description.contains("/services/shop/reports\"")
            && !by_description.contains("/services/shop/web\"")
            && !by_description.contains("/services/billing/ledger\""),
        "{by_description}"
    );
    assert!(
        by_description.contains("Sends the nightly sales report"),
        "the row shows the description"
    );
    // The text is matched literally: LIKE's wildcards are escaped.
    for wildcard in ["%25", "n_ghtly", "sales%25report"] {
        let none = app.page(&format!("/?q={wildcard}")).await;
        assert!(
            !none.contains("/services/shop/reports\"") && !none.contains("/services/shop/web\""),
            "{wildcard} matched as a pattern: {none}"
        );
    }
    let by_team = app.page("/?q=bill").await;
    assert!(
        by_team.contains("/services/billing/ledger\"")
            && !by_team.contains("/services/shop/web\"")
            && !by_team.contains("/services/shop/reports\""),
        "{by_team}"
    );
    // A later revision without the description: no longer found by it.
    let (text, base, token) = editor(&app, "reports").await;
    let plain = text.replace("  description: Sends the nightly sales report\n", "");
    let res = app
        .client
        .post(app.url("/services/shop/reports/edit"))
        .form(&[
            ("spec", plain.as_str()),
            ("base_revision", &base),
            ("message", "undescribe"),
            ("csrf_token", &token),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(app.page("/?q=nightly").await.contains("No services match"));
}

/// `metadata.links` show on the service page, escaped; a link a browser would
/// run (`javascript:`) is refused naming the field, with nothing saved.
#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn service_links_show_on_its_page_and_only_web_urls_are_taken(pool: PgPool) {
    let app = signed_in_member(&pool).await;
    create_django(&app, "web").await;
    let save = |text: String| {
        let app = &app;
        async move {
            let (_, base, token) = editor(app, "web").await;
            app.client
                .post(app.url("/services/shop/web/edit"))
                .form(&[
                    ("spec", text.as_str()),
                    ("base_revision", &base),
                    ("message", "links"),
                    ("csrf_token", &token),
                ])
                .send()
                .await
                .unwrap()
        }
    };
    let (text, _, _) = editor(&app, "web").await;
    let bad = text.replacen(
        "metadata:\n",
        "metadata:\n  links: {docs: 'javascript:alert(1)'}\n",
        1,
    );
    let res = save(bad).await;
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("<code>metadata.links.docs</code>"), "{html}");
    let good = text.replacen(
        "metadata:\n",
        "metadata:\n  links:\n    repository: https://git.example.com/shop/web\n    dashboard: 'https://grafana.example.com/d/1?a=1&b=2'\n",
        1,
    );
    let res = save(good).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    let page = app.page("/services/shop/web").await;
    assert!(
        page.contains(
            "<a href=\"https://git.example.com/shop/web\" rel=\"noreferrer\">Repository</a>"
        ),
        "{page}"
    );
    assert!(
        page.contains("href=\"https://grafana.example.com/d/1?a=1&#38;b=2\"")
            || page.contains("href=\"https://grafana.example.com/d/1?a=1&amp;b=2\""),
        "the URL is escaped: {page}"
    );
    assert!(!page.contains(">Docs<"), "unset links are not shown");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_catalog_shows_the_newest_deploy_per_environment_and_filters_by_its_state(
    pool: PgPool,
) {
    let app = signed_in_member(&pool).await;
    create_django(&app, "shop-web").await;
    let res = app
        .post_form(
            "/services/new",
            &[
                ("team", "shop"),
                ("name", "shop-api"),
                ("framework", "flask"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    // shop-web: staging failed then succeeded (newest wins); shop-api: development failed.
    for (service, environment, state) in [
        ("shop-web", "staging", "failed"),
        ("shop-web", "staging", "succeeded"),
        ("shop-api", "development", "failed"),
    ] {
        sqlx::query(
            "insert into deploys (service_id, environment_id, revision, revision_id, revision_hash, image,
                                  namespace, state, trigger, requested_by)
             select s.id, e.id, 1, r.id, r.hash, 'registry.example.com/x:1', 'ns', $3, 'user', 'test'
             from services s join service_revisions r on r.service_id = s.id and r.number = 1,
                  environments e
             where s.name = $1 and e.name = $2",
        )
        .bind(service)
        .bind(environment)
        .bind(state)
        .execute(&pool)
        .await
        .unwrap();
    }
    app.wrote_behind_its_back();
    let all = app.page("/").await;
    assert!(all.contains("staging · succeeded"), "{all}");
    assert!(
        !all.contains("staging · failed"),
        "an older deploy is not shown"
    );
    assert!(all.contains("development · failed"));
    let failed = app.page("/?state=failed").await;
    assert!(failed.contains(">shop-api<") || failed.contains("/services/shop/shop-api"));
    assert!(
        !failed.contains("/services/shop/shop-web\""),
        "its newest staging deploy succeeded"
    );
    let succeeded = app.page("/?state=succeeded").await;
    assert!(
        succeeded.contains("/services/shop/shop-web")
            && !succeeded.contains("/services/shop/shop-api")
    );

    // State changes reach the catalog: the newest deploy's does, an older one's does not.
    sqlx::query(
        "update deploys set state = 'succeeded'
         where service_id = (select id from services where name = 'shop-api')",
    )
    .execute(&pool)
    .await
    .unwrap();
    sqlx::query(
        "update deploys set state = 'rejected'
         where id = (select min(id) from deploys
                     where service_id = (select id from services where name = 'shop-web'))",
    )
    .execute(&pool)
    .await
    .unwrap();
    app.wrote_behind_its_back();
    let all = app.page("/").await;
    assert!(all.contains("development · succeeded"), "{all}");
    assert!(all.contains("staging · succeeded") && !all.contains("staging · rejected"));
    let failed = app.page("/?state=failed").await;
    assert!(failed.contains("No services match"), "{failed}");
}

#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_catalogs_copy_of_the_team_name_follows_the_team(pool: PgPool) {
    let app = signed_in_member(&pool).await;
    create_django(&app, "shop-web").await;
    // A writer that sets team_name wrongly is corrected by the trigger.
    sqlx::query(
        "insert into services (team_id, team_name, name, kind)
         select id, 'not-shop', 'shop-api', 'web' from teams where name = 'shop'",
    )
    .execute(&pool)
    .await
    .unwrap();
    // A rename of the team reaches its services through the foreign key.
    sqlx::query("update teams set name = 'store' where name = 'shop'")
        .execute(&pool)
        .await
        .unwrap();
    let names: Vec<(String, String)> =
        sqlx::query_as("select name, team_name from services order by name")
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(
        names,
        [
            ("shop-api".to_owned(), "store".to_owned()),
            ("shop-web".to_owned(), "store".to_owned())
        ]
    );
}

/// The catalog's total without a search text comes from `service_counts`,
/// which a trigger keeps: it must equal a real count after every kind of write
/// (create, a change of kind, a move to another team, deletions, a team's
/// deletion), and the page must say that total, filtered by kind and team.
#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn the_catalogs_maintained_counts_equal_a_real_count_after_every_write(pool: PgPool) {
    let app = signed_in_member(&pool).await;
    create_django(&app, "shop-web").await;
    create_django(&app, "shop-admin").await;
    create_user(&pool, "root@example.com", true, &[]).await;
    let admin = TestApp::signed_in(&pool, "root@example.com").await;
    // "2 services · page 1 of 1": the count before the page number.
    let total_said = |html: &str| -> String {
        let at = html.find(" · page ").expect("the catalog's count");
        let start = html[..at].rfind('>').unwrap() + 1;
        html[start..at].trim().to_owned()
    };
    // Every write below goes straight to PostgreSQL: tell both servers, as a
    // write through them would.
    let counts_match = || async {
        app.wrote_behind_its_back();
        admin.wrote_behind_its_back();
        let real: Vec<(i64, String, i64)> = sqlx::query_as(
            "select team_id, kind, count(*) from services group by 1, 2 order by 1, 2",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        let kept: Vec<(i64, String, i64)> = sqlx::query_as(
            "select team_id, kind, services from service_counts where services > 0 order by 1, 2",
        )
        .fetch_all(&pool)
        .await
        .unwrap();
        assert_eq!(kept, real, "service_counts drifted from the services");
    };
    counts_match().await;
    assert_eq!(total_said(&app.page("/").await), "2 services");

    sqlx::query("insert into teams (name) values ('pay')")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("update services set kind = 'worker' where name = 'shop-admin'")
        .execute(&pool)
        .await
        .unwrap();
    counts_match().await;
    assert_eq!(total_said(&app.page("/?kind=worker").await), "1 service");
    sqlx::query("update services set team_id = (select id from teams where name = 'pay') where name = 'shop-admin'")
        .execute(&pool)
        .await
        .unwrap();
    counts_match().await;
    assert_eq!(
        total_said(&app.page("/").await),
        "1 service",
        "the member sees shop only"
    );
    assert_eq!(total_said(&admin.page("/").await), "2 services");
    assert_eq!(total_said(&admin.page("/?team=pay").await), "1 service");
    sqlx::query("delete from services where name = 'shop-web'")
        .execute(&pool)
        .await
        .unwrap();
    counts_match().await;
    assert_eq!(total_said(&admin.page("/").await), "1 service");
    // A team can go once it has no services (`on delete restrict`); its
    // counts go with it.
    sqlx::query("delete from services where name = 'shop-admin'")
        .execute(&pool)
        .await
        .unwrap();
    sqlx::query("delete from teams where name = 'pay'")
        .execute(&pool)
        .await
        .unwrap();
    counts_match().await;
    assert_eq!(total_said(&admin.page("/").await), "0 services");
}

/// The catalog's pages are shared for a second between views of the same page
/// by people who may see the same teams (`domain::catalog_cache`): a page read
/// for one visibility is never shown to another, access taken away elsewhere
/// shows from the next request on, a write through this server shows at once,
/// and one made elsewhere (another replica, straight in the database here)
/// within the second.
#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn shared_catalog_pages_never_cross_visibilities_and_writes_show_when_they_should(
    pool: PgPool,
) {
    create_user(&pool, "root@example.com", true, &[]).await;
    create_user(&pool, "dev@shop.io", false, &["shop"]).await;
    create_user(&pool, "dev@pay.io", false, &["pay"]).await;
    let admin = TestApp::signed_in(&pool, "root@example.com").await;
    let shop = admin.another_browser();
    shop.login_as("dev@shop.io", PASSWORD).await;
    let pay = admin.another_browser();
    pay.login_as("dev@pay.io", PASSWORD).await;
    create_django(&shop, "shop-web").await;
    let res = pay
        .post_form(
            "/services/new",
            &[("team", "pay"), ("name", "pay-api"), ("framework", "flask")],
        )
        .await;
    assert_eq!(res.status(), 303);

    // The administrator's page (every team) is read first, and shared...
    let all = admin.page("/").await;
    assert!(
        all.contains("/services/shop/shop-web") && all.contains("/services/pay/pay-api"),
        "{all}"
    );
    // ...but never shown to a member: each sees their own team's, however often.
    for _ in 0..3 {
        let page = shop.page("/").await;
        assert!(
            page.contains("/services/shop/shop-web") && !page.contains("/services/pay/pay-api"),
            "{page}"
        );
        let page = pay.page("/?kind=web").await;
        assert!(
            page.contains("/services/pay/pay-api") && !page.contains("/services/shop/shop-web"),
            "{page}"
        );
        assert!(!admin.page("/").await.is_empty());
    }

    // A write through this server shows at once, to its writer and to others.
    let res = shop
        .post_form(
            "/services/new",
            &[
                ("team", "shop"),
                ("name", "shop-api"),
                ("framework", "fastapi"),
            ],
        )
        .await;
    assert_eq!(res.status(), 303);
    assert!(shop.page("/").await.contains("/services/shop/shop-api"));
    assert!(admin.page("/").await.contains("/services/shop/shop-api"));

    // Access taken away elsewhere (another replica's change, here straight in
    // the database: only the database's notice tells this server) shows from
    // the next request on.
    let heard = shop.identity().notices();
    sqlx::query(
        "delete from team_members where user_id = (select id from users where email = 'dev@shop.io')",
    )
    .execute(&pool)
    .await
    .unwrap();
    shop.until_notice_after(heard).await;
    let page = shop.page("/").await;
    assert!(
        !page.contains("/services/shop/shop-web") && !page.contains("/services/shop/shop-api"),
        "a page shared with shop's members is not shown to a former one: {page}"
    );

    // A write elsewhere reaches the shared page within the second.
    sqlx::query(
        "update services set description = 'moved by another replica' where name = 'pay-api'",
    )
    .execute(&pool)
    .await
    .unwrap();
    assert!(
        eventually(5, || async {
            pay.page("/?kind=web")
                .await
                .contains("moved by another replica")
        })
        .await,
        "the other replica's write shows"
    );
}

/// The cache itself: one read is shared by every view of its key until it is
/// invalidated, and a key of another visibility is read on its own. (A
/// reuse time of an hour, so the test does not depend on how fast it runs.)
#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn a_shared_catalog_page_is_read_once_until_a_write_invalidates_it(pool: PgPool) {
    create_user(&pool, "ann@example.com", false, &["shop"]).await;
    let app = TestApp::signed_in(&pool, "ann@example.com").await;
    create_django(&app, "shop-web").await;
    let cache = CatalogCache::new(Duration::from_secs(3600));
    let shop = CatalogFilter {
        visible_teams: Some(vec!["shop".into()]),
        ..CatalogFilter::default()
    };
    let first = cache.page(&pool, &shop, 50, 0).await.unwrap();
    assert_eq!(first.total, 1);
    // A service added behind its back is not seen: the page is shared.
    create_django(&app, "shop-api").await;
    let again = cache.page(&pool, &shop, 50, 0).await.unwrap();
    assert!(Arc::ptr_eq(&first, &again), "the same read is reused");
    // Another visibility (nobody's teams) is its own read.
    let nobody = CatalogFilter {
        visible_teams: Some(Vec::new()),
        ..CatalogFilter::default()
    };
    assert_eq!(cache.page(&pool, &nobody, 50, 0).await.unwrap().total, 0);
    assert_eq!(cache.len(), 2);
    // A write through the server invalidates: the next view reads again.
    cache.invalidate();
    let after = cache.page(&pool, &shop, 50, 0).await.unwrap();
    assert!(!Arc::ptr_eq(&first, &after));
    assert_eq!(after.total, 2);
    let names = cache.team_names(&pool).await.unwrap();
    assert_eq!(names.as_slice(), ["shop".to_owned()]);
}

/// The service overview and its status fragment are read and rendered once a
/// second for everyone who may see the service (`ServiceView`, the status
/// fragments): each viewer's access is still decided on every request, a
/// new revision shows at once wherever it was saved, and a write through
/// this server shows at once.
#[sqlx::test(migrator = "slipway::store::MIGRATOR")]
async fn shared_overviews_never_reach_someone_who_may_not_see_them_and_new_revisions_show_at_once(
    pool: PgPool,
) {
    create_user(&pool, "root@shop.io", true, &[]).await;
    create_user(&pool, "bob@billing.io", false, &["billing"]).await;
    let ann = signed_in_member(&pool).await;
    create_django(&ann, "web").await;
    let admin = ann.another_browser();
    admin.login_as("root@shop.io", PASSWORD).await;
    let bob = ann.another_browser();
    bob.login_as("bob@billing.io", PASSWORD).await;

    // Shared now: read by a member and by an administrator.
    let page = ann.page("/services/shop/web").await;
    assert!(page.contains("Revision 1"), "{page}");
    assert!(
        admin
            .page("/services/shop/web")
            .await
            .contains("Revision 1")
    );
    assert_eq!(ann.get("/services/shop/web/status").await.status(), 200);
    // A member of another team is refused as without any sharing, however often.
    for _ in 0..3 {
        let res = bob.get("/services/shop/web").await;
        assert_eq!(res.status(), 403);
        assert!(!res.text().await.unwrap().contains("Revision 1"));
        let res = bob.get("/services/shop/web/status").await;
        assert_eq!(res.status(), 403);
        assert!(!res.text().await.unwrap().contains("web"));
    }

    // A revision saved elsewhere (the domain, straight on the database, as
    // another replica would) shows once its notice is heard: the service row
    // is kept only until the database says it changed (`store::identity`),
    // and a new revision is another overview.
    let service = slipway::store::services::find(&pool, "shop", "web")
        .await
        .unwrap()
        .unwrap();
    let (text, _, _) = editor(&ann, "web").await;
    let yaml = text.replace(
        "image: registry.example.com/web:0.1.0",
        "image: registry.example.com/web:0.2.0",
    );
    assert_ne!(yaml, text, "starter spec has the expected image line");
    let heard = admin.identity().notices();
    save_revision(&pool, "ann@example.com", &service, &yaml).await;
    admin.until_notice_after(heard).await;
    let page = admin.page("/services/shop/web").await;
    assert!(
        page.contains("Revision 2"),
        "the new revision at once: {page}"
    );
    assert!(ann.page("/services/shop/web").await.contains("Revision 2"));

    // Access taken away: the former member is refused at the next request,
    // though the overview is still shared with others.
    let heard = ann.identity().notices();
    sqlx::query("delete from team_members where user_id = (select id from users where email = 'ann@example.com')")
        .execute(&pool)
        .await
        .unwrap();
    ann.until_notice_after(heard).await;
    assert_eq!(ann.get("/services/shop/web").await.status(), 403);
    assert_eq!(ann.get("/services/shop/web/status").await.status(), 403);
    assert!(
        admin
            .page("/services/shop/web")
            .await
            .contains("Revision 2")
    );
}
