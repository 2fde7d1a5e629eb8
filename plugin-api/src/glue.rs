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

use crate::ffi::{
    extension, DisplayTable, FfiError, FfiErrorKind, FfiPluginKind, FfiResult, PluginRoot,
    PluginRootRef, ProviderTable,
};
use crate::sdk::{DisplayPlugin, ErrorKind, PluginError, PluginInfo, PluginKind, ProviderPlugin};

/// The one instance of a plugin type, built on first use.
pub trait Instance: Sized + 'static {
    fn instance() -> &'static Self;
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
        aliases: aliases.iter().map(|a| a.to_string()).collect(),
        version: version.to_string(),
        api_version: api,
    };
    RString::from(serde_json::to_string(&info).unwrap_or_default())
}

// --- providers ---------------------------------------------------------------------------

extern "C" fn p_manifest<P: ProviderPlugin + Instance>() -> FfiResult {
    guard(|| Ok(P::instance().manifest()))
}

extern "C" fn p_launch_plan<P: ProviderPlugin + Instance>(request: RStr<'_>) -> FfiResult {
    guard(|| P::instance().launch_plan(&decode(request)?))
}

extern "C" fn p_startup<P: ProviderPlugin + Instance>(screen: RStr<'_>) -> FfiResult {
    guard(|| Ok(P::instance().handle_startup_prompts(screen.as_str())))
}

extern "C" fn p_capture<P: ProviderPlugin + Instance>(context: RStr<'_>) -> FfiResult {
    guard(|| P::instance().capture_session_id(&decode(context)?))
}

extern "C" fn p_resumable<P: ProviderPlugin + Instance>(check: RStr<'_>) -> FfiResult {
    guard(|| Ok(P::instance().session_is_resumable(&decode(check)?)))
}

extern "C" fn p_classify<P: ProviderPlugin + Instance>(screen: RStr<'_>) -> FfiResult {
    guard(|| Ok(P::instance().classify_screen(screen.as_str())))
}

extern "C" fn p_approval<P: ProviderPlugin + Instance>(request: RStr<'_>) -> FfiResult {
    guard(|| Ok(P::instance().approval_keys(&decode(request)?)))
}

extern "C" fn p_turn_state<P: ProviderPlugin + Instance>(tail: RStr<'_>) -> FfiResult {
    guard(|| Ok(P::instance().turn_state(tail.as_str())))
}

extern "C" fn p_submit_keys<P: ProviderPlugin + Instance>() -> FfiResult {
    guard(|| Ok(P::instance().submit_keys()))
}

extern "C" fn p_fixtures<P: ProviderPlugin + Instance>() -> FfiResult {
    guard(|| Ok(P::instance().fixtures()))
}

extern "C" fn p_interrupt_keys<P: ProviderPlugin + Instance>() -> FfiResult {
    guard(|| Ok(P::instance().interrupt_keys()))
}

/// The methods added after the provider table was frozen, by name.
extern "C" fn p_extension<P: ProviderPlugin + Instance>(
    method: RStr<'_>,
    request: RStr<'_>,
) -> FfiResult {
    guard(|| match method.as_str() {
        extension::LEADER_PLAN => json(&P::instance().leader_plan(&decode(request)?)?),
        extension::TURN_SUMMARY => {
            let tail: String = decode(request)?;
            json(&P::instance().turn_summary(&tail)?)
        }
        extension::INPUT_BOX => {
            let screen: String = decode(request)?;
            json(&P::instance().input_box(&screen)?)
        }
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

/// The plugin's version as the export macro saw it (`CARGO_PKG_VERSION` of the plugin crate),
/// stored for `info`. One per library, like the root module itself.
static VERSION: std::sync::OnceLock<&'static str> = std::sync::OnceLock::new();

extern "C" fn p_info<P: ProviderPlugin + Instance>() -> RString {
    let version = VERSION.get().copied().unwrap_or("");
    info_json(
        PluginKind::Provider,
        P::NAME,
        P::ALIASES,
        version,
        api_of_library(),
    )
}

static API: std::sync::OnceLock<u32> = std::sync::OnceLock::new();

fn api_of_library() -> u32 {
    API.get().copied().unwrap_or(crate::ffi::PLUGIN_API_VERSION)
}

pub fn provider_root<P: ProviderPlugin + Instance>(
    api: u32,
    version: &'static str,
) -> PluginRootRef {
    let _ = VERSION.set(version);
    let _ = API.set(api);
    let table = ProviderTable {
        manifest: p_manifest::<P>,
        launch_plan: p_launch_plan::<P>,
        handle_startup_prompts: p_startup::<P>,
        capture_session_id: p_capture::<P>,
        session_is_resumable: p_resumable::<P>,
        classify_screen: p_classify::<P>,
        approval_keys: p_approval::<P>,
        turn_state: p_turn_state::<P>,
        submit_keys: p_submit_keys::<P>,
        fixtures: p_fixtures::<P>,
        interrupt_keys: p_interrupt_keys::<P>,
        extension: p_extension::<P>,
    }
    .leak_into_prefix();
    PluginRoot {
        api_version: api,
        kind: FfiPluginKind::Provider,
        info: p_info::<P>,
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

extern "C" fn d_manifest<D: DisplayPlugin + Instance>() -> FfiResult {
    guard(|| Ok(D::instance().manifest()))
}

extern "C" fn d_probe<D: DisplayPlugin + Instance>(environment: RStr<'_>) -> FfiResult {
    guard(|| Ok(D::instance().probe(&decode(environment)?)))
}

extern "C" fn d_open<D: DisplayPlugin + Instance>(view: RStr<'_>) -> FfiResult {
    guard(|| D::instance().open(&decode(view)?))
}

extern "C" fn d_close<D: DisplayPlugin + Instance>(handle: RStr<'_>) -> FfiResult {
    guard(|| D::instance().close(&decode(handle)?))
}

extern "C" fn d_rebuild<D: DisplayPlugin + Instance>(request: RStr<'_>) -> FfiResult {
    guard(|| {
        let request: RebuildRequest = decode(request)?;
        D::instance().rebuild(&request.handle, &request.view)
    })
}

/// No display method has been added since the table was frozen.
extern "C" fn d_extension(method: RStr<'_>, _request: RStr<'_>) -> FfiResult {
    guard(|| Err::<(), _>(unknown_extension(method.as_str())))
}

extern "C" fn d_info<D: DisplayPlugin + Instance>() -> RString {
    let version = VERSION.get().copied().unwrap_or("");
    info_json(
        PluginKind::Display,
        D::NAME,
        D::ALIASES,
        version,
        api_of_library(),
    )
}

pub fn display_root<D: DisplayPlugin + Instance>(api: u32, version: &'static str) -> PluginRootRef {
    let _ = VERSION.set(version);
    let _ = API.set(api);
    let table = DisplayTable {
        manifest: d_manifest::<D>,
        probe: d_probe::<D>,
        open: d_open::<D>,
        close: d_close::<D>,
        rebuild: d_rebuild::<D>,
        extension: d_extension,
    }
    .leak_into_prefix();
    PluginRoot {
        api_version: api,
        kind: FfiPluginKind::Display,
        info: d_info::<D>,
        provider: RNone,
        display: RSome(table),
    }
    .leak_into_prefix()
}
