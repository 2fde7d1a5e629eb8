/*! Paced streams: they really stream, stop for a client that hangs up, and run side by side. */

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use team_agent_fake_model::{Delivery, FakeModel, Record, Rule, Scenario, Step, When};

use crate::support::{anthropic_text, claude_turn, curl, post};

/// A scenario whose every turn is `deltas` text deltas of 16 characters, `delay_ms` apart.
fn slow_scenario(delay_ms: u64, deltas: usize) -> (Scenario, String) {
    let text = "sixteen chars.. ".repeat(deltas);
    let scenario = Scenario::with_rules([Rule::new(
        When::Always,
        [Step::slow(delay_ms), Step::text(&text)],
    )]);
    (scenario, text)
}

#[test]
fn a_slow_reply_sends_its_events_apart_for_the_whole_duration() {
    // After the pace: block start, 10 deltas, block stop, message_delta, message_stop.
    let (scenario, text) = slow_scenario(60, 10);
    let model = FakeModel::start(scenario).unwrap();
    let started = Instant::now();
    let mut client = curl()
        .args([
            "-N",
            "-X",
            "POST",
            "--data-binary",
            &claude_turn("go").to_string(),
        ])
        .arg(format!("{}/v1/messages", model.url()))
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first_delta = None;
    let mut body = String::new();
    for line in BufReader::new(client.stdout.take().unwrap()).lines() {
        let line = line.unwrap();
        if line == "event: content_block_delta" && first_delta.is_none() {
            first_delta = Some(Instant::now());
        }
        body.push_str(&line);
        body.push('\n');
    }
    let ended = Instant::now();
    assert!(client.wait().unwrap().success());

    assert_eq!(anthropic_text(&crate::support::sse_events(&body)), text);
    assert!(
        ended - started >= Duration::from_millis(14 * 60),
        "{:?}",
        ended - started
    );
    let first_delta = first_delta.expect("a text delta");
    assert!(
        ended - first_delta >= Duration::from_millis(10 * 60),
        "the events arrived together, not one by one: {:?} from the first delta to the end",
        ended - first_delta
    );
}

#[test]
fn a_client_that_hangs_up_stops_the_stream() {
    // 100 deltas 100 ms apart: ten seconds if nobody noticed the hang-up.
    let (scenario, _) = slow_scenario(100, 100);
    let model = FakeModel::start(scenario).unwrap();
    let body = claude_turn("go").to_string();
    let mut connection = TcpStream::connect(model.addr()).unwrap();
    write!(
        connection,
        "POST /v1/messages HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut received = Vec::new();
    let mut buffer = [0; 4096];
    while !String::from_utf8_lossy(&received).contains("content_block_delta") {
        let read = connection.read(&mut buffer).unwrap();
        assert!(read > 0, "the stream ended early");
        received.extend_from_slice(&buffer[..read]);
    }
    drop(connection);
    let hung_up = Instant::now();

    assert!(model.wait_for(
        |requests| requests[0].delivery == Delivery::ClientHungUp,
        Duration::from_secs(5),
    ));
    assert!(
        hung_up.elapsed() < Duration::from_secs(3),
        "{:?}",
        hung_up.elapsed()
    );
}

#[test]
fn several_clients_stream_at_the_same_time() {
    // Each stream lasts 24 x 50 ms = 1.2 s; one after the other would take 2.4 s.
    let (scenario, text) = slow_scenario(50, 20);
    let model = FakeModel::start(scenario).unwrap();
    let started = Instant::now();
    thread::scope(|scope| {
        let clients: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| post(&model, "/v1/messages", &claude_turn("go"))))
            .collect();
        for client in clients {
            assert_eq!(anthropic_text(&client.join().unwrap().events()), text);
        }
    });
    assert!(
        started.elapsed() < Duration::from_millis(2200),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn stopping_the_server_cuts_a_paced_stream_short_and_joins_its_thread() {
    let (scenario, _) = slow_scenario(200, 100);
    let model = FakeModel::start(scenario).unwrap();
    let records = model.subscribe();
    let client = thread::spawn({
        let url = format!("{}/v1/messages", model.url());
        move || {
            curl()
                .args([
                    "-N",
                    "-X",
                    "POST",
                    "--data-binary",
                    &claude_turn("go").to_string(),
                ])
                .arg(url)
                .output()
                .unwrap()
        }
    });
    assert!(model.wait_for(|requests| !requests.is_empty(), Duration::from_secs(10)));

    let stopping = Instant::now();
    model.stop();
    assert!(
        stopping.elapsed() < Duration::from_secs(2),
        "{:?}",
        stopping.elapsed()
    );
    let output = client.join().unwrap();
    assert!(!String::from_utf8_lossy(&output.stdout).contains("message_stop"));
    let Ok(Record::Request(request)) = records.recv_timeout(Duration::from_secs(1)) else {
        panic!("no record of the stopped stream")
    };
    assert_eq!(request.delivery, Delivery::ServerStopped);
}
