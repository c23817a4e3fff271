//! Rebuilds the crate when what its compile-time checked SQL (`sqlx::query!`) is checked against
//! changes: the migrations, the offline query data in `.sqlx/`, and the variables that switch the
//! macros between that data and a live database (`scripts/sqlx`).

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=.sqlx");
    for var in ["SQLX_OFFLINE", "SQLX_OFFLINE_DIR", "DATABASE_URL"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
}
