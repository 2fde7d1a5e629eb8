//! team-agent: lead a team of AI coding-agent CLIs from one leader agent, over tmux.
//!
//! The binary is thin glue over these modules (docs/ARCHITECTURE.md §4); each opens with what it owns.
//! The library's API is only what the binaries and the integration tests use (`cli::main`,
//! `daemon::standalone_main`, the state store, the event log, the workspace, spec loading);
//! everything else is crate-private, so the compiler reports what nothing uses.

pub mod cli;
pub(crate) mod coordinator;
pub mod daemon;
pub(crate) mod dash;
pub(crate) mod display;
pub(crate) mod doctor;
pub(crate) mod error;
pub mod events;
pub(crate) mod git;
pub(crate) mod hooks;
pub(crate) mod leader;
pub(crate) mod lifecycle;
pub(crate) mod mcp;
pub(crate) mod messaging;
pub mod notify;
pub(crate) mod operator;
pub(crate) mod plugins;
pub(crate) mod process;
pub(crate) mod session;
pub mod spec;
pub mod state;
pub(crate) mod store;
pub(crate) mod tmux;
pub mod worker_side;
pub mod workspace;
