//! Python 2.7's format-spec mini-language: `format(value, spec)` for strings, integers and floats.

use super::*;

// ---------------------------------------------------------------------------------------------
// The format-spec mini-language

/// A parsed `[[fill]align][sign][#][0][width][,][.precision][type]`; `ty` 0 means no type.
#[derive(Default)]
pub(super) struct Spec {
    pub(super) fill: Option<char>,
    pub(super) align: Option<u8>,
    pub(super) sign: Option<u8>,
    pub(super) alt: bool,
    pub(super) width: Option<usize>,
    pub(super) comma: bool,
    pub(super) prec: Option<usize>,
    pub(super) ty: u8,
}

/// Reads a run of digits at `*i`: `None` when there is none.
pub(super) fn spec_number(b: &[u8], i: &mut usize) -> Result<Option<usize>> {
    let start = *i;
    let mut n = 0usize;
    while let Some(&d) = b.get(*i).filter(|d| d.is_ascii_digit()) {
        n = n * 10 + usize::from(d - b'0');
        if n > MAX_WIDTH {
            bail!("Too many decimal digits in format string");
        }
        *i += 1;
    }
    Ok((*i > start).then_some(n))
}

/// CPython's `parse_internal_render_format_spec`; `default_ty` is the type's default (0: none).
pub(super) fn parse_spec(spec: &str, default_ty: u8) -> Result<Spec> {
    let b = spec.as_bytes();
    let is_align = |c: Option<&u8>| matches!(c, Some(b'<' | b'>' | b'=' | b'^'));
    let mut s = Spec {
        ty: default_ty,
        ..Spec::default()
    };
    let mut i = 0;
    if is_align(b.get(1)) {
        s.fill = b.first().map(|&c| char::from(c));
        s.align = b.get(1).copied();
        i = 2;
    } else if is_align(b.first()) {
        s.align = b.first().copied();
        i = 1;
    }
    if let Some(&c @ (b'+' | b'-' | b' ')) = b.get(i) {
        s.sign = Some(c);
        i += 1;
    }
    if b.get(i) == Some(&b'#') {
        s.alt = true;
        i += 1;
    }
    if s.fill.is_none() && b.get(i) == Some(&b'0') {
        s.fill = Some('0');
        s.align = s.align.or(Some(b'='));
        i += 1;
    }
    s.width = spec_number(b, &mut i)?;
    if b.get(i) == Some(&b',') {
        s.comma = true;
        i += 1;
    }
    if b.get(i) == Some(&b'.') {
        i += 1;
        let prec = spec_number(b, &mut i)?;
        s.prec = Some(prec.ok_or_else(|| anyhow!("Format specifier missing precision"))?);
    }
    match b.get(i..).unwrap_or(&[]) {
        [] => {}
        [t] => s.ty = *t,
        _ => bail!("Invalid conversion specification"),
    }
    if s.comma
        && !matches!(
            s.ty,
            b'd' | b'e' | b'f' | b'g' | b'E' | b'G' | b'%' | b'F' | 0
        )
    {
        bail!("Cannot specify ',' with '{}'.", char::from(s.ty));
    }
    Ok(s)
}

pub(super) fn unknown_code(ty: u8, type_name: &str) -> anyhow::Error {
    anyhow!(
        "Unknown format code '{}' for object of type '{type_name}'",
        char::from(ty)
    )
}

/// Python 2.7 `format(value, spec)` (the format-spec mini-language for one value).
pub(crate) fn format_value<'v>(v: Value<'v>, spec: &str) -> Result<String> {
    if let Some(s) = v.unpack_str() {
        return format_str(s, spec);
    }
    if let Some(x) = float_of(v) {
        if spec.is_empty() {
            return Ok(float_str(x));
        }
        let f = parse_spec(spec, 0)?;
        return match f.ty {
            0 | b'e' | b'E' | b'f' | b'F' | b'g' | b'G' | b'n' | b'%' => format_float(x, &f),
            t => Err(unknown_code(t, "float")),
        };
    }
    if let Some(n) = PyInt::from_value(v) {
        if spec.is_empty() {
            return Ok(py_str(v));
        }
        let f = parse_spec(spec, b'd')?;
        return match f.ty {
            b'b' | b'c' | b'd' | b'o' | b'x' | b'X' | b'n' => format_int(&n, &f),
            b'e' | b'E' | b'f' | b'F' | b'g' | b'G' | b'%' => format_float(n.to_f64()?, &f),
            t => Err(unknown_code(t, &type_name(v))),
        };
    }
    // `object.__format__` formats `str(self)`.
    format_str(&py_str(v), spec)
}

/// `format(s, spec)` for a string.
pub(super) fn format_str(s: &str, spec: &str) -> Result<String> {
    let f = parse_spec(spec, b's')?;
    if f.ty != b's' {
        return Err(unknown_code(f.ty, "str"));
    }
    if f.sign.is_some() {
        bail!("Sign not allowed in string format specifier");
    }
    if f.alt {
        bail!("Alternate form (#) not allowed in string format specifier");
    }
    if f.align == Some(b'=') {
        bail!("'=' alignment not allowed in string format specifier");
    }
    let s = truncate_bytes(s, f.prec);
    let pad = f.width.unwrap_or(0).saturating_sub(s.len());
    let left = match f.align {
        Some(b'>') => pad,
        Some(b'^') => pad / 2,
        _ => 0,
    };
    let fill = f.fill.unwrap_or(' ');
    let mut out = String::with_capacity(s.len() + pad);
    out.extend(std::iter::repeat_n(fill, left));
    out.push_str(s);
    out.extend(std::iter::repeat_n(fill, pad - left));
    Ok(out)
}

/// `format(n, spec)` for the integer presentation types.
pub(super) fn format_int(n: &PyInt, f: &Spec) -> Result<String> {
    if f.prec.is_some() {
        bail!("Precision not allowed in integer format specifier");
    }
    if f.ty == b'c' {
        if f.sign.is_some() {
            bail!("Sign not allowed with integer format specifier 'c'");
        }
        let Some(i) = n.to_i64().filter(|_| !n.long) else {
            bail!("Python int too large to convert to C long");
        };
        let Ok(b) = u8::try_from(i) else {
            bail!("%c arg not in range(0x100)");
        };
        return Ok(number_layout(
            false,
            "",
            "",
            false,
            &char::from(b).to_string(),
            f,
        ));
    }
    let (radix, prefix) = match f.ty {
        b'b' => (2, "0b"),
        b'o' => (8, "0o"),
        b'x' => (16, "0x"),
        b'X' => (16, "0X"),
        _ => (10, ""),
    };
    let mut digits = n.digits(radix);
    if f.ty == b'X' {
        digits.make_ascii_uppercase();
    }
    let prefix = if f.alt { prefix } else { "" };
    Ok(number_layout(n.neg, prefix, &digits, false, "", f))
}

/// `format(x, spec)` for the float presentation types (and ints given one).
pub(super) fn format_float(x: f64, f: &Spec) -> Result<String> {
    if f.alt {
        bail!("Alternate form (#) not allowed in float format specifier");
    }
    let (ty, default_prec, add_dot_0) = match f.ty {
        0 => (b'g', 12, true),
        b'n' => (b'g', 6, false),
        t => (t, 6, false),
    };
    let (ty, x, percent) = if ty == b'%' {
        (b'f', x * 100.0, true)
    } else {
        (ty, x, false)
    };
    let flags = FloatFlags {
        add_dot_0,
        upper: ty.is_ascii_uppercase(),
        ..FloatFlags::default()
    };
    let s = double_to_string(
        x,
        ty.to_ascii_lowercase(),
        f.prec.unwrap_or(default_prec),
        flags,
    );
    let (neg, body) = match s.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, s.as_str()),
    };
    let k = body.bytes().take_while(u8::is_ascii_digit).count();
    let (digits, tail) = body.split_at(k);
    let (decimal, remainder) = match tail.strip_prefix('.') {
        Some(r) => (true, r),
        None => (false, tail),
    };
    let remainder = if percent {
        format!("{remainder}%")
    } else {
        remainder.to_owned()
    };
    Ok(number_layout(neg, "", digits, decimal, &remainder, f))
}

/// CPython's `calc_number_widths` + `fill_number`:
/// `<lpad><sign><prefix><spad><grouped digits><decimal><remainder><rpad>`.
pub(super) fn number_layout(
    neg: bool,
    prefix: &str,
    digits: &str,
    decimal: bool,
    remainder: &str,
    f: &Spec,
) -> String {
    let sign = match f.sign {
        Some(b'+') => Some(if neg { '-' } else { '+' }),
        Some(b' ') => Some(if neg { '-' } else { ' ' }),
        _ => neg.then_some('-'),
    };
    let fill = f.fill.unwrap_or(' ');
    let align = f.align.unwrap_or(b'>');
    let width = f.width.map_or(-1, |w| w as isize);
    let non_digits = (usize::from(sign.is_some())
        + prefix.len()
        + usize::from(decimal)
        + remainder.chars().count()) as isize;
    let min_width = if fill == '0' && align == b'=' {
        width - non_digits
    } else {
        0
    };
    let grouped = if digits.is_empty() {
        String::new()
    } else {
        group_digits(digits, min_width, f.comma)
    };
    let pad = usize::try_from(width - non_digits - grouped.len() as isize).unwrap_or(0);
    let (left, middle, right) = match align {
        b'<' => (0, 0, pad),
        b'^' => (pad / 2, 0, pad - pad / 2),
        b'=' => (0, pad, 0),
        _ => (pad, 0, 0),
    };
    let mut out = String::new();
    out.extend(std::iter::repeat_n(fill, left));
    out.extend(sign);
    out.push_str(prefix);
    out.extend(std::iter::repeat_n(fill, middle));
    out.push_str(&grouped);
    if decimal {
        out.push('.');
    }
    out.push_str(remainder);
    out.extend(std::iter::repeat_n(fill, right));
    out
}

/// Zero-pads `digits` to `min_width` and, with `comma`, groups them by three the way CPython's
/// `_PyString_InsertThousandsGrouping` does (the zero padding is grouped too).
pub(super) fn group_digits(digits: &str, min_width: isize, comma: bool) -> String {
    let mut remaining = digits.len() as isize;
    if !comma {
        let zeros = usize::try_from(min_width - remaining).unwrap_or(0);
        return format!("{}{digits}", "0".repeat(zeros));
    }
    let mut min_width = min_width;
    let mut groups: Vec<String> = Vec::new();
    loop {
        let l = remaining.max(min_width).clamp(1, 3);
        let chars = remaining.min(l).max(0);
        let zeros = usize::try_from(l - remaining).unwrap_or(0);
        let end = usize::try_from(remaining).unwrap_or(0);
        let start = usize::try_from(remaining - chars).unwrap_or(0);
        groups.push(format!(
            "{}{}",
            "0".repeat(zeros),
            digits.get(start..end).unwrap_or("")
        ));
        remaining -= chars;
        min_width -= l;
        if remaining <= 0 && min_width <= 0 {
            break;
        }
        min_width -= 1;
    }
    groups.reverse();
    groups.join(",")
}
