//! Python 2.7's `str()` and `repr()` of Starlark values.

use super::*;

// ---------------------------------------------------------------------------------------------
// str() and repr()

/// Python 2.7 `str(v)`.
pub(crate) fn py_str(v: Value<'_>) -> String {
    if let Some(s) = v.unpack_str() {
        return s.to_owned();
    }
    if let Some(x) = float_of(v) {
        return float_str(x);
    }
    if v.unpack_bool().is_none() && v.get_type() == "int" {
        return PyInt::from_value(v).map_or_else(|| v.to_str(), |n| n.decimal());
    }
    if is_python_builtin(v) {
        return py_repr(v);
    }
    v.to_str()
}

/// Python 2.7 `repr(v)`.
pub(crate) fn py_repr(v: Value<'_>) -> String {
    let mut out = String::new();
    repr_into(v, &mut Vec::new(), &mut out);
    out
}

/// Whether `v` is one of the types Python renders itself (rather than the value's own `str`).
pub(super) fn is_python_builtin(v: Value<'_>) -> bool {
    v.is_none()
        || v.unpack_bool().is_some()
        || ListRef::from_value(v).is_some()
        || TupleRef::from_value(v).is_some()
        || DictRef::from_value(v).is_some()
}

/// Python 2.7's name for the type of `v`, as its error messages spell it.
pub(super) fn type_name(v: Value<'_>) -> String {
    match v.get_type() {
        "NoneType" => "NoneType".to_owned(),
        "string" => "str".to_owned(),
        "int" if PyInt::from_value(v).is_some_and(|n| n.long) => "long".to_owned(),
        t => t.to_owned(),
    }
}

/// Python 2.7's repr of a byte string.
pub(super) fn quote_str(s: &str) -> String {
    let quote = if s.contains('\'') && !s.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::with_capacity(s.len() + 2);
    out.push(quote);
    for b in s.bytes() {
        match b {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            _ if char::from(b) == quote => {
                out.push('\\');
                out.push(quote);
            }
            0x20..=0x7e => out.push(char::from(b)),
            _ => out.push_str(&format!("\\x{b:02x}")),
        }
    }
    out.push(quote);
    out
}

pub(super) fn repr_into<'v>(v: Value<'v>, stack: &mut Vec<Value<'v>>, out: &mut String) {
    if v.is_none() {
        out.push_str("None");
    } else if let Some(b) = v.unpack_bool() {
        out.push_str(if b { "True" } else { "False" });
    } else if let Some(s) = v.unpack_str() {
        out.push_str(&quote_str(s));
    } else if let Some(x) = float_of(v) {
        out.push_str(&float_repr(x));
    } else if let Some(n) = PyInt::from_value(v) {
        out.push_str(&n.decimal());
        if n.long {
            out.push('L');
        }
    } else if let Some(l) = ListRef::from_value(v) {
        repr_seq(v, l.content(), ("[", "]"), stack, out);
    } else if let Some(t) = TupleRef::from_value(v) {
        let close = if t.content().len() == 1 { ",)" } else { ")" };
        repr_seq(v, t.content(), ("(", close), stack, out);
    } else if let Some(d) = DictRef::from_value(v) {
        let items = crate::python2::dict_order::entries(&d);
        repr_nested(v, ("{", "}"), stack, out, |stack, out| {
            for (i, (k, x)) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                repr_into(*k, stack, out);
                out.push_str(": ");
                repr_into(*x, stack, out);
            }
        });
    } else {
        out.push_str(&v.to_repr());
    }
}

pub(super) fn repr_seq<'v>(
    v: Value<'v>,
    items: &[Value<'v>],
    (open, close): (&str, &str),
    stack: &mut Vec<Value<'v>>,
    out: &mut String,
) {
    repr_nested(v, (open, close), stack, out, |stack, out| {
        for (i, x) in items.iter().enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            repr_into(*x, stack, out);
        }
    });
}

/// Writes a container, or `[...]` when it contains itself (or nests too deeply).
pub(super) fn repr_nested<'v>(
    v: Value<'v>,
    (open, close): (&str, &str),
    stack: &mut Vec<Value<'v>>,
    out: &mut String,
    body: impl FnOnce(&mut Vec<Value<'v>>, &mut String),
) {
    out.push_str(open);
    if stack.len() >= MAX_REPR_DEPTH || stack.iter().any(|s| s.ptr_eq(v)) {
        out.push_str("...");
        out.push_str(close.trim_start_matches(','));
    } else {
        stack.push(v);
        body(stack, out);
        stack.pop();
        out.push_str(close);
    }
}
