//! Typed calls into a loaded plugin, with fault containment.

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use abi_stable::std_types::{RResult, RStr};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::display::{DisplayEnvironment, DisplayManifest, DisplayPlan, DisplayProbe, TeamView};
use crate::ffi::{extension, DisplayTableRef, FfiError, FfiErrorKind, ProviderTableRef};
use crate::loader::LoadedPlugin;
use crate::provider::{
    ApprovalDecision, ApprovalRequest, CaptureContext, Fixture, HookEvent, HookPayload, InputBox,
    LaunchPlan, LaunchRequest, LeaderRequest, ProviderManifest, Resumability, ResumeCheck,
    ScreenState, SessionRecord, StartupDecision, SubmitKeys, TurnState, TurnSummary, Verdict,
};
use crate::sdk::{ErrorKind, PluginError};

/// What a client does once its plugin has panicked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultPolicy {
    /// Stop calling it: every later call fails with [`CallError::Faulted`] (the host's policy).
    StopCalling,
    /// Keep calling it (the conformance suite, which reports each panicking method).
    KeepCalling,
}

/// Why a call into a plugin did not produce an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CallError {
    /// The plugin panicked or hung earlier and is no longer called.
    Faulted { plugin: String, fault: String },
    /// The plugin returned an error (including a caught panic).
    Plugin {
        plugin: String,
        method: &'static str,
        error: PluginError,
    },
    /// The plugin answered something that is not what the API promises.
    BadAnswer {
        plugin: String,
        method: &'static str,
        detail: String,
    },
    /// The plugin gave no answer within the method's time budget (it is faulted from now on).
    TimedOut {
        plugin: String,
        method: &'static str,
        budget: Duration,
    },
}

impl CallError {
    pub fn is_panic(&self) -> bool {
        matches!(self, Self::Plugin { error, .. } if error.kind == ErrorKind::Panicked)
    }

    /// Whether the plugin is faulted now: it panicked or hung in this call or an earlier one.
    pub fn is_fault(&self) -> bool {
        self.is_panic() || matches!(self, Self::Faulted { .. } | Self::TimedOut { .. })
    }
}

impl fmt::Display for CallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Faulted { plugin, fault } => write!(
                f,
                "plugin '{plugin}' is faulted ({fault}) and is no longer called; fix or remove it, then start team-agent again"
            ),
            Self::Plugin {
                plugin,
                method,
                error,
            } if error.kind == ErrorKind::Panicked => {
                write!(
                    f,
                    "plugin '{plugin}' panicked in {method}: {}",
                    error.message
                )
            }
            Self::Plugin {
                plugin,
                method,
                error,
            } => {
                write!(f, "plugin '{plugin}' {method}: {error}")
            }
            Self::BadAnswer {
                plugin,
                method,
                detail,
            } => {
                write!(
                    f,
                    "plugin '{plugin}' {method} gave an invalid answer: {detail}"
                )
            }
            Self::TimedOut {
                plugin,
                method,
                budget,
            } => write!(
                f,
                "plugin '{plugin}' gave no answer to {method} in {} ms, so it is faulted and no longer called \
(a plugin call must be a quick pure function: no network, no waiting on a process); fix or remove it, then start team-agent again",
                budget.as_millis()
            ),
        }
    }
}

impl std::error::Error for CallError {}

fn from_ffi(error: FfiError) -> PluginError {
    let kind = match error.kind {
        FfiErrorKind::PANICKED => ErrorKind::Panicked,
        FfiErrorKind::INVALID_REQUEST => ErrorKind::InvalidRequest,
        FfiErrorKind::UNSUPPORTED => ErrorKind::Unsupported,
        _ => ErrorKind::Failed,
    };
    PluginError::new(kind, error.message.into_string())
}

/// How long a plugin may take to answer one call before it is faulted: generous, since a
/// plugin call is a pure function of its input. `TEAM_AGENT_PLUGIN_BUDGET_MS` sets one budget
/// for every method.
pub fn call_budget(method: &str) -> Duration {
    static OVERRIDE: OnceLock<Option<Duration>> = OnceLock::new();
    let fixed = OVERRIDE.get_or_init(|| {
        std::env::var("TEAM_AGENT_PLUGIN_BUDGET_MS")
            .ok()
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis)
    });
    if let Some(budget) = fixed {
        return *budget;
    }
    match method {
        // Those read the CLI's files, or plan a whole launch or window layout.
        "launch_plan"
        | "capture_session_id"
        | "session_is_resumable"
        | "fixtures"
        | "open"
        | "close"
        | "rebuild" => Duration::from_secs(10),
        m if m == extension::LEADER_PLAN => Duration::from_secs(10),
        _ => Duration::from_secs(5),
    }
}

use super::lanes::Answer;

struct Caller<'a> {
    plugin: &'a LoadedPlugin,
    policy: FaultPolicy,
}

impl Caller<'_> {
    /// Calls into the plugin on one of its lanes (`lanes.rs`) and waits at most the method's
    /// budget: a plugin that hangs is faulted and left behind (its library is never unloaded,
    /// and it is not called again), and the caller goes on.
    fn call<T: DeserializeOwned>(
        &self,
        method: &'static str,
        invoke: impl FnOnce() -> Answer + Send + 'static,
    ) -> Result<T, CallError> {
        let plugin = || self.plugin.info.name.clone();
        if self.policy == FaultPolicy::StopCalling {
            if let Some(fault) = self.plugin.fault() {
                return Err(CallError::Faulted {
                    plugin: plugin(),
                    fault,
                });
            }
        }
        let budget = call_budget(method);
        let answer = match self
            .plugin
            .lanes
            .call(&self.plugin.info.name, budget, Box::new(invoke))
        {
            Some(answer) => answer,
            None => {
                self.plugin.record_fault(format!(
                    "{method} gave no answer in {} ms",
                    budget.as_millis()
                ));
                return Err(CallError::TimedOut {
                    plugin: plugin(),
                    method,
                    budget,
                });
            }
        };
        match answer {
            RResult::ROk(json) => {
                serde_json::from_str(json.as_str()).map_err(|e| CallError::BadAnswer {
                    plugin: plugin(),
                    method,
                    detail: e.to_string(),
                })
            }
            RResult::RErr(error) => {
                let error = from_ffi(error);
                if error.kind == ErrorKind::Panicked {
                    self.plugin
                        .record_fault(format!("in {method}: {}", error.message));
                }
                Err(CallError::Plugin {
                    plugin: plugin(),
                    method,
                    error,
                })
            }
        }
    }
}

fn to_json<T: Serialize>(value: &T) -> String {
    serde_json::to_string(value).expect("plugin API types always encode")
}

/// Typed calls to a provider plugin.
pub struct ProviderClient<'a> {
    caller: Caller<'a>,
    table: ProviderTableRef,
}

impl<'a> ProviderClient<'a> {
    /// `None` when the plugin is not a provider.
    pub fn new(plugin: &'a LoadedPlugin, policy: FaultPolicy) -> Option<Self> {
        let table = plugin.root.provider().into_option()?;
        Some(Self {
            caller: Caller { plugin, policy },
            table,
        })
    }

    pub fn plugin(&self) -> &LoadedPlugin {
        self.caller.plugin
    }

    pub fn manifest(&self) -> Result<ProviderManifest, CallError> {
        let table = self.table;
        self.caller.call("manifest", move || (table.manifest())())
    }

    pub fn launch_plan(&self, request: &LaunchRequest) -> Result<LaunchPlan, CallError> {
        let table = self.table;
        let json = to_json(request);
        self.caller.call("launch_plan", move || {
            (table.launch_plan())(RStr::from_str(&json))
        })
    }

    pub fn handle_startup_prompts(
        &self,
        screen: &str,
    ) -> Result<Verdict<StartupDecision>, CallError> {
        let table = self.table;
        let screen = screen.to_owned();
        self.caller.call("handle_startup_prompts", move || {
            (table.handle_startup_prompts())(RStr::from_str(&screen))
        })
    }

    pub fn capture_session_id(
        &self,
        context: &CaptureContext,
    ) -> Result<Option<SessionRecord>, CallError> {
        let table = self.table;
        let json = to_json(context);
        self.caller.call("capture_session_id", move || {
            (table.capture_session_id())(RStr::from_str(&json))
        })
    }

    pub fn session_is_resumable(&self, check: &ResumeCheck) -> Result<Resumability, CallError> {
        let table = self.table;
        let json = to_json(check);
        self.caller.call("session_is_resumable", move || {
            (table.session_is_resumable())(RStr::from_str(&json))
        })
    }

    pub fn classify_screen(&self, screen: &str) -> Result<Verdict<ScreenState>, CallError> {
        let table = self.table;
        let screen = screen.to_owned();
        self.caller.call("classify_screen", move || {
            (table.classify_screen())(RStr::from_str(&screen))
        })
    }

    pub fn approval_keys(
        &self,
        request: &ApprovalRequest,
    ) -> Result<Verdict<ApprovalDecision>, CallError> {
        let table = self.table;
        let json = to_json(request);
        self.caller.call("approval_keys", move || {
            (table.approval_keys())(RStr::from_str(&json))
        })
    }

    pub fn turn_state(&self, transcript_tail: &str) -> Result<Verdict<TurnState>, CallError> {
        let table = self.table;
        let transcript_tail = transcript_tail.to_owned();
        self.caller.call("turn_state", move || {
            (table.turn_state())(RStr::from_str(&transcript_tail))
        })
    }

    pub fn submit_keys(&self) -> Result<SubmitKeys, CallError> {
        let table = self.table;
        self.caller
            .call("submit_keys", move || (table.submit_keys())())
    }

    pub fn fixtures(&self) -> Result<Vec<Fixture>, CallError> {
        let table = self.table;
        self.caller.call("fixtures", move || (table.fixtures())())
    }

    /// The plan for the leader's own CLI (an extension method); `Unsupported` from a plugin that
    /// predates it or does not plan leaders.
    pub fn leader_plan(&self, request: &LeaderRequest) -> Result<LaunchPlan, CallError> {
        let table = self.table;
        let json = to_json(request);
        let method = extension::LEADER_PLAN;
        self.caller.call(method, move || {
            (table.extension())(RStr::from_str(method), RStr::from_str(&json))
        })
    }

    /// The current turn and the last one that ended, from a transcript tail (an extension
    /// method); `Unsupported` from a plugin that predates it.
    pub fn turn_summary(&self, transcript_tail: &str) -> Result<TurnSummary, CallError> {
        let table = self.table;
        let json = to_json(&transcript_tail);
        let method = extension::TURN_SUMMARY;
        self.caller.call(method, move || {
            (table.extension())(RStr::from_str(method), RStr::from_str(&json))
        })
    }

    /// What the CLI's input box holds on `screen` and how to empty it (an extension method);
    /// `Unsupported` from a plugin that predates it.
    pub fn input_box(&self, screen: &str) -> Result<Option<InputBox>, CallError> {
        let table = self.table;
        let json = to_json(&screen);
        let method = extension::INPUT_BOX;
        self.caller.call(method, move || {
            (table.extension())(RStr::from_str(method), RStr::from_str(&json))
        })
    }

    /// What one hook call says (an extension method); `Unsupported` from a plugin that predates
    /// hooks or configures none.
    pub fn hook_event(&self, payload: &HookPayload) -> Result<HookEvent, CallError> {
        let table = self.table;
        let json = to_json(payload);
        let method = extension::HOOK_EVENT;
        self.caller.call(method, move || {
            (table.extension())(RStr::from_str(method), RStr::from_str(&json))
        })
    }

    /// The keys that interrupt a turn.
    pub fn interrupt_keys(&self) -> Result<Vec<String>, CallError> {
        let table = self.table;
        self.caller
            .call("interrupt_keys", move || (table.interrupt_keys())())
    }
}

/// Typed calls to a display plugin.
pub struct DisplayClient<'a> {
    caller: Caller<'a>,
    table: DisplayTableRef,
}

impl<'a> DisplayClient<'a> {
    /// `None` when the plugin is not a display.
    pub fn new(plugin: &'a LoadedPlugin, policy: FaultPolicy) -> Option<Self> {
        let table = plugin.root.display().into_option()?;
        Some(Self {
            caller: Caller { plugin, policy },
            table,
        })
    }

    pub fn plugin(&self) -> &LoadedPlugin {
        self.caller.plugin
    }

    pub fn manifest(&self) -> Result<DisplayManifest, CallError> {
        let table = self.table;
        self.caller.call("manifest", move || (table.manifest())())
    }

    pub fn probe(&self, environment: &DisplayEnvironment) -> Result<DisplayProbe, CallError> {
        let table = self.table;
        let json = to_json(environment);
        self.caller
            .call("probe", move || (table.probe())(RStr::from_str(&json)))
    }

    pub fn open(&self, view: &TeamView) -> Result<DisplayPlan, CallError> {
        let table = self.table;
        let json = to_json(view);
        self.caller
            .call("open", move || (table.open())(RStr::from_str(&json)))
    }

    pub fn close(&self, handle: &serde_json::Value) -> Result<DisplayPlan, CallError> {
        let table = self.table;
        let json = to_json(handle);
        self.caller
            .call("close", move || (table.close())(RStr::from_str(&json)))
    }

    pub fn rebuild(
        &self,
        handle: &serde_json::Value,
        view: &TeamView,
    ) -> Result<DisplayPlan, CallError> {
        let table = self.table;
        let json = to_json(&serde_json::json!({ "handle": handle, "view": view }));
        self.caller
            .call("rebuild", move || (table.rebuild())(RStr::from_str(&json)))
    }
}
