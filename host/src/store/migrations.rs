//! The store's schema, as forward migrations numbered by `PRAGMA user_version`. A migration is
//! never edited once released: changes are new migrations.

use rusqlite::Connection;

/// The newest schema this team-agent knows.
pub const LATEST: i64 = 6;

/// Migration `n` takes the schema from version `n - 1` to `n`.
const MIGRATIONS: [&str; 6] = [
    // 1: the first schema.
    "CREATE TABLE messages (
        message_id TEXT PRIMARY KEY,
        team TEXT NOT NULL,
        task_id TEXT,
        sender TEXT NOT NULL,
        recipient TEXT NOT NULL,
        status TEXT NOT NULL,
        content TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        submitted_at TEXT,
        acknowledged_at TEXT,
        error TEXT,
        delivery_attempts INTEGER NOT NULL DEFAULT 0
    );
    CREATE INDEX messages_recipient_status ON messages (team, recipient, status);
    CREATE INDEX messages_task ON messages (team, task_id);
    CREATE TABLE results (
        result_id TEXT PRIMARY KEY,
        team TEXT NOT NULL,
        task_id TEXT NOT NULL,
        agent_id TEXT NOT NULL,
        status TEXT NOT NULL,
        envelope TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX results_task ON results (team, task_id);
    CREATE INDEX results_agent ON results (team, agent_id);
    CREATE TABLE result_watchers (
        watcher_id TEXT PRIMARY KEY,
        team TEXT NOT NULL,
        task_id TEXT NOT NULL,
        pid INTEGER NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE TABLE scheduled_events (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        team TEXT NOT NULL,
        kind TEXT NOT NULL,
        due_at TEXT NOT NULL,
        payload TEXT NOT NULL,
        status TEXT NOT NULL DEFAULT 'pending',
        attempts INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL
    );
    CREATE INDEX scheduled_due ON scheduled_events (status, due_at);
    CREATE TABLE leader_notification_log (
        result_id TEXT NOT NULL,
        team TEXT NOT NULL,
        owner_epoch INTEGER NOT NULL,
        message_id TEXT NOT NULL,
        status TEXT NOT NULL,
        claimed_by INTEGER NOT NULL,
        claimed_at TEXT NOT NULL,
        notified_at TEXT,
        PRIMARY KEY (result_id, team, owner_epoch)
    );
    CREATE TABLE agent_health (
        team TEXT NOT NULL,
        agent_id TEXT NOT NULL,
        status TEXT NOT NULL,
        activity TEXT,
        last_output_at TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (team, agent_id)
    );",
    // 2: delivery bookkeeping: who is delivering a message, why it waits, and whether its
    // submission was seen; and a link from a notification message to its result.
    "ALTER TABLE messages ADD COLUMN delivering_pid INTEGER;
    ALTER TABLE messages ADD COLUMN queued_reason TEXT;
    ALTER TABLE messages ADD COLUMN submit_verified INTEGER;
    ALTER TABLE messages ADD COLUMN result_id TEXT;
    CREATE INDEX messages_status ON messages (status);",
    // 3: partial indexes over the few messages still in flight, so the questions asked every tick
    // and by `status` (what waits, what is open) never walk a team's whole history.
    "CREATE INDEX messages_pending ON messages (team, recipient, status)
        WHERE status NOT IN ('acknowledged', 'failed', 'submitted');
    CREATE INDEX messages_open ON messages (team, recipient, status)
        WHERE status NOT IN ('acknowledged', 'failed');",
    // 4: the order messages were stored in (taken under the write lock, so two senders at the
    // same moment are never ordered by clocks read before either held it), and when a
    // deliverer pressed (or was about to press) a message's submit keys: what tells a later
    // deliverer that a message whose claim it takes over may already be in the worker's session.
    // The agent_health table, never written, goes. A message the recipient's CLI took is
    // `consumed` (at `consumed_at`), which leaves the pending index too.
    "ALTER TABLE messages ADD COLUMN seq INTEGER;
    UPDATE messages SET seq = rowid;
    CREATE UNIQUE INDEX messages_seq ON messages (seq);
    ALTER TABLE messages ADD COLUMN submit_sent_at TEXT;
    DROP TABLE agent_health;
    ALTER TABLE messages ADD COLUMN consumed_at TEXT;
    DROP INDEX messages_pending;
    CREATE INDEX messages_pending ON messages (team, recipient, status)
        WHERE status NOT IN ('acknowledged', 'failed', 'submitted', 'consumed');",
    // 5: a message the recipient did not take is sent again once (`retried_at`), then given back
    // to its sender (`bounced`, at `bounced_at`), which leaves both partial indexes.
    "ALTER TABLE messages ADD COLUMN retried_at TEXT;
    ALTER TABLE messages ADD COLUMN bounced_at TEXT;
    DROP INDEX messages_pending;
    CREATE INDEX messages_pending ON messages (team, recipient, status)
        WHERE status NOT IN ('acknowledged', 'failed', 'submitted', 'consumed', 'bounced');
    DROP INDEX messages_open;
    CREATE INDEX messages_open ON messages (team, recipient, status)
        WHERE status NOT IN ('acknowledged', 'failed', 'bounced');",
    // 6: what the host adds to a result of a worker in its own git worktree: its branch, head
    // commit and whether uncommitted changes remain (JSON).
    "ALTER TABLE results ADD COLUMN worktree TEXT;",
];

#[derive(Debug)]
pub enum MigrateError {
    TooNew { found: i64, known: i64 },
    Sqlite(rusqlite::Error),
}

impl From<rusqlite::Error> for MigrateError {
    fn from(e: rusqlite::Error) -> Self {
        Self::Sqlite(e)
    }
}

/// Brings the schema up to `target`, one migration per transaction.
pub fn migrate(conn: &mut Connection, target: i64) -> Result<(), MigrateError> {
    let current: i64 = conn.pragma_query_value(None, "user_version", |r| r.get(0))?;
    if current > LATEST {
        return Err(MigrateError::TooNew {
            found: current,
            known: LATEST,
        });
    }
    for version in current + 1..=target.min(LATEST) {
        let tx = conn.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        // Another process may have migrated meanwhile.
        let now: i64 = tx.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if now >= version {
            continue;
        }
        tx.execute_batch(MIGRATIONS[(version - 1) as usize])?;
        tx.pragma_update(None, "user_version", version)?;
        tx.commit()?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::store::Store;

    #[test]
    fn a_database_created_by_the_first_schema_is_migrated_and_keeps_its_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("team.db");
        let first = Store::open_at(&path, 1).unwrap();
        assert_eq!(first.version().unwrap(), 1);
        first
            .conn
            .execute(
                "INSERT INTO messages (message_id, team, sender, recipient, status, content, created_at, updated_at)
                 VALUES ('msg_old', 't', 'leader', 'alice', 'queued_busy', 'from the first schema', 'x', 'x')",
                [],
            )
            .unwrap();
        drop(first);
        let latest = Store::open_at(&path, super::LATEST).unwrap();
        assert_eq!(latest.version().unwrap(), super::LATEST);
        let old = latest
            .message("msg_old")
            .unwrap()
            .expect("the row survived");
        assert_eq!(old.content, "from the first schema");
        assert!(old.status.is_pending());
        let claimed = latest
            .claim("msg_old", 42, None)
            .unwrap()
            .expect("claimable after the migration");
        assert_eq!(claimed.delivering_pid, Some(42));
        // The old row keeps its place in the order; a new one comes after it.
        let new = latest
            .insert_message(&crate::store::NewMessage {
                team: "t",
                task_id: None,
                sender: "leader",
                recipient: "alice",
                content: "after the migration",
                result_id: None,
            })
            .unwrap();
        assert!(new.seq > old.seq, "{} after {}", new.seq, old.seq);
    }

    /// Two senders at once: the one the store took first is first, whatever their clocks read
    /// before either held the write lock.
    #[test]
    fn messages_are_ordered_as_the_store_took_them_not_by_their_timestamps() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_at(&dir.path().join("team.db"), super::LATEST).unwrap();
        let message = |content: &str| {
            store
                .insert_message(&crate::store::NewMessage {
                    team: "t",
                    task_id: None,
                    sender: "leader",
                    recipient: "alice",
                    content,
                    result_id: None,
                })
                .unwrap()
        };
        let first = message("first");
        let second = message("second");
        // The first sender's clock was read later (it waited for the lock).
        store
            .conn
            .execute(
                "UPDATE messages SET created_at = '2999-01-01T00:00:00.000Z' WHERE message_id = ?1",
                [&first.message_id],
            )
            .unwrap();
        let pending: Vec<String> = store
            .pending_messages("t")
            .unwrap()
            .into_iter()
            .map(|m| m.content)
            .collect();
        assert_eq!(pending, ["first", "second"]);
        assert!(store.waits_behind(&second).unwrap());
        assert!(!store.waits_behind(&first).unwrap());
    }

    /// A CLI's prompt hook can tell of a message before its deliverer records the submit: the
    /// message is consumed and still has the moment it went in, so its task counts as given.
    #[test]
    fn a_message_taken_before_its_submit_was_recorded_keeps_its_submit_time() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_at(&dir.path().join("team.db"), super::LATEST).unwrap();
        let message = store
            .insert_message(&crate::store::NewMessage {
                team: "t",
                task_id: Some("t1"),
                sender: "leader",
                recipient: "alice",
                content: "do it",
                result_id: None,
            })
            .unwrap();
        assert!(
            store
                .mark_consumed(&message.message_id, "2026-12-04T10:00:01.000Z")
                .unwrap()
        );
        store
            .mark_submitted(&message.message_id, true, "2026-12-04T10:00:00.500Z")
            .unwrap();
        let after = store.message(&message.message_id).unwrap().unwrap();
        assert_eq!(after.status, crate::store::MessageStatus::Consumed);
        assert!(after.submitted_at.is_some());
        let open = store.open_tasks("t", "alice").unwrap();
        assert_eq!(open.len(), 1, "{open:?}");
        assert_eq!(open[0].0, "t1");
    }

    /// What every tick and every `status` asks reads only messages in flight, not the history.
    #[test]
    fn the_in_flight_questions_use_the_partial_indexes() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_at(&dir.path().join("team.db"), super::LATEST).unwrap();
        for (query, index) in [
            (
                crate::store::messages::pending_counts_sql(),
                "messages_pending",
            ),
            (crate::store::messages::open_work_sql(), "messages_open"),
            (
                crate::store::messages::pending_list_sql(),
                "messages_pending",
            ),
        ] {
            let plan: Vec<String> = store
                .conn
                .prepare(&format!("EXPLAIN QUERY PLAN {query}"))
                .unwrap()
                .query_map(["t"], |r| r.get::<_, String>(3))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
            assert!(
                plan.iter().any(|step| step.contains(index)),
                "{query}: {plan:?}"
            );
        }
    }

    /// A status this team-agent does not know is an error that names it, never "queued".
    #[test]
    fn an_unknown_status_is_an_error_naming_it() {
        use crate::store::MessageStatus;
        assert_eq!(
            MessageStatus::parse("queued_busy").unwrap(),
            MessageStatus::Queued("busy".into())
        );
        let error = MessageStatus::parse("teleported").unwrap_err();
        assert!(error.to_string().contains("'teleported'"), "{error}");
        assert!(MessageStatus::parse("queued_").is_err());
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open_at(&dir.path().join("team.db"), super::LATEST).unwrap();
        store
            .conn
            .execute(
                "INSERT INTO messages (message_id, team, sender, recipient, status, content, created_at, updated_at, seq)
                 VALUES ('msg_x', 't', 'leader', 'alice', 'teleported', 'c', 'x', 'x', 1)",
                [],
            )
            .unwrap();
        let error = store.message("msg_x").unwrap_err();
        assert!(error.to_string().contains("teleported"), "{error}");
    }

    #[test]
    fn a_database_from_a_newer_team_agent_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("team.db");
        drop(Store::open_at(&path, super::LATEST).unwrap());
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.pragma_update(None, "user_version", super::LATEST + 1)
            .unwrap();
        drop(conn);
        let error = Store::open_at(&path, super::LATEST).err().expect("refused");
        assert!(error.to_string().contains("newer team-agent"), "{error}");
    }
}
