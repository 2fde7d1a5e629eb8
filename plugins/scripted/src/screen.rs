//! The texts the scripted agent draws, shared with the plugin that reads its screen.

/// The input prompt at the start of the line the agent reads into.
pub const PROMPT: &str = "› ";
/// Shown on the busy line while a turn runs.
pub const BUSY: &str = "esc to interrupt";
/// The first line of the banner.
pub const BANNER: &str = "scripted-agent";
/// The trust dialog (`--trust-prompt`).
pub const TRUST_QUESTION: &str = "Do you trust the files in this folder?";
pub const TRUST_YES: &str = "1. Yes, I trust this folder";
pub const TRUST_NO: &str = "2. No, exit";
pub const TRUST_FOOTER: &str = "Enter to confirm · Esc to exit";
/// The sign-in screen (`--login-screen`), which only a person gets past.
pub const LOGIN_NEEDED: &str = "Not signed in: a person has to sign in first.";
pub const LOGIN_HINT: &str = "Press Enter once you have signed in · Esc to exit";
/// The approval dialog (`@scripted approval TOOL`): `Allow tool call: TOOL?`.
pub const APPROVAL_HEADER: &str = "Allow tool call: ";
pub const APPROVAL_OPTIONS: [&str; 3] = ["Yes", "Yes, and don't ask again for this session", "No"];
pub const APPROVAL_FOOTER: &str = "↑/↓ to move · Enter to select · digit to choose";
/// The marker of the highlighted option in a menu.
pub const SELECTED: &str = "❯";
/// An API failure line (`@scripted api-error CLASS`): `✗ API error (CLASS): …`.
pub const API_ERROR: &str = "✗ API error (";
/// Printed when `--resume` names a session that does not exist.
pub const NO_SESSION: &str = "scripted-agent: no session";
