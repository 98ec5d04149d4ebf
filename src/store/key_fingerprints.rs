//! The key fingerprints' table: which keys the stored data depends on (never the keys).

use super::{KeyFingerprints, run};

impl KeyFingerprints<'_> {
    /// The fingerprint stored under `name`, if any.
    pub async fn get(&self, name: &str) -> anyhow::Result<Option<String>> {
        let sql = "SELECT fingerprint FROM key_fingerprints WHERE name = $1";
        run!(
            self.store,
            read,
            query_scalar(sql, name).fetch_optional,
            "Failed to read the key fingerprints"
        )
    }

    /// Stores `fingerprint` unless one is stored already; answers the stored one.
    pub async fn adopt(&self, name: &str, fingerprint: &str) -> anyhow::Result<String> {
        self.put(name, fingerprint, false).await
    }

    /// Stores `fingerprint`, replacing any.
    pub async fn replace(&self, name: &str, fingerprint: &str) -> anyhow::Result<()> {
        self.put(name, fingerprint, true).await.map(drop)
    }

    /// One statement either way, so two servers starting at once agree on the row.
    async fn put(&self, name: &str, fingerprint: &str, replace: bool) -> anyhow::Result<String> {
        let sql = "INSERT INTO key_fingerprints (name, fingerprint) VALUES ($1, $2) \
                   ON CONFLICT (name) DO UPDATE SET fingerprint = \
                   CASE WHEN $3 THEN excluded.fingerprint ELSE key_fingerprints.fingerprint END \
                   RETURNING fingerprint";
        run!(
            self.store,
            write,
            query_scalar(sql, name, fingerprint, replace).fetch_one,
            "Failed to store the key's fingerprint"
        )
    }
}
