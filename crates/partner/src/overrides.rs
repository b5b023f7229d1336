//! A partner's mapping overrides: only the deviations from a built-in mapping, merged into it.
//!
//! `[mappings."x12/850"]` in a partner file is merged into `mappings/x12/850.toml`: tables merge
//! key by key, anything else (a path, a list, a `[[parties]]` array) replaces the default whole.
//! The merged file is then loaded like any mapping file, so an override is checked exactly as
//! strictly as the defaults; a problem is reported at the line of the override that caused it.

use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::{Spanned, Table, Value};

use crate::config::unknown_key_hint;
use crate::error::{Diagnostic, closest};

/// Merges one override table into the built-in mapping it names and adds the result to
/// `mappings` (the last loaded mapping wins, so it replaces the default for this partner).
pub(crate) fn apply(
    path: &Path,
    text: &str,
    syntax: mapping::spec::Syntax,
    name: &Spanned<String>,
    table: &Spanned<Table>,
    mappings: &mut mapping::Mappings,
) -> Result<(), Diagnostic> {
    let sources = mapping::builtin_sources();
    let wanted = name.get_ref().trim_end_matches(".toml");
    let names = || sources.iter().map(|(n, _)| n.trim_end_matches(".toml"));
    let Some((file, source)) = sources
        .iter()
        .find(|(n, _)| n.trim_end_matches(".toml") == wanted)
    else {
        let hint = match closest(wanted, names()) {
            Some(c) => format!("did you mean [mappings.\"{c}\"]?"),
            None => format!(
                "the built-in mappings are: {}",
                names().collect::<Vec<_>>().join(", ")
            ),
        };
        return Err(Diagnostic::at(
            path,
            text,
            name.span().start,
            format!("there is no built-in mapping {wanted:?} to override"),
            Some(hint),
        ));
    };
    let prefix = match syntax {
        mapping::spec::Syntax::X12 => "x12/",
        mapping::spec::Syntax::Edifact => "edifact/",
    };
    // XML mappings are for any partner: an EDI partner may send some documents as XML.
    if !file.starts_with(prefix) && !file.starts_with("xml/") {
        return Err(Diagnostic::at(
            path,
            text,
            name.span().start,
            format!("{wanted:?} is a mapping of the other syntax than this partner speaks"),
            Some(format!("override a mapping under \"{prefix}\"")),
        ));
    }

    let mut merged: Table = toml::from_str(source).map_err(|e| {
        Diagnostic::file(
            path,
            format!("the built-in mapping {file} is invalid: {e}"),
            None,
        )
    })?;
    merge(&mut merged, table.get_ref());
    let merged_text = toml::to_string(&merged).map_err(|e| {
        Diagnostic::at(
            path,
            text,
            table.span().start,
            format!("cannot merge the override: {e}"),
            None,
        )
    })?;
    let origin = PathBuf::from(format!("{} [mappings.\"{wanted}\"]", path.display()));
    mappings
        .add_toml(&origin, &merged_text)
        .map_err(|e| locate(path, text, table.span(), &e))
}

/// Deep merge: tables key by key, everything else replaced.
fn merge(base: &mut Table, over: &Table) {
    for (key, value) in over {
        match (base.get_mut(key), value) {
            (Some(Value::Table(b)), Value::Table(o)) => merge(b, o),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

/// Points a mapping load error at the override line that caused it: the first line of the
/// override table that names the field (or the unknown key), else the table's header.
fn locate(path: &Path, text: &str, span: Range<usize>, e: &mapping::LoadError) -> Diagnostic {
    let (needle, message, hint) = match e {
        mapping::LoadError::Path { field, source, .. } => (
            last_key(field),
            format!("{field}: {source}"),
            Some("see mappings/README.md, section Paths".to_string()),
        ),
        mapping::LoadError::Invalid { field, message, .. } => {
            (last_key(field), format!("{field}: {message}"), None)
        }
        mapping::LoadError::Format { message, .. } => {
            // The merged text's own line numbers mean nothing to the person who wrote the
            // override: keep serde's sentence, find the key it names in the partner file.
            let sentence = message
                .lines()
                .rev()
                .find(|l| !l.trim().is_empty() && !l.contains('|'))
                .unwrap_or(message)
                .trim()
                .to_string();
            let key = sentence.split('`').nth(1).unwrap_or("").to_string();
            let hint = unknown_key_hint(&sentence);
            (key, sentence, hint)
        }
        other => (String::new(), other.to_string(), None),
    };
    let offset = if needle.is_empty() {
        None
    } else {
        find_key(text, span.start, &needle)
    };
    Diagnostic::at(
        path,
        text,
        offset.unwrap_or(span.start),
        format!("in the mapping override: {message}"),
        hint,
    )
}

/// The offset of the line that sets `key` in the override starting at `start`: the override's
/// tables run until a table header that is not one of its own (`[mappings."x12/850".lines]`
/// belongs to `[mappings."x12/850"]`, `[duplicates]` does not).
fn find_key(text: &str, start: usize, key: &str) -> Option<usize> {
    // The span starts inside the override's header line; read from the start of that line.
    let mut offset = text.get(..start)?.rfind('\n').map_or(0, |p| p + 1);
    let mut own_prefix: Option<String> = None;
    for line in text.get(offset..)?.split_inclusive('\n') {
        let trimmed = line.trim_start();
        if trimmed.starts_with('[') {
            let header = trimmed.trim_start_matches('[').trim();
            match &own_prefix {
                None => {
                    // The header of the override itself: its mapping name is the prefix every
                    // table of the override shares.
                    let end = header
                        .find("\"]")
                        .or_else(|| header.find("\"."))
                        .map_or(header.len(), |p| p + 1);
                    own_prefix = Some(header[..end].to_string());
                }
                Some(prefix) if !header.starts_with(prefix.as_str()) => return None,
                Some(_) => {}
            }
        } else if let Some(rest) = trimmed.strip_prefix(key)
            && rest.trim_start().starts_with(['=', '.'])
        {
            return Some(offset + (line.len() - trimmed.len()));
        }
        offset += line.len();
    }
    None
}

fn last_key(field: &str) -> String {
    field
        .rsplit(['.', ' '])
        .next()
        .unwrap_or(field)
        .trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '_')
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_merge_and_values_replace() {
        let mut base: Table =
            toml::from_str("[header]\na = \"X\"\nb = \"Y\"\n[codes.unit]\nEA = \"EA\"\n")
                .expect("valid TOML");
        let over: Table =
            toml::from_str("[header]\nb = \"Z\"\n[codes.unit]\nCA = \"CS\"\n").expect("valid TOML");
        merge(&mut base, &over);
        assert_eq!(base["header"]["a"].as_str(), Some("X"));
        assert_eq!(base["header"]["b"].as_str(), Some("Z"));
        assert_eq!(base["codes"]["unit"]["EA"].as_str(), Some("EA"));
        assert_eq!(base["codes"]["unit"]["CA"].as_str(), Some("CS"));
    }
}
