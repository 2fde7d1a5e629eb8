//! The built library, loaded the way the host loads it, passes the conformance suite with every
//! fixture it ships (`cargo build -p team-agent-gemini && cargo test -p team-agent-gemini`).

#[test]
fn the_built_library_passes_the_conformance_suite_with_the_fixtures_it_ships() {
    let library = team_agent_conformance::built_library("team_agent_gemini");
    let report = team_agent_conformance::check_library(&library, &Default::default());
    assert!(report.ok, "{}", report.render());
    let fixtures = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures"));
    let on_disk = team_agent_conformance::read_fixture_dir(fixtures)
        .unwrap()
        .len();
    assert_eq!(
        report.fixtures_checked(),
        on_disk,
        "every fixture on disk is shipped and checked"
    );
    assert!(on_disk >= 15, "only {on_disk} fixtures");
}
