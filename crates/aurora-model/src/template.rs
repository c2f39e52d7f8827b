//! Pystachio's `{{mustache}}` reference syntax: finding references in a string, parsing their
//! addresses (`a.b[c].d`), substituting values, and binding the runtime namespaces that only a
//! machine running the task can know (`thermos.ports[NAME]`, `thermos.task_id`, `mesos.instance`...).
//!
//! This module owns the *syntax*. Scoping rules (which struct's fields a reference sees, bindings)
//! belong to `aurora-config`; choosing port numbers belongs to the agent.

use std::borrow::Cow;
use std::fmt;

/// One step of a reference address: `.name` or `[index]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Component<'a> {
    /// `name` or `.name`: a field, a binding, a map key.
    Name(&'a str),
    /// `[index]`: a list position or a map key, taken literally.
    Index(&'a str),
}

/// A parsed reference address such as `thermos.ports[http]` or `processes[0].name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ref<'a> {
    /// The text between the braces, as written.
    pub text: &'a str,
    /// Its components; never empty, the first is always a `Name`.
    pub components: Vec<Component<'a>>,
}

impl fmt::Display for Ref<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{{{{{}}}}}", self.text)
    }
}

fn is_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric())
}

/// Parses an address (`a.b[c]`), or `None` when the text is not a reference (`{{&x}}`, `{{ }}`,
/// `{{a..b}}`): such text is left as written, never an error.
pub fn parse_ref(text: &str) -> Option<Ref<'_>> {
    let mut components = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('[') {
            let end = after.find(']')?;
            let index = &after[..end];
            if index.is_empty() || index.contains('[') || components.is_empty() {
                return None;
            }
            components.push(Component::Index(index));
            rest = &after[end + 1..];
        } else {
            let body = if components.is_empty() {
                rest
            } else {
                rest.strip_prefix('.')?
            };
            let end = body.find(['.', '[']).unwrap_or(body.len());
            let name = &body[..end];
            if !is_name(name) {
                return None;
            }
            components.push(Component::Name(name));
            rest = &body[end..];
        }
    }
    if components.is_empty() {
        None
    } else {
        Some(Ref { text, components })
    }
}

/// A piece of a template string.
#[derive(Debug, Clone, PartialEq)]
pub enum Segment<'a> {
    /// Literal text, including anything that looks like braces but is not a reference.
    Text(&'a str),
    /// An innermost `{{ref}}`.
    Ref(Ref<'a>),
}

/// Splits `s` into literal text and its *innermost* references: in `{{a{{b}}}}` only `{{b}}` is a
/// reference; once it is substituted, the caller renders again and `{{a...}}` is found (Pystachio
/// resolves nested references from the inside out, iteratively).
pub fn segments(s: &str) -> Vec<Segment<'_>> {
    let mut out = Vec::new();
    let mut text_start = 0;
    let mut search = 0;
    while let Some(close_rel) = s[search..].find("}}") {
        let close = search + close_rel;
        // The innermost reference ends at the first `}}`; it starts at the last `{{` before it.
        match s[text_start..close].rfind("{{") {
            Some(open_rel) => {
                let open = text_start + open_rel;
                // Text between braces that is not a reference stays in the literal text.
                if let Some(r) = parse_ref(&s[open + 2..close]) {
                    if open > text_start {
                        out.push(Segment::Text(&s[text_start..open]));
                    }
                    out.push(Segment::Ref(r));
                    text_start = close + 2;
                }
                search = close + 2;
            }
            None => search = close + 2,
        }
    }
    if text_start < s.len() {
        out.push(Segment::Text(&s[text_start..]));
    }
    out
}

/// Does `s` contain at least one reference?
pub fn has_refs(s: &str) -> bool {
    s.contains("{{") && segments(s).iter().any(|seg| matches!(seg, Segment::Ref(_)))
}

/// Substitutes every innermost reference that `resolve` knows; unknown ones stay as written.
/// Returns the new string and whether anything changed. Callers that need nested references
/// resolved call it again until nothing changes.
pub fn substitute<'s>(
    s: &'s str,
    mut resolve: impl FnMut(&Ref<'_>) -> Option<String>,
) -> (Cow<'s, str>, bool) {
    if !s.contains("{{") {
        return (Cow::Borrowed(s), false);
    }
    let mut out = String::with_capacity(s.len());
    let mut changed = false;
    for seg in segments(s) {
        match seg {
            Segment::Text(t) => out.push_str(t),
            Segment::Ref(r) => match resolve(&r) {
                Some(v) => {
                    out.push_str(&v);
                    changed = true;
                }
                None => {
                    out.push_str("{{");
                    out.push_str(r.text);
                    out.push_str("}}");
                }
            },
        }
    }
    if changed {
        (Cow::Owned(out), true)
    } else {
        (Cow::Borrowed(s), false)
    }
}

/// Turns Pystachio escapes `{{&x}}` into the literal `{{x}}`: the last step of rendering, after
/// which the text is no longer a template.
pub fn unescape(s: &str) -> Cow<'_, str> {
    if s.contains("{{&") {
        Cow::Owned(s.replace("{{&", "{{"))
    } else {
        Cow::Borrowed(s)
    }
}

/// The values an agent knows when it launches a task, for the references that only it can bind.
#[derive(Debug, Clone, Default)]
pub struct RuntimeContext<'a> {
    /// Named ports allocated to the task.
    pub ports: &'a [(String, u16)],
    /// `thermos.task_id`.
    pub task_id: &'a str,
    /// `thermos.user`: the Unix user the task runs as.
    pub user: &'a str,
    /// `mesos.instance`: the instance number.
    pub instance: u32,
    /// `mesos.hostname`: the agent's host name.
    pub hostname: &'a str,
}

/// Is this reference one that only the executor can bind (and so may stay unbound in a config)?
pub fn is_runtime_ref(r: &Ref<'_>) -> bool {
    use Component::*;
    matches!(
        r.components.as_slice(),
        [Name("thermos"), Name("ports"), Index(_)]
            | [Name("thermos"), Name("task_id")]
            | [Name("thermos"), Name("user")]
            | [Name("mesos"), Name("instance")]
            | [Name("mesos"), Name("hostname")]
    )
}

/// The port names a string asks for through `{{thermos.ports[NAME]}}`, in order of appearance.
pub fn port_names(s: &str) -> impl Iterator<Item = &str> {
    segments(s).into_iter().filter_map(|seg| match seg {
        Segment::Ref(r) => match r.components.as_slice() {
            [
                Component::Name("thermos"),
                Component::Name("ports"),
                Component::Index(p),
            ] => Some(*p),
            _ => None,
        },
        Segment::Text(_) => None,
    })
}

/// Binds the runtime namespaces in `s` and unescapes it: what the executor runs. References that
/// are not runtime references (or name a port the task was not given) are left as written.
pub fn bind_runtime<'s>(s: &'s str, ctx: &RuntimeContext<'_>) -> Cow<'s, str> {
    use Component::*;
    let (bound, _) = substitute(s, |r| match r.components.as_slice() {
        [Name("thermos"), Name("ports"), Index(p)] => ctx
            .ports
            .iter()
            .find(|(name, _)| name == p)
            .map(|(_, port)| port.to_string()),
        [Name("thermos"), Name("task_id")] => Some(ctx.task_id.to_owned()),
        [Name("thermos"), Name("user")] => Some(ctx.user.to_owned()),
        [Name("mesos"), Name("instance")] => Some(ctx.instance.to_string()),
        [Name("mesos"), Name("hostname")] => Some(ctx.hostname.to_owned()),
        _ => None,
    });
    match unescape(&bound) {
        Cow::Borrowed(_) => bound,
        Cow::Owned(o) => Cow::Owned(o),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Component::*;

    #[test]
    fn parses_addresses() {
        let r = parse_ref("thermos.ports[http]").unwrap();
        assert_eq!(
            r.components,
            vec![Name("thermos"), Name("ports"), Index("http")]
        );
        let r = parse_ref("processes[0].name").unwrap();
        assert_eq!(
            r.components,
            vec![Name("processes"), Index("0"), Name("name")]
        );
        for bad in [
            "", "&x", " x", "a..b", "a.", "[0]", "1abc", "a[]", "a b", "a[b",
        ] {
            assert!(parse_ref(bad).is_none(), "{bad:?} is not a reference");
        }
    }

    #[test]
    fn finds_innermost_references_only() {
        let segs = segments("x {{a{{b}}}} y");
        assert_eq!(segs.len(), 3);
        assert_eq!(segs[0], Segment::Text("x {{a"));
        assert!(matches!(&segs[1], Segment::Ref(r) if r.text == "b"));
        assert_eq!(segs[2], Segment::Text("}} y"));
    }

    #[test]
    fn substitutes_known_and_keeps_unknown() {
        let (out, changed) = substitute("{{a}}-{{b}}-{{&c}}", |r| {
            (r.text == "a").then(|| "1".to_owned())
        });
        assert!(changed);
        assert_eq!(out, "1-{{b}}-{{&c}}");
        assert_eq!(unescape(&out), "1-{{b}}-{{c}}");
        let (out, changed) = substitute("no refs {{ here", |_| Some("x".into()));
        assert!(!changed);
        assert_eq!(out, "no refs {{ here");
    }

    #[test]
    fn nested_references_resolve_from_the_inside() {
        let mut s = "{{metavar{{number}}}}".to_owned();
        loop {
            let (next, changed) = substitute(&s, |r| match r.text {
                "number" => Some("1".into()),
                "metavar1" => Some("found".into()),
                _ => None,
            });
            if !changed {
                break;
            }
            s = next.into_owned();
        }
        assert_eq!(s, "found");
    }

    #[test]
    fn binds_runtime_namespaces() {
        let ports = vec![("http".to_owned(), 31337)];
        let ctx = RuntimeContext {
            ports: &ports,
            task_id: "t-1",
            user: "www-data",
            instance: 3,
            hostname: "h1",
        };
        assert_eq!(
            bind_runtime(
                "serve {{thermos.ports[http]}} {{mesos.instance}}@{{mesos.hostname}} {{thermos.task_id}} {{thermos.user}} {{thermos.ports[admin]}} {{&lit}}",
                &ctx
            ),
            "serve 31337 3@h1 t-1 www-data {{thermos.ports[admin]}} {{lit}}"
        );
        assert_eq!(
            port_names("{{thermos.ports[http]}} {{thermos.ports[admin]}} {{x}}")
                .collect::<Vec<_>>(),
            ["http", "admin"]
        );
        assert!(is_runtime_ref(&parse_ref("mesos.instance").unwrap()));
        assert!(!is_runtime_ref(&parse_ref("mesos.role").unwrap()));
    }
}
