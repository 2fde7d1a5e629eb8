use team_agent_plugin_api::{ProviderPlugin, TurnState};

use super::{fixture, gemini};

#[test]
fn a_reply_alone_ends_no_turn_since_its_tool_calls_may_still_run() {
    // The last reply of a turn, in the same shape as the first write of one that calls a tool.
    let tail = fixture("gemini-tail-reply.transcript.jsonl");
    let summary = gemini().turn_summary(&tail).unwrap();
    assert_eq!(summary.state, TurnState::Unknown);
    assert_eq!(summary.last_ended, None);
}

#[test]
fn a_reply_followed_by_the_next_prompt_ended_its_turn() {
    let tail = fixture("gemini-tail-tool-call.transcript.jsonl");
    let summary = gemini().turn_summary(&tail).unwrap();
    assert_eq!(summary.state, TurnState::Working);
    let ended = summary.last_ended.unwrap();
    assert_eq!(ended.id, "9495ddcb-f6aa-413f-91a1-5d3ed2e0ec31");
    assert_eq!(
        ended.assistant_text.as_deref(),
        Some("Hello from the fake model.")
    );
}

#[test]
fn a_reply_written_again_with_its_tool_calls_did_not_end_its_turn() {
    let tail = fixture("gemini-tail-tool-result.transcript.jsonl");
    let summary = gemini().turn_summary(&tail).unwrap();
    assert_eq!(summary.state, TurnState::Working);
    assert_eq!(
        summary.last_ended.unwrap().assistant_text.as_deref(),
        Some("Hello from the fake model."),
        "still the first turn, not the one whose tool ran"
    );
}

#[test]
fn an_empty_or_unreadable_tail_is_unknown() {
    assert_eq!(gemini().turn_state("").value, TurnState::Unknown);
    assert_eq!(gemini().turn_state("not json\n{").value, TurnState::Unknown);
}
