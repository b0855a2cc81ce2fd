//! Plain-text tables: left-aligned columns two spaces apart, no trailing
//! spaces. Hand-written (a few lines) rather than a table crate: the output is
//! read by people and by `grep`/`awk`, and needs no borders or wrapping.

use std::borrow::Cow;
use std::io::{self, Write};

/// A table with a header row, held until rendered: for the small tables
/// (settings, checks, budgets). A cluster's rows go through [`write_table`].
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

    /// The table as lines, each ending in `\n`.
    pub fn render(&self) -> String {
        let widths = widths(self.lines());
        let (mut out, mut line) = (String::new(), String::new());
        for cells in self.lines() {
            format_line(&widths, cells, &mut line);
            out.push_str(&line);
        }
        out
    }

    /// The header row, then the rows.
    fn lines(&self) -> impl Iterator<Item = &Vec<Cow<'a, str>>> {
        std::iter::once(&self.headers).chain(&self.rows)
    }
}

/// Writes a table without holding it: `rows` is called twice, once to
/// measure the columns and once to write each line as it is made. For the
/// tables of a whole cluster (10,000 instances' rows and findings), whose
/// cells borrow from a report already in memory.
pub fn write_table<'c, const N: usize, I>(
    out: &mut (impl Write + ?Sized),
    headers: [&'c str; N],
    rows: impl Fn() -> I,
) -> io::Result<()>
where
    I: Iterator<Item = [Cow<'c, str>; N]>,
{
    let headers = headers.map(Cow::Borrowed);
    let widths = widths(std::iter::once(headers.clone()).chain(rows()));
    let mut line = String::new();
    for cells in std::iter::once(headers).chain(rows()) {
        format_line(&widths, &cells, &mut line);
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

/// Each column's width: its widest cell, in characters.
fn widths<'c, L: AsRef<[Cow<'c, str>]>>(lines: impl Iterator<Item = L>) -> Vec<usize> {
    let mut widths = Vec::new();
    for line in lines {
        let cells = line.as_ref();
        if widths.len() < cells.len() {
            widths.resize(cells.len(), 0);
        }
        for (width, cell) in widths.iter_mut().zip(cells) {
            *width = (*width).max(cell.chars().count());
        }
    }
    widths
}

/// One line into `line` (cleared first): the cells left-aligned, two spaces
/// apart, no trailing spaces, ending in `\n`.
fn format_line(widths: &[usize], cells: &[Cow<'_, str>], line: &mut String) {
    line.clear();
    for (index, width) in widths.iter().enumerate() {
        let cell = cells.get(index).map_or("", |cell| cell.as_ref());
        if index > 0 {
            line.push_str("  ");
        }
        line.push_str(cell);
        let pad = width.saturating_sub(cell.chars().count());
        line.extend(std::iter::repeat_n(' ', pad));
    }
    line.truncate(line.trim_end().len());
    line.push('\n');
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
    }

    #[test]
    fn width_counts_characters_not_bytes() {
        let mut table = Table::new(["NAME", "X"]);
        table.row(["é".to_owned(), "1".to_owned()]);
        assert_eq!(table.render(), "NAME  X\né     1\n");
    }

    #[test]
    fn a_written_table_reads_its_rows_twice_and_matches_the_held_one() {
        let rows = [
            ["i-0a", "prod-general", "ok"],
            ["i-0bbbbbbbbb", "", "imds.v2, é"],
        ];
        let mut held = Table::new(["INSTANCE", "GROUP", "CHECKS"]);
        for row in rows {
            held.row(row);
        }
        let passes = std::cell::Cell::new(0);
        let mut written = Vec::new();
        write_table(&mut written, ["INSTANCE", "GROUP", "CHECKS"], || {
            passes.set(passes.get() + 1);
            rows.iter().map(|row| row.map(Cow::Borrowed))
        })
        .unwrap();
        assert_eq!(String::from_utf8(written).unwrap(), held.render());
        assert_eq!(passes.get(), 2);
    }

    #[test]
    fn a_failed_write_is_the_error() {
        struct Closed;
        impl Write for Closed {
            fn write(&mut self, _: &[u8]) -> io::Result<usize> {
                Err(io::ErrorKind::BrokenPipe.into())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        let err = write_table(&mut Closed, ["A"], || {
            std::iter::once(["x"].map(Cow::Borrowed))
        })
        .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::BrokenPipe);
    }
}
