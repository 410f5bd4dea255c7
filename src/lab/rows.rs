//! What the lab shows of the database: the committed rows of the tables a scenario is
//! about (its [`View`]), and how they changed from one step to the next.

use rusqlite::Connection;
use rusqlite::types::Value as SqlValue;
use serde_json::Value;

use super::database::View;
use super::session::to_json;

/// The rows of one table at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    /// Table name.
    pub name: String,
    /// Column names.
    pub columns: Vec<String>,
    /// Rows ordered by the first column, which the lab treats as the row's key.
    pub rows: Vec<Vec<Value>>,
}

/// Every table's rows at one moment.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Snapshot {
    /// Tables in the order the scenario first names them.
    pub tables: Vec<Table>,
}

impl Snapshot {
    /// The table called `name`.
    #[must_use]
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.iter().find(|t| t.name == name)
    }
}

/// How one row changed between two snapshots.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// The table.
    pub table: String,
    /// The row's key (its first column).
    pub key: Value,
    /// The row before (None when it was added).
    pub before: Option<Vec<Value>>,
    /// The row after (None when it was removed).
    pub after: Option<Vec<Value>>,
}

impl Change {
    /// Whether column `col` of this row changed (every column of an added row counts).
    #[must_use]
    pub fn touches(&self, col: usize) -> bool {
        match (&self.before, &self.after) {
            (Some(b), Some(a)) => b.get(col) != a.get(col),
            _ => true,
        }
    }

    /// "products 1: stock_available 1→0" for transcripts.
    #[must_use]
    pub fn describe(&self, columns: &[String]) -> String {
        use super::session::cell_text;
        let key = cell_text(&self.key);
        match (&self.before, &self.after) {
            (None, Some(a)) => format!("{} + {}", self.table, super::session::row_text(a)),
            (Some(b), None) => format!("{} - {}", self.table, super::session::row_text(b)),
            (Some(b), Some(a)) => {
                let mut parts = Vec::new();
                for (i, name) in columns.iter().enumerate() {
                    if b.get(i) != a.get(i) {
                        let old = b.get(i).map(cell_text).unwrap_or_default();
                        let new = a.get(i).map(cell_text).unwrap_or_default();
                        parts.push(format!("{name} {old}→{new}"));
                    }
                }
                format!("{} {key}: {}", self.table, parts.join(", "))
            }
            (None, None) => String::new(),
        }
    }
}

/// Rows that differ between `before` and `after`, table by table, keyed on the first column.
#[must_use]
pub fn diff(before: &Snapshot, after: &Snapshot) -> Vec<Change> {
    let mut out = Vec::new();
    for table in &after.tables {
        let old = before.table(&table.name);
        let find = |t: Option<&Table>, key: &Value| -> Option<Vec<Value>> {
            t?.rows.iter().find(|r| r.first() == Some(key)).cloned()
        };
        for row in &table.rows {
            let Some(key) = row.first() else { continue };
            let was = find(old, key);
            if was.as_ref() != Some(row) {
                out.push(Change {
                    table: table.name.clone(),
                    key: key.clone(),
                    before: was,
                    after: Some(row.clone()),
                });
            }
        }
        if let Some(old) = old {
            for row in &old.rows {
                let Some(key) = row.first() else { continue };
                if find(Some(table), key).is_none() {
                    out.push(Change {
                        table: table.name.clone(),
                        key: key.clone(),
                        before: Some(row.clone()),
                        after: None,
                    });
                }
            }
        }
    }
    out
}

/// Reads the tables and columns of `view` through `conn`.
pub(super) fn snapshot(conn: &Connection, view: &View) -> Snapshot {
    let tables = view
        .tables
        .iter()
        .filter_map(|(name, columns)| read_table(conn, name, columns).ok())
        .collect();
    Snapshot { tables }
}

/// Reads `columns` of one table, ordered by the first of them.
fn read_table(conn: &Connection, name: &str, columns: &[String]) -> rusqlite::Result<Table> {
    let quote = |s: &str| format!("\"{}\"", s.replace('"', "\"\""));
    let list: Vec<String> = columns.iter().map(|c| quote(c)).collect();
    let mut stmt = conn.prepare(&format!(
        "SELECT {} FROM {} ORDER BY 1",
        list.join(", "),
        quote(name)
    ))?;
    let width = columns.len();
    let rows = stmt
        .query_map([], |r| {
            (0..width)
                .map(|i| r.get::<_, SqlValue>(i).map(to_json))
                .collect::<rusqlite::Result<Vec<_>>>()
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(Table {
        name: name.to_string(),
        columns: columns.to_vec(),
        rows,
    })
}
