//! Task states and their legal transitions (placeholder: being written).
