//! The recipients file of a bulk run: a CSV file (RFC 4180) with a header row naming
//! the columns; one message per data row.
//!
//! Where it sits: read once, whole, by [`crate::bulk`] before anything is sent, so that
//! the columns can be checked against the template's placeholders and the total is
//! known for the progress bar. Column names are matched case-insensitively.

use std::path::{Path, PathBuf};

/// The rows and their columns.
#[derive(Debug, Clone)]
pub struct Rows {
    /// The column names, as in the header row.
    pub columns: Vec<String>,
    /// The data rows (row `n` of the file, counting from 1, is `rows[n - 1]`).
    pub rows: Vec<Vec<String>>,
    /// The directory of the CSV file: relative attachment paths start there.
    pub base: PathBuf,
}

impl Rows {
    /// Reads `path`. Every row must have as many fields as the header.
    pub fn read(path: &Path) -> Result<Rows, String> {
        let file = std::fs::File::open(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(file);
        let columns: Vec<String> = reader
            .headers()
            .map_err(|e| format!("{}: {e}", path.display()))?
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let c = if i == 0 {
                    c.trim_start_matches('\u{feff}')
                } else {
                    c
                };
                c.trim().to_string()
            })
            .collect();
        for (i, c) in columns.iter().enumerate() {
            if columns[..i].iter().any(|d| d.eq_ignore_ascii_case(c)) {
                return Err(format!(
                    "{}: the column {c:?} appears twice",
                    path.display()
                ));
            }
        }
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| format!("{}: {e}", path.display()))?;
            rows.push(record.iter().map(str::to_string).collect());
        }
        let base = path
            .parent()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| PathBuf::from("."));
        Ok(Rows {
            columns,
            rows,
            base,
        })
    }

    /// The index of the column `name` (case-insensitive).
    pub fn column(&self, name: &str) -> Option<usize> {
        self.columns
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name.trim()))
    }

    /// The names from `wanted` that are not columns.
    pub fn missing<'a>(&self, wanted: impl IntoIterator<Item = &'a String>) -> Vec<String> {
        wanted
            .into_iter()
            .filter(|n| self.column(n).is_none())
            .cloned()
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_columns_and_rows() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        std::fs::write(
            &path,
            "\u{feff}Email, Name ,file\nzoe@x.org,\"Zoë, Z\",a.pdf\nbob@x.org,Bob,\n",
        )
        .unwrap();
        let rows = Rows::read(&path).unwrap();
        assert_eq!(rows.columns, ["Email", "Name", "file"]);
        assert_eq!(rows.rows[0], ["zoe@x.org", "Zoë, Z", "a.pdf"]);
        assert_eq!(rows.rows.len(), 2);
        assert_eq!(rows.column("email"), Some(0));
        assert_eq!(rows.column("NAME"), Some(1));
        assert_eq!(
            rows.missing(&["name".to_string(), "city".to_string()]),
            ["city"]
        );
        assert_eq!(rows.base, dir.path());
    }

    #[test]
    fn refuses_ragged_and_duplicate_columns() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.csv");
        std::fs::write(&path, "email,name\na@x.org\n").unwrap();
        assert!(Rows::read(&path).is_err());
        std::fs::write(&path, "email,EMAIL\na@x.org,b\n").unwrap();
        assert!(Rows::read(&path).unwrap_err().contains("twice"));
        assert!(Rows::read(&dir.path().join("none.csv")).is_err());
    }
}
