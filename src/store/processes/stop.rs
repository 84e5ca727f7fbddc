//! Stopping what a reap planned to kill, and saying what was done when
//! the rows then could not be removed.

use super::*;

/// Stops every process (or tree) planned as `killed`, all at once (each
/// waits its own grace period in its own thread), never signalling the
/// reaping process, its ancestors, PID 1 or a kernel thread.
pub(crate) fn stop_alive(plan: &mut [Reaped], grace: Duration) {
    let protected = &Protected::now();
    std::thread::scope(|scope| {
        for reaped in plan.iter_mut() {
            if reaped.action != ReapAction::Killed {
                continue;
            }
            let Some(start_time) = reaped.check.start_time else {
                reaped.action = ReapAction::Kept;
                continue;
            };
            if let Some((claim, found)) = reaped.check.tree.clone() {
                scope.spawn(move || {
                    let leader = (reaped.check.pid, start_time);
                    let done = tree::stop_tree(&claim, leader, &found, grace, protected);
                    reaped.check.group = done.signalled;
                    if let Some(why) = done.failed {
                        reaped.action = ReapAction::Failed;
                        reaped.reason = Some(why);
                    }
                });
                continue;
            }
            let inode = reaped.check.claim.pidfd_inode;
            scope.spawn(move || {
                match process::stop(reaped.check.pid, start_time, inode, grace) {
                    Stopped::Gone => {}
                    Stopped::NotOurs(why) => {
                        // Our process is gone and the PID is someone else's:
                        // nothing was signalled after that was seen.
                        reaped.action = ReapAction::Removed;
                        reaped.reason = Some(why);
                    }
                    Stopped::Failed(why) => {
                        reaped.action = ReapAction::Failed;
                        reaped.reason = Some(why);
                    }
                }
            });
        }
    });
}

/// After the removals failed (the store locked past its busy timeout, say):
/// the processes stopped are reported as `failed` with what happened (they
/// are gone, their rows stay), the rows that were to be removed as `kept`.
pub(super) fn not_removed(plan: &mut [Reaped], error: &Error) {
    for reaped in plan.iter_mut() {
        match reaped.action {
            ReapAction::Killed => {
                reaped.action = ReapAction::Failed;
                reaped.reason = Some(format!(
                    "stopped, but its row could not be removed ({error}); reap again to remove it"
                ));
            }
            ReapAction::Removed => {
                reaped.action = ReapAction::Kept;
                reaped.reason = Some(format!("not removed: {error}"));
            }
            ReapAction::Kept | ReapAction::Failed => {}
        }
    }
}
