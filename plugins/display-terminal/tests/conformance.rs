//! The conformance suite checks the display in an environment it controls (stand-in terminals
//! and tmux on its own `PATH`, an X11 and a Wayland display set), so the whole report must pass
//! on any machine, with or without a terminal emulator of its own.

#[test]
fn the_built_library_passes_the_conformance_suite() {
    let library = team_agent_conformance::built_library("team_agent_display_terminal");
    let report = team_agent_conformance::check_library(&library, &Default::default());
    assert!(report.ok, "{}", report.render());
    let probe = report
        .checks
        .iter()
        .find(|c| c.id == "display.probe")
        .expect("a display report has a probe check");
    assert!(
        probe
            .detail
            .starts_with("available in the suite's environment"),
        "the suite's stand-ins are enough for a terminal window: {}",
        report.render()
    );
}
