/*!
Keeping the real CLIs off the network while they talk to the fake model: a loopback-only network
namespace for the calling thread when the process runs as root. The fake model, the team's tmux
server and every CLI started from that thread afterwards live in it, so `127.0.0.1` reaches the
fake model and nothing else is reachable at all. Without root only the proxy trap (`HTTPS_PROXY`
pointing at the fake model) and the CLIs' own switches stand between them and the network.

Shared by the host's real-CLI tests and the benchmark harness.
*/

/// How the calling thread is kept off the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// A network namespace with only a loopback interface.
    LoopbackNamespace,
    /// Not root: only the proxy trap and the CLIs' switches.
    ProxyTrapOnly,
}

/// Moves the calling thread (and everything it starts from now on) into a new network
/// namespace holding only `lo`, when the process may (root).
///
/// # Panics
///
/// When running as root and the namespace cannot be made or its loopback brought up: the
/// isolation was expected, and going on without it would reach for the network.
pub fn isolate_network() -> Isolation {
    // SAFETY: geteuid(2) takes nothing and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        eprintln!(
            "not root: no network namespace; the proxy trap and the CLIs' switches keep them off the network"
        );
        return Isolation::ProxyTrapOnly;
    }
    // SAFETY: unshare(2) on the calling thread only; no memory is shared with the call.
    if unsafe { libc::unshare(libc::CLONE_NEWNET) } != 0 {
        panic!(
            "running as root, yet unshare(CLONE_NEWNET) failed: {}; the real CLIs need a loopback-only network namespace here",
            std::io::Error::last_os_error()
        );
    }
    bring_up_loopback().expect("the namespace's loopback interface comes up");
    Isolation::LoopbackNamespace
}

/// `ip link set lo up`, by ioctl: a new network namespace starts with `lo` down.
fn bring_up_loopback() -> std::io::Result<()> {
    // SAFETY: a plain datagram socket used for two interface ioctls on a zeroed `ifreq` whose name
    // is NUL-terminated; the socket is closed on every path.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM, 0);
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let mut request: libc::ifreq = std::mem::zeroed();
        for (i, byte) in b"lo\0".iter().enumerate() {
            request.ifr_name[i] = *byte as libc::c_char;
        }
        let mut result = libc::ioctl(fd, libc::SIOCGIFFLAGS, &mut request);
        if result == 0 {
            request.ifr_ifru.ifru_flags |= libc::IFF_UP as libc::c_short;
            result = libc::ioctl(fd, libc::SIOCSIFFLAGS, &request);
        }
        let error = std::io::Error::last_os_error();
        libc::close(fd);
        if result != 0 {
            return Err(error);
        }
    }
    Ok(())
}
