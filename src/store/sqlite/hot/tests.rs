use super::*;
use crate::store::AuditLine;

fn migrated() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hot.db");
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "WAL").unwrap();
    for sql in [
        include_str!("../../../../migrations/sqlite/0001_call_sessions.sql"),
        include_str!("../../../../migrations/sqlite/0002_cases.sql"),
        include_str!("../../../../migrations/sqlite/0005_call_sessions_without_rowid.sql"),
    ] {
        conn.execute_batch(sql).unwrap();
    }
    (dir, path)
}

/// Write numbers for the tests, rising as [`Hot::next_seq`]'s do.
fn seq() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

fn session(sid: &str, state: &str) -> Write {
    Write::Session {
        call_sid: sid.into(),
        state: state.into(),
        now: 100,
        cached: None,
        seq: seq(),
    }
}

#[tokio::test]
async fn a_written_session_reads_back_and_the_latest_write_wins() {
    let (_dir, path) = migrated();
    let hot = Hot::open(&path).unwrap();
    assert_eq!(hot.load_session("CA1", 0).unwrap(), None);
    hot.write(session("CA1", "{\"a\":1}")).await.unwrap();
    hot.write(session("CA1", "{\"a\":2}")).await.unwrap();
    assert_eq!(
        hot.load_session("CA1", 0).unwrap().as_deref(),
        Some("{\"a\":2}")
    );
    // Older than the window: not live.
    assert_eq!(hot.load_session("CA1", 101).unwrap(), None);
}

#[tokio::test]
async fn concurrent_writes_all_land() {
    let (_dir, path) = migrated();
    let hot = Hot::open(&path).unwrap();
    let mut tasks = Vec::new();
    for i in 0..50 {
        let hot = hot.clone();
        tasks.push(tokio::spawn(async move {
            hot.write(session(&format!("CA{i}"), "{}")).await.unwrap();
            hot.write(Write::Audit(AuditLine {
                at: i,
                call_sid: Some(format!("CA{i}")),
                actor: None,
                event: "e".into(),
                outcome: "o".into(),
                participant_id: None,
                case_id: None,
            }))
            .await
            .unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    let conn = Connection::open(&path).unwrap();
    let n: i64 = conn
        .query_row("SELECT count(*) FROM call_sessions", [], |r| r.get(0))
        .unwrap();
    let a: i64 = conn
        .query_row("SELECT count(*) FROM audit", [], |r| r.get(0))
        .unwrap();
    assert_eq!((n, a), (50, 50));
}

/// Everything queued when the writer wakes shares one commit.
#[test]
fn queued_writes_share_a_commit() {
    let (_dir, path) = migrated();
    let (queue, received) = mpsc::sync_channel(QUEUE_MAX);
    let send = |sid: &str| {
        let (done, wait) = oneshot::channel();
        let write = session(sid, "{}");
        let seq = write.session_row().unwrap().1;
        queue
            .send(Pending {
                write,
                done: Some(done),
                seq,
            })
            .unwrap();
        wait
    };
    // Three writes already queued when the writer starts.
    let queued = [send("CA1"), send("CA2"), send("CA3")];
    let commits = Arc::new(AtomicUsize::new(0));
    let writer = Writer {
        conn: open_writer(&path).unwrap(),
        queue: received,
        gathered: Arc::default(),
        restart_due: Arc::default(),
        commits: commits.clone(),
        cache: Arc::default(),
    };
    std::thread::spawn(move || writer.run());
    for w in queued {
        assert_eq!(w.blocking_recv().unwrap(), Ok(1));
    }
    assert_eq!(commits.load(Ordering::Relaxed), 1);
}

/// One call at a time never waits for company: each write commits at once.
#[tokio::test]
async fn a_quiet_line_commits_each_write_at_once() {
    let (_dir, path) = migrated();
    let hot = Hot::open(&path).unwrap();
    for i in 0..3 {
        hot.write(session("CA1", &format!("{{\"a\":{i}}}")))
            .await
            .unwrap();
    }
    assert_eq!(hot.commits(), 3);
}

/// Writes back to back (no pause long enough for the checkpointer to catch up): the
/// log must still start over rather than grow with every commit.
#[tokio::test]
async fn the_log_starts_over_under_sustained_writes() {
    let (_dir, path) = migrated();
    let wal = path.with_extension("db-wal");
    let checkpoints = Checkpoints {
        every: Duration::from_millis(5),
        restart_after_frames: 64,
    };
    let hot = Hot::open_with(&path, checkpoints).unwrap();
    let state = format!("{{\"pad\":\"{}\"}}", "x".repeat(500));
    // Each commit (one at a time: each write waits for its own) appends at least one
    // 4 KB page to the log, so a log shorter than that many pages started over at least
    // once. Quiet, 5,000 writes leave it near 1 MB; with builds beside the tests the
    // checkpointer thread may get no turn for a whole round of 5,000 (the log then
    // held exactly one page per commit), so up to four rounds are given.
    let (mut commits, mut len) = (0u64, 0u64);
    for _round in 0..4 {
        for i in 0..5000 {
            hot.write(session(&format!("CA{}", i % 16), &state))
                .await
                .unwrap();
        }
        commits += 5000;
        len = std::fs::metadata(&wal).unwrap().len();
        if len < commits * 4096 {
            break;
        }
    }
    assert!(
        len < commits * 4096,
        "the log grew to {len} bytes in {commits} commits: it never started over"
    );
}

/// A migrated database whose server this test is.
fn claimed() -> (tempfile::TempDir, std::path::PathBuf, Arc<Hot>) {
    let (dir, path) = migrated();
    let hot = Hot::open(&path).unwrap();
    hot.claim().unwrap();
    (dir, path, hot)
}

/// Makes every later update of a session row fail, as a full disk would.
fn refuse_updates(path: &Path) {
    Connection::open(path)
        .unwrap()
        .execute_batch(
            "CREATE TRIGGER refuse BEFORE UPDATE ON call_sessions \
             BEGIN SELECT RAISE(ABORT, 'refused'); END",
        )
        .unwrap();
}

fn typed(sid: &str, step: &str) -> Session {
    let mut s = Session::new(
        crate::session::CallSid::parse(sid).unwrap(),
        crate::words::prompts::Channel::Voice,
        0,
    );
    s.step = Some(step.into());
    s
}

/// A save as the store makes it, numbered by the store.
fn save(hot: &Hot, session: &Session, now: i64) -> Write {
    Write::Session {
        call_sid: session.call_sid.as_str().into(),
        state: serde_json::to_string(session).unwrap(),
        now,
        cached: Some(Box::new(session.clone())),
        seq: hot.next_seq(),
    }
}

#[tokio::test]
async fn a_claimed_store_serves_what_it_committed_from_memory() {
    let (_dir, path) = migrated();
    let hot = Hot::open(&path).unwrap();
    let menu = typed("CA1", "main-menu");
    // Not claimed: the cache stays empty and reads go to the file.
    hot.write(save(&hot, &menu, 100)).await.unwrap();
    assert!(hot.cached_session("CA1", 0).unwrap().is_none());
    hot.claim().unwrap();
    hot.write(save(&hot, &typed("CA1", "info-menu"), 110))
        .await
        .unwrap();
    let got = hot.cached_session("CA1", 110).unwrap().unwrap();
    assert_eq!(got.step.as_deref(), Some("info-menu"));
    // The row in the file says the same.
    let row = hot.load_session("CA1", 0).unwrap().unwrap();
    assert!(row.contains("info-menu"), "{row}");
    assert!(hot.cached_session("CA1", 111).unwrap().is_none(), "stale");
}

#[tokio::test]
async fn an_ended_call_and_a_failed_commit_leave_the_cache() {
    let (_dir, path, hot) = claimed();
    hot.write(save(&hot, &typed("CA1", "main-menu"), 100))
        .await
        .unwrap();
    hot.write(save(&hot, &typed("CA2", "main-menu"), 100))
        .await
        .unwrap();
    let end = |sid: &str| Write::End {
        call_sid: sid.into(),
        status: "completed".into(),
        now: 120,
        seq: hot.next_seq(),
    };
    assert_eq!(hot.write(end("CA1")).await.unwrap(), 1);
    assert!(hot.cached_session("CA1", 0).unwrap().is_none());
    assert_eq!(hot.load_session("CA1", 0).unwrap(), None, "ended");
    assert_eq!(hot.write(end("CA1")).await.unwrap(), 0, "already over");
    // A batch that fails: the database keeps the old row, and the cache must not
    // serve the session that was never committed.
    refuse_updates(&path);
    assert!(
        hot.write(save(&hot, &typed("CA2", "info-menu"), 130))
            .await
            .is_err()
    );
    assert!(hot.cached_session("CA2", 0).unwrap().is_none());
    let row = hot.load_session("CA2", 0).unwrap().unwrap();
    assert!(row.contains("main-menu"), "{row}");
}

fn json(session: &Session) -> String {
    serde_json::to_string(session).unwrap()
}

#[tokio::test]
async fn a_save_behind_is_served_at_once_and_a_clean_close_commits_it() {
    let (_dir, path, hot) = claimed();
    let menu = typed("CA1", "info-menu");
    hot.save_behind(menu.clone(), json(&menu), 100).unwrap();
    let got = hot.cached_session("CA1", 0).unwrap().unwrap();
    assert_eq!(got.step.as_deref(), Some("info-menu"));
    hot.close().await;
    let row: String = Connection::open(&path)
        .unwrap()
        .query_row("SELECT state FROM call_sessions", [], |r| r.get(0))
        .unwrap();
    assert!(row.contains("info-menu"), "{row}");
    assert!(
        hot.save_behind(menu.clone(), json(&menu), 100).is_err(),
        "closed"
    );
}

#[tokio::test]
async fn a_save_behind_that_fails_leaves_the_call_to_the_file() {
    let (_dir, path, hot) = claimed();
    hot.write(save(&hot, &typed("CA1", "main-menu"), 100))
        .await
        .unwrap();
    refuse_updates(&path);
    let menu = typed("CA1", "info-menu");
    hot.save_behind(menu.clone(), json(&menu), 110).unwrap();
    // Everything queued before the barrier is done (it shares the failed batch, so
    // it reports the failure too).
    let _ = hot.write(Write::Barrier).await;
    assert!(hot.cached_session("CA1", 0).unwrap().is_none());
    let row = hot.load_session("CA1", 0).unwrap().unwrap();
    assert!(row.contains("main-menu"), "{row}");
}

/// Two saves of one call queued back to back (a call's next webhook came before
/// the writer committed its last): the commit of the first must not put the older
/// session back over the newer one.
#[tokio::test]
async fn the_commit_of_an_earlier_save_keeps_the_later_one() {
    let (_dir, _path, hot) = claimed();
    for step in ["main-menu", "info-menu", "hours"] {
        let s = typed("CA1", step);
        hot.save_behind(s.clone(), json(&s), 100).unwrap();
    }
    hot.write(Write::Barrier).await.unwrap();
    let got = hot.cached_session("CA1", 0).unwrap().unwrap();
    assert_eq!(got.step.as_deref(), Some("hours"));
    let row = hot.load_session("CA1", 0).unwrap().unwrap();
    assert!(row.contains("hours"), "{row}");
}

/// Saves nobody waits for gather: a hundred calls moving at once share a commit or
/// two, not a hundred, and all of them land.
#[tokio::test]
async fn saves_that_answer_first_share_their_commits() {
    let (_dir, _path, hot) = claimed();
    for i in 0..100 {
        let s = typed(&format!("CA{i}"), "info-menu");
        hot.save_behind(s.clone(), json(&s), 100).unwrap();
    }
    hot.write(Write::Barrier).await.unwrap();
    assert!(hot.commits() <= 3, "{} commits", hot.commits());
    for i in 0..100 {
        let row = hot.load_session(&format!("CA{i}"), 0).unwrap().unwrap();
        assert!(row.contains("info-menu"), "{row}");
    }
}

/// A call's end reaches the writer at once; its last save may still be gathering.
/// Committed in the order they were made, the end is not undone by that save.
#[tokio::test]
async fn an_end_is_not_undone_by_the_gathered_save_before_it() {
    let (_dir, _path, hot) = claimed();
    let s = typed("CA1", "goodbye");
    hot.save_behind(s.clone(), json(&s), 100).unwrap();
    let end = Write::End {
        call_sid: "CA1".into(),
        status: "completed".into(),
        now: 101,
        seq: hot.next_seq(),
    };
    assert_eq!(hot.write(end).await.unwrap(), 1);
    assert!(hot.load_session("CA1", 0).unwrap().is_none(), "ended");
    assert!(hot.cached_session("CA1", 0).unwrap().is_none());
}

#[tokio::test]
async fn a_second_server_on_the_file_is_refused_until_the_first_is_gone() {
    let (_dir, path) = migrated();
    let first = Hot::open(&path).unwrap();
    first.claim().unwrap();
    first.claim().unwrap(); // Claiming again is harmless.
    let second = Hot::open(&path).unwrap();
    let err = second.claim().unwrap_err().to_string();
    assert!(err.contains("another Caseline server"), "{err}");
    assert!(!second.caching());
    drop(first);
    second.claim().unwrap();
    assert!(second.caching());
}

#[tokio::test]
async fn a_closed_store_refuses_reads_and_writes() {
    let (_dir, path) = migrated();
    let hot = Hot::open(&path).unwrap();
    hot.close().await;
    assert!(hot.load_session("CA1", 0).is_err());
    assert!(hot.write(session("CA1", "{}")).await.is_err());
}

#[tokio::test]
async fn a_failed_commit_is_reported_to_every_waiter() {
    let (_dir, path) = migrated();
    let hot = Hot::open(&path).unwrap();
    Connection::open(&path)
        .unwrap()
        .execute_batch("DROP TABLE audit")
        .unwrap();
    let line = AuditLine {
        at: 1,
        call_sid: None,
        actor: None,
        event: "e".into(),
        outcome: "o".into(),
        participant_id: None,
        case_id: None,
    };
    assert!(hot.write(Write::Audit(line)).await.is_err());
    // The writer goes on after a failed batch.
    hot.write(session("CA1", "{}")).await.unwrap();
}
