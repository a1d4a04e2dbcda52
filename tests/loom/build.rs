// SPDX-License-Identifier: GPL-2.0

//! Writes the variants of the rendezvous that the checks run on, into
//! `OUT_DIR`: `real.rs`, `src/multi/machine.rs` as the module has it, and
//! one file per mutant, the same source with one change (`MUTANTS`), each
//! with the model (`src/model.rs`) over it. `src/main.rs` includes them.

use std::{
    env, fs,
    path::{
        Path,
        PathBuf, //
    },
};

/// The mutants: name, a text of `src/multi/machine.rs`, and what replaces
/// it. The text must be there exactly once: a change of the source that
/// removes it stops the build instead of leaving a mutant that is the
/// source itself.
const MUTANTS: &[(&str, &str, &str)] = &[
    // The last but one to acknowledge a state moves the machine on.
    (
        "ack_early",
        "s if count + 1 == n => Some((s.next(), 0)),",
        "s if count + 2 == n => Some((s.next(), 0)),",
    ),
    // The last but one to arrive ends PREPARE.
    (
        "arrive_early",
        "State::Prepare if count + 1 == n => Some((State::DisableIrq, 0)),",
        "State::Prepare if count + 2 == n => Some((State::DisableIrq, 0)),",
    ),
    // A participant leaves PREPARE even when the machine has moved on
    // (the result of the withdrawal ignored).
    (
        "withdraw_ignored",
        "if (wanted || broken || late) && machine.withdraw() {",
        "if (wanted || broken || late) && (machine.withdraw() || true) {",
    ),
    // The state is read Relaxed, not Acquire.
    (
        "state_relaxed",
        "Self::unpack(self.word.load(Acquire)).0",
        "Self::unpack(self.word.load(Relaxed)).0",
    ),
];

/// Writes `OUT_DIR/NAME.rs`: the rendezvous from `machine`, the model over
/// it, and the atomics they take from their parent.
fn variant(out: &Path, name: &str, machine: &Path, model: &Path) {
    let text = format!(
        "use crate::sync::{{Acquire, Atomic, Full, Relaxed}};\n\
         #[allow(dead_code)]\n\
         #[path = {machine:?}]\n\
         mod machine;\n\
         #[path = {model:?}]\n\
         pub(crate) mod model;\n"
    );
    fs::write(out.join(format!("{name}.rs")), text).expect("OUT_DIR is writable");
}

fn main() {
    let dir = PathBuf::from(env::var("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let out = PathBuf::from(env::var("OUT_DIR").expect("set by cargo"));
    let machine = dir
        .join("../../src/multi/machine.rs")
        .canonicalize()
        .expect("src/multi/machine.rs of the module");
    let model = dir
        .join("src/model.rs")
        .canonicalize()
        .expect("src/model.rs");
    println!("cargo:rerun-if-changed={}", machine.display());
    println!("cargo:rerun-if-changed=build.rs");
    let source = fs::read_to_string(&machine).expect("src/multi/machine.rs is readable");
    variant(&out, "real", &machine, &model);
    for &(name, from, to) in MUTANTS {
        assert_eq!(
            source.matches(from).count(),
            1,
            "mutant {name}: `{from}` must be in src/multi/machine.rs exactly once"
        );
        let dir = out.join(name);
        fs::create_dir_all(&dir).expect("OUT_DIR is writable");
        let mutant = dir.join("machine.rs");
        fs::write(&mutant, source.replacen(from, to, 1)).expect("OUT_DIR is writable");
        variant(&out, name, &mutant, &model);
    }
}
