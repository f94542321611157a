//! The table of open connections: who holds them, which are idle, and
//! which one to close when there is no room.
//!
//! Pure bookkeeping under one lock, no I/O: closing a connection means
//! waking its `kick` (its task then drops the socket) and forgetting it here
//! at once, so the counts are right before the task gets to run. Holds at
//! most `max_connections` entries; every scan is linear over them. Those
//! closed but not yet dropped are counted too: with them, no more than
//! 1.25 × `max_connections` sockets are ever open (the fd bound). A peer
//! that reconnects faster than its recycled connections' tasks drop them
//! (a connect storm on a busy box) is refused once it has a whole
//! `peer_connections` of them still closing, so it alone never fills that
//! bound and locks the other peers out.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Notify;

/// How long a connection must have waited for its next request before it
/// counts as idle and may be closed for someone else's new one: a fresh
/// connection whose request is on its way is never taken for an idle one,
/// however fast others reconnect.
pub const IDLE_AFTER: Duration = Duration::from_millis(500);

/// One connection's number in the table.
pub type ConnId = u64;

/// The caps the table enforces (from `[limits]`).
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    /// Most connections at once.
    pub max: usize,
    /// Most connections of one peer address.
    pub peer: usize,
    /// Connections only local peers may use (and extra room per local peer).
    pub local_reserved: usize,
    /// Connections open above which the server is under pressure.
    pub high_water: usize,
}

/// Why a new connection was closed at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Its peer has `peer_connections` open, none of them idle.
    PeerConnections,
    /// The server is full and no other peer holds more.
    MaxConnections,
}

/// Why an open connection was closed to make room.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shed {
    /// The same peer's oldest idle connection, for its new one.
    PeerIdle,
    /// The oldest idle connection of anyone, under pressure.
    Idle,
    /// A connection of the peer holding the most, the server being full.
    BusiestPeer,
    /// Idle or sending headers longer than allowed under pressure.
    Slow,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// No request in progress: fresh, idle keep-alive, or headers arriving.
    Waiting,
    /// A request is being read, handled or answered (an event stream too).
    Busy,
}

struct Entry {
    ip: IpAddr,
    phase: Phase,
    /// When the current phase began.
    since: Instant,
    kick: Arc<Notify>,
}

/// Whether `ip` is the box itself (127.0.0.1 or ::1): the display and
/// `wago pair`. Other 127.x addresses count as ordinary peers.
pub fn is_local(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4 == std::net::Ipv4Addr::LOCALHOST,
        IpAddr::V6(v6) => {
            v6.is_loopback() || v6.to_ipv4_mapped() == Some(std::net::Ipv4Addr::LOCALHOST)
        }
    }
}

/// Counts one less for `ip` in `counts`, dropping it at zero.
fn forget(counts: &mut HashMap<IpAddr, usize>, ip: IpAddr) {
    if let Some(n) = counts.get_mut(&ip) {
        *n -= 1;
        if *n == 0 {
            counts.remove(&ip);
        }
    }
}

/// The open connections.
#[derive(Default)]
pub struct Table {
    entries: HashMap<ConnId, Entry>,
    peers: HashMap<IpAddr, usize>,
    /// Kicked connections whose task has not dropped the socket yet (they
    /// still hold a file descriptor), and whose they were.
    closing: HashMap<ConnId, IpAddr>,
    /// Those per peer.
    closing_peers: HashMap<IpAddr, usize>,
    next: ConnId,
}

impl Table {
    /// Connections open now.
    pub fn open(&self) -> usize {
        self.entries.len()
    }

    /// Connections open now of `ip`.
    pub fn count(&self, ip: IpAddr) -> usize {
        self.peers.get(&ip).copied().unwrap_or(0)
    }

    /// Peers and their open connections, most first.
    pub fn peers(&self) -> Vec<(IpAddr, usize)> {
        let mut v: Vec<_> = self.peers.iter().map(|(ip, n)| (*ip, *n)).collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
        v
    }

    /// Admits a new connection of `ip`, closing others to make room as the
    /// caps say. Returns its id and kick, and what was closed for it.
    #[allow(clippy::type_complexity)]
    pub fn admit(
        &mut self,
        ip: IpAddr,
        now: Instant,
        caps: &Caps,
    ) -> Result<(ConnId, Arc<Notify>, Vec<Shed>), (Refusal, Vec<Shed>)> {
        let mut shed = Vec::new();
        // Sockets being closed still count towards the fd bound.
        if self.open() + self.closing.len() >= caps.max + caps.max / 4 {
            return Err((Refusal::MaxConnections, shed));
        }
        let local = is_local(ip);
        let peer_cap = caps.peer + if local { caps.local_reserved } else { 0 };
        if self.count(ip) >= peer_cap {
            // Recycling its own faster than they close: no more sockets.
            if self.closing_of(ip) >= peer_cap {
                return Err((Refusal::PeerConnections, shed));
            }
            match self.oldest(|e| e.ip == ip && e.phase == Phase::Waiting) {
                Some(id) => {
                    self.kick(id);
                    shed.push(Shed::PeerIdle);
                }
                None => return Err((Refusal::PeerConnections, shed)),
            }
        }
        // Under pressure every new connection closes the oldest idle one,
        // so room is made before the cap is reached.
        if self.open() >= caps.high_water
            && let Some(id) = self.oldest(|e| {
                e.phase == Phase::Waiting && now.saturating_duration_since(e.since) >= IDLE_AFTER
            })
        {
            self.kick(id);
            shed.push(Shed::Idle);
        }
        let cap = if local {
            caps.max
        } else {
            caps.max.saturating_sub(caps.local_reserved)
        };
        if self.open() >= cap {
            let mine = self.count(ip);
            // A peer that is not local cannot take the local peers' share.
            let busiest = self
                .peers()
                .into_iter()
                .find(|(p, _)| local || !is_local(*p));
            match busiest {
                Some((peer, n)) if peer != ip && n > mine + 1 => {
                    let id = self
                        .oldest(|e| e.ip == peer && e.phase == Phase::Waiting)
                        .or_else(|| self.oldest(|e| e.ip == peer));
                    if let Some(id) = id {
                        self.kick(id);
                        shed.push(Shed::BusiestPeer);
                    }
                }
                _ => return Err((Refusal::MaxConnections, shed)),
            }
        }
        let id = self.next;
        self.next += 1;
        let kick = Arc::new(Notify::new());
        self.entries.insert(
            id,
            Entry {
                ip,
                phase: Phase::Waiting,
                since: now,
                kick: kick.clone(),
            },
        );
        *self.peers.entry(ip).or_default() += 1;
        Ok((id, kick, shed))
    }

    /// Under pressure, closes connections that waited longer than `limit`
    /// for their next request (idle, or trickling headers). Returns how many.
    pub fn sweep(&mut self, now: Instant, limit: Duration, caps: &Caps) -> usize {
        if self.open() < caps.high_water {
            return 0;
        }
        let stale: Vec<ConnId> = self
            .entries
            .iter()
            .filter(|(_, e)| e.phase == Phase::Waiting && now.duration_since(e.since) > limit)
            .map(|(id, _)| *id)
            .collect();
        for id in &stale {
            self.kick(*id);
        }
        stale.len()
    }

    /// A request began on `id`.
    pub fn begin(&mut self, id: ConnId, now: Instant) {
        self.set(id, Phase::Busy, now);
    }

    /// The request on `id` was answered; it waits for the next one.
    pub fn end(&mut self, id: ConnId, now: Instant) {
        self.set(id, Phase::Waiting, now);
    }

    fn set(&mut self, id: ConnId, phase: Phase, now: Instant) {
        if let Some(e) = self.entries.get_mut(&id) {
            e.phase = phase;
            e.since = now;
        }
    }

    /// Forgets `id` (its task ended). Nothing happens if it was kicked.
    pub fn remove(&mut self, id: ConnId) {
        if let Some(e) = self.entries.remove(&id) {
            forget(&mut self.peers, e.ip);
        } else if let Some(ip) = self.closing.remove(&id) {
            forget(&mut self.closing_peers, ip);
        }
    }

    /// Kicked connections of `ip` still closing.
    fn closing_of(&self, ip: IpAddr) -> usize {
        self.closing_peers.get(&ip).copied().unwrap_or(0)
    }

    fn kick(&mut self, id: ConnId) {
        if let Some(e) = self.entries.remove(&id) {
            e.kick.notify_one();
            forget(&mut self.peers, e.ip);
            self.closing.insert(id, e.ip);
            *self.closing_peers.entry(e.ip).or_default() += 1;
        }
    }

    fn oldest(&self, pred: impl Fn(&Entry) -> bool) -> Option<ConnId> {
        self.entries
            .iter()
            .filter(|(_, e)| pred(e))
            .min_by_key(|(id, e)| (e.since, **id))
            .map(|(id, _)| *id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPS: Caps = Caps {
        max: 10,
        peer: 4,
        local_reserved: 2,
        high_water: 8,
    };

    fn ip(last: u8) -> IpAddr {
        IpAddr::from([127, 0, 0, last])
    }

    fn t(ms: u64, base: Instant) -> Instant {
        base + Duration::from_millis(ms)
    }

    #[test]
    fn a_peer_at_its_cap_recycles_its_oldest_idle_connection() {
        let base = Instant::now();
        let mut tb = Table::default();
        let mut ids = Vec::new();
        for i in 0..4 {
            ids.push(tb.admit(ip(2), t(i, base), &CAPS).expect("admit").0);
        }
        // The oldest is busy: the second-oldest idle one goes.
        tb.begin(ids[0], t(5, base));
        let (_, _, shed) = tb.admit(ip(2), t(10, base), &CAPS).expect("admit");
        assert_eq!(shed, vec![Shed::PeerIdle]);
        assert_eq!(tb.count(ip(2)), 4);
        assert!(tb.entries.contains_key(&ids[0]), "busy one kept");
        assert!(!tb.entries.contains_key(&ids[1]), "oldest idle one closed");
        // All busy: the new one is refused.
        let busy: Vec<ConnId> = tb.entries.keys().copied().collect();
        for id in busy {
            tb.begin(id, t(20, base));
        }
        let err = tb.admit(ip(2), t(30, base), &CAPS).expect_err("refused");
        assert_eq!(err.0, Refusal::PeerConnections);
        // Another peer still gets in.
        tb.admit(ip(3), t(30, base), &CAPS).expect("other peer");
    }

    #[test]
    fn full_server_sheds_idle_then_the_busiest_peer_and_keeps_the_local_share() {
        let base = Instant::now();
        let mut tb = Table::default();
        // Peer .2 takes 4 (busy), .3 takes 4 (busy): 8 = high water, 8 = non-local cap.
        for (n, p) in [
            (0u64, 2u8),
            (1, 2),
            (2, 2),
            (3, 2),
            (4, 3),
            (5, 3),
            (6, 3),
            (7, 3),
        ] {
            let (id, _, _) = tb.admit(ip(p), t(n, base), &CAPS).expect("admit");
            tb.begin(id, t(n, base));
        }
        // .3 and .2 hold 4 each, the newcomer .4 none: one of the busiest goes.
        let (_, _, shed) = tb.admit(ip(4), t(10, base), &CAPS).expect("admit");
        assert_eq!(shed, vec![Shed::BusiestPeer]);
        assert_eq!(tb.open(), 8);
        // A peer with as many as the busiest is refused instead.
        let (id, _, _) = tb.admit(ip(4), t(11, base), &CAPS).expect("admit");
        tb.begin(id, t(11, base));
        let mut refused = 0;
        for n in 0..3 {
            match tb.admit(ip(4), t(20 + n, base), &CAPS) {
                Ok((id, _, _)) => tb.begin(id, t(20 + n, base)),
                Err((r, _)) => {
                    assert_eq!(r, Refusal::MaxConnections);
                    refused += 1;
                }
            }
        }
        assert!(refused > 0, "fairness stops at equal shares");
        // 127.0.0.1 still gets the reserved share above the non-local cap.
        let before = tb.open();
        for n in 0..2 {
            let (id, _, _) = tb.admit(ip(1), t(30 + n, base), &CAPS).expect("local");
            tb.begin(id, t(30 + n, base));
        }
        assert_eq!(tb.open(), before + 2);
    }

    #[test]
    fn an_idle_connection_goes_before_anyones_busy_one() {
        let base = Instant::now();
        let mut tb = Table::default();
        let mut idle = None;
        for n in 0..8u64 {
            let p = if n < 4 { 2 } else { 3 };
            let (id, _, _) = tb.admit(ip(p), t(n, base), &CAPS).expect("admit");
            if n == 6 {
                idle = Some(id);
            } else {
                tb.begin(id, t(n, base));
            }
        }
        let idle = idle.expect("idle");
        // Waiting a few ms is not idle yet: its request may be on its way.
        let (young, _, shed) = tb.admit(ip(4), t(10, base), &CAPS).expect("admit");
        assert_eq!(shed, vec![Shed::BusiestPeer]);
        assert!(tb.entries.contains_key(&idle));
        tb.begin(young, t(10, base));
        // Past IDLE_AFTER it goes first.
        let (_, _, shed) = tb.admit(ip(5), t(1000, base), &CAPS).expect("admit");
        assert_eq!(shed, vec![Shed::Idle]);
        assert!(!tb.entries.contains_key(&idle));
        assert_eq!(tb.open(), 8);
    }

    #[test]
    fn sweep_closes_long_waiters_only_under_pressure() {
        let base = Instant::now();
        let mut tb = Table::default();
        for n in 0..4 {
            tb.admit(ip(2), t(n, base), &CAPS).expect("admit");
            tb.admit(ip(3), t(n, base), &CAPS).expect("admit");
        }
        let busy = tb.admit(ip(4), t(0, base), &CAPS).expect("admit").0;
        tb.begin(busy, t(0, base));
        let before = tb.open();
        assert!(before >= CAPS.high_water);
        let swept = tb.sweep(t(5000, base), Duration::from_secs(2), &CAPS);
        assert_eq!(swept, before - 1, "all but the busy one");
        assert_eq!(tb.open(), 1);
        assert_eq!(tb.sweep(t(9000, base), Duration::from_secs(2), &CAPS), 0);
    }

    #[test]
    fn sockets_still_closing_count_towards_the_fd_bound() {
        let base = Instant::now();
        let mut tb = Table::default();
        // Peers .2 to .5 connect a second apart; under pressure each new
        // connection closes the oldest idle one, and the kicked tasks have
        // not run yet.
        let mut first = Vec::new();
        for n in 0..40u64 {
            let p = 2 + (n % 4) as u8;
            match tb.admit(ip(p), t(n * 1000, base), &CAPS) {
                Ok((id, _, _)) => first.push(id),
                Err((r, _)) => {
                    assert_eq!(r, Refusal::MaxConnections);
                    assert_eq!(tb.open() + tb.closing.len(), CAPS.max + CAPS.max / 4);
                    // Once the kicked tasks drop their sockets, room again.
                    for id in first.drain(..) {
                        tb.remove(id);
                    }
                    assert!(tb.closing.is_empty() && tb.closing_peers.is_empty());
                    tb.admit(ip(2), t(n * 1000, base), &CAPS)
                        .expect("room again");
                    return;
                }
            }
        }
        panic!("never refused");
    }

    #[test]
    fn a_peer_recycling_faster_than_its_sockets_close_is_refused_alone() {
        let base = Instant::now();
        let mut tb = Table::default();
        let mut refused = 0;
        for n in 0..40u64 {
            match tb.admit(ip(2), t(n, base), &CAPS) {
                Ok(_) => {}
                Err((r, shed)) => {
                    assert_eq!(r, Refusal::PeerConnections);
                    assert!(shed.is_empty(), "nothing more closed for it");
                    refused += 1;
                }
            }
        }
        // Its cap open and as many closing: the rest refused.
        assert_eq!(tb.count(ip(2)), CAPS.peer);
        assert_eq!(tb.closing_of(ip(2)), CAPS.peer);
        assert_eq!(refused, 40 - 2 * CAPS.peer);
        // Far from the fd bound: another peer still gets in.
        assert!(tb.open() + tb.closing.len() < CAPS.max + CAPS.max / 4);
        tb.admit(ip(3), t(50, base), &CAPS).expect("another peer");
    }

    #[test]
    fn only_the_box_itself_is_local() {
        assert!(is_local(ip(1)));
        assert!(!is_local(ip(2)));
        assert!(is_local("::1".parse().expect("ip")));
        assert!(is_local("::ffff:127.0.0.1".parse().expect("ip")));
        assert!(!is_local("192.168.1.5".parse().expect("ip")));
    }
}
