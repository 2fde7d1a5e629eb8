use team_agent_plugin_api::{ProviderPlugin, TurnState};

use super::{claude, fixture};

fn turn(tail: &str) -> (TurnState, String) {
    let verdict = claude().turn_state(tail);
    (verdict.value, verdict.rule.unwrap_or_default())
}

#[test]
fn the_real_failed_session_is_an_error_named_by_its_rule() {
    let (state, rule) = turn(&fixture("claude-nokey-session.transcript.jsonl"));
    assert_eq!(state, TurnState::Error);
    assert_eq!(rule, "api_error_message");
}

#[test]
fn the_last_deciding_record_wins_over_metadata_after_it() {
    let done = fixture("claude-tail-end-turn.transcript.jsonl");
    assert_eq!(turn(&done), (TurnState::Idle, "end_turn".into()));
    let cost = "{\"type\":\"cost-state\",\"sessionId\":\"x\",\"totalCostUSD\":0}\n";
    assert_eq!(turn(&format!("{done}{cost}")).0, TurnState::Idle);
}

#[test]
fn a_new_prompt_after_a_finished_turn_opens_the_next_one() {
    let done = fixture("claude-tail-end-turn.transcript.jsonl");
    let prompt = done.lines().next().unwrap();
    assert_eq!(
        turn(&format!("{done}{prompt}\n")),
        (TurnState::Working, "prompt".into())
    );
}

#[test]
fn a_local_command_is_skipped_not_taken_for_a_prompt() {
    assert_eq!(
        turn(&fixture(
            "claude-tail-local-command-after-turn.transcript.jsonl"
        ))
        .0,
        TurnState::Idle
    );
}

#[test]
fn an_empty_or_unreadable_tail_is_unknown() {
    assert_eq!(turn(""), (TurnState::Unknown, "no_turn_record".into()));
    assert_eq!(turn("{\"type\":\"assistant\"").0, TurnState::Unknown);
}
