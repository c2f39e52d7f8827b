//! `%` formatting, `str()` and `repr()`, against CPython 2.7.18.

use super::*;

#[test]
fn percent_errors() {
    check_percent(
        "%q",
        "1",
        Err("unsupported format character 'q' (0x71) at index 1"),
    );
    check_percent("%", "1", Err("incomplete format"));
    check_percent("abc%", "()", Err("incomplete format"));
    check_percent("%5", "1", Err("incomplete format"));
    check_percent("%-", "()", Err("incomplete format"));
    check_percent("%.", "()", Err("incomplete format"));
    check_percent("%.5", "()", Err("incomplete format"));
    check_percent("%l", "()", Err("incomplete format"));
    check_percent("%5.2h", "()", Err("incomplete format"));
    check_percent("%*", "(1,)", Err("incomplete format"));
    check_percent("%q", "()", Err("not enough arguments for format string"));
    check_percent(
        "%\u{1}",
        "1",
        Err("unsupported format character '\u{1}' (0x1) at index 1"),
    );
    check_percent(
        "%\u{7f}",
        "1",
        Err("unsupported format character '\u{7f}' (0x7f) at index 1"),
    );
    check_percent("%d", "'a'", Err("%d format: a number is required, not str"));
    check_percent("%i", "'a'", Err("%d format: a number is required, not str"));
    check_percent(
        "%d",
        "None",
        Err("%d format: a number is required, not NoneType"),
    );
    check_percent("%f", "'a'", Err("float argument required, not str"));
    check_percent("%f", "None", Err("float argument required, not NoneType"));
    check_percent("%e", "'x'", Err("float argument required, not str"));
    check_percent(
        "%d",
        "[1]",
        Err("%d format: a number is required, not list"),
    );
    check_percent("%x", "{}", Err("%x format: a number is required, not dict"));
    check_percent(
        "%d",
        "float('inf')",
        Err("%d format: a number is required, not float"),
    );
    check_percent(
        "%d",
        "float('nan')",
        Err("%d format: a number is required, not float"),
    );
    check_percent("%f", "[1]", Err("float argument required, not list"));
    check_percent("%99999999999999999999d", "1", Err("width too big"));
    check_percent("%.99999999999999999999d", "1", Err("prec too big"));
    check_percent(
        "ab%(x)sc%q",
        "{'x': 1}",
        Err("not enough arguments for format string"),
    );
}

#[test]
fn percent_floats() {
    check_percent("%.1f", "0.25", Ok("0.2"));
    check_percent("%.0f", "0.5", Ok("0"));
    check_percent("%.2f", "2.675", Ok("2.67"));
    check_percent("%.0f", "1.5", Ok("2"));
    check_percent("%.0f", "2.5", Ok("2"));
    check_percent("%f", "1.0/3", Ok("0.333333"));
    check_percent("%f", "3", Ok("3.000000"));
    check_percent("%f", "True", Ok("1.000000"));
    check_percent("%g", "0.0001", Ok("0.0001"));
    check_percent("%g", "0.00001", Ok("1e-05"));
    check_percent("%g", "1e16", Ok("1e+16"));
    check_percent("%g", "123456", Ok("123456"));
    check_percent("%g", "1234567", Ok("1.23457e+06"));
    check_percent("%g", "100000", Ok("100000"));
    check_percent("%g", "1000000", Ok("1e+06"));
    check_percent("%#g", "1.0", Ok("1.00000"));
    check_percent("%#.0f", "1.0", Ok("1."));
    check_percent("%#.0e", "1.0", Ok("1.e+00"));
    check_percent("%e", "0", Ok("0.000000e+00"));
    check_percent("%.3e", "1e100", Ok("1.000e+100"));
    check_percent("%e", "1e-300", Ok("1.000000e-300"));
    check_percent("%g", "-0.0", Ok("-0"));
    check_percent("%+g", "0.0", Ok("+0"));
    check_percent("%e", "1e-5", Ok("1.000000e-05"));
    check_percent("%G", "1e-5", Ok("1E-05"));
    check_percent("%.3g", "1234.5", Ok("1.23e+03"));
    check_percent("%.0g", "1234.5", Ok("1e+03"));
    check_percent("%.0e", "2.5", Ok("2e+00"));
    check_percent("%#.3g", "1.0", Ok("1.00"));
    check_percent("%5.1f|", "-2.25", Ok(" -2.2|"));
    check_percent("%-8.3e|", "12345.678", Ok("1.235e+04|"));
    check_percent("%08.2f", "-3.14159", Ok("-0003.14"));
    check_percent("%+.2e", "0.0", Ok("+0.00e+00"));
    check_percent("%.15g", "0.1", Ok("0.1"));
    check_percent("%.17g", "0.1", Ok("0.10000000000000001"));
    check_percent(
        "%.60g",
        "0.1",
        Ok("0.1000000000000000055511151231257827021181583404541015625"),
    );
    check_percent("%.20f", "0.1", Ok("0.10000000000000000555"));
    check_percent("%E", "123.456", Ok("1.234560E+02"));
    check_percent("%F", "1.5", Ok("1.500000"));
    check_percent(
        "%f",
        "1e50",
        Ok("100000000000000007629769841091887003294964970946560.000000"),
    );
    check_percent(
        "%f",
        "1e300",
        Ok(
            "1000000000000000052504760255204420248704468581108159154915854115511802457988908195786371375080447864043704443832883878176942523235360430575644792184786706982848387200926575803737830233794788090059368953234970799945081119038967640880074652742780142494579258788820056842838115669472196386865459400540160.000000",
        ),
    );
    check_percent("%F", "float('inf')", Ok("INF"));
    check_percent("%f", "float('inf')", Ok("inf"));
    check_percent("%E", "float('nan')", Ok("NAN"));
    check_percent("%G", "-float('inf')", Ok("-INF"));
    check_percent("%010f", "float('inf')", Ok("0000000inf"));
    check_percent("%+f", "float('nan')", Ok("+nan"));
    check_percent("%-6f|", "float('inf')", Ok("inf   |"));
    check_percent(
        "%f",
        "100000000000000000000",
        Ok("100000000000000000000.000000"),
    );
    check_percent("%.3g", "100000000000000000000", Ok("1e+20"));
    check_percent(
        "%f",
        "100000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000",
        Err("float argument required, not long"),
    );
    check_percent("% .3f", "2.0", Ok(" 2.000"));
    check_percent("%+010.3f", "3.14159", Ok("+00003.142"));
    check_percent("%.2f", "-0.001", Ok("-0.00"));
    check_percent("%.12g", "1.0/3", Ok("0.333333333333"));
    check_percent("%#x", "255.9", Ok("0xff"));
    check_percent("%s", "1e16", Ok("1e+16"));
    check_percent("%r", "1e16", Ok("1e+16"));
    check_percent("%s", "0.1", Ok("0.1"));
    check_percent("%.3e", "9.9995", Ok("9.999e+00"));
    check_percent("%.2f", "0.125", Ok("0.12"));
    check_percent("%.2f", "0.375", Ok("0.38"));
    check_percent("%.1e", "0.25", Ok("2.5e-01"));
}

#[test]
fn percent_integers() {
    check_percent("%d", "3.7", Ok("3"));
    check_percent("%d", "-0.5", Ok("0"));
    check_percent("%x", "255.0", Ok("ff"));
    check_percent("%x", "2.5", Ok("2"));
    check_percent("%x", "-2.5", Ok("-2"));
    check_percent("%#o", "8", Ok("010"));
    check_percent("%#o", "0", Ok("0"));
    check_percent("%.0d", "0", Ok(""));
    check_percent("%#x", "0", Ok("0x0"));
    check_percent("%#x", "-255", Ok("-0xff"));
    check_percent("%#X", "255", Ok("0XFF"));
    check_percent("%#5x", "255", Ok(" 0xff"));
    check_percent("%#08x", "255", Ok("0x0000ff"));
    check_percent("%-#8x|", "255", Ok("0xff    |"));
    check_percent("%+#08x", "255", Ok("+0x000ff"));
    check_percent("%#.5o", "8", Ok("00010"));
    check_percent("%u", "-3", Ok("-3"));
    check_percent("%o", "-8", Ok("-10"));
    check_percent("%.3d", "-5", Ok("-005"));
    check_percent("%05d", "-5", Ok("-0005"));
    check_percent("%-05d|", "3", Ok("3    |"));
    check_percent("% d", "5", Ok(" 5"));
    check_percent("% d", "-5", Ok("-5"));
    check_percent("%+d", "5", Ok("+5"));
    check_percent("%-+5d|", "3", Ok("+3   |"));
    check_percent("%+ d", "3", Ok("+3"));
    check_percent("% +d", "3", Ok("+3"));
    check_percent("%#d", "3", Ok("3"));
    check_percent("%0-5d|", "3", Ok("3    |"));
    check_percent("%#5.3o", "8", Ok("  010"));
    check_percent("%#.3x", "255", Ok("0x0ff"));
    check_percent("%#08o", "8", Ok("00000010"));
    check_percent("%+.3d", "5", Ok("+005"));
    check_percent("% 05d", "5", Ok(" 0005"));
    check_percent("%+#x", "255", Ok("+0xff"));
    check_percent("%+#o", "8", Ok("+010"));
    check_percent("%i", "3", Ok("3"));
    check_percent("%u", "3", Ok("3"));
    check_percent("%x", "True", Ok("1"));
    check_percent("%d", "True", Ok("1"));
    check_percent("%o", "0", Ok("0"));
    check_percent("%X", "-255", Ok("-FF"));
    check_percent("%.0x", "0", Ok(""));
    check_percent("%#.0x", "0", Ok("0x"));
    check_percent("%#.0o", "0", Ok("0"));
    check_percent("%.0o", "0", Ok(""));
    check_percent("%5.0d|", "0", Ok("     |"));
    check_percent("%+.0d", "0", Ok("+"));
    check_percent("%.0d", "5", Ok("5"));
    check_percent("%d", "100000000000000000000", Ok("100000000000000000000"));
    check_percent("%x", "100000000000000000000", Ok("56bc75e2d63100000"));
    check_percent("%#x", "100000000000000000000", Ok("0x56bc75e2d63100000"));
    check_percent(
        "%.25d",
        "100000000000000000000",
        Ok("0000100000000000000000000"),
    );
    check_percent(
        "%#o",
        "100000000000000000000",
        Ok("012657072742654304000000"),
    );
    check_percent("%+d", "100000000000000000000", Ok("+100000000000000000000"));
    check_percent("%#X", "100000000000000000000", Ok("0X56BC75E2D63100000"));
    check_percent("%d", "-100000000000000000000", Ok("-100000000000000000000"));
    check_percent(
        "%#o",
        "-100000000000000000000",
        Ok("-012657072742654304000000"),
    );
    check_percent(
        "%025d",
        "-100000000000000000000",
        Ok("-000100000000000000000000"),
    );
    check_percent(
        "%#025x",
        "-100000000000000000000",
        Ok("-0x0000056bc75e2d63100000"),
    );
    check_percent(
        "%-#025x|",
        "-100000000000000000000",
        Ok("-0x56bc75e2d63100000     |"),
    );
    check_percent("%u", "-100000000000000000000", Ok("-100000000000000000000"));
    check_percent("%d", "1e20", Ok("100000000000000000000"));
    check_percent("%x", "1e20", Ok("56bc75e2d63100000"));
    check_percent("%d", "1e19", Ok("10000000000000000000"));
    check_percent("%x", "-1e19", Ok("-8ac7230489e80000"));
    check_percent("%d", "9223372036854775807", Ok("9223372036854775807"));
    check_percent("%x", "-9223372036854775808", Ok("-8000000000000000"));
    check_percent(
        "%b",
        "5",
        Err("unsupported format character 'b' (0x62) at index 1"),
    );
}

#[test]
fn percent_mappings() {
    check_percent("%(a)s", "{'a': 1}", Ok("1"));
    check_percent("%(a)s %(a)r", "{'a': 'x'}", Ok("x 'x'"));
    check_percent("%(x)s", "{'x': 1, 'y': 2}", Ok("1"));
    check_percent(
        "%(a)s %s",
        "{'a': 1}",
        Err("not enough arguments for format string"),
    );
    check_percent(
        "%(a)s",
        "[1]",
        Err("list indices must be integers, not str"),
    );
    check_percent("%(a)s", "(1,)", Err("format requires a mapping"));
    check_percent("%(a)s", "1", Err("format requires a mapping"));
    check_percent("%(a)s %(b)s", "{'a': 1}", Err("KeyError: 'b'"));
    check_percent("%(a)s", "{}", Err("KeyError: 'a'"));
    check_percent("%()s", "{'': 1}", Ok("1"));
    check_percent("%(a(b))s", "{'a(b)': 1}", Ok("1"));
    check_percent(
        "%(a)d",
        "{'a': 'x'}",
        Err("%d format: a number is required, not str"),
    );
    check_percent(
        "%(a)*d",
        "{'a': 3}",
        Err("not enough arguments for format string"),
    );
    check_percent("%(a)s %%", "{'a': 1}", Ok("1 %"));
    check_percent("%(a)s %%s", "{'a': 1}", Ok("1 %s"));
    check_percent("%%(a)s", "{}", Ok("%(a)s"));
    check_percent("%(a)s", "{'a': [1]}", Ok("[1]"));
    check_percent(
        "%(n)05.1f|%(s)-4s|",
        "{'n': 2.25, 's': 'ab'}",
        Ok("002.2|ab  |"),
    );
    check_percent("%(a", "{'a': 1}", Err("incomplete format key"));
    check_percent("%(a)", "{'a': 1}", Err("incomplete format"));
    check_percent("%(a)", "{}", Err("KeyError: 'a'"));
}

#[test]
fn percent_strings_and_args() {
    check_percent("%s", "(1,)", Ok("1"));
    check_percent("%s", "'x'", Ok("x"));
    check_percent("%s", "[1, 'a']", Ok("[1, 'a']"));
    check_percent("%s", "{'a': 1}", Ok("{'a': 1}"));
    check_percent("%s", "None", Ok("None"));
    check_percent("%s", "True", Ok("True"));
    check_percent("%s", "1.0/3", Ok("0.333333333333"));
    check_percent("%r", "1.0/3", Ok("0.3333333333333333"));
    check_percent("%s", "[1.0/3]", Ok("[0.3333333333333333]"));
    check_percent("%r", "'a'", Ok("'a'"));
    check_percent("%r", "100000000000000000000", Ok("100000000000000000000L"));
    check_percent("%s", "100000000000000000000", Ok("100000000000000000000"));
    check_percent("%s %s", "('a', {'k': 1})", Ok("a {'k': 1}"));
    check_percent("%.2s", "'abc'", Ok("ab"));
    check_percent("%5s|", "'ab'", Ok("   ab|"));
    check_percent("%-5s|", "'ab'", Ok("ab   |"));
    check_percent("%05s|", "'ab'", Ok("   ab|"));
    check_percent("%.0s", "'ab'", Ok(""));
    check_percent("%5.1s|", "'ab'", Ok("    a|"));
    check_percent("%.3s", "[1, 2, 3]", Ok("[1,"));
    check_percent("%5r|", "'a'", Ok("  'a'|"));
    check_percent("%-6r|", "'a'", Ok("'a'   |"));
    check_percent("%-5s|", "'é'", Ok("é   |"));
    check_percent("%%", "()", Ok("%"));
    check_percent("%5%", "()", Ok("    %"));
    check_percent("%-5%|", "()", Ok("%    |"));
    check_percent("%s %%", "1", Ok("1 %"));
    check_percent("%d%%", "5", Ok("5%"));
    check_percent("x", "[1]", Ok("x"));
    check_percent("x", "{'a': 1}", Ok("x"));
    check_percent("%s", "()", Err("not enough arguments for format string"));
    check_percent(
        "%s %s",
        "(1,)",
        Err("not enough arguments for format string"),
    );
    check_percent(
        "%s",
        "(1, 2)",
        Err("not all arguments converted during string formatting"),
    );
    check_percent(
        "%s %s",
        "[1, 2]",
        Err("not enough arguments for format string"),
    );
    check_percent("%s", "([1, 2],)", Ok("[1, 2]"));
    check_percent("%*d", "(5, 3)", Ok("    3"));
    check_percent("%-*d|", "(-5, 3)", Ok("3    |"));
    check_percent("%.*f", "(2, 3.14159)", Ok("3.14"));
    check_percent("%*d", "('a', 3)", Err("* wants int"));
    check_percent("%.*f", "(-2, 3.14159)", Ok("3"));
    check_percent("%*d", "(1.5, 3)", Err("* wants int"));
    check_percent("%*d", "(True, 3)", Ok("3"));
    check_percent("%ld %hd %Ld", "(1, 2, 3)", Ok("1 2 3"));
    check_percent("%c", "65", Ok("A"));
    check_percent("%c", "'a'", Ok("a"));
    check_percent("%c", "'ab'", Err("%c requires int or char"));
    check_percent("%c", "''", Err("%c requires int or char"));
    check_percent(
        "%c",
        "256",
        Err("unsigned byte integer is greater than maximum"),
    );
    check_percent(
        "%c",
        "-1",
        Err("unsigned byte integer is less than minimum"),
    );
    check_percent("%c", "3.0", Err("integer argument expected, got float"));
    check_percent("%c", "None", Err("an integer is required"));
    check_percent("%c", "True", Ok("\u{1}"));
    check_percent(
        "%c",
        "100000000000000000000",
        Err("Python int too large to convert to C long"),
    );
    check_percent("%c", "[1]", Err("an integer is required"));
    check_percent("%5c|", "'a'", Ok("    a|"));
    check_percent("%-3c|", "66", Ok("B  |"));
}

#[test]
fn str_and_repr() {
    check_str("1.0/3", Ok("0.333333333333"));
    check_str("1e16", Ok("1e+16"));
    check_str("2.0", Ok("2.0"));
    check_str("1e-05", Ok("1e-05"));
    check_str("123456789012.0", Ok("1.23456789012e+11"));
    check_str("12345678901.0", Ok("12345678901.0"));
    check_str("1e11", Ok("1e+11"));
    check_str("0.1", Ok("0.1"));
    check_str("0.0001", Ok("0.0001"));
    check_str("-0.0", Ok("-0.0"));
    check_str("1.5e300", Ok("1.5e+300"));
    check_str("float('inf')", Ok("inf"));
    check_str("-float('inf')", Ok("-inf"));
    check_str("float('nan')", Ok("nan"));
    check_str("0.0", Ok("0.0"));
    check_str("123456.789", Ok("123456.789"));
    check_str("0.000123456789012345", Ok("0.000123456789012"));
    check_str("-1e-07", Ok("-1e-07"));
    check_str("'plain'", Ok("plain"));
    check_str("7", Ok("7"));
    check_str("-42", Ok("-42"));
    check_str("True", Ok("True"));
    check_str("False", Ok("False"));
    check_str("None", Ok("None"));
    check_str("100000000000000000000", Ok("100000000000000000000"));
    check_str("[1, 'a', 1.5, None, True]", Ok("[1, 'a', 1.5, None, True]"));
    check_str("(1,)", Ok("(1,)"));
    check_str("(1, 2)", Ok("(1, 2)"));
    check_str("()", Ok("()"));
    check_str("{'a': 1}", Ok("{'a': 1}"));
    check_str("{}", Ok("{}"));
    check_str("[]", Ok("[]"));
    check_str("[[1], ('a',)]", Ok("[[1], ('a',)]"));
    check_str("[1.0/3]", Ok("[0.3333333333333333]"));
    check_str("[100000000000000000000]", Ok("[100000000000000000000L]"));
    check_str("{'a': 'b', 'c': (1,)}", Ok("{'a': 'b', 'c': (1,)}"));
    check_repr("0.1", Ok("0.1"));
    check_repr("1e16", Ok("1e+16"));
    check_repr("1e15", Ok("1000000000000000.0"));
    check_repr("1e-05", Ok("1e-05"));
    check_repr("0.0001", Ok("0.0001"));
    check_repr("123456789012345678.0", Ok("1.2345678901234568e+17"));
    check_repr("2.0", Ok("2.0"));
    check_repr("-0.0", Ok("-0.0"));
    check_repr("float('inf')", Ok("inf"));
    check_repr("5e-324", Ok("5e-324"));
    check_repr("1.7976931348623157e308", Ok("1.7976931348623157e+308"));
    check_repr("0.30000000000000004", Ok("0.30000000000000004"));
    check_repr("9999999999999998.0", Ok("9999999999999998.0"));
    check_repr("1.0/3", Ok("0.3333333333333333"));
    check_repr("1e22", Ok("1e+22"));
    check_repr("1.5e-07", Ok("1.5e-07"));
    check_repr("'a'", Ok("'a'"));
    check_repr("\"it's\"", Ok("\"it's\""));
    check_repr("'say \"hi\"'", Ok("'say \"hi\"'"));
    check_repr("'both \\' \"'", Ok("'both \\' \"'"));
    check_repr("'\\n\\t\\r\\\\'", Ok("'\\n\\t\\r\\\\'"));
    check_repr("'\\x00\\x7f\\x1b'", Ok("'\\x00\\x7f\\x1b'"));
    check_repr("'é'", Ok("'\\xc3\\xa9'"));
    check_repr("''", Ok("''"));
    check_repr("100000000000000000000", Ok("100000000000000000000L"));
    check_repr("9223372036854775807", Ok("9223372036854775807"));
    check_repr("9223372036854775808", Ok("9223372036854775808L"));
    check_repr("-9223372036854775809", Ok("-9223372036854775809L"));
    check_repr("True", Ok("True"));
    check_repr("None", Ok("None"));
    check_repr("[1, 'a', 1.5, None, True]", Ok("[1, 'a', 1.5, None, True]"));
    check_repr("(1,)", Ok("(1,)"));
    check_repr("('a', [2.5])", Ok("('a', [2.5])"));
    check_repr("{'k': [1, 2]}", Ok("{'k': [1, 2]}"));
}
