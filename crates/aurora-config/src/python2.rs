//! Python 2 semantics on top of Starlark, for what `.aurora` files do that Starlark does otherwise
//! or not at all: the `/` and `%` operators (integer division, `str % args`), the methods the
//! pre-pass routes through `__pymethod__` (`str.format` with format specs, `dict.iteritems`...),
//! iteration (`__py2_iter__`: strings by character, dicts in CPython 2.7's order, `dict_order`),
//! built-ins (`isinstance`, `basestring`, `sum`, `reduce`, `xrange`, `long`, `round`, Python 2's
//! `str` and `repr`), and the pure modules a config may import (`modules`: `string`, `getpass`,
//! `math`, `textwrap`).
//!
//! The formatting itself lives in `pyformat`; which source forms reach these functions is the
//! pre-pass's business (`prepass::forms`) and `eval`'s (operator replacement).

use crate::pyformat;

pub(crate) mod dict_order;
mod modules;
use allocative::Allocative;
use starlark::any::ProvidesStaticType;
use starlark::collections::SmallMap;
use starlark::environment::GlobalsBuilder;
use starlark::eval::Arguments;
use starlark::eval::Evaluator;
use starlark::values::dict::{AllocDict, DictRef};
use starlark::values::float::StarlarkFloat;
use starlark::values::list::{AllocList, ListRef};
use starlark::values::tuple::{AllocTuple, TupleRef, UnpackTuple};
use starlark::values::{Heap, UnpackValue, Value, ValueLike};
use starlark::values::{NoSerialize, StarlarkPagablePanic, StarlarkValue, starlark_value};
use starlark::{starlark_module, starlark_simple_value};
use std::fmt;

/// The binary operators `eval` replaces with Python 2 versions: operator → built-in name.
pub(crate) const OPERATORS: &[(&str, &str)] = &[
    ("/", "__py2_div__"),
    ("%", "__py2_mod__"),
    ("*", "__py2_mul__"),
];

/// The most items (or bytes, for a string) a repetition (`'x' * n`) or a materialised iterable
/// (`list(range(n))`) may have: far beyond any job's needs, and a bound on what a config can make
/// the client allocate.
const MAX_ITEMS: usize = 1 << 24;

/// What evaluation knows of the machine: only the name of the user running the client, for
/// `getpass.getuser()`. Passed to Starlark as the evaluator's `extra`.
#[derive(Debug, Default, ProvidesStaticType, Allocative)]
pub(crate) struct Py2Context {
    pub(crate) user: Option<String>,
}

fn is_int(v: Value<'_>) -> bool {
    v.get_type() == "int" || v.get_type() == "bool"
}

fn as_f64(v: Value<'_>) -> Option<f64> {
    if let Some(f) = v.downcast_ref::<StarlarkFloat>() {
        return Some(f.0);
    }
    if let Some(b) = v.unpack_bool() {
        return Some(b as i64 as f64);
    }
    i64::unpack_value(v).ok().flatten().map(|i| i as f64)
}

/// The items of an iterable, refused past [`MAX_ITEMS`].
fn items_of<'v>(v: Value<'v>, heap: Heap<'v>) -> starlark::Result<Vec<Value<'v>>> {
    let items: Vec<Value<'v>> = v.iterate(heap)?.take(MAX_ITEMS + 1).collect();
    if items.len() > MAX_ITEMS {
        return Err(
            anyhow::anyhow!("more than {MAX_ITEMS} items: too many for a .aurora file").into(),
        );
    }
    Ok(items)
}

/// The length of a string (in bytes), list or tuple, for a repetition's size.
fn repeatable_len(v: Value<'_>) -> Option<usize> {
    v.unpack_str()
        .map(str::len)
        .or_else(|| ListRef::from_value(v).map(|l| l.len()))
        .or_else(|| TupleRef::from_value(v).map(|t| t.len()))
}

/// A string's characters, each a string.
fn chars<'v>(s: &str, heap: Heap<'v>) -> Vec<Value<'v>> {
    s.chars().map(|c| heap.alloc(c.to_string())).collect()
}

/// The items of `v` as Python 2 iterates it: a string's characters, a dict's keys in CPython
/// 2.7's order, any other iterable's items.
fn sequence<'v>(v: Value<'v>, heap: Heap<'v>) -> starlark::Result<Vec<Value<'v>>> {
    if let Some(s) = v.unpack_str() {
        return Ok(chars(s, heap));
    }
    if let Some(d) = DictRef::from_value(v) {
        return Ok(dict_order::entries(&d)
            .into_iter()
            .map(|(k, _)| k)
            .collect());
    }
    items_of(v, heap)
}

/// The operators, as Python 2 evaluates them.
#[starlark_module]
fn operators(builder: &mut GlobalsBuilder) {
    /// `a / b`: floor division when both are integers (Python 2), true division otherwise.
    fn __py2_div__<'v>(a: Value<'v>, b: Value<'v>, heap: Heap<'v>) -> starlark::Result<Value<'v>> {
        if is_int(a) && is_int(b) {
            if as_f64(b) == Some(0.0) {
                return Err(anyhow::anyhow!("integer division or modulo by zero").into());
            }
            // Booleans divide as the integers they are.
            let int = |v: Value<'v>| v.unpack_bool().map_or(v, |b| heap.alloc(b as i32));
            int(a).floor_div(int(b), heap)
        } else {
            a.div(b, heap)
        }
    }

    /// `a * b`: Starlark's, but a string, list or tuple repeated past [`MAX_ITEMS`] is refused
    /// rather than allocated.
    fn __py2_mul__<'v>(a: Value<'v>, b: Value<'v>, heap: Heap<'v>) -> starlark::Result<Value<'v>> {
        for (seq, n) in [(a, b), (b, a)] {
            if let (Some(len), Ok(Some(n))) = (repeatable_len(seq), i64::unpack_value(n))
                && n > 0
                && (len as u128) * (n as u128) > MAX_ITEMS as u128
            {
                return Err(anyhow::anyhow!(
                    "repeating a {} of {len} {} {n} times is too large for a .aurora file (at most {MAX_ITEMS})",
                    seq.get_type(),
                    if seq.unpack_str().is_some() { "bytes" } else { "items" }
                )
                .into());
            }
        }
        a.mul(b, heap)
    }

    /// `a % b`: Python 2's string formatting when `a` is a string, the remainder otherwise.
    fn __py2_mod__<'v>(a: Value<'v>, b: Value<'v>, heap: Heap<'v>) -> starlark::Result<Value<'v>> {
        match a.unpack_str() {
            Some(fmt) => Ok(heap.alloc(pyformat::percent(fmt, b, heap)?)),
            None => a.percent(b, heap),
        }
    }
}

/// `recv.name(args)` for a method Python 2 has and Starlark lacks; any other receiver's own
/// attribute otherwise.
fn call_method<'v>(
    recv: Value<'v>,
    name: &str,
    args: &[Value<'v>],
    kwargs: &SmallMap<String, Value<'v>>,
    eval: &mut Evaluator<'v, '_, '_>,
) -> starlark::Result<Value<'v>> {
    let heap = eval.heap();
    if let Some(s) = recv.unpack_str() {
        if let Some(out) = str_method(s, name, args, kwargs, heap)? {
            return Ok(heap.alloc(out));
        }
    } else if let Some(d) = DictRef::from_value(recv) {
        let pairs = dict_order::entries(&d);
        drop(d);
        let tuples = |f: &dyn Fn(Value<'v>, Value<'v>) -> Value<'v>| {
            heap.alloc(AllocList(pairs.iter().map(|(k, v)| f(*k, *v))))
        };
        match (name, args) {
            ("iteritems" | "items", []) => return Ok(tuples(&|k, v| heap.alloc((k, v)))),
            ("iterkeys" | "keys", []) => return Ok(tuples(&|k, _| k)),
            ("itervalues" | "values", []) => return Ok(tuples(&|_, v| v)),
            ("has_key", [k]) => return Ok(Value::new_bool(recv.is_in(*k)?)),
            ("copy", []) => return Ok(heap.alloc(AllocDict(pairs))),
            _ => {}
        }
    } else if ListRef::from_value(recv).is_some() {
        match (name, args) {
            ("sort", []) | ("reverse", []) => {
                let mut items = items_of(recv, heap)?;
                if name == "reverse" {
                    items.reverse();
                } else {
                    sort_values(&mut items, kwargs, eval)?;
                }
                let clear = recv.get_attr_error("clear", heap)?;
                eval.eval_function(clear, &[], &[])?;
                let extend = recv.get_attr_error("extend", heap)?;
                let list = heap.alloc(AllocList(items));
                eval.eval_function(extend, &[list], &[])?;
                return Ok(Value::new_none());
            }
            ("count", [x]) => {
                let mut n = 0i64;
                for item in items_of(recv, heap)? {
                    n += item.equals(*x)? as i64;
                }
                return Ok(heap.alloc(n));
            }
            _ => {}
        }
    }
    let method = recv.get_attr_error(name, heap)?;
    let named: Vec<(&str, Value<'v>)> = kwargs.iter().map(|(k, v)| (k.as_str(), *v)).collect();
    eval.eval_function(method, args, &named)
}

/// `list.sort(cmp=, key=, reverse=)` ordering, by Starlark's comparison (Python 2's for the
/// types configs sort) or `cmp`'s answer; stable, also when reversed, as Python's.
fn sort_values<'v>(
    items: &mut [Value<'v>],
    kwargs: &SmallMap<String, Value<'v>>,
    eval: &mut Evaluator<'v, '_, '_>,
) -> starlark::Result<()> {
    if let Some(k) = kwargs
        .keys()
        .find(|k| !matches!(k.as_str(), "cmp" | "key" | "reverse"))
    {
        return Err(anyhow::anyhow!("sort() got an unexpected keyword argument '{k}'").into());
    }
    let given = |name: &str| kwargs.get(name).copied().filter(|f| !f.is_none());
    let (cmp, key) = (given("cmp"), given("key"));
    let reverse = kwargs.get("reverse").is_some_and(|r| r.to_bool());
    let mut keyed: Vec<(Value<'v>, Value<'v>)> = Vec::with_capacity(items.len());
    for it in items.iter() {
        let k = match key {
            Some(f) => eval.eval_function(f, &[*it], &[])?,
            None => *it,
        };
        keyed.push((k, *it));
    }
    let mut error = None;
    keyed.sort_by(|a, b| {
        let (x, y) = if reverse { (b.0, a.0) } else { (a.0, b.0) };
        let ord = match cmp {
            Some(f) => eval.eval_function(f, &[x, y], &[]).and_then(|r| {
                let n = i64::unpack_value(r).ok().flatten().ok_or_else(|| {
                    starlark::Error::from(anyhow::anyhow!("comparison function must return int"))
                })?;
                Ok(n.cmp(&0))
            }),
            None => x.compare(y),
        };
        ord.unwrap_or_else(|e| {
            error.get_or_insert(e);
            std::cmp::Ordering::Equal
        })
    });
    if let Some(e) = error {
        return Err(e);
    }
    for (slot, (_, v)) in items.iter_mut().zip(keyed) {
        *slot = v;
    }
    Ok(())
}

/// Python's `x ** y`: an integer for integers and a non-negative exponent, a float otherwise.
fn power<'v>(x: Value<'v>, y: Value<'v>, heap: Heap<'v>) -> anyhow::Result<Value<'v>> {
    if let (Ok(Some(a)), Ok(Some(b))) = (i64::unpack_value(x), i64::unpack_value(y))
        && b >= 0
    {
        let b = u32::try_from(b).map_err(|_| anyhow::anyhow!("pow(): exponent too large"))?;
        let r = a
            .checked_pow(b)
            .ok_or_else(|| anyhow::anyhow!("pow(): result too large"))?;
        return Ok(heap.alloc(r));
    }
    let (a, b) = (as_f64(x), as_f64(y));
    match (a, b) {
        (Some(a), Some(b)) => Ok(heap.alloc(a.powf(b))),
        _ => anyhow::bail!("unsupported operand type(s) for pow()"),
    }
}

/// Python 2.7's `round(x, n)`: the exact value of `x` rounded to `n` decimal places, halves away
/// from zero (`round(2.5) == 3.0`, `round(0.15, 1) == 0.1`: 0.15 is a little under).
fn round_float(x: f64, n: i32) -> f64 {
    // CPython's NDIGITS_MAX and NDIGITS_MIN.
    if !x.is_finite() || x == 0.0 || n > 323 {
        return x;
    }
    if n < -308 {
        return 0.0 * x;
    }
    // Every binary fraction of an f64 ends within 1074 decimal places: this is its exact value.
    let exact = format!("{:.1074}", x.abs());
    let (int_part, frac) = exact.split_once('.').unwrap_or((&exact, ""));
    let digits: Vec<u8> = int_part.bytes().chain(frac.bytes()).collect();
    let keep = int_part.len() as i64 + n as i64;
    if keep < 0 {
        return 0.0 * x;
    }
    let keep = keep as usize;
    if keep >= digits.len() {
        return x;
    }
    let mut kept: Vec<u8> = digits[..keep].to_vec();
    if digits[keep] >= b'5' {
        // Away from zero: add one in the last kept place.
        let mut i = kept.len();
        loop {
            if i == 0 {
                kept.insert(0, b'1');
                break;
            }
            i -= 1;
            if kept[i] == b'9' {
                kept[i] = b'0';
            } else {
                kept[i] += 1;
                break;
            }
        }
    }
    let mantissa = if kept.is_empty() {
        "0".to_owned()
    } else {
        String::from_utf8_lossy(&kept).into_owned()
    };
    let r: f64 = format!("{mantissa}e{}", -(n as i64))
        .parse()
        .unwrap_or(x.abs());
    r.copysign(x)
}

/// The `str` methods Python 2 has beyond Starlark's, or `None` for any other name.
fn str_method<'v>(
    s: &str,
    name: &str,
    args: &[Value<'v>],
    kwargs: &SmallMap<String, Value<'v>>,
    heap: Heap<'v>,
) -> anyhow::Result<Option<String>> {
    let int_arg = |i: usize| -> anyhow::Result<usize> {
        let v = args
            .get(i)
            .ok_or_else(|| anyhow::anyhow!("{name}() takes at least {} argument(s)", i + 1))?;
        let n = i64::unpack_value(*v).ok().flatten().ok_or_else(|| {
            anyhow::anyhow!("{name}(): an integer is required, got {}", v.get_type())
        })?;
        anyhow::ensure!(n <= 1_000_000, "{name}(): width {n} is too large");
        Ok(n.max(0) as usize)
    };
    let fill = || -> anyhow::Result<char> {
        match args.get(1) {
            None => Ok(' '),
            Some(v) => {
                let f = v.unpack_str().unwrap_or("");
                let mut chars = f.chars();
                match (chars.next(), chars.next()) {
                    (Some(c), None) => Ok(c),
                    _ => anyhow::bail!("{name}() argument 2 must be char, not {}", v.get_type()),
                }
            }
        }
    };
    let len = s.chars().count();
    let pad = |n: usize, c: char| c.to_string().repeat(n);
    Ok(Some(match name {
        "format" => {
            let named: Vec<(&str, Value<'v>)> =
                kwargs.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            pyformat::format(s, args, &named, heap)?
        }
        "ljust" => {
            let (w, c) = (int_arg(0)?, fill()?);
            format!("{s}{}", pad(w.saturating_sub(len), c))
        }
        "rjust" => {
            let (w, c) = (int_arg(0)?, fill()?);
            format!("{}{s}", pad(w.saturating_sub(len), c))
        }
        "center" => {
            let (w, c) = (int_arg(0)?, fill()?);
            let marg = w.saturating_sub(len);
            // CPython 2.7's split of the margin.
            let left = marg / 2 + (marg & w & 1);
            format!("{}{s}{}", pad(left, c), pad(marg - left, c))
        }
        "zfill" => {
            let w = int_arg(0)?;
            let fillers = w.saturating_sub(len);
            match s.strip_prefix(['+', '-']) {
                Some(rest) => format!("{}{}{rest}", &s[..1], "0".repeat(fillers)),
                None => format!("{}{s}", "0".repeat(fillers)),
            }
        }
        "swapcase" => s
            .chars()
            .map(|c| {
                if c.is_uppercase() {
                    c.to_lowercase().collect::<String>()
                } else {
                    c.to_uppercase().collect()
                }
            })
            .collect(),
        "expandtabs" => {
            let size = if args.is_empty() { 8 } else { int_arg(0)? };
            expand_tabs(s, size)
        }
        // Every string is text here: encoding and decoding leave it as it is.
        "encode" | "decode" => s.to_owned(),
        _ => return Ok(None),
    }))
}

fn expand_tabs(s: &str, size: usize) -> String {
    let mut out = String::new();
    let mut col = 0;
    for c in s.chars() {
        match c {
            '\t' if size > 0 => {
                let n = size - col % size;
                out.push_str(&" ".repeat(n));
                col += n;
            }
            '\t' => {}
            '\n' | '\r' => {
                out.push(c);
                col = 0;
            }
            c => {
                out.push(c);
                col += 1;
            }
        }
    }
    out
}

/// Does `v` belong to the Python 2 type that the built-in named `ty` stands for?
fn is_instance_of_builtin(v: Value<'_>, ty: &str) -> Option<bool> {
    let t = v.get_type();
    Some(match ty {
        "str" | "unicode" | "basestring" => t == "string",
        "int" | "long" => t == "int" || t == "bool",
        "float" => t == "float",
        "bool" => t == "bool",
        "list" => t == "list",
        "dict" => t == "dict",
        "tuple" => t == "tuple",
        _ => return None,
    })
}

fn is_instance<'v>(v: Value<'v>, ty: Value<'v>) -> anyhow::Result<bool> {
    if let Some(t) = TupleRef::from_value(ty) {
        for alt in t.content() {
            if is_instance(v, *alt)? {
                return Ok(true);
            }
        }
        return Ok(false);
    }
    if let Some(t) = ty.downcast_ref::<crate::starlark_glue::TypeObj>() {
        return Ok(crate::starlark_glue::is_instance_of_type(v, &t.0));
    }
    if ty.get_type() == "function"
        && let Some(b) = is_instance_of_builtin(v, &ty.to_str())
    {
        return Ok(b);
    }
    anyhow::bail!("isinstance() arg 2 must be a class, type, or tuple of classes and types")
}

/// Python 2 built-ins that Starlark lacks or defines otherwise.
#[starlark_module]
fn builtins(builder: &mut GlobalsBuilder) {
    /// Python 2's `str(x)`: floats to 12 significant digits, containers with Python's repr.
    fn str<'v>(#[starlark(require = pos)] x: Option<Value<'v>>) -> anyhow::Result<String> {
        Ok(x.map(pyformat::py_str).unwrap_or_default())
    }

    /// Python 2's `unicode(x)`: `str(x)` (every string is text here).
    fn unicode<'v>(#[starlark(require = pos)] x: Option<Value<'v>>) -> anyhow::Result<String> {
        Ok(x.map(pyformat::py_str).unwrap_or_default())
    }

    /// Python 2's `repr(x)`.
    fn repr<'v>(#[starlark(require = pos)] x: Value<'v>) -> anyhow::Result<String> {
        Ok(pyformat::py_repr(x))
    }

    /// `format(value, spec='')`: the format-spec mini-language for one value.
    fn format<'v>(
        #[starlark(require = pos)] value: Value<'v>,
        #[starlark(require = pos, default = "")] spec: &str,
    ) -> anyhow::Result<String> {
        pyformat::format_value(value, spec)
    }

    /// `basestring`: only for `isinstance(x, basestring)`.
    fn basestring<'v>(
        #[starlark(args)] _args: UnpackTuple<Value<'v>>,
    ) -> anyhow::Result<Value<'v>> {
        anyhow::bail!("The basestring type cannot be instantiated")
    }

    /// `isinstance(x, T)` for Python's built-in types (`str`, `basestring`, `int`, `long`,
    /// `float`, `bool`, `list`, `dict`, `tuple`), Pystachio types, and tuples of them.
    fn isinstance<'v>(
        #[starlark(require = pos)] x: Value<'v>,
        #[starlark(require = pos)] ty: Value<'v>,
    ) -> anyhow::Result<bool> {
        is_instance(x, ty)
    }

    /// `sum(iterable, start=0)`.
    fn sum<'v>(
        #[starlark(require = pos)] items: Value<'v>,
        #[starlark(require = pos)] start: Option<Value<'v>>,
        heap: Heap<'v>,
    ) -> starlark::Result<Value<'v>> {
        let mut acc = start.unwrap_or_else(|| heap.alloc(0));
        if acc.unpack_str().is_some() {
            return Err(
                anyhow::anyhow!("sum() can't sum strings [use ''.join(seq) instead]").into(),
            );
        }
        for x in items.iterate(heap)? {
            acc = acc.add(x, heap)?;
        }
        Ok(acc)
    }

    /// `reduce(function, iterable[, initial])`.
    fn reduce<'v>(
        #[starlark(require = pos)] f: Value<'v>,
        #[starlark(require = pos)] items: Value<'v>,
        #[starlark(require = pos)] initial: Option<Value<'v>>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        let mut it = items_of(items, eval.heap())?.into_iter();
        let mut acc = match initial.or_else(|| it.next()) {
            Some(v) => v,
            None => {
                return Err(
                    anyhow::anyhow!("reduce() of empty sequence with no initial value").into(),
                );
            }
        };
        for x in it {
            acc = eval.eval_function(f, &[acc, x], &[])?;
        }
        Ok(acc)
    }

    /// Python 2's `round(x, n=0)`: a float, the exact value rounded, halves away from zero.
    fn round<'v>(
        #[starlark(require = pos)] x: Value<'v>,
        #[starlark(require = pos, default = 0)] n: i32,
    ) -> anyhow::Result<f64> {
        let x = as_f64(x).ok_or_else(|| anyhow::anyhow!("a float is required"))?;
        Ok(round_float(x, n))
    }

    /// `hex(i)`: `0xff`.
    fn hex(#[starlark(require = pos)] i: i64) -> anyhow::Result<String> {
        Ok(if i < 0 {
            format!("-0x{:x}", i.unsigned_abs())
        } else {
            format!("0x{i:x}")
        })
    }

    /// Python 2's `oct(i)`: `010`.
    fn oct(#[starlark(require = pos)] i: i64) -> anyhow::Result<String> {
        Ok(match i {
            0 => "0".into(),
            i if i < 0 => format!("-0{:o}", i.unsigned_abs()),
            i => format!("0{i:o}"),
        })
    }

    /// Python 2's `long(x)`: an integer.
    fn long<'v>(#[starlark(require = pos)] x: Value<'v>) -> anyhow::Result<i64> {
        if let Ok(Some(i)) = i64::unpack_value(x) {
            return Ok(i);
        }
        if let Some(f) = x.downcast_ref::<StarlarkFloat>() {
            anyhow::ensure!(f.0.is_finite(), "cannot convert float {} to integer", f.0);
            return Ok(f.0.trunc() as i64);
        }
        if let Some(s) = x.unpack_str() {
            let t = s.trim().trim_end_matches(['L', 'l']);
            return t
                .parse()
                .map_err(|_| anyhow::anyhow!("invalid literal for long() with base 10: '{s}'"));
        }
        anyhow::bail!(
            "long() argument must be a string or a number, not '{}'",
            x.get_type()
        )
    }

    /// Python 2's `xrange`.
    fn xrange<'v>(
        #[starlark(require = pos)] start: i64,
        #[starlark(require = pos)] stop: Option<i64>,
        #[starlark(require = pos)] step: Option<i64>,
        heap: Heap<'v>,
    ) -> anyhow::Result<Value<'v>> {
        let (start, stop) = match stop {
            Some(stop) => (start, stop),
            None => (0, start),
        };
        let step = step.unwrap_or(1);
        anyhow::ensure!(step != 0, "xrange() arg 3 must not be zero");
        let mut items = Vec::new();
        let mut i = start;
        while (step > 0 && i < stop) || (step < 0 && i > stop) {
            anyhow::ensure!(items.len() < 10_000_000, "xrange() too long");
            items.push(i);
            i = i.saturating_add(step);
        }
        Ok(heap.alloc(AllocList(items)))
    }

    /// Python 2's `zip`: a list of tuples, as long as the shortest argument; strings are
    /// sequences of characters.
    fn zip<'v>(
        #[starlark(args)] args: UnpackTuple<Value<'v>>,
        heap: Heap<'v>,
    ) -> starlark::Result<Value<'v>> {
        let mut columns = Vec::with_capacity(args.items.len());
        for a in &args.items {
            columns.push(sequence(*a, heap)?);
        }
        let rows = columns.iter().map(Vec::len).min().unwrap_or(0);
        let tuples = (0..rows).map(|i| heap.alloc(AllocTuple(columns.iter().map(|c| c[i]))));
        Ok(heap.alloc(AllocList(tuples)))
    }

    /// Python 2's `map(f, *iterables)`: a list; with several iterables `f` takes one item of
    /// each, the shorter ones padded with None.
    fn map<'v>(
        #[starlark(require = pos)] f: Value<'v>,
        #[starlark(args)] iterables: UnpackTuple<Value<'v>>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        let heap = eval.heap();
        let mut columns = Vec::with_capacity(iterables.items.len());
        for it in &iterables.items {
            columns.push(sequence(*it, heap)?);
        }
        if columns.is_empty() {
            return Err(anyhow::anyhow!("map() requires at least two args").into());
        }
        let rows = columns.iter().map(Vec::len).max().unwrap_or(0);
        let mut out = Vec::with_capacity(rows);
        for i in 0..rows {
            let args: Vec<Value<'v>> = columns
                .iter()
                .map(|c| c.get(i).copied().unwrap_or_else(Value::new_none))
                .collect();
            out.push(if f.is_none() {
                match args.as_slice() {
                    [one] => *one,
                    many => heap.alloc(AllocTuple(many.iter().copied())),
                }
            } else {
                eval.eval_function(f, &args, &[])?
            });
        }
        Ok(heap.alloc(AllocList(out)))
    }

    /// `divmod(a, b)`: `(a // b, a % b)`.
    fn divmod<'v>(
        #[starlark(require = pos)] a: Value<'v>,
        #[starlark(require = pos)] b: Value<'v>,
        heap: Heap<'v>,
    ) -> starlark::Result<Value<'v>> {
        let q = a.floor_div(b, heap)?;
        let r = a.percent(b, heap)?;
        Ok(heap.alloc((q, r)))
    }

    /// `pow(x, y)`: an integer for integers and a non-negative exponent, a float otherwise.
    fn pow<'v>(
        #[starlark(require = pos)] x: Value<'v>,
        #[starlark(require = pos)] y: Value<'v>,
        heap: Heap<'v>,
    ) -> anyhow::Result<Value<'v>> {
        power(x, y, heap)
    }

    /// What the pre-pass makes of `x ** y`.
    fn __py2_pow__<'v>(
        #[starlark(require = pos)] x: Value<'v>,
        #[starlark(require = pos)] y: Value<'v>,
        heap: Heap<'v>,
    ) -> anyhow::Result<Value<'v>> {
        power(x, y, heap)
    }

    /// Python 2's `cmp(a, b)`: -1, 0 or 1.
    fn cmp<'v>(
        #[starlark(require = pos)] a: Value<'v>,
        #[starlark(require = pos)] b: Value<'v>,
    ) -> starlark::Result<i32> {
        Ok(match a.compare(b)? {
            std::cmp::Ordering::Less => -1,
            std::cmp::Ordering::Equal => 0,
            std::cmp::Ordering::Greater => 1,
        })
    }

    /// What the pre-pass wraps around the iterable of every `for`: a string's characters (Python
    /// iterates over them), a dict's keys in CPython 2.7's order, anything else as it is.
    fn __py2_iter__<'v>(
        #[starlark(require = pos)] x: Value<'v>,
        heap: Heap<'v>,
    ) -> starlark::Result<Value<'v>> {
        if x.unpack_str().is_some() || DictRef::from_value(x).is_some() {
            return Ok(heap.alloc(AllocList(sequence(x, heap)?)));
        }
        Ok(x)
    }

    /// `list(x)`: a string's characters, or the items of any iterable.
    fn list<'v>(
        #[starlark(require = pos)] x: Option<Value<'v>>,
        heap: Heap<'v>,
    ) -> starlark::Result<Value<'v>> {
        Ok(heap.alloc(AllocList(x.map_or(Ok(Vec::new()), |v| sequence(v, heap))?)))
    }

    /// `tuple(x)`: as `list`, a tuple.
    fn tuple<'v>(
        #[starlark(require = pos)] x: Option<Value<'v>>,
        heap: Heap<'v>,
    ) -> starlark::Result<Value<'v>> {
        Ok(heap.alloc(AllocTuple(x.map_or(Ok(Vec::new()), |v| sequence(v, heap))?)))
    }

    /// `enumerate(x, start=0)`: a list of `(index, item)`; a string's items are its characters.
    fn enumerate<'v>(
        #[starlark(require = pos)] x: Value<'v>,
        #[starlark(default = 0)] start: i64,
        heap: Heap<'v>,
    ) -> starlark::Result<Value<'v>> {
        let items = sequence(x, heap)?;
        let pairs = items
            .into_iter()
            .enumerate()
            .map(|(i, v)| heap.alloc((start.saturating_add(i as i64), v)));
        Ok(heap.alloc(AllocList(pairs)))
    }

    /// `reversed(x)`: a list of the items (or characters) backwards.
    fn reversed<'v>(
        #[starlark(require = pos)] x: Value<'v>,
        heap: Heap<'v>,
    ) -> starlark::Result<Value<'v>> {
        let mut items = sequence(x, heap)?;
        items.reverse();
        Ok(heap.alloc(AllocList(items)))
    }

    /// What the pre-pass makes of `recv.name(args)` for the methods of `prepass::forms`.
    fn __pymethod__<'v>(
        #[starlark(require = pos)] recv: Value<'v>,
        #[starlark(require = pos)] name: &str,
        #[starlark(args)] args: UnpackTuple<Value<'v>>,
        #[starlark(kwargs)] kwargs: SmallMap<String, Value<'v>>,
        eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        call_method(recv, name, &args.items, &kwargs, eval)
    }
}

/// Python built-ins that reach outside the config (files, input, code loading): calling one is
/// refused with a message, rather than Starlark's "variable not found".
const REFUSED: &[&str] = &[
    "open",
    "file",
    "execfile",
    "__import__",
    "eval",
    "compile",
    "input",
    "raw_input",
    "reload",
    "exit",
    "quit",
    "globals",
    "locals",
    "vars",
];

/// A Python built-in that a hermetic config cannot call.
#[derive(Debug, ProvidesStaticType, NoSerialize, Allocative, StarlarkPagablePanic)]
struct Refused(&'static str);
starlark_simple_value!(Refused);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<refused built-in {}>", self.0)
    }
}

#[starlark_value(type = "builtin_function_or_method")]
impl<'v> StarlarkValue<'v> for Refused {
    fn invoke(
        &self,
        _me: Value<'v>,
        _args: &Arguments<'v, '_>,
        _eval: &mut Evaluator<'v, '_, '_>,
    ) -> starlark::Result<Value<'v>> {
        Err(anyhow::anyhow!(
            "`{}()` is not available: .aurora files are evaluated hermetically (no files, environment, network or clock); pass values with --bind instead",
            self.0
        )
        .into())
    }
}

/// Adds the Python 2 operators, built-ins and modules to a Starlark globals builder.
pub(crate) fn register(builder: &mut GlobalsBuilder) {
    operators(builder);
    builtins(builder);
    for name in REFUSED {
        builder.set(name, Refused(name));
    }
    modules::register(builder);
}

#[cfg(test)]
mod tests {
    use super::round_float;

    #[test]
    fn round_is_python_2_7s() {
        // Expected values from CPython 2.7.18's round().
        let cases = [
            (0.15, 1, 0.1),
            (0.35, 1, 0.3),
            (4.35, 1, 4.3),
            (2.5, 0, 3.0),
            (-2.5, 0, -3.0),
            (0.125, 2, 0.13),
            (2.675, 2, 2.67),
            (1234.5678, -2, 1200.0),
            (0.5, 0, 1.0),
            (-0.4, 0, -0.0),
            (99.95, 1, 100.0),
            (1e300, 2, 1e300),
            (5e-324, 400, 5e-324),
            (123.456, -400, 0.0),
        ];
        for (x, n, want) in cases {
            assert_eq!(round_float(x, n), want, "round({x}, {n})");
        }
    }
}
