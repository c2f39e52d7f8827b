//! Python 2.7's numbers as the formatters see them: integers (with `long`'s type name past 64
//! bits) and the float layouts of `str`, `repr`, `%e/%f/%g` and `format()`.

use super::*;

// ---------------------------------------------------------------------------------------------
// Numbers

/// A Python integer of any size: a sign and a decimal magnitude. `long` when it does not fit a
/// Python 2 `int` (an `i64`).
pub(super) struct PyInt {
    pub(super) neg: bool,
    pub(super) mag: String,
    pub(super) long: bool,
}

impl PyInt {
    pub(super) fn from_i64(i: i64) -> Self {
        PyInt {
            neg: i < 0,
            mag: i.unsigned_abs().to_string(),
            long: false,
        }
    }

    /// An `int` or `bool` value (Python's `bool` is an `int`).
    pub(super) fn from_value(v: Value<'_>) -> Option<Self> {
        if let Some(b) = v.unpack_bool() {
            return Some(Self::from_i64(i64::from(b)));
        }
        if let Ok(Some(i)) = i64::unpack_value(v) {
            return Some(Self::from_i64(i));
        }
        if v.get_type() != "int" {
            return None;
        }
        let s = v.to_str();
        let (neg, mag) = match s.strip_prefix('-') {
            Some(m) => (true, m),
            None => (false, s.as_str()),
        };
        if mag.is_empty() || !mag.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(PyInt {
            neg,
            mag: mag.to_owned(),
            long: true,
        })
    }

    /// `int(x)` of a float (truncation); `None` for inf and nan.
    pub(super) fn from_f64(x: f64) -> Option<Self> {
        if !x.is_finite() {
            return None;
        }
        let t = x.trunc();
        Some(PyInt {
            neg: t < 0.0,
            mag: format!("{:.0}", t.abs()),
            long: t.abs() >= 2f64.powi(63),
        })
    }

    pub(super) fn decimal(&self) -> String {
        if self.neg {
            format!("-{}", self.mag)
        } else {
            self.mag.clone()
        }
    }

    pub(super) fn to_i64(&self) -> Option<i64> {
        let m: i128 = self.mag.parse().ok()?;
        i64::try_from(if self.neg { -m } else { m }).ok()
    }

    /// `float(n)`, correctly rounded as Python's is.
    pub(super) fn to_f64(&self) -> Result<f64> {
        let m: f64 = self.mag.parse().unwrap_or(f64::INFINITY);
        if m.is_infinite() {
            bail!("long int too large to convert to float");
        }
        Ok(if self.neg { -m } else { m })
    }

    /// The magnitude in base 2, 8, 10 or 16 (lower-case digits).
    pub(super) fn digits(&self, radix: u32) -> String {
        let bits = match radix {
            2 => 1,
            8 => 3,
            16 => 4,
            _ => return self.mag.clone(),
        };
        // Little-endian base-2^32 limbs, built from 9-digit decimal chunks.
        let mut limbs: Vec<u32> = Vec::new();
        let head = self.mag.len() % 9;
        let chunks = std::iter::once(&self.mag.as_bytes()[..head])
            .chain(self.mag.as_bytes()[head..].chunks(9))
            .filter(|c| !c.is_empty());
        for chunk in chunks {
            let mut carry = chunk
                .iter()
                .fold(0u64, |acc, d| acc * 10 + u64::from(d - b'0'));
            let mul = 10u64.pow(chunk.len() as u32);
            for limb in limbs.iter_mut() {
                let t = u64::from(*limb) * mul + carry;
                *limb = t as u32;
                carry = t >> 32;
            }
            if carry > 0 {
                limbs.push(carry as u32);
            }
        }
        let total = limbs.len() * 32;
        let mut out = Vec::new();
        for pos in (0..total).step_by(bits) {
            let mut d = 0usize;
            for b in 0..bits {
                let p = pos + b;
                if limbs.get(p / 32).is_some_and(|l| (l >> (p % 32)) & 1 == 1) {
                    d |= 1 << b;
                }
            }
            out.push(b"0123456789abcdef"[d]);
        }
        while out.len() > 1 && out.last() == Some(&b'0') {
            out.pop();
        }
        if out.is_empty() {
            out.push(b'0');
        }
        out.iter().rev().map(|&b| char::from(b)).collect()
    }
}

pub(super) fn float_of(v: Value<'_>) -> Option<f64> {
    StarlarkFloat::unpack_value(v).ok().flatten().map(|f| f.0)
}

/// `float(v)` for a number (`int`, `long`, `bool`, `float`); `Ok(None)` for anything else.
pub(super) fn number_as_f64(v: Value<'_>) -> Result<Option<f64>> {
    if let Some(x) = float_of(v) {
        return Ok(Some(x));
    }
    PyInt::from_value(v).map(|n| n.to_f64()).transpose()
}

/// Options of `PyOS_double_to_string`.
#[derive(Clone, Copy, Default)]
pub(super) struct FloatFlags {
    pub(super) alt: bool,
    pub(super) add_dot_0: bool,
    pub(super) always_sign: bool,
    pub(super) upper: bool,
}

/// The decimal digits of finite `x >= 0` (no trailing zeros, `"0"` for zero) and the position of
/// the decimal point, as David Gay's `dtoa` returns them for CPython's format `code`.
pub(super) fn dtoa(x: f64, code: u8, precision: usize) -> (String, i64) {
    if code == b'f' {
        let s = format!("{x:.precision$}");
        let (int, frac) = s.split_once('.').unwrap_or((s.as_str(), ""));
        let all = format!("{int}{frac}");
        let lead = all.bytes().take_while(|&b| b == b'0').count();
        let digits = all[lead..].trim_end_matches('0');
        if digits.is_empty() {
            return ("0".to_owned(), 1);
        }
        return (digits.to_owned(), int.len() as i64 - lead as i64);
    }
    let s = match code {
        b'r' => format!("{x:e}"),
        b'e' => format!("{x:.precision$e}"),
        _ => format!("{:.*e}", precision.max(1) - 1, x),
    };
    let (mantissa, exp) = s.split_once('e').unwrap_or((s.as_str(), "0"));
    let exp: i64 = exp.parse().unwrap_or(0);
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let digits = digits.trim_end_matches('0');
    if digits.is_empty() {
        return ("0".to_owned(), 1);
    }
    (digits.to_owned(), exp + 1)
}

/// CPython's `PyOS_double_to_string`: `code` is `e`, `f`, `g` or `r` (shortest round-trip).
pub(super) fn double_to_string(x: f64, code: u8, precision: usize, flags: FloatFlags) -> String {
    let mut out = String::new();
    if x.is_sign_negative() && !x.is_nan() {
        out.push('-');
    } else if flags.always_sign {
        out.push('+');
    }
    if !x.is_finite() {
        let word = if x.is_nan() { "nan" } else { "inf" };
        out.push_str(&if flags.upper {
            word.to_ascii_uppercase()
        } else {
            word.to_owned()
        });
        return out;
    }
    let (digits, mut decpt) = dtoa(x.abs(), code, precision);
    let ndigits = digits.len() as i64;
    let precision = precision as i64;
    let mut use_exp = false;
    let mut vend = ndigits;
    match code {
        b'e' => {
            use_exp = true;
            vend = precision + 1;
        }
        b'f' => vend = decpt + precision,
        b'g' => {
            let p = precision.max(1);
            if decpt <= -4 || decpt > if flags.add_dot_0 { p - 1 } else { p } {
                use_exp = true;
            }
            if flags.alt {
                vend = p;
            }
        }
        _ => use_exp = decpt <= -4 || decpt > 16,
    }
    let mut exp = 0;
    if use_exp {
        exp = decpt - 1;
        decpt = 1;
    }
    let vstart = if decpt <= 0 { decpt - 1 } else { 0 };
    vend = if !use_exp && flags.add_dot_0 {
        vend.max(decpt + 1)
    } else {
        vend.max(decpt)
    };
    let zeros = |n: i64| "0".repeat(usize::try_from(n).unwrap_or(0));
    if decpt <= 0 {
        out.push_str(&zeros(decpt - vstart));
        out.push('.');
        out.push_str(&zeros(-decpt));
    } else {
        out.push_str(&zeros(-vstart));
    }
    if 0 < decpt && decpt <= ndigits {
        let (a, b) = digits.split_at(decpt as usize);
        out.push_str(a);
        out.push('.');
        out.push_str(b);
    } else {
        out.push_str(&digits);
    }
    if ndigits < decpt {
        out.push_str(&zeros(decpt - ndigits));
        out.push('.');
        out.push_str(&zeros(vend - decpt));
    } else {
        out.push_str(&zeros(vend - ndigits));
    }
    if out.ends_with('.') && !flags.alt {
        out.pop();
    }
    if use_exp {
        out.push(if flags.upper { 'E' } else { 'e' });
        out.push_str(&format!("{exp:+03}"));
    }
    out
}

/// Python 2.7 `str(x)` of a float.
pub(super) fn float_str(x: f64) -> String {
    let flags = FloatFlags {
        add_dot_0: true,
        ..FloatFlags::default()
    };
    double_to_string(x, b'g', 12, flags)
}

/// Python 2.7 `repr(x)` of a float.
pub(super) fn float_repr(x: f64) -> String {
    let flags = FloatFlags {
        add_dot_0: true,
        ..FloatFlags::default()
    };
    double_to_string(x, b'r', 0, flags)
}
