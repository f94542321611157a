//! What the button does: debounced presses start pairing when the box is
//! not linked, and otherwise cycle through the screens for a while.
//!
//! Pure logic over an event stream, so it is tested without hardware; the
//! GPIO character device that produces the events is [`super::gpio`].

use super::model::{DisplayState, DisplayStatus};
use super::screens::{Screen, pick, problems};

/// Presses closer together than this are contact bounce.
pub const DEBOUNCE_NS: u64 = 200_000_000;
/// How long a screen chosen by the button stays before the automatic one returns.
pub const OVERRIDE_MS: i64 = 20_000;

/// One edge from the button line (after active-low inversion: press = pushed down).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// Pushed, at a kernel timestamp in ns.
    Press(u64),
    /// Let go.
    Release(u64),
}

/// What a press does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Ask the gateway to start pairing.
    StartPairing,
    /// Show the next screen.
    NextScreen,
}

/// Drops bounces.
#[derive(Debug, Default)]
pub struct Debouncer {
    last_press: Option<u64>,
}

impl Debouncer {
    /// Whether `e` is a real press.
    pub fn accept(&mut self, e: Edge) -> bool {
        let Edge::Press(at) = e else {
            return false;
        };
        if let Some(last) = self.last_press
            && at.saturating_sub(last) < DEBOUNCE_NS
        {
            return false;
        }
        self.last_press = Some(at);
        true
    }
}

/// The action a press takes given the status (`None`: the gateway is not answering).
pub fn action_for(status: Option<&DisplayStatus>) -> Option<Action> {
    let s = status?;
    match s.state {
        DisplayState::LoggedOut | DisplayState::Failed => Some(Action::StartPairing),
        DisplayState::Disconnected if s.phone.is_none() => Some(Action::StartPairing),
        DisplayState::NoSession => None,
        _ => Some(Action::NextScreen),
    }
}

/// The screen shown: automatic, or the one the button chose until it times out.
#[derive(Debug, Default)]
pub struct ScreenChoice {
    chosen: Option<(Screen, i64)>,
}

impl ScreenChoice {
    /// The screen to draw now.
    pub fn current(&mut self, status: Option<&DisplayStatus>, now: i64) -> Screen {
        match self.chosen {
            Some((s, until)) if now < until && status.is_some() => s,
            _ => {
                self.chosen = None;
                pick(status)
            }
        }
    }

    /// Moves to the next screen that has something to show.
    pub fn next(&mut self, status: Option<&DisplayStatus>, now: i64) {
        let Some(s) = status else { return };
        let mut order = vec![pick(Some(s))];
        if s.phone.is_some() && !order.contains(&Screen::Connected) {
            order.push(Screen::Connected);
        }
        if !problems(s).is_empty() && !order.contains(&Screen::Problems) {
            order.push(Screen::Problems);
        }
        let cur = self.current(status, now);
        let i = order.iter().position(|x| *x == cur).unwrap_or(0);
        let next = order[(i + 1) % order.len()];
        self.chosen = (next != order[0]).then_some((next, now + OVERRIDE_MS));
    }
}

/// The button as the run loop sees it: edges in, at most one gateway call out.
#[derive(Debug, Default)]
pub struct ButtonState {
    debounce: Debouncer,
    /// The screen shown (automatic or chosen by presses).
    pub choice: ScreenChoice,
}

impl ButtonState {
    /// Handles one edge given the current status; cycles screens itself and
    /// returns [`Action::StartPairing`] when the loop must ask the gateway.
    pub fn on_edge(&mut self, e: Edge, status: Option<&DisplayStatus>, now: i64) -> Option<Action> {
        if !self.debounce.accept(e) {
            return None;
        }
        match action_for(status)? {
            Action::NextScreen => {
                self.choice.next(status, now);
                None
            }
            Action::StartPairing => Some(Action::StartPairing),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(state: DisplayState, phone: Option<&str>) -> DisplayStatus {
        let mut s = DisplayStatus::empty(state, 0);
        s.phone = phone.map(str::to_string);
        s
    }

    #[test]
    fn bounces_and_releases_are_not_presses() {
        let mut d = Debouncer::default();
        let ms = 1_000_000;
        let events = [
            (Edge::Press(0), true),
            (Edge::Release(5 * ms), false),
            (Edge::Press(20 * ms), false),
            (Edge::Press(199 * ms), false),
            (Edge::Press(450 * ms), true),
            (Edge::Press(500 * ms), false),
            (Edge::Press(900 * ms), true),
        ];
        for (i, (e, want)) in events.into_iter().enumerate() {
            assert_eq!(d.accept(e), want, "event {i}: {e:?}");
        }
    }

    #[test]
    fn a_press_pairs_when_unlinked_and_cycles_otherwise() {
        let cases = [
            (
                st(DisplayState::LoggedOut, None),
                Some(Action::StartPairing),
            ),
            (st(DisplayState::Failed, None), Some(Action::StartPairing)),
            (
                st(DisplayState::Disconnected, None),
                Some(Action::StartPairing),
            ),
            (
                st(DisplayState::Disconnected, Some("1")),
                Some(Action::NextScreen),
            ),
            (
                st(DisplayState::Connected, Some("1")),
                Some(Action::NextScreen),
            ),
            (st(DisplayState::Pairing, None), Some(Action::NextScreen)),
            (st(DisplayState::NoSession, None), None),
        ];
        for (s, want) in cases {
            assert_eq!(action_for(Some(&s)), want, "{:?}", s.state);
        }
        assert_eq!(action_for(None), None);
    }

    #[test]
    fn an_event_stream_pairs_once_per_real_press_and_cycles_when_linked() {
        let ms = 1_000_000u64;
        let unlinked = st(DisplayState::LoggedOut, None);
        let mut b = ButtonState::default();
        // A bouncy press, its release, and a second press later.
        let stream = [
            Edge::Press(0),
            Edge::Press(3 * ms),
            Edge::Release(40 * ms),
            Edge::Press(42 * ms),
            Edge::Release(80 * ms),
            Edge::Press(1_000 * ms),
        ];
        let actions: Vec<_> = stream
            .iter()
            .filter_map(|e| b.on_edge(*e, Some(&unlinked), 0))
            .collect();
        assert_eq!(actions, vec![Action::StartPairing, Action::StartPairing]);

        let mut linked = st(DisplayState::Connected, Some("15550001111"));
        linked.store_full = true;
        let mut b = ButtonState::default();
        assert_eq!(b.choice.current(Some(&linked), 0), Screen::Problems);
        assert_eq!(b.on_edge(Edge::Press(0), Some(&linked), 0), None);
        assert_eq!(b.choice.current(Some(&linked), 1), Screen::Connected);
        // A bounce does not cycle again.
        assert_eq!(b.on_edge(Edge::Press(ms), Some(&linked), 1), None);
        assert_eq!(b.choice.current(Some(&linked), 2), Screen::Connected);
        // No gateway: a press does nothing.
        assert_eq!(b.on_edge(Edge::Press(2_000 * ms), None, 3), None);
    }

    #[test]
    fn cycling_visits_the_other_screens_then_times_out() {
        let mut s = st(DisplayState::Connected, Some("15550001111"));
        s.store_full = true;
        let mut c = ScreenChoice::default();
        assert_eq!(c.current(Some(&s), 0), Screen::Problems);
        c.next(Some(&s), 0);
        assert_eq!(c.current(Some(&s), 1), Screen::Connected);
        c.next(Some(&s), 2);
        assert_eq!(c.current(Some(&s), 3), Screen::Problems);
        c.next(Some(&s), 10);
        assert_eq!(c.current(Some(&s), 10 + OVERRIDE_MS - 1), Screen::Connected);
        assert_eq!(c.current(Some(&s), 10 + OVERRIDE_MS), Screen::Problems);
        // The gateway going away always shows "starting".
        c.next(Some(&s), 20);
        assert_eq!(c.current(None, 21), Screen::Starting);
    }
}
