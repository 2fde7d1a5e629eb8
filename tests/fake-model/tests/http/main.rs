/*!
The fake model over real HTTP on 127.0.0.1: curl (which checks the chunked framing) and raw
sockets as the clients, request bodies shaped like Claude Code's and Codex's.
*/

mod anthropic;
mod recording;
mod responses;
mod streaming;
mod support;
