//! Putting one message into one pane, safely: under a per-pane lock (two senders never
//! interleave), only when the recipient can take input, as a bracketed paste of sanitised text,
//! then the provider's submit keys once the text is visible. A message whose token is already on
//! screen (a deliverer died after pasting) is never pasted again.

use std::time::{Duration, Instant};

use team_agent_plugin_api::ScreenState;
use team_agent_plugin_api::loader::ProviderClient;

use super::render::{TOKEN_PREFIX, token_line};
use crate::tmux::Server;
use crate::workspace::{FileLock, Workspace};

/// How a delivery ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivery {
    /// Pasted and submitted at `at` (RFC 3339, as the submit keys went); `verified` when the
    /// screen reacted to them.
    Submitted { verified: bool, at: String },
    /// The recipient cannot take input now; try again later (the reason is a status suffix).
    Queued(&'static str),
}

/// The pane a message goes to.
pub struct Pane<'a> {
    pub server: &'a Server,
    pub pane_id: &'a str,
    /// The recipient's provider: decides whether it can take input and how to submit. `None`
    /// for a leader pane whose provider has no plugin (plain Enter).
    pub provider: Option<&'a ProviderClient<'a>>,
    /// Check that the recipient is ready for input (workers) before pasting.
    pub check_ready: bool,
    /// The recipient's transcript, when its provider told where it is: where a message the
    /// recipient took shows up.
    pub transcript: Option<&'a std::path::Path>,
    /// How long a screen that reads busy may take to catch up with the recipient's own hook,
    /// which said its turn is over (the CLI still draws its spinner while it runs that very
    /// hook): zero when no hook said so.
    pub settle: Duration,
}

/// How long to wait for pasted text to show: more for bigger messages.
fn visible_timeout(bytes: usize) -> Duration {
    Duration::from_secs_f64((bytes as f64 / 25_000.0).clamp(1.5, 30.0))
}

/// The lock that makes deliveries into one pane atomic.
pub fn pane_lock(
    workspace: &Workspace,
    server: &Server,
    pane_id: &str,
) -> Result<FileLock, crate::workspace::LockError> {
    let key = format!(
        "pane-{}-{}",
        crate::tmux::workspace_hash(server.socket()),
        pane_id.trim_start_matches('%')
    );
    workspace.lock(&key, Duration::from_secs(120))
}

/// Delivers `text` (already rendered and sanitised) into `pane`. The caller holds the pane lock.
/// `before_submit` is told the time just before the submit keys go (the caller records it: a
/// deliverer killed after that point may have delivered); its error stops the delivery.
pub fn paste_and_submit(
    pane: &Pane<'_>,
    text: &str,
    message_id: &str,
    before_submit: impl FnOnce(&str) -> Result<(), String>,
) -> Result<Delivery, String> {
    let state = pane
        .server
        .display(pane.pane_id, "#{pane_dead} #{pane_in_mode}")
        .map_err(|e| format!("pane {}: {e}", pane.pane_id))?;
    let mut flags = state.split(' ');
    if flags.next() == Some("1") {
        return Ok(Delivery::Queued("pane_dead"));
    }
    if flags.next() == Some("1") {
        return Ok(Delivery::Queued("copy_mode"));
    }
    let token = token_line(message_id);
    let mut before = pane
        .server
        .capture(pane.pane_id)
        .map_err(|e| e.to_string())?;
    let already_pasted = before.contains(&token);
    if pane.check_ready
        && !already_pasted
        && let Some(provider) = pane.provider
        && let Some(reason) = not_ready(provider, &before)
    {
        let caught_up = reason == "busy"
            && !pane.settle.is_zero()
            && wait_for(pane, pane.settle, |screen| {
                not_ready(provider, screen).is_none()
            });
        if !caught_up {
            return Ok(Delivery::Queued(reason));
        }
        before = pane
            .server
            .capture(pane.pane_id)
            .map_err(|e| e.to_string())?;
    }
    if !already_pasted && let Some(provider) = pane.provider {
        match empty_input(pane, provider, &before) {
            InputState::Empty => {}
            InputState::Cleared(screen) => before = screen,
            InputState::Held(reason) => return Ok(Delivery::Queued(reason)),
        }
    }
    if !already_pasted {
        let buffer = format!("ta-{message_id}");
        pane.server
            .load_buffer(&buffer, text.as_bytes())
            .map_err(|e| e.to_string())?;
        if let Err(e) = pane.server.paste_buffer(&buffer, pane.pane_id) {
            let _ = pane.server.delete_buffer(&buffer);
            return Err(e.to_string());
        }
        // Visible: the token, or a new paste placeholder (`[Pasted text #2 +40 lines]`: CLIs fold a
        // long paste into one, hiding the token).
        let placeholders = |screen: &str| screen.matches("[Pasted").count();
        let shown =
            |screen: &str| screen.contains(&token) || placeholders(screen) > placeholders(&before);
        if !wait_for(pane, visible_timeout(text.len()), |screen| {
            shown(screen) || screen != before
        }) {
            // Nothing changed at all: the paste did not arrive. Pasting again later is safe.
            return Ok(Delivery::Queued("paste_not_visible"));
        }
        // Let the whole paste land before submitting.
        wait_for(pane, visible_timeout(text.len()), shown);
    }
    let submit = match pane.provider.map(|p| p.submit_keys()) {
        Some(Ok(keys)) => keys,
        _ => team_agent_plugin_api::SubmitKeys {
            delay_ms: 0,
            keys: vec!["Enter".into()],
        },
    };
    if submit.delay_ms > 0 {
        std::thread::sleep(Duration::from_millis(submit.delay_ms.into()));
    }
    let pasted = pane.server.capture(pane.pane_id).unwrap_or_default();
    let at = crate::events::now_rfc3339();
    before_submit(&at)?;
    pane.server
        .send_keys(pane.pane_id, &submit.keys)
        .map_err(|e| e.to_string())?;
    let verified = wait_for(pane, Duration::from_secs(1), |screen| screen != pasted);
    Ok(Delivery::Submitted { verified, at })
}

/// Whether a message whose submit keys an earlier deliverer pressed (or was about to press)
/// reached the recipient.
#[derive(Debug, PartialEq, Eq)]
pub enum Arrival {
    /// The recipient's transcript holds the message's token: it took the message.
    InSession,
    /// Not in the transcript yet, nor on screen, and the keys went moments ago: a CLI writes
    /// its transcript a little after it takes a message. Look again later.
    NotYet,
    /// No sign of it (or no transcript to look in): deliver it (a token still on screen is
    /// submitted, never pasted again).
    Unknown,
}

/// How long after its submit keys a message may still be on its way into the transcript.
const ARRIVAL_GRACE: Duration = Duration::from_secs(5);

/// How much of a transcript's end is searched for a token.
const TRANSCRIPT_SEARCH_BYTES: u64 = 32 * 1024 * 1024;

/// Looks for the message `message_id`, whose submit keys went at `sent_at`, where it would be
/// if the recipient took it.
pub fn arrival(pane: &Pane<'_>, message_id: &str, sent_at: &str) -> Arrival {
    let token = token_line(message_id);
    let Some(transcript) = pane.transcript else {
        return Arrival::Unknown;
    };
    if file_contains(transcript, token.as_bytes()) {
        return Arrival::InSession;
    }
    let on_screen = pane
        .server
        .capture(pane.pane_id)
        .is_ok_and(|screen| screen.contains(&token));
    let recent = chrono::DateTime::parse_from_rfc3339(sent_at).is_ok_and(|at| {
        (chrono::Utc::now() - at.with_timezone(&chrono::Utc))
            .to_std()
            .is_ok_and(|ago| ago < ARRIVAL_GRACE)
    });
    if !on_screen && recent {
        Arrival::NotYet
    } else {
        Arrival::Unknown
    }
}

/// Whether the last [`TRANSCRIPT_SEARCH_BYTES`] of the file at `path` hold `needle`.
pub(super) fn file_contains(path: &std::path::Path, needle: &[u8]) -> bool {
    use std::io::{Read, Seek, SeekFrom};
    let Ok(mut file) = std::fs::File::open(path) else {
        return false;
    };
    let Ok(len) = file.seek(SeekFrom::End(0)) else {
        return false;
    };
    let mut bytes = Vec::new();
    file.seek(SeekFrom::Start(len.saturating_sub(TRANSCRIPT_SEARCH_BYTES)))
        .and_then(|_| file.read_to_end(&mut bytes))
        .is_ok_and(|_| memchr::memmem::find(&bytes, needle).is_some())
}

/// What the input box is before a paste.
enum InputState {
    /// Empty (or a provider that cannot read it): paste.
    Empty,
    /// It held what an interrupted delivery of ours left (a token, a folded paste), now cleared;
    /// the screen after.
    Cleared(String),
    /// It holds something else (someone typing in the pane), or would not clear: wait.
    Held(&'static str),
}

/// How many times the clear keys are pressed before giving up (a key clears a line).
const CLEAR_PRESSES: usize = 60;

/// Makes sure the input box holds nothing a paste would be merged into: leftovers of our own
/// interrupted deliveries are cleared (the message they belonged to is delivered again from its
/// record), anything else is left alone and the message waits.
fn empty_input(pane: &Pane<'_>, provider: &ProviderClient<'_>, screen: &str) -> InputState {
    let Ok(Some(input)) = provider.input_box(screen) else {
        return InputState::Empty;
    };
    if input.text.is_empty() {
        return InputState::Empty;
    }
    let ours = input.text.contains(TOKEN_PREFIX) || input.text.contains("[Pasted");
    if !ours || input.clear_keys.is_empty() {
        return InputState::Held("input_not_empty");
    }
    for _ in 0..CLEAR_PRESSES {
        if pane
            .server
            .send_keys(pane.pane_id, &input.clear_keys)
            .is_err()
        {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
        let Ok(screen) = pane.server.capture(pane.pane_id) else {
            break;
        };
        match provider.input_box(&screen) {
            Ok(Some(now)) if now.text.is_empty() => return InputState::Cleared(screen),
            Ok(Some(_)) => {}
            _ => break,
        }
    }
    InputState::Held("input_not_cleared")
}

/// Why a worker cannot take input now, judged by its provider from the screen.
fn not_ready(provider: &ProviderClient<'_>, screen: &str) -> Option<&'static str> {
    match provider.classify_screen(screen).map(|v| v.value) {
        Ok(ScreenState::Busy) => Some("busy"),
        Ok(ScreenState::TrustPrompt) => Some("trust_prompt"),
        Ok(ScreenState::AwaitingApproval { .. }) => Some("awaiting_approval"),
        // A turn that ended in an error takes input again; one that retries does not.
        Ok(ScreenState::ApiError { ended: false, .. }) => Some("api_error"),
        Ok(ScreenState::Exited) => Some("pane_dead"),
        Ok(
            ScreenState::Idle | ScreenState::Unknown | ScreenState::ApiError { ended: true, .. },
        ) => None,
        Err(_) => Some("provider_faulted"),
    }
}

/// Polls the pane's screen until `done` holds or `timeout` passes; whether it held.
fn wait_for(pane: &Pane<'_>, timeout: Duration, done: impl Fn(&str) -> bool) -> bool {
    let started = Instant::now();
    // A capture over the control-mode connection costs ~0.05 ms: look again soon at first.
    let mut pause = Duration::from_micros(250);
    loop {
        if let Ok(screen) = pane.server.capture(pane.pane_id)
            && done(&screen)
        {
            return true;
        }
        if started.elapsed() >= timeout {
            return false;
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(40));
    }
}
