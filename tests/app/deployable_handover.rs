//! The one-time handover of infra/handover-migrations.sql (issue 24): a database migrated by an
//! earlier owner becomes alterable by the migrator identity, which then migrates and grants the
//! app its rights. Real PostgreSQL, roles standing in for the Entra ones (the local server has no
//! pgaadauth): the old owner and the migrator may create roles, as Entra admins may.

use healthsync::{config::AppPrincipal, platform::db};
use sqlx::{PgPool, postgres::PgPoolOptions};

use crate::infra::{read, root};

fn sqlstate(err: &sqlx::Error) -> Option<String> {
    err.as_database_error().and_then(|e| e.code()).map(|c| c.to_string())
}

#[sqlx::test(migrations = false)]
async fn after_the_handover_the_migrator_alters_what_the_old_owner_created_and_grants_the_app(admin: PgPool) {
    let id = uuid::Uuid::new_v4().simple().to_string();
    let (old, migrator, app, owner) =
        (format!("hs_old_{id}"), format!("hs_mig_{id}"), format!("hs_app_{id}"), format!("hs_owner_{id}"));
    let database = admin.connect_options().get_database().unwrap().to_string();
    for sql in [
        format!("CREATE ROLE {old} LOGIN CREATEROLE"),
        format!("CREATE ROLE {migrator} LOGIN CREATEROLE"),
        format!("CREATE ROLE {app} LOGIN"),
        format!("GRANT CREATE ON DATABASE \"{database}\" TO {old}"),
        // What both have as Entra admins on Azure: the migrations' bookkeeping lives in public.
        format!("GRANT CREATE ON SCHEMA public TO {old}, {migrator}"),
    ] {
        sqlx::query(&sql).execute(&admin).await.unwrap();
    }
    let connect = |role: &str| {
        let options = admin.connect_options().as_ref().clone().username(role);
        PgPoolOptions::new().max_connections(1).connect_lazy_with(options)
    };
    let principal = AppPrincipal { role: app.clone(), object_id: uuid::Uuid::new_v4().to_string() };

    // Before issue 24: the old owner migrated and granted.
    let as_old = connect(&old);
    db::MIGRATOR.run(&as_old).await.expect("the old owner migrates");
    db::grant_app_access(&as_old, Some(&principal)).await.expect("and grants the app its role");
    as_old.close().await;

    // The migrator cannot alter what it does not own.
    let as_migrator = connect(&migrator);
    let err = sqlx::query("ALTER TABLE events.outbox ADD COLUMN handover int")
        .execute(&as_migrator)
        .await
        .expect_err("the migrator must not own the old tables yet");
    assert_eq!(sqlstate(&err).as_deref(), Some("42501"), "{err}");
    as_migrator.close().await;

    // The handover, run by the old owner with psql exactly as the runbook says.
    let sql = read(&root().join("infra/handover-migrations.sql")).replace("healthsync_owner", &owner);
    let mut url =
        url::Url::parse(&std::env::var("DATABASE_URL").expect("DATABASE_URL (scripts/services)")).unwrap();
    url.set_username(&old).unwrap();
    url.set_password(None).unwrap();
    url.set_path(&database);
    let url = url.to_string();
    let psql = std::process::Command::new("psql")
        .args([url.as_str(), "-X", "-q", "-v", &format!("migrator={migrator}"), "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .output_with_stdin(sql.as_bytes());
    assert!(psql.status.success(), "{}", String::from_utf8_lossy(&psql.stderr));

    // Now the migrator migrates (nothing new), alters an old table, adds one, and grants.
    let as_migrator = connect(&migrator);
    db::MIGRATOR.run(&as_migrator).await.expect("the migrator reads and writes the migrations' bookkeeping");
    sqlx::query("ALTER TABLE events.outbox ADD COLUMN handover int").execute(&as_migrator).await.unwrap();
    sqlx::query("CREATE TABLE events.handover_check (a int)").execute(&as_migrator).await.unwrap();
    db::grant_app_access(&as_migrator, Some(&principal)).await.expect("the migrator grants the app");
    as_migrator.close().await;
    let granted: bool = sqlx::query_scalar(&format!(
        "SELECT has_table_privilege('{app}', 'events.handover_check', 'INSERT')"
    ))
    .fetch_one(&admin)
    .await
    .unwrap();
    assert!(granted, "the app may write the table the migrator added");

    for sql in [
        format!("REASSIGN OWNED BY {old}, {migrator}, {owner} TO CURRENT_USER"),
        format!("DROP OWNED BY {old}, {migrator}, {owner}, {app}"),
        format!("DROP ROLE {old}, {migrator}, {owner}, {app}"),
    ] {
        sqlx::query(&sql).execute(&admin).await.unwrap();
    }
}

trait OutputWithStdin {
    fn output_with_stdin(&mut self, input: &[u8]) -> std::process::Output;
}

impl OutputWithStdin for std::process::Command {
    fn output_with_stdin(&mut self, input: &[u8]) -> std::process::Output {
        use std::io::Write;
        let mut child = self
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("psql runs");
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    }
}
