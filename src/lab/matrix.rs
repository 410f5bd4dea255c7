//! Every anomaly against every strategy (work in progress).

use std::io::Write;

use super::LabError;

/// The matrix data.
pub struct Matrix;

/// One cell's result.
pub struct Results;

impl Matrix {
    /// The built-in matrix.
    ///
    /// # Errors
    /// Never yet.
    pub fn built_in() -> Result<Matrix, LabError> {
        Ok(Matrix)
    }

    /// Runs every cell.
    ///
    /// # Errors
    /// Never yet.
    pub fn run(&self) -> Result<Results, LabError> {
        Ok(Results)
    }
}

/// Prints the table.
///
/// # Errors
/// Writing fails.
pub fn print(_m: &Matrix, _r: &Results, out: &mut impl Write) -> Result<(), LabError> {
    writeln!(out, "matrix: not built yet")?;
    Ok(())
}
