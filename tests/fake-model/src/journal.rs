/*!
The journal: every request the server received, as a test reads it afterwards, and every attempt
to reach the outside through it. Requests are recorded when the answer is chosen and completed
when it has been sent; waiting on the journal uses a condvar, so a test wakes the moment a
request (or its completion) lands.
*/

use std::collections::BTreeMap;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Serialize, Serializer};
use serde_json::Value;

use crate::conversation::Conversation;
use crate::scenario::{Api, ApiError};

/// One request as the server saw and answered it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RecordedRequest {
    /// Order of arrival among everything recorded (requests and egress), from 1.
    pub seq: u64,
    #[serde(serialize_with = "unix_ms")]
    pub at: SystemTime,
    /// `None` for a path that is no model API.
    pub api: Option<Api>,
    pub kind: RequestKind,
    pub method: String,
    /// The request target as sent, query included.
    pub path: String,
    /// Header names in lower case; repeated headers joined by `, `.
    pub headers: BTreeMap<String, String>,
    /// The JSON body; `null` when empty, a JSON string when the body is not JSON.
    pub body: Value,
    /// Which part of the scenario answered a model request.
    pub matched: Option<Matched>,
    pub replied: Replied,
    pub delivery: Delivery,
}

/// What a request was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestKind {
    /// An agent turn (any model request that is not a side request), answered by the rules.
    Main,
    /// A request for an answer in a JSON schema, without tools (a session title): never
    /// consumes rules.
    Side,
    /// `POST /v1/messages/count_tokens`.
    TokenCount,
    /// Any other path, answered 404.
    Unknown,
}

/// The part of the scenario that chose a model answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "by", rename_all = "snake_case")]
pub enum Matched {
    /// The rule at this position of `rules`.
    Rule { index: usize, id: Option<String> },
    /// No rule matched: the scenario's `default` reply.
    Default,
    /// A side request, answered with the `side_text`.
    Side,
}

/// What the server answered.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "as", rename_all = "snake_case")]
pub enum Replied {
    /// A model message (streamed or not) with these content blocks.
    Message {
        blocks: Vec<Block>,
    },
    /// An HTTP error in the API's error shape.
    Error {
        error: ApiError,
    },
    TokenCount {
        input_tokens: u64,
    },
    NotFound,
}

/// One content block (Anthropic) or output item (Responses) of a reply, as sent.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Block {
    Text {
        text: String,
    },
    ToolCall {
        /// Anthropic's `tool_use.id`, Responses' `call_id`.
        id: String,
        name: String,
        /// Responses only: the namespace of an MCP tool.
        #[serde(skip_serializing_if = "Option::is_none")]
        namespace: Option<String>,
        input: Value,
    },
}

/// Whether the answer reached the client. It is noted just after the last byte is sent, so a
/// client may hold the whole answer a moment before its request says `Complete`: wait for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Delivery {
    /// Still being sent (a stream in progress).
    Sending,
    Complete,
    /// The client closed the connection before the answer was complete.
    ClientHungUp,
    /// The server was stopped while the answer was being sent.
    ServerStopped,
}

/// A request that tried to reach beyond the fake model: a `CONNECT`, or a proxied request for an
/// absolute URL. Refused with 403.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EgressAttempt {
    pub seq: u64,
    #[serde(serialize_with = "unix_ms")]
    pub at: SystemTime,
    pub method: String,
    /// `host:port` of a `CONNECT`, the URL of a proxied request.
    pub target: String,
}

/// A request or an egress attempt, as handed to subscribers once it is complete.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "record", rename_all = "snake_case")]
pub enum Record {
    Request(Box<RecordedRequest>),
    Egress(EgressAttempt),
}

impl RecordedRequest {
    /// The text of every user message the request carries, oldest first: the request of a later
    /// turn carries the earlier turns. Empty for requests that are no model request.
    pub fn user_texts(&self) -> Vec<String> {
        self.conversation()
            .map(|conversation| conversation.user_texts)
            .unwrap_or_default()
    }

    /// The text of the newest user message, `""` if there is none.
    pub fn newest_user_text(&self) -> String {
        self.user_texts().pop().unwrap_or_default()
    }

    /// The id of the rule that answered, if a rule with an id did.
    pub fn rule_id(&self) -> Option<&str> {
        match &self.matched {
            Some(Matched::Rule { id, .. }) => id.as_deref(),
            _ => None,
        }
    }

    /// A header's value, by name in any case.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    fn conversation(&self) -> Option<Conversation> {
        match self.kind {
            RequestKind::Main | RequestKind::Side => {
                Some(Conversation::read(self.api?, &self.body))
            }
            RequestKind::TokenCount | RequestKind::Unknown => None,
        }
    }
}

/// The shared record of a running server.
#[derive(Default)]
pub(crate) struct Journal {
    state: Mutex<Entries>,
    changed: Condvar,
}

#[derive(Default)]
struct Entries {
    last_seq: u64,
    requests: Vec<RecordedRequest>,
    egress: Vec<EgressAttempt>,
    subscribers: Vec<Sender<Record>>,
}

impl Journal {
    /// Records a request whose answer is about to be sent (delivery `Sending`); its `seq` is
    /// assigned here.
    pub(crate) fn record(&self, mut request: RecordedRequest) -> u64 {
        let mut entries = self.entries();
        entries.last_seq += 1;
        request.seq = entries.last_seq;
        entries.requests.push(request);
        self.changed.notify_all();
        entries.last_seq
    }

    /// Notes how the answer to request `seq` ended, and hands the request to subscribers.
    pub(crate) fn complete(&self, seq: u64, delivery: Delivery) {
        let mut entries = self.entries();
        let Some(request) = entries.requests.iter_mut().find(|r| r.seq == seq) else {
            return;
        };
        request.delivery = delivery;
        let record = Record::Request(Box::new(request.clone()));
        entries.publish(record);
        self.changed.notify_all();
    }

    pub(crate) fn record_egress(&self, method: String, target: String) {
        let mut entries = self.entries();
        entries.last_seq += 1;
        let attempt = EgressAttempt {
            seq: entries.last_seq,
            at: SystemTime::now(),
            method,
            target,
        };
        entries.egress.push(attempt.clone());
        entries.publish(Record::Egress(attempt));
        self.changed.notify_all();
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        self.entries().requests.clone()
    }

    pub(crate) fn egress(&self) -> Vec<EgressAttempt> {
        self.entries().egress.clone()
    }

    pub(crate) fn subscribe(&self) -> Receiver<Record> {
        let (sender, receiver) = mpsc::channel();
        self.entries().subscribers.push(sender);
        receiver
    }

    /// Blocks until `done` holds for the recorded requests or `timeout` passes.
    pub(crate) fn wait_for(
        &self,
        mut done: impl FnMut(&[RecordedRequest]) -> bool,
        timeout: Duration,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        let mut entries = self.entries();
        loop {
            if done(&entries.requests) {
                return true;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            entries = self
                .changed
                .wait_timeout(entries, left)
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .0;
        }
    }

    fn entries(&self) -> MutexGuard<'_, Entries> {
        // A panicking test thread must not take every later assertion down with it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Entries {
    fn publish(&mut self, record: Record) {
        self.subscribers
            .retain(|subscriber| subscriber.send(record.clone()).is_ok());
    }
}

fn unix_ms<S: Serializer>(at: &SystemTime, serializer: S) -> Result<S::Ok, S::Error> {
    let ms = at
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    serializer.serialize_u64(u64::try_from(ms).unwrap_or(u64::MAX))
}
