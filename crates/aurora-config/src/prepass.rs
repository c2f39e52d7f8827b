//! A line-preserving pre-pass from the Python 2 that `.aurora` files are written in to the Starlark
//! that the evaluator runs. First `forms` rewrites expressions token by token (adjacent strings,
//! generator expressions, Python 2 methods and literals, `is`...); then, statement by statement,
//! `class Name(Struct):` blocks become calls, schema imports disappear and pure modules' imports
//! become assignments, `print x` becomes `print(x)`, and the file is split at its top-level
//! `include('...')` statements.
//!
//! Line N of the output is line N of the input (columns move only where text is inserted), so
//! Starlark's errors still point at the user's line. Statements Starlark cannot run (`while`, `try`,
//! other imports) are refused here with a hint. This module only rewrites text: it evaluates
//! nothing and reads no file.

mod forms;
mod tokens;

/// One piece of a pre-passed file, in source order.
#[derive(Debug, Clone, PartialEq)]
pub enum Chunk {
    /// Starlark source. Its line N is line N of the original file: the chunk is padded with empty
    /// lines before its first line.
    Code(String),
    /// A top-level `include('path')` statement, evaluated into the same namespace at this point.
    Include {
        path: String,
        line: usize,
        column: usize,
    },
}

/// A form that cannot be rewritten into Starlark, with its 1-based position.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct PrepassError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// What the tokens tell of one physical line.
#[derive(Debug, Default, Clone)]
struct LineInfo {
    /// The line begins a new logical line (not inside brackets, a string or after a `\`).
    starts_statement: bool,
    /// End of the last code or string character: where `,` or `)` may be appended.
    content_end: usize,
    /// Leading whitespace, in bytes.
    indent: usize,
}

/// Line facts from the tokens of `lines` (which carry no `\n` or `\r`).
fn line_infos(lines: &[&str]) -> Vec<LineInfo> {
    let text = lines.join("\n");
    let t = tokens::tokenize(&text);
    let mut infos: Vec<LineInfo> = lines
        .iter()
        .map(|l| LineInfo {
            starts_statement: true,
            content_end: 0,
            indent: l.bytes().take_while(|c| *c == b' ' || *c == b'\t').count(),
        })
        .collect();
    for (i, tok) in t.toks.iter().enumerate() {
        // Lines between two tokens of one statement, and lines a string runs through, continue it.
        if i > 0 && !tok.first {
            for info in &mut infos[t.toks[i - 1].end_line + 1..=tok.line] {
                info.starts_statement = false;
            }
        }
        for info in &mut infos[tok.line + 1..=tok.end_line] {
            info.starts_statement = false;
        }
        for (n, info) in infos
            .iter_mut()
            .enumerate()
            .take(tok.end_line)
            .skip(tok.line)
        {
            info.content_end = lines[n].len();
        }
        let end = &mut infos[tok.end_line].content_end;
        *end = (*end).max(tok.end_col);
    }
    infos
}

/// A logical line: a statement spanning physical lines `first..=last`.
struct Statement {
    first: usize,
    last: usize,
    indent: usize,
}

fn statements(lines: &[&str], infos: &[LineInfo]) -> Vec<Statement> {
    let mut out: Vec<Statement> = Vec::new();
    for (n, info) in infos.iter().enumerate() {
        let has_code = info.content_end > 0 && !lines[n][..info.content_end].trim().is_empty();
        if info.starts_statement {
            if has_code {
                out.push(Statement {
                    first: n,
                    last: n,
                    indent: info.indent,
                });
            }
        } else if let Some(s) = out.last_mut() {
            s.last = n;
        }
    }
    out
}

/// The code of a physical line with strings kept and the comment dropped.
fn content<'a>(line: &'a str, info: &LineInfo) -> &'a str {
    &line[..info.content_end]
}

fn first_word(s: &str) -> &str {
    let s = s.trim_start();
    let end = s
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The most tokens one statement may have. Starlark parses and compiles an expression
/// recursively, about one level per token at worst (`1+1+...`); `eval` gives evaluation a stack
/// ([`crate::eval`]'s `EVAL_STACK`) that this many levels fit in.
pub const MAX_STATEMENT_TOKENS: usize = 50_000;

/// Rewrites `source` into Starlark chunks.
pub fn prepass(source: &str) -> Result<Vec<Chunk>, PrepassError> {
    let tokens = tokens::tokenize(source);
    if let Some((line, col)) = tokens.too_deep {
        return Err(PrepassError {
            line: line + 1,
            column: col + 1,
            message: format!(
                "too many nested parentheses (Python allows {})",
                tokens::MAX_NESTING
            ),
        });
    }
    let (longest, (line, col)) = tokens.longest_statement;
    if longest > MAX_STATEMENT_TOKENS {
        return Err(PrepassError {
            line: line + 1,
            column: col + 1,
            message: format!(
                "a statement of {longest} tokens is too long for .aurora files (at most {MAX_STATEMENT_TOKENS})"
            ),
        });
    }
    let rewritten = forms::rewrite(&tokens);
    let raw: Vec<&str> = rewritten
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let infos = line_infos(&raw);
    let mut out: Vec<String> = raw.iter().map(|l| l.to_string()).collect();
    // Edits by (line, byte position, bytes removed, text inserted), applied right to left.
    let mut edits: Vec<(usize, usize, usize, String)> = Vec::new();

    let stmts = statements(&raw, &infos);
    let mut includes: Vec<(usize, String, usize)> = Vec::new();
    let mut i = 0;
    while i < stmts.len() {
        let st = &stmts[i];
        let line = raw[st.first];
        let text = content(line, &infos[st.first]);
        let word = first_word(text);
        let err = |message: String| PrepassError {
            line: st.first + 1,
            column: st.indent + 1,
            message,
        };
        match word {
            "while" => return Err(err("`while` loops are not supported in .aurora files (Starlark): use `for i in range(n)`".into())),
            "try" | "except" | "finally" | "raise" => {
                return Err(err("exceptions are not supported in .aurora files: use `fail(msg)` to stop with an error".into()));
            }
            "global" | "with" | "del" | "yield" | "exec" | "assert" | "nonlocal" | "async" | "await" => {
                return Err(err(format!("`{word}` statements are not supported in .aurora files (Starlark)")));
            }
            "class" if st.indent > 0 => return Err(err("class statements are only supported at the top level".into())),
            "class" => {
                let body_end = stmts[i + 1..].iter().position(|s| s.indent == 0).map_or(stmts.len(), |p| i + 1 + p);
                class_block(&raw, &infos, &stmts[i..body_end], &mut out, &mut edits)?;
                i = body_end;
                continue;
            }
            "import" | "from" if st.indent == 0 => {
                let whole: String = (st.first..=st.last).map(|n| content(raw[n], &infos[n])).collect::<Vec<_>>().join(" ");
                let bind = import_bindings(&whole).map_err(err)?;
                blank(&mut out, &mut edits, st);
                if !bind.is_empty() {
                    out[st.first] = bind;
                }
            }
            "include" if st.indent == 0 && st.first == st.last => {
                if let Some(path) = include_path(text) {
                    includes.push((st.first, path, st.indent + 1));
                    out[st.first].clear();
                    edits.retain(|e| e.0 != st.first);
                }
            }
            "print" if text.trim_start()[5..].starts_with([' ', '\t']) && st.first == st.last => {
                // Where `print` begins (after any white space, Unicode's included).
                let start = text.len() - text.trim_start().len();
                let arg = text[start + 5..].trim_start();
                if !arg.starts_with('(') || arg.ends_with(',') {
                    edits.push((st.first, infos[st.first].content_end, 0, ")".into()));
                    edits.push((st.first, start + 5, 1, "(".into()));
                }
            }
            _ => {}
        }
        i += 1;
    }

    apply(&mut out, edits);
    Ok(split_chunks(out, includes))
}

/// Empties a statement's lines (keeping them, so that lines do not move) and drops their edits.
fn blank(out: &mut [String], edits: &mut Vec<(usize, usize, usize, String)>, st: &Statement) {
    for line in &mut out[st.first..=st.last] {
        line.clear();
    }
    edits.retain(|e| e.0 < st.first || e.0 > st.last);
}

/// `include('path')` with one string literal, or `None`.
fn include_path(text: &str) -> Option<String> {
    let rest = text
        .trim()
        .strip_prefix("include")?
        .trim_start()
        .strip_prefix('(')?
        .trim();
    let rest = rest.strip_suffix(')')?.trim();
    let q = rest.chars().next()?;
    if q != '\'' && q != '"' {
        return None;
    }
    let inner = rest.strip_prefix(q)?.strip_suffix(q)?;
    (!inner.contains(q) && !inner.contains('\\')).then(|| inner.to_owned())
}

/// Modules Aurora pre-imports into every config: importing them again is a no-op.
fn is_schema_module(m: &str) -> bool {
    [
        "pystachio",
        "apache.aurora.config",
        "apache.thermos.config",
        "__future__",
    ]
    .iter()
    .any(|p| m == *p || m.strip_prefix(p).is_some_and(|r| r.starts_with('.')))
}

/// Modules without side effects that a config may import: `prepass` binds the names an import
/// asks for to the built-in namespaces of the same name (`python2::modules`).
const PURE_MODULES: &[&str] = &["string", "getpass", "math", "textwrap"];

/// What an import statement becomes: nothing for the schema modules, assignments from the built-in
/// namespaces for the pure modules (`from string import digits` → `digits = string.digits`), and
/// an error for anything else.
fn import_bindings(stmt: &str) -> Result<String, String> {
    let stmt = stmt.trim();
    let refuse = |m: &str| {
        format!(
            "`import {m}` is not supported: .aurora files are evaluated hermetically (no files, environment, network or clock); pass values with --bind instead"
        )
    };
    // (name bound, value) pairs.
    let mut pairs: Vec<(String, String)> = Vec::new();
    if let Some(rest) = stmt.strip_prefix("from") {
        let (module, names) = rest.split_once(" import ").unwrap_or((rest, ""));
        let module = module.trim();
        if is_schema_module(module) {
            return Ok(String::new());
        }
        if !PURE_MODULES.contains(&module) {
            return Err(refuse(module));
        }
        let names = names.trim().trim_start_matches('(').trim_end_matches(')');
        for item in names.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (name, alias) = split_alias(item);
            if name == "*" {
                return Err(format!(
                    "`from {module} import *` is not supported: name what you use"
                ));
            }
            pairs.push((alias.to_owned(), format!("{module}.{name}")));
        }
    } else {
        let rest = stmt.strip_prefix("import").unwrap_or(stmt);
        for item in rest.split(',').map(str::trim) {
            let (module, alias) = split_alias(item);
            if is_schema_module(module) {
                continue;
            }
            if !PURE_MODULES.contains(&module) {
                return Err(refuse(module));
            }
            if alias != module {
                pairs.push((alias.to_owned(), module.to_owned()));
            }
        }
    }
    let ident = |s: &str| {
        !s.is_empty()
            && s.chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
    };
    if pairs
        .iter()
        .any(|(a, v)| !ident(a) || a.contains('.') || !ident(v))
    {
        return Err(format!("cannot read the import statement `{stmt}`"));
    }
    if pairs.is_empty() {
        return Ok(String::new());
    }
    let (names, values): (Vec<String>, Vec<String>) = pairs.into_iter().unzip();
    Ok(format!("{} = {}", names.join(", "), values.join(", ")))
}

/// `name as alias` → (`name`, `alias`); `name` → (`name`, `name`).
fn split_alias(item: &str) -> (&str, &str) {
    let mut words = item.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some(n), Some("as"), Some(a)) => (n, a),
        (Some(n), _, _) => (n, n),
        _ => ("", ""),
    }
}

/// `class Name(Base):` and its body of `field = Type` lines → `Name = __aurora_class__("Name", Base, field = Type, ...)`.
fn class_block(
    raw: &[&str],
    infos: &[LineInfo],
    block: &[Statement],
    out: &mut [String],
    edits: &mut Vec<(usize, usize, usize, String)>,
) -> Result<(), PrepassError> {
    let header = &block[0];
    let err = |st: &Statement, message: &str| PrepassError {
        line: st.first + 1,
        column: st.indent + 1,
        message: message.into(),
    };
    let text = content(raw[header.first], &infos[header.first]);
    let parsed = (|| {
        let rest = text.trim().strip_prefix("class")?;
        let (name, rest) = rest.split_once('(')?;
        let (base, rest) = rest.split_once(')')?;
        let tail = rest.trim().strip_prefix(':')?.trim();
        Some((name.trim(), base.trim(), tail))
    })();
    let Some((name, base, tail)) = parsed else {
        return Err(err(
            header,
            "expected `class Name(Struct):` (a class needs exactly one base: Struct or another struct)",
        ));
    };
    let ident = |s: &str| {
        !s.is_empty()
            && s.split('.')
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_alphanumeric() || c == '_'))
    };
    if !ident(name) || name.contains('.') || !ident(base) || header.first != header.last {
        return Err(err(
            header,
            "expected `class Name(Struct):` (a class needs exactly one base: Struct or another struct)",
        ));
    }
    if !tail.is_empty() && tail != "pass" {
        return Err(err(header, "put each class field on its own line"));
    }
    for e in edits.iter_mut().filter(|e| e.0 == header.first) {
        e.1 = usize::MAX; // the header is rewritten whole
    }
    edits.retain(|e| e.1 != usize::MAX);
    let mut last_field_line = header.first;
    let mut last_field_end = 0;
    out[header.first] = format!("{name} = __aurora_class__(\"{name}\", {base}");
    last_field_end = last_field_end.max(out[header.first].len());
    let mut header_only = true;
    for st in &block[1..] {
        let text = content(raw[st.first], &infos[st.first]);
        let trimmed = text.trim();
        let is_docstring = trimmed.starts_with(['"', '\'']);
        if trimmed == "pass" || is_docstring {
            blank(out, edits, st);
            continue;
        }
        let word = first_word(text);
        let after = trimmed[word.len()..].trim_start();
        if word.is_empty()
            || word == "def"
            || word == "class"
            || !after.starts_with('=')
            || after.starts_with("==")
        {
            return Err(err(
                st,
                "only `field = Type(...)` assignments are supported in a class body",
            ));
        }
        // A leading comma in the indentation keeps the columns of the field itself.
        edits.push((st.first, st.indent - 1, 1, ",".into()));
        last_field_line = st.last;
        last_field_end = infos[st.last].content_end;
        header_only = false;
    }
    if header_only {
        out[header.first].push(')');
    } else {
        edits.push((last_field_line, last_field_end, 0, ")".into()));
    }
    Ok(())
}

fn apply(out: &mut [String], mut edits: Vec<(usize, usize, usize, String)>) {
    edits.sort_by(|a, b| (a.0, b.1).cmp(&(b.0, a.1)));
    for (line, pos, len, text) in edits {
        let l = &mut out[line];
        if pos <= l.len()
            && pos + len <= l.len()
            && l.is_char_boundary(pos)
            && l.is_char_boundary(pos + len)
        {
            l.replace_range(pos..pos + len, &text);
        }
    }
}

fn split_chunks(out: Vec<String>, includes: Vec<(usize, String, usize)>) -> Vec<Chunk> {
    let mut chunks = Vec::new();
    let mut start = 0;
    let push_code = |from: usize, to: usize, chunks: &mut Vec<Chunk>| {
        if out[from..to].iter().all(|l| l.trim().is_empty()) {
            return;
        }
        let mut text = "\n".repeat(from);
        text.push_str(&out[from..to].join("\n"));
        if !text.ends_with('\n') {
            text.push('\n');
        }
        chunks.push(Chunk::Code(text));
    };
    for (line, path, column) in includes {
        push_code(start, line, &mut chunks);
        chunks.push(Chunk::Include {
            path,
            line: line + 1,
            column,
        });
        start = line + 1;
    }
    push_code(start, out.len(), &mut chunks);
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(src: &str) -> String {
        match prepass(src).unwrap().as_slice() {
            [Chunk::Code(c)] => c.clone(),
            other => panic!("expected one chunk, got {other:?}"),
        }
    }

    fn line_of(text: &str, needle: &str) -> usize {
        text.lines()
            .position(|l| l.contains(needle))
            .expect("needle present")
            + 1
    }

    #[test]
    fn classes_become_calls_on_the_same_lines() {
        let src = "# header\nclass Settings(Struct):\n  \"\"\"docs\"\"\"\n  greeting = Default(String, 'hi')   # comment\n  count = Required(Integer)\n\nx = 1\n";
        let out = code(src);
        assert_eq!(out.lines().count(), src.lines().count());
        assert_eq!(
            line_of(&out, "Settings = __aurora_class__(\"Settings\", Struct"),
            2
        );
        assert_eq!(line_of(&out, "greeting = Default"), 4);
        assert_eq!(line_of(&out, "count = Required(Integer))"), 5);
        assert!(out.contains(",greeting") && out.contains(",count"), "{out}");
        assert!(!out.contains("docs"));
        assert_eq!(line_of(&out, "x = 1"), 7);
    }

    #[test]
    fn multiline_fields_and_trailing_comments() {
        let src = "class A(Struct):\n  a = Default(List(String), [\n    'x',  # first\n  ])\n  b = Default(String, '''multi\nline''')  # last\ny = A\n";
        let out = code(src);
        assert_eq!(out.lines().count(), src.lines().count());
        assert!(out.contains("line''')"), "{out}");
        assert!(out.contains("# last"), "{out}");
        assert_eq!(line_of(&out, "y = A"), 7);
    }

    #[test]
    fn empty_and_pass_classes() {
        assert!(
            code("class A(Struct):\n  pass\n").starts_with("A = __aurora_class__(\"A\", Struct)")
        );
        assert!(code("class A(Struct): pass\n").starts_with("A = __aurora_class__(\"A\", Struct)"));
    }

    #[test]
    fn class_errors_name_their_line() {
        let e = prepass("x = 1\nclass A(Struct):\n  def f(self):\n    return 1\n").unwrap_err();
        assert_eq!((e.line, e.column), (3, 3));
        assert!(e.message.contains("only `field = Type(...)`"));
        assert!(prepass("class A:\n  x = String\n").is_err());
        assert!(prepass("class A(B, C):\n  x = String\n").is_err());
        assert_eq!(
            prepass("if True:\n  class A(Struct):\n    x = String\n")
                .unwrap_err()
                .line,
            2
        );
    }

    #[test]
    fn is_and_is_not_outside_strings() {
        let out = code("a = x is None\nb = x is not None\nc = 'x is y'  # is\nthis_is = is_ok\n");
        assert!(out.contains("a = x == None"));
        assert!(out.contains("b = x !=     None"), "{out}");
        assert!(out.contains("'x is y'  # is"));
        assert!(out.contains("this_is = is_ok"));
    }

    #[test]
    fn schema_imports_vanish_and_others_are_refused() {
        let out = code(
            "from pystachio import *\nimport apache.aurora.config.schema.base as b\nfrom __future__ import (\n  print_function)\nx = 1\n",
        );
        assert_eq!(line_of(&out, "x = 1"), 5);
        assert!(!out.contains("import"));
        let e = prepass("x = 1\nimport os\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.message.contains("`import os`") && e.message.contains("hermetic"));
        assert!(
            prepass("from os.path import join\n")
                .unwrap_err()
                .message
                .contains("os.path")
        );
    }

    #[test]
    fn include_splits_the_file_with_padding() {
        let chunks = prepass("a = 1\ninclude('lib/x.aurora')  # shared\nb = 2\n").unwrap();
        assert_eq!(chunks.len(), 3);
        assert_eq!(
            chunks[1],
            Chunk::Include {
                path: "lib/x.aurora".into(),
                line: 2,
                column: 1
            }
        );
        let Chunk::Code(c) = &chunks[2] else { panic!() };
        assert_eq!(line_of(c, "b = 2"), 3);
        // Not a literal, or not top level: left for the evaluator to refuse.
        assert_eq!(prepass("include(x)\n").unwrap().len(), 1);
        assert_eq!(prepass("if x:\n  include('a')\n").unwrap().len(), 1);
    }

    #[test]
    fn python2_literals_and_print() {
        let out = code("s = u'text'\nn = 10L\nprint 'hello', n\nprint('fine')\n");
        assert!(out.contains("s =  'text'"), "{out}");
        assert!(out.contains("n = 10 "), "{out}");
        assert!(out.contains("print('hello', n)"), "{out}");
        assert!(out.contains("print('fine')"));
    }

    #[test]
    fn a_docstring_after_a_statement_is_its_own_statement() {
        let out = code(
            "cmd = 'echo hi'\n\"\"\"\nNotes.\n\"\"\"\nclass A(Struct):\n  '''Two\n  lines.'''\n  x = String\n",
        );
        assert!(out.starts_with("cmd = 'echo hi'\n\"\"\"\n"), "{out}");
        assert!(out.contains("A = __aurora_class__(\"A\", Struct"), "{out}");
        assert_eq!(prepass("\x0c\u{a0}print x\n").map(|_| ()), Ok(()));
    }

    #[test]
    fn unsupported_statements_have_hints() {
        assert!(
            prepass("while True:\n  x = 1\n")
                .unwrap_err()
                .message
                .contains("range")
        );
        assert!(
            prepass("try:\n  x = 1\nexcept:\n  pass\n")
                .unwrap_err()
                .message
                .contains("fail(")
        );
        assert!(prepass("x = 'while'\n# try\n").is_ok());
    }

    #[test]
    fn crlf_input_keeps_its_lines() {
        let out = code("a = 1\r\nb = x is None\r\n");
        assert!(out.contains("b = x == None"));
        assert_eq!(out.lines().count(), 2);
    }

    #[test]
    fn never_panics_on_noise() {
        let alphabet: Vec<char> = "class(Struct):\n =\"'#is not import include(' x\\u10L[]{}\t\r"
            .chars()
            .collect();
        let mut state: u64 = 0x9E3779B97F4A7C15;
        for _ in 0..5000 {
            let mut s = String::new();
            for _ in 0..(state % 80) {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                s.push(alphabet[(state % alphabet.len() as u64) as usize]);
            }
            let _ = prepass(&s);
        }
    }
}
