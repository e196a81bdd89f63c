//! How `plan --apply` shows its progress: a bar on a terminal (slots done of total, the
//! slot or job under way, elapsed time), plain lines otherwise (a log, a CI job), both
//! on stderr so stdout keeps only the answer.

use crate::apply::{Event, Progress, describe};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::time::Instant;

/// Keys between two plain progress lines of one slot.
const PLAIN_EVERY: u64 = 10_000;

/// The progress of one `--apply`.
pub(super) struct Reporter {
    /// `None` without a terminal: plain lines instead.
    bar: Option<ProgressBar>,
    started: Instant,
    /// Keys moved in the slot under way, for its closing line; `None` for a job, whose
    /// keys the server moves without counting them out loud.
    keys_in_slot: Option<u64>,
}

impl Reporter {
    pub(super) fn new(slots: usize) -> Reporter {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(slots as u64), ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template("{bar:30} {pos}/{len} slots  {elapsed_precise}  {msg}")
                .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            bar.enable_steady_tick(std::time::Duration::from_millis(200));
            bar
        });
        Reporter { bar, started: Instant::now(), keys_in_slot: None }
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }

    fn say(&self, line: String) {
        match &self.bar {
            Some(bar) => bar.set_message(line),
            None => eprintln!("[{:>6.1}s] {line}", self.started.elapsed().as_secs_f64()),
        }
    }
}

impl Progress for Reporter {
    fn event(&mut self, event: Event) {
        match event {
            Event::JobStarted { name, slots, source, target } => {
                self.keys_in_slot = None;
                self.say(format!(
                    "job {} moving slot(s) {} from {} to {}",
                    &name[..name.len().min(8)],
                    describe(&slots),
                    source.as_str(),
                    target.as_str()
                ));
            }
            Event::JobState { name, state } => self.say(format!("job {}: {state}", &name[..name.len().min(8)])),
            Event::SlotStarted { slot, source, target } => {
                self.keys_in_slot = Some(0);
                self.say(format!("slot {slot} from {} to {}", source.as_str(), target.as_str()));
            }
            Event::KeysMoved { slot, keys } => {
                let before = self.keys_in_slot.unwrap_or(0);
                let moved = before + keys;
                self.keys_in_slot = Some(moved);
                // Plain lines: the first batch (the slot is open from here on), then one
                // line per 10,000 keys, so a large slot shows it is moving.
                if self.bar.is_some() || before == 0 || before / PLAIN_EVERY != moved / PLAIN_EVERY {
                    self.say(format!("slot {slot}: {moved} keys moved"));
                }
            }
            Event::SlotsDone { slots } => {
                let keys = self.keys_in_slot.map(|k| format!(" ({k} keys)")).unwrap_or_default();
                let line = format!("done: slot(s) {}{keys}", describe(&slots));
                if let Some(bar) = &self.bar {
                    bar.inc(slots.len() as u64);
                }
                self.say(line);
            }
        }
    }
}
