//! What the tmux-based display plugins (`tmux-overview`, `terminal`) share: the read-only view
//! sessions a display shows workers through, the handle that records them and the `close` and
//! `rebuild` plans made from it, and finding programs on the operator's `PATH`.

pub mod handle;
pub mod programs;
pub mod view_session;
