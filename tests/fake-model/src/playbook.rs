/*!
The playbook: the scenario in force and how often each rule has been used. It picks the steps
that answer one model request; side requests never consume rules.
*/

use crate::conversation::{Conversation, Newest};
use crate::journal::Matched;
use crate::scenario::{Api, Rule, Scenario, Step, When};

pub(crate) struct Playbook {
    scenario: Scenario,
    uses: Vec<u32>,
}

/// What answers one request.
#[derive(Debug, PartialEq)]
pub(crate) enum Choice {
    /// The steps of a rule or of the default reply.
    Reply { matched: Matched, steps: Vec<Step> },
    /// A side request's answer: this text, or a schema instance made of it.
    Side { text: String },
}

impl Playbook {
    pub(crate) fn new(scenario: Scenario) -> Playbook {
        Playbook {
            uses: vec![0; scenario.rules.len()],
            scenario,
        }
    }

    /// The side text for a side request; otherwise the first rule that matches (counting the
    /// use), or the default reply.
    pub(crate) fn choose(&mut self, api: Api, conversation: &Conversation) -> Choice {
        if conversation.is_side() {
            return Choice::Side {
                text: self.scenario.side_text.clone(),
            };
        }
        let found = self
            .scenario
            .rules
            .iter()
            .zip(&self.uses)
            .position(|(rule, &uses)| applies(rule, uses, api, conversation));
        match found {
            Some(index) => {
                self.uses[index] += 1;
                let rule = &self.scenario.rules[index];
                Choice::Reply {
                    matched: Matched::Rule {
                        index,
                        id: rule.id.clone(),
                    },
                    steps: rule.reply.clone(),
                }
            }
            None => Choice::Reply {
                matched: Matched::Default,
                steps: self.scenario.default.clone(),
            },
        }
    }
}

impl Choice {
    pub(crate) fn matched(&self) -> Matched {
        match self {
            Choice::Reply { matched, .. } => matched.clone(),
            Choice::Side { .. } => Matched::Side,
        }
    }
}

fn applies(rule: &Rule, uses: u32, api: Api, conversation: &Conversation) -> bool {
    rule.api.is_none_or(|wanted| wanted == api)
        && rule.times.is_none_or(|times| uses < times)
        && match (&rule.when, &conversation.newest) {
            (When::Always, _) => true,
            (When::UserContains(wanted), Newest::UserMessage(text)) => text.contains(wanted),
            (When::AfterTool(wanted), Newest::ToolResult { tool, .. }) => tool.contains(wanted),
            _ => false,
        }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asking(text: &str) -> Conversation {
        Conversation {
            user_texts: vec![text.to_owned()],
            newest: Newest::UserMessage(text.to_owned()),
            offers_tools: true,
            output_schema: None,
        }
    }

    fn after(tool: &str) -> Conversation {
        Conversation {
            newest: Newest::ToolResult {
                tool: tool.to_owned(),
                output: "out".to_owned(),
            },
            ..asking("go")
        }
    }

    fn steps(choice: &Choice) -> &[Step] {
        match choice {
            Choice::Reply { steps, .. } => steps,
            Choice::Side { .. } => &[],
        }
    }

    fn playbook() -> Playbook {
        Playbook::new(Scenario::with_rules([
            Rule::new(When::user_contains("ONCE"), [Step::text("once")])
                .id("once")
                .times(1),
            Rule::new(When::after_tool("report"), [Step::text("reported")]).api(Api::Responses),
            Rule::new(When::after_tool(""), [Step::text("any tool")]),
        ]))
    }

    #[test]
    fn a_rule_with_times_stops_matching_when_used_up() {
        let mut playbook = playbook();
        let first = playbook.choose(Api::Anthropic, &asking("ONCE please"));
        assert_eq!(
            first.matched(),
            Matched::Rule {
                index: 0,
                id: Some("once".to_owned())
            }
        );
        let second = playbook.choose(Api::Anthropic, &asking("ONCE please"));
        assert_eq!(
            second,
            Choice::Reply {
                matched: Matched::Default,
                steps: vec![Step::text("OK.")]
            }
        );
    }

    #[test]
    fn user_contains_does_not_match_a_tool_result_of_the_same_turn() {
        let mut playbook = playbook();
        let choice = playbook.choose(Api::Anthropic, &after("mcp__team__report_result"));
        assert_eq!(steps(&choice), [Step::text("any tool")]);
    }

    #[test]
    fn a_rule_for_one_api_is_skipped_by_the_other() {
        let mut playbook = playbook();
        let responses = playbook.choose(Api::Responses, &after("mcp__team__report_result"));
        assert_eq!(steps(&responses), [Step::text("reported")]);
        let anthropic = playbook.choose(Api::Anthropic, &after("mcp__team__report_result"));
        assert_eq!(steps(&anthropic), [Step::text("any tool")]);
    }

    #[test]
    fn a_request_for_a_schema_without_tools_gets_the_side_text_and_uses_no_rule() {
        let mut playbook = playbook();
        let side = Conversation {
            offers_tools: false,
            output_schema: Some(serde_json::json!({"type": "object"})),
            ..asking("ONCE")
        };
        assert_eq!(
            playbook.choose(Api::Anthropic, &side),
            Choice::Side {
                text: "Scripted session".to_owned()
            }
        );
        // A main turn without tools (Codex with a model it does not know) is still a main turn.
        let toolless = Conversation {
            offers_tools: false,
            ..asking("ONCE")
        };
        let main = playbook.choose(Api::Responses, &toolless);
        assert_eq!(steps(&main), [Step::text("once")]);
    }
}
