//! The limits' series for `GET /metrics`, in the Prometheus text format the
//! API's other series use.

use super::shield::Shield;
use std::fmt::Write;

/// Most peers listed by `wago_peer_connections`.
pub const MAX_PEERS_LISTED: usize = 32;

impl Shield {
    /// Appends connections (in all and per peer), refusals by reason,
    /// connections closed to make room by reason, open event streams, and
    /// whether the server is under pressure.
    pub fn write_metrics(&self, t: &mut String) {
        let head = |t: &mut String, name: &str, kind: &str, help: &str| {
            let _ = writeln!(t, "# HELP {name} {help}\n# TYPE {name} {kind}");
        };
        head(t, "wago_connections", "gauge", "HTTP connections open.");
        let _ = writeln!(t, "wago_connections {}", self.open());
        head(
            t,
            "wago_peer_connections",
            "gauge",
            "HTTP connections open per peer address (the 32 holding most).",
        );
        for (ip, n) in self.peers().into_iter().take(MAX_PEERS_LISTED) {
            let _ = writeln!(t, "wago_peer_connections{{peer=\"{ip}\"}} {n}");
        }
        head(
            t,
            "wago_limit_refusals_total",
            "counter",
            "Connections closed at accept and requests answered 429 (or 408), by limit.",
        );
        for (r, n) in self.refused() {
            let _ = writeln!(
                t,
                "wago_limit_refusals_total{{reason=\"{}\"}} {n}",
                r.label()
            );
        }
        head(
            t,
            "wago_connections_shed_total",
            "counter",
            "Open connections closed to make room, by reason.",
        );
        for (l, n) in self.shed_counts() {
            let _ = writeln!(t, "wago_connections_shed_total{{reason=\"{l}\"}} {n}");
        }
        head(t, "wago_event_streams", "gauge", "Event streams open.");
        let _ = writeln!(t, "wago_event_streams {}", self.streams_open());
        head(
            t,
            "wago_server_under_pressure",
            "gauge",
            "1 while connections are above limits.pressure_percent of limits.max_connections.",
        );
        let _ = writeln!(
            t,
            "wago_server_under_pressure {}",
            u8::from(self.under_pressure())
        );
    }
}
