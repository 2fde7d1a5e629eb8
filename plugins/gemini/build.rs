//! Embeds `fixtures/` into the library, so `team-agent plugins check` checks them wherever the
//! library is installed.

fn main() {
    team_agent_plugin_api::fixture_dir::embed();
}
