//! Hostile inputs for the no-panic checks: deterministic, so a failure reproduces.

const MIB: usize = 1024 * 1024;

/// A small xorshift generator: the same sequence on every run.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Named hostile inputs. Invalid UTF-8 arrives decoded lossily, as the host decodes captures.
pub fn inputs() -> Vec<(&'static str, String)> {
    let mut noise = Noise(0x5eed_1234_abcd_ef01);
    let random = String::from_utf8_lossy(&noise.bytes(64 * 1024)).into_owned();
    let invalid_utf8 = String::from_utf8_lossy(
        &[
            0xff, 0xfe, 0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc,
        ]
        .repeat(1000),
    )
    .into_owned();
    let ansi =
        "\x1b[31m❯ 1. Yes\x1b[0m\x1b[2J\x1b[H\x1b]0;title\x07\x1bP+q\x1b\\\x1b[?2004h\x1b[200~"
            .repeat(4000);
    let huge_screen =
        "› Ask anything   esc to interrupt   Do you trust this folder?\n".repeat(MIB / 64);
    let one_line = "x".repeat(MIB);
    let newlines = "\n".repeat(MIB / 2);
    let nuls = "\0".repeat(4096);
    let json_noise =
        "{\"type\":\"turn_started\",\"payload\":{\"type\":[[[[[[[[[[1e999999,\"\\ud800\"\n"
            .repeat(2000);
    let nested = format!("{}{}\n", "[".repeat(100_000), "]".repeat(100_000));
    vec![
        ("empty", String::new()),
        ("random_bytes", random),
        ("invalid_utf8", invalid_utf8),
        ("ansi_escapes", ansi),
        ("huge_screen_1mib", huge_screen),
        ("one_line_1mib", one_line),
        ("only_newlines", newlines),
        ("nul_bytes", nuls),
        ("json_noise", json_noise),
        ("deeply_nested_json", nested),
    ]
}

/// A realistic 1 MiB screen for timing.
pub fn timing_screen() -> String {
    let mut text = String::with_capacity(MIB + 200);
    let mut i = 0;
    while text.len() < MIB {
        text.push_str(&format!(
            "line {i}: some output from a long running tool call\n"
        ));
        i += 1;
    }
    text.push_str("› \n");
    text
}
