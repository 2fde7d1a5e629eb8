use team_agent_plugin_api::{ProviderPlugin, TurnState};

use super::{fixture, gemini};

#[test]
fn the_last_ended_turn_is_the_newest_reply_without_a_tool_call() {
    let summary = gemini()
        .turn_summary(&fixture("gemini-tail-reply.transcript.jsonl"))
        .unwrap();
    assert_eq!(summary.state, TurnState::Idle);
    let ended = summary.last_ended.unwrap();
    assert_eq!(ended.id, "9495ddcb-f6aa-413f-91a1-5d3ed2e0ec31");
    assert_eq!(
        ended.assistant_text.as_deref(),
        Some("Hello from the fake model.")
    );
}

#[test]
fn a_reply_written_again_with_its_tool_call_did_not_end_its_turn() {
    let summary = gemini()
        .turn_summary(&fixture("gemini-tail-tool-call.transcript.jsonl"))
        .unwrap();
    assert_eq!(summary.state, TurnState::Working);
    let ended = summary.last_ended.unwrap();
    assert_eq!(
        ended.assistant_text.as_deref(),
        Some("Hello from the fake model.")
    );
}

#[test]
fn an_empty_or_unreadable_tail_is_unknown() {
    assert_eq!(gemini().turn_state("").value, TurnState::Unknown);
    assert_eq!(gemini().turn_state("not json\n{").value, TurnState::Unknown);
}
