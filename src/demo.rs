//! `caseline demo`: placeholder, filled in below.
pub struct Options {
    pub tty: bool,
    pub database: String,
}
pub async fn run(_o: Options) -> anyhow::Result<()> {
    Ok(())
}
