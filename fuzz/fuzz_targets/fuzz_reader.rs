//! The streaming reader on raw bytes: the first byte picks the read sizes (1–16 bytes per
//! `read` call) and strict or lenient parsing; the reader must agree with the in-memory parser.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, input)) = data.split_first() else {
        return;
    };
    edigate_fuzz::check_reader(input, mode);
});
