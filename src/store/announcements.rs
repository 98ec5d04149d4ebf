//! The emergency announcement's slot.

use anyhow::Context;

use super::{Announcements, on_both};

/// The announcement in the slot, with its window.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Announcement {
    pub text_en: String,
    pub text_es: String,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
}

impl Announcements<'_> {
    /// The announcement in force at `now`, if any.
    pub async fn current(&self, now: i64) -> anyhow::Result<Option<Announcement>> {
        self.read(Some(now)).await
    }

    /// The announcement in the slot, in force or not (for staff to see).
    pub async fn slot(&self) -> anyhow::Result<Option<Announcement>> {
        self.read(None).await
    }

    async fn read(&self, now: Option<i64>) -> anyhow::Result<Option<Announcement>> {
        let sql = match now {
            Some(_) => {
                "SELECT text_en, text_es, starts_at, ends_at FROM announcement WHERE id = 1 \
                 AND (starts_at IS NULL OR starts_at <= $1) AND (ends_at IS NULL OR ends_at > $1)"
            }
            None => "SELECT text_en, text_es, starts_at, ends_at FROM announcement WHERE id = 1",
        };
        on_both!(
            self.store,
            read | pool | {
                let mut q = sqlx::query_as(sql);
                if let Some(now) = now {
                    q = q.bind(now);
                }
                q.fetch_optional(pool)
                    .await
                    .context("Failed to read the announcement")
            }
        )
    }

    /// Puts an announcement in the slot (replacing any).
    pub async fn set(&self, a: &Announcement, now: i64) -> anyhow::Result<()> {
        let sql = "INSERT INTO announcement (id, text_en, text_es, starts_at, ends_at, updated_at) \
                   VALUES (1, $1, $2, $3, $4, $5) ON CONFLICT (id) DO UPDATE SET \
                   text_en = excluded.text_en, text_es = excluded.text_es, \
                   starts_at = excluded.starts_at, ends_at = excluded.ends_at, \
                   updated_at = excluded.updated_at";
        on_both!(
            self.store,
            write | pool | {
                sqlx::query(sql)
                    .bind(&a.text_en)
                    .bind(&a.text_es)
                    .bind(a.starts_at)
                    .bind(a.ends_at)
                    .bind(now)
                    .execute(pool)
                    .await
                    .context("Failed to set the announcement")?;
            }
        );
        Ok(())
    }

    pub async fn clear(&self) -> anyhow::Result<()> {
        on_both!(
            self.store,
            write | pool | {
                sqlx::query("DELETE FROM announcement")
                    .execute(pool)
                    .await
                    .context("Failed to clear the announcement")?;
            }
        );
        Ok(())
    }
}
