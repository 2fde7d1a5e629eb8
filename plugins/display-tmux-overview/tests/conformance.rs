#[test]
fn the_built_library_passes_the_conformance_suite() {
    let library = team_agent_conformance::built_library("team_agent_display_tmux_overview");
    let report = team_agent_conformance::check_library(&library, &Default::default());
    assert!(report.ok, "{}", report.render());
}
