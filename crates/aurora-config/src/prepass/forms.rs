//! Python 2 expression forms that Starlark's parser refuses, rewritten token by token into forms it
//! accepts, without moving any line:
//!
//! - adjacent string literals (`'a' 'b'`, across lines inside brackets or after `\`) become one
//!   parenthesised sum, `('a' + 'b')`, so that a method or `%` after them applies to the whole;
//! - generator expressions become list comprehensions: `f(x for x in y)` → `f([x for x in y])`,
//!   `(x for x in y)` → `[x for x in y]`;
//! - calls with named arguments after `*args` (`f(a, *rest, k=v)`) get the `*args` moved after
//!   them, where Starlark wants it;
//! - calls of methods that Python 2's `str`, `dict` and `list` have and Starlark's lack or spell
//!   differently (`'{:03d}'.format(i)`, `d.iteritems()`, `d.has_key(k)`, `s.ljust(8)`) become
//!   calls of the built-in `__pymethod__(receiver, 'name', args...)`, which does what Python does
//!   (and falls back to the receiver's own attribute for any other type);
//! - chained assignments (`a = b = expr`) become one tuple assignment
//!   (`(a) , (b) = [(expr)] * 2`), which evaluates `expr` once and binds every target (tuples
//!   included) to the same value, as Python does; in every simple statement, after `;` and after
//!   a compound header's `:` too;
//! - `x /= y` and `x %= y` become `x = x / (y)` and `x = x % (y)`, so that they reach Python 2's
//!   `/` and `%` like the plain operators (see `python2::OPERATORS`);
//! - the iterable of every `for` (loops and comprehensions) goes through `__py2_iter__`, so that a
//!   string iterates over its characters and a dict in CPython 2.7's order, as in Python;
//! - the power operator becomes a call: `a ** b` → `__py2_pow__(a, b)` (Starlark has no `**`;
//!   right-associative, binding tighter than a unary minus on its left, as Python's);
//! - `is` and `is not` become `==` and `!=`;
//! - Python 2 literals lose what Starlark does not know: `u''` prefixes (every string is text),
//!   the `L` of `10L`; octal `0755` becomes `0o755`.
//!
//! This pass runs before the statement-level pre-pass (`prepass`) and only rewrites text: when the
//! tokens do not make sense (unbalanced brackets, say), it leaves them for Starlark to report.
//! Columns move only where text is inserted; line N of the output is line N of the input.

use super::tokens::{Kind, Tokens};

/// The methods rewritten into `__pymethod__` calls.
pub(crate) const PY2_METHODS: &[&str] = &[
    "format",
    "iteritems",
    "iterkeys",
    "itervalues",
    "items",
    "keys",
    "values",
    "has_key",
    "ljust",
    "rjust",
    "center",
    "zfill",
    "swapcase",
    "expandtabs",
    "copy",
    "sort",
    "reverse",
    "count",
    "encode",
    "decode",
];

/// What to do to one token: text before it, a replacement, text after it.
#[derive(Default, Clone)]
struct Change {
    before: String,
    /// The first bytes of the token replaced (`u'x'` → ` 'x'`).
    head: Option<(usize, String)>,
    replace: Option<String>,
    after: String,
    /// The token was moved elsewhere (`star_args_last`): it renders as nothing here.
    moved: bool,
}

/// Rewrites the forms listed in the module documentation.
pub(super) fn rewrite(t: &Tokens<'_>) -> String {
    if t.toks.is_empty() {
        return t.source.to_owned();
    }
    let mut ch: Vec<Change> = vec![Change::default(); t.toks.len()];
    adjacent_strings(t, &mut ch);
    literals(t, &mut ch);
    identity_comparisons(t, &mut ch);
    for i in 0..t.toks.len() {
        if t.is_op(i, "(") && t.partner[i] != usize::MAX {
            generator(t, i, &mut ch);
        }
    }
    methods(t, &mut ch);
    powers(t, &mut ch);
    for_iterables(t, &mut ch);
    for (first, last) in simple_statements(t) {
        chained_assignment(t, first, last, &mut ch);
        augmented_division(t, first, last, &mut ch);
    }
    // Last: it moves text that the other rewrites have already changed.
    for i in 0..t.toks.len() {
        if t.is_op(i, "(") && t.partner[i] != usize::MAX {
            star_args_last(t, i, &mut ch);
        }
    }
    render(t, &ch)
}

fn adjacent_strings(t: &Tokens<'_>, ch: &mut [Change]) {
    let n = t.toks.len();
    let mut i = 0;
    while i < n {
        if t.toks[i].kind != Kind::Str {
            i += 1;
            continue;
        }
        let mut j = i + 1;
        while j < n && t.toks[j].kind == Kind::Str && !t.toks[j].first {
            j += 1;
        }
        if j - i >= 2 {
            ch[i].before.insert(0, '(');
            for c in &mut ch[i..j - 1] {
                c.after.push_str(" +");
            }
            ch[j - 1].after.push(')');
        }
        i = j;
    }
}

/// `u'x'` → ` 'x'`, `10L` → `10 `, `0755` → `0o755`.
fn literals(t: &Tokens<'_>, ch: &mut [Change]) {
    for (i, tok) in t.toks.iter().enumerate() {
        let s = t.text(i);
        match tok.kind {
            Kind::Str => {
                let prefix = s.bytes().take_while(|c| c.is_ascii_alphabetic()).count();
                if s[..prefix].contains(['u', 'U']) {
                    ch[i].head = Some((prefix, s[..prefix].replace(['u', 'U'], " ")));
                }
            }
            Kind::Number => {
                let digits = s.trim_end_matches(['L', 'l']);
                let radix = digits.len() > 2
                    && digits.starts_with('0')
                    && matches!(
                        digits.as_bytes()[1],
                        b'x' | b'X' | b'o' | b'O' | b'b' | b'B'
                    );
                let decimal = !digits.is_empty() && digits.bytes().all(|c| c.is_ascii_digit());
                if !radix && !decimal {
                    continue;
                }
                let long = if digits.len() < s.len() { " " } else { "" };
                if decimal && digits.len() > 1 && digits.starts_with('0') {
                    ch[i].replace = Some(format!("0o{}{long}", &digits[1..]));
                } else if !long.is_empty() {
                    ch[i].replace = Some(format!("{digits}{long}"));
                }
            }
            _ => {}
        }
    }
}

/// `is` → `==`, `is not` → `!=`.
fn identity_comparisons(t: &Tokens<'_>, ch: &mut [Change]) {
    for i in 0..t.toks.len() {
        if t.toks[i].kind != Kind::Name || t.text(i) != "is" {
            continue;
        }
        let not =
            i + 1 < t.toks.len() && t.toks[i + 1].kind == Kind::Name && t.text(i + 1) == "not";
        if not {
            ch[i].replace = Some("!=".into());
            ch[i + 1].replace = Some("   ".into());
        } else {
            ch[i].replace = Some("==".into());
        }
    }
}

/// The top-level items between bracket `open` and its partner: (first, last) token indices.
fn items(t: &Tokens<'_>, open: usize) -> Vec<(usize, usize)> {
    let close = t.partner[open];
    let mut out = Vec::new();
    let mut start = open + 1;
    let mut i = open + 1;
    while i < close {
        if t.skip(i) > i + 1 {
            i = t.skip(i);
            continue;
        }
        if t.is_op(i, ",") {
            if i > start {
                out.push((start, i - 1));
            }
            start = i + 1;
        }
        i += 1;
    }
    if close > start {
        out.push((start, close - 1));
    }
    out
}

/// `f(x for x in y)` → `f([x for x in y])`; `(x for x in y)` → `[x for x in y]`.
fn generator(t: &Tokens<'_>, open: usize, ch: &mut [Change]) {
    let close = t.partner[open];
    // A `for` at the top level of the brackets, with no comma before it and something before it.
    let mut i = open + 1;
    let mut has_for = false;
    while i < close {
        if t.skip(i) > i + 1 {
            i = t.skip(i);
            continue;
        }
        if t.is_op(i, ",") {
            return;
        }
        if t.toks[i].kind == Kind::Name && t.text(i) == "for" {
            has_for = i > open + 1;
            break;
        }
        i += 1;
    }
    if !has_for {
        return;
    }
    if t.is_call(open) {
        ch[open].after.push('[');
        ch[close].before.push(']');
    } else {
        ch[open].replace = Some("[".into());
        ch[close].replace = Some("]".into());
    }
}

/// `f(a, *rest, k=v)` → `f(a, k=v, *rest)`: Starlark wants `*args` after the named arguments.
fn star_args_last(t: &Tokens<'_>, open: usize, ch: &mut [Change]) {
    if !t.is_call(open) {
        return;
    }
    let its = items(t, open);
    let star = |&(f, _): &(usize, usize)| t.is_op(f, "*");
    let named = |&(f, l): &(usize, usize)| l > f && t.is_name(f) && t.is_op(f + 1, "=");
    let Some(s) = its.iter().position(star) else {
        return;
    };
    let Some(last_named) = its.iter().rposition(named) else {
        return;
    };
    let (sf, sl) = its[s];
    if last_named < s || t.toks[sf].line != t.toks[sl].end_line {
        return;
    }
    // The `*expr` as rewritten so far (on one line), and its comma (a named argument follows).
    let text = render_range(t, ch, sf, sl);
    for c in &mut ch[sf..=sl + 1] {
        c.moved = true;
    }
    let (_, nl) = its[last_named];
    ch[nl].after.push_str(&format!(", {text}"));
}

/// `RECEIVER.name(args)` → `__pymethod__(RECEIVER, 'name', args)` for the names in [`PY2_METHODS`].
fn methods(t: &Tokens<'_>, ch: &mut [Change]) {
    for i in 1..t.toks.len().saturating_sub(2) {
        if !(t.is_op(i, ".")
            && t.toks[i + 1].kind == Kind::Name
            && PY2_METHODS.contains(&t.text(i + 1))
            && t.is_op(i + 2, "(")
            && t.partner[i + 2] != usize::MAX)
        {
            continue;
        }
        let Some(start) = receiver_start(t, i - 1) else {
            continue;
        };
        let empty = t.partner[i + 2] == i + 3;
        ch[start].before.insert_str(0, "__pymethod__(");
        ch[i].replace = Some(",".into());
        ch[i + 1].replace = Some(format!(" '{}'", t.text(i + 1)));
        ch[i + 2].replace = Some(if empty { String::new() } else { ", ".into() });
    }
}

/// `for x in EXPR` → `for x in __py2_iter__(EXPR)`, in statements and comprehensions (a
/// tuple without brackets, `for x in a, b`, gets them).
fn for_iterables(t: &Tokens<'_>, ch: &mut [Change]) {
    let n = t.toks.len();
    let keyword = |i: usize, k: &str| t.toks[i].kind == Kind::Name && t.text(i) == k;
    for i in 0..n {
        if !keyword(i, "for") {
            continue;
        }
        // The `in` that ends the targets, at the same depth.
        let mut j = i + 1;
        while j < n && !keyword(j, "in") && !t.toks[j].first && !t.is_closer(j) {
            j = t.skip(j);
        }
        if j >= n || !keyword(j, "in") {
            continue;
        }
        // The iterable: up to the `:` of a loop; in a comprehension, up to `for`, `if` or the
        // closing bracket.
        let statement = t.toks[i].first;
        let start = j + 1;
        let mut k = start;
        let mut comma = false;
        while k < n
            && !t.toks[k].first
            && !t.is_closer(k)
            && !t.is_op(k, ":")
            && !(!statement && (keyword(k, "for") || keyword(k, "if")))
        {
            comma |= t.is_op(k, ",");
            k = t.skip(k);
        }
        if k <= start || k > n {
            continue;
        }
        let (open, close) = if comma { ("((", "))") } else { ("(", ")") };
        ch[start]
            .before
            .insert_str(0, &format!("__py2_iter__{open}"));
        ch[k - 1].after.push_str(close);
    }
}

/// `a ** b` → `__py2_pow__(a, b)`. The left operand is the primary before `**`; the right one a primary
/// after any unary signs, and everything up to the last of a chain `b ** c ** d`.
fn powers(t: &Tokens<'_>, ch: &mut [Change]) {
    let n = t.toks.len();
    for i in 1..n.saturating_sub(1) {
        if !t.is_op(i, "**") || t.toks[i].first {
            continue;
        }
        // A binary `**` follows an operand; `f(**kw)` and `{**d}` follow `(`, `,` or `{`.
        let prev = &t.toks[i - 1];
        let operand_before = matches!(prev.kind, Kind::Name | Kind::Number | Kind::Str)
            && (prev.kind != Kind::Name || t.is_name(i - 1))
            || t.is_closer(i - 1);
        if !operand_before {
            continue;
        }
        let (Some(start), Some(end)) = (receiver_start(t, i - 1), power_operand_end(t, i + 1))
        else {
            continue;
        };
        ch[start].before.insert_str(0, "__py2_pow__(");
        ch[i].replace = Some(",".into());
        ch[end].after.push(')');
    }
}

/// The last token of the right operand of `**` that begins at token `j`: unary signs, a primary
/// with its trailers (`.name`, calls, indexes), and a further `** operand`, if any.
fn power_operand_end(t: &Tokens<'_>, mut j: usize) -> Option<usize> {
    let n = t.toks.len();
    loop {
        while j < n && (t.is_op(j, "-") || t.is_op(j, "+") || t.is_op(j, "~")) {
            j += 1;
        }
        if j >= n || t.toks[j].first {
            return None;
        }
        // The atom.
        let mut end = match t.toks[j].kind {
            Kind::Name if t.is_name(j) => j,
            Kind::Number => j,
            Kind::Str => {
                let mut k = j;
                while k + 1 < n && t.toks[k + 1].kind == Kind::Str && !t.toks[k + 1].first {
                    k += 1;
                }
                k
            }
            Kind::Op if matches!(t.text(j), "(" | "[" | "{") && t.partner[j] != usize::MAX => {
                t.partner[j]
            }
            _ => return None,
        };
        // Its trailers.
        loop {
            let k = end + 1;
            if k + 1 < n && t.is_op(k, ".") && t.toks[k + 1].kind == Kind::Name {
                end = k + 1;
            } else if k < n
                && (t.is_op(k, "(") || t.is_op(k, "["))
                && t.partner[k] != usize::MAX
                && !t.toks[k].first
            {
                end = t.partner[k];
            } else {
                break;
            }
        }
        // Right-associative: `b ** c` belongs to this operand.
        if end + 2 < n && t.is_op(end + 1, "**") && !t.toks[end + 1].first {
            j = end + 2;
            continue;
        }
        return Some(end);
    }
}

/// The first token of the primary expression that ends at token `j` (`a.b[0](x)`, `'s'`, `(...)`).
fn receiver_start(t: &Tokens<'_>, mut j: usize) -> Option<usize> {
    loop {
        let atom = match t.toks[j].kind {
            Kind::Op if t.is_closer(j) => t.partner[j],
            Kind::Name if t.is_name(j) => j,
            Kind::Str => {
                let mut k = j;
                while k > 0 && t.toks[k - 1].kind == Kind::Str && !t.toks[k].first {
                    k -= 1;
                }
                return Some(k);
            }
            Kind::Number => return Some(j),
            _ => return None,
        };
        if atom == usize::MAX {
            return None;
        }
        if atom > 0 && t.is_closer(j) && t.text(atom) != "{" && t.is_call(atom) {
            // A call or an index: the chain goes on before it.
            j = atom - 1;
            continue;
        }
        if atom >= 2 && t.is_op(atom - 1, ".") && !t.toks[atom].first {
            j = atom - 2;
            continue;
        }
        return Some(atom);
    }
}

/// Keywords that open a compound statement, whose body may follow its `:` on the same line.
const COMPOUND: &[&str] = &[
    "if", "elif", "else", "for", "while", "def", "class", "with", "try", "except", "finally",
];

/// Simple statements that begin with a name (assignments and expressions): (first, last) token
/// indices. A logical line holds several when `;` separates them, and a compound statement's
/// header (`if c:`) may be followed by one on its line.
fn simple_statements(t: &Tokens<'_>) -> Vec<(usize, usize)> {
    let n = t.toks.len();
    let mut out = Vec::new();
    let mut i = 0;
    while i < n {
        let mut end = i + 1;
        while end < n && !t.toks[end].first {
            end += 1;
        }
        let mut start = i;
        if t.toks[i].kind == Kind::Name && COMPOUND.contains(&t.text(i)) {
            // The body after the header's `:`, if any.
            start = top_level(t, i, end - 1, ":").first().map_or(end, |c| c + 1);
        }
        let mut from = start;
        for semi in top_level(t, start, end - 1, ";").into_iter().chain([end]) {
            if from < semi && t.is_name(from) {
                out.push((from, semi - 1));
            }
            from = semi + 1;
        }
        i = end;
    }
    out
}

/// The indices of `op` tokens at the top level of tokens `first..=last` (outside brackets).
fn top_level(t: &Tokens<'_>, first: usize, last: usize, op: &str) -> Vec<usize> {
    let mut out = Vec::new();
    let mut i = first;
    while i <= last && i < t.toks.len() {
        if t.is_op(i, op) {
            out.push(i);
        }
        i = t.skip(i);
    }
    out
}

/// `a = b = expr` → `(a) , (b) = [(expr)] * 2`: `expr` evaluated once, every target bound to it
/// (tuples included: `x = y = 1, 2`, `a, b = c = 1, 2`).
fn chained_assignment(t: &Tokens<'_>, first: usize, last: usize, ch: &mut [Change]) {
    let eqs = top_level(t, first, last, "=");
    if eqs.len() < 2 || eqs[eqs.len() - 1] == last || !top_level(t, first, last, ":").is_empty() {
        return;
    }
    let starts: Vec<usize> = std::iter::once(first)
        .chain(eqs.iter().map(|e| e + 1))
        .collect();
    if eqs.iter().zip(&starts).any(|(e, s)| e == s) {
        return;
    }
    for (n, (&e, &from)) in eqs.iter().zip(&starts).enumerate() {
        ch[from].before.insert(0, '(');
        ch[e - 1].after.push(')');
        if n + 1 < eqs.len() {
            ch[e].replace = Some(",".into());
        }
    }
    let value = eqs[eqs.len() - 1] + 1;
    ch[value].before.insert_str(0, "[(");
    ch[last].after.push_str(&format!(")] * {}", eqs.len()));
}

/// `x /= y` → `x = x / (y)`, and `%=` alike, when the target is on one line (it is evaluated
/// twice).
fn augmented_division(t: &Tokens<'_>, first: usize, last: usize, ch: &mut [Change]) {
    for op in ["/=", "%="] {
        let Some(&at) = top_level(t, first, last, op).first() else {
            continue;
        };
        if at == last || at == first || t.toks[first].line != t.toks[at - 1].end_line {
            return;
        }
        let target = render_range(t, ch, first, at - 1);
        ch[at].replace = Some(format!("= {target} {} (", &op[..1]));
        ch[last].after.push(')');
        return;
    }
}

/// Token `i` as rewritten: what goes before it, its text (its head replaced, or all of it), what
/// goes after it; nothing if it was moved.
fn render_token(t: &Tokens<'_>, ch: &[Change], i: usize, out: &mut String) {
    let c = &ch[i];
    if c.moved {
        return;
    }
    out.push_str(&c.before);
    let text = t.text_all(i);
    match (&c.replace, &c.head) {
        (Some(r), _) => out.push_str(r),
        (None, Some((len, head))) if text.is_char_boundary(*len) && *len <= text.len() => {
            out.push_str(head);
            out.push_str(&text[*len..]);
        }
        _ => out.push_str(text),
    }
    out.push_str(&c.after);
}

/// Tokens `first..=last` as rewritten, with the text between them.
fn render_range(t: &Tokens<'_>, ch: &[Change], first: usize, last: usize) -> String {
    let mut out = String::new();
    for i in first..=last {
        if i > first {
            let gap = t.between(i - 1, i);
            if ch[i - 1].moved && ch[i].moved {
                // Inside moved text: only its line breaks stay.
                out.extend(gap.chars().filter(|c| *c == '\n'));
            } else {
                out.push_str(gap);
            }
        }
        render_token(t, ch, i, &mut out);
    }
    out
}

/// Applies the changes: the source again, token by token, with the text between tokens (spaces,
/// comments, line breaks) as it was. Inserted text holds no line break, so lines do not move.
fn render(t: &Tokens<'_>, ch: &[Change]) -> String {
    let mut out = String::with_capacity(t.source.len() + 64);
    out.push_str(t.before_first());
    out.push_str(&render_range(t, ch, 0, t.toks.len() - 1));
    out.push_str(t.after_last());
    out
}

#[cfg(test)]
mod tests {
    fn rewrite(source: &str) -> String {
        super::rewrite(&super::super::tokens::tokenize(source))
    }

    #[test]
    fn adjacent_strings_become_one_sum() {
        assert_eq!(rewrite("x = 'a' \"b\""), "x = ('a' + \"b\")");
        assert_eq!(
            rewrite("c = ('./run --threads=4 '\n     '--port=1')\n"),
            "c = (('./run --threads=4 ' +\n     '--port=1'))\n"
        );
        assert_eq!(
            rewrite("c = 'a' \\\n  'b'  # note\ny = 'c'\n'd'\n"),
            "c = ('a' + \\\n  'b')  # note\ny = 'c'\n'd'\n"
        );
        assert_eq!(
            rewrite("'a{}' 'b'.format(1)"),
            "__pymethod__(('a{}' + 'b'), 'format', 1)"
        );
    }

    #[test]
    fn generator_expressions_become_list_comprehensions() {
        assert_eq!(
            rewrite("' '.join(x for x in y)"),
            "' '.join([x for x in __py2_iter__(y)])"
        );
        assert_eq!(
            rewrite("dict((k, v) for k, v in d)"),
            "dict([(k, v) for k, v in __py2_iter__(d)])"
        );
        assert_eq!(
            rewrite("sum((x for x in y), 0)"),
            "sum([x for x in __py2_iter__(y)], 0)"
        );
        assert_eq!(
            rewrite("x in (a for a in b)"),
            "x in [a for a in __py2_iter__(b)]"
        );
    }

    #[test]
    fn for_iterables_that_are_bare_tuples_or_conditionals() {
        assert_eq!(
            rewrite("for env in 'prod', 'devel':\n  pass"),
            "for env in __py2_iter__(('prod', 'devel')):\n  pass"
        );
        assert_eq!(
            rewrite("for x in 'ab' if c else 'cd':\n  pass"),
            "for x in __py2_iter__('ab' if c else 'cd'):\n  pass"
        );
        assert_eq!(
            rewrite("[x for x in 1, 2]"),
            "[x for x in __py2_iter__((1, 2))]"
        );
    }

    #[test]
    fn every_for_iterates_through_py2_iter() {
        assert_eq!(
            rewrite("f(x, [y for y in z if y])"),
            "f(x, [y for y in __py2_iter__(z) if y])"
        );
        assert_eq!(
            rewrite("for k, v in sorted(d.items()):\n  pass"),
            "for k, v in __py2_iter__(sorted(__pymethod__(d, 'items'))):\n  pass"
        );
        assert_eq!(
            rewrite("[i + j for i in a for j in b(i)]"),
            "[i + j for i in __py2_iter__(a) for j in __py2_iter__(b(i))]"
        );
        assert_eq!(
            rewrite("{k: v for k, v in 'ab'}"),
            "{k: v for k, v in __py2_iter__('ab')}"
        );
    }

    #[test]
    fn moved_star_args_keep_their_own_rewrites() {
        assert_eq!(
            rewrite("f(1, *d.keys(), k=1)"),
            "f(1,  k=1, *__pymethod__(d, 'keys'))"
        );
        assert_eq!(rewrite("f(*[u'x'],\nk=1)"), "f(\nk=1, *[ 'x'])");
        assert_eq!(
            rewrite("f(1, *[x for x in 'ab'], k=1)"),
            "f(1,  k=1, *[x for x in __py2_iter__('ab')])"
        );
    }

    #[test]
    fn star_args_move_after_named_arguments() {
        assert_eq!(rewrite("f(x, *rest, k=v)"), "f(x,  k=v, *rest)");
        assert_eq!(rewrite("f(x, *rest, k=v, **kw)"), "f(x,  k=v, *rest, **kw)");
        assert_eq!(rewrite("f(x, k=v, *rest)"), "f(x, k=v, *rest)");
        assert_eq!(
            rewrite("def f(a, *args, **kw): pass"),
            "def f(a, *args, **kw): pass"
        );
    }

    #[test]
    fn python2_methods_become_pymethod_calls() {
        assert_eq!(
            rewrite("'{:03d}'.format(i)"),
            "__pymethod__('{:03d}', 'format', i)"
        );
        assert_eq!(rewrite("d.iteritems()"), "__pymethod__(d, 'iteritems')");
        assert_eq!(
            rewrite("a.b[0](1).has_key(k)"),
            "__pymethod__(a.b[0](1), 'has_key', k)"
        );
        assert_eq!(
            rewrite("x = (y).ljust(8) + z"),
            "x = __pymethod__((y), 'ljust', 8) + z"
        );
        assert_eq!(rewrite("s.format"), "s.format");
        assert_eq!(
            rewrite("''.join(s.format(x) for s in l)"),
            "''.join([__pymethod__(s, 'format', x) for s in __py2_iter__(l)])"
        );
        assert_eq!(
            rewrite("p = Process(cmdline = 'a {}'.format(\n  1))"),
            "p = Process(cmdline = __pymethod__('a {}', 'format', \n  1))"
        );
    }

    #[test]
    fn chained_and_augmented_assignments() {
        assert_eq!(rewrite("a = b = f(1)\n"), "(a) , (b) = [(f(1))] * 2\n");
        assert_eq!(
            rewrite("x[0] = y = z = 1"),
            "(x[0]) , (y) , (z) = [(1)] * 3"
        );
        assert_eq!(rewrite("a, b = c = 1, 2"), "(a, b) , (c) = [(1, 2)] * 2");
        assert_eq!(rewrite("a = 1; b = c = 2"), "a = 1; (b) , (c) = [(2)] * 2");
        assert_eq!(
            rewrite("if x: n /= 2\nelse: a = b = 1"),
            "if x: n = n / ( 2)\nelse: (a) , (b) = [(1)] * 2"
        );
        assert_eq!(rewrite("x /= 2; y = 1"), "x = x / ( 2); y = 1");
        assert_eq!(rewrite("d[u'k'] /= 2"), "d[ 'k'] = d[ 'k'] / ( 2)");
        assert_eq!(rewrite("f(a = 1, b = 2)"), "f(a = 1, b = 2)");
        assert_eq!(rewrite("n /= 2 + 1"), "n = n / ( 2 + 1)");
        assert_eq!(rewrite("d['k'] %= 3"), "d['k'] = d['k'] % ( 3)");
        assert_eq!(rewrite("lambda: a = b"), "lambda: a = b");
    }

    #[test]
    fn powers_become_pow_calls() {
        assert_eq!(rewrite("x = 2 ** 30 * MB"), "x = __py2_pow__(2 , 30) * MB");
        assert_eq!(rewrite("x = -2 ** 2"), "x = -__py2_pow__(2 , 2)");
        assert_eq!(
            rewrite("x = 2 ** 3 ** 2"),
            "x = __py2_pow__(2 , __py2_pow__(3 , 2))"
        );
        assert_eq!(
            rewrite("x = a.b[1] ** -f(y).z"),
            "x = __py2_pow__(a.b[1] , -f(y).z)"
        );
        assert_eq!(rewrite("f(**kw)"), "f(**kw)");
        assert_eq!(rewrite("f(a, **kw)"), "f(a, **kw)");
        assert_eq!(rewrite("x = (1 + 2) ** 2"), "x = __py2_pow__((1 + 2) , 2)");
    }

    #[test]
    fn octal_literals_get_their_prefix() {
        assert_eq!(
            rewrite("m = 0755 + 0 + 10 + 0.5"),
            "m = 0o755 + 0 + 10 + 0.5"
        );
    }

    #[test]
    fn lines_never_move_and_noise_never_panics() {
        let alphabet: Vec<char> = "'\"(){}[].,*=f x\n\\#for in 0 u".chars().collect();
        let mut seed = 7u64;
        for _ in 0..3000 {
            let len = (seed % 40) as usize;
            let mut s = String::new();
            for _ in 0..len {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                s.push(alphabet[(seed >> 33) as usize % alphabet.len()]);
            }
            let out = rewrite(&s);
            assert_eq!(out.matches('\n').count(), s.matches('\n').count(), "{s:?}");
        }
    }
}
