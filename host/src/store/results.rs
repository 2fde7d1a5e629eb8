//! Results, the waiters on them, the leader notification log (exactly once per result, team and
//! owner epoch), and scheduled events (retries the coordinator fires when due).

use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;
use serde_json::Value;

use super::{Store, StoreError, new_id};
use crate::events::now_rfc3339;

#[derive(Debug, Clone, Serialize)]
pub struct ResultRow {
    pub result_id: String,
    pub team: String,
    pub task_id: String,
    pub agent_id: String,
    pub status: String,
    pub envelope: Value,
    pub created_at: String,
    /// Added by the host for a worker in its own worktree: `{branch, head, dirty}` when it
    /// reported.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worktree: Option<Value>,
}

fn result_from_row(row: &Row<'_>) -> rusqlite::Result<ResultRow> {
    let envelope: String = row.get(5)?;
    let worktree: Option<String> = row.get(7)?;
    Ok(ResultRow {
        result_id: row.get(0)?,
        team: row.get(1)?,
        task_id: row.get(2)?,
        agent_id: row.get(3)?,
        status: row.get(4)?,
        envelope: serde_json::from_str(&envelope).unwrap_or(Value::Null),
        created_at: row.get(6)?,
        worktree: worktree.and_then(|w| serde_json::from_str(&w).ok()),
    })
}

const RESULT_COLUMNS: &str =
    "result_id, team, task_id, agent_id, status, envelope, created_at, worktree";

/// A process waiting for a task's result (`team-agent wait`).
#[derive(Debug, Clone, Serialize)]
pub struct Watcher {
    pub watcher_id: String,
    pub task_id: String,
    pub pid: i64,
    pub created_at: String,
}

/// A claim on notifying the leader of one result.
#[derive(Debug, Clone, Serialize)]
pub struct Notification {
    pub result_id: String,
    pub owner_epoch: i64,
    pub message_id: String,
    pub status: String,
    pub claimed_by: i64,
}

impl Store {
    /// Stores a result; `worktree` is what the host adds of the worker's code (see
    /// [`ResultRow::worktree`]).
    pub fn insert_result(
        &self,
        team: &str,
        task_id: &str,
        agent_id: &str,
        envelope: &Value,
        worktree: Option<&Value>,
    ) -> Result<ResultRow, StoreError> {
        let id = new_id("res");
        let status = envelope["status"].as_str().unwrap_or("unknown");
        let text = serde_json::to_string(envelope).unwrap_or_default();
        let worktree = worktree.map(|w| w.to_string());
        self.conn
            .prepare_cached(&format!(
                "INSERT INTO results ({RESULT_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
            ))
            .and_then(|mut s| {
                s.execute(params![
                    id,
                    team,
                    task_id,
                    agent_id,
                    status,
                    text,
                    now_rfc3339(),
                    worktree
                ])
            })
            .map_err(|e| self.err(e))?;
        self.result(&id)?
            .ok_or_else(|| self.err(rusqlite::Error::QueryReturnedNoRows))
    }

    pub fn result(&self, id: &str) -> Result<Option<ResultRow>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {RESULT_COLUMNS} FROM results WHERE result_id = ?1"
            ))
            .and_then(|mut s| s.query_row(params![id], result_from_row).optional())
            .map_err(|e| self.err(e))
    }

    /// The newest result for a task.
    pub fn latest_result(
        &self,
        team: &str,
        task_id: &str,
    ) -> Result<Option<ResultRow>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {RESULT_COLUMNS} FROM results WHERE team = ?1 AND task_id = ?2 ORDER BY created_at DESC, result_id DESC LIMIT 1"
            ))
            .and_then(|mut s| s.query_row(params![team, task_id], result_from_row).optional())
            .map_err(|e| self.err(e))
    }

    /// Results, newest last, filtered by task and agent.
    pub fn results(
        &self,
        team: &str,
        task: Option<&str>,
        agent: Option<&str>,
        limit: usize,
    ) -> Result<Vec<ResultRow>, StoreError> {
        let mut rows: Vec<ResultRow> = self
            .conn
            .prepare_cached(&format!(
                "SELECT {RESULT_COLUMNS} FROM results WHERE team = ?1 AND (?2 IS NULL OR task_id = ?2) AND (?3 IS NULL OR agent_id = ?3)
                 ORDER BY created_at DESC, result_id DESC LIMIT ?4"
            ))
            .and_then(|mut s| s.query_map(params![team, task, agent, limit as i64], result_from_row)?.collect())
            .map_err(|e| self.err(e))?;
        rows.reverse();
        Ok(rows)
    }

    pub fn add_watcher(&self, team: &str, task_id: &str) -> Result<Watcher, StoreError> {
        let watcher = Watcher {
            watcher_id: new_id("wat"),
            task_id: task_id.into(),
            pid: std::process::id() as i64,
            created_at: now_rfc3339(),
        };
        self.conn
            .prepare_cached("INSERT INTO result_watchers (watcher_id, team, task_id, pid, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")
            .and_then(|mut s| s.execute(params![watcher.watcher_id, team, watcher.task_id, watcher.pid, watcher.created_at]))
            .map_err(|e| self.err(e))?;
        Ok(watcher)
    }

    pub fn remove_watcher(&self, watcher_id: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached("DELETE FROM result_watchers WHERE watcher_id = ?1")
            .and_then(|mut s| s.execute(params![watcher_id]))
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// Claims the one notification of `result_id` for `(team, epoch)`; false when it is already
    /// claimed (by this or another process, now or earlier).
    pub fn claim_notification(
        &self,
        result_id: &str,
        team: &str,
        epoch: i64,
        message_id: &str,
    ) -> Result<bool, StoreError> {
        let inserted = self
            .conn
            .prepare_cached(
                "INSERT OR IGNORE INTO leader_notification_log (result_id, team, owner_epoch, message_id, status, claimed_by, claimed_at)
                 VALUES (?1, ?2, ?3, ?4, 'claimed', ?5, ?6)",
            )
            .and_then(|mut s| s.execute(params![result_id, team, epoch, message_id, std::process::id(), now_rfc3339()]))
            .map_err(|e| self.err(e))?;
        Ok(inserted == 1)
    }

    pub fn finish_notification(
        &self,
        result_id: &str,
        team: &str,
        epoch: i64,
        status: &str,
    ) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE leader_notification_log SET status = ?4, notified_at = ?5 WHERE result_id = ?1 AND team = ?2 AND owner_epoch = ?3",
            )
            .and_then(|mut s| s.execute(params![result_id, team, epoch, status, now_rfc3339()]))
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// Takes over a claim whose claimer died before finishing it.
    pub fn reclaim_notification(
        &self,
        result_id: &str,
        team: &str,
        epoch: i64,
        dead_pid: i64,
    ) -> Result<bool, StoreError> {
        let changed = self
            .conn
            .prepare_cached(
                "UPDATE leader_notification_log SET claimed_by = ?5, claimed_at = ?6
                 WHERE result_id = ?1 AND team = ?2 AND owner_epoch = ?3 AND status = 'claimed' AND claimed_by = ?4",
            )
            .and_then(|mut s| s.execute(params![result_id, team, epoch, dead_pid, std::process::id(), now_rfc3339()]))
            .map_err(|e| self.err(e))?;
        Ok(changed == 1)
    }

    /// Notifications claimed but not finished.
    pub fn open_notifications(&self, team: &str) -> Result<Vec<Notification>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT result_id, owner_epoch, message_id, status, claimed_by FROM leader_notification_log WHERE team = ?1 AND status = 'claimed'",
            )
            .and_then(|mut s| {
                s.query_map(params![team], |r| {
                    Ok(Notification { result_id: r.get(0)?, owner_epoch: r.get(1)?, message_id: r.get(2)?, status: r.get(3)?, claimed_by: r.get(4)? })
                })?
                .collect()
            })
            .map_err(|e| self.err(e))
    }

    /// Results of a team that have no notification for `epoch` yet.
    pub fn unnotified_results(&self, team: &str, epoch: i64) -> Result<Vec<ResultRow>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {RESULT_COLUMNS} FROM results r WHERE team = ?1 AND NOT EXISTS
                 (SELECT 1 FROM leader_notification_log n WHERE n.result_id = r.result_id AND n.team = ?1 AND n.owner_epoch = ?2)
                 ORDER BY created_at"
            ))
            .and_then(|mut s| s.query_map(params![team, epoch], result_from_row)?.collect())
            .map_err(|e| self.err(e))
    }

    /// Schedules an event for the coordinator.
    pub fn schedule(
        &self,
        team: &str,
        kind: &str,
        due_at: &str,
        payload: &Value,
    ) -> Result<i64, StoreError> {
        self.conn
            .prepare_cached("INSERT INTO scheduled_events (team, kind, due_at, payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5)")
            .and_then(|mut s| s.execute(params![team, kind, due_at, payload.to_string(), now_rfc3339()]))
            .map_err(|e| self.err(e))?;
        Ok(self.conn.last_insert_rowid())
    }

    /// Due events (`due_at` ≤ now), oldest first.
    pub fn due_events(
        &self,
        team: &str,
        now: &str,
    ) -> Result<Vec<(i64, String, Value, i64)>, StoreError> {
        self.conn
            .prepare_cached("SELECT id, kind, payload, attempts FROM scheduled_events WHERE status = 'pending' AND team = ?1 AND due_at <= ?2 ORDER BY due_at, id")
            .and_then(|mut s| {
                s.query_map(params![team, now], |r| {
                    let payload: String = r.get(2)?;
                    Ok((r.get(0)?, r.get(1)?, serde_json::from_str(&payload).unwrap_or(Value::Null), r.get(3)?))
                })?
                .collect()
            })
            .map_err(|e| self.err(e))
    }

    /// Marks an event done, or puts it off to `retry_at`.
    pub fn finish_event(&self, id: i64, retry_at: Option<&str>) -> Result<(), StoreError> {
        let (sql, args): (&str, Vec<Box<dyn rusqlite::ToSql>>) = match retry_at {
            None => (
                "UPDATE scheduled_events SET status = 'done', attempts = attempts + 1 WHERE id = ?1",
                vec![Box::new(id)],
            ),
            Some(at) => (
                "UPDATE scheduled_events SET due_at = ?2, attempts = attempts + 1 WHERE id = ?1",
                vec![Box::new(id), Box::new(at.to_string())],
            ),
        };
        self.conn
            .prepare_cached(sql)
            .and_then(|mut s| s.execute(rusqlite::params_from_iter(args.iter())))
            .map(drop)
            .map_err(|e| self.err(e))
    }
}
