//! Plain-text tables: left-aligned columns two spaces apart, no trailing
//! spaces. Hand-written (a few lines) rather than a table crate: the output is
//! read by people and by `grep`/`awk`, and needs no borders or wrapping.

use std::borrow::Cow;

/// A table with a header row. Cells may borrow what they show (a report's
/// ids and messages): a table of 10,000 instances' findings need not copy
/// them.
#[derive(Debug, Clone)]
pub struct Table<'a> {
    headers: Vec<Cow<'a, str>>,
    rows: Vec<Vec<Cow<'a, str>>>,
}

impl<'a> Table<'a> {
    pub fn new<const N: usize>(headers: [&'a str; N]) -> Self {
        Self {
            headers: headers.into_iter().map(Cow::Borrowed).collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row; missing cells are blank, extra cells are kept.
    pub fn row<C: Into<Cow<'a, str>>>(&mut self, cells: impl IntoIterator<Item = C>) {
        self.rows.push(cells.into_iter().map(Into::into).collect());
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// The table as lines, each ending in `\n`.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.render_into(&mut out);
        out
    }

    /// [`Table::render`], appended to `out` (no copy of the whole table).
    pub fn render_into(&self, out: &mut String) {
        let widths = self.widths();
        let mut text = String::new();
        for line in self.lines() {
            text.clear();
            for (index, width) in widths.iter().enumerate() {
                let cell = line.get(index).map_or("", |cell| cell.as_ref());
                if index > 0 {
                    text.push_str("  ");
                }
                text.push_str(cell);
                let pad = width.saturating_sub(cell.chars().count());
                text.extend(std::iter::repeat_n(' ', pad));
            }
            out.push_str(text.trim_end());
            out.push('\n');
        }
    }

    /// The header row, then the rows.
    fn lines(&self) -> impl Iterator<Item = &Vec<Cow<'a, str>>> {
        std::iter::once(&self.headers).chain(&self.rows)
    }

    /// Each column's width: its widest cell, in characters.
    fn widths(&self) -> Vec<usize> {
        let columns = self.lines().map(Vec::len).max().unwrap_or_default();
        let mut widths = vec![0_usize; columns];
        for line in self.lines() {
            for (width, cell) in widths.iter_mut().zip(line) {
                *width = (*width).max(cell.chars().count());
            }
        }
        widths
    }
}

/// A cell for a flag: `yes` or `no`.
pub fn yes_no(flag: bool) -> String {
    if flag { "yes" } else { "no" }.to_owned()
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;

    use super::*;

    #[test]
    fn columns_are_as_wide_as_their_widest_cell_and_lines_have_no_trailing_spaces() {
        let mut table = Table::new(["INSTANCE", "GROUP", "CHECKS"]);
        table.row([
            "i-0a".to_owned(),
            "prod-general".to_owned(),
            "ok".to_owned(),
        ]);
        table.row([
            "i-0bbbbbbbbb".to_owned(),
            String::new(),
            "imds.v2, image.age".to_owned(),
        ]);
        assert_eq!(
            table.render(),
            "INSTANCE      GROUP         CHECKS\n\
             i-0a          prod-general  ok\n\
             i-0bbbbbbbbb                imds.v2, image.age\n"
        );
    }

    #[test]
    fn a_short_row_leaves_its_last_cells_blank() {
        let mut table = Table::new(["A", "B"]);
        table.row(["x".to_owned()]);
        assert_eq!(table.render(), "A  B\nx\n");
        assert!(!table.is_empty());
    }

    #[test]
    fn width_counts_characters_not_bytes() {
        let mut table = Table::new(["NAME", "X"]);
        table.row(["é".to_owned(), "1".to_owned()]);
        assert_eq!(table.render(), "NAME  X\né     1\n");
    }
}
