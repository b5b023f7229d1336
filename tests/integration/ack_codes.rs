//! One input per error code the validator emits, with the code it must carry and the lines of the
//! acknowledgement the partner receives for it (X12 against `tests/data/specs-mini`, EDIFACT
//! against `specs/`).

use edigate_tests::workspace_root;
use validate::ack::{self, Sequential, Timestamp, X12Ack};
use validate::{Specs, validate};

const ISA: &str = "ISA*00*          *00*          *ZZ*BUYER          *ZZ*SELLER         *240101*1200*U*00401*000000042*0*P*>~\n";
const GS: &str = "GS*PO*BUYER*SELLER*20240101*1200*7*X*004010~\n";
const BODY: &str = "BEG*00*SA*PO-1**20240101~\nREF*DP*038~\nN1*ST*ACME DC*92*0012~\nN3*100 MAIN ST~\nPO1*1*10*EA*9.99*VP*SKU1~\nPID*F*WIDGET~\nCTT*1~\n";

/// A one-set interchange with the set's SE computed.
fn order(body: &str) -> String {
    let n = body.matches('~').count() + 2;
    format!("{ISA}{GS}ST*850*0001~\n{body}SE*{n}*0001~\nGE*1*7~\nIEA*1*000000042~\n")
}

fn acks(input: &str, specs: &Specs) -> String {
    let ics = edi::Parser::new()
        .lenient(true)
        .parse(input.as_bytes())
        .expect("parses");
    let when = Timestamp {
        date: "20260102".into(),
        time: "0304".into(),
    };
    let mut out = String::new();
    for ic in &ics {
        let r = validate(ic, specs);
        let a = ack::acknowledge(
            ic,
            &r,
            &mut Sequential::default(),
            &when,
            &ack::AckPolicy::contrl_always(),
        )
        .expect("acks");
        for bytes in a.ta1.iter().chain(a.functional.iter()) {
            out.push_str(&String::from_utf8_lossy(bytes));
        }
    }
    out
}

fn check_all(cases: &[(&str, String, &[&str])], specs: &Specs) {
    let mut problems = Vec::new();
    for (name, input, lines) in cases {
        let got = acks(input, specs);
        for line in *lines {
            if !got
                .lines()
                .any(|l| l.trim_end_matches(['~', '\'']) == *line)
            {
                problems.push(format!("{name}: expected the line {line:?} in\n{got}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn every_x12_code_from_its_cause_to_the_997() {
    let specs = Specs::load(&workspace_root().join("tests/data/specs-mini")).expect("mini spec");
    let b = |from: &str, to: &str| {
        let s = BODY.replace(from, to);
        assert_ne!(s, BODY, "{from} not in the body");
        order(&s)
    };
    let cases: Vec<(&str, String, &[&str])> = vec![
        (
            "clean",
            order(BODY),
            &["AK2*850*0001", "AK5*A", "AK9*A*1*1*1"],
        ),
        // AK3 segment codes.
        (
            "AK3 1 unrecognized",
            b("REF*DP*038~", "NTT*DP*038~"),
            &["AK3*NTT*3**1", "AK5*R*5"],
        ),
        (
            "AK3 2 unexpected",
            b("REF*DP*038~", "PID*F*EARLY~"),
            &["AK3*PID*3**2"],
        ),
        (
            "AK3 3 missing",
            b("BEG*00*SA*PO-1**20240101~\n", ""),
            &["AK3*BEG*2**3"],
        ),
        (
            "AK3 4 loop over max",
            b("CTT*1~", "CTT*1~\nCTT*1~"),
            &["AK3*CTT*9**4"],
        ),
        (
            "AK3 5 segment over max",
            b("N3*100 MAIN ST~", "N3*A~\nN3*B~\nN3*C~"),
            &["AK3*N3*7**5"],
        ),
        (
            "AK3 6 not in set",
            b("REF*DP*038~", "MSG*HELLO~"),
            &["AK3*MSG*3**6"],
        ),
        (
            "AK3 7 out of sequence",
            b("CTT*1~", "CTT*1~\nREF*DP*039~"),
            &["AK3*REF*9**7"],
        ),
        // AK4 element codes, each under its AK3 code 8.
        (
            "AK4 1 mandatory",
            b("PO-1**", "**"),
            &["AK3*BEG*2**8", "AK4*3*324*1"],
        ),
        (
            "AK4 2 conditional",
            b("REF*DP*038~", "REF*DP~"),
            &["AK3*REF*3**8", "AK4*2*127*2"],
        ),
        (
            "AK4 3 too many elements",
            b("0012~", "0012*X~"),
            &["AK3*N1*4**8", "AK4*5**3*X"],
        ),
        ("AK4 4 too short", b("REF*DP", "REF*D"), &["AK4*1*128*4*D"]),
        (
            "AK4 5 too long",
            b("PO-1*", "PO-12345678901234567890*"),
            &["AK4*3*324*5*PO-12345678901234567890"],
        ),
        (
            "AK4 6 invalid character",
            b("CTT*1~", "CTT*1A~"),
            &["AK3*CTT*8**8", "AK4*1*354*6*1A"],
        ),
        (
            "AK4 7 invalid code",
            b("BEG*00", "BEG*99"),
            &["AK4*1*353*7*99"],
        ),
        (
            "AK4 8 invalid date",
            b("*20240101~\nREF", "*20240230~\nREF"),
            &["AK4*5*373*8*20240230"],
        ),
        (
            "AK4 9 invalid time",
            b("REF*DP*038~", "REF*DP*038~\nDTM*002*20240101*2561~"),
            &["AK3*DTM*4**8", "AK4*3*337*9*2561"],
        ),
        (
            "AK4 10 exclusion",
            b("REF*DP*038~", "REF*DP*038~\nTSX*A*B~"),
            &["AK3*TSX*4**8", "AK4*2*352*10"],
        ),
        // 12 and 13 exist from 005010 on; a 004010 997 says 3, its nearest code.
        (
            "AK4 13 too many components",
            b("CTT*1~", "CTT*1>2~"),
            &["AK4*1>2*354*3*2"],
        ),
        // AK5 transaction set codes.
        (
            "AK5 1 not supported",
            order(BODY).replace("ST*850", "ST*855"),
            &["AK2*855*0001", "AK5*R*1"],
        ),
        (
            "AK5 2 trailer missing",
            order(BODY).replace("SE*9*0001~\n", ""),
            &["AK5*R*2"],
        ),
        (
            "AK5 3 control mismatch",
            order(BODY).replace("SE*9*0001", "SE*9*0002"),
            &["AK5*R*3"],
        ),
        (
            "AK5 4 count mismatch",
            order(BODY).replace("SE*9*0001", "SE*8*0001"),
            &["AK5*R*4"],
        ),
        (
            "AK5 6 wrong group",
            order(BODY).replace("GS*PO", "GS*IN"),
            &["AK1*IN*7", "AK5*R*6"],
        ),
        // ST02 of one digit: the element is too short (AK4 4 on ST) and the set's control number
        // invalid (AK5 7).
        (
            "AK5 7 invalid control",
            order(BODY).replace("*0001~", "*1~"),
            &["AK2*850*1", "AK4*2*329*4*1", "AK5*R*7*5"],
        ),
        (
            "AK5 23 duplicate control",
            order(BODY)
                .replace("GE*1*7", "GE*2*7")
                .replace("GE*2", &format!("ST*850*0001~\n{BODY}SE*9*0001~\nGE*2")),
            &["AK5*R*23", "AK9*P*2*2*1"],
        ),
        // AK9 group codes.
        (
            "AK9 2 version",
            order(BODY).replace("*X*004010", "*X*003010"),
            &["AK9*R*1*1*0*2"],
        ),
        (
            "AK9 3 trailer missing",
            order(BODY).replace("GE*1*7~\n", ""),
            &["AK9*R*1*1*1*3"],
        ),
        (
            "AK9 4 control mismatch",
            order(BODY).replace("GE*1*7", "GE*1*8"),
            &["AK9*R*1*1*1*4"],
        ),
        (
            "AK9 5 count mismatch",
            order(BODY).replace("GE*1*7", "GE*2*7"),
            &["AK9*R*2*1*1*5"],
        ),
        (
            "AK9 6 invalid control",
            order(BODY)
                .replace("*1200*7*X", "*1200*A7*X")
                .replace("GE*1*7", "GE*1*A7"),
            &["AK1*PO*A7", "AK9*R*1*1*1*6"],
        ),
        (
            "AK9 19 duplicate group",
            order(BODY).replace("IEA*1", "IEA*2").replace(
                "GE*1*7~\n",
                &format!("GE*1*7~\n{GS}ST*850*0002~\n{BODY}SE*9*0002~\nGE*1*7~\n"),
            ),
            &["AK9*A*1*1*1", "AK9*R*1*1*1*19"],
        ),
    ];
    check_all(&cases, &specs);
}

#[test]
fn every_ta1_note_code_from_its_cause() {
    let specs = Specs::load(&workspace_root().join("tests/data/specs-mini")).expect("mini spec");
    let good = order(BODY);
    let isa = |field: usize, value: &str| {
        let mut parts: Vec<String> = good.split('*').map(str::to_string).collect();
        parts[field] = value.to_string();
        parts.join("*")
    };
    let ta1 = |code: &str| format!("TA1*000000042*240101*1200*R*{code}");
    let cases: Vec<(&str, String, Vec<String>)> = vec![
        (
            "asked for, clean",
            good.replace("*0*P*>", "*1*P*>"),
            vec!["TA1*000000042*240101*1200*A*000".into()],
        ),
        (
            "001",
            good.replace("IEA*1*000000042", "IEA*1*000000043"),
            vec![ta1("001")],
        ),
        ("005", isa(5, "99"), vec![ta1("005")]),
        // Sender and receiver ids not padded to their 15 characters.
        ("006", isa(6, "BUYER"), vec![ta1("006")]),
        ("007", isa(7, "99"), vec![ta1("007")]),
        ("008", isa(8, "SELLER"), vec![ta1("008")]),
        ("010", isa(1, "99"), vec![ta1("010")]),
        ("011", isa(2, "         "), vec![ta1("011")]),
        ("012", isa(3, "99"), vec![ta1("012")]),
        // TA1 echoes ISA09 and ISA10 as sent.
        (
            "014",
            isa(9, "241301"),
            vec!["TA1*000000042*241301*1200*R*014".into()],
        ),
        (
            "015",
            isa(10, "2561"),
            vec!["TA1*000000042*240101*2561*R*015".into()],
        ),
        ("017", isa(12, "0040A"), vec![ta1("017")]),
        (
            "018",
            isa(13, "00000004A").replace("IEA*1*000000042", "IEA*1*00000004A"),
            vec!["TA1*00000004A*240101*1200*R*018".into()],
        ),
        ("019", isa(14, "2"), vec![ta1("019")]),
        ("020", isa(15, "X"), vec![ta1("020")]),
        ("021", good.replace("IEA*1*", "IEA*2*"), vec![ta1("021")]),
        (
            "022",
            good.replace(GS, &format!("NTE*STRAY~\n{GS}")),
            vec![ta1("022")],
        ),
        (
            "023",
            good.replace("IEA*1*000000042~\n", ""),
            vec![ta1("023")],
        ),
        (
            "024",
            good.replace(GS, &format!("GE*1*7~\n{GS}")),
            vec![ta1("024")],
        ),
    ];
    let cases: Vec<(&str, String, Vec<&str>)> = cases
        .iter()
        .map(|(n, i, l)| (*n, i.clone(), l.iter().map(String::as_str).collect()))
        .collect();
    let mut problems = Vec::new();
    for (name, input, lines) in &cases {
        assert_ne!(input, &good, "{name}: the input is unchanged");
        let got = acks(input, &specs);
        for line in lines {
            if !got
                .lines()
                .any(|l| l.trim_end_matches(['~', '\'']) == *line)
            {
                problems.push(format!("{name}: expected {line:?} in\n{got}"));
            }
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

const UNB: &str = "UNA:+.? '\nUNB+UNOC:3+5412345000013:14+4012345000009:14+240101:1200+IC42'\n";
const ORDERS: &str = "BGM+220+PO1+9'\nDTM+137:20240101:102'\nNAD+BY+5412345000013::9'\nLIN+1++4000862141404:EN'\nQTY+21:10'\nUNS+S'\nCNT+2:1'\n";

fn orders(body: &str) -> String {
    let n = body.matches('\'').count() + 2;
    format!("{UNB}UNH+1+ORDERS:D:96A:UN'\n{body}UNT+{n}+1'\nUNZ+1+IC42'\n")
}

#[test]
fn every_edifact_code_from_its_cause_to_the_contrl() {
    let specs = Specs::load(&workspace_root().join("specs")).expect("specs");
    let b = |from: &str, to: &str| {
        let s = ORDERS.replace(from, to);
        assert_ne!(s, ORDERS, "{from} not in the body");
        orders(&s)
    };
    let cases: Vec<(&str, String, &[&str])> = vec![
        (
            "clean",
            orders(ORDERS),
            &[
                "UCI+IC42+5412345000013:14+4012345000009:14+7",
                "UCM+1+ORDERS:D:96A:UN+7",
            ],
        ),
        // UCI (interchange).
        (
            "UCI 2 syntax version",
            orders(ORDERS).replace("UNOC:3", "UNOC:5"),
            &["UCI+IC42+5412345000013:14+4012345000009:14+4+2"],
        ),
        (
            "UCI 13 trailer missing",
            orders(ORDERS).replace("UNZ+1+IC42'\n", ""),
            &["UCI+IC42+5412345000013:14+4012345000009:14+4+13"],
        ),
        (
            "UCI 28 reference mismatch",
            orders(ORDERS).replace("UNZ+1+IC42", "UNZ+1+IC43"),
            &["UCI+IC42+5412345000013:14+4012345000009:14+4+28"],
        ),
        (
            "UCI 29 count mismatch",
            orders(ORDERS).replace("UNZ+1+", "UNZ+2+"),
            &["UCI+IC42+5412345000013:14+4012345000009:14+4+29"],
        ),
        // UCM (message).
        (
            "UCM 14 not supported",
            orders(ORDERS).replace("ORDERS:D:96A", "ORDERS:D:99Z"),
            &["UCM+1+ORDERS:D:99Z:UN+4+14"],
        ),
        (
            "UCM 28 reference mismatch",
            orders(ORDERS).replace("UNT+9+1", "UNT+9+2"),
            &["UCM+1+ORDERS:D:96A:UN+4+28"],
        ),
        (
            "UCM 29 count mismatch",
            orders(ORDERS).replace("UNT+9+1", "UNT+8+1"),
            &["UCM+1+ORDERS:D:96A:UN+4+29"],
        ),
        (
            "UCM 13 trailer missing",
            orders(ORDERS).replace("UNT+9+1'\n", ""),
            &["UCM+1+ORDERS:D:96A:UN+4+13"],
        ),
        // UCS (segment).
        (
            "UCS 15 unknown",
            b("UNS+S'", "XYZ+1'\nUNS+S'"),
            &["UCM+1+ORDERS:D:96A:UN+4", "UCS+7+15"],
        ),
        ("UCS 13 missing", b("BGM+220+PO1+9'\n", ""), &["UCS+2+13"]),
        (
            "UCS 35 over max use",
            b("UNS+S'", "UNS+S'\nUNS+S'"),
            &["UCS+8+35"],
        ),
        // UCD (element), under a UCS for the segment.
        (
            "UCD 12 invalid code",
            b("UNS+S'", "UNS+X'"),
            &["UCS+7", "UCD+12+1"],
        ),
        (
            "UCD 12 invalid date",
            b("20240101:102", "20240230:102"),
            &["UCS+3", "UCD+12+1:2"],
        ),
        (
            "UCD 13 missing",
            b("NAD+BY+5412345000013::9'", "NAD++5412345000013::9'"),
            &["UCS+4", "UCD+13+1"],
        ),
        (
            "UCD 16 too many components",
            b("QTY+21:10'", "QTY+21:10:PCE:X:Y'"),
            &["UCS+6", "UCD+16+1:4"],
        ),
        (
            "UCD 21 invalid character",
            b("QTY+21:10'", "QTY+21:1O'"),
            &["UCS+6", "UCD+21+1:2"],
        ),
        (
            "UCD 39 too long",
            b(
                "BGM+220+PO1+9'",
                "BGM+220+PO12345678901234567890123456789012345+9'",
            ),
            &["UCS+2", "UCD+39+2"],
        ),
    ];
    check_all(&cases, &specs);
}

#[test]
fn the_999_carries_the_005010_element_codes() {
    let specs = Specs::load(&workspace_root().join("tests/data/specs-mini")).expect("mini spec");
    // ISA11 `^` declares a repetition separator; REF02 does not repeat. The 999's C030 names
    // element 2, no component, repetition 2.
    let input =
        order(&BODY.replace("REF*DP*038~", "REF*DP*038^039~")).replace("*U*00401*", "*^*00401*");
    let ics = edi::parse(input.as_bytes()).expect("parses");
    let r = validate(&ics[0], &specs);
    let when = Timestamp {
        date: "20260102".into(),
        time: "0304".into(),
    };
    let a = ack::acknowledge(
        &ics[0],
        &r,
        &mut Sequential::default(),
        &when,
        &ack::AckPolicy::x12(X12Ack::Always999),
    )
    .expect("acks");
    let text = String::from_utf8(a.functional.expect("a 999")).expect("ASCII");
    assert!(
        text.contains("\nIK3*REF*3**8~\nIK4*2>>2*127*12*039~\nIK5*R*5~\n"),
        "{text}"
    );
    // The same error in a 997 for 004010 says 3, the nearest code that version has.
    let a = ack::acknowledge(
        &ics[0],
        &r,
        &mut Sequential::default(),
        &when,
        &ack::AckPolicy::x12(X12Ack::Always997),
    )
    .expect("acks");
    let text = String::from_utf8(a.functional.expect("a 997")).expect("ASCII");
    assert!(
        text.contains("\nAK3*REF*3**8~\nAK4*2*127*3*039~\nAK5*R*5~\n"),
        "{text}"
    );
}

#[test]
fn the_999_names_the_situational_trigger_of_a_syntax_rule_in_ctx() {
    // N1 rule P0304: N103 without N104. The 999 reports N104 missing (IK4 code 2) and, in CTX,
    // the present N103 that made it required; the 997 has no CTX.
    let specs = Specs::load(&workspace_root().join("specs")).expect("specs");
    let input = order(&BODY.replace("N1*ST*ACME DC*92*0012~", "N1*ST*ACME DC*92~"))
        .replace("*004010~", "*005010~")
        .replace("*00401*", "*00501*");
    let ics = edi::parse(input.as_bytes()).expect("parses");
    let r = validate(&ics[0], &specs);
    let when = Timestamp {
        date: "20260102".into(),
        time: "0304".into(),
    };
    let functional = |choice| {
        let a = ack::acknowledge(
            &ics[0],
            &r,
            &mut Sequential::default(),
            &when,
            &ack::AckPolicy::x12(choice),
        )
        .expect("acks");
        String::from_utf8(a.functional.expect("an acknowledgement")).expect("ASCII")
    };
    let text = functional(X12Ack::Always999);
    assert!(
        text.contains("\nIK3*N1*4**8~\nIK4*4*67*2~\nCTX*SITUATIONAL TRIGGER*N1*4**3~\n"),
        "{text}"
    );
    let text = functional(X12Ack::Always997);
    assert!(text.contains("\nAK3*N1*4**8~\nAK4*4*67*2~\n"), "{text}");
    assert!(!text.contains("CTX"), "{text}");

    // The 999 itself reads back clean under our own 999 spec.
    let ack_999 = functional(X12Ack::Always999);
    let back = edi::parse(ack_999.as_bytes()).expect("the 999 parses");
    let report = validate(&back[0], &specs);
    assert!(report.is_clean(), "{report:#?}");
}
