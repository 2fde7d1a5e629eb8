/*! The stable ABI itself: the root module a plugin library exports and the method tables behind it.

The tables never change. `abi_stable` checks a library's tables against the host's when it loads
and refuses a library whose table has fewer fields than the host's (measured: a plugin built
before a field was appended fails with "too many fields, expected 12, found 11"), so appending a
field would cut off every plugin built earlier. Methods added after the first version go through
each table's `extension` entry instead: a method name and a JSON request in, JSON out, and an
`Unsupported` error from a plugin that predates the method, which the host treats as "use the
default". Requests and answers travel as JSON text (`RStr` in, `RString` out) so their types can
gain fields too; screens and transcripts travel as raw text.

Plugin authors never use this module: [`export_provider!`](crate::export_provider) and
[`export_display!`](crate::export_display) build it.
*/

use abi_stable::library::RootModule;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{ROption, RResult, RStr, RString};
use abi_stable::{declare_root_module_statics, package_version_strings, StableAbi};

/// The version of this API a plugin was built against. A host accepts plugins whose API version
/// it supports (today: exactly this one) and refuses others with both versions named.
pub const PLUGIN_API_VERSION: u32 = 1;

/// The kind of a plugin as stored in the root module.
#[repr(u8)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub enum FfiPluginKind {
    Provider = 1,
    Display = 2,
}

/// Error kinds as plain integers, so new kinds never change the layout.
#[repr(transparent)]
#[derive(StableAbi, Debug, Clone, Copy, PartialEq, Eq)]
pub struct FfiErrorKind(pub u32);

impl FfiErrorKind {
    pub const PANICKED: Self = Self(1);
    pub const INVALID_REQUEST: Self = Self(2);
    pub const UNSUPPORTED: Self = Self(3);
    pub const FAILED: Self = Self(4);
}

/// An error crossing the boundary.
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct FfiError {
    pub kind: FfiErrorKind,
    pub message: RString,
}

/// The result of every call: JSON text, or an error.
pub type FfiResult = RResult<RString, FfiError>;

/// The root module every plugin library exports.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginRootRef)))]
pub struct PluginRoot {
    /// [`PLUGIN_API_VERSION`] as the plugin saw it when it was built.
    pub api_version: u32,
    pub kind: FfiPluginKind,
    /// JSON of [`crate::PluginInfo`]: name, aliases, version.
    pub info: extern "C" fn() -> RString,
    pub provider: ROption<ProviderTableRef>,
    #[sabi(last_prefix_field)]
    pub display: ROption<DisplayTableRef>,
}

impl RootModule for PluginRootRef {
    declare_root_module_statics! {PluginRootRef}
    const BASE_NAME: &'static str = "team_agent_plugin";
    const NAME: &'static str = "team-agent plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

/// The provider methods (docs/ARCHITECTURE.md §3). Frozen: new methods go through `extension`.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = ProviderTableRef)))]
pub struct ProviderTable {
    pub manifest: extern "C" fn() -> FfiResult,
    /// JSON [`crate::LaunchRequest`] → JSON [`crate::LaunchPlan`].
    pub launch_plan: extern "C" fn(RStr<'_>) -> FfiResult,
    /// Screen text → JSON `Verdict<StartupDecision>`.
    pub handle_startup_prompts: extern "C" fn(RStr<'_>) -> FfiResult,
    /// JSON [`crate::CaptureContext`] → JSON `Option<SessionRecord>`.
    pub capture_session_id: extern "C" fn(RStr<'_>) -> FfiResult,
    /// JSON [`crate::ResumeCheck`] → JSON [`crate::Resumability`].
    pub session_is_resumable: extern "C" fn(RStr<'_>) -> FfiResult,
    /// Screen text → JSON `Verdict<ScreenState>`.
    pub classify_screen: extern "C" fn(RStr<'_>) -> FfiResult,
    /// JSON [`crate::ApprovalRequest`] → JSON `Verdict<ApprovalDecision>`.
    pub approval_keys: extern "C" fn(RStr<'_>) -> FfiResult,
    /// Transcript tail → JSON `Verdict<TurnState>`.
    pub turn_state: extern "C" fn(RStr<'_>) -> FfiResult,
    /// → JSON [`crate::SubmitKeys`].
    pub submit_keys: extern "C" fn() -> FfiResult,
    /// → JSON `Vec<Fixture>`.
    pub fixtures: extern "C" fn() -> FfiResult,
    /// → JSON `Vec<String>`: the keys that interrupt the current turn.
    pub interrupt_keys: extern "C" fn() -> FfiResult,
    /// `(method, JSON request)` → JSON answer, for every method added after this table was
    /// frozen (named in [`extension`]); `Unsupported` for a method the plugin predates.
    #[sabi(last_prefix_field)]
    pub extension: extern "C" fn(RStr<'_>, RStr<'_>) -> FfiResult,
}

/// The display methods (docs/ARCHITECTURE.md §3). Frozen like [`ProviderTable`]: new methods go through
/// `extension`.
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = DisplayTableRef)))]
pub struct DisplayTable {
    pub manifest: extern "C" fn() -> FfiResult,
    /// JSON [`crate::DisplayEnvironment`] → JSON [`crate::DisplayProbe`].
    pub probe: extern "C" fn(RStr<'_>) -> FfiResult,
    /// JSON [`crate::TeamView`] → JSON [`crate::DisplayPlan`].
    pub open: extern "C" fn(RStr<'_>) -> FfiResult,
    /// JSON handle → JSON [`crate::DisplayPlan`].
    pub close: extern "C" fn(RStr<'_>) -> FfiResult,
    /// JSON `{"handle", "view"}` → JSON [`crate::DisplayPlan`].
    pub rebuild: extern "C" fn(RStr<'_>) -> FfiResult,
    /// `(method, JSON request)` → JSON answer for methods added later; `Unsupported` until then.
    #[sabi(last_prefix_field)]
    pub extension: extern "C" fn(RStr<'_>, RStr<'_>) -> FfiResult,
}

/// The names the methods added since the tables were frozen travel under, through their table's
/// `extension` entry. The SDK dispatches on them and the loader sends them: one spelling for both.
pub mod extension {
    /// Provider: JSON [`crate::LeaderRequest`] → JSON [`crate::LaunchPlan`].
    pub const LEADER_PLAN: &str = "leader_plan";
    /// Provider: a transcript tail as a JSON string → JSON [`crate::TurnSummary`].
    pub const TURN_SUMMARY: &str = "turn_summary";
    /// Provider: a screen as a JSON string → JSON `Option<`[`crate::InputBox`]`>`.
    pub const INPUT_BOX: &str = "input_box";
    /// Provider: JSON [`crate::HookPayload`] → JSON [`crate::HookEvent`].
    pub const HOOK_EVENT: &str = "hook_event";
}

/// The symbol under which a plugin library exports its root module (abi_stable's fixed name).
pub const ROOT_SYMBOL: &str = "_1as_0lib_1header_0root_bmodule_bloader";

#[cfg(test)]
mod tests {
    use abi_stable::type_layout::TLData;
    use abi_stable::StableAbi;

    /// The field names of the prefix type behind a `…Ref` type.
    fn field_names(reference: &'static abi_stable::type_layout::TypeLayout) -> Vec<String> {
        let layout = reference
            .phantom_fields()
            .get(0)
            .expect("the prefix type")
            .layout();
        match layout.data() {
            TLData::PrefixType(prefix) => {
                prefix.fields.iter().map(|f| f.name().to_string()).collect()
            }
            other => panic!("not a prefix type: {other:?}"),
        }
    }

    /// The tables are the ABI every plugin ever built was checked against: changing them (even
    /// appending a field) makes the host refuse those plugins. Add methods through `extension`.
    #[test]
    fn the_tables_are_frozen() {
        assert_eq!(
            field_names(<super::ProviderTableRef as StableAbi>::LAYOUT),
            [
                "manifest",
                "launch_plan",
                "handle_startup_prompts",
                "capture_session_id",
                "session_is_resumable",
                "classify_screen",
                "approval_keys",
                "turn_state",
                "submit_keys",
                "fixtures",
                "interrupt_keys",
                "extension",
            ]
        );
        assert_eq!(
            field_names(<super::DisplayTableRef as StableAbi>::LAYOUT),
            ["manifest", "probe", "open", "close", "rebuild", "extension"]
        );
        assert_eq!(
            field_names(<super::PluginRootRef as StableAbi>::LAYOUT),
            ["api_version", "kind", "info", "provider", "display"]
        );
    }

    #[test]
    fn root_symbol_is_abi_stables_loader_name() {
        assert_eq!(
            super::ROOT_SYMBOL,
            abi_stable::library::ROOT_MODULE_LOADER_NAME
        );
    }
}
