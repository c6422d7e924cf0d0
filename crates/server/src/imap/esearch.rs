//! SEARCH and UID SEARCH with result options (ESEARCH, RFC 4731).
//!
//! Where it sits: [`super::extended`] routes `SEARCH RETURN (...)` here; the keys are
//! evaluated by [`super::search`]. The answer is one `* ESEARCH (TAG "t") [UID] ...`
//! (RFC 4731 §3.1): MIN, MAX and ALL are left out when nothing matched, COUNT never is;
//! `RETURN ()` means `RETURN (ALL)`. SAVE (RFC 5182) is not offered, so it is a `BAD`
//! like any other unknown option.

use super::extended::{Item, Line, search_program};
use super::wire::string;
use super::{Session, Status};
use imap::sequence::SequenceSet;

/// The result options asked for.
#[derive(Debug, Default, PartialEq, Eq)]
struct Want {
    min: bool,
    max: bool,
    count: bool,
    all: bool,
}

/// Reads `RETURN (opts)` (RFC 4731 §3.1 `search-return-opts`).
fn return_options(line: &mut Line<'_>) -> Result<Want, String> {
    if !line.next_is("RETURN") {
        return Err("Expected RETURN".into());
    }
    line.atom();
    if !line.space() {
        return Err("Expected RETURN options".into());
    }
    let items = line.list().ok_or("Invalid RETURN options")?;
    let mut want = Want::default();
    for item in items {
        let Item::Word(word) = item else {
            return Err("Invalid RETURN option".into());
        };
        match word.to_ascii_uppercase().as_str() {
            "MIN" => want.min = true,
            "MAX" => want.max = true,
            "COUNT" => want.count = true,
            "ALL" => want.all = true,
            _ => return Err(format!("Unsupported RETURN option {word}")),
        }
    }
    if want == Want::default() {
        want.all = true;
    }
    Ok(want)
}

/// The `* ESEARCH` response text for `values` (UIDs or sequence numbers, ascending).
fn render(tag: &str, uid: bool, want: &Want, values: &[u32]) -> String {
    let mut text = format!("ESEARCH (TAG {})", string(tag));
    if uid {
        text.push_str(" UID");
    }
    if let (Some(min), Some(max)) = (values.iter().min(), values.iter().max()) {
        if want.min {
            text.push_str(&format!(" MIN {min}"));
        }
        if want.max {
            text.push_str(&format!(" MAX {max}"));
        }
    }
    if want.count {
        text.push_str(&format!(" COUNT {}", values.len()));
    }
    if want.all && !values.is_empty() {
        text.push_str(&format!(" ALL {}", SequenceSet::from_values(values)));
    }
    text
}

impl Session<'_> {
    /// `[UID] SEARCH RETURN (...) keys`; `line` stands at `RETURN`.
    pub(super) async fn esearch(&mut self, tag: &str, uid: bool, line: &mut Line<'_>) -> Status {
        let want = match return_options(line) {
            Ok(want) => want,
            Err(why) => return Status::Bad(why),
        };
        if !line.space() {
            return Status::Bad("Expected search criteria".into());
        }
        let (charset, criteria) = match search_program(tag, None, line.rest()) {
            Ok(program) => program,
            Err(status) => return status,
        };
        let hits = match self.search_hits(charset, &criteria).await {
            Ok(hits) => hits,
            Err(status) => return status,
        };
        let values: Vec<u32> = hits
            .iter()
            .map(|&(seq, id)| if uid { id } else { seq })
            .collect();
        self.untagged(&render(tag, uid, &want, &values));
        Status::Ok("SEARCH completed".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_and_rendering() {
        let mut line = Line::new(b"RETURN (MIN max COUNT ALL) UNSEEN");
        let want = return_options(&mut line).expect("options");
        assert_eq!(
            render("a1", true, &want, &[2, 3, 4, 9]),
            "ESEARCH (TAG \"a1\") UID MIN 2 MAX 9 COUNT 4 ALL 2:4,9"
        );
        assert_eq!(
            render("a1", false, &want, &[]),
            "ESEARCH (TAG \"a1\") COUNT 0"
        );
        let empty = return_options(&mut Line::new(b"RETURN () ALL")).expect("options");
        assert!(empty.all && !empty.count);
        assert!(return_options(&mut Line::new(b"RETURN (SAVE) ALL")).is_err());
        assert!(return_options(&mut Line::new(b"RETURN MIN ALL")).is_err());
    }
}
