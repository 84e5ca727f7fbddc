//! Unit tests of reading and classifying process identity.

use super::*;

#[test]
fn stat_fields_are_counted_after_the_last_parenthesis() {
    // A command name with spaces and parentheses, as `prctl` allows.
    let mut stat = b"4242 (evil) 1 2 (x) S 1 4242 4242 0 -1 4194560 ".to_vec();
    // Fields 10..=21 (12 of them), then start time (22), then more.
    stat.extend_from_slice(b"100 0 0 0 5 1 0 0 20 0 1 0 987654 1000 200\n");
    assert_eq!(parse_stat(&stat), Probe::Running(Some(987654)));
    let zombie = b"7 (a) b) Z 1 7 7 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 55 0 0\n";
    assert_eq!(parse_stat(zombie), Probe::Zombie);
    assert_eq!(parse_stat(b"garbage"), Probe::Running(None));
}

#[test]
fn classification_follows_the_design_table() {
    let rec = Identity {
        start_time: Some(10),
        boot_id: Some("b1".into()),
        pid_ns: Some(7),
        pidfd_inode: None,
    };
    let none = Identity::default();
    let state = |r: &Identity, p, b| {
        classify(
            r,
            p,
            Here {
                boot: b,
                pid_ns: Some(7),
            },
        )
        .0
    };
    let elsewhere = Here {
        boot: Some("b1"),
        pid_ns: Some(8),
    };
    // Another namespace: unverified, whatever the number holds here.
    for probe in [Probe::Absent, Probe::Zombie, Probe::Running(Some(10))] {
        assert_eq!(classify(&rec, probe, elsewhere).0, PidState::Unverified);
    }
    assert_eq!(state(&rec, Probe::Absent, Some("b1")), PidState::Exited);
    assert_eq!(state(&rec, Probe::Zombie, Some("b1")), PidState::Exited);
    assert_eq!(state(&none, Probe::Zombie, Some("b1")), PidState::Exited);
    let running = |s| Probe::Running(Some(s));
    assert_eq!(state(&rec, running(10), Some("b1")), PidState::Alive);
    assert_eq!(state(&rec, running(11), Some("b1")), PidState::Reused);
    assert_eq!(state(&rec, running(10), Some("b2")), PidState::Exited);
    assert_eq!(state(&none, running(10), Some("b1")), PidState::Unverified);
    assert_eq!(
        state(&rec, Probe::Running(None), Some("b1")),
        PidState::Unverified
    );
}

#[test]
fn the_reaper_its_parent_and_pid_1_are_protected() {
    let protected = Protected::now();
    let me = std::process::id();
    assert!(
        protected
            .why(me)
            .unwrap()
            .contains("reaping process itself")
    );
    assert!(protected.why(1).unwrap().contains("PID 1"));
    #[cfg(unix)]
    {
        let parent = rustix::process::getppid().map(|p| p.as_raw_nonzero().get() as u32);
        if let Some(parent) = parent.filter(|&p| p > 1) {
            assert!(protected.why(parent).unwrap().contains("ancestor"));
        }
    }
    // A process this test starts is not.
    let mut child = std::process::Command::new("sleep")
        .arg("5")
        .spawn()
        .unwrap();
    assert_eq!(protected.why(child.id()), None);
    child.kill().unwrap();
    child.wait().unwrap();
}

#[cfg(target_os = "linux")]
#[test]
fn this_process_has_an_identity() {
    let me = std::process::id();
    let id = identity(me);
    assert!(id.start_time.is_some() && id.boot_id.is_some(), "{id:?}");
    assert_eq!(
        classify(&id, probe(me), Here::now()).0,
        PidState::Alive,
        "{id:?}"
    );
}
