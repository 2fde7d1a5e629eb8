//! Embeds `fixtures/` into the plugin, so `team-agent plugins check` can check them wherever the
//! library is installed.

fn main() {
    team_agent_plugin_api::fixture_dir::embed();
}
