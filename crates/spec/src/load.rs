//! Loading spec directories: read each file, merge layers (a directory's `extends` first, then
//! the directory, then any overlay a partner adds), and resolve every reference.

use std::collections::{BTreeMap, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use crate::error::SpecError;
use crate::model::*;
use crate::raw::*;

/// The raw entries of all layers merged so far, each remembering the file it came from.
#[derive(Debug, Default)]
struct Layers {
    syntax: Option<String>,
    version: Option<String>,
    description: Option<String>,
    elements: BTreeMap<String, (RawElement, PathBuf)>,
    composites: BTreeMap<String, (RawComposite, PathBuf)>,
    segments: BTreeMap<String, (RawSegment, PathBuf)>,
    messages: BTreeMap<String, (RawMessage, PathBuf)>,
}

/// Hashes the numeric segment keys with one multiplication: they are small, distinct integers,
/// and SipHash's protection against chosen keys buys nothing for the spec's own tags.
#[derive(Default)]
pub struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0 ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01B3);
        }
    }

    fn write_u32(&mut self, n: u32) {
        self.0 = u64::from(n).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }

    fn write_u128(&mut self, n: u128) {
        // Packed codes ([`crate::code_key`]): fold the halves, multiply, and fold the product's
        // well-mixed high half into the low bits the table indexes by.
        let x =
            ((n as u64) ^ ((n >> 64) as u64).rotate_left(29)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        self.0 = x ^ (x >> 29);
    }
}

/// A complete, resolved spec for one syntax and version.
#[derive(Clone, Debug)]
pub struct SpecSet {
    syntax: Syntax,
    version: String,
    description: String,
    elements: Vec<ElementDef>,
    element_ids: HashMap<String, usize>,
    composites: Vec<CompositeDef>,
    composite_ids: HashMap<String, usize>,
    segments: Vec<SegmentDef>,
    /// Index into `segments` by [`tag_key`], hashed as a number: the validator looks up every
    /// segment it cannot place through the structure.
    segment_index: HashMap<u32, usize, std::hash::BuildHasherDefault<KeyHasher>>,
    messages: HashMap<String, MessageDef>,
}

impl SpecSet {
    /// Loads the spec directory `dir` (following `extends`).
    pub fn load(dir: &Path) -> Result<SpecSet, SpecError> {
        let mut layers = Layers::default();
        load_dir(dir, &mut layers, 0)?;
        resolve(layers)
    }

    /// Loads `dir` and then each overlay directory on top of it, later ones winning.
    pub fn load_layered(dir: &Path, overlays: &[PathBuf]) -> Result<SpecSet, SpecError> {
        let mut layers = Layers::default();
        load_dir(dir, &mut layers, 0)?;
        for o in overlays {
            load_dir(o, &mut layers, 0)?;
        }
        resolve(layers)
    }

    /// X12 or EDIFACT.
    pub fn syntax(&self) -> Syntax {
        self.syntax
    }

    /// The version (`004010`, `D96A`).
    pub fn version(&self) -> &str {
        &self.version
    }

    /// What the directory says it describes.
    pub fn description(&self) -> &str {
        &self.description
    }

    /// A data element by id.
    pub fn element(&self, id: &str) -> Option<&ElementDef> {
        self.element_ids.get(id).map(|i| &self.elements[*i])
    }

    /// The element a resolved [`Position::index`] names.
    #[inline]
    pub fn element_at(&self, index: usize) -> Option<&ElementDef> {
        self.elements.get(index)
    }

    /// The composite a resolved [`Position::index`] names.
    #[inline]
    pub fn composite_at(&self, index: usize) -> Option<&CompositeDef> {
        self.composites.get(index)
    }

    /// The segment a resolved [`Node::Segment`] `segment` index names.
    #[inline]
    pub fn segment_at(&self, index: usize) -> Option<&SegmentDef> {
        self.segments.get(index)
    }

    /// A composite by id.
    pub fn composite(&self, id: &str) -> Option<&CompositeDef> {
        self.composite_ids.get(id).map(|i| &self.composites[*i])
    }

    /// A segment by [`tag_key`] (no string hashing: the validator's lookup per segment).
    #[inline]
    pub fn segment_by_key(&self, key: u32) -> Option<&SegmentDef> {
        self.segment_index
            .get(&key)
            .and_then(|i| self.segments.get(*i))
    }

    /// A segment by tag.
    pub fn segment(&self, tag: &str) -> Option<&SegmentDef> {
        self.segment_by_key(tag_key(tag.as_bytes()))
            .filter(|s| s.tag == tag)
    }

    /// A message by id (`850`, `ORDERS`).
    pub fn message(&self, id: &str) -> Option<&MessageDef> {
        self.messages.get(id)
    }

    /// Every message id, sorted.
    pub fn message_ids(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self.messages.keys().map(String::as_str).collect();
        v.sort_unstable();
        v
    }

    /// Every segment tag, sorted.
    pub fn segment_tags(&self) -> Vec<&str> {
        let mut v: Vec<&str> = self
            .segment_index
            .values()
            .filter_map(|i| self.segments.get(*i))
            .map(|s| s.tag.as_str())
            .collect();
        v.sort_unstable();
        v
    }
}

fn read_toml<T: serde::de::DeserializeOwned>(path: &Path) -> Result<Option<T>, SpecError> {
    let text = match fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(SpecError::io(path, e)),
    };
    toml::from_str(&text)
        .map(Some)
        .map_err(|e| SpecError::toml(path, &text, &e))
}

fn load_dir(dir: &Path, layers: &mut Layers, depth: usize) -> Result<(), SpecError> {
    if depth > 8 {
        return Err(SpecError::invalid(
            dir,
            "`extends` chains more than 8 directories deep (a cycle?)",
            None,
        ));
    }
    let manifest_path = dir.join("spec.toml");
    let manifest: Manifest = read_toml(&manifest_path)?.ok_or_else(|| {
        SpecError::invalid(
            &manifest_path,
            "missing: every spec directory has a spec.toml",
            Some("write `syntax = \"x12\"` (or \"edifact\") and `version = \"004010\"`"),
        )
    })?;
    if let Some(base) = &manifest.extends {
        load_dir(&dir.join(base), layers, depth + 1)?;
    }
    if let Some(s) = &layers.syntax
        && *s != manifest.syntax
    {
        return Err(SpecError::invalid(
            &manifest_path,
            &format!("syntax {} layered over {s}", manifest.syntax),
            None,
        ));
    }
    layers.syntax = Some(manifest.syntax);
    layers.version = Some(manifest.version);
    if manifest.description.is_some() {
        layers.description = manifest.description;
    }
    let path = dir.join("elements.toml");
    if let Some(m) = read_toml::<BTreeMap<String, RawElement>>(&path)? {
        for (k, v) in m {
            layers.elements.insert(k, (v, path.clone()));
        }
    }
    let path = dir.join("composites.toml");
    if let Some(m) = read_toml::<BTreeMap<String, RawComposite>>(&path)? {
        for (k, v) in m {
            layers.composites.insert(k, (v, path.clone()));
        }
    }
    let path = dir.join("segments.toml");
    if let Some(m) = read_toml::<BTreeMap<String, RawSegment>>(&path)? {
        for (k, v) in m {
            layers.segments.insert(k, (v, path.clone()));
        }
    }
    let messages = dir.join("messages");
    if messages.is_dir() {
        let mut files: Vec<PathBuf> = fs::read_dir(&messages)
            .map_err(|e| SpecError::io(&messages, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for path in files {
            if let Some(m) = read_toml::<RawMessage>(&path)? {
                layers.messages.insert(m.id.clone(), (m, path));
            }
        }
    }
    Ok(())
}

fn parse_max(raw: &RawMax, file: &Path, what: &str) -> Result<MaxUse, SpecError> {
    match raw {
        RawMax::Number(0) => Err(SpecError::invalid(
            file,
            &format!("{what}: max 0"),
            Some("write a positive number, or \">1\" for no limit"),
        )),
        RawMax::Number(n) => Ok(MaxUse::Limited(*n)),
        RawMax::Text(t) if t == ">1" => Ok(MaxUse::Unbounded),
        RawMax::Text(t) => t
            .parse::<u32>()
            .ok()
            .filter(|n| *n > 0)
            .map(MaxUse::Limited)
            .ok_or_else(|| {
                SpecError::invalid(
                    file,
                    &format!("{what}: max {t:?}"),
                    Some("write a positive number, or \">1\" for no limit"),
                )
            }),
    }
}

/// Parses `"ID USAGE [REPEAT]"`.
fn parse_position(
    text: &str,
    file: &Path,
    what: &str,
    layers: &Layers,
) -> Result<Position, SpecError> {
    let parts: Vec<&str> = text.split_whitespace().collect();
    let hint =
        Some("write \"ID USAGE\" or \"ID USAGE REPEAT\", e.g. \"353 M\", \"C040 O\", \"1270 O 5\"");
    let (id, usage, repeat) = match parts.as_slice() {
        [id, usage] => (*id, *usage, None),
        [id, usage, repeat] => (*id, *usage, Some(*repeat)),
        _ => return Err(SpecError::invalid(file, &format!("{what}: {text:?}"), hint)),
    };
    let usage = Usage::parse(usage).ok_or_else(|| {
        SpecError::invalid(
            file,
            &format!("{what}: usage {usage:?}"),
            Some("usage is M (mandatory), O or C (optional/conditional) or X (not used)"),
        )
    })?;
    let repeat = match repeat {
        None => MaxUse::Limited(1),
        Some(r) => parse_max(&RawMax::Text(r.to_string()), file, what)?,
    };
    let (item, index) = if let Some(i) = layers.composites.keys().position(|k| k == id) {
        (Item::Composite(id.to_string()), i)
    } else if let Some(i) = layers.elements.keys().position(|k| k == id) {
        (Item::Element(id.to_string()), i)
    } else {
        return Err(SpecError::invalid(
            file,
            &format!(
                "{what}: {id} is neither an element (elements.toml) nor a composite (composites.toml)"
            ),
            Some("define it, or correct the id"),
        ));
    };
    Ok(Position {
        item,
        usage,
        repeat,
        index,
    })
}

fn parse_rules(
    rules: &[String],
    positions: usize,
    file: &Path,
    what: &str,
) -> Result<Vec<Rule>, SpecError> {
    rules
        .iter()
        .map(|r| {
            let rule = Rule::parse(r).ok_or_else(|| {
                SpecError::invalid(
                    file,
                    &format!("{what}: rule {r:?}"),
                    Some("write an X12 syntax note: P0304, R0203, E0102, C0405, L010203"),
                )
            })?;
            if rule.positions().iter().any(|p| usize::from(*p) > positions) {
                return Err(SpecError::invalid(
                    file,
                    &format!("{what}: rule {r} names a position beyond the {positions} defined"),
                    None,
                ));
            }
            Ok(rule)
        })
        .collect()
}

fn resolve_nodes(
    nodes: &[RawNode],
    file: &Path,
    what: &str,
    layers: &Layers,
    segment_index: &HashMap<u32, usize, std::hash::BuildHasherDefault<KeyHasher>>,
) -> Result<Vec<Node>, SpecError> {
    nodes
        .iter()
        .map(|n| match n {
            RawNode::Segment(text) => {
                let parts: Vec<&str> = text.split_whitespace().collect();
                let [tag, usage, max] = parts.as_slice() else {
                    return Err(SpecError::invalid(
                        file,
                        &format!("{what}: {text:?}"),
                        Some("write \"TAG USAGE MAX\", e.g. \"BEG M 1\" or \"REF O >1\""),
                    ));
                };
                let segment = layers
                    .segments
                    .contains_key(*tag)
                    .then(|| segment_index.get(&tag_key(tag.as_bytes())))
                    .flatten()
                    .copied()
                    .ok_or_else(|| {
                        SpecError::invalid(
                            file,
                            &format!("{what}: segment {tag} is not in segments.toml"),
                            Some("define the segment, or correct the tag"),
                        )
                    })?;
                let usage = Usage::parse(usage).ok_or_else(|| {
                    SpecError::invalid(
                        file,
                        &format!("{what}: {text:?}: usage {usage:?}"),
                        Some("usage is M, O, C or X"),
                    )
                })?;
                Ok(Node::Segment {
                    tag: tag.to_string(),
                    key: tag_key(tag.as_bytes()),
                    segment,
                    usage,
                    max: parse_max(&RawMax::Text(max.to_string()), file, what)?,
                })
            }
            RawNode::Loop(l) => {
                let inner = format!("{what}, loop {}", l.id);
                let children = resolve_nodes(&l.structure, file, &inner, layers, segment_index)?;
                match children.first() {
                    Some(Node::Segment { .. }) => {}
                    _ => {
                        return Err(SpecError::invalid(
                            file,
                            &format!("{inner}: a loop starts with a segment"),
                            None,
                        ));
                    }
                }
                let key = children.first().map_or(0, Node::key);
                Ok(Node::Loop {
                    summary: NodeSummary::new(&children),
                    id: l.id.clone(),
                    key,
                    usage: Usage::parse(&l.usage).ok_or_else(|| {
                        SpecError::invalid(
                            file,
                            &format!("{inner}: usage {:?}", l.usage),
                            Some("usage is M, O, C or X"),
                        )
                    })?,
                    max: parse_max(&l.max, file, &inner)?,
                    children,
                })
            }
        })
        .collect()
}

fn resolve(layers: Layers) -> Result<SpecSet, SpecError> {
    let syntax = match layers.syntax.as_deref() {
        Some("x12") => Syntax::X12,
        Some("edifact") => Syntax::Edifact,
        other => {
            return Err(SpecError::invalid(
                Path::new("spec.toml"),
                &format!("syntax {other:?}"),
                Some("write syntax = \"x12\" or \"edifact\""),
            ));
        }
    };
    // Vectors in id order: `parse_position` resolves indices in the same order.
    let mut elements = Vec::with_capacity(layers.elements.len());
    let mut element_ids = HashMap::new();
    for (id, (e, file)) in &layers.elements {
        let data_type = DataType::parse(&e.data_type).ok_or_else(|| {
            SpecError::invalid(
                file,
                &format!("element {id}: type {:?}", e.data_type),
                Some("use AN, ID, N0–N9, R, DT, TM, B (X12) or an, a, n (EDIFACT)"),
            )
        })?;
        if e.min > e.max || e.max == 0 {
            return Err(SpecError::invalid(
                file,
                &format!("element {id}: min {} max {}", e.min, e.max),
                Some("min ≤ max, max ≥ 1"),
            ));
        }
        element_ids.insert(id.clone(), elements.len());
        elements.push(ElementDef {
            id: id.clone(),
            name: e.name.clone(),
            data_type,
            min: e.min,
            max: e.max,
            codes: e.codes.clone(),
            code_bytes: e.codes.keys().map(|c| c.as_bytes().to_vec()).collect(),
            code_keys: e
                .codes
                .keys()
                .filter_map(|c| code_key(c.as_bytes()))
                .collect(),
            long_codes: e.codes.keys().any(|c| code_key(c.as_bytes()).is_none()),
        });
    }
    let mut composites = Vec::with_capacity(layers.composites.len());
    let mut composite_ids = HashMap::new();
    for (id, (c, file)) in &layers.composites {
        let what = format!("composite {id}");
        let components = c
            .components
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let p = parse_position(t, file, &format!("{what} component {}", i + 1), &layers)?;
                if matches!(p.item, Item::Composite(_)) {
                    return Err(SpecError::invalid(
                        file,
                        &format!("{what}: a component cannot be a composite"),
                        None,
                    ));
                }
                Ok(p)
            })
            .collect::<Result<Vec<_>, _>>()?;
        let rules = parse_rules(&c.rules, components.len(), file, &what)?;
        composite_ids.insert(id.clone(), composites.len());
        composites.push(CompositeDef {
            id: id.clone(),
            name: c.name.clone(),
            mandatory_after_first: components
                .iter()
                .skip(1)
                .any(|p| p.usage == Usage::Mandatory),
            components,
            rule_masks: rule_masks(&rules),
            rules,
        });
    }
    let mut segments = Vec::with_capacity(layers.segments.len());
    let mut segment_index = HashMap::default();
    for (tag, (s, file)) in &layers.segments {
        let what = format!("segment {tag}");
        let elements = s
            .elements
            .iter()
            .enumerate()
            .map(|(i, t)| parse_position(t, file, &format!("{what} element {}", i + 1), &layers))
            .collect::<Result<Vec<_>, _>>()?;
        let rules = parse_rules(&s.rules, elements.len(), file, &what)?;
        segment_index.insert(tag_key(tag.as_bytes()), segments.len());
        segments.push(SegmentDef {
            tag: tag.clone(),
            name: s.name.clone(),
            mandatory_end: elements
                .iter()
                .rposition(|p| p.usage == Usage::Mandatory)
                .map_or(0, |i| i + 1),
            elements,
            rule_masks: rule_masks(&rules),
            rules,
        });
    }
    let mut messages = HashMap::new();
    for (id, (m, file)) in &layers.messages {
        let structure = resolve_nodes(
            &m.structure,
            file,
            &format!("message {id}"),
            &layers,
            &segment_index,
        )?;
        messages.insert(
            id.clone(),
            MessageDef {
                id: id.clone(),
                name: m.name.clone(),
                functional_group: m.functional_group.clone(),
                summary: NodeSummary::new(&structure),
                structure,
            },
        );
    }
    Ok(SpecSet {
        syntax,
        version: layers.version.unwrap_or_default(),
        description: layers.description.clone().unwrap_or_default(),
        elements,
        element_ids,
        composites,
        composite_ids,
        segments,
        segment_index,
        messages,
    })
}
