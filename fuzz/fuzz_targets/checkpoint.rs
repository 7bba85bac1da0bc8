#![no_main]
//! Fuzz target `checkpoint`: see ../harness.rs.

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run("checkpoint", data));
