//! X12: inputs that start with `ISA` are used as they are; anything else gets a valid ISA header
//! (delimiters chosen by the first byte) in front, so the fuzzer spends its time inside
//! interchanges rather than on the header check.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = edigate_fuzz::shape_x12(data);
    edigate_fuzz::exercise(&input, data.first().copied().unwrap_or(0));
});
