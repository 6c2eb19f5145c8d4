//! Printing records: a table for people, JSON, CSV or Markdown for scripts.

use comfy_table::Table;
use serde::Serialize;

/// How records are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
    Markdown,
}

/// Rows to print, and the JSON value that stands for them under `--json`.
#[derive(Debug)]
pub struct Records<'a> {
    pub headers: &'a [&'a str],
    pub rows: Vec<Vec<String>>,
}

impl Format {
    /// Prints `records`, or `json` under `--json`.
    pub fn print(self, records: &Records<'_>, json: &impl Serialize) {
        match self {
            Format::Json => println!("{}", serde_json::to_string_pretty(json).unwrap_or_default()),
            Format::Csv => {
                println!("{}", csv_line(records.headers.iter().copied()));
                for row in &records.rows {
                    println!("{}", csv_line(row.iter().map(String::as_str)));
                }
            }
            Format::Markdown => {
                println!("| {} |", records.headers.iter().map(|h| md_cell(h)).collect::<Vec<_>>().join(" | "));
                println!("|{}", "---|".repeat(records.headers.len()));
                for row in &records.rows {
                    println!("| {} |", row.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | "));
                }
            }
            Format::Table => {
                let mut t = Table::new();
                t.set_header(records.headers.to_vec());
                for row in &records.rows {
                    t.add_row(row.clone());
                }
                println!("{t}");
            }
        }
    }
}

fn csv_line<'a>(cells: impl Iterator<Item = &'a str>) -> String {
    cells
        .map(
            |c| {
                if c.contains([',', '"', '\n', '\r']) {
                    format!("\"{}\"", c.replace('"', "\"\""))
                } else {
                    c.to_owned()
                }
            },
        )
        .collect::<Vec<_>>()
        .join(",")
}

fn md_cell(c: &str) -> String {
    c.replace('|', "\\|").replace(['\n', '\r'], " ")
}

/// `yes`/`no` for flags in tables.
pub fn yes_no(v: bool) -> String {
    if v { "yes".into() } else { "no".into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_only_when_needed() {
        assert_eq!(csv_line(["a", "b,c", "say \"hi\""].into_iter()), "a,\"b,c\",\"say \"\"hi\"\"\"");
    }

    #[test]
    fn markdown_escapes_pipes() {
        assert_eq!(md_cell("a|b\nc"), "a\\|b c");
    }
}
