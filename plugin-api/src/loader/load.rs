//! Loading one plugin file: safety checks before `dlopen`, then layout and version checks.

use std::fmt;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use abi_stable::library::{lib_header_from_path, LibraryError, RootModuleError};

use crate::ffi::{FfiPluginKind, PluginRootRef, PLUGIN_API_VERSION};
use crate::loader::PluginStatus;
use crate::sdk::{PluginInfo, PluginKind};

/// Why a file could not be used as a plugin. Each renders as one line naming the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoadError {
    Missing {
        path: PathBuf,
    },
    NotSharedLibrary {
        path: PathBuf,
        detail: String,
    },
    NotAPlugin {
        path: PathBuf,
    },
    IncompatibleApi {
        path: PathBuf,
        plugin_api: u32,
        host_api: u32,
    },
    IncompatibleAbi {
        path: PathBuf,
        detail: String,
    },
    WorldWritable {
        path: PathBuf,
    },
    WorldWritableDir {
        path: PathBuf,
        dir: PathBuf,
    },
    InvalidInfo {
        path: PathBuf,
        detail: String,
    },
    LoaderPanicked {
        path: PathBuf,
    },
    /// Set by the registry: another plugin found earlier claims the same name.
    DuplicateName {
        path: PathBuf,
        name: String,
        other: PathBuf,
    },
}

impl LoadError {
    /// The status `plugins list` shows for a file that failed this way.
    pub fn status(&self) -> PluginStatus {
        match self {
            Self::IncompatibleApi { .. } | Self::IncompatibleAbi { .. } => {
                PluginStatus::Incompatible
            }
            Self::WorldWritable { .. } | Self::WorldWritableDir { .. } => PluginStatus::Refused,
            Self::LoaderPanicked { .. } => PluginStatus::Faulted,
            Self::Missing { .. }
            | Self::NotSharedLibrary { .. }
            | Self::NotAPlugin { .. }
            | Self::InvalidInfo { .. }
            | Self::DuplicateName { .. } => PluginStatus::Invalid,
        }
    }

    pub fn path(&self) -> &Path {
        match self {
            Self::Missing { path }
            | Self::NotSharedLibrary { path, .. }
            | Self::NotAPlugin { path }
            | Self::IncompatibleApi { path, .. }
            | Self::IncompatibleAbi { path, .. }
            | Self::WorldWritable { path }
            | Self::WorldWritableDir { path, .. }
            | Self::InvalidInfo { path, .. }
            | Self::LoaderPanicked { path }
            | Self::DuplicateName { path, .. } => path,
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Missing { path } => write!(f, "{}: no such file", path.display()),
            Self::NotSharedLibrary { path, detail } => {
                write!(f, "{}: not a shared library ({detail})", path.display())
            }
            Self::NotAPlugin { path } => write!(
                f,
                "{}: a shared library, but not a team-agent plugin (it exports no team-agent root module)",
                path.display()
            ),
            Self::IncompatibleApi {
                path,
                plugin_api,
                host_api,
            } => write!(
                f,
                "{}: built against plugin API version {plugin_api}, but this team-agent supports plugin API version {host_api}; rebuild the plugin against a matching team-agent-plugin-api",
                path.display()
            ),
            Self::IncompatibleAbi { path, detail } => write!(
                f,
                "{}: incompatible plugin ABI ({detail}); rebuild the plugin against this team-agent's team-agent-plugin-api",
                path.display()
            ),
            Self::WorldWritable { path } => write!(
                f,
                "{}: refused: the file is world-writable, so anyone could replace it (chmod o-w '{}')",
                path.display(),
                path.display()
            ),
            Self::WorldWritableDir { path, dir } => write!(
                f,
                "{}: refused: the directory {} is world-writable without the sticky bit, so anyone could swap what is below it (chmod o-w '{}')",
                path.display(),
                dir.display(),
                dir.display()
            ),
            Self::InvalidInfo { path, detail } => {
                write!(
                    f,
                    "{}: invalid plugin description: {detail}",
                    path.display()
                )
            }
            Self::LoaderPanicked { path } => {
                write!(f, "{}: the plugin panicked while loading", path.display())
            }
            Self::DuplicateName { path, name, other } => write!(
                f,
                "{}: plugin name '{name}' is already claimed by {} (found earlier); remove one of them",
                path.display(),
                other.display()
            ),
        }
    }
}

impl std::error::Error for LoadError {}

/// A plugin library loaded into this process (libraries are never unloaded).
pub struct LoadedPlugin {
    pub path: PathBuf,
    pub info: PluginInfo,
    pub(crate) root: PluginRootRef,
    /// Set once, by the first panic: every call reads it, so it is a lock-free cell.
    fault: OnceLock<String>,
    /// The threads its calls run on.
    pub(crate) lanes: super::lanes::Lanes,
}

impl fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("path", &self.path)
            .field("info", &self.info)
            .field("fault", &self.fault())
            .finish()
    }
}

impl LoadedPlugin {
    /// The first panic this plugin reported, if any.
    pub fn fault(&self) -> Option<String> {
        self.fault.get().cloned()
    }

    pub fn status(&self) -> PluginStatus {
        if self.fault().is_some() {
            PluginStatus::Faulted
        } else {
            PluginStatus::Ok
        }
    }

    /// Keeps the first panic; later ones change nothing.
    pub(crate) fn record_fault(&self, message: String) {
        let _ = self.fault.set(message);
    }

    /// Every name this plugin answers to.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.info.name.as_str()).chain(self.info.aliases.iter().map(String::as_str))
    }
}

/// Loads one plugin file with every check: safety of the file and its directory, that it is a
/// shared library, that it is a team-agent plugin, the abi_stable layout, and the plugin API
/// version.
pub fn load(path: &Path) -> Result<LoadedPlugin, LoadError> {
    check_file(path)?;
    let header = lib_header_from_path(path).map_err(|e| library_error(path, e))?;
    let root = header
        .init_root_module::<PluginRootRef>()
        .map_err(|e| library_error(path, e))?;
    let plugin_api = root.api_version();
    if plugin_api != PLUGIN_API_VERSION {
        return Err(LoadError::IncompatibleApi {
            path: path.to_path_buf(),
            plugin_api,
            host_api: PLUGIN_API_VERSION,
        });
    }
    let info = read_info(path, root)?;
    Ok(LoadedPlugin {
        path: path.to_path_buf(),
        info,
        root,
        fault: OnceLock::new(),
        lanes: super::lanes::Lanes::default(),
    })
}

fn check_file(path: &Path) -> Result<(), LoadError> {
    let meta = std::fs::metadata(path).map_err(|_| LoadError::Missing {
        path: path.to_path_buf(),
    })?;
    if !meta.is_file() {
        return Err(LoadError::NotSharedLibrary {
            path: path.to_path_buf(),
            detail: "it is not a regular file".into(),
        });
    }
    if meta.permissions().mode() & 0o002 != 0 {
        return Err(LoadError::WorldWritable {
            path: path.to_path_buf(),
        });
    }
    // Every directory above the file, as ssh checks its keys: anyone who may rename an entry of
    // a world-writable directory without the sticky bit can put their own library in place.
    let real = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    for dir in real.ancestors().skip(1) {
        if let Ok(dir_meta) = std::fs::metadata(dir) {
            let mode = dir_meta.permissions().mode();
            if mode & 0o002 != 0 && mode & 0o1000 == 0 {
                return Err(LoadError::WorldWritableDir {
                    path: path.to_path_buf(),
                    dir: dir.to_path_buf(),
                });
            }
        }
    }
    let mut magic = [0u8; 4];
    let read = std::fs::File::open(path)
        .and_then(|mut f| f.read(&mut magic))
        .map_err(|e| LoadError::NotSharedLibrary {
            path: path.to_path_buf(),
            detail: e.to_string(),
        })?;
    const MACHO: [[u8; 4]; 4] = [
        [0xfe, 0xed, 0xfa, 0xce],
        [0xfe, 0xed, 0xfa, 0xcf],
        [0xce, 0xfa, 0xed, 0xfe],
        [0xcf, 0xfa, 0xed, 0xfe],
    ];
    if read < 4 || (magic != *b"\x7fELF" && !MACHO.contains(&magic)) {
        return Err(LoadError::NotSharedLibrary {
            path: path.to_path_buf(),
            detail: "it is not an ELF or Mach-O file".into(),
        });
    }
    Ok(())
}

fn library_error(path: &Path, error: LibraryError) -> LoadError {
    let path = path.to_path_buf();
    match error {
        LibraryError::OpenError { err, .. } => LoadError::NotSharedLibrary {
            path,
            detail: one_line(&err.to_string()),
        },
        LibraryError::GetSymbolError { .. } => LoadError::NotAPlugin { path },
        LibraryError::IncompatibleVersionNumber {
            expected_version,
            actual_version,
            ..
        } => LoadError::IncompatibleAbi {
            path,
            detail: format!(
                "built against team-agent-plugin-api {actual_version}, this team-agent expects {expected_version}"
            ),
        },
        LibraryError::RootModule {
            err: RootModuleError::Unwound,
            ..
        } => LoadError::LoaderPanicked { path },
        LibraryError::AbiInstability(detail) => LoadError::IncompatibleAbi {
            path,
            detail: format!(
                "the root module's layout differs: {}",
                first_line(&detail.to_string())
            ),
        },
        LibraryError::InvalidAbiHeader(header) => LoadError::IncompatibleAbi {
            path,
            detail: format!("built with another abi_stable ABI ({header:?})"),
        },
        other => LoadError::InvalidInfo {
            path,
            detail: one_line(&other.to_string()),
        },
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn first_line(text: &str) -> String {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}

fn read_info(path: &Path, root: PluginRootRef) -> Result<PluginInfo, LoadError> {
    let invalid = |detail: String| LoadError::InvalidInfo {
        path: path.to_path_buf(),
        detail,
    };
    let json = (root.info())();
    let info: PluginInfo = serde_json::from_str(json.as_str())
        .map_err(|e| invalid(format!("cannot read its name and version: {e}")))?;
    let declared = match root.kind() {
        FfiPluginKind::Provider => PluginKind::Provider,
        FfiPluginKind::Display => PluginKind::Display,
    };
    if info.kind != declared {
        return Err(invalid(format!(
            "it declares kind {} but describes itself as {}",
            declared.as_str(),
            info.kind.as_str()
        )));
    }
    for name in std::iter::once(&info.name).chain(&info.aliases) {
        if !valid_name(name) {
            return Err(invalid(format!(
                "name '{name}' must be lowercase letters, digits, '-' or '_'"
            )));
        }
    }
    let has_table = match declared {
        PluginKind::Provider => root.provider().is_some(),
        PluginKind::Display => root.display().is_some(),
    };
    if !has_table {
        return Err(invalid(format!("it has no {} methods", declared.as_str())));
    }
    Ok(info)
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}
