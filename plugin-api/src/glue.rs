/*! What the export macros expand to: the `extern "C"` functions of the method tables, each one
decoding its request, calling the author's trait method inside `catch_unwind`, and encoding the
answer. Not a public API (`__private`); only the macros use it.
*/

use std::cell::RefCell;
use std::panic::{self, AssertUnwindSafe};
use std::sync::Once;

use abi_stable::library::{LibHeader, RootModuleResult};
use abi_stable::prefix_type::PrefixTypeTrait;
use abi_stable::std_types::{RErr, RNone, ROk, RSome, RStr, RString};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::display::DisplayManifest;
use crate::ffi::{
    extension, DisplayTable, FfiError, FfiErrorKind, FfiPluginKind, FfiResult, PluginRoot,
    PluginRootRef, ProviderTable,
};
use crate::provider::ProviderManifest;
use crate::sdk::{
    close_recorded, rebuild_recorded, DisplayPlugin, ErrorKind, PluginError, PluginInfo,
    PluginKind, ProviderPlugin,
};

/// What the export macro declares in the plugin's crate: the one instance of the plugin (built on
/// first use), the crate's version and the plugin API version it claims.
pub trait Exported: 'static {
    type Plugin: Send + Sync + 'static;
    /// The plugin crate's `CARGO_PKG_VERSION`.
    const VERSION: &'static str;
    const API_VERSION: u32;
    fn plugin() -> &'static Self::Plugin;
}

/// Builds the library header for the exported static.
///
/// # Safety
/// `loader` must return the result of [`call_loader`] on a function returning a
/// [`PluginRootRef`] (the export macros guarantee it).
pub const unsafe fn lib_header(loader: extern "C" fn() -> RootModuleResult) -> LibHeader {
    LibHeader::from_constructor::<PluginRootRef>(loader, abi_stable::library::CheckTypeLayout::Yes)
}

pub fn call_loader(root: fn() -> PluginRootRef) -> RootModuleResult {
    abi_stable::library::__call_root_module_loader(root)
}

thread_local! {
    /// Set while an exported call runs, so the panic hook records instead of printing.
    static CAPTURE: RefCell<Option<Option<String>>> = const { RefCell::new(None) };
}

static HOOK: Once = Once::new();

/// Installs (once) a panic hook that, inside an exported call, records where the panic happened
/// instead of printing it; outside one it defers to the previous hook.
fn install_hook() {
    HOOK.call_once(|| {
        let previous = panic::take_hook();
        panic::set_hook(Box::new(move |info| {
            let captured = CAPTURE.with(|slot| {
                let mut slot = slot.borrow_mut();
                match slot.as_mut() {
                    Some(place) => {
                        *place = Some(info.to_string());
                        true
                    }
                    None => false,
                }
            });
            if !captured {
                previous(info);
            }
        }));
    });
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic with a non-string payload".to_string()
    }
}

fn to_ffi(error: PluginError) -> FfiError {
    let kind = match error.kind {
        ErrorKind::Panicked => FfiErrorKind::PANICKED,
        ErrorKind::InvalidRequest => FfiErrorKind::INVALID_REQUEST,
        ErrorKind::Unsupported => FfiErrorKind::UNSUPPORTED,
        ErrorKind::Failed => FfiErrorKind::FAILED,
    };
    FfiError {
        kind,
        message: RString::from(error.message),
    }
}

/// Runs one exported call: never unwinds, always answers.
fn guard<T: Serialize>(call: impl FnOnce() -> Result<T, PluginError>) -> FfiResult {
    install_hook();
    CAPTURE.with(|slot| *slot.borrow_mut() = Some(None));
    let outcome = panic::catch_unwind(AssertUnwindSafe(call));
    let hooked = CAPTURE.with(|slot| slot.borrow_mut().take().flatten());
    match outcome {
        Ok(Ok(value)) => match serde_json::to_string(&value) {
            Ok(json) => ROk(RString::from(json)),
            Err(e) => RErr(to_ffi(PluginError::failed(format!(
                "cannot encode the answer: {e}"
            )))),
        },
        Ok(Err(error)) => RErr(to_ffi(error)),
        Err(payload) => {
            let message = hooked.unwrap_or_else(|| panic_message(payload.as_ref()));
            let message = message.split_whitespace().collect::<Vec<_>>().join(" ");
            RErr(to_ffi(PluginError::new(ErrorKind::Panicked, message)))
        }
    }
}

fn decode<R: DeserializeOwned>(request: RStr<'_>) -> Result<R, PluginError> {
    serde_json::from_str(request.as_str())
        .map_err(|e| PluginError::invalid_request(format!("cannot read the request: {e}")))
}

fn info_json(kind: PluginKind, name: &str, aliases: &[&str], version: &str, api: u32) -> RString {
    let info = PluginInfo {
        kind,
        name: name.to_string(),
        aliases: names(aliases),
        version: version.to_string(),
        api_version: api,
    };
    RString::from(serde_json::to_string(&info).unwrap_or_default())
}

fn names(aliases: &[&str]) -> Vec<String> {
    aliases.iter().map(|a| a.to_string()).collect()
}

// --- providers ---------------------------------------------------------------------------

/// The manifest: what the plugin declared once, the crate's version, and its capabilities.
extern "C" fn p_manifest<E: Exported<Plugin: ProviderPlugin>>() -> FfiResult {
    guard(|| {
        Ok(ProviderManifest {
            name: E::Plugin::NAME.into(),
            aliases: names(E::Plugin::ALIASES),
            version: E::VERSION.into(),
            description: E::Plugin::DESCRIPTION.into(),
            executable: E::Plugin::EXECUTABLE.into(),
            capabilities: E::plugin().capabilities(),
        })
    })
}

extern "C" fn p_launch_plan<E: Exported<Plugin: ProviderPlugin>>(request: RStr<'_>) -> FfiResult {
    guard(|| E::plugin().launch_plan(&decode(request)?))
}

extern "C" fn p_startup<E: Exported<Plugin: ProviderPlugin>>(screen: RStr<'_>) -> FfiResult {
    guard(|| Ok(E::plugin().handle_startup_prompts(screen.as_str())))
}

extern "C" fn p_capture<E: Exported<Plugin: ProviderPlugin>>(context: RStr<'_>) -> FfiResult {
    guard(|| E::plugin().capture_session_id(&decode(context)?))
}

extern "C" fn p_resumable<E: Exported<Plugin: ProviderPlugin>>(check: RStr<'_>) -> FfiResult {
    guard(|| Ok(E::plugin().session_is_resumable(&decode(check)?)))
}

extern "C" fn p_classify<E: Exported<Plugin: ProviderPlugin>>(screen: RStr<'_>) -> FfiResult {
    guard(|| Ok(E::plugin().classify_screen(screen.as_str())))
}

extern "C" fn p_approval<E: Exported<Plugin: ProviderPlugin>>(request: RStr<'_>) -> FfiResult {
    guard(|| Ok(E::plugin().approval_keys(&decode(request)?)))
}

extern "C" fn p_turn_state<E: Exported<Plugin: ProviderPlugin>>(tail: RStr<'_>) -> FfiResult {
    guard(|| Ok(E::plugin().turn_state(tail.as_str())))
}

extern "C" fn p_submit_keys<E: Exported<Plugin: ProviderPlugin>>() -> FfiResult {
    guard(|| Ok(E::plugin().submit_keys()))
}

extern "C" fn p_fixtures<E: Exported<Plugin: ProviderPlugin>>() -> FfiResult {
    guard(|| Ok(E::plugin().fixtures()))
}

extern "C" fn p_interrupt_keys<E: Exported<Plugin: ProviderPlugin>>() -> FfiResult {
    guard(|| Ok(E::plugin().interrupt_keys()))
}

/// The methods added after the provider table was frozen, by name.
extern "C" fn p_extension<E: Exported<Plugin: ProviderPlugin>>(
    method: RStr<'_>,
    request: RStr<'_>,
) -> FfiResult {
    guard(|| match method.as_str() {
        extension::LEADER_PLAN => json(&E::plugin().leader_plan(&decode(request)?)?),
        extension::TURN_SUMMARY => {
            let tail: String = decode(request)?;
            json(&E::plugin().turn_summary(&tail)?)
        }
        extension::INPUT_BOX => {
            let screen: String = decode(request)?;
            json(&E::plugin().input_box(&screen)?)
        }
        extension::HOOK_EVENT => json(&E::plugin().hook_event(&decode(request)?)?),
        other => Err(unknown_extension(other)),
    })
}

/// An extension's answer as JSON: each method answers its own type, and they meet here.
fn json<T: Serialize>(value: &T) -> Result<serde_json::Value, PluginError> {
    serde_json::to_value(value).map_err(|e| PluginError::failed(e.to_string()))
}

/// A method this library predates: the host falls back to its default.
fn unknown_extension(method: &str) -> PluginError {
    PluginError::unsupported(format!(
        "this plugin does not know the method '{method}' (built against an older team-agent-plugin-api)"
    ))
}

extern "C" fn p_info<E: Exported<Plugin: ProviderPlugin>>() -> RString {
    info_json(
        PluginKind::Provider,
        E::Plugin::NAME,
        E::Plugin::ALIASES,
        E::VERSION,
        E::API_VERSION,
    )
}

pub fn provider_root<E: Exported<Plugin: ProviderPlugin>>() -> PluginRootRef {
    let table = ProviderTable {
        manifest: p_manifest::<E>,
        launch_plan: p_launch_plan::<E>,
        handle_startup_prompts: p_startup::<E>,
        capture_session_id: p_capture::<E>,
        session_is_resumable: p_resumable::<E>,
        classify_screen: p_classify::<E>,
        approval_keys: p_approval::<E>,
        turn_state: p_turn_state::<E>,
        submit_keys: p_submit_keys::<E>,
        fixtures: p_fixtures::<E>,
        interrupt_keys: p_interrupt_keys::<E>,
        extension: p_extension::<E>,
    }
    .leak_into_prefix();
    PluginRoot {
        api_version: E::API_VERSION,
        kind: FfiPluginKind::Provider,
        info: p_info::<E>,
        provider: RSome(table),
        display: RNone,
    }
    .leak_into_prefix()
}

// --- displays ----------------------------------------------------------------------------

#[derive(serde::Deserialize)]
struct RebuildRequest {
    handle: serde_json::Value,
    view: crate::display::TeamView,
}

extern "C" fn d_manifest<E: Exported<Plugin: DisplayPlugin>>() -> FfiResult {
    guard(|| {
        Ok(DisplayManifest {
            name: E::Plugin::NAME.into(),
            aliases: names(E::Plugin::ALIASES),
            version: E::VERSION.into(),
            description: E::Plugin::DESCRIPTION.into(),
        })
    })
}

extern "C" fn d_probe<E: Exported<Plugin: DisplayPlugin>>(environment: RStr<'_>) -> FfiResult {
    guard(|| Ok(E::plugin().probe(&decode(environment)?)))
}

extern "C" fn d_open<E: Exported<Plugin: DisplayPlugin>>(view: RStr<'_>) -> FfiResult {
    guard(|| E::plugin().open(&decode(view)?))
}

extern "C" fn d_close<E: Exported<Plugin: DisplayPlugin>>(handle: RStr<'_>) -> FfiResult {
    guard(|| close_recorded(E::plugin(), &decode(handle)?))
}

extern "C" fn d_rebuild<E: Exported<Plugin: DisplayPlugin>>(request: RStr<'_>) -> FfiResult {
    guard(|| {
        let request: RebuildRequest = decode(request)?;
        rebuild_recorded(E::plugin(), &request.handle, &request.view)
    })
}

/// No display method has been added since the table was frozen.
extern "C" fn d_extension(method: RStr<'_>, _request: RStr<'_>) -> FfiResult {
    guard(|| Err::<(), _>(unknown_extension(method.as_str())))
}

extern "C" fn d_info<E: Exported<Plugin: DisplayPlugin>>() -> RString {
    info_json(
        PluginKind::Display,
        E::Plugin::NAME,
        E::Plugin::ALIASES,
        E::VERSION,
        E::API_VERSION,
    )
}

pub fn display_root<E: Exported<Plugin: DisplayPlugin>>() -> PluginRootRef {
    let table = DisplayTable {
        manifest: d_manifest::<E>,
        probe: d_probe::<E>,
        open: d_open::<E>,
        close: d_close::<E>,
        rebuild: d_rebuild::<E>,
        extension: d_extension,
    }
    .leak_into_prefix();
    PluginRoot {
        api_version: E::API_VERSION,
        kind: FfiPluginKind::Display,
        info: d_info::<E>,
        provider: RNone,
        display: RSome(table),
    }
    .leak_into_prefix()
}
