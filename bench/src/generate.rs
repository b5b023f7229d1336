//! Deterministic, realistic purchase-order files of a requested size.
//!
//! - X12: 850 purchase orders, version 004010. Several interchanges (`ISA`…`IEA`), each with one
//!   to three functional groups (`GS`…`GE`) of 50–400 transaction sets; every set has `BEG`,
//!   `REF`, `PER`, `ITD`, `DTM`, `TD5`, `N1`/`N3`/`N4` party loops, `PO1` lines with `PID` (and
//!   some `PO4`), `CTT` and an `SE` whose count is right. Segments end in `~` and a newline.
//! - EDIFACT: ORDERS D96A (EAN008). Several interchanges, each `UNA` + `UNB` … `UNZ` with 200–800
//!   messages: `UNH`, `BGM`, `DTM`, `FTX`, `RFF`, `NAD`, `CUX`, `LIN`/`PIA`/`IMD`/`QTY`/`PRI`
//!   lines, `UNS`, `CNT`, `UNT`. About one item description in twelve carries a released
//!   delimiter (`?'`, `?+`, `?:` or `??`). Segments end in `'` and a newline.
//!
//! Line counts follow a skewed distribution (most orders are short, a few run to 60 lines), so
//! segment lengths and counts resemble real order traffic. The same seed and size always give the
//! same bytes.

use std::fmt::Write as _;
use std::io::{self, Write};

pub use edi::Standard;

/// The seed `edigate-bench generate` uses unless told otherwise.
pub const DEFAULT_SEED: u64 = 0x0850_D96A;

/// The file name for a generated file of `size_mb` megabytes (10⁶ bytes) of `standard`.
pub fn file_name(standard: Standard, size_mb: u64) -> String {
    match standard {
        Standard::X12 => format!("orders-x12-{size_mb}mb.edi"),
        Standard::Edifact => format!("orders-edifact-{size_mb}mb.edi"),
    }
}

/// What a generated file holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Bytes written.
    pub bytes: u64,
    /// Interchanges (`ISA`…`IEA` or `UNB`…`UNZ`).
    pub interchanges: u64,
    /// Functional groups (X12 only).
    pub groups: u64,
    /// Transaction sets or messages.
    pub messages: u64,
    /// Segments, envelopes included (`UNA` not counted: it is a service string advice).
    pub segments: u64,
}

/// A small, fast, deterministic generator (SplitMix64).
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    /// A generator seeded with `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `lo..=hi`.
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next_u64() % (hi - lo + 1)
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.next_u64() % 100 < percent
    }

    /// One of `items`.
    pub fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next_u64() % items.len() as u64) as usize]
    }

    /// How many lines an order has: half have 1–5, most of the rest 6–20, a tenth 21–60.
    fn line_count(&mut self) -> u64 {
        match self.range(0, 9) {
            0..=4 => self.range(1, 5),
            5..=8 => self.range(6, 20),
            _ => self.range(21, 60),
        }
    }

    fn digits(&mut self, n: usize) -> String {
        (0..n)
            .map(|_| char::from(b'0' + (self.next_u64() % 10) as u8))
            .collect()
    }

    /// A GS1 number (GTIN, GLN) of `n` digits whose last digit is its valid check digit, as
    /// real product and location codes have.
    fn gs1(&mut self, n: usize) -> String {
        let mut body = self.digits(n - 1);
        // Weights 3 and 1 alternate from the rightmost digit of the body.
        let sum: u32 = body
            .bytes()
            .rev()
            .enumerate()
            .map(|(i, b)| u32::from(b - b'0') * if i % 2 == 0 { 3 } else { 1 })
            .sum();
        body.push(char::from(b'0' + ((10 - sum % 10) % 10) as u8));
        body
    }

    fn date(&mut self) -> (u64, u64, u64) {
        (2026, self.range(1, 12), self.range(1, 28))
    }

    fn price(&mut self) -> String {
        let cents = self.range(25, 250_000);
        format!("{}.{:02}", cents / 100, cents % 100)
    }
}

const COMPANIES: &[&str] = &[
    "ACME DISTRIBUTION",
    "NORTHWIND TRADERS",
    "CONTOSO RETAIL",
    "GLOBEX SUPPLY",
    "INITECH HARDWARE",
    "UMBRELLA HOME CENTERS",
    "STARK INDUSTRIAL",
    "WAYNE OFFICE PRODUCTS",
    "HOOLI GROCERY",
    "VANDELAY IMPORTS",
    "SOYLENT FOODS",
    "TYRELL GARDEN",
];
const STREETS: &[&str] = &[
    "1200 INDUSTRIAL PKWY",
    "45 HARBOR RD",
    "PO BOX 5500",
    "780 COMMERCE DR STE 210",
    "3 LOGISTICS WAY",
    "19 MILL ST",
    "2250 AIRPORT BLVD",
    "600 DISTRIBUTION CTR DR",
];
const CITIES: &[(&str, &str, &str)] = &[
    ("COLUMBUS", "OH", "43215"),
    ("ATLANTA", "GA", "30301"),
    ("MEMPHIS", "TN", "38118"),
    ("RENO", "NV", "89502"),
    ("ALLENTOWN", "PA", "18109"),
    ("DALLAS", "TX", "75212"),
    ("JOLIET", "IL", "60436"),
    ("ONTARIO", "CA", "91761"),
];
const EU_CITIES: &[(&str, &str, &str)] = &[
    ("BRUSSELS", "1000", "BE"),
    ("KOELN", "50667", "DE"),
    ("LYON", "69007", "FR"),
    ("ROTTERDAM", "3011", "NL"),
    ("MILANO", "20121", "IT"),
    ("WIEN", "1100", "AT"),
    ("GDANSK", "80-001", "PL"),
    ("ZARAGOZA", "50001", "ES"),
];
const ADJECTIVES: &[&str] = &[
    "STAINLESS",
    "GALVANIZED",
    "HEAVY DUTY",
    "COMPACT",
    "ORGANIC",
    "CORDLESS",
    "INSULATED",
    "RECYCLED",
    "PREMIUM",
    "ECONOMY",
];
const NOUNS: &[&str] = &[
    "HEX BOLT",
    "WOOD SCREW",
    "GARDEN HOSE",
    "LED BULB",
    "COFFEE BEANS",
    "PAPER TOWEL",
    "DRILL DRIVER",
    "STORAGE BIN",
    "WORK GLOVES",
    "EXTENSION CORD",
    "PAINT ROLLER",
    "OLIVE OIL",
];
const SIZES: &[&str] = &[
    "3/8 IN X 2 IN",
    "12 PK",
    "50 FT",
    "60W EQ 4 PK",
    "1 KG",
    "6 ROLL",
    "20V",
    "27 QT",
    "SIZE L",
    "25 FT 16/3",
    "9 IN",
    "500 ML",
];
/// Descriptions whose EDIFACT form needs the release character, unescaped.
const SPECIAL: &[&str] = &[
    "O'BRIEN CLAMP",
    "NUTS+BOLTS KIT",
    "RATIO 1:2 MIX",
    "50% OFF? NO",
    "KIDS' RAIN BOOTS",
    "A+ GRADE CHAIN",
];
const NAMES: &[&str] = &[
    "JANE DOE",
    "JOHN SMITH",
    "MARIA GARCIA",
    "WEI CHEN",
    "AMIT PATEL",
    "ANNA MUELLER",
];
const UOMS: &[&str] = &["EA", "EA", "EA", "CA", "BX", "PK", "DZ"];
const SCACS: &[&str] = &["UPSN", "FDEG", "RDWY", "ODFL", "SAIA"];

fn description(rng: &mut Rng) -> String {
    if rng.chance(8) {
        return format!("{} {}", rng.pick(SPECIAL), rng.pick(SIZES));
    }
    format!(
        "{} {} {}",
        rng.pick(ADJECTIVES),
        rng.pick(NOUNS),
        rng.pick(SIZES)
    )
}

/// EDIFACT release escaping for the default service characters `:+.? '`.
fn release(value: &str) -> String {
    let mut out = String::with_capacity(value.len() + 2);
    for c in value.chars() {
        if matches!(c, '\'' | '+' | ':' | '?') {
            out.push('?');
        }
        out.push(c);
    }
    out
}

/// Writes segments into a buffer, counting them.
struct Segs {
    buf: String,
    count: u64,
}

impl Segs {
    fn new() -> Self {
        Segs {
            buf: String::with_capacity(64 * 1024),
            count: 0,
        }
    }

    /// Appends one segment: `body` followed by `terminator` and a newline.
    fn push(&mut self, body: std::fmt::Arguments<'_>, terminator: char) {
        // Writing into a String cannot fail.
        let _ = self.buf.write_fmt(body);
        self.buf.push(terminator);
        self.buf.push('\n');
        self.count += 1;
    }
}

macro_rules! x12 {
    ($s:expr, $($arg:tt)*) => { $s.push(format_args!($($arg)*), '~') };
}
macro_rules! unedifact {
    ($s:expr, $($arg:tt)*) => { $s.push(format_args!($($arg)*), '\'') };
}

/// One X12 850 transaction set with control number `control`.
fn x12_set(rng: &mut Rng, control: u64) -> Segs {
    let mut s = Segs::new();
    let (y, m, d) = rng.date();
    x12!(s, "ST*850*{control:04}");
    x12!(
        s,
        "BEG*00*SA*{}**{y}{m:02}{d:02}",
        format_args!("45{}", rng.digits(8))
    );
    if rng.chance(30) {
        x12!(s, "CUR*BY*USD");
    }
    x12!(s, "REF*DP*{}", rng.digits(3));
    x12!(s, "REF*IA*V{}", rng.digits(6));
    if rng.chance(60) {
        x12!(
            s,
            "PER*BD*{}*TE*{}{}{}",
            rng.pick(NAMES),
            rng.digits(3),
            rng.digits(3),
            rng.digits(4)
        );
    }
    if rng.chance(50) {
        x12!(s, "ITD*01*3*2**30**60");
    }
    let (_, dm, dd) = rng.date();
    x12!(s, "DTM*002*{y}{dm:02}{dd:02}");
    if rng.chance(40) {
        let scac = rng.pick(SCACS);
        x12!(s, "TD5*O*2*{scac}*M*{scac} GROUND");
    }
    let parties: &[&str] = if rng.chance(70) {
        &["ST", "BT"]
    } else {
        &["ST"]
    };
    for party in parties {
        let (city, state, zip) = CITIES[rng.range(0, CITIES.len() as u64 - 1) as usize];
        x12!(
            s,
            "N1*{party}*{} {}*92*{}",
            rng.pick(COMPANIES),
            rng.range(1, 99),
            rng.digits(4)
        );
        x12!(s, "N3*{}", rng.pick(STREETS));
        x12!(s, "N4*{city}*{state}*{zip}*US");
    }
    if rng.chance(50) {
        x12!(s, "N1*VN*{}*92*V{}", rng.pick(COMPANIES), rng.digits(6));
    }
    let lines = rng.line_count();
    let mut hash = 0;
    for i in 1..=lines {
        let qty = rng.range(1, 500);
        hash += qty;
        x12!(
            s,
            "PO1*{i}*{qty}*{}*{}*PE*UP*{}*VN*SKU-{}*BP*{}",
            rng.pick(UOMS),
            rng.price(),
            rng.gs1(12),
            rng.digits(5),
            rng.digits(8)
        );
        x12!(s, "PID*F****{}", description(rng));
        if rng.chance(30) {
            x12!(s, "PO4*{}*{}*EA", rng.range(1, 48), rng.range(1, 24));
        }
    }
    x12!(s, "CTT*{lines}*{hash}");
    let count = s.count + 1;
    x12!(s, "SE*{count}*{control:04}");
    s
}

/// One EDIFACT ORDERS D96A message with reference `reference`.
fn edifact_message(rng: &mut Rng, reference: u64) -> Segs {
    let mut s = Segs::new();
    let (y, m, d) = rng.date();
    unedifact!(s, "UNH+{reference}+ORDERS:D:96A:UN:EAN008");
    unedifact!(s, "BGM+220+PO{}+9", rng.digits(8));
    unedifact!(s, "DTM+137:{y}{m:02}{d:02}:102");
    let (_, dm, dd) = rng.date();
    unedifact!(s, "DTM+2:{y}{dm:02}{dd:02}:102");
    if rng.chance(25) {
        unedifact!(
            s,
            "FTX+PUR+++{}",
            release("DELIVER TO GATE 4, BOOK SLOT: CALL +32 2 555 0100")
        );
    }
    unedifact!(s, "RFF+CT:{}", rng.digits(7));
    for party in ["BY", "SU", "DP"] {
        let gln = rng.gs1(13);
        if party == "BY" || rng.chance(40) {
            let (city, post, country) =
                EU_CITIES[rng.range(0, EU_CITIES.len() as u64 - 1) as usize];
            unedifact!(
                s,
                "NAD+{party}+{gln}::9++{}+{}+{city}++{post}+{country}",
                rng.pick(COMPANIES),
                rng.pick(STREETS)
            );
        } else {
            unedifact!(s, "NAD+{party}+{gln}::9");
        }
    }
    unedifact!(s, "CUX+2:EUR:9");
    let lines = rng.line_count();
    for i in 1..=lines {
        unedifact!(s, "LIN+{i}++{}:EN", rng.gs1(13));
        unedifact!(s, "PIA+1+ART-{}:SA", rng.digits(5));
        // IMD 7008 is an..35 in D.96A: a real sender cuts longer descriptions.
        let text: String = description(rng).chars().take(35).collect();
        unedifact!(s, "IMD+F++:::{}", release(text.trim_end()));
        unedifact!(s, "QTY+21:{}:PCE", rng.range(1, 500));
        unedifact!(s, "PRI+AAA:{}", rng.price());
    }
    unedifact!(s, "UNS+S");
    unedifact!(s, "CNT+2:{lines}");
    let count = s.count + 1;
    unedifact!(s, "UNT+{count}+{reference}");
    s
}

/// Writes `target_bytes` (rounded up to the end of an interchange) of X12 850s to `out`.
pub fn write_x12<W: Write>(mut out: W, target_bytes: u64, seed: u64) -> io::Result<Stats> {
    let mut rng = Rng::new(seed);
    let mut st = Stats::default();
    let mut group_control = 0u64;
    while st.bytes < target_bytes {
        st.interchanges += 1;
        let isa_control = st.interchanges;
        let sender = format!("{} {}", rng.pick(COMPANIES), rng.range(1, 9));
        let sender_id: String = sender.chars().filter(char::is_ascii_alphanumeric).collect();
        let receiver_id = format!("SUPPLIER{}", rng.digits(4));
        let (y, m, d) = rng.date();
        let (hh, mm) = (rng.range(0, 23), rng.range(0, 59));
        let mut ic = Segs::new();
        x12!(
            ic,
            "ISA*00*          *00*          *ZZ*{:<15}*ZZ*{:<15}*{:02}{m:02}{d:02}*{hh:02}{mm:02}*U*00401*{isa_control:09}*0*P*>",
            &sender_id[..sender_id.len().min(15)],
            receiver_id,
            y % 100
        );
        let groups = rng.range(1, 3);
        let mut written_groups = 0;
        let mut full = false;
        for _ in 0..groups {
            group_control += 1;
            written_groups += 1;
            x12!(
                ic,
                "GS*PO*{}*{}*{y}{m:02}{d:02}*{hh:02}{mm:02}*{group_control}*X*004010",
                &sender_id[..sender_id.len().min(15)],
                receiver_id
            );
            let sets = rng.range(50, 400);
            let mut written_sets = 0;
            for n in 1..=sets {
                let set = x12_set(&mut rng, n);
                ic.buf.push_str(&set.buf);
                ic.count += set.count;
                written_sets += 1;
                if st.bytes + ic.buf.len() as u64 >= target_bytes {
                    full = true;
                    break;
                }
            }
            st.messages += written_sets;
            x12!(ic, "GE*{written_sets}*{group_control}");
            if full {
                break;
            }
        }
        st.groups += written_groups;
        x12!(ic, "IEA*{written_groups}*{isa_control:09}");
        out.write_all(ic.buf.as_bytes())?;
        st.bytes += ic.buf.len() as u64;
        st.segments += ic.count;
    }
    out.flush()?;
    Ok(st)
}

/// Writes `target_bytes` (rounded up to the end of an interchange) of EDIFACT ORDERS to `out`.
pub fn write_edifact<W: Write>(mut out: W, target_bytes: u64, seed: u64) -> io::Result<Stats> {
    let mut rng = Rng::new(seed ^ 0x5EED_ED1F_AC70_0000);
    let mut st = Stats::default();
    while st.bytes < target_bytes {
        st.interchanges += 1;
        let reference = format!("IC{:08}", st.interchanges);
        let (y, m, d) = rng.date();
        let mut ic = Segs::new();
        ic.buf.push_str("UNA:+.? '\n");
        unedifact!(
            ic,
            "UNB+UNOC:3+{}:14+{}:14+{:02}{m:02}{d:02}:{:02}{:02}+{reference}++ORDERS",
            rng.gs1(13),
            rng.gs1(13),
            y % 100,
            rng.range(0, 23),
            rng.range(0, 59)
        );
        let messages = rng.range(200, 800);
        let mut written = 0;
        for n in 1..=messages {
            let msg = edifact_message(&mut rng, n);
            ic.buf.push_str(&msg.buf);
            ic.count += msg.count;
            written += 1;
            if st.bytes + ic.buf.len() as u64 >= target_bytes {
                break;
            }
        }
        unedifact!(ic, "UNZ+{written}+{reference}");
        st.messages += written;
        out.write_all(ic.buf.as_bytes())?;
        st.bytes += ic.buf.len() as u64;
        st.segments += ic.count;
    }
    out.flush()?;
    Ok(st)
}

/// Writes `target_bytes` of `standard` to `out`.
pub fn write<W: Write>(
    standard: Standard,
    out: W,
    target_bytes: u64,
    seed: u64,
) -> io::Result<Stats> {
    match standard {
        Standard::X12 => write_x12(out, target_bytes, seed),
        Standard::Edifact => write_edifact(out, target_bytes, seed),
    }
}

/// The same bytes [`write()`] would produce, in memory.
pub fn generate(standard: Standard, target_bytes: u64, seed: u64) -> (Vec<u8>, Stats) {
    let mut buf = Vec::with_capacity(target_bytes as usize + 2 * 1024 * 1024);
    // Writing into a Vec cannot fail.
    let stats = write(standard, &mut buf, target_bytes, seed).unwrap_or_default();
    (buf, stats)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isa_is_fixed_width() {
        let (data, _) = generate(Standard::X12, 1, 7);
        let isa_end = data
            .iter()
            .position(|&b| b == b'~')
            .expect("ISA terminator");
        assert_eq!(isa_end + 1, 106);
    }

    #[test]
    fn deterministic_and_sized() {
        for std in [Standard::X12, Standard::Edifact] {
            let (a, sa) = generate(std, 300_000, 1);
            let (b, _) = generate(std, 300_000, 1);
            assert_eq!(a, b);
            assert!(a.len() >= 300_000 && a.len() < 1_000_000, "{}", a.len());
            assert_eq!(sa.bytes, a.len() as u64);
            assert!(sa.interchanges >= 1 && sa.messages > 50);
        }
    }

    #[test]
    fn edigate_reads_what_is_generated() {
        for std in [Standard::X12, Standard::Edifact] {
            let (data, stats) = generate(std, 2_000_000, 3);
            let ics = edi::parse(&data).expect("generated file parses");
            assert_eq!(ics.len() as u64, stats.interchanges);
            let messages: u64 = ics.iter().map(|ic| ic.messages().len() as u64).sum();
            assert_eq!(messages, stats.messages);
            assert!(
                ics.iter().all(|ic| ic.issues().is_empty()),
                "{:?}",
                ics[0].issues()
            );
            let segments = edi::tokenize(&data).count() as u64;
            assert_eq!(segments, stats.segments);
        }
    }

    #[test]
    fn releases_are_unescaped() {
        let (data, _) = generate(Standard::Edifact, 500_000, 5);
        let released: Vec<Vec<u8>> = edi::tokenize(&data)
            .filter_map(Result::ok)
            .filter(|s| s.tag() == "IMD" && s.raw().contains(&b'?'))
            .map(|s| s.value(3, 4).into_owned())
            .collect();
        assert!(!released.is_empty());
        for v in &released {
            assert!(
                !v.windows(2).any(|w| w == b"?+" || w == b"?'" || w == b"?:"),
                "{v:?}"
            );
            assert!(v.iter().any(|b| b"'+:?".contains(b)), "{v:?}");
        }
    }
}
