use super::*;
use crate::session::CallSid;
use crate::words::prompts::Channel;

/// A cache whose writer never runs: the queue is kept so sends succeed until full.
fn hot() -> (PgHot, mpsc::Receiver<Pending>) {
    let (writes, queue) = mpsc::channel(4);
    let hot = PgHot {
        sessions: Mutex::new(LruCache::new(MAX_ENTRIES)),
        writes,
        closed: AtomicBool::new(false),
        server: 7,
        reads: ReadCounts::default(),
    };
    (hot, queue)
}

fn session(sid: &str, turn: u64) -> Session {
    let mut s = Session::new(CallSid::parse(sid).unwrap(), Channel::Voice, 0);
    s.turn = turn;
    s
}

#[test]
fn a_session_is_served_only_at_its_own_turn_and_window() {
    let (hot, _queue) = hot();
    hot.saved(session("CA1", 3), 100);
    assert_eq!(hot.at_turn("CA1", 3, 100).map(|s| s.turn), Some(3));
    assert!(
        hot.at_turn("CA1", 2, 0).is_none(),
        "an older URL reads the database"
    );
    assert!(
        hot.at_turn("CA1", 4, 0).is_none(),
        "a later turn was given elsewhere"
    );
    assert!(
        hot.at_turn("CA1", 3, 101).is_none(),
        "older than the window"
    );
    assert!(hot.at_turn("CA2", 3, 0).is_none());
}

#[test]
fn a_failed_write_drops_only_its_own_turn() {
    let (hot, _queue) = hot();
    hot.saved(session("CA1", 5), 100);
    hot.forget_turn("CA1", 4);
    assert!(hot.at_turn("CA1", 5, 0).is_some(), "a later save stays");
    hot.forget_turn("CA1", 5);
    assert!(hot.at_turn("CA1", 5, 0).is_none());
}

#[test]
fn the_queue_refuses_when_full_so_the_save_waits_instead() {
    let (hot, _queue) = hot();
    for turn in 1..=4 {
        assert!(
            hot.save_behind(session("CA1", turn), "{}".into(), 100)
                .is_ok()
        );
    }
    let refused = hot.save_behind(session("CA1", 5), "{}".into(), 100);
    assert_eq!(refused.map_err(|s| s.turn), Err(5));
    assert_eq!(hot.len(), 1);
}

#[test]
fn a_queued_position_never_replaces_a_later_turn() {
    let (hot, _queue) = hot();
    hot.saved(session("CA1", 5), 100);
    assert!(hot.save_behind(session("CA1", 4), "{}".into(), 101).is_ok());
    assert!(hot.at_turn("CA1", 5, 0).is_some());
    // A committed save (a session started afresh) does replace it.
    hot.saved(session("CA1", 1), 102);
    assert!(hot.at_turn("CA1", 1, 0).is_some());
}

/// A read that finds the database behind this server's own queued write serves the
/// queued copy instead of waiting for it; one that finds it level or ahead (another
/// server answered since, or the same request) serves the database's.
#[test]
fn a_read_behind_this_servers_queued_write_serves_the_queued_copy_without_waiting() {
    let (hot, _queue) = hot();
    let turn = |count: u64, server: u64| (count << 32) | server;
    assert!(
        hot.save_behind(session("CA1", turn(4, 7)), "{}".into(), 100)
            .is_ok()
    );
    let behind = hot.newer_queued(session("CA1", turn(3, 9)), 0);
    assert_eq!(behind.turn, turn(4, 7), "the queued copy is the later one");
    let level = hot.newer_queued(session("CA1", turn(4, 9)), 0);
    assert_eq!(level.turn, turn(4, 9), "a tie goes to the committed row");
    let ahead = hot.newer_queued(session("CA1", turn(5, 9)), 0);
    assert_eq!(ahead.turn, turn(5, 9));
    assert_eq!(
        hot.newer_queued(session("CA1", turn(3, 9)), 101).turn,
        turn(3, 9),
        "a copy older than the window is not served"
    );
    // Once committed, the database has it (or something later): no copy is preferred.
    hot.committed("CA1", turn(4, 7));
    assert_eq!(
        hot.newer_queued(session("CA1", turn(3, 9)), 0).turn,
        turn(3, 9)
    );
    assert_eq!(hot.reads.waited.load(Ordering::Relaxed), 0);
}

/// Full, the cache gives way one session at a time, the one saved longest ago first,
/// whatever their age (no scan for idle ones), and a save makes a session recent again.
#[test]
fn a_full_cache_drops_the_session_saved_longest_ago() {
    let (hot, _queue) = hot();
    for i in 0..MAX_ENTRIES {
        hot.saved(session(&format!("CA{i}"), 1), 100);
    }
    // CA0 saved again: now the most recent; CA1 is the oldest.
    hot.saved(session("CA0", 2), 100);
    hot.saved(session("CAnew", 1), 100);
    assert!(hot.at_turn("CAnew", 1, 0).is_some());
    assert!(hot.at_turn("CA0", 2, 0).is_some());
    assert!(hot.at_turn("CA1", 1, 0).is_none(), "the oldest gave way");
    assert!(hot.at_turn("CA2", 1, 0).is_some());
    assert_eq!(hot.len(), MAX_ENTRIES);
}

/// The sweeper drops the idle, oldest first, and stops at the first that is not.
#[test]
fn the_sweep_drops_only_the_idle() {
    let (hot, _queue) = hot();
    for i in 0..10 {
        hot.saved(session(&format!("CA{i}"), 1), 100 + i);
    }
    hot.sweep(105 + IDLE_SECS);
    assert_eq!(hot.len(), 5);
    assert!(hot.at_turn("CA4", 1, 0).is_none());
    assert!(hot.at_turn("CA5", 1, 0).is_some());
}
