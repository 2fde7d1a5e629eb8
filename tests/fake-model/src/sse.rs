/*!
Server-sent events on a tiny_http connection. tiny_http writes a streamed body through an 8 KiB
chunk buffer that it never flushes early, so a paced stream would arrive in one lump: here the
response head is printed by tiny_http itself and every event is flushed as its own chunk. A write
that fails means the client hung up, and the stream stops there.
*/

use std::io::{self, Write};
use std::time::Duration;

use chunked_transfer::Encoder;
use serde_json::Value;
use tiny_http::{Request, Response};

use crate::journal::Delivery;
use crate::server::Shutdown;

/// Text is streamed in deltas of this many characters, so a long text with a pace lasts long.
const DELTA_CHARS: usize = 16;

/// What a stream is made of, in order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SseItem {
    /// `event: NAME` and `data: JSON`.
    Event { name: &'static str, data: Value },
    /// `data: JSON` alone (the Gemini API's stream names no events).
    Data(Value),
    /// The delay before each event after this one.
    Pace(Duration),
}

/// Sends `head` (a 200 without a body) and then `items` as a chunked event stream.
pub(crate) fn stream(
    request: Request,
    head: Response<io::Empty>,
    items: &[SseItem],
    shutdown: &Shutdown,
) -> Delivery {
    let version = request.http_version().clone();
    let request_headers = request.headers().to_vec();
    let mut connection = request.into_writer();
    let sent = head
        .raw_print(&mut connection, version, &request_headers, true, None)
        .and_then(|()| write_events(&mut connection, items, shutdown));
    sent.unwrap_or(Delivery::ClientHungUp)
}

fn write_events(
    connection: &mut dyn Write,
    items: &[SseItem],
    shutdown: &Shutdown,
) -> io::Result<Delivery> {
    connection.flush()?;
    let mut body = Encoder::new(&mut *connection);
    let mut delay = Duration::ZERO;
    let mut delivery = Delivery::Complete;
    for item in items {
        match item {
            SseItem::Pace(pace) => delay = *pace,
            SseItem::Event { name, data } => {
                if shutdown.sleep(delay) {
                    delivery = Delivery::ServerStopped;
                    break;
                }
                write!(body, "event: {name}\ndata: {data}\n\n")?;
                body.flush()?;
                body.get_mut().flush()?;
            }
            SseItem::Data(data) => {
                if shutdown.sleep(delay) {
                    delivery = Delivery::ServerStopped;
                    break;
                }
                write!(body, "data: {data}\n\n")?;
                body.flush()?;
                body.get_mut().flush()?;
            }
        }
    }
    // Dropping the encoder writes the last (empty) chunk. A stopped stream ends there too: the
    // connection belongs to tiny_http, and a body left open would keep the client waiting.
    drop(body);
    connection.flush()?;
    Ok(delivery)
}

/// `text` in pieces of [`DELTA_CHARS`] characters; one empty piece for an empty text.
pub(crate) fn deltas(text: &str) -> Vec<&str> {
    let mut pieces = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let end = rest
            .char_indices()
            .nth(DELTA_CHARS)
            .map_or(rest.len(), |(at, _)| at);
        let (piece, tail) = rest.split_at(end);
        pieces.push(piece);
        rest = tail;
    }
    if pieces.is_empty() {
        pieces.push("");
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_split_on_character_boundaries_and_join_back() {
        let text = "é".repeat(20) + "tail";
        let pieces = deltas(&text);
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0].chars().count(), DELTA_CHARS);
        assert_eq!(pieces.concat(), text);
        assert_eq!(deltas(""), [""]);
    }
}
