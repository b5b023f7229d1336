//! Our EDIFACT verdicts against a validator no one here wrote: the `edifact` npm package
//! (tdecaluwe/node-edifact, pinned in `tests/peers/node/package.json`), run through
//! `tests/peers/node/edifact_validate.js` on
//!
//! - every ORDERS/INVRPT/DESADV/INVOIC file of `../shared/corpus/edifact` and
//!   `../shared/corpus/malformed`, and
//! - small interchanges written here from the segment tables in `specs/edifact/*/messages`: a
//!   valid D.96A ORDERS, D.01B INVOIC, D.01B and D.96A INVRPT and D.96A DESADV, each also with one
//!   defect (an unknown segment, no BGM, a non-numeric quantity, an element too long, a component
//!   too many), plus probes: lower case under UNOA and UNOB (in data and in UNB), `@` under UNOB,
//!   representations that changed after D.96A, a syntax 4 UNA. Each fixture says whether its
//!   envelope and its message are valid per the standard; where both sides agree they must agree
//!   with that, and a listed disagreement must name the side that does.
//!
//! # What is compared
//!
//! Accepted or not, per unit: each interchange's envelope (`IC1`: for us its interchange and
//! group errors, for the package its errors in UNA/UNB/UNG/UNE/UNZ and at the end of the
//! document) and each message (`IC1 M2`: for us the message's verdict, for the package its errors
//! in UNH..UNT). A message we answer "not supported" (its directory or type is outside
//! `specs/`) has no verdict on its content to compare: it is listed, not compared.
//!
//! The package checks less and differently (see the driver's header): segment and element counts,
//! formats and lengths from its own tables, which transcribe a later directory than D.96A (6060
//! quantity `an..35` and 1154 reference `an..70` as in D.01B; INVRPT's SG11 led by INV as from
//! D.01B; PYT for PAT and GEI for GIS as in later directories still; 5004 amount `an..35` where
//! the UNTDID has `n..35`); the character repertoire the UNB declares, among UNOA, UNOB, UNOC,
//! UNOY and UCS2 only; a UNA only at the start of the document and only with a space as its fifth
//! character (syntax 1-3); segment order against its message tables. No codes, dates, envelope
//! counts or control numbers.
//!
//! Every unit where the verdicts differ must be in [`DISAGREEMENTS`], which says who is right
//! per the standard (ISO 9735, the UNTDID directory the message declares) and why; the test fails
//! on an unlisted disagreement and on a listed one that no longer occurs. Where the standard
//! sides with the package, `where_the_standard_sides_with_the_peer_we_agree_with_it` asserts our
//! validator gives the right verdict: it fails until the validator is fixed.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

use edigate_tests::{files_in, scratch_dir, shared_corpus, workspace_root};
use serde_json::Value;
use validate::codes::MessageError;
use validate::report::{InterchangeReport, MessageReport, Verdict};
use validate::{Specs, validate};

/// The version `tests/peers/setup.sh` installs; the table below was checked against it.
const PEER: &str = "edifact 1.2.12";
const SETUP_HINT: &str =
    "run sh tests/peers/setup.sh (the project's test script does, before cargo test)";
/// The message types this cross-check is about.
const TYPES: &[&str] = &["ORDERS", "INVRPT", "DESADV", "INVOIC"];

// ------------------------------------------------------------------------------------------------
// Known disagreements

/// Who the standard sides with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Right {
    /// Our validator (the package is wrong or checks a later directory).
    Us,
    /// The package: our validator is wrong.
    Peer,
}

/// A unit where the verdicts differ. `file` is `fixture/NAME`, `edifact/NAME` or
/// `malformed/NAME`; `verdicts` is ours/npm, each `A` (accepted) or `R` (rejected).
struct Disagreement {
    file: &'static str,
    unit: &'static str,
    ours: &'static str,
    peer: &'static str,
    right: Right,
    why: &'static str,
}

const fn d(
    file: &'static str,
    unit: &'static str,
    verdicts: &'static str,
    right: Right,
    why: &'static str,
) -> Disagreement {
    let (ours, peer) = match verdicts.as_bytes() {
        b"A/R" => ("A", "R"),
        b"R/A" => ("R", "A"),
        _ => panic!("verdicts are A/R or R/A"),
    };
    Disagreement {
        file,
        unit,
        ours,
        peer,
        right,
        why,
    }
}

use Right::Us;

const LATER_QTY: &str = "D.96A defines 6060 (quantity) as n..15 (UNTDID), and a numeric data \
    element holds only digits, a sign and a decimal mark (ISO 9735), so `ABC` is invalid; the \
    package's C186 has 6060 as an..35, the representation of later directories (D.99B on; our \
    D.01B spec agrees with it there)";
const LATER_INVRPT: &str = "D.96A INVRPT SG11 is QTY M 1 then INV C 1, so LIN followed by QTY is \
    valid; the package's INVRPT table is a later directory's (D.01B on), where SG11 starts with \
    INV M 1";
const LATER_1154: &str = "D.96A defines 1154 (reference number) as an..35, so 36 characters are \
    too long; the package's C506 has 1154 as an..70, the length of later directories (D.01B)";
const AMOUNT_5004: &str = "D.01B defines 5004 (monetary amount) as n..35 (UNTDID), so `ABC` is \
    invalid; the package's C516 has 5004 as an..35";
const PAT_PYT: &str = "PAT (payment terms basis) is the segment of D.01B's INVOIC SG8 and \
    SG26's SG28; the package's INVOIC table is a later directory's, where PYT replaced PAT, so \
    it stops at the first PAT";
const SYNTAX4_UNA: &str = "ISO 9735-1 (syntax 4) makes UNA's fifth character the repetition \
    separator (`*`, with UNB syntax version 4); the package reads a UNA only when that position is \
    a space (syntax 1-3's reserved character), takes `UNA` for a segment tag and refuses it";
const SECOND_UNA: &str = "ISO 9735: every interchange may begin with its own UNA; the package \
    reads a UNA only at the very start of the document, so it cannot read the second \
    interchange (its UNA, then `|` as element separator)";
const SYNTAX_ID: &str = "the UNB syntax identifier is in ISO 9735's code list 0001 (IATB: IATA \
    level B; UNOE: ISO 8859-5); the package knows only UNOA, UNOB, UNOC, UNOY (and UCS2, which is \
    not a 0001 code) and refuses the interchange";
const UNZ_MISSING: &str =
    "UNZ is mandatory (ISO 9735); the package does not check interchange trailers";
const UNZ_COUNT: &str = "UNZ 0036 must count the interchange's messages or groups and UNZ 0020 \
    repeat UNB's (ISO 9735); the package checks no envelope counts or references";
const UNE_MISSING: &str = "a group opened by UNG is closed by UNE (ISO 9735); the package does \
    not check group trailers";
const UNG_REF: &str = "UNG 0048 must be unique within the interchange (ISO 9735): both groups \
    are numbered 8; the package does not check group references";

#[rustfmt::skip]
const DISAGREEMENTS: &[Disagreement] = &[
    // --- our fixtures ---
    d("fixture/orders_d96a_non_numeric_qty.edi", "IC1 M1", "R/A", Us, LATER_QTY),
    d("fixture/desadv_d96a_non_numeric_qty.edi", "IC1 M1", "R/A", Us, LATER_QTY),
    d("fixture/invrpt_d96a.edi", "IC1 M1", "A/R", Us, LATER_INVRPT),
    d("fixture/orders_d96a_rff_36.edi", "IC1 M1", "R/A", Us, LATER_1154),
    d("fixture/invoic_d01b_non_numeric_moa.edi", "IC1 M1", "R/A", Us, AMOUNT_5004),
    d("fixture/invoic_d01b_syntax4.edi", "IC1", "A/R", Us, SYNTAX4_UNA),
    // --- ../shared/corpus/edifact ---
    d("edifact/edifabric-EANCOM_INVOIC_D01B.edi", "IC1 M1", "A/R", Us, PAT_PYT),
    d("edifact/edifabric-INVOIC_MultipleGroups.edi", "IC1", "R/A", Us, UNG_REF),
    d("edifact/edifabric-INVOIC_MultipleInterchange.edi", "IC2", "A/R", Us, SECOND_UNA),
    d("edifact/edinet-Issue203_INVOIC_D01B.edi", "IC1", "A/R", Us, SYNTAX_ID),
    d("edifact/pydifact-order.edi", "IC1", "R/A", Us, UNZ_MISSING),
    d("edifact/pydifact-order2.edi", "IC1", "R/A", Us, UNZ_MISSING),
    d("edifact/pydifact-wikipedia_de.edi", "IC1", "R/A", Us, UNZ_COUNT),
    // --- ../shared/corpus/malformed ---
    d("malformed/edifabric-INVOIC_MissingGroupTrailer.edi", "IC1", "R/A", Us, UNE_MISSING),
    d("malformed/edifabric-INVOIC_MissingInterchangeTrailer.edi", "IC1", "R/A", Us, UNZ_MISSING),
    d("malformed/edifabric-INVOIC_MissingInterchangeTrailer.edi", "IC2", "A/R", Us, SECOND_UNA),
    d("malformed/edifabric-INVOIC_ValidAndInvalidMessage.edi", "IC1", "R/A", Us, UNZ_COUNT),
    d("malformed/edinet-edifact_Issue188_bad_UNT.edi", "IC1", "R/A", Us, UNZ_COUNT),
];

// ------------------------------------------------------------------------------------------------
// Fixtures

/// A hand-written interchange of one message, and what the standard says of it.
struct Fixture {
    name: String,
    what: String,
    text: String,
    /// Whether the envelope (UNA, UNB, UNZ) is valid per ISO 9735.
    envelope_valid: bool,
    /// Whether the message is valid per ISO 9735 and the directory it declares.
    message_valid: bool,
}

impl Fixture {
    fn new(
        name: &str,
        what: &str,
        text: String,
        envelope_valid: bool,
        message_valid: bool,
    ) -> Self {
        Fixture {
            name: name.to_string(),
            what: what.to_string(),
            text,
            envelope_valid,
            message_valid,
        }
    }
}

/// One message: UNH's S009 and the segments between UNH and UNT.
type Message = (&'static str, Vec<String>);

fn segs(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

/// An interchange: optional UNA, UNB with `syntax` (`UNOA:3`), the messages with UNT counts and
/// references filled in, UNZ. One segment a line.
fn interchange(una: &str, syntax: &str, messages: &[Message]) -> String {
    let mut s = String::new();
    if !una.is_empty() {
        s.push_str(una);
        s.push('\n');
    }
    // Syntax 4 dates UNB with CCYYMMDD, syntax 1-3 with YYMMDD.
    let date = if syntax.ends_with(":4") {
        "20240115:1200"
    } else {
        "240115:1200"
    };
    s.push_str(&format!(
        "UNB+{syntax}+5412345000013:14+4012345500004:14+{date}+IC0001'\n"
    ));
    for (i, (id, body)) in messages.iter().enumerate() {
        let r = i + 1;
        s.push_str(&format!("UNH+{r}+{id}'\n"));
        for seg in body {
            s.push_str(seg);
            s.push_str("'\n");
        }
        s.push_str(&format!("UNT+{}+{r}'\n", body.len() + 2));
    }
    s.push_str(&format!("UNZ+{}+IC0001'\n", messages.len()));
    s
}

const UNA3: &str = "UNA:+.? '";

/// D.96A ORDERS: BGM, DTM, SG2 NAD (buyer, supplier), SG25 LIN with QTY, UNS.
fn orders_d96a() -> Message {
    (
        "ORDERS:D:96A:UN",
        segs(&[
            "BGM+220+PO12345+9",
            "DTM+137:20240115:102",
            "NAD+BY+5412345000013::9",
            "NAD+SU+4012345500004::9",
            "LIN+1++4000862141404:EN",
            "QTY+21:48",
            "UNS+S",
        ]),
    )
}

/// D.01B INVOIC: BGM, DTM, SG2 NAD, SG7 CUX, SG26 LIN QTY with SG27 MOA and SG29 PRI, UNS and
/// SG50 MOA.
fn invoic_d01b() -> Message {
    (
        "INVOIC:D:01B:UN",
        segs(&[
            "BGM+380+INV0001+9",
            "DTM+137:20240115:102",
            "NAD+SE+5412345000013::9",
            "NAD+BY+4012345500004::9",
            "CUX+2:EUR:4",
            "LIN+1++4000862141404:EN",
            "QTY+47:10",
            "MOA+203:250.00",
            "PRI+AAA:25.00",
            "UNS+S",
            "MOA+86:250.00",
        ]),
    )
}

/// D.01B INVRPT: BGM, DTM, SG2 NAD, SG9 LIN with SG11 INV QTY.
fn invrpt_d01b() -> Message {
    (
        "INVRPT:D:01B:UN",
        segs(&[
            "BGM+35+STOCK0001+9",
            "DTM+137:20240115:102",
            "NAD+WH+5412345000013::9",
            "LIN+1++4000862141404:EN",
            "INV+1",
            "QTY+145:100",
        ]),
    )
}

/// D.96A INVRPT: BGM, DTM, SG2 NAD, SG9 LIN with SG11 QTY (INV, conditional, comes after it).
fn invrpt_d96a() -> Message {
    (
        "INVRPT:D:96A:UN",
        segs(&[
            "BGM+35+STOCK0001+9",
            "DTM+137:20240115:102",
            "NAD+WH+5412345000013::9",
            "LIN+1++4000862141404:EN",
            "QTY+145:100",
        ]),
    )
}

/// D.96A DESADV: BGM, DTM, SG1 RFF, SG2 NAD, SG10 CPS with SG15 LIN QTY, CNT.
fn desadv_d96a() -> Message {
    (
        "DESADV:D:96A:UN",
        segs(&[
            "BGM+351+DES0001+9",
            "DTM+137:20240115:102",
            "RFF+ON:PO12345",
            "NAD+SU+5412345000013::9",
            "NAD+DP+4012345500004::9",
            "CPS+1",
            "LIN+1++4000862141404:EN",
            "QTY+12:48",
            "CNT+2:1",
        ]),
    )
}

/// The segment starting with `prefix` (the first one), or a panic: the fixtures are ours.
fn position(body: &[String], prefix: &str) -> usize {
    body.iter()
        .position(|s| s.starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} segment in {body:?}"))
}

/// One defect applied to a valid message.
struct Defect {
    name: &'static str,
    what: &'static str,
    /// Not a defect in D.01B (its data element allows it).
    fine_in_d01b: bool,
    apply: fn(&mut Vec<String>),
}

const DEFECTS: &[Defect] = &[
    Defect {
        name: "unknown_segment",
        what: "a segment ZZZ, which no directory defines, after DTM",
        fine_in_d01b: false,
        apply: |b| {
            let at = position(b, "DTM+") + 1;
            b.insert(at, "ZZZ+1".into());
        },
    },
    Defect {
        name: "missing_bgm",
        what: "no BGM (mandatory, M 1)",
        fine_in_d01b: false,
        apply: |b| {
            let at = position(b, "BGM+");
            b.remove(at);
        },
    },
    Defect {
        name: "non_numeric_qty",
        what: "QTY 6060 `ABC`: invalid in D.96A (n..15), valid in D.01B, whose 6060 is an..35 \
               (\"alphanumeric representation of a quantity\", since D.99B)",
        fine_in_d01b: true,
        apply: |b| {
            let at = position(b, "QTY+");
            let qualifier = b[at][4..].split(':').next().unwrap_or("1").to_string();
            b[at] = format!("QTY+{qualifier}:ABC");
        },
    },
    Defect {
        name: "too_long_element",
        what: "NAD C082 3039 (an..35) is 36 characters",
        fine_in_d01b: false,
        apply: |b| {
            let at = position(b, "NAD+");
            let function = b[at][4..6].to_string();
            b[at] = format!("NAD+{function}+{}::9", "5".repeat(36));
        },
    },
    Defect {
        name: "too_many_components",
        what: "DTM C507 (3 components) has 4",
        fine_in_d01b: false,
        apply: |b| {
            let at = position(b, "DTM+");
            b[at].push_str(":X");
        },
    },
];

fn fixtures() -> Vec<Fixture> {
    let bases: [(&str, &str, Message); 5] = [
        ("orders_d96a", "D.96A ORDERS", orders_d96a()),
        ("invoic_d01b", "D.01B INVOIC", invoic_d01b()),
        ("invrpt_d01b", "D.01B INVRPT", invrpt_d01b()),
        ("invrpt_d96a", "D.96A INVRPT", invrpt_d96a()),
        ("desadv_d96a", "D.96A DESADV", desadv_d96a()),
    ];
    let mut out = Vec::new();
    for (name, what, (id, body)) in &bases {
        let text = interchange(UNA3, "UNOA:3", &[(id, body.clone())]);
        out.push(Fixture::new(
            &format!("{name}.edi"),
            &format!("valid {what}"),
            text,
            true,
            true,
        ));
        for defect in DEFECTS {
            let mut b = body.clone();
            (defect.apply)(&mut b);
            let valid = defect.fine_in_d01b && id.contains(":D:01B:");
            out.push(Fixture::new(
                &format!("{name}_{}.edi", defect.name),
                &format!("{what} with {}", defect.what),
                interchange(UNA3, "UNOA:3", &[(id, b)]),
                true,
                valid,
            ));
        }
    }
    let (orders, body) = orders_d96a();
    let with = |at: &str, extra: &[&str]| {
        let mut b = body.clone();
        let i = position(&b, at) + 1;
        for (k, s) in extra.iter().enumerate() {
            b.insert(i + k, s.to_string());
        }
        b
    };
    let named_buyer = {
        let mut b = body.clone();
        let i = position(&b, "NAD+BY");
        b[i] = "NAD+BY+5412345000013::9++Acme Corp".into();
        b
    };
    out.push(Fixture::new(
        "orders_d96a_unoa_lower_case.edi",
        "D.96A ORDERS, UNOA, a party name in lower case (ISO 9735 level A has no lower case)",
        interchange(UNA3, "UNOA:3", &[(orders, named_buyer.clone())]),
        true,
        false,
    ));
    out.push(Fixture::new(
        "orders_d96a_unob_lower_case.edi",
        "the same under UNOB (level B has lower case)",
        interchange(UNA3, "UNOB:3", &[(orders, named_buyer)]),
        true,
        true,
    ));
    out.push(Fixture::new(
        "orders_d96a_unob_at_sign.edi",
        "D.96A ORDERS, UNOB, an e-mail address in COM: `@` is outside level B (level A plus \
         lower case letters; ISO 646's national-variant positions # $ @ [ \\ ] ^ ` { | } ~ are \
         excluded by 0001's definition of UNOB)",
        interchange(
            UNA3,
            "UNOB:3",
            &[(
                orders,
                with(
                    "NAD+BY",
                    &["CTA+IC+:John Doe", "COM+john.doe@example.com:EM"],
                ),
            )],
        ),
        true,
        false,
    ));
    out.push(Fixture::new(
        "orders_d96a_unoa_lower_case_unb.edi",
        "valid D.96A ORDERS whose UNB (UNOA) carries a lower-case application reference (0026): \
         the declared repertoire covers the whole interchange, service segments included",
        interchange(UNA3, "UNOA:3", &[(orders, body.clone())])
            .replace("+IC0001'\nUNH", "+IC0001++orders'\nUNH"),
        false,
        true,
    ));
    out.push(Fixture::new(
        "orders_d96a_rff_36.edi",
        "D.96A ORDERS, SG1 RFF 1154 (an..35 in D.96A, an..70 in D.01B) of 36 characters",
        interchange(
            UNA3,
            "UNOA:3",
            &[(
                orders,
                with("DTM+", &[&format!("RFF+CT:{}", "C".repeat(36))]),
            )],
        ),
        true,
        false,
    ));
    let (invoic, ibody) = invoic_d01b();
    out.push(Fixture::new(
        "invoic_d01b_syntax4.edi",
        "valid D.01B INVOIC in syntax 4: UNA with `*` as repetition separator, UNOC:4",
        interchange("UNA:+.?*'", "UNOC:4", &[(invoic, ibody.clone())]),
        true,
        true,
    ));
    let mut amount = ibody;
    let at = position(&amount, "MOA+203");
    amount[at] = "MOA+203:ABC".into();
    out.push(Fixture::new(
        "invoic_d01b_non_numeric_moa.edi",
        "D.01B INVOIC, SG27 MOA 5004 (n..35) is `ABC`",
        interchange(UNA3, "UNOA:3", &[(invoic, amount)]),
        true,
        false,
    ));
    out
}

// ------------------------------------------------------------------------------------------------
// Verdicts

/// One side's verdict on a unit.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Says {
    Accepted,
    Rejected(String),
    /// Ours only: the message's directory or type is outside `specs/`.
    NotSupported,
    /// The side does not see this unit (it could not read that far, or reads the file apart).
    Absent,
}

impl Says {
    fn accepted(&self) -> bool {
        *self == Says::Accepted
    }

    fn letter(&self) -> &'static str {
        if self.accepted() { "A" } else { "R" }
    }

    fn show(&self) -> String {
        match self {
            Says::Accepted => "accepted".into(),
            Says::Rejected(why) => format!("rejected: {why}"),
            Says::NotSupported => "not supported (outside specs/)".into(),
            Says::Absent => "no such unit (rejected)".into(),
        }
    }
}

/// A file's units (`IC1`, `IC1 M1`, ...) with each side's verdict and message type.
#[derive(Default)]
struct Units {
    ours: BTreeMap<String, (String, Says)>,
    peer: BTreeMap<String, (String, Says)>,
}

fn specs() -> &'static Specs {
    static SPECS: OnceLock<Specs> = OnceLock::new();
    SPECS.get_or_init(|| Specs::load(&workspace_root().join("specs")).expect("specs/ loads"))
}

/// What a message report says, as short codes: message codes, then `TAG@position:code` for each
/// segment and `TAGnn:code` for each element.
fn message_codes(m: &MessageReport) -> String {
    let mut out: Vec<String> = m.errors.iter().map(|e| e.edifact().to_string()).collect();
    for s in &m.segments {
        out.push(format!("{}@{}:{}", s.tag, s.position, s.code.edifact()));
        for e in &s.elements {
            out.push(format!(
                "{}{:02}{}:{}",
                s.tag,
                e.position,
                e.component.map(|c| format!(".{c}")).unwrap_or_default(),
                e.code.edifact()
            ));
        }
    }
    out.join(" ")
}

fn envelope_codes(r: &InterchangeReport) -> Vec<String> {
    let mut out: Vec<String> = r
        .errors
        .iter()
        .map(|e| format!("UCI {}: {}", e.code.edifact(), e.detail))
        .collect();
    for g in &r.groups {
        out.extend(g.errors.iter().map(|e| format!("UCF {}", e.edifact())));
    }
    out
}

/// Our verdicts on `data`.
fn ours(data: &[u8], units: &mut Units) {
    for (i, item) in edi::Parser::new()
        .lenient(true)
        .interchanges(data)
        .enumerate()
    {
        let ic = format!("IC{}", i + 1);
        let ic_value = match item {
            Ok(v) => v,
            Err(e) => {
                units.ours.insert(
                    ic,
                    (String::new(), Says::Rejected(format!("parse error: {e}"))),
                );
                // The parser stops at a broken interchange: the rest is not read.
                break;
            }
        };
        let r = validate(&ic_value, specs());
        let env = envelope_codes(&r);
        let says = if env.is_empty() {
            Says::Accepted
        } else {
            Says::Rejected(env.join("; "))
        };
        units.ours.insert(ic.clone(), (String::new(), says));
        let mut messages: Vec<&MessageReport> = r.all_messages().collect();
        messages.sort_by_key(|m| m.offset);
        for (j, m) in messages.iter().enumerate() {
            let says = if m.errors.contains(&MessageError::NotSupported) {
                Says::NotSupported
            } else if m.verdict == Verdict::Accepted {
                Says::Accepted
            } else {
                Says::Rejected(message_codes(m))
            };
            units
                .ours
                .insert(format!("{ic} M{}", j + 1), (m.message_type.clone(), says));
        }
    }
}

/// The package's verdicts, from the driver's JSON for one file.
fn peer(json: &Value, units: &mut Units) {
    let count = json["interchanges"].as_u64().unwrap_or(0).max(1);
    let messages = json["messages"].as_array().cloned().unwrap_or_default();
    let errors = json["errors"].as_array().cloned().unwrap_or_default();
    let describe = |e: &Value| {
        format!(
            "{} at {}: {}",
            e["kind"].as_str().unwrap_or("?"),
            e["tag"].as_str().unwrap_or("end of document"),
            e["message"].as_str().unwrap_or("?")
        )
    };
    for n in 1..=count {
        let why: Vec<String> = errors
            .iter()
            .filter(|e| e["interchange"].as_u64() == Some(n) && e["message_index"].is_null())
            .map(describe)
            .collect();
        let says = if why.is_empty() {
            Says::Accepted
        } else {
            Says::Rejected(why.join("; "))
        };
        units.peer.insert(format!("IC{n}"), (String::new(), says));
    }
    let mut ordinal: BTreeMap<u64, usize> = BTreeMap::new();
    for (k, m) in messages.iter().enumerate() {
        let n = m["interchange"].as_u64().unwrap_or(1);
        let j = ordinal.entry(n).or_default();
        *j += 1;
        let why: Vec<String> = errors
            .iter()
            .filter(|e| e["message_index"].as_u64() == Some(k as u64))
            .map(describe)
            .collect();
        let says = if why.is_empty() {
            Says::Accepted
        } else {
            Says::Rejected(why.join("; "))
        };
        let tracked = if m["tracked"].as_bool() == Some(true) {
            ""
        } else {
            " (no table)"
        };
        units.peer.insert(
            format!("IC{n} M{j}"),
            (
                format!("{}{tracked}", m["type"].as_str().unwrap_or("")),
                says,
            ),
        );
    }
}

// ------------------------------------------------------------------------------------------------
// The peer

/// Panics, saying how to install it, unless node and the package are in place.
fn require_peer() -> PathBuf {
    let dir = workspace_root().join("tests/peers/node");
    let package = dir.join("node_modules/edifact/package.json");
    assert!(
        package.is_file(),
        "the edifact npm package is not installed ({} is missing): {SETUP_HINT}",
        package.display()
    );
    let script = dir.join("edifact_validate.js");
    assert!(script.is_file(), "{} is missing", script.display());
    let node = Command::new("node").arg("--version").output();
    assert!(
        node.as_ref().is_ok_and(|o| o.status.success()),
        "the edifact npm package needs `node` on PATH ({node:?}): {SETUP_HINT}"
    );
    script
}

/// The driver's JSON for each file, in one node run.
fn run_peer(files: &[PathBuf]) -> Vec<Value> {
    let script = require_peer();
    let out = Command::new("node")
        .arg(&script)
        .args(files)
        .output()
        .unwrap_or_else(|e| panic!("cannot run node {}: {e}; {SETUP_HINT}", script.display()));
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => {}
        Some(2) => panic!("the edifact npm package is not usable: {stderr}; {SETUP_HINT}"),
        _ => panic!(
            "{} failed ({}): {stderr}; {SETUP_HINT}",
            script.display(),
            out.status
        ),
    }
    let docs: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("the driver printed bad JSON ({e}): {l}"))
        })
        .collect();
    assert_eq!(docs.len(), files.len(), "one JSON document per file");
    for (doc, file) in docs.iter().zip(files) {
        assert_eq!(
            doc["peer"].as_str(),
            Some(PEER),
            "the installed edifact package is not the pinned one: {SETUP_HINT}"
        );
        assert_eq!(doc["file"].as_str(), Some(file.to_string_lossy().as_ref()));
    }
    docs
}

// ------------------------------------------------------------------------------------------------
// The files

/// Whether `data` starts (after a byte-order mark and white space) like an EDIFACT interchange.
fn is_edifact(data: &[u8]) -> bool {
    let data = data.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(data);
    let start = data
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(data.len());
    data[start..].starts_with(b"UNA") || data[start..].starts_with(b"UNB")
}

/// A file to check.
struct File {
    /// `fixture/NAME`, `edifact/NAME` or `malformed/NAME`.
    label: String,
    path: PathBuf,
    what: String,
    /// For a fixture: whether its envelope and its message are valid per the standard.
    truth: Option<(bool, bool)>,
}

/// The fixtures (written to a scratch directory) and the EDIFACT files of the corpus.
fn files() -> Vec<File> {
    let dir = scratch_dir("edifact_npm");
    let mut out = Vec::new();
    for f in fixtures() {
        let path = dir.join(&f.name);
        std::fs::write(&path, &f.text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        out.push(File {
            label: format!("fixture/{}", f.name),
            path,
            what: f.what,
            truth: Some((f.envelope_valid, f.message_valid)),
        });
    }
    if let Some(corpus) = shared_corpus() {
        for sub in ["edifact", "malformed"] {
            for path in files_in(&corpus.join(sub)) {
                let data = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
                if is_edifact(&data) {
                    let name = path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    out.push(File {
                        label: format!("{sub}/{name}"),
                        path,
                        what: "shared corpus".into(),
                        truth: None,
                    });
                }
            }
        }
    }
    out
}

/// Both sides' verdicts on every file of interest: the fixtures, and the corpus files holding an
/// ORDERS, INVRPT, DESADV or INVOIC (by either side's reading).
fn results() -> Vec<(File, Units)> {
    let files = files();
    let paths: Vec<PathBuf> = files.iter().map(|f| f.path.clone()).collect();
    let docs = run_peer(&paths);
    let mut out = Vec::new();
    for (file, doc) in files.into_iter().zip(docs) {
        let data =
            std::fs::read(&file.path).unwrap_or_else(|e| panic!("{}: {e}", file.path.display()));
        let mut units = Units::default();
        ours(&data, &mut units);
        peer(&doc, &mut units);
        let relevant = file.truth.is_some()
            || units
                .ours
                .values()
                .chain(units.peer.values())
                .any(|(t, _)| TYPES.iter().any(|x| t.starts_with(x)));
        if relevant {
            out.push((file, units));
        }
    }
    out
}

fn is_fixture(file: &str) -> bool {
    file.starts_with("fixture/")
}

fn letter(accepted: bool) -> &'static str {
    if accepted { "A" } else { "R" }
}

// ------------------------------------------------------------------------------------------------
// Tests

#[test]
fn edifact_npm_verdicts_agree_with_ours_or_the_disagreement_is_listed() {
    let results = results();
    let corpus_present = results.iter().any(|(f, _)| f.truth.is_none());
    let listed: BTreeMap<(&str, &str), &Disagreement> = DISAGREEMENTS
        .iter()
        .map(|k| ((k.file, k.unit), k))
        .collect();
    assert_eq!(listed.len(), DISAGREEMENTS.len(), "a unit is listed twice");
    let mut table = String::new();
    let mut found: BTreeSet<(String, String, &str, &str)> = BTreeSet::new();
    let mut problems = Vec::new();
    let (mut agreed, mut not_covered) = (0, 0);
    for (file, units) in &results {
        table.push_str(&format!("\n{}  ({})\n", file.label, file.what));
        let keys: BTreeSet<&String> = units.ours.keys().chain(units.peer.keys()).collect();
        for key in keys {
            let absent = (String::new(), Says::Absent);
            let (ot, o) = units.ours.get(key).unwrap_or(&absent);
            let (pt, p) = units.peer.get(key).unwrap_or(&absent);
            let ty = if ot.is_empty() { pt } else { ot };
            let mark = if *o == Says::NotSupported {
                not_covered += 1;
                "n/c"
            } else if o.accepted() == p.accepted() {
                agreed += 1;
                "=="
            } else {
                found.insert((file.label.clone(), key.clone(), o.letter(), p.letter()));
                "!="
            };
            table.push_str(&format!(
                "  {mark} {key} {ty}\n       ours: {}\n       npm:  {}\n",
                o.show(),
                p.show()
            ));
            // A fixture's verdict is known: agreeing sides must both be right, and a listed
            // disagreement must name the side that is.
            if let Some((envelope_valid, message_valid)) = file.truth {
                let truth = letter(if key.contains(' ') {
                    message_valid
                } else {
                    envelope_valid
                });
                if mark == "==" && o.letter() != truth {
                    problems.push(format!(
                        "{} {key}: both sides say {}, the standard says {truth} ({})",
                        file.label,
                        o.letter(),
                        file.what
                    ));
                }
                if let Some(k) = listed.get(&(file.label.as_str(), key.as_str())) {
                    let right = if k.right == Right::Us { k.ours } else { k.peer };
                    if right != truth {
                        problems.push(format!(
                            "{} {key}: DISAGREEMENTS says {right} is right, the fixture is {truth}",
                            file.label
                        ));
                    }
                }
            }
        }
    }
    eprintln!(
        "edifact npm cross-check ({PEER}): {} files, {agreed} units agree, {} differ, \
         {not_covered} not covered by our specs\n{table}",
        results.len(),
        found.len()
    );
    let expected: BTreeSet<(String, String, &str, &str)> = DISAGREEMENTS
        .iter()
        .filter(|k| corpus_present || is_fixture(k.file))
        .map(|k| (k.file.to_string(), k.unit.to_string(), k.ours, k.peer))
        .collect();
    for (f, u, o, p) in found.difference(&expected) {
        problems.push(format!(
            "{f} {u}: ours {o}, npm {p}: not in DISAGREEMENTS (find who is right per ISO 9735 / \
             the UNTDID directory and list it)"
        ));
    }
    for (f, u, o, p) in expected.difference(&found) {
        problems.push(format!(
            "{f} {u}: ours {o}, npm {p} is in DISAGREEMENTS but no longer occurs (remove it)"
        ));
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

#[test]
fn where_the_standard_sides_with_the_peer_we_agree_with_it() {
    let fixtures: BTreeMap<String, String> = fixtures()
        .into_iter()
        .map(|f| (format!("fixture/{}", f.name), f.text))
        .collect();
    let corpus = shared_corpus();
    let mut wrong = Vec::new();
    for k in DISAGREEMENTS.iter().filter(|k| k.right == Right::Peer) {
        let data = if let Some(text) = fixtures.get(k.file) {
            text.as_bytes().to_vec()
        } else if let Some(dir) = &corpus {
            std::fs::read(dir.join(k.file)).unwrap_or_else(|e| panic!("{}: {e}", k.file))
        } else {
            continue;
        };
        let mut units = Units::default();
        ours(&data, &mut units);
        let got = units
            .ours
            .get(k.unit)
            .map_or(Says::Absent, |(_, s)| s.clone());
        if got.letter() != k.peer {
            wrong.push(format!(
                "{} {}: ours {}; per the standard {}: {}\n{}",
                k.file,
                k.unit,
                got.show(),
                if k.peer == "A" {
                    "accepted"
                } else {
                    "rejected"
                },
                k.why,
                String::from_utf8_lossy(&data)
            ));
        }
    }
    assert!(
        wrong.is_empty(),
        "our validator is wrong where the edifact npm package is right:\n\n{}",
        wrong.join("\n\n")
    );
}

#[test]
fn edifact_npm_driver_reports_errors_per_message() {
    // Two messages, the second with a UNT count the package's table refuses (0074 is n..10):
    // the first message and the envelope stay clean, and the second is told apart.
    let dir = scratch_dir("edifact_npm_driver");
    let (id, body) = orders_d96a();
    let text = interchange(UNA3, "UNOA:3", &[(id, body.clone()), (id, body)])
        .replace("UNT+9+2'", "UNT+NINE+2'");
    let path = dir.join("two.edi");
    std::fs::write(&path, text).expect("write");
    let doc = &run_peer(std::slice::from_ref(&path))[0];
    let mut units = Units::default();
    peer(doc, &mut units);
    let says = |k: &str| units.peer.get(k).map(|(_, s)| s.clone());
    assert_eq!(says("IC1"), Some(Says::Accepted), "{doc}");
    assert_eq!(says("IC1 M1"), Some(Says::Accepted), "{doc}");
    assert!(
        matches!(says("IC1 M2"), Some(Says::Rejected(w)) if w.contains("at UNT")),
        "{doc}"
    );
    assert_eq!(doc["segments"][0].as_str(), Some("UNA"));
    assert_eq!(doc["interchanges"].as_u64(), Some(1));
}
