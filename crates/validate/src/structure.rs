//! Segment order against a message's structure: a walk over the spec tree with a stack of loop
//! frames. Each segment is placed at the nearest position that can take it — the current
//! position repeating, a later position in the current loop, the loop repeating, or a later
//! position of an enclosing loop — and every mandatory position skipped on the way is reported
//! missing. A segment that fits nowhere is classified (unknown, not in this message, out of
//! sequence, unexpected) and left out of the walk, so one stray segment costs one error.

use edi::Segment;
use spec::{MaxUse, MessageDef, Node, NodeSummary, SpecSet, Usage};

use crate::codes::SegmentError;

/// Tag equality without a `memcmp` call: tags are two or three bytes.
#[inline]
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| x == y)
}

/// A structure finding for the segment at `index` (0-based in the message).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Placement {
    pub index: usize,
    pub code: SegmentError,
    pub tag: String,
    pub loop_id: Option<String>,
    pub detail: String,
}

/// Where a segment was placed: the loop it belongs to and its definition
/// ([`SpecSet::segment_at`]), as the structure node that took it names them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Placed<'d> {
    pub loop_id: Option<&'d str>,
    pub segment: Option<usize>,
}

struct Frame<'d> {
    nodes: &'d [Node],
    /// The nodes' keys and where the last mandatory one stands.
    summary: &'d NodeSummary,
    /// The loop this frame is an iteration of (None at the top).
    loop_id: Option<&'d str>,
    /// Current position; `None` before the first segment.
    idx: Option<usize>,
    /// Occurrences of the current node (segment uses, or loop iterations).
    count: u32,
}

/// Walks the segments `segs`, whose tags' [`spec::tag_key`]s are `keys`, through `def`; returns
/// the findings and, for each segment, where it was placed (`None` for segments that fit
/// nowhere).
pub(crate) fn walk<'d>(
    def: &'d MessageDef,
    spec: &SpecSet,
    segs: &[Segment<'_>],
    keys: &[u32],
) -> (Vec<Placement>, Vec<Option<Placed<'d>>>) {
    let mut stack = vec![Frame {
        nodes: &def.structure,
        summary: &def.summary,
        loop_id: None,
        idx: None,
        count: 0,
    }];
    let mut findings = Vec::new();
    let mut placed = Vec::with_capacity(keys.len());
    for (index, (seg, &key)) in segs.iter().zip(keys).enumerate() {
        // The tag as text is only wanted for a finding.
        let tag = seg.tag();
        let tag = || tag.as_str();
        match find(&stack, key) {
            Some((depth, j, repeat)) => {
                // Leave the loops above `depth`, noting their unfilled mandatory positions.
                while stack.len() > depth + 1 {
                    if let Some(frame) = stack.pop() {
                        missing_after(&frame, index, tag, &mut findings);
                    }
                }
                let top = stack.len() - 1;
                let f = &mut stack[top];
                if repeat {
                    f.count += 1;
                } else {
                    // Mandatory positions skipped between the current one and `j`.
                    let from = match f.idx {
                        Some(i) if f.count > 0 => i + 1,
                        Some(i) => i,
                        None => 0,
                    };
                    // Nothing after the last mandatory position can be missing.
                    let to = j.min(f.summary.mandatory_end);
                    for skipped in f.nodes.get(from..to).unwrap_or_default() {
                        if usage_of(skipped) == Usage::Mandatory {
                            findings.push(Placement {
                                index,
                                code: SegmentError::MandatorySegmentMissing,
                                tag: skipped.trigger().to_string(),
                                loop_id: f.loop_id.map(str::to_string),
                                detail: format!(
                                    "{} is mandatory before {}",
                                    skipped.trigger(),
                                    tag()
                                ),
                            });
                        }
                    }
                    f.idx = Some(j);
                    f.count = 1;
                }
                let node = &f.nodes[j];
                let over = max_of(node).exceeded_by(f.count);
                let loop_id = f.loop_id;
                match node {
                    Node::Segment { .. } => {
                        if over {
                            findings.push(Placement {
                                index,
                                code: SegmentError::SegmentOverMaximumUse,
                                tag: tag().to_string(),
                                loop_id: loop_id.map(str::to_string),
                                detail: format!(
                                    "{} may occur at most {} times here",
                                    tag(),
                                    max_of(node)
                                ),
                            });
                        }
                        placed.push(Some(Placed {
                            loop_id,
                            segment: node.segment(),
                        }));
                    }
                    Node::Loop {
                        id,
                        children,
                        summary,
                        ..
                    } => {
                        if over {
                            findings.push(Placement {
                                index,
                                code: SegmentError::LoopOverMaximum,
                                tag: tag().to_string(),
                                loop_id: Some(id.clone()),
                                detail: format!(
                                    "loop {id} may occur at most {} times",
                                    max_of(node)
                                ),
                            });
                        }
                        stack.push(Frame {
                            nodes: children,
                            summary,
                            loop_id: Some(id),
                            idx: Some(0),
                            count: 1,
                        });
                        placed.push(Some(Placed {
                            loop_id: Some(id.as_str()),
                            segment: node.segment(),
                        }));
                    }
                }
            }
            None => {
                let tag = tag();
                let code = classify(def, spec, &stack, tag);
                let detail = match code {
                    SegmentError::UnrecognizedSegment => {
                        format!("{tag} is not a segment of {}", spec.version())
                    }
                    SegmentError::NotInTransactionSet => {
                        format!("{tag} is not part of {} {}", def.id, def.name)
                    }
                    SegmentError::OutOfSequence => {
                        format!("{tag} stands after its place in {}", def.id)
                    }
                    _ => format!("{tag} is not expected here"),
                };
                findings.push(Placement {
                    index,
                    code,
                    tag: tag.to_string(),
                    loop_id: stack.last().and_then(|f| f.loop_id).map(str::to_string),
                    detail,
                });
                placed.push(None);
            }
        }
    }
    // The end of the message: every open level's remaining mandatory positions.
    let end = segs.len().saturating_sub(1);
    let last = segs.last().map(Segment::tag);
    let last = || last.as_ref().map_or("", edi::Tag::as_str);
    while let Some(frame) = stack.pop() {
        missing_after(&frame, end, last, &mut findings);
    }
    (findings, placed)
}

fn usage_of(n: &Node) -> Usage {
    match n {
        Node::Segment { usage, .. } | Node::Loop { usage, .. } => *usage,
    }
}

fn max_of(n: &Node) -> MaxUse {
    match n {
        Node::Segment { max, .. } | Node::Loop { max, .. } => *max,
    }
}

fn missing_after<'t>(
    frame: &Frame<'_>,
    index: usize,
    at: impl Fn() -> &'t str,
    findings: &mut Vec<Placement>,
) {
    let from = match frame.idx {
        Some(i) if frame.count > 0 => i + 1,
        Some(i) => i,
        None => 0,
    };
    // Nothing after the last mandatory position can be missing: most frames end here.
    let to = frame.summary.mandatory_end.min(frame.nodes.len());
    for n in frame.nodes.get(from..to).unwrap_or_default() {
        if usage_of(n) == Usage::Mandatory {
            findings.push(Placement {
                index,
                code: SegmentError::MandatorySegmentMissing,
                tag: n.trigger().to_string(),
                loop_id: frame.loop_id.map(str::to_string),
                detail: format!("{} is mandatory before {}", n.trigger(), at()),
            });
        }
    }
}

/// Where `tag` fits: (frame depth, node index, is-a-repeat-of-the-current-node).
fn find(stack: &[Frame<'_>], key: u32) -> Option<(usize, usize, bool)> {
    for depth in (0..stack.len()).rev() {
        let f = &stack[depth];
        let inside_loop_below = depth + 1 < stack.len();
        if let Some(i) = f.idx {
            let node = &f.nodes[i];
            match node {
                // The same segment again, while it may still repeat (at its maximum, a later
                // position or an outer loop may take it; if none does it is reported over use).
                Node::Segment { key: k, max, .. }
                    if *k == key
                        && f.count > 0
                        && (!max.exceeded_by(f.count + 1)
                            || !later_takes(stack, depth, i, key)) =>
                {
                    return Some((depth, i, true));
                }
                // The loop we are inside starting a new iteration.
                Node::Loop { .. } if inside_loop_below && node.key() == key => {
                    return Some((depth, i, true));
                }
                _ => {}
            }
        }
        let from = f.idx.map_or(0, |i| i + 1);
        if let Some(j) = later(f, from, key) {
            return Some((depth, j, false));
        }
    }
    None
}

/// The first node at or after `from` in `f` that `key` starts.
#[inline]
fn later(f: &Frame<'_>, from: usize, key: u32) -> Option<usize> {
    let keys = f.summary.keys.get(from..)?;
    keys.iter().position(|&k| k == key).map(|j| from + j)
}

/// Would a later position (in this frame or an enclosing one) take the segment `key`?
fn later_takes(stack: &[Frame<'_>], depth: usize, i: usize, key: u32) -> bool {
    if later(&stack[depth], i + 1, key).is_some() {
        return true;
    }
    (0..depth).rev().any(|d| {
        let f = &stack[d];
        let from = f.idx.map_or(0, |x| x + 1);
        later(f, from, key).is_some()
            || f.idx.is_some_and(|x| {
                matches!(&f.nodes[x], Node::Loop { .. }) && f.nodes[x].key() == key
            })
    })
}

fn contains(nodes: &[Node], tag: &str) -> bool {
    nodes.iter().any(|n| match n {
        Node::Segment { tag: t, .. } => same(t, tag),
        Node::Loop { children, .. } => contains(children, tag),
    })
}

fn classify(def: &MessageDef, spec: &SpecSet, stack: &[Frame<'_>], tag: &str) -> SegmentError {
    if spec.segment(tag).is_none() {
        return SegmentError::UnrecognizedSegment;
    }
    if !contains(&def.structure, tag) {
        return SegmentError::NotInTransactionSet;
    }
    // Defined at or before a position already passed in an open level: out of sequence.
    let passed = stack.iter().any(|f| {
        let upto = f.idx.map_or(0, |i| i + 1);
        contains(&f.nodes[..upto], tag)
    });
    if passed {
        SegmentError::OutOfSequence
    } else {
        SegmentError::UnexpectedSegment
    }
}
