//! The Pystachio object model, owned and free of Starlark lifetimes: typed values, struct types
//! with their fields and defaults, struct instances with their bindings, and coercion of a value
//! to a type.
//!
//! Everything a `.aurora` file builds ends up here, so that the result can leave the Starlark heap
//! and be templated and type-checked in plain Rust. This module knows nothing of Starlark (see
//! `starlark_glue`) nor of scoping rules for `{{references}}` (see `templating`).

use std::fmt::{self, Write as _};
use std::sync::Arc;

/// A Pystachio value. A struct field that is not set is absent, never a `Value`.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    List(Vec<Value>),
    /// A map in insertion order (Pystachio `Map`, Python `dict`).
    Map(Vec<(Value, Value)>),
    Struct(Arc<StructValue>),
}

/// A Pystachio type.
#[derive(Debug, Clone)]
pub enum Type {
    String,
    Integer,
    Float,
    Boolean,
    /// `Enum('a', 'b')`: a string from a fixed set.
    Enum {
        name: String,
        values: Vec<String>,
    },
    List(Box<Type>),
    Map(Box<Type>, Box<Type>),
    Struct(Arc<StructType>),
    /// `Choice([A, B])`: the first alternative the value coerces to.
    Choice(Vec<Type>),
}

/// One field of a struct type.
#[derive(Debug, Clone)]
pub struct Field {
    pub name: String,
    pub ty: Type,
    /// `Default(T, v)`: the value used when the field is not set.
    pub default: Option<Value>,
    /// `Required(T)`: the job is refused when the field is still unset once templated.
    pub required: bool,
}

/// A struct type: a built-in schema struct (`Process`, `Job`...) or one a user declared with
/// `class Name(Struct):`.
#[derive(Debug)]
pub struct StructType {
    pub name: String,
    pub fields: Vec<Field>,
}

impl StructType {
    /// The position of a field by name.
    pub fn field_index(&self, name: &str) -> Option<usize> {
        self.fields.iter().position(|f| f.name == name)
    }

    /// Field names, for error messages.
    pub fn field_names(&self) -> String {
        self.fields
            .iter()
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A binding environment added with `.bind()`: dotted paths (`profile.version`) to values.
pub type Binding = Vec<(Vec<String>, Value)>;

/// An instance of a struct type.
#[derive(Debug, Clone)]
pub struct StructValue {
    pub ty: Arc<StructType>,
    /// One slot per field of `ty`, `None` while unset.
    pub fields: Vec<Option<Value>>,
    /// `.bind()` environments, most recent first (it takes precedence).
    pub bindings: Vec<Arc<Binding>>,
    /// Where the struct was built (`file:line`), for error messages.
    pub origin: Option<Arc<str>>,
}

impl PartialEq for StructValue {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.ty, &other.ty)
            && self.fields == other.fields
            && self.bindings == other.bindings
    }
}

impl StructValue {
    /// An instance with every field unset.
    pub fn empty(ty: Arc<StructType>) -> Self {
        let fields = vec![None; ty.fields.len()];
        Self {
            ty,
            fields,
            bindings: Vec::new(),
            origin: None,
        }
    }

    /// The field's value: set, else its default.
    pub fn get(&self, name: &str) -> Option<&Value> {
        let i = self.ty.field_index(name)?;
        self.get_index(i)
    }

    /// The value of field `i`: set, else its default.
    pub fn get_index(&self, i: usize) -> Option<&Value> {
        self.fields[i]
            .as_ref()
            .or(self.ty.fields[i].default.as_ref())
    }

    /// Sets a field after coercing the value to the field's type (templates allowed).
    pub fn set(&mut self, name: &str, value: Option<Value>) -> Result<(), TypeError> {
        let i = self.ty.field_index(name).ok_or_else(|| TypeError {
            path: String::new(),
            message: format!(
                "{} has no field '{}' (its fields are: {})",
                self.ty.name,
                name,
                self.ty.field_names()
            ),
        })?;
        self.fields[i] = match value {
            None => None,
            Some(v) => Some(
                self.ty.fields[i]
                    .ty
                    .coerce(v, Mode::Template)
                    .map_err(|e| e.within(&self.ty.name, name))?,
            ),
        };
        Ok(())
    }

    /// Shorthand for building schema defaults: sets fields known to be valid.
    pub fn with(mut self, fields: &[(&str, Value)]) -> Self {
        for (name, v) in fields {
            self.set(name, Some(v.clone()))
                .expect("schema defaults are well typed");
        }
        self
    }
}

/// A value that does not fit a type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{}{message}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct TypeError {
    /// Where: `Process.max_failures`, `Job.task.processes[0].cmdline`...
    pub path: String,
    pub message: String,
}

impl TypeError {
    fn new(message: String) -> Self {
        Self {
            path: String::new(),
            message,
        }
    }

    /// Prefixes the path with `Struct.field`.
    pub fn within(mut self, struct_name: &str, field: &str) -> Self {
        self.path = if self.path.is_empty() {
            format!("{struct_name}.{field}")
        } else if self.path.starts_with('[') {
            format!("{struct_name}.{field}{}", self.path)
        } else {
            format!("{struct_name}.{field}.{}", self.path)
        };
        self
    }

    fn at_index(mut self, index: usize) -> Self {
        self.path = if self.path.is_empty() || self.path.starts_with('[') {
            format!("[{index}]{}", self.path)
        } else {
            format!("[{index}].{}", self.path)
        };
        self
    }
}

/// When a value is coerced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// While the file is evaluated: a string holding a `{{reference}}` is accepted for any scalar
    /// type, to be resolved later (`instances = '{{count}}'`).
    Template,
    /// After templating: the value must have its type.
    Final,
}

impl Type {
    /// The type's name as Pystachio prints it: `Integer`, `List(Process)`...
    pub fn name(&self) -> String {
        match self {
            Type::String => "String".into(),
            Type::Integer => "Integer".into(),
            Type::Float => "Float".into(),
            Type::Boolean => "Boolean".into(),
            Type::Enum { name, .. } => name.clone(),
            Type::List(t) => format!("List({})", t.name()),
            Type::Map(k, v) => format!("Map({}, {})", k.name(), v.name()),
            Type::Struct(s) => s.name.clone(),
            Type::Choice(alts) => {
                format!(
                    "Choice([{}])",
                    alts.iter().map(Type::name).collect::<Vec<_>>().join(", ")
                )
            }
        }
    }

    /// Coerces `v` to this type, as Pystachio does: Python 2 habits are accepted (a whole float for
    /// an Integer, a number for a String, a dict for a struct). In [`Mode::Template`], a string
    /// holding a `{{reference}}` stands for any scalar, to be resolved later.
    pub fn coerce(&self, v: Value, mode: Mode) -> Result<Value, TypeError> {
        let template = matches!(&v, Value::Str(s) if mode == Mode::Template && aurora_model::template::has_refs(s));
        let mismatch = |v: Value| self.mismatch(&v);
        match self {
            Type::String => to_string(v).map_err(mismatch),
            Type::Integer => to_integer(v, template).map_err(mismatch),
            Type::Float => to_float(v, template).map_err(mismatch),
            Type::Boolean => to_boolean(v, template).map_err(mismatch),
            Type::Enum { values, name } => match v {
                Value::Str(ref s) if template || values.iter().any(|x| x == s) => Ok(v),
                other => Err(TypeError::new(format!(
                    "expected {name}, one of {}, got {}",
                    values.join(", "),
                    other.describe()
                ))),
            },
            Type::List(elem) => match v {
                Value::List(items) => items
                    .into_iter()
                    .enumerate()
                    .map(|(i, x)| elem.coerce(x, mode).map_err(|e| e.at_index(i)))
                    .collect::<Result<_, _>>()
                    .map(Value::List),
                other => Err(mismatch(other)),
            },
            Type::Map(kt, vt) => match v {
                Value::Map(items) => coerce_map(kt, vt, items, mode),
                other => Err(mismatch(other)),
            },
            Type::Struct(st) => match v {
                Value::Struct(ref s)
                    if Arc::ptr_eq(&s.ty, st) || s.ty.name == st.name && same_shape(&s.ty, st) =>
                {
                    Ok(v)
                }
                Value::Map(items) => struct_from_dict(st, items),
                other => Err(mismatch(other)),
            },
            Type::Choice(alts) => {
                for alt in alts {
                    if let Ok(c) = alt.coerce(v.clone(), mode) {
                        return Ok(c);
                    }
                }
                Err(mismatch(v))
            }
        }
    }

    /// The error for a value of the wrong kind: `expected Integer, got ...`.
    fn mismatch(&self, v: &Value) -> TypeError {
        TypeError::new(format!("expected {}, got {}", self.name(), v.describe()))
    }
}

// The scalar coercions of `Type::coerce`: the coerced value, or the value back when it does not
// fit. `template` says the value is a `{{reference}}` string accepted as it is.

fn to_string(v: Value) -> Result<Value, Value> {
    match v {
        Value::Str(_) => Ok(v),
        Value::Int(i) => Ok(Value::Str(i.to_string())),
        Value::Float(f) => Ok(Value::Str(py_float(f))),
        other => Err(other),
    }
}

fn to_integer(v: Value, template: bool) -> Result<Value, Value> {
    match v {
        Value::Int(_) => Ok(v),
        Value::Float(f) if f.fract() == 0.0 && f.abs() < 9.0e18 => Ok(Value::Int(f as i64)),
        Value::Str(_) if template => Ok(v),
        Value::Str(ref s) => s.trim().parse::<i64>().map(Value::Int).map_err(|_| v),
        other => Err(other),
    }
}

fn to_float(v: Value, template: bool) -> Result<Value, Value> {
    match v {
        Value::Float(_) => Ok(v),
        Value::Int(i) => Ok(Value::Float(i as f64)),
        Value::Str(_) if template => Ok(v),
        Value::Str(ref s) => match s.trim().parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Value::Float(f)),
            _ => Err(v),
        },
        other => Err(other),
    }
}

fn to_boolean(v: Value, template: bool) -> Result<Value, Value> {
    match v {
        Value::Bool(_) => Ok(v),
        Value::Int(0) => Ok(Value::Bool(false)),
        Value::Int(1) => Ok(Value::Bool(true)),
        Value::Str(_) if template => Ok(v),
        Value::Str(ref s) if s.eq_ignore_ascii_case("true") => Ok(Value::Bool(true)),
        Value::Str(ref s) if s.eq_ignore_ascii_case("false") => Ok(Value::Bool(false)),
        other => Err(other),
    }
}

/// [`Type::coerce`] for a map: each key and value coerced, a value's error prefixed by its key.
fn coerce_map(
    kt: &Type,
    vt: &Type,
    items: Vec<(Value, Value)>,
    mode: Mode,
) -> Result<Value, TypeError> {
    items
        .into_iter()
        .map(|(k, x)| {
            let key = kt.coerce(k, mode)?;
            let label = key.to_plain_string();
            let val = vt.coerce(x, mode).map_err(|e| {
                let mut e = e;
                e.path = format!("[{label}]{}", e.path);
                e
            })?;
            Ok((key, val))
        })
        .collect::<Result<_, _>>()
        .map(Value::Map)
}

/// A dict for a struct field: Pystachio builds the struct from it.
fn struct_from_dict(st: &Arc<StructType>, items: Vec<(Value, Value)>) -> Result<Value, TypeError> {
    let mut s = StructValue::empty(st.clone());
    for (k, x) in items {
        let Value::Str(name) = k else {
            return Err(TypeError::new(format!(
                "expected {}, got a dict with a non-string key",
                st.name
            )));
        };
        s.set(&name, Some(x))
            .map_err(|e| TypeError::new(e.to_string()))?;
    }
    Ok(Value::Struct(Arc::new(s)))
}

fn same_shape(a: &StructType, b: &StructType) -> bool {
    a.fields.len() == b.fields.len()
        && a.fields
            .iter()
            .zip(&b.fields)
            .all(|(x, y)| x.name == y.name)
}

/// Python's `str()` of a float: `1.0`, `0.5`, `1e+20`.
pub fn py_float(f: f64) -> String {
    if f.is_finite() && f.fract() == 0.0 && f.abs() < 1e16 {
        format!("{f:.1}")
    } else if f.is_finite() && (f.abs() >= 1e16 || (f != 0.0 && f.abs() < 1e-4)) {
        let s = format!("{f:e}");
        // Rust writes `1e20`, Python `1e+20`.
        match s.split_once('e') {
            Some((m, e)) if !e.starts_with('-') => format!("{m}e+{e:0>2}"),
            Some((m, e)) => format!("{m}e-{:0>2}", &e[1..]),
            None => s,
        }
    } else {
        f.to_string()
    }
}

impl Value {
    /// A short description for error messages: `string 'abc'`, `Task`, `list`.
    pub fn describe(&self) -> String {
        match self {
            Value::Bool(b) => format!("bool {}", if *b { "True" } else { "False" }),
            Value::Int(i) => format!("int {i}"),
            Value::Float(f) => format!("float {}", py_float(*f)),
            Value::Str(s) if aurora_model::template::has_refs(s) => {
                format!("'{s}' (a {{{{reference}}}} that is not bound)")
            }
            Value::Str(s) => format!("string '{s}'"),
            Value::List(_) => "a list".into(),
            Value::Map(_) => "a dict".into(),
            Value::Struct(s) => format!("a {}", s.ty.name),
        }
    }

    /// The text a value contributes when substituted into a string template.
    pub fn to_plain_string(&self) -> String {
        match self {
            Value::Bool(b) => if *b { "True" } else { "False" }.into(),
            Value::Int(i) => i.to_string(),
            Value::Float(f) => py_float(*f),
            Value::Str(s) => s.clone(),
            other => {
                let mut out = String::new();
                other.write_repr(&mut out);
                out
            }
        }
    }

    /// A Python-like `repr`, used by Starlark's `str()`/`print()` of schema objects.
    pub fn write_repr(&self, out: &mut String) {
        match self {
            Value::Str(s) => {
                let _ = write!(out, "{s:?}");
            }
            Value::List(items) => {
                out.push('[');
                for (i, x) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    x.write_repr(out);
                }
                out.push(']');
            }
            Value::Map(items) => {
                out.push('{');
                for (i, (k, x)) in items.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    k.write_repr(out);
                    out.push_str(": ");
                    x.write_repr(out);
                }
                out.push('}');
            }
            Value::Struct(s) => {
                out.push_str(&s.ty.name);
                out.push('(');
                let mut first = true;
                for (i, f) in s.ty.fields.iter().enumerate() {
                    if let Some(v) = &s.fields[i] {
                        if !first {
                            out.push_str(", ");
                        }
                        first = false;
                        out.push_str(&f.name);
                        out.push('=');
                        v.write_repr(out);
                    }
                }
                out.push(')');
            }
            other => out.push_str(&other.to_plain_string()),
        }
    }
}

impl fmt::Display for StructValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = String::new();
        Value::Struct(Arc::new(self.clone())).write_repr(&mut out);
        f.write_str(&out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process_type() -> Arc<StructType> {
        Arc::new(StructType {
            name: "Process".into(),
            fields: vec![
                Field {
                    name: "name".into(),
                    ty: Type::String,
                    default: None,
                    required: true,
                },
                Field {
                    name: "max_failures".into(),
                    ty: Type::Integer,
                    default: Some(Value::Int(1)),
                    required: false,
                },
            ],
        })
    }

    #[test]
    fn integers_accept_whole_floats_and_templates_only() {
        assert_eq!(
            Type::Integer.coerce(Value::Float(2048.0), Mode::Final),
            Ok(Value::Int(2048))
        );
        assert!(
            Type::Integer
                .coerce(Value::Float(3.5), Mode::Final)
                .is_err()
        );
        assert_eq!(
            Type::Integer.coerce(Value::Str("42".into()), Mode::Final),
            Ok(Value::Int(42))
        );
        let t = Value::Str("{{count}}".into());
        assert_eq!(
            Type::Integer.coerce(t.clone(), Mode::Template),
            Ok(t.clone())
        );
        let err = Type::Integer.coerce(t, Mode::Final).unwrap_err();
        assert!(err.message.contains("not bound"), "{err}");
    }

    #[test]
    fn unknown_fields_and_wrong_types_name_struct_and_field() {
        let mut p = StructValue::empty(process_type());
        let err = p.set("cmd", Some(Value::Str("x".into()))).unwrap_err();
        assert!(
            err.to_string().contains("Process has no field 'cmd'"),
            "{err}"
        );
        let err = p
            .set("max_failures", Some(Value::Str("abc".into())))
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "Process.max_failures: expected Integer, got string 'abc'"
        );
    }

    #[test]
    fn defaults_apply_until_set() {
        let mut p = StructValue::empty(process_type());
        assert_eq!(p.get("max_failures"), Some(&Value::Int(1)));
        p.set("max_failures", Some(Value::Int(3))).unwrap();
        assert_eq!(p.get("max_failures"), Some(&Value::Int(3)));
        assert_eq!(p.get("name"), None);
    }

    #[test]
    fn list_errors_carry_the_index() {
        let err = Type::List(Box::new(Type::Integer))
            .coerce(
                Value::List(vec![Value::Int(1), Value::Str("x".into())]),
                Mode::Final,
            )
            .unwrap_err()
            .within("Task", "sizes");
        assert_eq!(
            err.to_string(),
            "Task.sizes[1]: expected Integer, got string 'x'"
        );
    }

    #[test]
    fn floats_print_like_python() {
        assert_eq!(py_float(1.0), "1.0");
        assert_eq!(py_float(0.5), "0.5");
        assert_eq!(py_float(1e20), "1e+20");
    }
}
