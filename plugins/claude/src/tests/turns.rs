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

#[test]
fn the_last_ended_turn_is_its_turn_duration_with_the_models_last_text() {
    let tail = fixture("claude-tail-mcp-report-turn.transcript.jsonl");
    let summary = claude().turn_summary(&tail).unwrap();
    assert_eq!(summary.state, TurnState::Idle);
    let ended = summary.last_ended.expect("the turn ended");
    assert_eq!(ended.id, "31fb8fb5-1c69-4a5e-a826-216664326963");
    assert!(ended.ended_at.starts_with("2026-"), "{}", ended.ended_at);
    let text = ended.assistant_text.unwrap();
    assert!(
        text.starts_with("The report_result tool returned"),
        "{text}"
    );
    // A new prompt after it opens a turn that has not ended: the ended one is still the last.
    let prompt = tail.lines().find(|l| l.contains("\"promptId\"")).unwrap();
    let summary = claude().turn_summary(&format!("{tail}{prompt}\n")).unwrap();
    assert_eq!(summary.state, TurnState::Working);
    assert_eq!(summary.last_ended.unwrap().id, ended.id);
}

#[test]
fn a_turn_that_ended_on_an_api_error_has_not_ended_normally() {
    for name in [
        "claude-nokey-session.transcript.jsonl",
        "claude-key-apierror-tail.transcript.jsonl",
    ] {
        let summary = claude().turn_summary(&fixture(name)).unwrap();
        assert_eq!(summary.state, TurnState::Error, "{name}");
        assert_eq!(summary.last_ended, None, "{name}");
    }
}
