// SPDX-License-Identifier: GPL-2.0

//! The model checks of the rendezvous of multi-CPU stops: the module's own
//! `src/multi/machine.rs` (the state machine and the participant's loop),
//! run by loom under every interleaving of 2 or 3 participants and the
//! caller (`src/model.rs`), and mutants of it that must fail. KTAP on
//! stdout; the exit status is 1 if a check did not give what it must.
//!
//!     cargo run --release [-- NAME[:BOUND]...]   (tests/loom.sh runs it)
//!
//! Each check explores every execution with at most its number of
//! preemptions (loom's bound: a switch away from a thread that could go
//! on; switches at a spin, a sleep or a thread's end are free); `BOUND`
//! runs it with another. That bound, the newest loads of
//! [`Config::newest`] and the fairness of the model's spins are what keep
//! the suite short (README.md, "Bounds"); the numbers of executions are
//! printed.

use loom::model::Builder;
use std::{
    panic,
    process::ExitCode,
    sync::{
        atomic::{
            AtomicUsize,
            Ordering, //
        },
        Mutex,
    },
    thread,
    time::Instant,
};

mod sync;

/// A variant of the rendezvous and the model over it, written by
/// `build.rs`: `real` is `src/multi/machine.rs` itself, the others its
/// mutants.
macro_rules! variant {
    ($name:ident) => {
        mod $name {
            include!(concat!(env!("OUT_DIR"), "/", stringify!($name), ".rs"));
        }
    };
}

variant!(real);
variant!(ack_early);
variant!(arrive_early);
variant!(withdraw_ignored);
variant!(state_relaxed);

/// One stop and its adversaries.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Config {
    /// How many CPUs take part (at most 3: loom runs 4 threads with the
    /// caller).
    pub(crate) participants: usize,
    /// The participants that run `run()`, as bits.
    pub(crate) active: u32,
    /// A participant that finds `need_resched()` set on its first spin in
    /// PREPARE, and withdraws.
    pub(crate) resched: Option<usize>,
    /// A participant whose clock runs in the first round of PREPARE: each
    /// of its spins there takes `machine::SPIN_MIN_NS`, and it withdraws
    /// after three. Otherwise time stands still.
    pub(crate) late: Option<usize>,
    /// A participant that, after its first gathering, does not run until
    /// a partner has withdrawn (kept off its CPU by a real-time task);
    /// with [`Config::late`].
    pub(crate) kept_off: Option<usize>,
    /// The caller gives the stop up (a fatal signal), after spinning this
    /// many times: where it does depends on how far the participants got
    /// meanwhile.
    pub(crate) abort: Option<u32>,
    /// `Acquire` loads read the newest value: a bound on the model
    /// (`sync::newest_loads()`).
    pub(crate) newest: bool,
}

/// What one execution of a stop came to, for the report.
pub(crate) struct Outcome {
    /// Withdrawals from PREPARE.
    withdrawals: u32,
    /// The caller gave the stop up.
    given_up: bool,
}

/// One model check.
#[derive(Clone, Copy)]
struct Check {
    name: &'static str,
    /// What it checks, or the mutant it runs.
    what: &'static str,
    /// The stop of the variant, for one execution.
    stop: fn(Config) -> Outcome,
    config: Config,
    /// The preemption bound.
    preemptions: usize,
    /// A mutant: the check must fail.
    mutant: bool,
}

/// A stop with no adversary.
const fn stop_of(participants: usize, active: u32) -> Config {
    Config {
        participants,
        active,
        resched: None,
        late: None,
        kept_off: None,
        abort: None,
        newest: false,
    }
}

/// `stop_two_cpus()`: 2 participants, the first active; loads as weak as
/// coherence allows.
const TWO: Config = stop_of(2, 0b01);

/// `stop_machine()` on 3 CPUs, the first and the last active; `Acquire`
/// loads read the newest value (the bound that keeps these checks short).
const THREE: Config = Config {
    newest: true,
    ..stop_of(3, 0b101)
};

/// A check of the rendezvous itself, which must pass.
const fn check(
    name: &'static str,
    what: &'static str,
    config: Config,
    preemptions: usize,
) -> Check {
    Check {
        name,
        what,
        stop: real::model::stop,
        config,
        preemptions,
        mutant: false,
    }
}

/// A check of a mutant, which must fail.
const fn mutant(
    name: &'static str,
    what: &'static str,
    stop: fn(Config) -> Outcome,
    config: Config,
    preemptions: usize,
) -> Check {
    Check {
        name,
        what,
        stop,
        config,
        preemptions,
        mutant: true,
    }
}

const CHECKS: &[Check] = &[
    check("two", "2 participants", TWO, 3),
    check(
        "two_resched",
        "2 participants, the second withdraws once (need_resched())",
        Config {
            resched: Some(1),
            ..TWO
        },
        2,
    ),
    check(
        "two_late",
        "2 participants, the second kept off its CPU until the first spun its budget out and withdrew",
        Config {
            late: Some(0),
            kept_off: Some(1),
            ..TWO
        },
        3,
    ),
    check(
        "two_abort",
        "2 participants, the caller gives up",
        Config {
            abort: Some(1),
            ..TWO
        },
        1,
    ),
    check(
        "two_resched_abort",
        "2 participants, the second withdraws once, the caller gives up; newest loads",
        Config {
            resched: Some(1),
            abort: Some(1),
            newest: true,
            ..TWO
        },
        2,
    ),
    check("three", "3 participants; newest loads", THREE, 1),
    check(
        "three_resched",
        "3 participants, the middle one withdraws once; newest loads",
        Config {
            resched: Some(1),
            ..THREE
        },
        1,
    ),
    check(
        "three_late",
        "3 participants, the last kept off its CPU until the first spun its budget out and withdrew; newest loads",
        Config {
            late: Some(0),
            kept_off: Some(2),
            ..THREE
        },
        1,
    ),
    check(
        "three_abort",
        "3 participants, the caller gives up; newest loads",
        Config {
            abort: Some(1),
            ..THREE
        },
        1,
    ),
    mutant(
        "mutant_ack_early",
        "Machine::ack(): the last but one to acknowledge a state moves the machine on",
        ack_early::model::stop,
        TWO,
        3,
    ),
    mutant(
        "mutant_arrive_early",
        "Machine::arrive(): the last but one to arrive ends PREPARE",
        arrive_early::model::stop,
        THREE,
        1,
    ),
    mutant(
        "mutant_withdraw_ignored",
        "prepare(): a participant leaves PREPARE although its withdrawal failed",
        withdraw_ignored::model::stop,
        Config {
            resched: Some(1),
            ..TWO
        },
        2,
    ),
    mutant(
        "mutant_state_relaxed",
        "Machine::state(): the word read Relaxed, not Acquire",
        state_relaxed::model::stop,
        TWO,
        3,
    ),
];

/// The branches loom allows one execution (its default is 1000).
const MAX_BRANCHES: usize = 20_000;

/// Executions of the check running: all of them, those with a
/// withdrawal, and those given up.
static EXECUTIONS: AtomicUsize = AtomicUsize::new(0);
static WITHDRAWN: AtomicUsize = AtomicUsize::new(0);
static GIVEN_UP: AtomicUsize = AtomicUsize::new(0);

/// The first panic of the check running: what failed.
static FAILURE: Mutex<Option<String>> = Mutex::new(None);

/// Runs `check` under loom; returns its failure, if any.
fn explore(check: &Check) -> Result<(), String> {
    for n in [&EXECUTIONS, &WITHDRAWN, &GIVEN_UP] {
        n.store(0, Ordering::Relaxed);
    }
    *FAILURE.lock().expect("not poisoned") = None;
    // Every limit of loom's but the preemption bound and the branches of
    // one execution off, whatever LOOM_* says: a check that stopped
    // early would pass without having looked.
    let mut builder = Builder::new();
    builder.preemption_bound = Some(check.preemptions);
    builder.max_branches = MAX_BRANCHES;
    builder.max_permutations = None;
    builder.max_duration = None;
    builder.checkpoint_file = None;
    let (stop, config) = (check.stop, check.config);
    sync::newest_loads(config.newest);
    let ended = thread::spawn(move || {
        builder.check(move || {
            EXECUTIONS.fetch_add(1, Ordering::Relaxed);
            let outcome = stop(config);
            if outcome.withdrawals != 0 {
                WITHDRAWN.fetch_add(1, Ordering::Relaxed);
            }
            if outcome.given_up {
                GIVEN_UP.fetch_add(1, Ordering::Relaxed);
            }
        })
    })
    .join();
    match ended {
        Ok(()) => Ok(()),
        Err(_) => Err(FAILURE
            .lock()
            .expect("not poisoned")
            .take()
            .unwrap_or_else(|| "panicked".into())),
    }
}

fn main() -> ExitCode {
    // NAME or NAME:BOUND, to run one check with another preemption bound.
    let mut checks = Vec::new();
    for arg in std::env::args().skip(1) {
        let (name, bound) = arg.split_once(':').unwrap_or((&arg, ""));
        let Some(check) = CHECKS.iter().find(|c| c.name == name) else {
            eprintln!("no check named {name}");
            return ExitCode::FAILURE;
        };
        let preemptions = match bound {
            "" => check.preemptions,
            b => match b.parse() {
                Ok(b) => b,
                Err(_) => {
                    eprintln!("{arg}: not a preemption bound");
                    return ExitCode::FAILURE;
                }
            },
        };
        checks.push(Check {
            preemptions,
            ..*check
        });
    }
    if checks.is_empty() {
        checks.extend(CHECKS.iter().map(|c| *c));
    }
    // A failure is reported as a KTAP comment, not as a panic message.
    panic::set_hook(Box::new(|info| {
        let mut f = FAILURE.lock().unwrap_or_else(|e| e.into_inner());
        if f.is_none() {
            let text = info
                .payload()
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let at = info
                .location()
                .map(|l| format!(" at {l}"))
                .unwrap_or_default();
            *f = Some(format!("{text}{at}"));
        }
    }));
    println!("TAP version 13");
    println!("1..{}", checks.len());
    let (mut pass, mut fail) = (0, 0);
    let all = Instant::now();
    for (i, check) in checks.iter().enumerate() {
        let n = i + 1;
        let start = Instant::now();
        let result = explore(check);
        let took = start.elapsed().as_secs_f64();
        let runs = EXECUTIONS.load(Ordering::Relaxed);
        let done = format!(
            "{took:.2} s, {runs} executions, {} participants, preemption bound {}",
            check.config.participants, check.preemptions
        );
        let seen = format!(
            "# {}: {runs} executions, {} with a withdrawal, {} given up",
            check.name,
            WITHDRAWN.load(Ordering::Relaxed),
            GIVEN_UP.load(Ordering::Relaxed)
        );
        println!("# {}: {}", check.name, check.what);
        match (check.mutant, result) {
            (false, Ok(())) => {
                println!("ok {n} - {} ({done})", check.name);
                println!("{seen}");
                pass += 1;
            }
            (false, Err(why)) => {
                println!("not ok {n} - {} ({done})", check.name);
                println!("# {}", why.replace('\n', "\n# "));
                fail += 1;
            }
            (true, Err(why)) => {
                println!("ok {n} - {}: fails, as it must ({done})", check.name);
                println!("# {}", why.replace('\n', "\n# "));
                pass += 1;
            }
            (true, Ok(())) => {
                println!("not ok {n} - {}: passes, not caught ({done})", check.name);
                fail += 1;
            }
        }
    }
    println!(
        "# Totals: pass:{pass} fail:{fail} ({:.2} s)",
        all.elapsed().as_secs_f64()
    );
    if fail == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
