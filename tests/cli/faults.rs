//! The command line under I/O faults, run as a real process: a reader that goes away
//! (`| head -1`), a full disk under standard output and under the audit log, and an
//! unreadable or half-written agreement. No panic, a clear message, and nothing
//! released that should not be.
use crate::util::{copy_dir, output, root, text, Scratch, AT};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;

/// The binary, as `util::bin` runs it, with no backtrace on a panic (the tests here
/// look for panics in what it prints).
fn bin() -> Command {
    let mut cmd = crate::util::bin();
    cmd.env("RUST_BACKTRACE", "0");
    cmd
}

/// What every test here needs: keys with an audit key, an input of many records, and
/// an audit log of many transfers.
struct Fixture {
    dir: PathBuf,
}

impl Fixture {
    fn keys(&self) -> PathBuf {
        self.dir.join("keys.json")
    }
    fn many(&self) -> PathBuf {
        self.dir.join("many.jsonl")
    }
    fn log(&self) -> PathBuf {
        self.dir.join("audit.log")
    }
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        // A static is never dropped: the fixture goes under Cargo's temporary folder
        // for tests, by a fixed name, replaced by every run instead of piling up.
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("cli-faults-fixture");
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let fixture = Fixture { dir };
        crate::util::write_audit_keys(&fixture.keys(), 7);
        let examples = std::fs::read_to_string(root().join("examples/records.jsonl")).unwrap();
        std::fs::write(fixture.many(), examples.repeat(100)).unwrap();
        let out = output(
            bin()
                .args(gate_args())
                .arg("--keys")
                .arg(fixture.keys())
                .arg("--audit")
                .arg(fixture.log())
                .arg(fixture.many())
                .stdout(Stdio::null()),
        );
        assert!(out.status.success(), "{}", text(&out.stderr));
        fixture
    })
}

fn gate_args() -> Vec<&'static str> {
    vec![
        "gate",
        "--from",
        "noord-nederland/politie",
        "--to",
        "noord-nederland/om",
        "--purpose",
        "criminal-investigation",
        "--at",
        AT,
    ]
}

/// Every command that prints, with its arguments.
fn commands() -> Vec<(&'static str, Vec<String>)> {
    let f = fixture();
    let path = |p: PathBuf| p.display().to_string();
    let owned = |args: &[&str]| args.iter().map(|a| (*a).to_owned()).collect::<Vec<_>>();
    let mut gate = owned(&gate_args());
    gate.extend(["--keys".into(), path(f.keys()), path(f.many())]);
    let explain = |json: bool| {
        let mut args = owned(&[
            "explain",
            "--from",
            "drenthe/ggd",
            "--to",
            "noord-nederland/politie",
            "--purpose",
            "criminal-investigation",
            "--at",
            AT,
            "--keys",
        ]);
        args.push(path(f.keys()));
        if json {
            args.push("--json".into());
        }
        args.push("examples/typical-ggd-report.json".into());
        args
    };
    let audit = |sub: &str, extra: &[&str]| {
        let mut args = owned(&["audit", sub]);
        args.push(path(f.log()));
        args.extend(["--public-key".into(), path(crate::util::pub_of(&f.keys()))]);
        if matches!(sub, "show" | "replay") {
            args.extend(["--keys".into(), path(f.keys())]);
        }
        args.extend(owned(extra));
        args
    };
    vec![
        ("gate", gate),
        ("explain", explain(false)),
        ("explain --json", explain(true)),
        ("check", owned(&["check"])),
        ("test", owned(&["test", "--coverage"])),
        ("compare", owned(&["compare", "--all", "--at", AT])),
        (
            "compare --format html",
            owned(&["compare", "--all", "--at", AT, "--format", "html"]),
        ),
        (
            "compare --format json",
            owned(&["compare", "--all", "--at", AT, "--format", "json"]),
        ),
        ("audit show", audit("show", &[])),
        ("audit show --json", audit("show", &["--json"])),
        ("audit verify", audit("verify", &[])),
        ("audit checkpoint", audit("checkpoint", &[])),
        ("audit replay", audit("replay", &[])),
        ("demo", owned(&["demo", "--at", AT])),
        ("keygen", owned(&["keygen", "--audit-records"])),
    ]
}

/// Fails unless the process ended by itself (no signal), without a panic, with a
/// known exit code.
fn assert_clean(what: &str, status: ExitStatus, stderr: &str) {
    assert!(
        !stderr.contains("panicked") && !stderr.contains("RUST_BACKTRACE"),
        "{what}: panicked:\n{stderr}"
    );
    assert!(
        matches!(status.code(), Some(0..=3)),
        "{what}: ended with {status}:\n{stderr}"
    );
}

#[test]
fn every_command_ends_cleanly_when_stdout_is_closed_before_it_writes() {
    for (what, args) in commands() {
        let normal = output(bin().args(&args).stdout(Stdio::null()));
        let mut child = bin()
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader is gone before the command has loaded anything: its first write
        // fails with EPIPE (Rust ignores SIGPIPE, so it is an error, not a signal).
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        let stderr = text(&out.stderr);
        assert_clean(what, out.status, &stderr);
        // The command still runs to its end, so its exit code says how it went; the
        // gate stops reading input nobody takes, successfully.
        let expected = if what == "gate" {
            Some(0)
        } else {
            normal.status.code()
        };
        assert_eq!(out.status.code(), expected, "{what}:\n{stderr}");
        assert!(!stderr.contains("Broken pipe"), "{what}:\n{stderr}");
    }
}

#[test]
fn every_command_ends_cleanly_when_the_reader_stops_after_one_line() {
    for (what, args) in commands() {
        let normal = output(bin().args(&args));
        let mut child = bin()
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        // Dropping the reader closes the pipe, as `head -1` does when it exits.
        let out = child.wait_with_output().unwrap();
        let stderr = text(&out.stderr);
        assert_clean(what, out.status, &stderr);
        assert!(!stderr.contains("Broken pipe"), "{what}:\n{stderr}");
        assert_eq!(
            first.as_bytes(),
            &normal.stdout[..first.len()],
            "{what}: the first line"
        );
        if normal.stdout.len() > 1024 * 1024 {
            // More than a pipe holds: the command certainly wrote into the closed pipe.
            let expected = if what == "gate" {
                Some(0)
            } else {
                normal.status.code()
            };
            assert_eq!(out.status.code(), expected, "{what}:\n{stderr}");
        }
    }
    // The record stream and the log as JSON Lines are far larger than a pipe holds.
    let big = ["gate", "audit show --json"];
    for (what, args) in commands().into_iter().filter(|(w, _)| big.contains(w)) {
        let normal = output(bin().args(&args));
        assert!(normal.stdout.len() > 1024 * 1024, "{what} is too small");
    }
}

#[test]
fn a_full_disk_under_stdout_is_an_error_that_says_so() {
    let Ok(full) = std::fs::OpenOptions::new().write(true).open("/dev/full") else {
        println!("note: no /dev/full here; skipped");
        return;
    };
    for (what, args) in commands() {
        let out = bin()
            .args(&args)
            .stdin(Stdio::null())
            .stdout(full.try_clone().unwrap())
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert_clean(what, out.status, &stderr);
        assert_eq!(out.status.code(), Some(1), "{what}:\n{stderr}");
        assert!(
            stderr.contains("No space left on device") && stderr.contains("output"),
            "{what}: {stderr}"
        );
    }
}

// ---------------------------------------------------------------------------------
// A full disk under the audit log
// ---------------------------------------------------------------------------------

/// A small tmpfs mounted for one test, unmounted when dropped. `None` (with a note)
/// where mounting is not permitted: not root, or a container without CAP_SYS_ADMIN.
struct SmallDisk {
    dir: Scratch,
}

impl SmallDisk {
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = Scratch::new("tmpfs");
        let mounted = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size}"),
                "privacy-gate-test",
            ])
            .arg(&dir.0)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if mounted {
            Some(SmallDisk { dir })
        } else {
            println!(
                "note: cannot mount a tmpfs here (needs root); the full-disk CLI test is skipped"
            );
            None
        }
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let unmounted = Command::new("umount")
            .arg(&self.dir.0)
            .status()
            .is_ok_and(|s| s.success());
        if !unmounted {
            let _ = Command::new("umount").arg("-l").arg(&self.dir.0).status();
        }
    }
}

#[test]
fn a_full_disk_under_the_audit_log_stops_the_gate_and_every_later_run() {
    let Some(disk) = SmallDisk::mount("2m") else {
        return;
    };
    let f = fixture();
    let scratch = Scratch::new("full-disk");
    let log = disk.dir.path("audit.log");
    let gate = |archive: &str| {
        let mut cmd = bin();
        cmd.args(gate_args())
            .arg("--keys")
            .arg(f.keys())
            .arg("--audit")
            .arg(&log)
            .arg("--archive")
            .arg(scratch.path(archive))
            .arg(f.many());
        output(&mut cmd)
    };
    // 2,300 records of about 1.3 kB of log each: the disk fills in the second batch.
    let out = gate("archive");
    let stderr = text(&out.stderr);
    assert_clean("first run", out.status, &stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("No space left on device"), "{stderr}");
    let released = text(&out.stdout).lines().count();
    assert_eq!(
        released,
        privacy_gate::AUDITED_BATCH_LINES,
        "exactly the batch that was logged in full: {stderr}"
    );

    // Every record that went out is in the log: the intact part verifies and holds a
    // released entry for each.
    let bytes = std::fs::read(&log).unwrap();
    let cut = privacy_gate::audit::torn_tail(&bytes).unwrap_or(bytes.len());
    let keys = privacy_gate::KeyRing::from_file(&f.keys()).unwrap();
    let public = privacy_gate::audit::VerifierKey::of(
        keys.audit_writer().unwrap(),
        privacy_gate::audit::note::ED25519,
    );
    let summary = privacy_gate::audit::verify(&bytes[..cut], &public).unwrap();
    let logged = bytes[..cut]
        .split(|b| *b == b'\n')
        .filter(|l| {
            let needle = br#""outcome":"released""#;
            l.windows(needle.len()).any(|w| w == needle)
        })
        .count();
    assert!(logged >= released, "{logged} logged, {released} out");
    assert!(summary.entries as usize >= 3 + released);

    // The disk is still full: a later run opens nothing, releases nothing, says why.
    for attempt in 0..2 {
        let out = gate("archive-again");
        let stderr = text(&out.stderr);
        assert_clean("later run", out.status, &stderr);
        assert_eq!(out.status.code(), Some(1), "attempt {attempt}: {stderr}");
        assert!(out.stdout.is_empty(), "attempt {attempt}: released records");
        assert!(
            stderr.contains("No space left on device"),
            "attempt {attempt}: {stderr}"
        );
    }
}

// ---------------------------------------------------------------------------------
// An unreadable or half-written agreement
// ---------------------------------------------------------------------------------

#[test]
fn gate_releases_nothing_when_an_agreement_is_unreadable_or_half_written() {
    let f = fixture();
    let scratch = Scratch::new("policies");
    let policies = scratch.path("policies");
    copy_dir(&root().join("policies"), &policies);
    // A flow between two other organisations of the province than the broken one:
    // the rest of the set would serve it, but no gate is built from the rest.
    let broken = policies.join("drenthe/ggd.json");
    let original = std::fs::read(&broken).unwrap();
    let gate = || {
        let mut cmd = bin();
        cmd.args(gate_args())
            .arg("--policies")
            .arg(&policies)
            .arg("--keys")
            .arg(f.keys())
            .arg("examples/records.jsonl");
        output(&mut cmd)
    };
    let healthy = gate();
    assert_eq!(healthy.status.code(), Some(0), "{}", text(&healthy.stderr));
    assert!(!healthy.stdout.is_empty());

    let damages = ["half-written", "not UTF-8", "a folder", "a dangling link"];
    let damage = |what: &str| match what {
        "half-written" => std::fs::write(&broken, &original[..original.len() / 2]).unwrap(),
        "not UTF-8" => {
            let mut bytes = original.clone();
            bytes.extend_from_slice(b"\xff");
            std::fs::write(&broken, bytes).unwrap();
        }
        "a folder" => {
            std::fs::remove_file(&broken).unwrap();
            std::fs::create_dir(&broken).unwrap();
        }
        _ => {
            std::fs::remove_file(&broken).unwrap();
            #[cfg(unix)]
            std::os::unix::fs::symlink("/nonexistent/ggd.json", &broken).unwrap();
            #[cfg(not(unix))]
            std::fs::create_dir(&broken).unwrap();
        }
    };
    for what in damages {
        damage(what);
        let out = gate();
        let stderr = text(&out.stderr);
        assert_clean(what, out.status, &stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        assert!(out.stdout.is_empty(), "{what}: released records");
        assert!(
            stderr.contains("cannot load policies") && stderr.contains("drenthe/ggd.json"),
            "{what}: {stderr}"
        );
        if broken.is_dir() {
            std::fs::remove_dir(&broken).unwrap();
        } else {
            std::fs::remove_file(&broken).unwrap();
        }
        std::fs::write(&broken, &original).unwrap();
    }
    assert_eq!(
        gate().stdout,
        healthy.stdout,
        "the restored copy gates again"
    );
}

// ---------------------------------------------------------------------------------
// A bad key file
// ---------------------------------------------------------------------------------

#[test]
fn a_bad_key_file_is_refused_without_showing_its_secret() {
    let scratch = Scratch::new("keys");
    let secret = "5a512d64697374696e63746976652d7365637265742d3031323334352d515a21";
    let files = [
        // A key id and its secret swapped.
        format!(
            r#"{{"domains": {{"drenthe/zvh-signalen": {{"active": "k1", "keys": {{"{secret}": "k1"}}}}}}}}"#
        ),
        // The secret where the active id belongs.
        format!(
            r#"{{"domains": {{"drenthe/zvh-signalen": {{"active": "{secret}", "keys": {{"k1": "{secret}"}}}}}}}}"#
        ),
        // A secret with a stray character.
        format!(
            r#"{{"domains": {{"drenthe/zvh-signalen": {{"active": "k1", "keys": {{"k1": "{secret}x"}}}}}}}}"#
        ),
    ];
    for (i, file) in files.iter().enumerate() {
        let path = scratch.path("keys.json");
        std::fs::write(&path, file).unwrap();
        let mut cmd = bin();
        cmd.args(gate_args())
            .arg("--keys")
            .arg(&path)
            .arg("examples/records.jsonl");
        let out = output(&mut cmd);
        let stderr = text(&out.stderr);
        assert_clean("bad key file", out.status, &stderr);
        assert_eq!(out.status.code(), Some(1), "{i}: {stderr}");
        assert!(out.stdout.is_empty(), "{i}: released records");
        assert!(stderr.contains("keys.json"), "{i}: {stderr}");
        assert!(
            !stderr.contains(&secret[..16]) && !stderr.contains(&secret[40..]),
            "{i}: the secret is on stderr: {stderr}"
        );
    }
}
