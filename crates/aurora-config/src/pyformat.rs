//! Python 2.7's `str()` and `repr()` of Starlark values, and its two string-formatting
//! mini-languages: `fmt % args` and `fmt.format(*args, **kwargs)` with the format-spec language of
//! `format(value, spec)`, rendered byte for byte as CPython 2.7.18 renders them. Strings are
//! Python 2 byte strings here: widths and precisions count UTF-8 bytes, and `repr` escapes every
//! byte outside printable ASCII.
//!
//! This module only renders values: evaluating `.aurora` files is `eval`'s business and
//! `{{mustache}}` references are `templating`'s. Widths and precisions are capped at
//! [`MAX_WIDTH`] so that arbitrary input can neither panic nor allocate without bound.

use anyhow::{Result, anyhow, bail};
use starlark::values::dict::DictRef;
use starlark::values::float::StarlarkFloat;
use starlark::values::list::ListRef;
use starlark::values::tuple::TupleRef;
use starlark::values::{Heap, UnpackValue, Value};
use std::borrow::Cow;

/// The largest width or precision accepted (Python accepts more, and allocates that much).
const MAX_WIDTH: usize = 10_000;
/// How deep `repr` descends into nested containers before writing `...`.
const MAX_REPR_DEPTH: usize = 100;

mod fields;
mod number;
mod percent;
mod repr;
mod spec;
#[cfg(test)]
mod tests;

pub(crate) use fields::format;
pub(crate) use percent::percent;
pub(crate) use repr::{py_repr, py_str};
pub(crate) use spec::format_value;

use number::*;
use percent::*;
use repr::*;
use spec::*;
