/*! What the server records, the egress trap, and changing the scenario while it runs. */

use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;
use team_agent_fake_model::{
    Delivery, FakeModel, Matched, Record, Replied, RequestKind, Rule, Scenario, Step, When,
};

use crate::support::{
    anthropic_text, claude_turn, codex_turn, curl, get, post, responses_text, through_proxy,
};

#[test]
fn a_connect_through_the_fake_model_is_refused_and_recorded_as_egress() {
    let model = FakeModel::start(Scenario::default()).unwrap();
    // curl sends `CONNECT example.com:443` to its proxy and, refused, never goes further.
    let output = through_proxy(&model, "https://example.com", "%{http_connect}");

    assert!(!output.status.success(), "the tunnel must fail");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "403");
    let egress = model.egress();
    assert_eq!(egress.len(), 1, "{egress:?}");
    assert_eq!(egress[0].method, "CONNECT");
    assert_eq!(egress[0].target, "example.com:443");
    assert!(model.requests().is_empty());
}

#[test]
fn a_proxied_request_for_an_absolute_url_is_refused_and_recorded_as_egress() {
    let model = FakeModel::start(Scenario::default()).unwrap();
    let output = through_proxy(&model, "http://example.com/x", "%{http_code}");

    assert_eq!(String::from_utf8_lossy(&output.stdout), "403");
    let egress = model.egress();
    assert_eq!(egress.len(), 1, "{egress:?}");
    assert_eq!(egress[0].method, "GET");
    assert_eq!(egress[0].target, "http://example.com/x");
    assert!(model.requests().is_empty());
}

#[test]
fn an_unknown_path_is_answered_404_naming_it_and_recorded() {
    let model = FakeModel::start(Scenario::default()).unwrap();
    let reply = get(&model, "/v1/models?limit=5");

    assert_eq!(reply.status, 404);
    let message = reply.json()["error"]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(message.contains("GET /v1/models?limit=5"), "{message}");
    let requests = model.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].kind, RequestKind::Unknown);
    assert_eq!(requests[0].api, None);
    assert_eq!(requests[0].replied, Replied::NotFound);
    assert!(model.main_requests().is_empty());
}

#[test]
fn a_request_is_recorded_with_its_headers_body_and_answer() {
    let model = FakeModel::start(Scenario::with_rules([Rule::new(
        When::user_contains("hello"),
        [Step::text("hi")],
    )
    .id("greet")]))
    .unwrap();
    let body = claude_turn("hello there");
    let output = curl()
        .args(["-X", "POST", "-H", "Authorization: Bearer fake-key"])
        .args(["-H", "content-type: application/json"])
        .args(["--data-binary", &body.to_string()])
        .arg(format!("{}/v1/messages?beta=true", model.url()))
        .output()
        .unwrap();
    assert!(output.status.success());
    // The journal notes the delivery just after the last byte left, so the client may be first.
    assert!(model.wait_for(
        |requests| requests[0].delivery == Delivery::Complete,
        Duration::from_secs(5)
    ));

    let recorded = &model.requests()[0];
    assert_eq!(recorded.seq, 1);
    assert_eq!(recorded.method, "POST");
    assert_eq!(recorded.path, "/v1/messages?beta=true");
    assert_eq!(recorded.header("Authorization"), Some("Bearer fake-key"));
    assert_eq!(recorded.body, body);
    assert_eq!(
        recorded.matched,
        Some(Matched::Rule {
            index: 0,
            id: Some("greet".to_owned())
        })
    );
    let printed = serde_json::to_value(recorded).unwrap();
    assert_eq!(printed["api"], "anthropic");
    assert_eq!(printed["kind"], "main");
    assert_eq!(
        printed["matched"],
        json!({"by": "rule", "index": 0, "id": "greet"})
    );
    assert_eq!(printed["replied"]["as"], "message");
    assert!(printed["at"].as_u64().unwrap() > 0);
}

#[test]
fn user_texts_carry_the_earlier_turns_of_the_conversation() {
    let model = FakeModel::start(Scenario::default()).unwrap();
    let mut claude = claude_turn("second question");
    claude["messages"] = json!([
        {"role": "user", "content": "first question"},
        {"role": "assistant", "content": [{"type": "text", "text": "first answer"}]},
        {"role": "user", "content": [{"type": "text", "text": "second question"}]},
        {"role": "system", "content": "a note Claude Code adds"}
    ]);
    post(&model, "/v1/messages", &claude);
    let mut codex = codex_turn("second");
    let items = codex["input"].as_array_mut().unwrap();
    items.insert(
        1,
        json!({"type": "message", "role": "user",
               "content": [{"type": "input_text", "text": "first"}]}),
    );
    items.insert(
        2,
        json!({"type": "message", "role": "assistant",
               "content": [{"type": "output_text", "text": "answer"}]}),
    );
    post(&model, "/v1/responses", &codex);

    let requests = model.main_requests();
    assert_eq!(
        requests[0].user_texts(),
        ["first question", "second question"]
    );
    assert_eq!(requests[0].newest_user_text(), "second question");
    assert_eq!(requests[1].user_texts(), ["first", "second"]);
    assert_eq!(requests[1].newest_user_text(), "second");
}

#[test]
fn a_rule_used_its_times_gives_way_to_the_next_and_then_the_default() {
    let model = FakeModel::start(Scenario::with_rules([
        Rule::new(When::Always, [Step::text("first")]).times(1),
        Rule::new(When::Always, [Step::text("second")]).times(1),
    ]))
    .unwrap();
    let texts: Vec<String> = (0..3)
        .map(|_| anthropic_text(&post(&model, "/v1/messages", &claude_turn("go")).events()))
        .collect();
    assert_eq!(texts, ["first", "second", "OK."]);
    assert_eq!(model.requests()[2].matched, Some(Matched::Default));
}

#[test]
fn set_scenario_replaces_the_rules_and_starts_their_counts_again() {
    let once = || Scenario::with_rules([Rule::new(When::Always, [Step::text("once")]).times(1)]);
    let model = FakeModel::start(once()).unwrap();
    let answer = || responses_text(&post(&model, "/v1/responses", &codex_turn("go")).events());
    assert_eq!(answer(), "once");
    assert_eq!(answer(), "OK.");

    model.set_scenario(once());
    assert_eq!(answer(), "once");
    model.set_scenario(Scenario::default().default_reply([Step::text("new default")]));
    assert_eq!(answer(), "new default");
}

#[test]
fn wait_for_wakes_when_a_request_lands_and_gives_up_at_its_timeout() {
    let model = FakeModel::start(Scenario::default()).unwrap();
    let started = Instant::now();
    assert!(!model.wait_for(|requests| !requests.is_empty(), Duration::from_millis(200)));
    assert!(started.elapsed() >= Duration::from_millis(200));

    thread::scope(|scope| {
        scope.spawn(|| {
            thread::sleep(Duration::from_millis(100));
            post(&model, "/v1/messages", &claude_turn("late"));
        });
        let waiting = Instant::now();
        assert!(model.wait_for(
            |requests| {
                requests
                    .iter()
                    .any(|r| r.newest_user_text() == "late" && r.delivery == Delivery::Complete)
            },
            Duration::from_secs(20),
        ));
        assert!(waiting.elapsed() < Duration::from_secs(10));
    });
}

#[test]
fn subscribers_get_each_request_once_answered_and_each_egress_attempt() {
    let model = FakeModel::start(Scenario::default()).unwrap();
    let records = model.subscribe();
    post(&model, "/v1/messages", &claude_turn("hello"));
    through_proxy(&model, "https://example.com", "%{http_connect}");

    let first = records.recv_timeout(Duration::from_secs(10)).unwrap();
    let Record::Request(request) = first else {
        panic!("{first:?}")
    };
    assert_eq!(request.delivery, Delivery::Complete);
    let second = records.recv_timeout(Duration::from_secs(10)).unwrap();
    assert!(matches!(second, Record::Egress(ref attempt) if attempt.method == "CONNECT"));
    assert_eq!(serde_json::to_value(&second).unwrap()["record"], "egress");
}

#[test]
fn a_compressed_body_is_refused_saying_which_encoding() {
    let model = FakeModel::start(Scenario::default()).unwrap();
    let output = curl()
        .args(["-X", "POST", "-H", "Content-Encoding: zstd"])
        .args(["--data-binary", "not really zstd"])
        .args(["-w", "\n%{http_code}"])
        .arg(format!("{}/v1/responses", model.url()))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(text.ends_with("\n415"), "{text}");
    assert!(text.contains("zstd"), "{text}");
    assert_eq!(model.requests()[0].kind, RequestKind::Main);
}
