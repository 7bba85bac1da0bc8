//! Library errors in the CLI's words. The library names a setting by its
//! config field in backticks (`` `lr` ``, `` `batch_size` ``), which a Rust
//! or TOML user reads as such; the command line has flags instead.

/// Each config field the library names, and the flag that sets it.
const FLAGS: &[(&str, &str)] = &[
    ("lr", "--lr"),
    ("batch_size", "--batch"),
    ("clip_norm", "--clip-norm"),
    ("weight_decay", "--weight-decay"),
    ("validation_split", "--val-split"),
    ("val", "--val"),
    ("early_stopping", "--early-stop"),
    ("on_divergence", "--on-divergence"),
    ("max_restores", "--max-restores"),
    ("gpu_memory", "--gpu-memory"),
    ("input_dim", "--arch"),
    ("out_act", "--out-act"),
    ("code_act", "--code-act"),
    ("loss", "--loss"),
    ("scale", "--scale"),
    ("variant", "--variant"),
    ("precision", "--precision"),
    ("format", "--format"),
    ("force", "--force"),
    ("missing", "--missing"),
    ("test_split", "--test-split"),
];

/// `message` with every `` `field` `` the library names written as its flag.
pub fn in_flags(message: &str) -> String {
    let mut out = message.to_string();
    for (field, flag) in FLAGS {
        out = out.replace(&format!("`{field}`"), flag);
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn fields_become_flags_and_the_rest_stays() {
        assert_eq!(
            super::in_flags("raise `gpu_memory` or lower `batch_size`; `wgae bench` times"),
            "raise --gpu-memory or lower --batch; `wgae bench` times"
        );
    }
}
