#![no_main]
//! Fuzz target `npy`: see ../harness.rs.

#[path = "../harness.rs"]
mod harness;

libfuzzer_sys::fuzz_target!(|data: &[u8]| harness::run("npy", data));
