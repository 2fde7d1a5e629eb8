/*! The plugin author's side: two ordinary traits and the macros that export them.

A plugin implements [`ProviderPlugin`] or [`DisplayPlugin`] on a plain type and calls
[`export_provider!`](crate::export_provider) or [`export_display!`](crate::export_display) once.
The macros build the root module of [`crate::ffi`]; every exported call runs inside
`catch_unwind`, so a panic comes back to the host as [`ErrorKind::Panicked`] with its message and
location, never as an abort.
*/

use std::fmt;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::display::{DisplayEnvironment, DisplayPlan, DisplayProbe, TeamView};
use crate::provider::{
    ApprovalDecision, ApprovalRequest, CaptureContext, Fixture, HookEvent, HookPayload, InputBox,
    LaunchPlan, LaunchRequest, LeaderRequest, ProviderCapabilities, Resumability, ResumeCheck,
    ScreenState, SessionRecord, StartupDecision, SubmitKeys, TurnState, TurnSummary, Verdict,
};

/// A provider plugin: drives one agent CLI. Every method is a pure function of its inputs (it may
/// read the provider's own files, never write or spawn anything).
///
/// The plugin's name, aliases, description and executable are declared once, here; the export
/// macro adds the plugin crate's version, and the SDK makes both the root module and the manifest
/// from them, so the two cannot disagree.
pub trait ProviderPlugin: Send + Sync + 'static {
    /// The name a team spec uses in `provider:`.
    const NAME: &'static str;
    /// Other names that select this provider.
    const ALIASES: &'static [&'static str] = &[];
    /// One line for `team-agent plugins list`.
    const DESCRIPTION: &'static str = "";
    /// The executable the provider runs (looked up on `PATH` by the host for diagnostics).
    const EXECUTABLE: &'static str;

    /// What the provider's CLI can do: the part of the manifest the plugin decides.
    fn capabilities(&self) -> ProviderCapabilities;

    /// How to start the CLI for a fresh session, a resume or a fork. A mode the provider cannot
    /// serve (or a resume without a session id) is an error, never a guess.
    fn launch_plan(&self, request: &LaunchRequest) -> Result<LaunchPlan, PluginError>;

    /// What to do about the screen of a CLI that is starting.
    fn handle_startup_prompts(&self, screen: &str) -> Verdict<StartupDecision>;

    /// Find the session the worker's CLI is writing, if it has one yet.
    fn capture_session_id(
        &self,
        context: &CaptureContext,
    ) -> Result<Option<SessionRecord>, PluginError>;

    /// Whether `launch_plan` with a resume can work now.
    fn session_is_resumable(&self, check: &ResumeCheck) -> Resumability;

    /// What a running worker's screen shows.
    fn classify_screen(&self, screen: &str) -> Verdict<ScreenState>;

    /// Keys that answer a runtime approval prompt, or why the plugin will not answer it.
    fn approval_keys(&self, request: &ApprovalRequest) -> Verdict<ApprovalDecision>;

    /// The state of the current turn, from the tail of the provider's transcript.
    fn turn_state(&self, transcript_tail: &str) -> Verdict<TurnState>;

    /// How to submit a pasted message.
    fn submit_keys(&self) -> SubmitKeys;

    /// Captures the plugin ships with their expected verdicts (checked by the conformance suite).
    fn fixtures(&self) -> Vec<Fixture> {
        Vec::new()
    }

    /// The keys that interrupt the current turn (`team-agent interrupt AGENT`).
    fn interrupt_keys(&self) -> Vec<String> {
        vec!["Escape".into()]
    }

    /// The current turn's state and the last turn that ended, from the tail of the provider's
    /// transcript: what lets the host notice a turn that ended without a report. The default
    /// knows only the state.
    fn turn_summary(&self, transcript_tail: &str) -> Result<TurnSummary, PluginError> {
        let verdict = self.turn_state(transcript_tail);
        Ok(TurnSummary {
            state: verdict.value,
            rule: verdict.rule,
            last_ended: None,
        })
    }

    /// What the CLI's input box holds on `screen` (`None`: no input box on it), and the keys that
    /// empty it: the host never pastes a message into text it did not put there, and clears what
    /// an interrupted delivery of its own left. The default cannot read input boxes.
    fn input_box(&self, screen: &str) -> Result<Option<InputBox>, PluginError> {
        let _ = screen;
        Err(PluginError::unsupported(format!(
            "the {} plugin does not read its CLI's input box",
            Self::NAME
        )))
    }

    /// What one call of a hook its launch plan configured says (see [`crate::HookSetup`]). The
    /// default knows no hooks.
    fn hook_event(&self, payload: &HookPayload) -> Result<HookEvent, PluginError> {
        let _ = payload;
        Err(PluginError::unsupported(format!(
            "the {} plugin configures no hooks",
            Self::NAME
        )))
    }

    /// How to start this CLI as the team's leader: the operator's arguments unchanged, plus the
    /// team-agent MCP server and instructions in the CLI's own way.
    fn leader_plan(&self, request: &LeaderRequest) -> Result<LaunchPlan, PluginError> {
        let _ = request;
        Err(PluginError::unsupported(format!(
            "the {} plugin does not plan a leader",
            Self::NAME
        )))
    }
}

/// A display plugin: shows the team's workers to the operator by returning plans.
///
/// Its name, aliases and description are declared once, here; the SDK makes the root module and
/// the manifest from them and the plugin crate's version.
pub trait DisplayPlugin: Send + Sync + 'static {
    /// The name a team spec uses in `display_backend:`.
    const NAME: &'static str;
    /// Other names that select this display.
    const ALIASES: &'static [&'static str] = &[];
    /// One line for `team-agent plugins list`.
    const DESCRIPTION: &'static str = "";

    /// Whether the display can work in this environment, and what it would use.
    fn probe(&self, environment: &DisplayEnvironment) -> DisplayProbe;

    /// What `open` records of what it made: everything `close` needs to undo it. The host keeps
    /// it as JSON in the team's state; the SDK writes it after `open` and `rebuild` and reads it
    /// back before `close` and `rebuild` (see [`read_handle`]), so the display sees only its own
    /// type. `()` for a display that makes nothing.
    type Handle: Serialize + DeserializeOwned;

    /// Show the team. The plan's handle is recorded and given back to `close` and `rebuild`.
    fn open(&self, view: &TeamView) -> Result<DisplayPlan<Self::Handle>, PluginError>;

    /// Undo exactly what `open` (or `rebuild`) did; nothing is left to record.
    fn close(&self, handle: &Self::Handle) -> Result<DisplayPlan<()>, PluginError>;

    /// Show the team again after a restart, replacing what the handle describes.
    fn rebuild(
        &self,
        handle: &Self::Handle,
        view: &TeamView,
    ) -> Result<DisplayPlan<Self::Handle>, PluginError>;
}

/// A handle as the host recorded it (JSON), read back as the display's own type: `null` is "no
/// handle" (unless the type is read from `null`, like `()`), and anything else that is not of the
/// type's shape is an error naming the display. `display` is the display's name.
pub fn read_handle<H: DeserializeOwned>(
    display: &str,
    recorded: &serde_json::Value,
) -> Result<H, PluginError> {
    H::deserialize(recorded).map_err(|e| {
        PluginError::invalid_request(if recorded.is_null() {
            "no handle: nothing was recorded for this display (call open instead)".to_string()
        } else {
            format!("not a {display} display handle: {e}")
        })
    })
}

/// `close` as the host calls it, with the handle it recorded: what the export macro runs, and
/// what a display's own tests call to see what becomes of a handle that is not one of its own.
pub fn close_recorded<D: DisplayPlugin>(
    display: &D,
    recorded: &serde_json::Value,
) -> Result<DisplayPlan<()>, PluginError> {
    display.close(&read_handle(D::NAME, recorded)?)
}

/// `rebuild` as the host calls it, with the handle it recorded (see [`close_recorded`]).
pub fn rebuild_recorded<D: DisplayPlugin>(
    display: &D,
    recorded: &serde_json::Value,
    view: &TeamView,
) -> Result<DisplayPlan<D::Handle>, PluginError> {
    display.rebuild(&read_handle(D::NAME, recorded)?, view)
}

/// Why a plugin call failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The plugin panicked; the message says where.
    Panicked,
    /// The host sent something the plugin could not read.
    InvalidRequest,
    /// The provider cannot do this (for example fork).
    Unsupported,
    /// Anything else.
    Failed,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Panicked => "panicked",
            Self::InvalidRequest => "invalid_request",
            Self::Unsupported => "unsupported",
            Self::Failed => "failed",
        }
    }
}

/// An error a plugin returns (or the SDK returns on its behalf).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginError {
    pub kind: ErrorKind,
    pub message: String,
}

impl PluginError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    pub fn unsupported(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Unsupported, message)
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::InvalidRequest, message)
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(ErrorKind::Failed, message)
    }
}

impl fmt::Display for PluginError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.kind.as_str())
    }
}

impl std::error::Error for PluginError {}

/// Which kind of plugin a library holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PluginKind {
    Provider,
    Display,
}

impl PluginKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Provider => "provider",
            Self::Display => "display",
        }
    }
}

/// What the root module declares about a plugin, readable without calling any plugin method.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PluginInfo {
    pub kind: PluginKind,
    pub name: String,
    #[serde(default)]
    pub aliases: Vec<String>,
    pub version: String,
    pub api_version: u32,
}

/// Export a [`ProviderPlugin`] from a `cdylib`.
///
/// `export_provider!(MyProvider)` builds it with `Default`; `export_provider!(MyProvider,
/// MyProvider::new())` with an expression. Call it once per library. The plugin's version is the
/// `CARGO_PKG_VERSION` of the crate that calls it.
#[macro_export]
macro_rules! export_provider {
    ($ty:ty) => {
        $crate::export_provider!($ty, <$ty as ::core::default::Default>::default());
    };
    ($ty:ty, $ctor:expr) => {
        $crate::export_provider!(@api $crate::ffi::PLUGIN_API_VERSION, $ty, $ctor);
    };
    // Hidden: lets the conformance tests build a plugin claiming another API version.
    (@api $api:expr, $ty:ty, $ctor:expr) => {
        $crate::__export_root!(provider_root, $api, $ty, $ctor);
    };
}

/// Export a [`DisplayPlugin`] from a `cdylib`; used like [`export_provider!`].
#[macro_export]
macro_rules! export_display {
    ($ty:ty) => {
        $crate::export_display!($ty, <$ty as ::core::default::Default>::default());
    };
    ($ty:ty, $ctor:expr) => {
        $crate::export_display!(@api $crate::ffi::PLUGIN_API_VERSION, $ty, $ctor);
    };
    (@api $api:expr, $ty:ty, $ctor:expr) => {
        $crate::__export_root!(display_root, $api, $ty, $ctor);
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __export_root {
    ($root:ident, $api:expr, $ty:ty, $ctor:expr) => {
        // Everything lives in an anonymous const, so the plugin's namespace gains nothing. The
        // export carries its own lint allowance, so no plugin crate needs one: the
        // `non_local_definitions` lint has flagged the items macros generate in such a block.
        #[allow(non_local_definitions)]
        const _: () = {
            /// The plugin this library exports, with what only this crate knows: its version.
            struct Exported;
            impl $crate::__private::Exported for Exported {
                type Plugin = $ty;
                const VERSION: &'static str = env!("CARGO_PKG_VERSION");
                const API_VERSION: u32 = $api;
                fn plugin() -> &'static $ty {
                    static PLUGIN: ::std::sync::OnceLock<$ty> = ::std::sync::OnceLock::new();
                    PLUGIN.get_or_init(|| $ctor)
                }
            }
            fn __team_agent_root() -> $crate::ffi::PluginRootRef {
                $crate::__private::$root::<Exported>()
            }
            extern "C" fn __team_agent_load() -> $crate::__private::RootModuleResult {
                $crate::__private::call_loader(__team_agent_root)
            }
            // abi_stable looks the root module up under this fixed name
            // (`ffi::ROOT_SYMBOL`, checked by a test in team-agent-plugin-api).
            #[unsafe(export_name = "_1as_0lib_1header_0root_bmodule_bloader")]
            pub static __TEAM_AGENT_ROOT: $crate::__private::LibHeader =
                unsafe { $crate::__private::lib_header(__team_agent_load) };
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq, Serialize, Deserialize)]
    struct Windows {
        windows: Vec<String>,
    }

    #[test]
    fn a_recorded_handle_reads_back_as_the_displays_own_type() {
        let recorded = serde_json::json!({"windows": ["ta-x"]});
        assert_eq!(
            read_handle::<Windows>("x", &recorded),
            Ok(Windows {
                windows: vec!["ta-x".into()]
            })
        );
        read_handle::<()>("none", &serde_json::Value::Null).unwrap();
    }

    #[test]
    fn no_handle_and_a_foreign_handle_are_errors_that_say_which() {
        let none = read_handle::<Windows>("x", &serde_json::Value::Null).unwrap_err();
        assert_eq!(none.kind, ErrorKind::InvalidRequest);
        assert_eq!(
            none.message,
            "no handle: nothing was recorded for this display (call open instead)"
        );
        let foreign = read_handle::<Windows>("x", &serde_json::json!({"pids": [1]})).unwrap_err();
        assert!(
            foreign.message.starts_with("not a x display handle: ")
                && foreign.message.contains("windows"),
            "{}",
            foreign.message
        );
    }

    /// The host stores what it reads as JSON: a typed plan must read as the same plan there.
    #[test]
    fn a_typed_plan_is_the_json_plan_the_host_reads() {
        let typed = DisplayPlan {
            steps: Vec::new(),
            handle: Windows {
                windows: vec!["ta-x".into()],
            },
        };
        let host: DisplayPlan = serde_json::from_str(&serde_json::to_string(&typed).unwrap())
            .expect("the host reads a typed plan");
        assert_eq!(host.handle, serde_json::json!({"windows": ["ta-x"]}));
        let closed = serde_json::to_value(DisplayPlan::<()>::default()).unwrap();
        assert_eq!(closed, serde_json::json!({"steps": [], "handle": null}));
    }
}
