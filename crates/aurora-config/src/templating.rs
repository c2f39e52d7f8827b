//! Pystachio's templating: resolving `{{references}}` in a struct tree against bindings and the
//! enclosing structs' fields, then type-checking the result.
//!
//! Scoping, as Pystachio does it: a value inside struct S sees, in order, S's own fields (set or
//! defaulted), S's `.bind()` environments (most recent first), then the same for the struct that
//! contains S, and so on up to the job. A Process therefore sees its own `{{name}}` before its
//! Task's, and the Job's `{{role}}`. A value found by a reference is itself rendered (in its own
//! struct's scope first), and the string is rendered again until nothing changes, so templates in
//! bound values resolve too (`settings.greeting = 'hello from {{environment}}'`).
//! References that nothing binds stay as written; the caller decides whether that is an error.

use crate::value::{Binding, Mode, StructValue, TypeError, Value};
use aurora_model::template::{self, Component, Ref};
use std::sync::Arc;

/// How deep a chain of references may go before it is called a cycle (`name = '{{name}}'`).
const MAX_DEPTH: usize = 32;

/// A place where references are looked up.
#[derive(Clone, Copy)]
enum Scope<'a> {
    /// A struct's fields, set or defaulted.
    Fields(&'a StructValue),
    /// One `.bind()` environment.
    Binding(&'a Binding),
}

/// The scopes of a struct, innermost first, followed by its container's.
fn scopes_of<'a>(s: &'a StructValue, outer: &[Scope<'a>]) -> Vec<Scope<'a>> {
    let mut v = Vec::with_capacity(1 + s.bindings.len() + outer.len());
    v.push(Scope::Fields(s));
    v.extend(s.bindings.iter().map(|b| Scope::Binding(b)));
    v.extend_from_slice(outer);
    v
}

/// A reference that is still unbound after templating.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unbound {
    /// The reference as written, `{{undefined_thing}}`.
    pub reference: String,
    /// Where: `task.processes[0].cmdline`.
    pub path: String,
}

/// A failure while templating.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {message}")]
pub struct TemplateError {
    pub path: String,
    pub message: String,
}

struct Ctx {
    unbound: Vec<Unbound>,
    error: Option<TemplateError>,
}

/// Resolves every reference in `root` (a job) that its scopes can resolve. Returns the templated
/// tree, with every defaulted field filled in and bindings dropped, and the references left unbound.
pub fn interpolate(
    root: &Arc<StructValue>,
) -> Result<(Arc<StructValue>, Vec<Unbound>), TemplateError> {
    let mut ctx = Ctx {
        unbound: Vec::new(),
        error: None,
    };
    let mut path = String::new();
    let out = interpolate_struct(root, &[], &mut path, &mut ctx);
    match ctx.error {
        Some(e) => Err(e),
        None => Ok((out, ctx.unbound)),
    }
}

fn interpolate_struct(
    s: &StructValue,
    outer: &[Scope<'_>],
    path: &mut String,
    ctx: &mut Ctx,
) -> Arc<StructValue> {
    let scopes = scopes_of(s, outer);
    let mut fields = Vec::with_capacity(s.fields.len());
    for (i, field) in s.ty.fields.iter().enumerate() {
        let v = s.get_index(i).map(|v| {
            let len = path.len();
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(&field.name);
            let out = interpolate_value(v, &scopes, path, ctx);
            path.truncate(len);
            out
        });
        fields.push(v);
    }
    Arc::new(StructValue {
        ty: s.ty.clone(),
        fields,
        bindings: Vec::new(),
        origin: s.origin.clone(),
    })
}

fn interpolate_value(v: &Value, scopes: &[Scope<'_>], path: &mut String, ctx: &mut Ctx) -> Value {
    match v {
        Value::Str(s) => {
            let rendered = render(s, scopes, 0, path, ctx);
            for seg in template::segments(&rendered) {
                if let template::Segment::Ref(r) = seg
                    && !template::is_runtime_ref(&r)
                {
                    ctx.unbound.push(Unbound {
                        reference: r.to_string(),
                        path: path.clone(),
                    });
                }
            }
            Value::Str(template::unescape(&rendered).into_owned())
        }
        Value::List(items) => Value::List(
            items
                .iter()
                .enumerate()
                .map(|(i, x)| {
                    let len = path.len();
                    path.push_str(&format!("[{i}]"));
                    let out = interpolate_value(x, scopes, path, ctx);
                    path.truncate(len);
                    out
                })
                .collect(),
        ),
        Value::Map(items) => Value::Map(
            items
                .iter()
                .map(|(k, x)| {
                    let key = interpolate_value(k, scopes, path, ctx);
                    let len = path.len();
                    path.push_str(&format!("[{}]", key.to_plain_string()));
                    let out = interpolate_value(x, scopes, path, ctx);
                    path.truncate(len);
                    (key, out)
                })
                .collect(),
        ),
        Value::Struct(s) => Value::Struct(interpolate_struct(s, scopes, path, ctx)),
        other => other.clone(),
    }
}

/// Renders a string in `scopes` until it stops changing.
fn render(s: &str, scopes: &[Scope<'_>], depth: usize, path: &str, ctx: &mut Ctx) -> String {
    let mut current = s.to_owned();
    for _ in 0..MAX_DEPTH {
        if ctx.error.is_some() {
            return current;
        }
        let (next, changed) =
            template::substitute(&current, |r| resolve(r, scopes, depth, path, ctx));
        if !changed {
            return current;
        }
        current = next.into_owned();
    }
    cycle(s, path, ctx);
    current
}

fn cycle(s: &str, path: &str, ctx: &mut Ctx) {
    if ctx.error.is_none() {
        ctx.error = Some(TemplateError {
            path: path.to_owned(),
            message: format!(
                "the template '{s}' never finishes resolving (a reference refers to itself)"
            ),
        });
    }
}

/// The text a reference stands for, if any scope knows it.
fn resolve(
    r: &Ref<'_>,
    scopes: &[Scope<'_>],
    depth: usize,
    path: &str,
    ctx: &mut Ctx,
) -> Option<String> {
    if depth >= MAX_DEPTH {
        cycle(&r.to_string(), path, ctx);
        return None;
    }
    for (i, scope) in scopes.iter().enumerate() {
        let found = match scope {
            Scope::Fields(s) => {
                let first = component_str(&r.components[0]);
                s.get(first)
                    .and_then(|v| descend(v, &r.components[1..], Vec::new()))
            }
            Scope::Binding(b) => b.iter().find_map(|(key, v)| {
                let matches = key.len() <= r.components.len()
                    && key
                        .iter()
                        .zip(&r.components)
                        .all(|(k, c)| k == component_str(c));
                if matches {
                    descend(v, &r.components[key.len()..], Vec::new())
                } else {
                    None
                }
            }),
        };
        if let Some((value, inner)) = found {
            // Render the found value in its own structs' scopes, then in the scope it was found in.
            let mut value_scopes: Vec<Scope<'_>> = Vec::new();
            for s in inner.iter().rev() {
                value_scopes.push(Scope::Fields(s));
                value_scopes.extend(s.bindings.iter().map(|b| Scope::Binding(b)));
            }
            value_scopes.extend_from_slice(&scopes[i..]);
            return Some(match value {
                Value::Str(s) => render(s, &value_scopes, depth + 1, path, ctx),
                Value::List(_) | Value::Map(_) | Value::Struct(_) => {
                    let mut p = path.to_owned();
                    interpolate_value(value, &value_scopes, &mut p, ctx).to_plain_string()
                }
                scalar => scalar.to_plain_string(),
            });
        }
    }
    None
}

fn component_str<'a>(c: &Component<'a>) -> &'a str {
    match c {
        Component::Name(n) | Component::Index(n) => n,
    }
}

/// Follows the rest of a reference into a value. Returns the value and the structs passed through
/// (outermost first), whose scopes apply when the value is rendered.
fn descend<'a>(
    v: &'a Value,
    rest: &[Component<'_>],
    mut through: Vec<&'a StructValue>,
) -> Option<(&'a Value, Vec<&'a StructValue>)> {
    let Some((first, rest)) = rest.split_first() else {
        return Some((v, through));
    };
    let key = component_str(first);
    match v {
        Value::Struct(s) => {
            let field = s.get(key)?;
            through.push(s);
            descend(field, rest, through)
        }
        Value::List(items) => descend(items.get(key.parse::<usize>().ok()?)?, rest, through),
        Value::Map(items) => {
            let (_, x) = items.iter().find(|(k, _)| k.to_plain_string() == key)?;
            descend(x, rest, through)
        }
        _ => None,
    }
}

/// A required field that is unset once templated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Missing {
    /// `Process.cmdline`.
    pub field: String,
    /// Where in the job: `task.processes[0]`.
    pub path: String,
    /// Where the struct was built (`file:line`), when known.
    pub origin: Option<String>,
}

/// Why a templated job does not type-check.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CheckError {
    #[error("{0}")]
    Type(TypeError),
    #[error("{field} is required but not set{}{}", if path.is_empty() { String::new() } else { format!(" (at {path})") }, origin.as_deref().map(|o| format!(", in the struct built at {o}")).unwrap_or_default())]
    Missing {
        field: String,
        path: String,
        origin: Option<String>,
    },
}

/// Coerces every field of a templated tree to its type (no templates allowed any more) and checks
/// required fields.
pub fn check(s: &Arc<StructValue>) -> Result<Arc<StructValue>, CheckError> {
    check_struct(s, "")
}

fn check_struct(s: &StructValue, path: &str) -> Result<Arc<StructValue>, CheckError> {
    let mut fields = Vec::with_capacity(s.fields.len());
    for (i, f) in s.ty.fields.iter().enumerate() {
        let here = if path.is_empty() {
            f.name.clone()
        } else {
            format!("{path}.{}", f.name)
        };
        match &s.fields[i] {
            None if f.required => {
                return Err(CheckError::Missing {
                    field: format!("{}.{}", s.ty.name, f.name),
                    path: path.to_owned(),
                    origin: s.origin.as_deref().map(str::to_owned),
                });
            }
            None => fields.push(None),
            Some(v) => {
                let v =
                    f.ty.coerce(v.clone(), Mode::Final)
                        .map_err(|e| CheckError::Type(e.within(&s.ty.name, &f.name)))?;
                fields.push(Some(check_nested(&v, &here)?));
            }
        }
    }
    Ok(Arc::new(StructValue {
        ty: s.ty.clone(),
        fields,
        bindings: Vec::new(),
        origin: s.origin.clone(),
    }))
}

fn check_nested(v: &Value, path: &str) -> Result<Value, CheckError> {
    Ok(match v {
        Value::Struct(s) => Value::Struct(check_struct(s, path)?),
        Value::List(items) => Value::List(
            items
                .iter()
                .enumerate()
                .map(|(i, x)| check_nested(x, &format!("{path}[{i}]")))
                .collect::<Result<_, _>>()?,
        ),
        Value::Map(items) => Value::Map(
            items
                .iter()
                .map(|(k, x)| {
                    Ok((
                        k.clone(),
                        check_nested(x, &format!("{path}[{}]", k.to_plain_string()))?,
                    ))
                })
                .collect::<Result<_, CheckError>>()?,
        ),
        other => other.clone(),
    })
}

/// The JSON of a templated value, as Pystachio's `json_dumps` prints it: unset fields are left out.
pub fn to_json(v: &Value) -> serde_json::Value {
    use serde_json::Value as J;
    match v {
        Value::Bool(b) => J::Bool(*b),
        Value::Int(i) => J::from(*i),
        Value::Float(f) => serde_json::Number::from_f64(*f)
            .map(J::Number)
            .unwrap_or(J::Null),
        Value::Str(s) => J::String(s.clone()),
        Value::List(items) => J::Array(items.iter().map(to_json).collect()),
        Value::Map(items) => J::Object(
            items
                .iter()
                .map(|(k, x)| (k.to_plain_string(), to_json(x)))
                .collect(),
        ),
        Value::Struct(s) => J::Object(
            s.ty.fields
                .iter()
                .zip(&s.fields)
                .filter_map(|(f, v)| v.as_ref().map(|v| (f.name.clone(), to_json(v))))
                .collect(),
        ),
    }
}
