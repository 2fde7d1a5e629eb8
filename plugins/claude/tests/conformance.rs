//! The built library, loaded the way the host loads it, passes the conformance suite with every
//! fixture it ships.

#[test]
fn the_built_library_passes_the_conformance_suite_with_the_fixtures_it_ships() {
    let library = team_agent_conformance::built_library("team_agent_claude");
    let report = team_agent_conformance::check_library(&library, &Default::default());
    assert!(report.ok, "{}", report.render());
    let checked = report
        .checks
        .iter()
        .filter(|c| c.id.starts_with("fixture."))
        .count();
    let on_disk = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .ends_with(".expect.json")
        })
        .count();
    assert_eq!(
        checked, on_disk,
        "every fixture on disk is shipped and checked"
    );
    assert!(checked >= 25, "only {checked} fixtures");
}
