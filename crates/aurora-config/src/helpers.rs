//! Thermos' task helpers (`schema_helpers.py`): `Units`, `Processes`, `Tasks`, `combine_tasks`,
//! `concat_tasks`, operating on owned struct values.
//!
//! Pure functions over [`StructValue`]s; `starlark_glue` exposes them to configs.

use crate::schema::schema;
use crate::value::{StructValue, Value};
use std::sync::Arc;

type Result<T> = std::result::Result<T, String>;

fn number(v: Option<&Value>, what: &str) -> Result<f64> {
    match v {
        Some(Value::Int(i)) => Ok(*i as f64),
        Some(Value::Float(f)) => Ok(*f),
        Some(other) => Err(format!("{what}: cannot add up {}", other.describe())),
        None => Ok(0.0),
    }
}

fn resources_of(task: &StructValue) -> Result<Arc<StructValue>> {
    match task.get("resources") {
        Some(Value::Struct(r)) => Ok(r.clone()),
        _ => Err("every task must have resources to be combined".into()),
    }
}

/// `Units.resources_sum` / `resources_max`: field-wise sum or maximum of several `Resources`.
pub fn resources_fold(resources: &[Arc<StructValue>], max: bool) -> Result<Value> {
    let mut acc = [0.0f64; 4];
    for r in resources {
        for (i, f) in ["cpu", "ram", "disk", "gpu"].iter().enumerate() {
            let v = number(r.get(f), &format!("Resources.{f}"))?;
            acc[i] = if max { acc[i].max(v) } else { acc[i] + v };
        }
    }
    let out = StructValue::empty(schema().get("Resources").clone()).with(&[
        ("cpu", Value::Float(acc[0])),
        ("ram", Value::Int(acc[1] as i64)),
        ("disk", Value::Int(acc[2] as i64)),
        ("gpu", Value::Int(acc[3] as i64)),
    ]);
    Ok(Value::Struct(Arc::new(out)))
}

/// `Units.finalization_wait_sum` / `finalization_wait_max`.
pub fn finalization_wait_fold(tasks: &[Arc<StructValue>], max: bool) -> Result<Value> {
    let mut acc = 0i64;
    for t in tasks {
        let v = number(t.get("finalization_wait"), "Task.finalization_wait")? as i64;
        acc = if max { acc.max(v) } else { acc + v };
    }
    Ok(Value::Int(acc))
}

fn list_field(task: &StructValue, field: &str) -> Vec<Value> {
    match task.get(field) {
        Some(Value::List(items)) => items.clone(),
        _ => Vec::new(),
    }
}

/// `Units.processes_merge`: the processes of all tasks, each once.
pub fn processes_merge(tasks: &[Arc<StructValue>]) -> Value {
    let mut out: Vec<Value> = Vec::new();
    for t in tasks {
        for p in list_field(t, "processes") {
            if !out.contains(&p) {
                out.push(p);
            }
        }
    }
    Value::List(out)
}

/// `Units.constraints_merge`: the constraints of all tasks, concatenated.
pub fn constraints_merge(tasks: &[Arc<StructValue>]) -> Value {
    Value::List(
        tasks
            .iter()
            .flat_map(|t| list_field(t, "constraints"))
            .collect(),
    )
}

fn last(tasks: &[Arc<StructValue>]) -> Result<StructValue> {
    tasks
        .last()
        .map(|t| (**t).clone())
        .ok_or_else(|| "at least one task is needed".into())
}

/// `Tasks.combine(*tasks)`: the processes of all tasks running side by side; resources summed,
/// constraints merged, the longest finalization wait; the last task's other fields.
pub fn combine(tasks: &[Arc<StructValue>]) -> Result<StructValue> {
    let resources: Vec<_> = tasks
        .iter()
        .map(|t| resources_of(t))
        .collect::<Result<_>>()?;
    let mut out = last(tasks)?;
    set(&mut out, "processes", processes_merge(tasks))?;
    set(&mut out, "resources", resources_fold(&resources, false)?)?;
    set(&mut out, "constraints", constraints_merge(tasks))?;
    set(
        &mut out,
        "finalization_wait",
        finalization_wait_fold(tasks, true)?,
    )?;
    Ok(out)
}

/// `Tasks.concat(*tasks)`: the tasks one after the other: every process of a task is ordered
/// before every process of the next; the largest resources; finalization waits added up.
pub fn concat(tasks: &[Arc<StructValue>]) -> Result<StructValue> {
    let resources: Vec<_> = tasks
        .iter()
        .map(|t| resources_of(t))
        .collect::<Result<_>>()?;
    let mut constraints = match constraints_merge(tasks) {
        Value::List(c) => c,
        _ => Vec::new(),
    };
    let constraint_ty = schema().get("Constraint").clone();
    for pair in tasks.windows(2) {
        for p1 in list_field(&pair[0], "processes") {
            for p2 in list_field(&pair[1], "processes") {
                if p1 != p2 {
                    let names = [&p1, &p2].map(|p| match p {
                        Value::Struct(s) => {
                            s.get("name").cloned().unwrap_or(Value::Str(String::new()))
                        }
                        other => other.clone(),
                    });
                    let c = StructValue::empty(constraint_ty.clone())
                        .with(&[("order", Value::List(names.to_vec()))]);
                    constraints.push(Value::Struct(Arc::new(c)));
                }
            }
        }
    }
    let mut out = last(tasks)?;
    set(&mut out, "processes", processes_merge(tasks))?;
    set(&mut out, "resources", resources_fold(&resources, true)?)?;
    set(&mut out, "constraints", Value::List(constraints))?;
    set(
        &mut out,
        "finalization_wait",
        finalization_wait_fold(tasks, false)?,
    )?;
    Ok(out)
}

fn set(s: &mut StructValue, field: &str, v: Value) -> Result<()> {
    s.set(field, Some(v)).map_err(|e| e.to_string())
}
