//! What the tmux-based display plugins (`tmux-overview`, `terminal`) share: the read-only view
//! sessions a display shows workers through, and finding programs on the operator's `PATH`.

pub mod programs;
pub mod view_session;
