/*!
The HTTP side. tiny_http accepts connections and parses requests; each request gets its own
thread, which refuses egress, reads the body, routes it (the two model APIs, token counting,
anything else a 404), records it in the journal and sends the answer. Stopping wakes every paced
stream and joins every thread.
*/

use std::collections::BTreeMap;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tiny_http::{Header, Method, Request, Response, Server, StatusCode};

use crate::conversation::Conversation;
use crate::journal::{Delivery, Journal, Matched, RecordedRequest, Replied, RequestKind};
use crate::playbook::{Choice, Playbook};
use crate::reply::{self, Answer, Envelope};
use crate::scenario::{Api, ApiError};
use crate::{anthropic, gemini, responses, sse};

/// What the request threads share with the [`FakeModel`](crate::FakeModel).
pub(crate) struct Shared {
    pub(crate) journal: Journal,
    pub(crate) playbook: Mutex<Playbook>,
    pub(crate) shutdown: Shutdown,
    answers: AtomicU64,
}

/// The stop signal, which also cuts short the pauses of paced streams.
#[derive(Default)]
pub(crate) struct Shutdown {
    stopping: Mutex<bool>,
    signal: Condvar,
}

/// Where a request goes.
enum Endpoint {
    Model(Api),
    CountTokens(Api),
    Unknown,
}

/// A request as it arrived, before it is answered.
struct Arrival {
    at: SystemTime,
    method: String,
    path: String,
    headers: BTreeMap<String, String>,
    raw_len: usize,
    body: Value,
    /// Why a model endpoint cannot use the body.
    unreadable: Option<ApiError>,
}

impl Shared {
    pub(crate) fn new(playbook: Playbook) -> Shared {
        Shared {
            journal: Journal::default(),
            playbook: Mutex::new(playbook),
            shutdown: Shutdown::default(),
            answers: AtomicU64::new(0),
        }
    }

    pub(crate) fn playbook(&self) -> MutexGuard<'_, Playbook> {
        self.playbook
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Shutdown {
    pub(crate) fn begin(&self) {
        *self.stopping() = true;
        self.signal.notify_all();
    }

    /// Waits `delay` unless the server stops first; true if it is stopping.
    pub(crate) fn sleep(&self, delay: Duration) -> bool {
        let stopping = self.stopping();
        let (stopping, _) = self
            .signal
            .wait_timeout_while(stopping, delay, |stopping| !*stopping)
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *stopping
    }

    fn stopping(&self) -> MutexGuard<'_, bool> {
        self.stopping
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Answers requests until the server is unblocked, then joins the request threads.
pub(crate) fn serve(server: Arc<Server>, shared: Arc<Shared>) {
    let mut handlers: Vec<JoinHandle<()>> = Vec::new();
    while let Ok(request) = server.recv() {
        handlers.retain(|handler| !handler.is_finished());
        let shared = Arc::clone(&shared);
        let spawned = thread::Builder::new()
            .name("fake-model-request".to_owned())
            .spawn(move || answer(request, &shared));
        // A request whose thread could not start is dropped, and tiny_http answers it 500.
        if let Ok(handler) = spawned {
            handlers.push(handler);
        }
    }
    for handler in handlers {
        let _ = handler.join();
    }
}

fn answer(mut request: Request, shared: &Shared) {
    if is_egress(request.method(), request.url()) {
        return refuse_egress(request, shared);
    }
    let endpoint = route(request.method(), request.url());
    let mut arrival = Arrival::read(&mut request);
    match endpoint {
        Endpoint::Model(api) => match arrival.unreadable.take() {
            None => answer_model(request, api, arrival, shared),
            Some(error) => {
                let replied = Replied::Error {
                    error: error.clone(),
                };
                let record = arrival.recorded(Some(api), RequestKind::Main, None, replied);
                send_recorded(request, record, error_response(api, &error, None), shared);
            }
        },
        Endpoint::CountTokens(api) => {
            let input_tokens = reply::estimate_tokens(arrival.raw_len);
            let replied = Replied::TokenCount { input_tokens };
            let record = arrival.recorded(Some(api), RequestKind::TokenCount, None, replied);
            let count = match api {
                Api::Gemini => gemini::token_count(input_tokens),
                _ => json!({"input_tokens": input_tokens}),
            };
            let count = json_response(200, &count);
            send_recorded(request, record, count, shared);
        }
        Endpoint::Unknown => {
            let message = format!(
                "fake-model has no endpoint {} {}",
                arrival.method, arrival.path
            );
            let record = arrival.recorded(None, RequestKind::Unknown, None, Replied::NotFound);
            let missing = json!({"error": {"type": "not_found_error", "message": message}});
            send_recorded(request, record, json_response(404, &missing), shared);
        }
    }
}

fn refuse_egress(request: Request, shared: &Shared) {
    let method = request.method().to_string();
    let target = request.url().to_owned();
    let message = format!(
        "fake-model refuses to reach the outside ({method} {target}): tests stay on this machine"
    );
    shared.journal.record_egress(method, target);
    let refusal = json!({"error": {"type": "permission_error", "message": message}});
    let _ = request.respond(json_response(403, &refusal));
}

fn send_recorded(
    request: Request,
    record: RecordedRequest,
    response: Response<io::Cursor<Vec<u8>>>,
    shared: &Shared,
) {
    let seq = shared.journal.record(record);
    shared.journal.complete(seq, respond(request, response));
}

/// A `CONNECT`, or a request for an absolute URL: a client that was told to use this server as
/// its proxy and tried to go out through it.
fn is_egress(method: &Method, target: &str) -> bool {
    let lowercase = target.to_ascii_lowercase();
    *method == Method::Connect
        || lowercase.starts_with("http://")
        || lowercase.starts_with("https://")
}

fn route(method: &Method, target: &str) -> Endpoint {
    let path = target.split('?').next().unwrap_or_default();
    match (method, path) {
        (Method::Post, "/v1/messages") => Endpoint::Model(Api::Anthropic),
        (Method::Post, "/v1/messages/count_tokens") => Endpoint::CountTokens(Api::Anthropic),
        (Method::Post, "/v1/responses") => Endpoint::Model(Api::Responses),
        (Method::Post, path) => match gemini::method(path) {
            Some(gemini::Method::CountTokens) => Endpoint::CountTokens(Api::Gemini),
            Some(_) => Endpoint::Model(Api::Gemini),
            None => Endpoint::Unknown,
        },
        _ => Endpoint::Unknown,
    }
}

/// Chooses, records and sends the answer to one model request.
fn answer_model(request: Request, api: Api, arrival: Arrival, shared: &Shared) {
    let conversation = Conversation::read(api, &arrival.body);
    let choice = shared.playbook().choose(api, &conversation);
    let envelope = Envelope {
        id: format!("fake{}", shared.answers.fetch_add(1, Ordering::Relaxed) + 1),
        model: match api {
            Api::Gemini => gemini::model_of(&arrival.path),
            _ => arrival.body["model"].as_str().unwrap_or("fake-model"),
        }
        .to_owned(),
        input_tokens: reply::estimate_tokens(arrival.raw_len),
    };
    let answer = reply::compose(api, &choice, &conversation, &envelope.id);
    let kind = match choice {
        Choice::Side { .. } => RequestKind::Side,
        Choice::Reply { .. } => RequestKind::Main,
    };
    let blocks = answer.blocks();
    let replied = match &answer {
        Answer::Message(_) => Replied::Message {
            blocks: blocks.clone(),
        },
        Answer::Error(error) => Replied::Error {
            error: error.clone(),
        },
    };
    // Gemini asks for a stream by its method, the others by a field of the body.
    let streamed = match api {
        Api::Gemini => {
            gemini::method(arrival.path.split('?').next().unwrap_or_default())
                == Some(gemini::Method::Stream)
        }
        _ => arrival.body["stream"] == true,
    };
    let seq =
        shared
            .journal
            .record(arrival.recorded(Some(api), kind, Some(choice.matched()), replied));
    let request_id = request_id_header(&envelope);
    let delivery = match answer {
        Answer::Error(error) => respond(request, error_response(api, &error, Some(request_id))),
        Answer::Message(parts) if streamed => {
            let events = match api {
                Api::Anthropic => anthropic::events(&parts, &envelope),
                Api::Responses => responses::events(&parts, &envelope),
                Api::Gemini => gemini::events(&parts, &envelope),
            };
            // No length, so tiny_http declares a chunked body.
            let head = Response::new(
                StatusCode(200),
                vec![
                    header("Content-Type", "text/event-stream; charset=utf-8"),
                    header("Cache-Control", "no-cache"),
                    request_id,
                ],
                io::empty(),
                None,
                None,
            );
            sse::stream(request, head, &events, &shared.shutdown)
        }
        Answer::Message(_) => {
            let whole = match api {
                Api::Anthropic => anthropic::message(&blocks, &envelope),
                Api::Responses => responses::completed(&blocks, &envelope),
                Api::Gemini => gemini::response(&blocks, &envelope),
            };
            respond(request, json_response(200, &whole).with_header(request_id))
        }
    };
    shared.journal.complete(seq, delivery);
}

impl Arrival {
    /// Reads the request's head and body. A body that cannot be read as sent (compressed, cut
    /// short, not a JSON object) still arrives, with the error a model endpoint answers.
    fn read(request: &mut Request) -> Arrival {
        let at = SystemTime::now();
        let mut headers = BTreeMap::new();
        for Header { field, value } in request.headers() {
            let name = field.as_str().as_str().to_ascii_lowercase();
            headers
                .entry(name)
                .and_modify(|joined: &mut String| {
                    joined.push_str(", ");
                    joined.push_str(value.as_str());
                })
                .or_insert_with(|| value.as_str().to_owned());
        }
        let mut raw = Vec::new();
        let read = request.as_reader().read_to_end(&mut raw);
        let body = match serde_json::from_slice(&raw) {
            _ if raw.is_empty() => Value::Null,
            Ok(json) => json,
            Err(_) => Value::String(String::from_utf8_lossy(&raw).into_owned()),
        };
        let encoding = headers
            .get("content-encoding")
            .filter(|encoding| !encoding.eq_ignore_ascii_case("identity"));
        let unreadable = match (read, encoding) {
            (Err(error), _) => Some((
                400,
                format!("fake-model could not read the request body: {error}"),
            )),
            // Decoding compressed bodies would need a decoder per encoding; a loud refusal
            // says which one a CLI started sending.
            (Ok(_), Some(encoding)) => Some((
                415,
                format!("fake-model cannot read request bodies in {encoding} encoding"),
            )),
            (Ok(_), None) if !body.is_object() => Some((
                400,
                "fake-model expects a JSON object as the request body".to_owned(),
            )),
            (Ok(_), None) => None,
        };
        Arrival {
            at,
            method: request.method().to_string(),
            path: request.url().to_owned(),
            unreadable: unreadable
                .map(|(status, message)| ApiError::new(status, "invalid_request_error", message)),
            headers,
            raw_len: raw.len(),
            body,
        }
    }

    fn recorded(
        self,
        api: Option<Api>,
        kind: RequestKind,
        matched: Option<Matched>,
        replied: Replied,
    ) -> RecordedRequest {
        RecordedRequest {
            seq: 0,
            at: self.at,
            api,
            kind,
            method: self.method,
            path: self.path,
            headers: self.headers,
            body: self.body,
            matched,
            replied,
            delivery: Delivery::Sending,
        }
    }
}

fn error_response(
    api: Api,
    error: &ApiError,
    request_id: Option<Header>,
) -> Response<io::Cursor<Vec<u8>>> {
    let body = match api {
        Api::Anthropic => anthropic::error_body(error),
        Api::Responses => responses::error_body(error),
        Api::Gemini => gemini::error_body(error),
    };
    let mut response = json_response(error.status, &body);
    if let Some(seconds) = error.retry_after() {
        response.add_header(header("retry-after", &seconds.to_string()));
    }
    if let Some(request_id) = request_id {
        response.add_header(request_id);
    }
    response
}

fn json_response(status: u16, body: &Value) -> Response<io::Cursor<Vec<u8>>> {
    Response::from_data(body.to_string())
        .with_status_code(status)
        .with_header(header("Content-Type", "application/json"))
}

/// Both SDKs report this id in their errors.
fn request_id_header(envelope: &Envelope) -> Header {
    header("request-id", &format!("req_{}", envelope.id))
}

fn respond(request: Request, response: Response<io::Cursor<Vec<u8>>>) -> Delivery {
    match request.respond(response) {
        Ok(()) => Delivery::Complete,
        Err(_) => Delivery::ClientHungUp,
    }
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes())
        .expect("header names and values made here are ASCII")
}
