//! The validation engine and the acknowledgements, on hand-written inputs against a small spec
//! (`tests/data/specs-mini`): each error code from its cause, and the exact acknowledgement bytes.

use edigate_tests::workspace_root;
use validate::ack::{self, Sequential, Timestamp, X12Ack};
use validate::codes::{ElementError, GroupError, InterchangeError, MessageError, SegmentError};
use validate::report::{InterchangeReport, Verdict};
use validate::{Specs, validate};

fn specs() -> Specs {
    Specs::load(&workspace_root().join("tests/data/specs-mini")).expect("the mini spec loads")
}

const ISA: &str = "ISA*00*          *00*          *ZZ*BUYER          *ZZ*SELLER         *240101*1200*U*00401*000000042*0*P*>~\n";

/// An interchange of one PO group holding `sets` (each the segments between ST and SE, with
/// SE's count and control number computed).
fn x12(sets: &[&str]) -> String {
    let mut s = String::from(ISA);
    s.push_str("GS*PO*BUYER*SELLER*20240101*1200*7*X*004010~\n");
    for (i, body) in sets.iter().enumerate() {
        let control = format!("{:04}", i + 1);
        let segments = body.matches('~').count() + 2;
        s.push_str(&format!(
            "ST*850*{control}~\n{body}SE*{segments}*{control}~\n"
        ));
    }
    s.push_str(&format!("GE*{}*7~\nIEA*1*000000042~\n", sets.len()));
    s
}

fn check(input: &str) -> InterchangeReport {
    let ics = edi::Parser::new()
        .lenient(true)
        .parse(input.as_bytes())
        .expect("parses");
    validate(&ics[0], &specs())
}

const GOOD: &str = "BEG*00*SA*PO-1**20240101~\nREF*DP*038~\nN1*ST*ACME DC*92*0012~\nN3*100 MAIN ST~\nPO1*1*10*EA*9.99*VP*SKU1~\nPID*F*WIDGET~\nCTT*1~\n";

fn segment_codes(r: &InterchangeReport) -> Vec<(usize, String, SegmentError)> {
    r.all_messages()
        .flat_map(|m| {
            m.segments
                .iter()
                .map(|s| (s.position, s.tag.clone(), s.code))
        })
        .collect()
}

fn element_codes(r: &InterchangeReport) -> Vec<(String, usize, ElementError)> {
    r.all_messages()
        .flat_map(|m| {
            m.segments.iter().flat_map(|s| {
                s.elements
                    .iter()
                    .map(|e| (s.tag.clone(), e.position, e.code))
            })
        })
        .collect()
}

#[test]
fn a_valid_order_is_clean() {
    let r = check(&x12(&[GOOD]));
    assert!(r.is_clean(), "{r:#?}");
    assert_eq!(r.groups[0].verdict, Verdict::Accepted);
}

#[test]
fn structure_errors_carry_their_ak3_codes() {
    // 1: unrecognized segment.
    let r = check(&x12(&[&GOOD.replace("REF*DP*038~", "NTT*DP*038~")]));
    assert_eq!(
        segment_codes(&r),
        [(3, "NTT".to_string(), SegmentError::UnrecognizedSegment)]
    );
    // 3: mandatory segment missing (BEG), noticed at the next segment.
    let r = check(&x12(&[&GOOD.replace("BEG*00*SA*PO-1**20240101~\n", "")]));
    assert_eq!(
        segment_codes(&r),
        [(2, "BEG".to_string(), SegmentError::MandatorySegmentMissing)]
    );
    // 6: a segment of the standard that the 850 does not use.
    let r = check(&x12(&[&GOOD.replace("REF*DP*038~", "MSG*HELLO~")]));
    assert_eq!(
        segment_codes(&r),
        [(3, "MSG".to_string(), SegmentError::NotInTransactionSet)]
    );
    // 7: out of sequence (REF after the N1 loop).
    let r = check(&x12(&[&GOOD
        .replace("REF*DP*038~\n", "")
        .replace("CTT*1~", "REF*DP*038~\nCTT*1~")]));
    assert_eq!(
        segment_codes(&r),
        [(7, "REF".to_string(), SegmentError::OutOfSequence)]
    );
    // 5: segment over its maximum use (N3 twice allowed, three times not).
    let r = check(&x12(&[
        &GOOD.replace("N3*100 MAIN ST~", "N3*A~\nN3*B~\nN3*C~")
    ]));
    assert_eq!(
        segment_codes(&r),
        [(7, "N3".to_string(), SegmentError::SegmentOverMaximumUse)]
    );
    // 4: loop over its maximum (CTT loop once).
    let r = check(&x12(&[&GOOD.replace("CTT*1~", "CTT*1~\nCTT*1~")]));
    assert_eq!(
        segment_codes(&r),
        [(9, "CTT".to_string(), SegmentError::LoopOverMaximum)]
    );
    // 3 for a mandatory loop: no PO1 at all.
    let r = check(&x12(&[
        &GOOD.replace("PO1*1*10*EA*9.99*VP*SKU1~\nPID*F*WIDGET~\n", "")
    ]));
    assert_eq!(
        segment_codes(&r),
        [(6, "PO1".to_string(), SegmentError::MandatorySegmentMissing)]
    );
    // Loops repeat: two N1 loops and two PO1 loops with nested PID loops are fine.
    let two = GOOD
        .replace("N3*100 MAIN ST~", "N3*100 MAIN ST~\nN1*BT*ACME HQ~")
        .replace("CTT*1~", "PO1*2*1*EA*1.5~\nPID*F*A~\nPID*F*B~\nCTT*2~");
    assert!(check(&x12(&[&two])).is_clean());
}

#[test]
fn element_errors_carry_their_ak4_codes() {
    let cases: &[(&str, &str, (&str, usize, ElementError))] = &[
        (
            "BEG*00*SA*PO-1**20240101~",
            "BEG*00*SA***20240101~",
            ("BEG", 3, ElementError::MandatoryMissing),
        ),
        (
            "REF*DP*038~",
            "REF*DP~",
            ("REF", 2, ElementError::ConditionalMissing),
        ),
        (
            "N1*ST*ACME DC*92*0012~",
            "N1*ST*ACME DC*92*0012*X~",
            ("N1", 5, ElementError::TooManyElements),
        ),
        (
            "REF*DP*038~",
            "REF*D*038~",
            ("REF", 1, ElementError::TooShort),
        ),
        (
            "BEG*00*SA*PO-1**20240101~",
            "BEG*00*SA*PO-12345678901234567890**20240101~",
            ("BEG", 3, ElementError::TooLong),
        ),
        (
            "CTT*1~",
            "CTT*1A~",
            ("CTT", 1, ElementError::InvalidCharacter),
        ),
        (
            "BEG*00*SA*PO-1**20240101~",
            "BEG*99*SA*PO-1**20240101~",
            ("BEG", 1, ElementError::InvalidCode),
        ),
        (
            "BEG*00*SA*PO-1**20240101~",
            "BEG*00*SA*PO-1**20240230~",
            ("BEG", 5, ElementError::InvalidDate),
        ),
        (
            "REF*DP*038~",
            "REF*DP*038~\nDTM*002*20240101*2561~",
            ("DTM", 3, ElementError::InvalidTime),
        ),
        (
            "N1*ST*ACME DC*92*0012~",
            "N1*ST*ACME DC*92~",
            ("N1", 4, ElementError::ConditionalMissing),
        ),
        (
            "PO1*1*10*EA*9.99*VP*SKU1~",
            "PO1*1*1O*EA*9.99*VP*SKU1~",
            ("PO1", 2, ElementError::InvalidCharacter),
        ),
        (
            "CTT*1~",
            "CTT*1>2~",
            ("CTT", 1, ElementError::TooManyComponents),
        ),
    ];
    for (from, to, want) in cases {
        let body = GOOD.replace(from, to);
        assert_ne!(body, GOOD, "{from} not in the sample");
        let r = check(&x12(&[&body]));
        let got = element_codes(&r);
        let want = (want.0.to_string(), want.1, want.2);
        assert_eq!(got, std::slice::from_ref(&want), "{to}: {r:#?}");
        let m = r.all_messages().next().expect("a message");
        assert_eq!(m.verdict, Verdict::Rejected);
        assert_eq!(m.errors, [MessageError::SegmentsInError]);
        let seg = &m.segments[0];
        assert_eq!(seg.code, SegmentError::HasElementErrors);
    }
}

#[test]
fn envelope_errors_at_each_level() {
    // SE count and control number.
    let bad = x12(&[GOOD]).replace("SE*9*0001", "SE*8*0002");
    assert_ne!(bad, x12(&[GOOD]));
    let r = check(&bad);
    let m = r.all_messages().next().expect("message");
    assert_eq!(
        m.errors,
        [
            MessageError::SegmentCountMismatch,
            MessageError::ControlNumberMismatch
        ]
    );
    // GE count and control number.
    let bad = x12(&[GOOD]).replace("GE*1*7", "GE*2*8");
    let r = check(&bad);
    assert_eq!(
        r.groups[0].errors,
        [GroupError::CountMismatch, GroupError::ControlNumberMismatch]
    );
    assert_eq!(r.groups[0].verdict, Verdict::Rejected);
    // Unknown version.
    let r = check(&x12(&[GOOD]).replace("*X*004010~", "*X*003010~"));
    assert_eq!(r.groups[0].errors, [GroupError::VersionNotSupported]);
    // IEA control number and count; ISA date.
    let r = check(
        &x12(&[GOOD])
            .replace("IEA*1*000000042", "IEA*2*000000043")
            .replace("*240101*1200*", "*241301*1200*"),
    );
    let codes: Vec<&str> = r.errors.iter().map(|e| e.code.x12()).collect();
    assert_eq!(codes, ["014", "021", "001"]);
    assert_eq!(r.errors[0].code, InterchangeError::InvalidDate);
    // Missing trailers: SE, GE, IEA.
    let cut = x12(&[GOOD]).replace("SE*9*0001~\nGE*1*7~\nIEA*1*000000042~\n", "");
    assert_ne!(cut, x12(&[GOOD]));
    let r = check(&cut);
    assert_eq!(
        r.errors.iter().map(|e| e.code).collect::<Vec<_>>(),
        [InterchangeError::PrematureEnd]
    );
    assert_eq!(r.groups[0].errors, [GroupError::TrailerMissing]);
    assert!(
        r.all_messages()
            .next()
            .expect("message")
            .errors
            .contains(&MessageError::TrailerMissing)
    );
}

#[test]
fn a_bad_set_is_rejected_alone_and_the_group_partially_accepted() {
    let r = check(&x12(&[GOOD, &GOOD.replace("REF", "NTT")]));
    let g = &r.groups[0];
    assert_eq!(g.verdict, Verdict::PartiallyAccepted);
    assert_eq!(g.messages[0].verdict, Verdict::Accepted);
    assert_eq!(g.messages[1].verdict, Verdict::Rejected);
    assert_eq!(g.accepted(), 1);
}

fn when() -> Timestamp {
    Timestamp {
        date: "20260102".into(),
        time: "0304".into(),
    }
}

#[test]
fn the_997_answers_the_group_exactly() {
    let input = x12(&[
        GOOD,
        &GOOD
            .replace("REF*DP*038~", "NTT*DP*038~")
            .replace("BEG*00", "BEG*99"),
    ]);
    let ics = edi::parse(input.as_bytes()).expect("parses");
    let r = validate(&ics[0], &specs());
    let acks = ack::acknowledge(
        &ics[0],
        &r,
        &mut Sequential::default(),
        &when(),
        &ack::AckPolicy::contrl_always(),
    )
    .expect("acks");
    assert_eq!(acks.ta1, None, "ISA14 is 0 and the envelope is sound");
    let got = String::from_utf8(acks.functional.expect("a 997")).expect("ASCII");
    let want = "\
ISA*00*          *00*          *ZZ*SELLER         *ZZ*BUYER          *260102*0304*U*00401*000000001*0*P*>~
GS*FA*SELLER*BUYER*20260102*0304*1*X*004010~
ST*997*0001~
AK1*PO*7~
AK2*850*0001~
AK5*A~
AK2*850*0002~
AK3*BEG*2**8~
AK4*1*353*7*99~
AK3*NTT*3**1~
AK5*R*5~
AK9*P*2*2*1~
SE*11*0001~
GE*1*1~
IEA*1*000000001~
";
    assert_eq!(got, want);
    // The 997 itself parses, with the counts right.
    let parsed = edi::parse(got.as_bytes()).expect("the 997 parses");
    assert_eq!(parsed[0].messages().len(), 1);
}

#[test]
fn ta1_when_asked_for_or_when_the_envelope_is_bad() {
    let asked = x12(&[GOOD]).replace("*0*P*>~", "*1*P*>~");
    let ics = edi::parse(asked.as_bytes()).expect("parses");
    let r = validate(&ics[0], &specs());
    let acks = ack::acknowledge(
        &ics[0],
        &r,
        &mut Sequential::default(),
        &when(),
        &ack::AckPolicy::contrl_always(),
    )
    .expect("acks");
    let ta1 = String::from_utf8(acks.ta1.expect("TA1 asked for")).expect("ASCII");
    assert!(
        ta1.contains("\nTA1*000000042*240101*1200*A*000~\n"),
        "{ta1}"
    );
    assert!(ta1.ends_with("IEA*0*000000001~\n"), "{ta1}");
    assert!(acks.functional.is_some(), "the 997 goes too");

    let bad = x12(&[GOOD]).replace("IEA*1*000000042", "IEA*1*000000043");
    let ics = edi::Parser::new()
        .lenient(true)
        .parse(bad.as_bytes())
        .expect("parses");
    let r = validate(&ics[0], &specs());
    let acks = ack::acknowledge(
        &ics[0],
        &r,
        &mut Sequential::default(),
        &when(),
        &ack::AckPolicy::contrl_always(),
    )
    .expect("acks");
    let ta1 = String::from_utf8(acks.ta1.expect("TA1 for a bad envelope")).expect("ASCII");
    assert!(
        ta1.contains("\nTA1*000000042*240101*1200*R*001~\n"),
        "{ta1}"
    );
    assert_eq!(acks.functional, None, "a rejected interchange gets no 997");
}

const ORDERS_GOOD: &str = "UNA:+.? '\nUNB+UNOC:3+BUYER:14+SELLER:14+240101:1200+42'\nUNH+1+ORDERS:D:96A:UN'\nBGM+220+PO1+9'\nDTM+137:20240101:102'\nNAD+BY+5412345000013::9'\nLIN+1++4000862141404:SRS'\nQTY+21:10'\nUNS+S'\nCNT+2:1'\nUNT+9+1'\nUNZ+1+42'\n";

#[test]
fn edifact_orders_validate_and_contrl_answers_them() {
    let r = check(ORDERS_GOOD);
    assert!(r.is_clean(), "{r:#?}");

    let bad = ORDERS_GOOD
        .replace("QTY+21:10'", "QTY+21:1O'")
        .replace("UNS+S'", "UNS+X'\nFOO+1'");
    let r = check(&bad);
    let m = r.all_messages().next().expect("message");
    assert_eq!(m.verdict, Verdict::Rejected);
    assert_eq!(
        segment_codes(&r),
        [
            (6, "QTY".to_string(), SegmentError::HasElementErrors),
            (7, "UNS".to_string(), SegmentError::HasElementErrors),
            (8, "FOO".to_string(), SegmentError::UnrecognizedSegment),
        ]
    );
    assert_eq!(
        element_codes(&r),
        [
            ("QTY".to_string(), 1, ElementError::InvalidCharacter),
            ("UNS".to_string(), 1, ElementError::InvalidCode),
        ]
    );
    // The UNT count is now off by one too.
    assert!(m.errors.contains(&MessageError::SegmentCountMismatch));

    let ics = edi::Parser::new()
        .lenient(true)
        .parse(bad.as_bytes())
        .expect("parses");
    let acks = ack::acknowledge(
        &ics[0],
        &r,
        &mut Sequential::default(),
        &when(),
        &ack::AckPolicy::contrl_always(),
    )
    .expect("acks");
    let contrl = String::from_utf8(acks.functional.expect("a CONTRL")).expect("text");
    let want = "\
UNA:+.? '
UNB+UNOC:3+SELLER:14+BUYER:14+260102:0304+1'
UNH+1+CONTRL:2:2:UN'
UCI+42+BUYER:14+SELLER:14+7'
UCM+1+ORDERS:D:96A:UN+4+29'
UCS+6'
UCD+21+1:2'
UCS+7'
UCD+12+1'
UCS+8+15'
UNT+9+1'
UNZ+1+1'
";
    assert_eq!(contrl, want);

    // pydifact, a parser no one here wrote, reads the CONTRL as we meant it.
    let dir = edigate_tests::scratch_dir("contrl");
    let file = dir.join("contrl.edi");
    std::fs::write(&file, &contrl).expect("write");
    let dump = edigate_tests::pydifact_dump(&file).expect("pydifact parses our CONTRL");
    let tags: Vec<&str> = dump["segments"]
        .as_array()
        .expect("segments")
        .iter()
        .filter_map(|s| s["tag"].as_str())
        .collect();
    assert_eq!(
        tags,
        [
            "UNA", "UNB", "UNH", "UCI", "UCM", "UCS", "UCD", "UCS", "UCD", "UCS", "UNT", "UNZ"
        ]
    );
    let ucm = &dump["segments"][4]["elements"];
    assert_eq!(ucm[1], serde_json::json!(["ORDERS", "D", "96A", "UN"]));
    assert_eq!(ucm[2], serde_json::json!(["4"]));
    let ucd = &dump["segments"][6]["elements"];
    assert_eq!(ucd[1], serde_json::json!(["1", "2"]));
}

#[test]
fn the_999_uses_ik_segments() {
    let input = x12(&[&GOOD.replace("CTT*1~", "CTT*1>2~")]);
    let ics = edi::parse(input.as_bytes()).expect("parses");
    let r = validate(&ics[0], &specs());
    let acks = ack::acknowledge(
        &ics[0],
        &r,
        &mut Sequential::default(),
        &when(),
        &ack::AckPolicy::x12(X12Ack::Always999),
    )
    .expect("acks");
    let got = String::from_utf8(acks.functional.expect("a 999")).expect("ASCII");
    assert!(got.contains("\nGS*FA*SELLER*BUYER*20260102*0304*1*X*005010X231A1~\nST*999*0001*005010X231A1~\nAK1*PO*7*004010~\nAK2*850*0001~\nIK3*CTT*8**8~\nIK4*1>2*354*13*2~\nIK5*R*5~\nAK9*R*1*1*0~\n"), "{got}");
}

#[test]
fn aperak_reports_application_errors_in_the_messages_directory() {
    let specs = Specs::load(&workspace_root().join("specs")).expect("specs load");
    let ics = edi::parse(ORDERS_GOOD.as_bytes()).expect("parses");
    let ic = &ics[0];
    let m = ic.messages().next().expect("message");
    let request = ack::AperakRequest {
        document_number: "AP-1".into(),
        acknowledged: ("ON".into(), "PO1".into()),
        errors: vec![ack::ApplicationError {
            code: "12".into(),
            text: "Unknown article 4000862141404: not in the catalogue".into(),
            reference: Some(("LI".into(), "1".into())),
        }],
    };
    let bytes = ack::aperak(ic, &m, &request, &mut Sequential::default(), &when()).expect("APERAK");
    let text = String::from_utf8(bytes.clone()).expect("text");
    assert!(text.contains("\nUNH+1+APERAK:D:96A:UN'\nBGM+305+AP-1+27'\nDTM+137:202601020304:203'\nRFF+ON:PO1'\nERC+12'\nFTX+AAO+++Unknown article 4000862141404?: not in the catalogue'\nRFF+LI:1'\nUNT+8+1'\n"), "{text}");
    // It validates clean against the real D96A APERAK spec, and pydifact reads it.
    let parsed = edi::parse(&bytes).expect("our APERAK parses");
    let r = validate(&parsed[0], &specs);
    assert!(r.is_clean(), "{r:#?}");
    let dir = edigate_tests::scratch_dir("aperak");
    std::fs::write(dir.join("aperak.edi"), &bytes).expect("write");
    let dump =
        edigate_tests::pydifact_dump(&dir.join("aperak.edi")).expect("pydifact parses our APERAK");
    let ftx = dump["segments"]
        .as_array()
        .expect("segments")
        .iter()
        .find(|s| s["tag"] == "FTX")
        .expect("FTX");
    assert_eq!(
        ftx["elements"][3][0],
        "Unknown article 4000862141404: not in the catalogue"
    );
}

#[test]
fn contrl_goes_when_asked_or_as_the_policy_says() {
    let specs = Specs::load(&workspace_root().join("specs")).expect("specs load");
    let run = |input: &str, policy: ack::AckPolicy| {
        let ics = edi::Parser::new()
            .lenient(true)
            .parse(input.as_bytes())
            .expect("parses");
        let r = validate(&ics[0], &specs);
        ack::acknowledge(&ics[0], &r, &mut Sequential::default(), &when(), &policy)
            .expect("acks")
            .functional
    };
    let asked = ORDERS_GOOD.replace("240101:1200+42'", "240101:1200+42++++1'");
    let bad = ORDERS_GOOD.replace("UNS+S'", "UNS+X'");
    let default = ack::AckPolicy::default();
    let negative = ack::AckPolicy {
        contrl: ack::ContrlPolicy::WhenAskedOrRejected,
        ..default
    };
    assert_eq!(run(ORDERS_GOOD, default), None, "not asked for");
    assert!(run(&asked, default).is_some(), "UNB 0031 = 1 asks for it");
    assert_eq!(run(ORDERS_GOOD, negative), None, "nothing rejected");
    assert!(
        run(&bad, negative).is_some(),
        "a rejected message gets a negative CONTRL"
    );
    assert!(run(ORDERS_GOOD, ack::AckPolicy::contrl_always()).is_some());
}
