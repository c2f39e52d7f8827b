//! Python 2 source as tokens: names, numbers, strings (with their prefixes, spanning lines when
//! triple-quoted), operators; where each starts and ends (line and byte column), which ones begin
//! a logical line, and which brackets pair up. Comments, blanks and line continuations are not
//! tokens.
//!
//! Both passes of the pre-pass read the source through this: `forms` rewrites expressions token by
//! token, `prepass` finds statements. This module reads text only; it never fails (what it cannot
//! make sense of, Starlark reports).

/// Python keywords that can stand before `(` without making it a call.
pub(crate) const KEYWORDS: &[&str] = &[
    "and", "or", "not", "in", "is", "if", "else", "elif", "return", "for", "while", "lambda",
    "yield", "print", "assert", "del", "import", "from", "as", "with", "except", "raise", "exec",
    "global", "pass", "break", "continue", "def", "class", "try", "finally",
];

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Kind {
    Name,
    Number,
    Str,
    Op,
}

/// A token: its kind and where it starts and ends (line, byte column). Only strings span lines.
#[derive(Debug)]
pub(crate) struct Token {
    pub(crate) kind: Kind,
    pub(crate) line: usize,
    pub(crate) col: usize,
    pub(crate) end_line: usize,
    pub(crate) end_col: usize,
    /// The first token of a logical line.
    pub(crate) first: bool,
}

pub(crate) struct Tokens<'a> {
    pub(crate) source: &'a str,
    pub(crate) lines: Vec<&'a str>,
    /// The byte offset in `source` where each line begins.
    line_starts: Vec<usize>,
    pub(crate) toks: Vec<Token>,
    /// For each bracket token, the index of its partner (or `usize::MAX` when unbalanced).
    pub(crate) partner: Vec<usize>,
    /// The first bracket nested deeper than [`MAX_NESTING`] (line, byte column), if any.
    pub(crate) too_deep: Option<(usize, usize)>,
    /// The most tokens in one logical line, and where that line begins (line, byte column).
    pub(crate) longest_statement: (usize, (usize, usize)),
}

/// The deepest bracket nesting Python 2's tokenizer accepts (its `MAXLEVEL`): beyond it, "too many
/// nested parentheses". Starlark's parser recurses on nesting, so this also keeps it on its stack.
pub(crate) const MAX_NESTING: i32 = 200;

impl<'a> Tokens<'a> {
    fn offset(&self, line: usize, col: usize) -> usize {
        self.line_starts[line] + col
    }

    /// Token `i`'s whole text (all its lines, for a string that spans several).
    pub(crate) fn text_all(&self, i: usize) -> &'a str {
        let t = &self.toks[i];
        &self.source[self.offset(t.line, t.col)..self.offset(t.end_line, t.end_col)]
    }

    /// The text between tokens `a` and `b` (spaces, comments, line breaks).
    pub(crate) fn between(&self, a: usize, b: usize) -> &'a str {
        let (ta, tb) = (&self.toks[a], &self.toks[b]);
        &self.source[self.offset(ta.end_line, ta.end_col)..self.offset(tb.line, tb.col)]
    }

    /// The text before the first token.
    pub(crate) fn before_first(&self) -> &'a str {
        match self.toks.first() {
            Some(t) => &self.source[..self.offset(t.line, t.col)],
            None => self.source,
        }
    }

    /// The text after the last token.
    pub(crate) fn after_last(&self) -> &'a str {
        match self.toks.last() {
            Some(t) => &self.source[self.offset(t.end_line, t.end_col)..],
            None => "",
        }
    }

    /// Token `i`'s text on its first line.
    pub(crate) fn text(&self, i: usize) -> &'a str {
        let t = &self.toks[i];
        if t.line == t.end_line {
            &self.lines[t.line][t.col..t.end_col]
        } else {
            &self.lines[t.line][t.col..]
        }
    }

    /// The index after token `i`, past the whole bracketed group when `i` opens one.
    pub(crate) fn skip(&self, i: usize) -> usize {
        match self.partner[i] {
            p if p != usize::MAX && p > i => p + 1,
            _ => i + 1,
        }
    }

    pub(crate) fn is_op(&self, i: usize, op: &str) -> bool {
        self.toks.get(i).is_some_and(|t| t.kind == Kind::Op) && self.text(i) == op
    }

    pub(crate) fn is_name(&self, i: usize) -> bool {
        self.toks[i].kind == Kind::Name && !KEYWORDS.contains(&self.text(i))
    }

    pub(crate) fn is_closer(&self, i: usize) -> bool {
        self.toks[i].kind == Kind::Op && matches!(self.text(i), ")" | "]" | "}")
    }

    /// `(` at `i` opens a call's arguments (it follows something callable).
    pub(crate) fn is_call(&self, i: usize) -> bool {
        i > 0
            && !self.toks[i].first
            && (self.is_name(i - 1)
                || self.toks[i - 1].kind == Kind::Str
                || (self.is_closer(i - 1) && self.text(i - 1) != "}"))
            && !(i >= 2 && self.text(i - 2) == "def" && self.toks[i - 2].kind == Kind::Name)
    }
}

pub(crate) fn tokenize(source: &str) -> Tokens<'_> {
    let lines: Vec<&str> = source.split('\n').collect();
    let mut toks: Vec<Token> = Vec::new();
    let mut depth = 0i32;
    let mut too_deep = None;
    let mut line_start = true;
    // An open triple-quoted string: its quote byte, where it began, and whether it begins a
    // logical line.
    let mut open: Option<(u8, usize, usize, bool)> = None;
    for (n, line) in lines.iter().enumerate() {
        let b = line.as_bytes();
        let mut i = 0;
        let mut continued = false;
        if let Some((q, l0, c0, first)) = open {
            match find_close(b, 0, q, true) {
                Some(end) => {
                    toks.push(tok(Kind::Str, (l0, c0), (n, end), first));
                    line_start = false;
                    open = None;
                    i = end;
                }
                None => continue,
            }
        }
        while i < b.len() {
            let c = b[i];
            let start = i;
            if c == b' ' || c == b'\t' || c == b'\r' || c == b'\x0c' {
                i += 1;
                continue;
            }
            if c == b'#' {
                break;
            }
            if c == b'\\' && b[i + 1..].iter().all(|c| c.is_ascii_whitespace()) {
                continued = true;
                break;
            }
            let prefix = b[i..].iter().take_while(|c| b"uUrRbB".contains(c)).count();
            let q = b.get(i + prefix).copied();
            if prefix <= 2 && matches!(q, Some(b'\'' | b'"')) {
                let q = q.unwrap_or(b'\'');
                let body = i + prefix;
                let triple = b[body..].starts_with(&[q, q, q]);
                let from = body + if triple { 3 } else { 1 };
                match find_close(b, from, q, triple) {
                    Some(end) => {
                        toks.push(tok(Kind::Str, (n, start), (n, end), line_start));
                        i = end;
                    }
                    None if triple => {
                        open = Some((q, n, start, line_start));
                        i = b.len();
                    }
                    None => {
                        // An unterminated string: Starlark reports it.
                        toks.push(tok(Kind::Str, (n, start), (n, b.len()), line_start));
                        i = b.len();
                    }
                }
                line_start = false;
                continue;
            }
            if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 {
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] >= 0x80)
                {
                    i += 1;
                }
                toks.push(tok(Kind::Name, (n, start), (n, i), line_start));
            } else if c.is_ascii_digit()
                || (c == b'.' && b.get(i + 1).is_some_and(u8::is_ascii_digit))
            {
                while i < b.len()
                    && (b[i].is_ascii_alphanumeric()
                        || b[i] == b'.'
                        || (matches!(b[i], b'+' | b'-') && matches!(b[i - 1], b'e' | b'E')))
                {
                    i += 1;
                }
                toks.push(tok(Kind::Number, (n, start), (n, i), line_start));
            } else {
                let len = op_len(&b[i..]);
                i += len;
                match c {
                    b'(' | b'[' | b'{' => {
                        depth += 1;
                        if depth > MAX_NESTING && too_deep.is_none() {
                            too_deep = Some((n, start));
                        }
                    }
                    b')' | b']' | b'}' => depth -= 1,
                    _ => {}
                }
                toks.push(tok(Kind::Op, (n, start), (n, i), line_start));
            }
            line_start = false;
        }
        if open.is_none() && depth <= 0 && !continued {
            line_start = true;
        }
    }
    let partner = partners(&lines, &toks);
    let mut longest_statement = (0, (0, 0));
    let (mut run, mut at) = (0, (0, 0));
    for t in &toks {
        if t.first {
            (run, at) = (0, (t.line, t.col));
        }
        run += 1;
        if run > longest_statement.0 {
            longest_statement = (run, at);
        }
    }
    let mut line_starts = Vec::with_capacity(lines.len());
    let mut at = 0;
    for l in &lines {
        line_starts.push(at);
        at += l.len() + 1;
    }
    Tokens {
        source,
        lines,
        line_starts,
        toks,
        partner,
        too_deep,
        longest_statement,
    }
}

fn tok(kind: Kind, start: (usize, usize), end: (usize, usize), first: bool) -> Token {
    Token {
        kind,
        line: start.0,
        col: start.1,
        end_line: end.0,
        end_col: end.1,
        first,
    }
}

/// The end (exclusive) of a string whose body starts at `from`, or `None` if it runs past the line.
fn find_close(b: &[u8], mut i: usize, q: u8, triple: bool) -> Option<usize> {
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            c if c == q && (!triple || b[i..].starts_with(&[q, q, q])) => {
                return Some(i + if triple { 3 } else { 1 });
            }
            _ => i += 1,
        }
    }
    None
}

fn op_len(b: &[u8]) -> usize {
    const OPS: &[&[u8]] = &[
        b"**=", b"//=", b">>=", b"<<=", b"**", b"//", b"==", b"!=", b"<=", b">=", b"<>", b"->",
        b"+=", b"-=", b"*=", b"/=", b"%=", b"&=", b"|=", b"^=", b"<<", b">>",
    ];
    OPS.iter()
        .find(|op| b.starts_with(op))
        .map_or(1, |op| op.len())
        .min(b.len().max(1))
}

fn partners(lines: &[&str], toks: &[Token]) -> Vec<usize> {
    let mut partner = vec![usize::MAX; toks.len()];
    let mut stack: Vec<usize> = Vec::new();
    for (i, t) in toks.iter().enumerate() {
        if t.kind != Kind::Op {
            continue;
        }
        let text = &lines[t.line][t.col..t.end_col];
        match text {
            "(" | "[" | "{" => stack.push(i),
            ")" | "]" | "}" => {
                let want = match text {
                    ")" => "(",
                    "]" => "[",
                    _ => "{",
                };
                if let Some(&o) = stack.last() {
                    let ot = &toks[o];
                    if &lines[ot.line][ot.col..ot.end_col] == want {
                        stack.pop();
                        partner[o] = i;
                        partner[i] = o;
                        continue;
                    }
                }
                // Unbalanced: give up on everything still open.
                stack.clear();
            }
            _ => {}
        }
    }
    partner
}

#[cfg(test)]
mod tests {
    use super::{Kind, tokenize};

    #[test]
    fn tokens_know_their_statements_strings_and_brackets() {
        let src = "x = f(1,\n  u'''a\nb''' 'c')  # note\ny = 2 + \\\n  3L\nz = [0o7, .5e-3]\n";
        let t = tokenize(src);
        let texts: Vec<&str> = (0..t.toks.len()).map(|i| t.text(i)).collect();
        assert_eq!(
            texts,
            [
                "x", "=", "f", "(", "1", ",", "u'''a", "'c'", ")", "y", "=", "2", "+", "3L", "z",
                "=", "[", "0o7", ",", ".5e-3", "]"
            ]
        );
        let firsts: Vec<&str> = (0..t.toks.len())
            .filter(|&i| t.toks[i].first)
            .map(|i| t.text(i))
            .collect();
        assert_eq!(firsts, ["x", "y", "z"]);
        let s = &t.toks[6];
        assert_eq!(
            (s.kind, s.line, s.end_line, s.end_col),
            (Kind::Str, 1, 2, 4)
        );
        assert_eq!((t.partner[3], t.partner[8]), (8, 3));
        assert_eq!((t.partner[16], t.partner[20]), (20, 16));
    }

    #[test]
    fn a_string_over_several_lines_can_begin_a_statement() {
        let t = tokenize("cmd = 'echo hi'\n\"\"\"\nNotes.\n\"\"\"\nx = 1\n");
        let firsts: Vec<&str> = (0..t.toks.len())
            .filter(|&i| t.toks[i].first)
            .map(|i| t.text(i))
            .collect();
        assert_eq!(firsts, ["cmd", "\"\"\"", "x"]);
    }

    #[test]
    fn unbalanced_brackets_pair_nothing() {
        let t = tokenize("f(]\n(");
        assert!(
            t.partner.iter().all(|p| *p == usize::MAX),
            "{:?}",
            t.partner
        );
    }
}
