//! EDIFACT: inputs that start with `UNA` or `UNB` are used as they are; anything else gets a
//! `UNA` (service characters chosen by the first byte) and a `UNB` in front.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let input = edigate_fuzz::shape_edifact(data);
    edigate_fuzz::exercise(&input, data.first().copied().unwrap_or(0));
});
