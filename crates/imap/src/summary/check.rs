//! Validation of a decoded summary: data read back from the store is checked like
//! network input before anything renders from it.
//!
//! Where it sits: [`super::Summary::decode`] calls [`valid`] after postcard has
//! decoded the bytes. postcard guarantees the types; this checks what the types
//! cannot say: the part tree nests (every `end` inside its parent, children tiling
//! the parent's range, a message part with exactly one child, leaves with none), it
//! is not deeper than the tree builder ever makes one (so the recursive renderers
//! stay within the stack), and every field id names a kept field.

#[cfg(test)]
use super::parts::Part;
use super::parts::{Kind, NAMES, children};
use super::{Summary, SummaryError};
use crate::fetch::MAX_DEPTH;

/// Checks a decoded summary; see the module docs.
pub(super) fn valid(summary: &Summary<'_>) -> Result<(), SummaryError> {
    let parts = &summary.parts;
    if parts.is_empty() {
        return Err(damaged("no parts"));
    }
    if parts[0].end as usize != parts.len() {
        return Err(damaged("the message part does not span the tree"));
    }
    for (i, part) in parts.iter().enumerate() {
        let end = part.end as usize;
        if end <= i || end > parts.len() {
            return Err(damaged(&format!("part {i} ends at {end}")));
        }
        if part
            .fields
            .iter()
            .any(|f| usize::from(f.name) >= NAMES.len())
        {
            return Err(damaged(&format!("part {i} has an unknown field id")));
        }
        match part.kind {
            Kind::Leaf if end != i + 1 => {
                return Err(damaged(&format!("leaf {i} has children")));
            }
            Kind::Message if end == i + 1 || parts[i + 1].end as usize != end => {
                return Err(damaged(&format!(
                    "message part {i} does not enclose one part"
                )));
            }
            _ => {}
        }
    }
    // Every child's subtree lies inside its parent and the children tile it: walk
    // with an explicit stack (no recursion over untrusted depth).
    let mut stack = vec![(0usize, 0usize)];
    while let Some((i, depth)) = stack.pop() {
        if depth > MAX_DEPTH + 1 {
            return Err(damaged("parts nest too deep"));
        }
        let end = parts[i].end as usize;
        let mut last = i + 1;
        for child in children(parts, i) {
            let child_end = parts[child].end as usize;
            if child_end > end || child != last {
                return Err(damaged(&format!("part {child} overlaps its parent {i}")));
            }
            last = child_end;
            stack.push((child, depth + 1));
        }
        if last != end {
            return Err(damaged(&format!("the children of part {i} leave a gap")));
        }
    }
    Ok(())
}

fn damaged(why: &str) -> SummaryError {
    SummaryError::Damaged(why.to_owned())
}

/// Whether `parts` is a valid tree (for tests of the builder).
#[cfg(test)]
pub(super) fn tree_ok(parts: &[Part<'_>]) -> bool {
    let summary = Summary {
        parts: parts.to_vec(),
        sent: None,
        subject: super::Subject::Absent,
        from: None,
        to: None,
        cc: None,
    };
    valid(&summary).is_ok()
}
