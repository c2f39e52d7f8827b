//! The modules without side effects that a config may import (`prepass` turns `import string` and
//! `from getpass import getuser` into names bound from these namespaces): `string`, `getpass`,
//! `math` and `textwrap`, as Python 2.7 has them, as far as configs use them.

use super::{Py2Context, items_of};
use crate::pyformat;
use starlark::environment::GlobalsBuilder;
use starlark::eval::Evaluator;
use starlark::starlark_module;
use starlark::values::{Heap, Value};

/// Python 2's `string` module: its constants and the functions that mirror `str` methods.
#[starlark_module]
fn string_module(builder: &mut GlobalsBuilder) {
    /// `string.join(words, sep=' ')`.
    fn join<'v>(
        #[starlark(require = pos)] words: Value<'v>,
        #[starlark(require = pos)] sep: Option<&str>,
        heap: Heap<'v>,
    ) -> starlark::Result<String> {
        let mut parts = Vec::new();
        for w in items_of(words, heap)? {
            parts.push(pyformat::py_str(w));
        }
        Ok(parts.join(sep.unwrap_or(" ")))
    }

    /// `string.upper(s)`.
    fn upper(#[starlark(require = pos)] s: &str) -> anyhow::Result<String> {
        Ok(s.to_uppercase())
    }

    /// `string.lower(s)`.
    fn lower(#[starlark(require = pos)] s: &str) -> anyhow::Result<String> {
        Ok(s.to_lowercase())
    }

    /// `string.strip(s)`.
    fn strip(#[starlark(require = pos)] s: &str) -> anyhow::Result<String> {
        Ok(s.trim().to_owned())
    }

    /// `string.replace(s, old, new)`.
    fn replace(
        #[starlark(require = pos)] s: &str,
        #[starlark(require = pos)] old: &str,
        #[starlark(require = pos)] new: &str,
    ) -> anyhow::Result<String> {
        Ok(s.replace(old, new))
    }
}

/// Python 2's `getpass` module, as far as a config may use it: the user running the client.
#[starlark_module]
fn getpass_module(builder: &mut GlobalsBuilder) {
    /// `getpass.getuser()`: the name of the user running the client.
    fn getuser(eval: &mut Evaluator<'_, '_, '_>) -> anyhow::Result<String> {
        eval.extra
            .and_then(|e| e.downcast_ref::<Py2Context>())
            .and_then(|c| c.user.clone())
            .ok_or_else(|| {
                anyhow::anyhow!("getpass.getuser(): the user running the client is not known")
            })
    }
}

/// Python 2's `math` module: results are floats, as Python 2's `ceil` and `floor` are.
#[starlark_module]
fn math_module(builder: &mut GlobalsBuilder) {
    /// `math.ceil(x)`: a float.
    fn ceil(#[starlark(require = pos)] x: Value<'_>) -> anyhow::Result<f64> {
        Ok(number(x)?.ceil())
    }

    /// `math.floor(x)`: a float.
    fn floor(#[starlark(require = pos)] x: Value<'_>) -> anyhow::Result<f64> {
        Ok(number(x)?.floor())
    }

    /// `math.fabs(x)`.
    fn fabs(#[starlark(require = pos)] x: Value<'_>) -> anyhow::Result<f64> {
        Ok(number(x)?.abs())
    }

    /// `math.sqrt(x)`.
    fn sqrt(#[starlark(require = pos)] x: Value<'_>) -> anyhow::Result<f64> {
        let x = number(x)?;
        anyhow::ensure!(x >= 0.0, "math domain error");
        Ok(x.sqrt())
    }

    /// `math.log(x[, base])`.
    fn log(
        #[starlark(require = pos)] x: Value<'_>,
        #[starlark(require = pos)] base: Option<Value<'_>>,
    ) -> anyhow::Result<f64> {
        let x = number(x)?;
        anyhow::ensure!(x > 0.0, "math domain error");
        Ok(match base {
            Some(b) => x.ln() / number(b)?.ln(),
            None => x.ln(),
        })
    }

    /// `math.log10(x)`.
    fn log10(#[starlark(require = pos)] x: Value<'_>) -> anyhow::Result<f64> {
        let x = number(x)?;
        anyhow::ensure!(x > 0.0, "math domain error");
        Ok(x.log10())
    }

    /// `math.pow(x, y)`: a float.
    fn pow(
        #[starlark(require = pos)] x: Value<'_>,
        #[starlark(require = pos)] y: Value<'_>,
    ) -> anyhow::Result<f64> {
        Ok(number(x)?.powf(number(y)?))
    }

    /// `math.exp(x)`.
    fn exp(#[starlark(require = pos)] x: Value<'_>) -> anyhow::Result<f64> {
        Ok(number(x)?.exp())
    }

    /// `math.trunc(x)`: an integer.
    fn trunc(#[starlark(require = pos)] x: Value<'_>) -> anyhow::Result<i64> {
        let x = number(x)?;
        anyhow::ensure!(x.is_finite(), "cannot convert float {x} to integer");
        Ok(x.trunc() as i64)
    }
}

fn number(v: Value<'_>) -> anyhow::Result<f64> {
    super::as_f64(v).ok_or_else(|| anyhow::anyhow!("a float is required"))
}

/// Python 2's `textwrap` module, as far as configs use it.
#[starlark_module]
fn textwrap_module(builder: &mut GlobalsBuilder) {
    /// `textwrap.dedent(text)`: the longest run of spaces and tabs common to every line that is not
    /// blank taken off each line; lines of only spaces and tabs emptied.
    fn dedent(#[starlark(require = pos)] text: &str) -> anyhow::Result<String> {
        Ok(dedent_text(text))
    }
}

/// Python 2.7's `textwrap.dedent`.
fn dedent_text(text: &str) -> String {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| {
            if l.bytes().all(|c| c == b' ' || c == b'\t') {
                ""
            } else {
                l
            }
        })
        .collect();
    let mut margin: Option<&str> = None;
    for line in &lines {
        let indent_len = line.len() - line.trim_start_matches([' ', '\t']).len();
        if indent_len == line.len() {
            continue;
        }
        let indent = &line[..indent_len];
        margin = Some(match margin {
            None => indent,
            Some(m) if indent.starts_with(m) => m,
            Some(m) if m.starts_with(indent) => indent,
            Some(m) => {
                let common = m
                    .bytes()
                    .zip(indent.bytes())
                    .take_while(|(a, b)| a == b)
                    .count();
                &m[..common]
            }
        });
    }
    let margin = margin.unwrap_or("");
    lines
        .iter()
        .map(|l| l.strip_prefix(margin).unwrap_or(l))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Adds the namespaces.
pub(super) fn register(builder: &mut GlobalsBuilder) {
    builder.namespace("string", |b| {
        string_module(b);
        let lower = "abcdefghijklmnopqrstuvwxyz";
        let upper = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
        let punctuation = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";
        let whitespace = "\t\n\x0b\x0c\r ";
        let letters = format!("{lower}{upper}");
        let constants: [(&str, String); 11] = [
            ("ascii_lowercase", lower.into()),
            ("ascii_uppercase", upper.into()),
            ("ascii_letters", letters.clone()),
            ("lowercase", lower.into()),
            ("uppercase", upper.into()),
            ("letters", letters.clone()),
            ("digits", "0123456789".into()),
            ("hexdigits", "0123456789abcdefABCDEF".into()),
            ("octdigits", "01234567".into()),
            ("punctuation", punctuation.into()),
            ("whitespace", whitespace.into()),
        ];
        for (name, v) in constants {
            b.set(name, v);
        }
        b.set(
            "printable",
            format!("0123456789{letters}{punctuation}{whitespace}"),
        );
    });
    builder.namespace("getpass", getpass_module);
    builder.namespace("math", |b| {
        math_module(b);
        b.set("pi", std::f64::consts::PI);
        b.set("e", std::f64::consts::E);
    });
    builder.namespace("textwrap", textwrap_module);
}

#[cfg(test)]
mod tests {
    use super::dedent_text;

    #[test]
    fn dedent_as_python_2_7() {
        // Expected values from CPython 2.7.18's textwrap.dedent.
        assert_eq!(dedent_text("  a\n    b\n  c"), "a\n  b\nc");
        assert_eq!(dedent_text("\n    x\n  \n    y\n"), "\nx\n\ny\n");
        assert_eq!(dedent_text("  a\n\tb"), "  a\n\tb");
        assert_eq!(dedent_text("   a\n  \tb"), " a\n\tb");
        assert_eq!(dedent_text("no indent\n  x"), "no indent\n  x");
    }
}
