//! Every expected string below was produced by CPython 2.7.18 (`'fmt' % args`,
//! `'fmt'.format(*args, **kwargs)`, `format(value, spec)`, `str(v)`, `repr(v)`); `struct(b=5)`
//! stands for an object with attribute `b`. The random doubles and fields were drawn once (seeded)
//! from a differential run of 12,000 random cases against CPython, which matched in full.

use super::*;
use starlark::environment::{GlobalsBuilder, LibraryExtension, Module};
use starlark::eval::Evaluator;
use starlark::syntax::{AstModule, Dialect};

/// Evaluates the Starlark expression `expr` and hands its value to `f`.
pub(super) fn with_value<R>(expr: &str, f: impl for<'v> FnOnce(Value<'v>, Heap<'v>) -> R) -> R {
    let globals = GlobalsBuilder::extended_by(&[LibraryExtension::StructType]).build();
    Module::with_temp_heap(|module| {
        let mut eval = Evaluator::new(&module);
        let ast = AstModule::parse("test.star", expr.to_owned(), &Dialect::Extended)
            .expect("test expression parses");
        let v = eval
            .eval_module(ast, &globals)
            .expect("test expression evaluates");
        f(v, module.heap())
    })
}

pub(super) fn outcome(r: Result<String>) -> Result<String, String> {
    r.map_err(|e| e.to_string())
}

pub(super) fn want(w: Result<&str, &str>) -> Result<String, String> {
    w.map(str::to_owned).map_err(str::to_owned)
}

pub(super) fn check_str(expr: &str, w: Result<&str, &str>) {
    let got = with_value(expr, |v, _| py_str(v));
    assert_eq!(Ok(got), want(w), "str({expr})");
}

pub(super) fn check_repr(expr: &str, w: Result<&str, &str>) {
    let got = with_value(expr, |v, _| py_repr(v));
    assert_eq!(Ok(got), want(w), "repr({expr})");
}

pub(super) fn check_percent(fmt: &str, args: &str, w: Result<&str, &str>) {
    let got = with_value(args, |v, heap| outcome(percent(fmt, v, heap)));
    assert_eq!(got, want(w), "{fmt:?} % {args}");
}

pub(super) fn check_format(fmt: &str, args: &str, kwargs: &str, w: Result<&str, &str>) {
    let expr = format!("({args}, {kwargs})");
    let got = with_value(&expr, |v, heap| {
        let pair = TupleRef::from_value(v).expect("a pair").content();
        let args = ListRef::from_value(pair[0])
            .expect("a list")
            .content()
            .to_vec();
        let dict = DictRef::from_value(pair[1]).expect("a dict");
        let kwargs: Vec<(&str, Value<'_>)> = dict
            .iter()
            .map(|(k, v)| (k.unpack_str().expect("a string key"), v))
            .collect();
        outcome(format(fmt, &args, &kwargs, heap))
    });
    assert_eq!(got, want(w), "{fmt:?}.format(*{args}, **{kwargs})");
}

pub(super) fn check_format_value(expr: &str, spec: &str, w: Result<&str, &str>) {
    let got = with_value(expr, |v, _| outcome(format_value(v, spec)));
    assert_eq!(got, want(w), "format({expr}, {spec:?})");
}

mod percent;
mod random;

#[test]
fn format_conversions_and_nesting() {
    check_format("{0!r:}", "['a']", "{}", Ok("'a'"));
    check_format("{0!r:>5}", "['a']", "{}", Ok("  'a'"));
    check_format("{0!s}", "['a']", "{}", Ok("a"));
    check_format("{!r}", "[1.1]", "{}", Ok("1.1"));
    check_format("{!r}", "[1.0/3]", "{}", Ok("0.3333333333333333"));
    check_format("{!s}", "[1.0/3]", "{}", Ok("0.333333333333"));
    check_format("{}", "[1.0/3]", "{}", Ok("0.333333333333"));
    check_format("{:}", "[1.0/3]", "{}", Ok("0.333333333333"));
    check_format(
        "{!r}",
        "[100000000000000000000]",
        "{}",
        Ok("100000000000000000000L"),
    );
    check_format(
        "{}",
        "[100000000000000000000]",
        "{}",
        Ok("100000000000000000000"),
    );
    check_format("{!s:>5}", "[[1]]", "{}", Ok("  [1]"));
    check_format("{!r:>8}", "[[1]]", "{}", Ok("     [1]"));
    check_format("{0!r}", "[None]", "{}", Ok("None"));
    check_format("{0}", "[None]", "{}", Ok("None"));
    check_format("{:{}}", "['a', 5]", "{}", Ok("a    "));
    check_format("{:{w}}", "['a']", "{'w': 5}", Ok("a    "));
    check_format("{0:{1}{2}}", "['a', '>', 5]", "{}", Ok("    a"));
    check_format("{:{}} {}", "['a', 3, 'b']", "{}", Ok("a   b"));
    check_format(
        "{0:{{}}}",
        "[1]",
        "{}",
        Err("Invalid conversion specification"),
    );
    check_format(
        "{0:{a:{b}}}",
        "[1]",
        "{'a': 1, 'b': 2}",
        Err("Max string recursion exceeded"),
    );
    check_format("{0:{a{b}}}", "[1]", "{}", Err("KeyError: 'a{b}'"));
    check_format(
        "{0:{a{b}}}",
        "[1]",
        "{'a{b}': 5}",
        Err("Max string recursion exceeded"),
    );
    check_format(
        "{0:{}}",
        "[1, 2]",
        "{}",
        Err("cannot switch from manual field specification to automatic field numbering"),
    );
    check_format(
        "{:{0}}",
        "[1]",
        "{}",
        Err("cannot switch from automatic field numbering to manual field specification"),
    );
    check_format("{:{}}", "[1]", "{}", Err("tuple index out of range"));
    check_format("{0:{1}}", "[1, 'x']", "{}", Ok("1"));
    check_format("{0!r:{1}}", "['a', 5]", "{}", Ok("'a'  "));
    check_format("{:{}{}}", "[1, '>', 4]", "{}", Ok("   1"));
    check_format("{:{}} {:{}}", "[1, 3, 2, 4]", "{}", Ok("  1    2"));
    check_format("{0:{1}}", "[3, '']", "{}", Ok("3"));
    check_format(
        "{a:{b}:x}",
        "[]",
        "{'a': 1, 'b': ''}",
        Err("Invalid conversion specification"),
    );
    check_format(
        "{0:{1}:}",
        "[1, 2]",
        "{}",
        Err("Unknown format code ':' for object of type 'int'"),
    );
    check_format(
        "{:{}}",
        "[1, '{}']",
        "{}",
        Err("Invalid conversion specification"),
    );
    check_format("{0:{1}.{2}f}", "[3.14159, 8, 2]", "{}", Ok("    3.14"));
    check_format("{0:d}", "[1, 2]", "{}", Ok("1"));
}

#[test]
fn format_errors_and_escapes() {
    check_format("{}", "[]", "{}", Err("tuple index out of range"));
    check_format("{1}", "[1]", "{}", Err("tuple index out of range"));
    check_format(
        "{0} {}",
        "[1, 2]",
        "{}",
        Err("cannot switch from manual field specification to automatic field numbering"),
    );
    check_format(
        "{} {0}",
        "[1, 2]",
        "{}",
        Err("cannot switch from automatic field numbering to manual field specification"),
    );
    check_format("{a}", "[]", "{}", Err("KeyError: 'a'"));
    check_format("{a}", "[]", "{'b': 1}", Err("KeyError: 'a'"));
    check_format(
        "}",
        "[]",
        "{}",
        Err("Single '}' encountered in format string"),
    );
    check_format(
        "{",
        "[]",
        "{}",
        Err("Single '{' encountered in format string"),
    );
    check_format(
        "a}b",
        "[]",
        "{}",
        Err("Single '}' encountered in format string"),
    );
    check_format("{{}}", "[]", "{}", Ok("{}"));
    check_format("{{", "[]", "{}", Ok("{"));
    check_format("}}", "[]", "{}", Ok("}"));
    check_format("{{{0}}}", "[1]", "{}", Ok("{1}"));
    check_format("{0", "[1]", "{}", Err("unmatched '{' in format"));
    check_format("{0:", "[1]", "{}", Err("unmatched '{' in format"));
    check_format("{0!", "[1]", "{}", Err("unmatched '{' in format"));
    check_format(
        "{0!}",
        "[1]",
        "{}",
        Err("end of format while looking for conversion specifier"),
    );
    check_format(
        "{!}",
        "[1]",
        "{}",
        Err("end of format while looking for conversion specifier"),
    );
    check_format("{0!x}", "[1]", "{}", Err("Unknown conversion specifier x"));
    check_format(
        "{0!rr}",
        "[1]",
        "{}",
        Err("expected ':' after format specifier"),
    );
    check_format(
        "{0!\u{1}}",
        "[1]",
        "{}",
        Err("Unknown conversion specifier \\x1"),
    );
    check_format(
        "{0! }",
        "[1]",
        "{}",
        Err("Unknown conversion specifier \\x20"),
    );
    check_format(
        "{0!\u{7f}}",
        "[1]",
        "{}",
        Err("Unknown conversion specifier \\x7f"),
    );
    check_format(
        "{0:}}",
        "[1]",
        "{}",
        Err("Single '}' encountered in format string"),
    );
    check_format(
        "{0:x}}",
        "[1]",
        "{}",
        Err("Single '}' encountered in format string"),
    );
    check_format(
        "{0:}x}",
        "[1]",
        "{}",
        Err("Single '}' encountered in format string"),
    );
    check_format("{0[{]}", "[{'{': 1}]", "{}", Err("unmatched '{' in format"));
    check_format(
        "{0[}]}",
        "[{'}': 1}]",
        "{}",
        Err("Missing ']' in format string"),
    );
    check_format("{!r}", "[]", "{}", Err("tuple index out of range"));
    check_format("plain text", "[]", "{}", Ok("plain text"));
    check_format("é{}é", "['ü']", "{}", Ok("éüé"));
}

#[test]
fn format_fields() {
    check_format("{} {}", "[1, 2]", "{}", Ok("1 2"));
    check_format("{0}{1}{0}", "['a', 'b']", "{}", Ok("aba"));
    check_format("{a} {}", "[1]", "{'a': 2}", Ok("2 1"));
    check_format("{} {a}", "[1]", "{'a': 2}", Ok("1 2"));
    check_format("{00}", "[1]", "{}", Ok("1"));
    check_format("x{}y", "['']", "{}", Ok("xy"));
    check_format("{0[a]}", "[{'a': 1}]", "{}", Ok("1"));
    check_format("{0[0]}", "[{0: 1}]", "{}", Ok("1"));
    check_format("{0[0]}", "[{'0': 1}]", "{}", Err("KeyError: 0L"));
    check_format(
        "{0[-1]}",
        "[[1, 2]]",
        "{}",
        Err("list indices must be integers, not str"),
    );
    check_format("{0[-1]}", "[{'-1': 2}]", "{}", Ok("2"));
    check_format("{0[1]}", "[[1, 2]]", "{}", Ok("2"));
    check_format("{0[5]}", "[[1, 2]]", "{}", Err("list index out of range"));
    check_format("{0[5]}", "[(1, 2)]", "{}", Err("tuple index out of range"));
    check_format(
        "{0[x]}",
        "[[1, 2]]",
        "{}",
        Err("list indices must be integers, not str"),
    );
    check_format("{0[x]}", "[{}]", "{}", Err("KeyError: 'x'"));
    check_format(
        "{0[x]}",
        "[(1,)]",
        "{}",
        Err("tuple indices must be integers, not str"),
    );
    check_format(
        "{0[x]}",
        "['a']",
        "{}",
        Err("string indices must be integers, not str"),
    );
    check_format("{0[1]}", "['a']", "{}", Err("string index out of range"));
    check_format("{0[0]}", "['ab']", "{}", Ok("a"));
    check_format(
        "{0[0]}",
        "[None]",
        "{}",
        Err("'NoneType' object has no attribute '__getitem__'"),
    );
    check_format(
        "{0[0]}",
        "[1.5]",
        "{}",
        Err("'float' object has no attribute '__getitem__'"),
    );
    check_format(
        "{0[0]}",
        "[5]",
        "{}",
        Err("'int' object has no attribute '__getitem__'"),
    );
    check_format("{0[0][1]}", "[[[1, 2]]]", "{}", Ok("2"));
    check_format(
        "{0[ 0]}",
        "[[1]]",
        "{}",
        Err("list indices must be integers, not str"),
    );
    check_format("{0[0 ]}", "[{'0 ': 1}]", "{}", Ok("1"));
    check_format("{0[1][0]}", "[{'1': 'xy'}]", "{}", Err("KeyError: 1L"));
    check_format("{0.b}", "[struct(b=5)]", "{}", Ok("5"));
    check_format(
        "{0.c}",
        "[struct(b=5)]",
        "{}",
        Err("'struct' object has no attribute 'c'"),
    );
    check_format("{s.b:>4}", "[]", "{'s': struct(b=5)}", Ok("   5"));
    check_format("{0[a].b}", "[{'a': struct(b=5)}]", "{}", Ok("5"));
    check_format("{0.b[1]}", "[struct(b=[7, 8])]", "{}", Ok("8"));
    check_format(
        "{0.x}",
        "[None]",
        "{}",
        Err("'NoneType' object has no attribute 'x'"),
    );
    check_format(
        "{0.x}",
        "['a']",
        "{}",
        Err("'str' object has no attribute 'x'"),
    );
    check_format(
        "{0.x}",
        "[[]]",
        "{}",
        Err("'list' object has no attribute 'x'"),
    );
    check_format(
        "{0[a]x}",
        "[{'a': 1}]",
        "{}",
        Err("Only '.' or '[' may follow ']' in format field specifier"),
    );
    check_format(
        "{0[a}",
        "[{'a': 1}]",
        "{}",
        Err("Missing ']' in format string"),
    );
    check_format(
        "{0[:]}",
        "[{':': 1}]",
        "{}",
        Err("Missing ']' in format string"),
    );
    check_format(
        "{0.}",
        "[struct(b=5)]",
        "{}",
        Err("Empty attribute in format string"),
    );
    check_format(
        "{0[]}",
        "[{'': 1}]",
        "{}",
        Err("Empty attribute in format string"),
    );
    check_format(
        "{0..b}",
        "[struct(b=5)]",
        "{}",
        Err("Empty attribute in format string"),
    );
    check_format(
        "{a.b[c]}",
        "[]",
        "{'a': 1}",
        Err("'int' object has no attribute 'b'"),
    );
    check_format("{ a}", "[]", "{' a': 1}", Ok("1"));
    check_format("{0[{}]}", "[{'{}': 1}]", "{}", Ok("1"));
    check_format("{a{b}}", "[]", "{'a{b}': 1}", Ok("1"));
    check_format("{0[é]}", "[{'é': 1}]", "{}", Ok("1"));
    check_format(
        "{0[99999999999999999999]}",
        "[[1]]",
        "{}",
        Err("Too many decimal digits in format string"),
    );
    check_format(
        "{99999999999999999999}",
        "[1]",
        "{}",
        Err("Too many decimal digits in format string"),
    );
}

#[test]
fn format_spec_floats() {
    check_format_value("1.0/3", "", Ok("0.333333333333"));
    check_format_value("2.5", "", Ok("2.5"));
    check_format_value("1e16", ">10", Ok("     1e+16"));
    check_format_value("2.0", ">5", Ok("  2.0"));
    check_format_value("1.0/3", ".3", Ok("0.333"));
    check_format_value("2.0", ".3", Ok("2.0"));
    check_format_value("1e16", "", Ok("1e+16"));
    check_format_value("123456789012.0", "", Ok("1.23456789012e+11"));
    check_format_value("1234567890123.0", ">5", Ok("1.23456789012e+12"));
    check_format_value("0.1", ".20", Ok("0.10000000000000000555"));
    check_format_value("1.5", ".0", Ok("2e+00"));
    check_format_value("12345.6", ".2", Ok("1.2e+04"));
    check_format_value("2.25", ".1f", Ok("2.2"));
    check_format_value("0.25", "%", Ok("25.000000%"));
    check_format_value(
        "2.0",
        "d",
        Err("Unknown format code 'd' for object of type 'float'"),
    );
    check_format_value(
        "1.5",
        "x",
        Err("Unknown format code 'x' for object of type 'float'"),
    );
    check_format_value(
        "1.5",
        "#",
        Err("Alternate form (#) not allowed in float format specifier"),
    );
    check_format_value(
        "1.0",
        "#.0f",
        Err("Alternate form (#) not allowed in float format specifier"),
    );
    check_format_value(
        "1.0",
        "#g",
        Err("Alternate form (#) not allowed in float format specifier"),
    );
    check_format_value("1.5", "n", Ok("1.5"));
    check_format_value("1234567.5", "n", Ok("1.23457e+06"));
    check_format_value("1.0", "n", Ok("1"));
    check_format_value("1234.5", ".3n", Ok("1.23e+03"));
    check_format_value("float('inf')", "010", Ok("0000000inf"));
    check_format_value("float('nan')", "+F", Ok("+NAN"));
    check_format_value("-0.0", "", Ok("-0.0"));
    check_format_value("-0.0", "+.1f", Ok("-0.0"));
    check_format_value("0.5", ".0%", Ok("50%"));
    check_format_value("1.0", "e", Ok("1.000000e+00"));
    check_format_value("1.0", "E", Ok("1.000000E+00"));
    check_format_value("1e-5", "G", Ok("1E-05"));
    check_format_value("2.5", "=10", Ok("       2.5"));
    check_format_value("-2.5", "=10", Ok("-      2.5"));
    check_format_value("-2.5", "010", Ok("-0000002.5"));
    check_format_value("1234.5", ",", Ok("1,234.5"));
    check_format_value("1e20", ",", Ok("1e+20"));
    check_format_value("-1234567.125", ",", Ok("-1,234,567.125"));
    check_format_value("1e22", "", Ok("1e+22"));
    check_format_value("1e22", ",", Ok("1e+22"));
    check_format_value("1234.5", ",.2%", Ok("123,450.00%"));
    check_format_value("1234.5", ",.3e", Ok("1.234e+03"));
    check_format_value("1234567.0", ",g", Ok("1.23457e+06"));
    check_format_value("1234567.0", ",", Ok("1,234,567.0"));
    check_format_value("123456789012.0", ",", Ok("1.23456789012e+11"));
    check_format_value("-0.05", ",.1f", Ok("-0.1"));
    check_format_value("0.125", ".0%", Ok("12%"));
    check_format_value("float('inf')", ".1%", Ok("inf%"));
    check_format_value("-float('inf')", "e", Ok("-inf"));
    check_format_value("-float('inf')", "E", Ok("-INF"));
    check_format_value("float('nan')", "+", Ok("+nan"));
    check_format_value("1.5", " ", Ok(" 1.5"));
    check_format_value("-1.5", "08.3f", Ok("-001.500"));
    check_format_value("1.5", "^9.2f", Ok("  1.50   "));
    check_format_value("1.5", "x^+9.2f", Ok("xx+1.50xx"));
    check_format_value("1234.5", "012,.2f", Ok("0,001,234.50"));
    check_format_value(
        "1e300",
        ",.0f",
        Ok(
            "1,000,000,000,000,000,052,504,760,255,204,420,248,704,468,581,108,159,154,915,854,115,511,802,457,988,908,195,786,371,375,080,447,864,043,704,443,832,883,878,176,942,523,235,360,430,575,644,792,184,786,706,982,848,387,200,926,575,803,737,830,233,794,788,090,059,368,953,234,970,799,945,081,119,038,967,640,880,074,652,742,780,142,494,579,258,788,820,056,842,838,115,669,472,196,386,865,459,400,540,160",
        ),
    );
    check_format_value("1.0/3", "g", Ok("0.333333"));
    check_format_value("1.0/3", ">15", Ok(" 0.333333333333"));
    check_format_value(
        "0.1",
        ".60f",
        Ok("0.100000000000000005551115123125782702118158340454101562500000"),
    );
    check_format_value("2.675", ".2f", Ok("2.67"));
    check_format_value("0.5", ".0f", Ok("0"));
    check_format_value("1e-7", "", Ok("1e-07"));
    check_format_value("1e-7", "f", Ok("0.000000"));
    check_format_value("1e-7", ".3", Ok("1e-07"));
    check_format_value("100.0", ".2", Ok("1e+02"));
    check_format_value("100.0", ".3", Ok("1e+02"));
    check_format_value("99.99", ".3", Ok("1e+02"));
    check_format_value("1e16", ".17", Ok("1e+16"));
    check_format_value("0.0", "", Ok("0.0"));
    check_format_value("0.0", "e", Ok("0.000000e+00"));
    check_format_value("0.0", ".0", Ok("0e+00"));
    check_format_value("float('nan')", "=^9", Ok("===nan==="));
    check_format_value(
        "3.0",
        "c",
        Err("Unknown format code 'c' for object of type 'float'"),
    );
    check_format_value(
        "3.0",
        "s",
        Err("Unknown format code 's' for object of type 'float'"),
    );
    check_format_value(
        "1.5",
        "q",
        Err("Unknown format code 'q' for object of type 'float'"),
    );
}

#[test]
fn format_spec_integers() {
    check_format_value("7", "03d", Ok("007"));
    check_format_value("255", "x", Ok("ff"));
    check_format_value("255", "X", Ok("FF"));
    check_format_value("255", "#x", Ok("0xff"));
    check_format_value("255", "#X", Ok("0XFF"));
    check_format_value("255", "#o", Ok("0o377"));
    check_format_value("255", "#b", Ok("0b11111111"));
    check_format_value("255", "b", Ok("11111111"));
    check_format_value("-255", "#010x", Ok("-0x00000ff"));
    check_format_value("255", "=+10", Ok("+      255"));
    check_format_value("255", "^10", Ok("   255    "));
    check_format_value("255", "*^11", Ok("****255****"));
    check_format_value("255", " ", Ok(" 255"));
    check_format_value("-3", " ", Ok("-3"));
    check_format_value(
        "3",
        ".2",
        Err("Precision not allowed in integer format specifier"),
    );
    check_format_value("3", "e", Ok("3.000000e+00"));
    check_format_value("3", "%", Ok("300.000000%"));
    check_format_value("3", "n", Ok("3"));
    check_format_value("1234567", "n", Ok("1234567"));
    check_format_value(
        "3",
        "q",
        Err("Unknown format code 'q' for object of type 'int'"),
    );
    check_format_value("3", "G", Ok("3"));
    check_format_value(
        "3",
        "s",
        Err("Unknown format code 's' for object of type 'int'"),
    );
    check_format_value("1234567", ",", Ok("1,234,567"));
    check_format_value("1234", "010,", Ok("00,001,234"));
    check_format_value("1234", "09,", Ok("0,001,234"));
    check_format_value("1234", "08,", Ok("0,001,234"));
    check_format_value("-1234", "010,", Ok("-0,001,234"));
    check_format_value("1234", ",d", Ok("1,234"));
    check_format_value("1234", ",x", Err("Cannot specify ',' with 'x'."));
    check_format_value("1234", ",c", Err("Cannot specify ',' with 'c'."));
    check_format_value("65", "c", Ok("A"));
    check_format_value(
        "65",
        "+c",
        Err("Sign not allowed with integer format specifier 'c'"),
    );
    check_format_value("65", "#c", Ok("A"));
    check_format_value("300", "c", Err("%c arg not in range(0x100)"));
    check_format_value("-1", "c", Err("%c arg not in range(0x100)"));
    check_format_value("0", "c", Ok("\u{0}"));
    check_format_value("65", "5c", Ok("    A"));
    check_format_value("65", "05c", Ok("0000A"));
    check_format_value("65", ">3c", Ok("  A"));
    check_format_value("65", "=5c", Ok("    A"));
    check_format_value("3", "<05", Ok("30000"));
    check_format_value("3", "0<5", Ok("30000"));
    check_format_value("3", "=^5", Ok("==3=="));
    check_format_value("5", "=5", Ok("    5"));
    check_format_value("5", "0=5", Ok("00005"));
    check_format_value("-5", "0^6", Ok("00-500"));
    check_format_value("-5", "x<+6", Ok("-5xxxx"));
    check_format_value("0", "#b", Ok("0b0"));
    check_format_value("3", "^=10", Ok("^^^^^^^^^3"));
    check_format_value("3", "", Ok("3"));
    check_format_value("-3", "", Ok("-3"));
    check_format_value("3", "+", Ok("+3"));
    check_format_value("True", "", Ok("True"));
    check_format_value("False", "", Ok("False"));
    check_format_value("True", "d", Ok("1"));
    check_format_value("True", ">5", Ok("    1"));
    check_format_value("False", "x", Ok("0"));
    check_format_value(
        "True",
        "s",
        Err("Unknown format code 's' for object of type 'bool'"),
    );
    check_format_value("True", "f", Ok("1.000000"));
    check_format_value(
        "True",
        ".2",
        Err("Precision not allowed in integer format specifier"),
    );
    check_format_value("True", "c", Ok("\u{1}"));
    check_format_value(
        "100000000000000000000",
        ",",
        Ok("100,000,000,000,000,000,000"),
    );
    check_format_value("100000000000000000000", "x", Ok("56bc75e2d63100000"));
    check_format_value("-100000000000000000000", "#x", Ok("-0x56bc75e2d63100000"));
    check_format_value(
        "-100000000000000000000",
        "020,",
        Ok("-100,000,000,000,000,000,000"),
    );
    check_format_value(
        "100000000000000000000",
        "c",
        Err("Python int too large to convert to C long"),
    );
    check_format_value(
        "100000000000000000000",
        "f",
        Ok("100000000000000000000.000000"),
    );
    check_format_value(
        "100000000000000000000",
        "s",
        Err("Unknown format code 's' for object of type 'long'"),
    );
    check_format_value("100000000000000000000", "", Ok("100000000000000000000"));
    check_format_value(
        "100000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "f",
        Err("long int too large to convert to float"),
    );
    check_format_value(
        "100000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
        "e",
        Err("long int too large to convert to float"),
    );
    check_format_value(
        "5",
        "99999999999999999999",
        Err("Too many decimal digits in format string"),
    );
    check_format_value("5", "1x1", Err("Invalid conversion specification"));
    check_format_value("5", ".f", Err("Format specifier missing precision"));
    check_format_value(
        "-9223372036854775808",
        "b",
        Ok("-1000000000000000000000000000000000000000000000000000000000000000"),
    );
    check_format_value("123456789", "_^+20,", Ok("____+123,456,789____"));
    check_format_value(
        "1",
        "\u{7f}",
        Err("Unknown format code '\u{7f}' for object of type 'int'"),
    );
}

#[test]
fn format_spec_strings() {
    check_format_value("'ab'", ">8", Ok("      ab"));
    check_format_value("'ab'", "^6", Ok("  ab  "));
    check_format_value("'ab'", "*^7", Ok("**ab***"));
    check_format_value("'abc'", ".2", Ok("ab"));
    check_format_value(
        "'ab'",
        "+",
        Err("Sign not allowed in string format specifier"),
    );
    check_format_value(
        "'ab'",
        "#",
        Err("Alternate form (#) not allowed in string format specifier"),
    );
    check_format_value(
        "'ab'",
        "=5",
        Err("'=' alignment not allowed in string format specifier"),
    );
    check_format_value(
        "'ab'",
        "d",
        Err("Unknown format code 'd' for object of type 'str'"),
    );
    check_format_value("'ab'", ",", Err("Cannot specify ',' with 's'."));
    check_format_value("'ab'", ".", Err("Format specifier missing precision"));
    check_format_value("'ab'", "ss", Err("Invalid conversion specification"));
    check_format_value("'ab'", "5,s", Err("Cannot specify ',' with 's'."));
    check_format_value(
        "'ab'",
        "\u{1}",
        Err("Unknown format code '\u{1}' for object of type 'str'"),
    );
    check_format_value(
        "'ab'",
        "05",
        Err("'=' alignment not allowed in string format specifier"),
    );
    check_format_value("'ab'", "0<5", Ok("ab000"));
    check_format_value("'ab'", "s", Ok("ab"));
    check_format_value("'ab'", "", Ok("ab"));
    check_format_value("'ab'", "<", Ok("ab"));
    check_format_value("'é'", ">4", Ok("  é"));
    check_format_value("'a'", "é^5", Err("Invalid conversion specification"));
    check_format_value("None", ">6", Ok("  None"));
    check_format_value("None", "", Ok("None"));
    check_format_value("None", "s", Ok("None"));
    check_format_value(
        "None",
        "d",
        Err("Unknown format code 'd' for object of type 'str'"),
    );
    check_format_value("[1]", ">5", Ok("  [1]"));
    check_format_value("(1,)", "^7", Ok(" (1,)  "));
    check_format_value("{'a': 1}", "", Ok("{'a': 1}"));
    check_format_value("'x'", "=^10", Ok("====x====="));
    check_format_value("'ab'", "1x1", Err("Invalid conversion specification"));
    check_format_value(
        "'ab'",
        "99999999999999999999",
        Err("Too many decimal digits in format string"),
    );
    check_format_value(
        "'ab'",
        ".99999999999999999999",
        Err("Too many decimal digits in format string"),
    );
}
