//! Message rows and their statuses. A status only moves forward: a delivery is claimed with a
//! conditional update (one deliverer at a time), and `acknowledged` is never downgraded.

use rusqlite::{OptionalExtension, Row, params};
use serde::Serialize;

use super::{Store, StoreError, new_id};
use crate::events::now_rfc3339;

/// Where a message stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(into = "String")]
pub enum MessageStatus {
    /// Stored, not yet delivered.
    Accepted,
    /// A process is pasting it right now.
    Delivering,
    /// Pasted and submitted in the recipient's pane.
    Submitted,
    /// The recipient's CLI took it: its transcript holds the message as a user turn.
    Consumed,
    /// The task it carried got its result.
    Acknowledged,
    /// Waiting for the recipient to take input; the coordinator retries.
    Queued(String),
    Failed,
    /// The recipient never took it (sent again once, or its input stayed held): given back to
    /// its sender with the reason (`error`).
    Bounced,
}

impl MessageStatus {
    pub fn as_str(&self) -> String {
        match self {
            Self::Accepted => "accepted".into(),
            Self::Delivering => "delivering".into(),
            Self::Submitted => "submitted".into(),
            Self::Consumed => "consumed".into(),
            Self::Acknowledged => "acknowledged".into(),
            Self::Queued(reason) => format!("queued_{reason}"),
            Self::Failed => "failed".into(),
            Self::Bounced => "bounced".into(),
        }
    }

    /// A status as stored; text no status of this team-agent reads as is an error naming it.
    pub fn parse(text: &str) -> Result<Self, UnknownStatus> {
        Ok(match text {
            "accepted" => Self::Accepted,
            "delivering" => Self::Delivering,
            "submitted" => Self::Submitted,
            "consumed" => Self::Consumed,
            "acknowledged" => Self::Acknowledged,
            "failed" => Self::Failed,
            "bounced" => Self::Bounced,
            other => match other.strip_prefix("queued_") {
                Some(reason) if !reason.is_empty() => Self::Queued(reason.to_string()),
                _ => return Err(UnknownStatus(other.to_string())),
            },
        })
    }

    /// Still to be delivered.
    pub fn is_pending(&self) -> bool {
        matches!(self, Self::Accepted | Self::Queued(_) | Self::Delivering)
    }
}

/// A message status this team-agent does not know (a newer one may have written it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown message status '{0}' in the store (written by a newer team-agent?)")]
pub struct UnknownStatus(pub String);

impl From<MessageStatus> for String {
    fn from(status: MessageStatus) -> Self {
        status.as_str()
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Message {
    pub message_id: String,
    pub team: String,
    pub task_id: Option<String>,
    pub sender: String,
    pub recipient: String,
    pub status: MessageStatus,
    pub content: String,
    pub created_at: String,
    pub updated_at: String,
    pub submitted_at: Option<String>,
    pub acknowledged_at: Option<String>,
    pub error: Option<String>,
    pub delivery_attempts: i64,
    pub delivering_pid: Option<i64>,
    pub result_id: Option<String>,
    /// The order the store took messages in (a recipient's messages are delivered in it).
    pub seq: i64,
    /// When a deliverer pressed, or was about to press, the submit keys (RFC 3339).
    pub submit_sent_at: Option<String>,
    /// When the recipient's CLI was seen to take it (RFC 3339).
    pub consumed_at: Option<String>,
    /// When it was sent again because the recipient did not take it (RFC 3339).
    pub retried_at: Option<String>,
    /// When it was given back to its sender (RFC 3339).
    pub bounced_at: Option<String>,
}

/// A message to store.
pub struct NewMessage<'a> {
    pub team: &'a str,
    pub task_id: Option<&'a str>,
    pub sender: &'a str,
    pub recipient: &'a str,
    pub content: &'a str,
    pub result_id: Option<&'a str>,
}

const COLUMNS: &str = "message_id, team, task_id, sender, recipient, status, content, created_at, updated_at, \
submitted_at, acknowledged_at, error, delivery_attempts, delivering_pid, result_id, seq, submit_sent_at, consumed_at, retried_at, bounced_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        message_id: row.get(0)?,
        team: row.get(1)?,
        task_id: row.get(2)?,
        sender: row.get(3)?,
        recipient: row.get(4)?,
        status: MessageStatus::parse(&row.get::<_, String>(5)?).map_err(|e| {
            rusqlite::Error::FromSqlConversionFailure(5, rusqlite::types::Type::Text, Box::new(e))
        })?,
        content: row.get(6)?,
        created_at: row.get(7)?,
        updated_at: row.get(8)?,
        submitted_at: row.get(9)?,
        acknowledged_at: row.get(10)?,
        error: row.get(11)?,
        delivery_attempts: row.get(12)?,
        delivering_pid: row.get(13)?,
        result_id: row.get(14)?,
        seq: row.get(15)?,
        submit_sent_at: row.get(16)?,
        consumed_at: row.get(17)?,
        retried_at: row.get(18)?,
        bounced_at: row.get(19)?,
    })
}

/// The statuses a delivery may be claimed from.
const CLAIMABLE: &str = "(status = 'accepted' OR status LIKE 'queued\\_%' ESCAPE '\\')";
/// Repeats the `WHERE` of the partial index `messages_pending` (migration 5) so SQLite uses it.
const PENDING_ROWS: &str =
    "status NOT IN ('acknowledged', 'failed', 'submitted', 'consumed', 'bounced')";
/// Likewise for `messages_open`.
const OPEN_ROWS: &str = "status NOT IN ('acknowledged', 'failed', 'bounced')";

/// Every message still to deliver, oldest first (asked every tick).
pub(crate) fn pending_list_sql() -> String {
    format!(
        "SELECT {COLUMNS} FROM messages WHERE team = ?1 AND {PENDING_ROWS} AND ({CLAIMABLE} OR status = 'delivering') ORDER BY seq"
    )
}

/// How many messages wait per recipient (asked by `status`).
pub(crate) fn pending_counts_sql() -> String {
    format!(
        "SELECT recipient, COUNT(*) FROM messages WHERE team = ?1 AND {PENDING_ROWS} AND ({CLAIMABLE} OR status = 'delivering') GROUP BY recipient"
    )
}

/// How many messages each recipient has not finished (asked by the detectors every tick).
pub(crate) fn open_work_sql() -> String {
    format!(
        "SELECT recipient, COUNT(*) FROM messages WHERE team = ?1 AND {OPEN_ROWS} AND ({CLAIMABLE} OR status IN ('delivering', 'submitted', 'consumed')) GROUP BY recipient"
    )
}

impl Store {
    /// Stores a message (status `accepted`) before anyone tries to deliver it.
    pub fn insert_message(&self, new: &NewMessage<'_>) -> Result<Message, StoreError> {
        loop {
            match self.insert_message_with_id(&new_id("msg"), new) {
                Err(StoreError::Sqlite {
                    source: rusqlite::Error::SqliteFailure(e, _),
                    ..
                }) if e.code == rusqlite::ErrorCode::ConstraintViolation => {}
                other => return other,
            }
        }
    }

    /// Stores a message under an id chosen beforehand.
    pub fn insert_message_with_id(
        &self,
        id: &str,
        new: &NewMessage<'_>,
    ) -> Result<Message, StoreError> {
        self.conn
            .prepare_cached(
                "INSERT INTO messages (message_id, team, task_id, sender, recipient, status, content, created_at, updated_at, result_id, seq)
                 VALUES (?1, ?2, ?3, ?4, ?5, 'accepted', ?6, ?7, ?7, ?8, (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages))",
            )
            .and_then(|mut s| s.execute(params![id, new.team, new.task_id, new.sender, new.recipient, new.content, now_rfc3339(), new.result_id]))
            .map_err(|e| self.err(e))?;
        self.message(id)?
            .ok_or_else(|| self.err(rusqlite::Error::QueryReturnedNoRows))
    }

    pub fn message(&self, id: &str) -> Result<Option<Message>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM messages WHERE message_id = ?1"
            ))
            .and_then(|mut s| s.query_row(params![id], from_row).optional())
            .map_err(|e| self.err(e))
    }

    /// Claims a message for delivery by process `pid`; `None` when someone else has it or it is
    /// no longer pending. `stale_pid` also takes over a claim whose deliverer died.
    pub fn claim(
        &self,
        id: &str,
        pid: u32,
        stale_pid: Option<i64>,
    ) -> Result<Option<Message>, StoreError> {
        let now = now_rfc3339();
        let changed = self
            .conn
            .prepare_cached(&format!(
                "UPDATE messages SET status = 'delivering', delivering_pid = ?2, delivery_attempts = delivery_attempts + 1, updated_at = ?3
                 WHERE message_id = ?1 AND ({CLAIMABLE} OR (status = 'delivering' AND delivering_pid = ?4))"
            ))
            .and_then(|mut s| s.execute(params![id, pid, now, stale_pid]))
            .map_err(|e| self.err(e))?;
        if changed == 1 {
            self.message(id)
        } else {
            Ok(None)
        }
    }

    /// Back to waiting, for this reason (only the claimer may do it).
    pub fn mark_queued(&self, id: &str, pid: u32, reason: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE messages SET status = ?3, queued_reason = ?4, delivering_pid = NULL, updated_at = ?5
                 WHERE message_id = ?1 AND status = 'delivering' AND delivering_pid = ?2",
            )
            .and_then(|mut s| s.execute(params![id, pid, format!("queued_{reason}"), reason, now_rfc3339()]))
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// The claimer `pid` is about to press the submit keys (at `at`, RFC 3339): from now on a
    /// deliverer that takes the claim over first looks for the message in the worker's session.
    pub fn mark_submit_sent(&self, id: &str, pid: u32, at: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE messages SET submit_sent_at = ?3, updated_at = ?3
                 WHERE message_id = ?1 AND status = 'delivering' AND delivering_pid = ?2",
            )
            .and_then(|mut s| s.execute(params![id, pid, at]))
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// The recipient took it (at `at`, RFC 3339); whether this call made it so. A message still
    /// being delivered (or queued again) becomes `consumed` too when the CLI says it took it
    /// (its prompt hook can run before the deliverer records the submit); a result's
    /// `acknowledged`, a `bounced` or `failed` stay.
    pub fn mark_consumed(&self, id: &str, at: &str) -> Result<bool, StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE messages SET status = 'consumed', consumed_at = ?2, updated_at = ?2, delivering_pid = NULL,
                   submitted_at = COALESCE(submitted_at, submit_sent_at, ?2)
                 WHERE message_id = ?1 AND status NOT IN ('consumed', 'acknowledged', 'failed', 'bounced')",
            )
            .and_then(|mut s| s.execute(params![id, at]))
            .map(|changed| changed == 1)
            .map_err(|e| self.err(e))
    }

    /// Sends a submitted message that its recipient did not take once more: back to `accepted`
    /// (delivered again, in its place in the order). Only once; whether this call did.
    pub fn retry_unconsumed(&self, id: &str) -> Result<bool, StoreError> {
        let now = now_rfc3339();
        self.conn
            .prepare_cached(
                "UPDATE messages SET status = 'accepted', retried_at = ?2, submitted_at = NULL, submit_sent_at = NULL,
                   delivering_pid = NULL, updated_at = ?2
                 WHERE message_id = ?1 AND status = 'submitted' AND retried_at IS NULL",
            )
            .and_then(|mut s| s.execute(params![id, now]))
            .map(|changed| changed == 1)
            .map_err(|e| self.err(e))
    }

    /// Puts a message typed into a CLI that ended before its session kept it (`submitted`, or
    /// `consumed` by a prompt hook the CLI ran just before it ended) back to `accepted`:
    /// delivered again to the CLI that runs now, in its place in the order. Not the retry of
    /// [`Store::retry_unconsumed`] (that one is for a CLI that ran and did not take it);
    /// whether this call did.
    pub fn requeue(&self, id: &str) -> Result<bool, StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE messages SET status = 'accepted', submitted_at = NULL, submit_sent_at = NULL,
                   consumed_at = NULL, delivering_pid = NULL, updated_at = ?2
                 WHERE message_id = ?1 AND status IN ('submitted', 'consumed')",
            )
            .and_then(|mut s| s.execute(params![id, now_rfc3339()]))
            .map(|changed| changed == 1)
            .map_err(|e| self.err(e))
    }

    /// Gives a message its recipient never took back to its sender (`bounced`, with `reason`);
    /// whether this call did. A message being delivered right now, or taken meanwhile, stays.
    pub fn mark_bounced(&self, id: &str, reason: &str) -> Result<bool, StoreError> {
        let now = now_rfc3339();
        self.conn
            .prepare_cached(&format!(
                "UPDATE messages SET status = 'bounced', bounced_at = ?2, error = ?3, delivering_pid = NULL, updated_at = ?2
                 WHERE message_id = ?1 AND (status = 'submitted' OR {CLAIMABLE})"
            ))
            .and_then(|mut s| s.execute(params![id, now, reason]))
            .map(|changed| changed == 1)
            .map_err(|e| self.err(e))
    }

    /// The latest messages delivered to each of a team's workers (submitted or later), `per`
    /// at most for each: (message id, recipient).
    pub fn latest_delivered(
        &self,
        team: &str,
        per: usize,
    ) -> Result<Vec<(String, String)>, StoreError> {
        self.conn
            .prepare_cached(
                "SELECT message_id, recipient FROM (
                   SELECT message_id, recipient, ROW_NUMBER() OVER (PARTITION BY recipient ORDER BY seq DESC) AS n
                   FROM messages WHERE team = ?1 AND recipient != 'leader'
                     AND status IN ('submitted', 'consumed', 'acknowledged'))
                 WHERE n <= ?2",
            )
            .and_then(|mut s| {
                s.query_map(params![team, per as i64], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(|e| self.err(e))
    }

    /// A worker's messages typed into its CLI (their submit keys pressed, or about to be) and
    /// not yet taken (asked when its CLI's prompt hook ran). One put back in the queue since is
    /// not: a late hook of the CLI it was typed into, which ended, does not take it.
    pub fn untaken_for(&self, team: &str, recipient: &str) -> Result<Vec<Message>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM messages WHERE team = ?1 AND recipient = ?2 AND {OPEN_ROWS} AND status != 'consumed'
                   AND submit_sent_at IS NOT NULL ORDER BY seq"
            ))
            .and_then(|mut s| s.query_map(params![team, recipient], from_row)?.collect())
            .map_err(|e| self.err(e))
    }

    /// What was typed into `recipient`'s CLI and is not known to be in its session for good:
    /// submitted and not taken, or taken (by a prompt hook or the transcript) at `since` or
    /// later, oldest first.
    pub fn typed_since(
        &self,
        team: &str,
        recipient: &str,
        since: &str,
    ) -> Result<Vec<Message>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM messages WHERE team = ?1 AND recipient = ?2
                   AND (status = 'submitted' OR (status = 'consumed' AND consumed_at >= ?3)) ORDER BY seq"
            ))
            .and_then(|mut s| s.query_map(params![team, recipient, since], from_row)?.collect())
            .map_err(|e| self.err(e))
    }

    /// The messages submitted to a team's workers and not yet taken (asked every tick).
    pub fn awaiting_consumption(&self, team: &str) -> Result<Vec<Message>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM messages WHERE team = ?1 AND {OPEN_ROWS} AND status = 'submitted' ORDER BY seq"
            ))
            .and_then(|mut s| s.query_map(params![team], from_row)?.collect())
            .map_err(|e| self.err(e))
    }

    /// Delivered. Never downgrades `acknowledged` or `consumed` (one the CLI took before this
    /// call keeps the moment it went in, and gets this one if it had none).
    /// The message went in at `at` (RFC 3339: when its submit keys were pressed; a fast CLI can
    /// finish the turn it started before the delivery returns).
    pub fn mark_submitted(&self, id: &str, verified: bool, at: &str) -> Result<(), StoreError> {
        let now = now_rfc3339();
        self.conn
            .prepare_cached(
                "UPDATE messages SET status = 'submitted', submitted_at = ?4, submit_verified = ?3, delivering_pid = NULL, updated_at = ?2
                 WHERE message_id = ?1 AND status NOT IN ('acknowledged', 'consumed')",
            )
            .and_then(|mut s| s.execute(params![id, now, verified, at]))
            .map_err(|e| self.err(e))?;
        self.conn
            .prepare_cached(
                "UPDATE messages SET submitted_at = ?2 WHERE message_id = ?1 AND status IN ('consumed', 'acknowledged') AND submitted_at IS NULL",
            )
            .and_then(|mut s| s.execute(params![id, at]))
            .map(drop)
            .map_err(|e| self.err(e))
    }

    pub fn mark_failed(&self, id: &str, error: &str) -> Result<(), StoreError> {
        self.set_final(id, "failed", error)
    }

    fn set_final(&self, id: &str, status: &str, error: &str) -> Result<(), StoreError> {
        self.conn
            .prepare_cached(
                "UPDATE messages SET status = ?2, error = ?3, delivering_pid = NULL, updated_at = ?4
                 WHERE message_id = ?1 AND status NOT IN ('acknowledged', 'submitted', 'consumed')",
            )
            .and_then(|mut s| s.execute(params![id, status, error, now_rfc3339()]))
            .map(drop)
            .map_err(|e| self.err(e))
    }

    /// A result for `task` from `agent` acknowledges the messages that gave it the task.
    pub fn acknowledge_task(
        &self,
        team: &str,
        agent: &str,
        task: &str,
    ) -> Result<usize, StoreError> {
        let now = now_rfc3339();
        self.conn
            .prepare_cached(
                "UPDATE messages SET status = 'acknowledged', acknowledged_at = ?4, delivering_pid = NULL, updated_at = ?4
                 WHERE team = ?1 AND recipient = ?2 AND (task_id = ?3 OR message_id = ?3) AND status != 'acknowledged'",
            )
            .and_then(|mut s| s.execute(params![team, agent, task, now]))
            .map_err(|e| self.err(e))
    }

    /// Messages still to be delivered, oldest first.
    pub fn pending_messages(&self, team: &str) -> Result<Vec<Message>, StoreError> {
        self.conn
            .prepare_cached(&pending_list_sql())
            .and_then(|mut s| s.query_map(params![team], from_row)?.collect())
            .map_err(|e| self.err(e))
    }

    /// Whether an older message for the same recipient still waits or is being delivered: a
    /// message never overtakes one of those (the order the store took them in).
    pub fn waits_behind(&self, message: &Message) -> Result<bool, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT EXISTS(SELECT 1 FROM messages WHERE team = ?1 AND recipient = ?2 AND {PENDING_ROWS}
                   AND ({CLAIMABLE} OR status = 'delivering')
                   AND seq < ?3)"
            ))
            .and_then(|mut s| {
                s.query_row(
                    params![message.team, message.recipient, message.seq],
                    |r| r.get::<_, bool>(0),
                )
            })
            .map_err(|e| self.err(e))
    }

    /// How many messages wait for each recipient.
    pub fn pending_counts(&self, team: &str) -> Result<Vec<(String, u64)>, StoreError> {
        self.conn
            .prepare_cached(&pending_counts_sql())
            .and_then(|mut s| {
                s.query_map(params![team], |r| {
                    Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))
                })?
                .collect()
            })
            .map_err(|e| self.err(e))
    }

    /// How many messages each recipient has not finished yet (pending, or submitted and not
    /// acknowledged by a result): the work it has.
    pub fn open_work(
        &self,
        team: &str,
    ) -> Result<std::collections::HashMap<String, u64>, StoreError> {
        self.conn
            .prepare_cached(&open_work_sql())
            .and_then(|mut s| {
                s.query_map(params![team], |r| {
                    Ok((r.get(0)?, r.get::<_, i64>(1)? as u64))
                })?
                .collect()
            })
            .map_err(|e| self.err(e))
    }

    /// The tasks an agent has been given and not reported on: each task's first delivered
    /// message's time (RFC 3339), oldest task first.
    pub fn open_tasks(&self, team: &str, agent: &str) -> Result<Vec<(String, String)>, StoreError> {
        self.conn
            .prepare_cached(&format!(
                "SELECT task_id, MIN(submitted_at) FROM messages
                 WHERE team = ?1 AND recipient = ?2 AND {OPEN_ROWS} AND status IN ('submitted', 'consumed')
                   AND task_id IS NOT NULL AND submitted_at IS NOT NULL
                 GROUP BY task_id ORDER BY MIN(submitted_at)"
            ))
            .and_then(|mut s| {
                s.query_map(params![team, agent], |r| Ok((r.get(0)?, r.get(1)?)))?
                    .collect()
            })
            .map_err(|e| self.err(e))
    }

    /// The messages an agent sent or received, oldest first, from `since` (RFC 3339) on.
    pub fn inbox(
        &self,
        team: &str,
        agent: &str,
        since: Option<&str>,
        limit: usize,
    ) -> Result<Vec<Message>, StoreError> {
        let mut rows: Vec<Message> = self
            .conn
            .prepare_cached(&format!(
                "SELECT {COLUMNS} FROM messages WHERE team = ?1 AND (recipient = ?2 OR sender = ?2) AND created_at >= ?3
                 ORDER BY seq DESC LIMIT ?4"
            ))
            .and_then(|mut s| s.query_map(params![team, agent, since.unwrap_or(""), limit as i64], from_row)?.collect())
            .map_err(|e| self.err(e))?;
        rows.reverse();
        Ok(rows)
    }
}
