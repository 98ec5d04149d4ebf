//! The emergency announcement's slot.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use anyhow::Context;

use super::{Announcements, Store, on_both, run};

/// How long a server plays the slot as it last read it: every call's greeting asks for
/// the announcement, and reading it each time cost every call a statement.
const SLOT_FRESH: Duration = Duration::from_secs(1);

/// The slot as this server last read it, and when.
#[derive(Debug, Default)]
pub(in crate::store) struct SlotCache(Mutex<Option<(Instant, Option<Announcement>)>>);

impl SlotCache {
    fn fresh(&self) -> Option<Option<Announcement>> {
        let held = self.0.lock().ok()?;
        held.as_ref()
            .filter(|(read, _)| read.elapsed() < SLOT_FRESH)
            .map(|(_, slot)| slot.clone())
    }

    fn keep(&self, slot: Option<Announcement>) {
        if let Ok(mut held) = self.0.lock() {
            *held = Some((Instant::now(), slot));
        }
    }

    fn forget(&self) {
        if let Ok(mut held) = self.0.lock() {
            *held = None;
        }
    }
}

/// The announcement in the slot, with its window.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Announcement {
    pub text_en: String,
    pub text_es: String,
    pub starts_at: Option<i64>,
    pub ends_at: Option<i64>,
}

impl Announcement {
    /// Whether it is in force at `now` (within its window, if it has one).
    pub fn in_force(&self, now: i64) -> bool {
        self.starts_at.is_none_or(|s| s <= now) && self.ends_at.is_none_or(|e| e > now)
    }
}

impl Announcements<'_> {
    /// The announcement in force at `now`, if any, from the slot as this server read it
    /// within the last second ([`SLOT_FRESH`]): a change made through this store is
    /// played from the next call on, one made by another server or by `caseline
    /// announce` within a second.
    pub async fn current(&self, now: i64) -> anyhow::Result<Option<Announcement>> {
        let slot = match self.cache().fresh() {
            Some(slot) => slot,
            None => {
                let slot = self.slot().await?;
                self.cache().keep(slot.clone());
                slot
            }
        };
        Ok(slot.filter(|a| a.in_force(now)))
    }

    /// The announcement in the slot, in force or not (for staff to see), read now.
    pub async fn slot(&self) -> anyhow::Result<Option<Announcement>> {
        let sql = "SELECT text_en, text_es, starts_at, ends_at FROM announcement WHERE id = 1";
        run!(
            self.store,
            read,
            query_as(sql).fetch_optional,
            "Failed to read the announcement"
        )
    }

    fn cache(&self) -> &SlotCache {
        match self.store {
            Store::Sqlite(s) => &s.announcement,
            Store::Postgres(p) => &p.announcement,
        }
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
        self.cache().forget();
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
        self.cache().forget();
        Ok(())
    }
}
