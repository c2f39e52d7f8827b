//! The order in which CPython 2.7 iterates a dict, for configs whose output depends on it (a
//! command line joined from `d.items()`, `'%s' % d`). Python 2.7 iterates a dict in the order of
//! its hash table's slots, which follows from the keys' hashes (deterministic: 2.7 does not
//! randomise them unless told to) and the table's history. Starlark keeps insertion order.
//!
//! This replays the keys, in insertion order, into a simulated CPython 2.7 table (open addressing
//! with its perturbed probing, grown as CPython grows it) and reads the slots back. That is
//! exactly Python's order for a dict built by inserting into an empty one (`d[k] = v`,
//! comprehensions, `dict(pairs)`, `**kwargs`) and for literals of up to seven entries, without
//! deletions; CPython presizes larger literals and `dict(**kw)`/`update()` merges, which this
//! cannot see (`docs/config-language.md`). Keys it cannot hash as CPython does (None, structs)
//! leave the dict in insertion order.

use starlark::values::dict::DictRef;
use starlark::values::float::StarlarkFloat;
use starlark::values::tuple::TupleRef;
use starlark::values::{UnpackValue, Value, ValueLike};

/// CPython 2.7's `hash()` of a key, for the types whose hash does not depend on an address.
fn py_hash(v: Value<'_>) -> Option<i64> {
    let h = if let Some(s) = v.unpack_str() {
        string_hash(s.as_bytes())
    } else if let Some(b) = v.unpack_bool() {
        b as i64
    } else if let Some(f) = v.downcast_ref::<StarlarkFloat>() {
        double_hash(f.0)?
    } else if let Ok(Some(i)) = i64::unpack_value(v) {
        i
    } else if let Some(t) = TupleRef::from_value(v) {
        tuple_hash(t.content())?
    } else {
        return None;
    };
    Some(if h == -1 { -2 } else { h })
}

/// `string_hash` of Objects/stringobject.c (no hash randomisation).
fn string_hash(b: &[u8]) -> i64 {
    let Some(&first) = b.first() else {
        return 0;
    };
    let mut x: i64 = (first as i64) << 7;
    for &c in b {
        x = 1_000_003i64.wrapping_mul(x) ^ c as i64;
    }
    x ^ b.len() as i64
}

/// `_Py_HashDouble` of Objects/object.c.
fn double_hash(v: f64) -> Option<i64> {
    if !v.is_finite() {
        return Some(if v.is_nan() {
            0
        } else if v > 0.0 {
            314_159
        } else {
            -271_828
        });
    }
    if v.fract() == 0.0 {
        // Whole floats hash as the integer; beyond 2**62 CPython hashes a long (not simulated).
        return (v.abs() <= (i64::MAX / 2) as f64).then_some(v as i64);
    }
    let (mantissa, exponent) = frexp(v);
    let v = mantissa * 2147483648.0;
    let hipart = v as i64;
    let v = (v - hipart as f64) * 2147483648.0;
    Some(
        hipart
            .wrapping_add(v as i64)
            .wrapping_add((exponent as i64) << 15),
    )
}

/// C's `frexp`: `v = m * 2**e` with `0.5 <= |m| < 1`.
fn frexp(v: f64) -> (f64, i32) {
    if v == 0.0 {
        return (v, 0);
    }
    let bits = v.to_bits();
    let exp = ((bits >> 52) & 0x7ff) as i32;
    if exp == 0 {
        // Subnormal: scale into the normal range first.
        let (m, e) = frexp(v * f64::from_bits(0x4350_0000_0000_0000)); // 2**54
        return (m, e - 54);
    }
    let m = f64::from_bits((bits & !(0x7ff << 52)) | (1022 << 52));
    (m, exp - 1022)
}

/// `tuplehash` of Objects/tupleobject.c.
fn tuple_hash(items: &[Value<'_>]) -> Option<i64> {
    let mut x: i64 = 0x345678;
    let mut mult: i64 = 1_000_003;
    let mut len = items.len() as i64;
    for item in items {
        len -= 1;
        let y = py_hash(*item)?;
        x = (x ^ y).wrapping_mul(mult);
        mult = mult.wrapping_add(82520 + len + len);
    }
    Some(x.wrapping_add(97531))
}

/// A simulated CPython 2.7 dict table: the index (into the key list) held by each slot.
struct Table {
    slots: Vec<Option<usize>>,
    used: usize,
}

impl Table {
    fn with_size(size: usize) -> Table {
        Table {
            slots: vec![None; size],
            used: 0,
        }
    }

    /// The first empty slot on `hash`'s probe sequence (`lookdict` / `insertdict_clean`).
    fn free_slot(&self, hash: i64) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = (hash as u64 as usize) & mask;
        let mut perturb = hash as u64;
        while self.slots[i & mask].is_some() {
            i = (i << 2)
                .wrapping_add(i)
                .wrapping_add(perturb as usize)
                .wrapping_add(1);
            perturb >>= 5;
        }
        i & mask
    }

    /// `dictresize`: the smallest power of two above `minused` (at least 8), entries re-inserted
    /// in slot order.
    fn resize(&mut self, minused: usize, hashes: &[i64]) {
        let mut size = 8;
        while size <= minused {
            size <<= 1;
        }
        let old = std::mem::replace(&mut self.slots, vec![None; size]);
        for k in old.into_iter().flatten() {
            let i = self.free_slot(hashes[k]);
            self.slots[i] = Some(k);
        }
    }
}

/// The positions of `keys` (distinct, in insertion order) in the order CPython 2.7 iterates a dict
/// built by inserting them one by one; `None` when a key has no CPython-stable hash.
pub(crate) fn order(keys: &[Value<'_>]) -> Option<Vec<usize>> {
    if keys.len() < 2 {
        return Some((0..keys.len()).collect());
    }
    let hashes: Vec<i64> = keys.iter().map(|k| py_hash(*k)).collect::<Option<_>>()?;
    let mut table = Table::with_size(8);
    for (k, &h) in hashes.iter().enumerate() {
        let i = table.free_slot(h);
        table.slots[i] = Some(k);
        table.used += 1;
        // PyDict_SetItem: grow when two thirds full (no deletions, so fill == used).
        if table.used * 3 >= table.slots.len() * 2 {
            let factor = if table.used > 50_000 { 2 } else { 4 };
            table.resize(factor * table.used, &hashes);
        }
    }
    Some(table.slots.into_iter().flatten().collect())
}

/// A dict's entries in CPython 2.7's iteration order (insertion order when a key has no
/// CPython-stable hash).
pub(crate) fn entries<'v>(d: &DictRef<'v>) -> Vec<(Value<'v>, Value<'v>)> {
    let items: Vec<(Value<'v>, Value<'v>)> = d.iter().collect();
    let keys: Vec<Value<'v>> = items.iter().map(|(k, _)| *k).collect();
    match order(&keys) {
        Some(o) => o.into_iter().map(|i| items[i]).collect(),
        None => items,
    }
}

#[cfg(test)]
mod tests {
    use super::{frexp, order, py_hash, string_hash};
    use starlark::values::Heap;

    #[test]
    fn hashes_are_cpython_2_7s() {
        // Expected values from CPython 2.7.18 (64-bit): hash(x), math.frexp(x).
        assert_eq!(string_hash(b""), 0);
        assert_eq!(string_hash(b"a"), 12416037344);
        assert_eq!(string_hash(b"name"), -4166578487145698715);
        assert_eq!(frexp(8.0), (0.5, 4));
        assert_eq!(frexp(-0.3), (-0.6, -1));
        Heap::temp(|heap| {
            let h = |v| py_hash(v).unwrap();
            assert_eq!(h(heap.alloc(0.5)), 1073741824);
            assert_eq!(h(heap.alloc(-1.25)), -1342144512);
            assert_eq!(h(heap.alloc(1e-300)), 3316461835);
            assert_eq!(h(heap.alloc(f64::INFINITY)), 314159);
            assert_eq!(h(heap.alloc(-1)), -2);
            assert_eq!(h(heap.alloc((1, "a"))), 3703129313087942906);
            assert_eq!(
                h(heap.alloc(starlark::values::tuple::AllocTuple::<[i32; 0]>([]))),
                3527539
            );
        });
    }

    fn keys_order(keys: &[&str]) -> Vec<String> {
        Heap::temp(|heap| {
            let values: Vec<_> = keys.iter().map(|k| heap.alloc(*k)).collect();
            order(&values)
                .unwrap()
                .into_iter()
                .map(|i| keys[i].to_owned())
                .collect()
        })
    }

    /// `dict_order_cases.json`: 80 lists of distinct keys (strings, integers, whole and fractional
    /// floats; 2 to 70 of them) with the order CPython 2.7.18 iterated a dict built from them
    /// (`d = {}; for k in keys: d[k] = 1; [keys.index(k) for k in d]`), drawn at random (seeded)
    /// from a differential run of 400 cases, which all matched.
    #[test]
    fn random_keys_iterate_as_python_2_7_does() {
        let cases: Vec<(Vec<serde_json::Value>, Vec<usize>)> =
            serde_json::from_str(include_str!("dict_order_cases.json")).unwrap();
        for (keys, want) in &cases {
            let got = Heap::temp(|heap| {
                let values: Vec<_> = keys
                    .iter()
                    .map(|k| match k.as_str() {
                        Some(s) => heap.alloc(s),
                        None if k.is_i64() => heap.alloc(k.as_i64().unwrap()),
                        None => heap.alloc(k.as_f64().unwrap()),
                    })
                    .collect();
                order(&values).unwrap()
            });
            assert_eq!(&got, want, "{keys:?}");
        }
    }

    #[test]
    fn string_keys_iterate_as_python_2_7_does() {
        // From CPython 2.7.18: d = {}; for k in KEYS: d[k] = 1; print d.keys()
        assert_eq!(
            keys_order(&["name", "role", "env", "port", "host"]),
            ["host", "role", "name", "env", "port"]
        );
        assert_eq!(keys_order(&["b", "a", "c"]), ["a", "c", "b"]);
    }
}
