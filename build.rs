//! Rebuilds the crate when what its compile-time checked SQL (`sqlx::query!`) is checked against
//! changes: the migrations, the offline query data in `.sqlx/`, and the variables that switch the
//! macros between that data and a live database and tell them where to write it (`scripts/sqlx`).
//! `DATABASE_URL` is left out on purpose: offline (the default, `.cargo/config.toml`) the macros
//! never read it, and tracking it would rebuild the crate whenever a shell with another value (the
//! tests' database, none) runs cargo. `scripts/sqlx` switches `SQLX_OFFLINE` and a fresh
//! `SQLX_OFFLINE_DIR` each run, which reruns the macros whatever the URL.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
    println!("cargo:rerun-if-changed=.sqlx");
    for var in ["SQLX_OFFLINE", "SQLX_OFFLINE_DIR"] {
        println!("cargo:rerun-if-env-changed={var}");
    }
}
