//! Python 2.7's `fmt.format(*args, **kwargs)`: replacement fields, their names, indexes and
//! attributes, conversions and nested specs.

use super::*;

// ---------------------------------------------------------------------------------------------
// `fmt.format(*args, **kwargs)`

/// Auto-numbering state of `str.format` (`{}` versus `{0}`).
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Numbering {
    Unset,
    Auto,
    Manual,
}

pub(super) struct Formatter<'a, 'k, 'v> {
    pub(super) args: &'a [Value<'v>],
    pub(super) kwargs: &'a [(&'k str, Value<'v>)],
    pub(super) heap: Heap<'v>,
    pub(super) numbering: Numbering,
    pub(super) next_auto: usize,
}

/// Python 2.7 `fmt.format(*args, **kwargs)`.
pub(crate) fn format<'v>(
    fmt: &str,
    args: &[Value<'v>],
    kwargs: &[(&str, Value<'v>)],
    heap: Heap<'v>,
) -> Result<String> {
    let mut f = Formatter {
        args,
        kwargs,
        heap,
        numbering: Numbering::Unset,
        next_auto: 0,
    };
    f.render(fmt, 2)
}

impl<'v> Formatter<'_, '_, 'v> {
    /// CPython's `build_string`: literal text and replacement fields, `depth` nested specs deep.
    pub(super) fn render(&mut self, fmt: &str, depth: u32) -> Result<String> {
        if depth == 0 {
            bail!("Max string recursion exceeded");
        }
        let b = fmt.as_bytes();
        let mut out = String::new();
        let mut i = 0;
        while i < b.len() {
            let start = i;
            let Some(k) = b[i..].iter().position(|&c| c == b'{' || c == b'}') else {
                out.push_str(fmt.get(start..).unwrap_or(""));
                break;
            };
            let c = b[start + k];
            i = start + k + 1;
            let next = b.get(i).copied();
            if c == b'}' && next != Some(b'}') {
                bail!("Single '}}' encountered in format string");
            }
            let Some(next) = next else {
                bail!("Single '{{' encountered in format string");
            };
            if next == c {
                out.push_str(fmt.get(start..i).unwrap_or(""));
                i += 1;
                continue;
            }
            out.push_str(fmt.get(start..i - 1).unwrap_or(""));
            let field_start = i;
            let mut count = 1;
            loop {
                match b.get(i) {
                    None => bail!("unmatched '{{' in format"),
                    Some(b'{') => count += 1,
                    Some(b'}') => count -= 1,
                    Some(_) => {}
                }
                i += 1;
                if count == 0 {
                    break;
                }
            }
            let field = fmt.get(field_start..i - 1).unwrap_or("");
            out.push_str(&self.render_field(field, depth)?);
        }
        Ok(out)
    }

    /// One replacement field (the text between its braces).
    pub(super) fn render_field(&mut self, field: &str, depth: u32) -> Result<String> {
        let (name, conversion, spec) = split_field(field)?;
        let obj = self.field_object(name)?;
        let converted = match conversion {
            None => None,
            Some(b'r') => Some(py_repr(obj)),
            Some(b's') => Some(py_str(obj)),
            Some(c) if c > 32 && c < 127 => {
                bail!("Unknown conversion specifier {}", char::from(c))
            }
            Some(c) if c < 0x80 => bail!("Unknown conversion specifier \\x{c:x}"),
            Some(c) => bail!(
                "Unknown conversion specifier \\x{:x}",
                0xffff_ff00 | u32::from(c)
            ),
        };
        let spec = if field.contains('{') {
            Cow::Owned(self.render(spec, depth - 1)?)
        } else {
            Cow::Borrowed(spec)
        };
        match converted {
            Some(s) => format_str(&s, &spec),
            None => format_value(obj, &spec),
        }
    }

    /// Resolves a field name: an argument (`0`, `` for the next one, or a keyword) followed by
    /// `.attr` and `[key]` accessors.
    pub(super) fn field_object(&mut self, name: &str) -> Result<Value<'v>> {
        let k = name.find(['.', '[']).unwrap_or(name.len());
        let (first, mut rest) = name.split_at(k);
        let index = field_index(first)?;
        let empty = first.is_empty();
        if empty || index.is_some() {
            if self.numbering == Numbering::Unset {
                self.numbering = if empty {
                    Numbering::Auto
                } else {
                    Numbering::Manual
                };
            }
            match (self.numbering, empty) {
                (Numbering::Manual, true) => bail!(
                    "cannot switch from manual field specification to automatic field numbering"
                ),
                (Numbering::Auto, false) => bail!(
                    "cannot switch from automatic field numbering to manual field specification"
                ),
                _ => {}
            }
        }
        let index = if empty {
            self.next_auto += 1;
            Some(self.next_auto - 1)
        } else {
            index
        };
        let mut obj = match index {
            Some(i) => *self
                .args
                .get(i)
                .ok_or_else(|| anyhow!("tuple index out of range"))?,
            None => self
                .kwargs
                .iter()
                .rev()
                .find(|(k, _)| *k == first)
                .map(|(_, v)| *v)
                .ok_or_else(|| anyhow!("KeyError: {}", quote_str(first)))?,
        };
        while !rest.is_empty() {
            let (accessor, tail) = next_accessor(rest)?;
            obj = match accessor {
                Accessor::Attr(attr) => get_attr(obj, attr, self.heap)?,
                Accessor::Index(i) => get_index(obj, i, self.heap)?,
                Accessor::Key(key) => get_key(obj, key, self.heap)?,
            };
            rest = tail;
        }
        Ok(obj)
    }
}

/// Splits a replacement field into its name, `!` conversion and `:` format spec.
pub(super) fn split_field(field: &str) -> Result<(&str, Option<u8>, &str)> {
    let Some(k) = field.find([':', '!']) else {
        return Ok((field, None, ""));
    };
    let (name, rest) = (
        field.get(..k).unwrap_or(""),
        field.get(k + 1..).unwrap_or(""),
    );
    if field.as_bytes().get(k) == Some(&b':') {
        return Ok((name, None, rest));
    }
    let Some(&conversion) = rest.as_bytes().first() else {
        bail!("end of format while looking for conversion specifier");
    };
    match rest.as_bytes().get(1) {
        None => Ok((name, Some(conversion), "")),
        Some(b':') => Ok((name, Some(conversion), rest.get(2..).unwrap_or(""))),
        Some(_) => bail!("expected ':' after format specifier"),
    }
}

/// A field name part that is all digits, as an index (CPython's `get_integer`).
pub(super) fn field_index(s: &str) -> Result<Option<usize>> {
    if s.is_empty() {
        return Ok(None);
    }
    let mut n: usize = 0;
    for b in s.bytes() {
        if !b.is_ascii_digit() {
            return Ok(None);
        }
        n = n
            .checked_mul(10)
            .and_then(|n| n.checked_add(usize::from(b - b'0')))
            .filter(|&n| isize::try_from(n).is_ok())
            .ok_or_else(|| anyhow!("Too many decimal digits in format string"))?;
    }
    Ok(Some(n))
}

pub(super) enum Accessor<'a> {
    Attr(&'a str),
    Index(usize),
    Key(&'a str),
}

/// The next `.attr` or `[key]` of a field name, and what follows it.
pub(super) fn next_accessor(rest: &str) -> Result<(Accessor<'_>, &str)> {
    let body = rest.get(1..).unwrap_or("");
    match rest.as_bytes().first() {
        Some(b'.') => {
            let k = body.find(['.', '[']).unwrap_or(body.len());
            let (attr, tail) = body.split_at(k);
            if attr.is_empty() {
                bail!("Empty attribute in format string");
            }
            Ok((Accessor::Attr(attr), tail))
        }
        Some(b'[') => {
            let Some(k) = body.find(']') else {
                bail!("Missing ']' in format string");
            };
            let (key, tail) = (body.get(..k).unwrap_or(""), body.get(k + 1..).unwrap_or(""));
            let index = field_index(key)?;
            if key.is_empty() {
                bail!("Empty attribute in format string");
            }
            Ok((index.map_or(Accessor::Key(key), Accessor::Index), tail))
        }
        _ => bail!("Only '.' or '[' may follow ']' in format field specifier"),
    }
}

pub(super) fn get_attr<'v>(obj: Value<'v>, attr: &str, heap: Heap<'v>) -> Result<Value<'v>> {
    match obj.get_attr(attr, heap) {
        Ok(Some(v)) => Ok(v),
        _ => bail!("'{}' object has no attribute '{attr}'", type_name(obj)),
    }
}

/// Whether `obj` is a scalar Python cannot subscript.
pub(super) fn is_scalar(obj: Value<'_>) -> bool {
    obj.is_none()
        || obj.unpack_bool().is_some()
        || float_of(obj).is_some()
        || obj.get_type() == "int"
}

/// `obj[i]` for a `[digits]` accessor.
pub(super) fn get_index<'v>(obj: Value<'v>, i: usize, heap: Heap<'v>) -> Result<Value<'v>> {
    if let Some(l) = ListRef::from_value(obj) {
        return l
            .content()
            .get(i)
            .copied()
            .ok_or_else(|| anyhow!("list index out of range"));
    }
    if let Some(t) = TupleRef::from_value(obj) {
        return t
            .content()
            .get(i)
            .copied()
            .ok_or_else(|| anyhow!("tuple index out of range"));
    }
    if let Some(s) = obj.unpack_str() {
        let b = *s
            .as_bytes()
            .get(i)
            .ok_or_else(|| anyhow!("string index out of range"))?;
        return Ok(heap.alloc(String::from_utf8_lossy(&[b]).into_owned()));
    }
    let key = heap.alloc(i64::try_from(i).unwrap_or(i64::MAX));
    if let Some(d) = DictRef::from_value(obj) {
        return match d.get(key) {
            Ok(Some(v)) => Ok(v),
            _ => bail!("KeyError: {i}L"),
        };
    }
    subscript(obj, key, heap)
}

/// `obj[key]` for a `[name]` accessor.
pub(super) fn get_key<'v>(obj: Value<'v>, key: &str, heap: Heap<'v>) -> Result<Value<'v>> {
    if let Some(d) = DictRef::from_value(obj) {
        return d
            .get_str(key)
            .ok_or_else(|| anyhow!("KeyError: {}", quote_str(key)));
    }
    if ListRef::from_value(obj).is_some() || TupleRef::from_value(obj).is_some() {
        bail!("{} indices must be integers, not str", type_name(obj));
    }
    if obj.unpack_str().is_some() {
        bail!("string indices must be integers, not str");
    }
    subscript(obj, heap.alloc(key), heap)
}

/// `obj[key]` for any other value, with Python's message for values that cannot be subscripted.
pub(super) fn subscript<'v>(obj: Value<'v>, key: Value<'v>, heap: Heap<'v>) -> Result<Value<'v>> {
    if is_scalar(obj) {
        bail!("'{}' object has no attribute '__getitem__'", type_name(obj));
    }
    obj.at(key, heap).map_err(|e| {
        let message = e.to_string();
        anyhow!("{}", message.lines().next().unwrap_or("").trim())
    })
}
