//! Python 2.7's `fmt % args`.

use super::*;

// ---------------------------------------------------------------------------------------------
// `fmt % args`

/// The flags of a `%` directive.
#[derive(Clone, Copy, Default)]
pub(super) struct PctFlags {
    pub(super) ljust: bool,
    pub(super) sign: bool,
    pub(super) blank: bool,
    pub(super) alt: bool,
    pub(super) zero: bool,
}

/// One parsed `%` directive.
pub(super) struct Directive {
    pub(super) flags: PctFlags,
    pub(super) width: usize,
    pub(super) prec: Option<usize>,
    pub(super) conv: u8,
    /// The byte index of `conv` in the format string.
    pub(super) index: usize,
}

/// The right operand of `%`, walked as CPython's `getnextarg` walks it.
pub(super) struct PctArgs<'v> {
    pub(super) all: Value<'v>,
    pub(super) items: &'v [Value<'v>],
    pub(super) len: isize,
    pub(super) idx: isize,
}

impl<'v> PctArgs<'v> {
    pub(super) fn next(&mut self) -> Result<Value<'v>> {
        if self.idx < self.len {
            self.idx += 1;
            if self.len < 0 {
                return Ok(self.all);
            }
            let i = usize::try_from(self.idx - 1).unwrap_or(usize::MAX);
            if let Some(v) = self.items.get(i) {
                return Ok(*v);
            }
        }
        bail!("not enough arguments for format string")
    }
}

/// A byte cursor over a format string.
pub(super) struct Cursor<'a> {
    pub(super) s: &'a str,
    pub(super) i: usize,
}

impl Cursor<'_> {
    pub(super) fn next(&mut self) -> Option<u8> {
        let c = self.s.as_bytes().get(self.i).copied();
        if c.is_some() {
            self.i += 1;
        }
        c
    }

    pub(super) fn peek(&self) -> Option<u8> {
        self.s.as_bytes().get(self.i).copied()
    }
}

/// Python 2.7 `fmt % args` for a string `fmt` (args: a tuple = positional values, a dict =
/// mapping for `%(name)s`, anything else = the single value).
pub(crate) fn percent<'v>(fmt: &str, args: Value<'v>, heap: Heap<'v>) -> Result<String> {
    // Mapping lookups need no allocation; the heap is part of the signature for symmetry.
    let _ = heap;
    let tuple = TupleRef::from_value(args);
    let is_mapping = tuple.is_none()
        && (DictRef::from_value(args).is_some() || ListRef::from_value(args).is_some());
    let dict = is_mapping.then_some(args);
    let mut a = PctArgs {
        all: args,
        items: tuple.map_or(&[][..], |t| t.content()),
        len: tuple.map_or(-1, |t| isize::try_from(t.len()).unwrap_or(isize::MAX)),
        idx: if tuple.is_some() { 0 } else { -2 },
    };
    let mut out = String::new();
    let mut cur = Cursor { s: fmt, i: 0 };
    while cur.i < fmt.len() {
        let rest = fmt.get(cur.i..).unwrap_or("");
        let Some(k) = rest.find('%') else {
            out.push_str(rest);
            break;
        };
        out.push_str(rest.get(..k).unwrap_or(""));
        cur.i += k + 1;
        let d = parse_directive(&mut cur, &mut a, dict)?;
        let (body, sign, fill) = convert_directive(&d, &mut a, fmt)?;
        pad_directive(&mut out, &d, &body, sign, fill);
        if dict.is_some() && a.idx < a.len && d.conv != b'%' {
            bail!("not all arguments converted during string formatting");
        }
    }
    if a.idx < a.len && dict.is_none() {
        bail!("not all arguments converted during string formatting");
    }
    Ok(out)
}

/// Looks `%(key)s`'s key up in the mapping operand.
pub(super) fn mapping_get<'v>(map: Value<'v>, key: &str) -> Result<Value<'v>> {
    if let Some(d) = DictRef::from_value(map) {
        return d
            .get_str(key)
            .ok_or_else(|| anyhow!("KeyError: {}", quote_str(key)));
    }
    bail!("{} indices must be integers, not str", type_name(map))
}

/// The int a `*` width or precision takes from the arguments.
pub(super) fn star_int(v: Value<'_>) -> Result<i64> {
    match PyInt::from_value(v) {
        Some(n) if !n.long => n.to_i64().ok_or_else(|| anyhow!("* wants int")),
        _ => bail!("* wants int"),
    }
}

/// Reads a decimal width or precision whose first digit is `first`; returns it and the next byte.
pub(super) fn pct_number(
    cur: &mut Cursor<'_>,
    first: u8,
    what: &str,
) -> Result<(usize, Option<u8>)> {
    let mut n = usize::from(first - b'0');
    loop {
        let c = cur.next();
        match c {
            Some(d @ b'0'..=b'9') => {
                n = n * 10 + usize::from(d - b'0');
                if n > MAX_WIDTH {
                    bail!("{what} too big");
                }
            }
            _ => return Ok((n, c)),
        }
    }
}

/// Parses the directive after a `%`: key, flags, width, precision, length modifier, conversion.
pub(super) fn parse_directive<'v>(
    cur: &mut Cursor<'_>,
    a: &mut PctArgs<'v>,
    dict: Option<Value<'v>>,
) -> Result<Directive> {
    if cur.peek() == Some(b'(') {
        let Some(map) = dict else {
            bail!("format requires a mapping");
        };
        cur.i += 1;
        let start = cur.i;
        let mut depth = 1;
        while depth > 0 {
            match cur.next() {
                Some(b')') => depth -= 1,
                Some(b'(') => depth += 1,
                Some(_) => {}
                None => bail!("incomplete format key"),
            }
        }
        a.all = mapping_get(map, cur.s.get(start..cur.i - 1).unwrap_or(""))?;
        a.len = -1;
        a.idx = -2;
    }
    let mut flags = PctFlags::default();
    let mut c = cur.next();
    loop {
        match c {
            Some(b'-') => flags.ljust = true,
            Some(b'+') => flags.sign = true,
            Some(b' ') => flags.blank = true,
            Some(b'#') => flags.alt = true,
            Some(b'0') => flags.zero = true,
            _ => break,
        }
        c = cur.next();
    }
    let mut width = 0;
    if c == Some(b'*') {
        let w = star_int(a.next()?)?;
        flags.ljust |= w < 0;
        width = usize::try_from(w.unsigned_abs()).unwrap_or(usize::MAX);
        if width > MAX_WIDTH {
            bail!("width too big");
        }
        c = cur.next();
    } else if let Some(d @ b'0'..=b'9') = c {
        (width, c) = pct_number(cur, d, "width")?;
    }
    let mut prec = None;
    if c == Some(b'.') {
        prec = Some(0);
        c = cur.next();
        if c == Some(b'*') {
            let p = usize::try_from(star_int(a.next()?)?.max(0)).unwrap_or(usize::MAX);
            if p > MAX_WIDTH {
                bail!("prec too big");
            }
            prec = Some(p);
            c = cur.next();
        } else if let Some(d @ b'0'..=b'9') = c {
            let (p, next) = pct_number(cur, d, "prec")?;
            (prec, c) = (Some(p), next);
        }
    }
    if matches!(c, Some(b'h' | b'l' | b'L')) {
        c = cur.next();
    }
    let Some(conv) = c else {
        bail!("incomplete format");
    };
    Ok(Directive {
        flags,
        width,
        prec,
        conv,
        index: cur.i - 1,
    })
}

/// Converts one directive's argument: the text, whether it takes a sign, and the fill byte.
pub(super) fn convert_directive(
    d: &Directive,
    a: &mut PctArgs<'_>,
    fmt: &str,
) -> Result<(String, bool, char)> {
    let zero_fill = if d.flags.zero { '0' } else { ' ' };
    if d.conv == b'%' {
        return Ok(("%".to_owned(), false, ' '));
    }
    let v = a.next()?;
    match d.conv {
        b's' | b'r' => {
            let s = if d.conv == b's' {
                py_str(v)
            } else {
                py_repr(v)
            };
            Ok((truncate_bytes(&s, d.prec).to_owned(), false, ' '))
        }
        b'i' | b'd' | b'u' | b'o' | b'x' | b'X' => {
            let conv = if d.conv == b'i' { b'd' } else { d.conv };
            let n = PyInt::from_value(v)
                .or_else(|| float_of(v).and_then(PyInt::from_f64))
                .ok_or_else(|| {
                    anyhow!(
                        "%{} format: a number is required, not {}",
                        char::from(conv),
                        type_name(v)
                    )
                })?;
            Ok((c_int(&n, d.flags.alt, d.prec, conv), true, zero_fill))
        }
        b'e' | b'E' | b'f' | b'F' | b'g' | b'G' => {
            let x = number_as_f64(v)
                .ok()
                .flatten()
                .ok_or_else(|| anyhow!("float argument required, not {}", type_name(v)))?;
            let flags = FloatFlags {
                alt: d.flags.alt,
                upper: d.conv.is_ascii_uppercase(),
                ..FloatFlags::default()
            };
            let code = d.conv.to_ascii_lowercase();
            Ok((
                double_to_string(x, code, d.prec.unwrap_or(6), flags),
                true,
                zero_fill,
            ))
        }
        b'c' => Ok((pct_char(v)?, false, ' ')),
        c => {
            let (shown, code) = if c.is_ascii() {
                (char::from(c), u32::from(c))
            } else {
                let ch = fmt.get(d.index..).and_then(|s| s.chars().next());
                (ch.unwrap_or('\u{fffd}'), 0xffff_ff00 | u32::from(c))
            };
            bail!(
                "unsupported format character '{shown}' ({code:#x}) at index {}",
                d.index
            )
        }
    }
}

/// At most `prec` bytes of `s`, cut back to a character boundary.
pub(super) fn truncate_bytes(s: &str, prec: Option<usize>) -> &str {
    let Some(mut n) = prec else { return s };
    if n >= s.len() {
        return s;
    }
    while !s.is_char_boundary(n) {
        n -= 1;
    }
    s.get(..n).unwrap_or(s)
}

/// C's `printf` of an integer as CPython 2.7's `formatint` drives it: `-`, then `0x` for `%#x`,
/// then the digits zero-padded to the precision.
pub(super) fn c_int(n: &PyInt, alt: bool, prec: Option<usize>, conv: u8) -> String {
    let conv = if n.neg && conv == b'u' { b'd' } else { conv };
    let mut digits = match conv {
        b'o' => n.digits(8),
        b'x' => n.digits(16),
        b'X' => n.digits(16).to_ascii_uppercase(),
        _ => n.mag.clone(),
    };
    let prec = prec.unwrap_or(1);
    if prec == 0 && n.mag == "0" && !n.long {
        digits.clear();
    }
    if digits.len() < prec {
        digits = format!("{}{digits}", "0".repeat(prec - digits.len()));
    }
    if alt && conv == b'o' && !digits.starts_with('0') {
        digits.insert(0, '0');
    }
    let mut out = String::new();
    if n.neg {
        out.push('-');
    }
    if alt && (conv == b'x' || conv == b'X') {
        out.push('0');
        out.push(char::from(conv));
    }
    out.push_str(&digits);
    out
}

/// `%c`: a one-byte string, or an int in `range(256)`.
pub(super) fn pct_char(v: Value<'_>) -> Result<String> {
    if let Some(s) = v.unpack_str() {
        if s.len() == 1 {
            return Ok(s.to_owned());
        }
        bail!("%c requires int or char");
    }
    if float_of(v).is_some() {
        bail!("integer argument expected, got float");
    }
    let Some(n) = PyInt::from_value(v) else {
        bail!("an integer is required");
    };
    match n.to_i64().filter(|_| !n.long) {
        None => bail!("Python int too large to convert to C long"),
        Some(i) if i < 0 => bail!("unsigned byte integer is less than minimum"),
        Some(i) => match u8::try_from(i) {
            Ok(b) => Ok(char::from(b).to_string()),
            Err(_) => bail!("unsigned byte integer is greater than maximum"),
        },
    }
}

/// Writes a converted directive with its sign and padding, as `PyString_Format` does.
pub(super) fn pad_directive(out: &mut String, d: &Directive, body: &str, sign: bool, fill: char) {
    let mut body = body;
    let mut sign_char = None;
    if sign {
        if let Some(c @ ('-' | '+')) = body.chars().next() {
            sign_char = Some(c);
            body = body.get(1..).unwrap_or("");
        } else if d.flags.sign {
            sign_char = Some('+');
        } else if d.flags.blank {
            sign_char = Some(' ');
        }
    }
    let alt_x = d.flags.alt && (d.conv == b'x' || d.conv == b'X') && body.is_char_boundary(2);
    let (prefix, body) = if alt_x { body.split_at(2) } else { ("", body) };
    let len = body.len();
    let mut width = d.width.max(len + prefix.len());
    if let Some(c) = sign_char {
        if fill != ' ' {
            out.push(c);
        }
        if width > len + prefix.len() {
            width -= 1;
        }
    }
    if alt_x {
        if fill != ' ' {
            out.push_str(prefix);
        }
        width = width.saturating_sub(2);
    }
    if width > len && !d.flags.ljust {
        out.extend(std::iter::repeat_n(fill, width - len));
        width = len;
    }
    if fill == ' ' {
        if let Some(c) = sign_char {
            out.push(c);
        }
        out.push_str(prefix);
    }
    out.push_str(body);
    if width > len {
        out.extend(std::iter::repeat_n(' ', width - len));
    }
}
