use team_agent_plugin_api::{ProviderPlugin, TurnState};

use super::{codex, fixture};

fn state(tail: &str) -> TurnState {
    codex().turn_state(tail).value
}

#[test]
fn the_last_known_record_decides_and_later_telemetry_does_not() {
    let tail = concat!(
        r#"{"type": "event_msg", "payload": {"type": "task_started", "turn_id": "t"}}"#,
        "\n",
        r#"{"type": "event_msg", "payload": {"type": "turn_aborted", "turn_id": "t", "reason": "interrupted"}}"#,
        "\n",
        r#"{"type": "response_item", "payload": {"type": "configuration_update"}}"#,
        "\n"
    );
    let verdict = codex().turn_state(tail);
    assert_eq!(verdict.value, TurnState::Interrupted);
    assert_eq!(verdict.rule.as_deref(), Some("turn_aborted"));
}

#[test]
fn an_error_event_is_an_error() {
    let tail = concat!(
        r#"{"type": "event_msg", "payload": {"type": "task_started", "turn_id": "t"}}"#,
        "\n",
        r#"{"type": "event_msg", "payload": {"type": "error", "message": "stream disconnected"}}"#,
        "\n"
    );
    assert_eq!(state(tail), TurnState::Error);
}

#[test]
fn a_fragment_at_the_start_of_the_tail_is_skipped() {
    let whole = fixture("codex-rollout-interrupted.transcript.jsonl");
    for cut in [1, 100, 5_000, whole.len() - 400] {
        let mut at = cut;
        while !whole.is_char_boundary(at) {
            at += 1;
        }
        assert_eq!(state(&whole[at..]), TurnState::Interrupted, "cut at {cut}");
    }
}

#[test]
fn nothing_known_is_unknown_never_idle() {
    assert_eq!(state(""), TurnState::Unknown);
    assert_eq!(state("{\"type\": \"session_meta\"}\n"), TurnState::Unknown);
}

#[test]
fn the_last_ended_turn_is_its_task_complete_with_the_last_agent_message() {
    let tail = fixture("codex-rollout-text-turn.transcript.jsonl");
    let summary = codex().turn_summary(&tail).unwrap();
    assert_eq!(summary.state, TurnState::Idle);
    let ended = summary.last_ended.expect("the turn ended");
    assert_eq!(ended.id, "01a23d2d-11b1-7c11-b9eb-9e8b33d52b2a");
    assert_eq!(ended.ended_at, "2026-12-03T18:31:33.733Z");
    assert_eq!(
        ended.assistant_text.as_deref(),
        Some("Hello from the fake model! This is a scripted reply.")
    );
}

#[test]
fn a_turn_that_ended_on_an_error_is_an_error_and_not_an_ended_turn() {
    let tail = fixture("codex-rollout-turn-failed-429.transcript.jsonl");
    let summary = codex().turn_summary(&tail).unwrap();
    assert_eq!(summary.state, TurnState::Error);
    assert_eq!(summary.last_ended, None);
}
