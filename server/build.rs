//! Rebuilds the crate when a migration is added or changed: `store::MIGRATOR`
//! embeds `../migrations` with `sqlx::migrate!`, which cargo does not track.
fn main() {
    println!("cargo:rerun-if-changed=../migrations");
}
