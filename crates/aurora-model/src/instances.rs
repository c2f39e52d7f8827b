//! Instance specs (placeholder: being written).
