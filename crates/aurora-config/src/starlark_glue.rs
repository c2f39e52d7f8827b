//! The bridge between Starlark and the Pystachio object model: the Starlark values that stand for
//! types (`Process`, `String`, `List(Process)`), field declarations (`Default(T, v)`) and struct
//! instances, the global names a `.aurora` file sees, and conversion of Starlark values into owned
//! [`Value`]s.
//!
//! Evaluation order, files and includes are `eval`'s business; templating is `templating`'s.

use crate::helpers;
use crate::schema::{self, GB, KB, MB, TB};
use crate::value::{Binding, Field, Mode, StructType, StructValue, Type, Value};
use allocative::Allocative;
use starlark::any::ProvidesStaticType;
use starlark::collections::SmallMap;
use starlark::environment::{GlobalsBuilder, Methods, MethodsBuilder};
use starlark::eval::{Arguments, Evaluator};
use starlark::values::dict::{AllocDict, DictRef};
use starlark::values::float::StarlarkFloat;
use starlark::values::list::{AllocList, ListRef};
use starlark::values::none::NoneType;
use starlark::values::tuple::{TupleRef, UnpackTuple};
use starlark::values::{
    Heap, NoSerialize, StarlarkPagablePanic, StarlarkValue, UnpackValue, Value as SValue,
    ValueLike, starlark_value,
};
use starlark::{starlark_module, starlark_simple_value};
use std::fmt;
use std::sync::Arc;

// ---------------------------------------------------------------------------------------------
// Conversions

/// Converts a Starlark value into an owned [`Value`]; `None` stands for Pystachio's `Empty`.
pub(crate) fn to_value(v: SValue<'_>) -> anyhow::Result<Option<Value>> {
    if v.is_none() {
        return Ok(None);
    }
    if let Some(b) = v.unpack_bool() {
        return Ok(Some(Value::Bool(b)));
    }
    if let Some(s) = v.unpack_str() {
        return Ok(Some(Value::Str(s.to_owned())));
    }
    if let Some(f) = v.downcast_ref::<StarlarkFloat>() {
        return Ok(Some(Value::Float(f.0)));
    }
    if let Ok(Some(i)) = i64::unpack_value(v) {
        return Ok(Some(Value::Int(i)));
    }
    if let Some(s) = v.downcast_ref::<StructObj>() {
        return Ok(Some(Value::Struct(s.0.clone())));
    }
    let items = if let Some(l) = ListRef::from_value(v) {
        Some(l.content().to_vec())
    } else {
        TupleRef::from_value(v).map(|t| t.content().to_vec())
    };
    if let Some(items) = items {
        let mut out = Vec::with_capacity(items.len());
        for x in items {
            out.push(
                to_value(x)?.ok_or_else(|| anyhow::anyhow!("None is not allowed inside a list"))?,
            );
        }
        return Ok(Some(Value::List(out)));
    }
    if let Some(d) = DictRef::from_value(v) {
        let mut out = Vec::with_capacity(d.len());
        for (k, x) in d.iter() {
            let key =
                to_value(k)?.ok_or_else(|| anyhow::anyhow!("None is not allowed as a dict key"))?;
            let val = to_value(x)?
                .ok_or_else(|| anyhow::anyhow!("None is not allowed as a dict value"))?;
            out.push((key, val));
        }
        return Ok(Some(Value::Map(out)));
    }
    if v.downcast_ref::<TypeObj>().is_some() || v.downcast_ref::<FieldObj>().is_some() {
        anyhow::bail!("a type ({v}) is not a value; did you mean {v}(...)?");
    }
    anyhow::bail!("a {} cannot be used in a configuration", v.get_type())
}

/// Converts an owned [`Value`] back into Starlark, for field access (`process.name()`).
pub(crate) fn to_starlark<'v>(v: &Value, heap: Heap<'v>) -> SValue<'v> {
    match v {
        Value::Bool(b) => SValue::new_bool(*b),
        Value::Int(i) => heap.alloc(*i),
        Value::Float(f) => heap.alloc(StarlarkFloat(*f)),
        Value::Str(s) => heap.alloc(s.as_str()),
        Value::List(items) => heap.alloc(AllocList(items.iter().map(|x| to_starlark(x, heap)))),
        Value::Map(items) => heap.alloc(AllocDict(
            items
                .iter()
                .map(|(k, x)| (to_starlark(k, heap), to_starlark(x, heap))),
        )),
        Value::Struct(s) => heap.alloc(StructObj(s.clone())),
    }
}

/// `file:line` of the innermost call being evaluated: where a struct is built.
fn origin(eval: &Evaluator<'_, '_, '_>) -> Option<Arc<str>> {
    eval.call_stack_top_location().map(|span| {
        let pos = span.resolve_span();
        Arc::from(format!("{}:{}", span.filename(), pos.begin.line + 1))
    })
}

fn build_struct<'v>(
    mut base: StructValue,
    args: &Arguments<'v, '_>,
    eval: &mut Evaluator<'v, '_, '_>,
) -> starlark::Result<SValue<'v>> {
    if args.len()? != args.names_map()?.len() {
        return Err(anyhow::anyhow!(
            "{}(...) takes keyword arguments only, as in {}(name = value)",
            base.ty.name,
            base.ty.name
        )
        .into());
    }
    for (name, v) in args.names_map()? {
        let value =
            to_value(v).map_err(|e| anyhow::anyhow!("{}.{}: {e}", base.ty.name, name.as_str()))?;
        base.set(name.as_str(), value)
            .map_err(anyhow::Error::from)?;
    }
    if let Some(o) = origin(eval) {
        base.origin = Some(o);
    }
    Ok(eval.heap().alloc(StructObj(Arc::new(base))))
}

// ---------------------------------------------------------------------------------------------
// Starlark values

/// A Pystachio type as a Starlark value: `String`, `List(Process)`, `Process`, a user's class.
/// Calling a struct type builds an instance; calling a scalar type coerces (`Integer('4')`).
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
pub(crate) struct TypeObj(#[allocative(skip)] pub(crate) Type);
starlark_simple_value!(TypeObj);

impl fmt::Display for TypeObj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.name())
    }
}

#[starlark_value(type = "PystachioType")]
impl<'v> StarlarkValue<'v> for TypeObj {
    fn invoke(
        &self,
        _me: SValue<'v>,
        args: &Arguments<'v, '_>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<SValue<'v>> {
        match &self.0 {
            Type::Struct(st) => build_struct(StructValue::empty(st.clone()), args, eval),
            ty => {
                args.no_named_args()?;
                let v = args.positional1(eval.heap())?;
                let value = to_value(v)?
                    .ok_or_else(|| anyhow::anyhow!("{} cannot hold None", ty.name()))?;
                let coerced = ty
                    .coerce(value, Mode::Template)
                    .map_err(anyhow::Error::from)?;
                Ok(to_starlark(&coerced, eval.heap()))
            }
        }
    }
}

/// A field declaration inside `class X(Struct):`: `Default(T, v)` or `Required(T)`.
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
pub(crate) struct FieldObj {
    #[allocative(skip)]
    ty: Type,
    #[allocative(skip)]
    default: Option<Value>,
    required: bool,
}
starlark_simple_value!(FieldObj);

impl fmt::Display for FieldObj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.required {
            write!(f, "Required({})", self.ty.name())
        } else {
            write!(f, "Default({}, ...)", self.ty.name())
        }
    }
}

#[starlark_value(type = "PystachioField")]
impl<'v> StarlarkValue<'v> for FieldObj {}

/// A struct instance. Calling it returns a copy with fields overridden (`base(name = 'x')`);
/// `.bind()` returns a copy with more bindings; `p.name()` reads a field.
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
pub(crate) struct StructObj(#[allocative(skip)] pub(crate) Arc<StructValue>);
starlark_simple_value!(StructObj);

impl fmt::Display for StructObj {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

#[starlark_value(type = "PystachioStruct")]
impl<'v> StarlarkValue<'v> for StructObj {
    fn get_methods() -> Option<&'static Methods> {
        Some(STRUCT_METHODS.methods())
    }

    fn invoke(
        &self,
        _me: SValue<'v>,
        args: &Arguments<'v, '_>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<SValue<'v>> {
        build_struct((*self.0).clone(), args, eval)
    }

    fn get_attr(&self, attribute: &str, heap: Heap<'v>) -> Option<SValue<'v>> {
        self.0.ty.field_index(attribute)?;
        Some(heap.alloc(FieldGetter(self.0.get(attribute).cloned())))
    }

    fn dir_attr(&self) -> Vec<String> {
        let mut names: Vec<String> = self.0.ty.fields.iter().map(|f| f.name.clone()).collect();
        names.push("bind".into());
        names
    }

    fn equals(&self, other: SValue<'v>) -> starlark::Result<bool> {
        Ok(other
            .downcast_ref::<StructObj>()
            .is_some_and(|o| *o.0 == *self.0))
    }
}

/// `process.name`: calling it (`process.name()`) returns the field's value, as in Pystachio.
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
struct FieldGetter(#[allocative(skip)] Option<Value>);
starlark_simple_value!(FieldGetter);

impl fmt::Display for FieldGetter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<field accessor>")
    }
}

#[starlark_value(type = "PystachioField")]
impl<'v> StarlarkValue<'v> for FieldGetter {
    fn invoke(
        &self,
        _me: SValue<'v>,
        args: &Arguments<'v, '_>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<SValue<'v>> {
        args.no_named_args()?;
        args.no_positional_args(eval.heap())?;
        Ok(match &self.0 {
            Some(v) => to_starlark(v, eval.heap()),
            None => SValue::new_none(),
        })
    }
}

/// Parses a binding key: `profile.version` → `["profile", "version"]`.
pub(crate) fn binding_path(key: &str) -> anyhow::Result<Vec<String>> {
    let r = aurora_model::template::parse_ref(key).ok_or_else(|| {
        anyhow::anyhow!("'{key}' is not a valid binding name (expected a.b or a[b])")
    })?;
    Ok(r.components
        .iter()
        .map(|c| match c {
            aurora_model::template::Component::Name(n)
            | aurora_model::template::Component::Index(n) => n.to_string(),
        })
        .collect())
}

starlark::methods_static!(STRUCT_METHODS = struct_methods);

#[starlark_module]
fn struct_methods(builder: &mut MethodsBuilder) {
    /// Pystachio's `.bind(name = value)` / `.bind({'a.b': value})`: a copy whose templates see
    /// these values, before any earlier binding.
    fn bind<'v>(
        this: SValue<'v>,
        #[starlark(args)] args: UnpackTuple<SValue<'v>>,
        #[starlark(kwargs)] kwargs: SmallMap<String, SValue<'v>>,
        heap: Heap<'v>,
    ) -> anyhow::Result<SValue<'v>> {
        let me = this
            .downcast_ref::<StructObj>()
            .ok_or_else(|| anyhow::anyhow!("bind() called on a non-struct"))?;
        let mut binding: Binding = Vec::new();
        for a in args.items {
            let Some(Value::Map(items)) = to_value(a)? else {
                anyhow::bail!("bind() takes dicts and name = value arguments, got {a}");
            };
            for (k, v) in items {
                let Value::Str(k) = k else {
                    anyhow::bail!("bind() keys must be strings")
                };
                binding.push((binding_path(&k)?, v));
            }
        }
        for (k, v) in kwargs {
            let v = to_value(v)?.ok_or_else(|| anyhow::anyhow!("cannot bind {k} to None"))?;
            binding.push((vec![k], v));
        }
        let mut copy = (*me.0).clone();
        copy.bindings.insert(0, Arc::new(binding));
        Ok(heap.alloc(StructObj(Arc::new(copy))))
    }
}

// ---------------------------------------------------------------------------------------------
// Globals

/// `isinstance(v, T)` for a Pystachio type `T`.
pub(crate) fn is_instance_of_type(v: SValue<'_>, ty: &Type) -> bool {
    match ty {
        Type::Struct(st) => v
            .downcast_ref::<StructObj>()
            .is_some_and(|s| s.0.ty.name == st.name),
        Type::String | Type::Enum { .. } => v.unpack_str().is_some(),
        Type::Integer => v.get_type() == "int",
        Type::Float => v.get_type() == "float",
        Type::Boolean => v.get_type() == "bool",
        Type::List(_) => v.get_type() == "list",
        Type::Map(..) => v.get_type() == "dict",
        Type::Choice(alts) => alts.iter().any(|t| is_instance_of_type(v, t)),
    }
}

fn type_of(v: SValue<'_>) -> anyhow::Result<Type> {
    match v.downcast_ref::<TypeObj>() {
        Some(t) => Ok(t.0.clone()),
        None => anyhow::bail!(
            "expected a type (String, Integer, Float, Boolean, List(T), Map(K, V), a struct), got {v}"
        ),
    }
}

fn struct_arg(v: SValue<'_>, what: &str) -> anyhow::Result<Arc<StructValue>> {
    match v.downcast_ref::<StructObj>() {
        Some(s) => Ok(s.0.clone()),
        None => anyhow::bail!("{what}: expected a struct, got {v}"),
    }
}

fn process_name(v: SValue<'_>) -> anyhow::Result<Value> {
    if let Some(s) = v.unpack_str() {
        return Ok(Value::Str(s.to_owned()));
    }
    let p = struct_arg(v, "order()")?;
    p.get("name")
        .cloned()
        .ok_or_else(|| anyhow::anyhow!("order(): a process without a name"))
}

/// `[Constraint(order = [names of args])]`, for `order()` and `Processes.order()`.
fn order_of<'v>(args: UnpackTuple<SValue<'v>>, heap: Heap<'v>) -> anyhow::Result<SValue<'v>> {
    let names = args
        .items
        .into_iter()
        .map(process_name)
        .collect::<anyhow::Result<Vec<_>>>()?;
    Ok(to_starlark(&order_value(names), heap))
}

fn order_value(names: Vec<Value>) -> Value {
    let constraint = StructValue::empty(schema::schema().get("Constraint").clone())
        .with(&[("order", Value::List(names))]);
    Value::List(vec![Value::Struct(Arc::new(constraint))])
}

/// `Enum('a', 'b')` or `Enum('Name', ('a', 'b'))`.
fn enum_type<'v>(args: UnpackTuple<SValue<'v>>) -> anyhow::Result<TypeObj> {
    let strs = |vs: &[SValue<'v>]| -> anyhow::Result<Vec<String>> {
        vs.iter()
            .map(|v| {
                v.unpack_str()
                    .map(str::to_owned)
                    .ok_or_else(|| anyhow::anyhow!("Enum values must be strings"))
            })
            .collect()
    };
    let (name, values) = match args.items.as_slice() {
        [name, values]
            if ListRef::from_value(*values).is_some()
                || TupleRef::from_value(*values).is_some() =>
        {
            let vs = ListRef::from_value(*values)
                .map(|l| l.content().to_vec())
                .or_else(|| TupleRef::from_value(*values).map(|t| t.content().to_vec()))
                .unwrap_or_default();
            (name.unpack_str().unwrap_or("Enum").to_owned(), strs(&vs)?)
        }
        items => ("Enum".to_owned(), strs(items)?),
    };
    Ok(TypeObj(Type::Enum { name, values }))
}

/// A struct type named `name`: the fields of `base`, then `fields` (a type, `Default(T, v)` or
/// `Required(T)` each), a field of the same name replacing the base's.
fn declare_class<'v>(
    name: &str,
    base: SValue<'v>,
    fields: SmallMap<String, SValue<'v>>,
) -> anyhow::Result<TypeObj> {
    let Type::Struct(base) = type_of(base)? else {
        anyhow::bail!("class {name}: the base class must be Struct or another struct");
    };
    let mut all: Vec<Field> = base.fields.clone();
    for (field, v) in fields {
        let decl = if let Some(f) = v.downcast_ref::<FieldObj>() {
            Field {
                name: field.clone(),
                ty: f.ty.clone(),
                default: f.default.clone(),
                required: f.required,
            }
        } else if let Some(t) = v.downcast_ref::<TypeObj>() {
            Field {
                name: field.clone(),
                ty: t.0.clone(),
                default: None,
                required: false,
            }
        } else {
            anyhow::bail!(
                "class {name}: field '{field}' must be a type, Default(T, value) or Required(T), got {v}"
            );
        };
        match all.iter_mut().find(|f| f.name == field) {
            Some(existing) => *existing = decl,
            None => all.push(decl),
        }
    }
    Ok(TypeObj(Type::Struct(Arc::new(StructType {
        name: name.to_owned(),
        fields: all,
    }))))
}

/// Pystachio's vocabulary for declaring types: `Default`, `Required`, `List`, `Map`, `Choice`,
/// `Enum`, and what the pre-pass makes of `class X(Struct)`.
#[starlark_module]
fn schema_declarations(builder: &mut GlobalsBuilder) {
    /// `Default(T, value)`: a field of type T with a default.
    fn Default<'v>(ty: SValue<'v>, value: SValue<'v>) -> anyhow::Result<FieldObj> {
        let ty = type_of(ty)?;
        let default = match to_value(value)? {
            Some(v) => Some(ty.coerce(v, Mode::Template)?),
            None => None,
        };
        Ok(FieldObj {
            ty,
            default,
            required: false,
        })
    }

    /// `Required(T)`: a field that must be set.
    fn Required<'v>(ty: SValue<'v>) -> anyhow::Result<FieldObj> {
        Ok(FieldObj {
            ty: type_of(ty)?,
            default: None,
            required: true,
        })
    }

    /// `List(T)`.
    fn List<'v>(ty: SValue<'v>) -> anyhow::Result<TypeObj> {
        Ok(TypeObj(Type::List(Box::new(type_of(ty)?))))
    }

    /// `Map(K, V)`.
    fn Map<'v>(key: SValue<'v>, value: SValue<'v>) -> anyhow::Result<TypeObj> {
        Ok(TypeObj(Type::Map(
            Box::new(type_of(key)?),
            Box::new(type_of(value)?),
        )))
    }

    /// `Choice([T1, T2])`: the first type a value coerces to.
    fn Choice<'v>(alternatives: SValue<'v>) -> anyhow::Result<TypeObj> {
        let items = ListRef::from_value(alternatives)
            .map(|l| l.content().to_vec())
            .or_else(|| TupleRef::from_value(alternatives).map(|t| t.content().to_vec()))
            .ok_or_else(|| anyhow::anyhow!("Choice() takes a list of types"))?;
        Ok(TypeObj(Type::Choice(
            items
                .into_iter()
                .map(type_of)
                .collect::<anyhow::Result<_>>()?,
        )))
    }

    /// `Enum('a', 'b')` or `Enum('Name', ('a', 'b'))`.
    fn Enum<'v>(#[starlark(args)] args: UnpackTuple<SValue<'v>>) -> anyhow::Result<TypeObj> {
        enum_type(args)
    }

    /// What `class Name(Base): field = ...` becomes after the pre-pass.
    fn __aurora_class__<'v>(
        #[starlark(require = pos)] name: &str,
        #[starlark(require = pos)] base: SValue<'v>,
        #[starlark(kwargs)] fields: SmallMap<String, SValue<'v>>,
    ) -> anyhow::Result<TypeObj> {
        declare_class(name, base, fields)
    }
}

/// Thermos' task builders: `order`, `SequentialTask`, `SimpleTask`.
#[starlark_module]
fn task_builders(builder: &mut GlobalsBuilder) {
    /// `order(p1, p2, ...)`: one ordering constraint over processes (or their names).
    fn order<'v>(
        #[starlark(args)] args: UnpackTuple<SValue<'v>>,
        heap: Heap<'v>,
    ) -> anyhow::Result<SValue<'v>> {
        order_of(args, heap)
    }

    /// `SequentialTask(...)`: a Task whose processes run one after the other, in list order.
    fn SequentialTask<'v>(
        #[starlark(kwargs)] kwargs: SmallMap<String, SValue<'v>>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> anyhow::Result<SValue<'v>> {
        let mut task = StructValue::empty(schema::schema().get("Task").clone());
        for (k, v) in kwargs {
            if k == "constraints" {
                anyhow::bail!("Cannot specify ordering constraints on SequentialTask!");
            }
            task.set(&k, to_value(v)?)?;
        }
        let names = match task.get("processes") {
            Some(Value::List(ps)) => ps
                .iter()
                .map(|p| match p {
                    Value::Struct(p) => p.get("name").cloned().unwrap_or(Value::Str(String::new())),
                    other => other.clone(),
                })
                .collect(),
            _ => Vec::new(),
        };
        task.set("constraints", Some(order_value(names)))?;
        task.origin = origin(eval);
        Ok(eval.heap().alloc(StructObj(Arc::new(task))))
    }

    /// `SimpleTask(name, command)`: one process, 1 cpu, 1 GB of ram and disk.
    fn SimpleTask<'v>(name: &str, command: &str, heap: Heap<'v>) -> anyhow::Result<SValue<'v>> {
        let s = schema::schema();
        let process = StructValue::empty(s.get("Process").clone()).with(&[
            ("name", Value::Str(name.into())),
            ("cmdline", Value::Str(command.into())),
        ]);
        let resources = StructValue::empty(s.get("Resources").clone()).with(&[
            ("cpu", Value::Float(1.0)),
            ("ram", Value::Int(GB)),
            ("disk", Value::Int(GB)),
        ]);
        let task = StructValue::empty(s.get("Task").clone()).with(&[
            ("name", Value::Str(name.into())),
            (
                "processes",
                Value::List(vec![Value::Struct(Arc::new(process))]),
            ),
            ("resources", Value::Struct(Arc::new(resources))),
        ]);
        Ok(heap.alloc(StructObj(Arc::new(task))))
    }
}

/// `include()` anywhere but where the pre-pass takes it.
#[starlark_module]
fn include_builtin(builder: &mut GlobalsBuilder) {
    /// Aurora's `include()` is handled before evaluation, as a top-level statement; anywhere else
    /// it cannot run into the including file's namespace.
    fn include(path: &str) -> anyhow::Result<NoneType> {
        anyhow::bail!(
            "include('{path}') must be a top-level statement of its own line, with a string literal path"
        )
    }
}

fn tasks_arg(args: UnpackTuple<SValue<'_>>) -> anyhow::Result<Vec<Arc<StructValue>>> {
    args.items
        .into_iter()
        .map(|v| match v.downcast_ref::<StructObj>() {
            Some(s) if s.0.ty.name == "Task" => Ok(s.0.clone()),
            _ => anyhow::bail!("expected Tasks, got {v}"),
        })
        .collect()
}

fn resources_arg(args: UnpackTuple<SValue<'_>>) -> anyhow::Result<Vec<Arc<StructValue>>> {
    // Thermos accepts both `resources_sum(r1, r2)` and `resources_sum([r1, r2])`.
    let items = match args.items.as_slice() {
        [one] if ListRef::from_value(*one).is_some() => ListRef::from_value(*one)
            .map(|l| l.content().to_vec())
            .unwrap_or_default(),
        items => items.to_vec(),
    };
    items
        .into_iter()
        .map(|v| match v.downcast_ref::<StructObj>() {
            Some(s) if s.0.ty.name == "Resources" => Ok(s.0.clone()),
            _ => anyhow::bail!("expected Resources, got {v}"),
        })
        .collect()
}

fn finish_task<'v>(
    task: Result<StructValue, String>,
    kwargs: SmallMap<String, SValue<'v>>,
    heap: Heap<'v>,
) -> anyhow::Result<SValue<'v>> {
    let mut task = task.map_err(|e| anyhow::anyhow!(e))?;
    for (k, v) in kwargs {
        task.set(&k, to_value(v)?)?;
    }
    Ok(heap.alloc(StructObj(Arc::new(task))))
}

/// `combine_tasks` / `concat_tasks` at the top level, as Thermos exports them.
#[starlark_module]
fn task_helpers(builder: &mut GlobalsBuilder) {
    /// Runs the tasks' processes side by side (resources summed).
    fn combine_tasks<'v>(
        #[starlark(args)] tasks: UnpackTuple<SValue<'v>>,
        #[starlark(kwargs)] kwargs: SmallMap<String, SValue<'v>>,
        heap: Heap<'v>,
    ) -> anyhow::Result<SValue<'v>> {
        finish_task(helpers::combine(&tasks_arg(tasks)?), kwargs, heap)
    }

    /// Runs the tasks one after the other (largest resources).
    fn concat_tasks<'v>(
        #[starlark(args)] tasks: UnpackTuple<SValue<'v>>,
        #[starlark(kwargs)] kwargs: SmallMap<String, SValue<'v>>,
        heap: Heap<'v>,
    ) -> anyhow::Result<SValue<'v>> {
        finish_task(helpers::concat(&tasks_arg(tasks)?), kwargs, heap)
    }
}

/// The `Tasks` namespace.
#[starlark_module]
fn tasks_namespace(builder: &mut GlobalsBuilder) {
    fn combine<'v>(
        #[starlark(args)] tasks: UnpackTuple<SValue<'v>>,
        #[starlark(kwargs)] kwargs: SmallMap<String, SValue<'v>>,
        heap: Heap<'v>,
    ) -> anyhow::Result<SValue<'v>> {
        finish_task(helpers::combine(&tasks_arg(tasks)?), kwargs, heap)
    }

    fn concat<'v>(
        #[starlark(args)] tasks: UnpackTuple<SValue<'v>>,
        #[starlark(kwargs)] kwargs: SmallMap<String, SValue<'v>>,
        heap: Heap<'v>,
    ) -> anyhow::Result<SValue<'v>> {
        finish_task(helpers::concat(&tasks_arg(tasks)?), kwargs, heap)
    }
}

/// The `Processes` namespace.
#[starlark_module]
fn processes_namespace(builder: &mut GlobalsBuilder) {
    fn order<'v>(
        #[starlark(args)] args: UnpackTuple<SValue<'v>>,
        heap: Heap<'v>,
    ) -> anyhow::Result<SValue<'v>> {
        order_of(args, heap)
    }
}

/// The `Units` namespace.
#[starlark_module]
fn units_namespace(builder: &mut GlobalsBuilder) {
    fn resources_sum<'v>(
        #[starlark(args)] r: UnpackTuple<SValue<'v>>,
        heap: Heap<'v>,
    ) -> anyhow::Result<SValue<'v>> {
        let v =
            helpers::resources_fold(&resources_arg(r)?, false).map_err(|e| anyhow::anyhow!(e))?;
        Ok(to_starlark(&v, heap))
    }

    fn resources_max<'v>(
        #[starlark(args)] r: UnpackTuple<SValue<'v>>,
        heap: Heap<'v>,
    ) -> anyhow::Result<SValue<'v>> {
        let v =
            helpers::resources_fold(&resources_arg(r)?, true).map_err(|e| anyhow::anyhow!(e))?;
        Ok(to_starlark(&v, heap))
    }

    fn finalization_wait_sum<'v>(
        #[starlark(args)] t: UnpackTuple<SValue<'v>>,
        heap: Heap<'v>,
    ) -> anyhow::Result<SValue<'v>> {
        let v = helpers::finalization_wait_fold(&tasks_arg(t)?, false)
            .map_err(|e| anyhow::anyhow!(e))?;
        Ok(to_starlark(&v, heap))
    }

    fn finalization_wait_max<'v>(
        #[starlark(args)] t: UnpackTuple<SValue<'v>>,
        heap: Heap<'v>,
    ) -> anyhow::Result<SValue<'v>> {
        let v = helpers::finalization_wait_fold(&tasks_arg(t)?, true)
            .map_err(|e| anyhow::anyhow!(e))?;
        Ok(to_starlark(&v, heap))
    }

    fn processes_merge<'v>(
        #[starlark(args)] t: UnpackTuple<SValue<'v>>,
        heap: Heap<'v>,
    ) -> anyhow::Result<SValue<'v>> {
        Ok(to_starlark(&helpers::processes_merge(&tasks_arg(t)?), heap))
    }

    fn constraints_merge<'v>(
        #[starlark(args)] t: UnpackTuple<SValue<'v>>,
        heap: Heap<'v>,
    ) -> anyhow::Result<SValue<'v>> {
        Ok(to_starlark(
            &helpers::constraints_merge(&tasks_arg(t)?),
            heap,
        ))
    }
}

/// Adds the schema (types, constants, ready-made instances) and the Pystachio vocabulary to a
/// Starlark globals builder.
pub(crate) fn register(builder: &mut GlobalsBuilder) {
    schema_declarations(builder);
    task_builders(builder);
    include_builtin(builder);
    task_helpers(builder);
    builder.namespace("Tasks", tasks_namespace);
    builder.namespace("Processes", processes_namespace);
    builder.namespace("Units", units_namespace);
    let s = schema::schema();
    for (name, t) in &s.structs {
        builder.set(name, TypeObj(Type::Struct(t.clone())));
    }
    builder.set("MesosJob", TypeObj(Type::Struct(s.get("Job").clone())));
    builder.set(
        "MesosTaskInstance",
        TypeObj(Type::Struct(s.get("Task").clone())),
    );
    for (name, t) in &s.enums {
        builder.set(name, TypeObj(t.clone()));
    }
    for (name, v) in &s.instances {
        builder.set(name, StructObj(v.clone()));
    }
    builder.set(
        "Struct",
        TypeObj(Type::Struct(Arc::new(StructType {
            name: "Struct".into(),
            fields: vec![],
        }))),
    );
    builder.set("String", TypeObj(Type::String));
    builder.set("Integer", TypeObj(Type::Integer));
    builder.set("Float", TypeObj(Type::Float));
    builder.set("Boolean", TypeObj(Type::Boolean));
    builder.set("Empty", NoneType);
    for (name, v) in [
        ("B", 1),
        ("BYTES", 1),
        ("KB", KB),
        ("MB", MB),
        ("GB", GB),
        ("TB", TB),
    ] {
        builder.set(name, v);
    }
}
