//! TEMPORARY STUB (the real pre-pass is being written): passes the source through unchanged.
#[derive(Debug, Clone, PartialEq)]
pub enum Chunk {
    Code(String),
    Include { path: String, line: usize, column: usize },
}
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct PrepassError { pub line: usize, pub column: usize, pub message: String }
pub fn prepass(source: &str) -> Result<Vec<Chunk>, PrepassError> {
    Ok(vec![Chunk::Code(source.to_owned())])
}
