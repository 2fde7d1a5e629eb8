//! team-agent: lead a team of AI coding-agent CLIs from one leader agent, over tmux.
//!
//! The binary is thin glue over these modules (docs/ARCHITECTURE.md §4); each opens with what it owns.

pub mod cli;
pub mod coordinator;
pub mod daemon;
pub mod display;
pub mod doctor;
pub mod events;
pub mod leader;
pub mod lifecycle;
pub mod mcp;
pub mod messaging;
pub mod plugins;
pub mod process;
pub mod session;
pub mod spec;
pub mod state;
pub mod store;
pub mod tmux;
pub mod workspace;
