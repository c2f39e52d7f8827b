//! The `.aurora` language, rule by rule: Pystachio templating and scoping, Python 2 habits,
//! `include()`, and the error messages a user acts on.

use aurora_config::{Bind, Config, ConfigError, MemoryLoader, ResolvedJob};
use aurora_model::JobPath;
use std::path::{Path, PathBuf};

const PRELUDE: &str = "res = Resources(cpu = 1.0, ram = 64*MB, disk = 64*MB)\n";

fn load_files(files: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let mut loader = MemoryLoader::default();
    for (name, text) in files {
        loader.files.insert(PathBuf::from(name), text.to_string());
    }
    Config::load_with(Path::new(files[0].0), &loader)
}

fn load(src: &str) -> Result<Config, ConfigError> {
    load_files(&[("test.aurora", &format!("{PRELUDE}{src}"))])
}

fn resolve_with(src: &str, key: &str, binds: &[&str]) -> Result<ResolvedJob, ConfigError> {
    let binds: Vec<Bind> = binds.iter().map(|b| b.parse().unwrap()).collect();
    load(src)?.resolve(&key.parse::<JobPath>().unwrap(), &binds)
}

fn resolve(src: &str, key: &str) -> ResolvedJob {
    resolve_with(src, key, &[]).unwrap_or_else(|e| panic!("{e}"))
}

fn error(src: &str, key: &str) -> String {
    match resolve_with(src, key, &[]) {
        Ok(_) => panic!("expected an error"),
        Err(e) => e.to_string(),
    }
}

fn job(task: &str, extra: &str) -> String {
    format!(
        "jobs = [Job(cluster = 'c', role = 'r', environment = 'e', name = 'j', task = {task}{extra})]\n"
    )
}

// --- templating and scoping ---------------------------------------------------------------------

#[test]
fn a_process_sees_its_own_fields_then_its_tasks_then_its_jobs() {
    let src = format!(
        "p = Process(name = 'p1', cmdline = '{{{{name}}}} {{{{role}}}} {{{{environment}}}} {{{{cluster}}}} {{{{max_failures}}}}')\n{}",
        job("Task(name = 't', processes = [p], resources = res)", "")
    );
    let j = resolve(&src, "c/r/e/j");
    assert_eq!(j.job.task.processes[0].cmdline, "p1 r e c 1");
}

#[test]
fn task_and_job_names_default_through_templates() {
    let src = "p = Process(name = 'first', cmdline = 'x')\nq = Process(name = 'second', cmdline = 'y')\njobs = [Job(cluster = 'c', role = 'r', environment = 'e', task = Task(processes = [p, q], resources = res))]\n";
    let j = resolve(src, "c/r/e/first");
    assert_eq!(j.job.task.name, "first");
    assert_eq!(j.job.name, "first");
}

#[test]
fn service_is_a_job_with_service_true() {
    let src = "p = Process(name = 'p', cmdline = 'x')\njobs = [Service(cluster = 'c', role = 'r', environment = 'e', task = Task(processes = [p], resources = res)), Job(cluster = 'c', role = 'r', environment = 'e', name = 'adhoc', task = Task(processes = [p], resources = res))]\n";
    assert!(resolve(src, "c/r/e/p").job.service);
    assert!(!resolve(src, "c/r/e/adhoc").job.service);
}

#[test]
fn instances_are_copied_with_overrides_when_called() {
    let src = format!(
        "base = Process(cmdline = 'run {{{{name}}}}', max_failures = 3)\na = base(name = 'a')\nb = base(name = 'b', max_failures = 0)\n{}",
        job("Task(processes = [a, b], resources = res)", "")
    );
    let j = resolve(&src, "c/r/e/j");
    let p = &j.job.task.processes;
    assert_eq!(
        (p[0].name.as_str(), p[0].cmdline.as_str(), p[0].max_failures),
        ("a", "run a", 3)
    );
    assert_eq!(
        (p[1].name.as_str(), p[1].cmdline.as_str(), p[1].max_failures),
        ("b", "run b", 0)
    );
}

#[test]
fn bind_with_keywords_and_dotted_dicts() {
    let src = format!(
        "p = Process(name = 'p', cmdline = '{{{{greeting}}}} {{{{profile.version}}}} {{{{profile[build]}}}}')\n{}",
        job(
            "Task(processes = [p], resources = res)",
            ").bind(greeting = 'hi').bind({'profile.version': 2, 'profile.build': 'b7'}"
        )
    );
    assert_eq!(
        resolve(&src, "c/r/e/j").job.task.processes[0].cmdline,
        "hi 2 b7"
    );
}

#[test]
fn closer_bindings_win_and_bindings_only_flow_downwards() {
    let src = format!(
        "p = Process(name = 'p', cmdline = '{{{{x}}}}').bind(x = 'process')\nq = Process(name = 'q', cmdline = '{{{{x}}}} {{{{y}}}}')\n{}",
        job(
            "Task(processes = [p, q], resources = res).bind(x = 'task')",
            ").bind(x = 'job'"
        )
        .replace("name = 'j', ", "name = '{{y}}', ")
    );
    // The job's name cannot see a binding made on its task (bindings never flow upwards).
    let c = load(&src).unwrap();
    assert_eq!(c.job_keys(&[]).unwrap(), vec!["c/r/e/{{y}}"]);
    let j = c
        .resolve(&"c/r/e/j".parse().unwrap(), &["y=j".parse().unwrap()])
        .unwrap();
    assert_eq!(j.job.task.processes[0].cmdline, "process");
    assert_eq!(j.job.task.processes[1].cmdline, "task j");
}

#[test]
fn latest_bind_wins_over_earlier_binds() {
    let src = format!(
        "p = Process(name = 'p', cmdline = '{{{{v}}}}')\n{}",
        job(
            "Task(processes = [p], resources = res)",
            ").bind(v = 'old').bind(v = 'new'"
        )
    );
    assert_eq!(
        resolve(&src, "c/r/e/j").job.task.processes[0].cmdline,
        "new"
    );
}

#[test]
fn templates_inside_bound_values_are_resolved_in_the_job() {
    let src = format!(
        "p = Process(name = 'p', cmdline = 'say {{{{msg}}}}')\n{}",
        job(
            "Task(processes = [p], resources = res)",
            ").bind(msg = 'hello from {{environment}}/{{cluster}}'"
        )
    );
    assert_eq!(
        resolve(&src, "c/r/e/j").job.task.processes[0].cmdline,
        "say hello from e/c"
    );
}

#[test]
fn command_line_binds_override_file_binds_and_fill_integer_fields() {
    let src = format!(
        "p = Process(name = 'p', cmdline = 'v{{{{version}}}}')\n{}",
        job(
            "Task(processes = [p], resources = res)",
            ", instances = '{{count}}').bind(version = '1'"
        )
    );
    let j = resolve_with(&src, "c/r/e/j", &["version=2", "count=3"]).unwrap();
    assert_eq!(j.job.task.processes[0].cmdline, "v2");
    assert_eq!(j.job.instances, 3);
    // Unbound, the Integer field is a type error that names the field.
    let e = resolve_with(&src, "c/r/e/j", &[]).unwrap_err().to_string();
    assert!(
        e.contains("Job.instances: expected Integer") && e.contains("{{count}}"),
        "{e}"
    );
}

#[test]
fn runtime_references_are_kept_and_deprecated_ones_rewritten() {
    let src = format!(
        "p = Process(name = 'p', cmdline = '{{{{thermos.ports[http]}}}} {{{{thermos.task_id}}}} {{{{mesos.instance}}}} {{{{mesos.hostname}}}} {{{{mesos.role}}}} {{{{mesos.cluster}}}} {{{{thermos.user}}}}')\n{}",
        job("Task(processes = [p], resources = res)", "")
    );
    let j = resolve(&src, "c/r/e/j");
    assert_eq!(
        j.job.task.processes[0].cmdline,
        "{{thermos.ports[http]}} {{thermos.task_id}} {{mesos.instance}} {{mesos.hostname}} r c r"
    );
    assert!(j.unbound.is_empty(), "{:?}", j.unbound);
}

#[test]
fn unbound_references_are_reported_with_their_place() {
    let src = format!(
        "p = Process(name = 'p', cmdline = 'echo {{{{undefined_thing}}}}')\n{}",
        job("Task(processes = [p], resources = res)", "")
    );
    let j = resolve(&src, "c/r/e/j");
    assert_eq!(j.unbound.len(), 1);
    assert_eq!(j.unbound[0].reference, "{{undefined_thing}}");
    assert_eq!(j.unbound[0].path, "task.processes[0].cmdline");
}

#[test]
fn escapes_and_nested_references() {
    let src = format!(
        "p = Process(name = 'p', cmdline = '{{{{&literal}}}} {{{{v{{{{n}}}}}}}}')\n{}",
        job(
            "Task(processes = [p], resources = res)",
            ").bind(n = 1, v1 = 'nested'"
        )
    );
    let j = resolve(&src, "c/r/e/j");
    assert_eq!(j.job.task.processes[0].cmdline, "{{literal}} nested");
    assert!(j.unbound.is_empty());
}

#[test]
fn self_reference_is_an_error_not_a_hang() {
    let src = format!(
        "p = Process(name = '{{{{name}}}}', cmdline = 'x')\n{}",
        job("Task(name = 't', processes = [p], resources = res)", "")
    );
    let e = error(&src, "c/r/e/j");
    assert!(e.contains("never finishes resolving"), "{e}");
}

#[test]
fn user_structs_with_defaults_and_required_fields() {
    let src = "class Profile(Struct):\n  version = Required(String)\n  replicas = Default(Integer, 2)\n\nclass Big(Profile):\n  replicas = Default(Integer, 10)\n\np = Process(name = 'p', cmdline = '{{profile.version}}x{{profile.replicas}}')\njobs = [Job(cluster = 'c', role = 'r', environment = 'e', name = 'j', task = Task(processes = [p], resources = res)).bind(profile = Big(version = '7'))]\n";
    assert_eq!(
        resolve(src, "c/r/e/j").job.task.processes[0].cmdline,
        "7x10"
    );
    let bad = "class Profile(Struct):\n  replicas = Default(Integer, 2)\nx = Profile(replicas = 'many')\njobs = []\n";
    let e = load(bad).err().expect("a type error").to_string();
    assert!(
        e.contains("Profile.replicas: expected Integer, got string 'many'"),
        "{e}"
    );
    assert!(e.starts_with("test.aurora:4:"), "{e}");
}

#[test]
fn python2_habits_whole_floats_and_is() {
    let src = format!(
        "r = Resources(cpu = 1, ram = 4096 / 2 * MB, disk = 1 * GB)\nx = None\nname = 'n' if x is None else 'm'\nok = 'y' if x is not None else 'z'\np = Process(name = name + ok, cmdline = 'x')\n{}",
        job("Task(processes = [p], resources = r)", "")
    );
    let j = resolve(&src, "c/r/e/j");
    assert_eq!(j.job.task.resources.ram, 2048 * 1024 * 1024);
    assert_eq!(j.job.task.resources.cpu, 1.0);
    assert_eq!(j.job.task.processes[0].name, "nz");
    // Python 2 divides integers to an integer; a float that is not whole is still refused.
    assert!(load("r = Resources(cpu = 1, ram = 7 / 2, disk = 1)\njobs = []\n").is_ok());
    let e = load("r = Resources(cpu = 1, ram = 7.0 / 2, disk = 1)\njobs = []\n")
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("Resources.ram: expected Integer, got float 3.5"),
        "{e}"
    );
}

#[test]
fn schema_imports_are_no_ops_and_others_are_refused() {
    assert!(
        load("from pystachio import *\nimport apache.aurora.config.schema.base\njobs = []\n")
            .is_ok()
    );
    let e = load("import os\njobs = []\n").err().unwrap().to_string();
    assert!(
        e.contains("test.aurora:2:") && e.contains("os") && e.contains("hermetic"),
        "{e}"
    );
}

#[test]
fn order_and_sequential_task() {
    let src = format!(
        "a = Process(name = 'a', cmdline = 'x')\nb = Process(name = 'b', cmdline = 'y')\nt = SequentialTask(processes = [a, b], resources = res)\n{}",
        job("t", "")
    );
    let j = resolve(&src, "c/r/e/j");
    assert_eq!(j.job.task.constraints[0].order, vec!["a", "b"]);
    let src = format!(
        "a = Process(name = 'a', cmdline = 'x')\nb = Process(name = 'b', cmdline = 'y')\n{}",
        job(
            "Task(processes = [a, b], constraints = order(b, 'a'), resources = res)",
            ""
        )
    );
    assert_eq!(
        resolve(&src, "c/r/e/j").job.task.constraints[0].order,
        vec!["b", "a"]
    );
}

#[test]
fn field_accessors_read_values() {
    let src = format!(
        "p = Process(name = 'p', cmdline = 'x')\nq = Process(name = p.name() + '2', cmdline = p.cmdline())\n{}",
        job("Task(processes = [p, q], resources = res)", "")
    );
    assert_eq!(resolve(&src, "c/r/e/j").job.task.processes[1].name, "p2");
}

// --- include --------------------------------------------------------------------------------------

#[test]
fn include_runs_into_the_same_namespace_and_later_names_win() {
    let main = "x = 'main'\ninclude('lib/common.aurora')\np = Process(name = name_from_lib, cmdline = x)\njobs = [Job(cluster = 'c', role = 'r', environment = 'e', name = 'j', task = Task(processes = [p], resources = res))]\n";
    let lib = "res = Resources(cpu = 1.0, ram = 64*MB, disk = 64*MB)\nname_from_lib = 'from_lib'\nx = 'lib overrides ' + x\n";
    let c = load_files(&[("dir/main.aurora", main), ("dir/lib/common.aurora", lib)]).unwrap();
    let j = c.resolve(&"c/r/e/j".parse().unwrap(), &[]).unwrap();
    assert_eq!(j.job.task.processes[0].name, "from_lib");
    assert_eq!(j.job.task.processes[0].cmdline, "lib overrides main");
}

#[test]
fn include_refuses_paths_leaving_the_folder_and_cycles() {
    for path in ["../secret.aurora", "/etc/passwd", "sub/../../secret.aurora"] {
        let main = format!("include('{path}')\njobs = []\n");
        let e = load_files(&[
            ("dir/main.aurora", &main),
            ("secret.aurora", "jobs = []\n"),
            ("/etc/passwd", "x"),
        ])
        .err()
        .unwrap()
        .to_string();
        assert!(
            e.contains("refused") && e.starts_with("dir/main.aurora:1"),
            "{path}: {e}"
        );
    }
    let e = load_files(&[
        ("a.aurora", "include('b.aurora')\njobs = []\n"),
        ("b.aurora", "include('a.aurora')\n"),
    ])
    .err()
    .unwrap()
    .to_string();
    assert!(e.contains("cycle"), "{e}");
}

#[test]
fn include_refuses_symlinks_out_of_the_folder_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("x.aurora"), "jobs = []\n").unwrap();
    std::os::unix::fs::symlink(
        outside.path().join("x.aurora"),
        dir.path().join("link.aurora"),
    )
    .unwrap();
    std::fs::write(dir.path().join("main.aurora"), "include('link.aurora')\n").unwrap();
    let e = Config::load(&dir.path().join("main.aurora"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("leaves the including file's folder"), "{e}");
}

// --- errors ---------------------------------------------------------------------------------------

#[test]
fn syntax_errors_name_file_line_and_column() {
    let e = load("x = (1,\n  2\ny = 3\n").err().unwrap();
    assert!(
        matches!(
            e,
            ConfigError::Syntax {
                line: 4,
                column: 1,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(
        e.to_string().starts_with("test.aurora:4:1: syntax error"),
        "{e}"
    );
}

#[test]
fn missing_required_fields_name_struct_and_field() {
    let cases = [
        ("Process(name = 'p')", "Process.cmdline"),
        ("Process(name = 'p', cmdline = 'x')", ""),
    ];
    for (process, want) in cases {
        let src = format!(
            "p = {process}\n{}",
            job("Task(processes = [p], resources = res)", "")
        );
        let r = resolve_with(&src, "c/r/e/j", &[]);
        if want.is_empty() {
            assert!(r.is_ok());
        } else {
            let e = r.unwrap_err().to_string();
            assert!(e.contains(&format!("{want} is required")), "{e}");
            assert!(
                e.contains("test.aurora:2"),
                "names where the struct was built: {e}"
            );
        }
    }
    let p = "p = Process(name = 'p', cmdline = 'x')\n";
    for (job_src, want) in [
        (
            "Job(cluster = 'c', environment = 'e', name = 'j', task = Task(processes = [p], resources = res))",
            "Job.role",
        ),
        (
            "Job(role = 'r', environment = 'e', name = 'j', task = Task(processes = [p], resources = res))",
            "Job.cluster",
        ),
        (
            "Job(cluster = 'c', role = 'r', environment = 'e', name = 'j')",
            "Job.task",
        ),
        (
            "Job(cluster = 'c', role = 'r', environment = 'e', name = 'j', task = Task(processes = [p], resources = Resources(ram = MB, disk = MB)))",
            "Resources.cpu",
        ),
        (
            "Job(cluster = 'c', role = 'r', environment = 'e', name = 'j', task = Task(processes = [p], resources = Resources(cpu = 1, disk = MB)))",
            "Resources.ram",
        ),
        (
            "Job(cluster = 'c', role = 'r', environment = 'e', name = 'j', task = Task(processes = [p], resources = Resources(cpu = 1, ram = MB)))",
            "Resources.disk",
        ),
    ] {
        let src = format!("{p}jobs = [{job_src}]\n");
        let c = load(&src).unwrap();
        let e = c.resolve_all(&[]).unwrap_err().to_string();
        assert!(e.contains(&format!("{want} is required")), "{want}: {e}");
    }
}

#[test]
fn wrong_types_name_struct_field_and_expected_type() {
    let e = load("p = Process(name = 'p', cmdline = 'x', daemon = 'sometimes')\njobs = []\n")
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("Process.daemon: expected Boolean, got string 'sometimes'"),
        "{e}"
    );
    assert!(e.starts_with("test.aurora:2:"), "{e}");
    let e = load("t = Task(processes = [Resources(cpu = 1)])\njobs = []\n")
        .err()
        .unwrap()
        .to_string();
    assert!(
        e.contains("Task.processes[0]: expected Process, got a Resources"),
        "{e}"
    );
    let e = load("p = Process(nme = 'p')\njobs = []\n")
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("Process has no field 'nme'"), "{e}");
}

#[test]
fn files_without_jobs_and_keys_without_jobs() {
    let e = load("x = 1\n").err().unwrap().to_string();
    assert!(e.contains("no jobs defined"), "{e}");
    let e = load("jobs = [Process(name = 'p')]\n")
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("jobs[0] is a Process, expected a Job"), "{e}");
    let src = format!(
        "p = Process(name = 'p', cmdline = 'x')\n{}",
        job("Task(processes = [p], resources = res)", "")
    );
    let e = error(&src, "c/r/e/other");
    assert!(
        e.contains("Could not find job c/r/e/other") && e.contains("c/r/e/j"),
        "{e}"
    );
}

#[test]
fn runaway_recursion_is_an_error() {
    let e = load("def f(n):\n  return f(n + 1)\nx = f(0)\njobs = []\n")
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("stack overflow"), "{e}");
}

#[test]
fn bind_arguments_are_validated() {
    assert!("a.b=1".parse::<Bind>().is_ok());
    assert!("noequals".parse::<Bind>().is_err());
    assert!("bad..name=1".parse::<Bind>().is_err());
}

// --- Thermos helpers -----------------------------------------------------------------------------

#[test]
fn tasks_combine_and_concat() {
    let base = "a = Process(name = 'a', cmdline = 'x')\nb = Process(name = 'b', cmdline = 'y')\nt1 = Task(name = 't1', processes = [a], resources = Resources(cpu = 1, ram = 2*MB, disk = 3*MB), finalization_wait = 10)\nt2 = Task(name = 't2', processes = [b], resources = Resources(cpu = 0.5, ram = 4*MB, disk = 1*MB), finalization_wait = 20)\n";
    let combined = format!(
        "{base}{}",
        job("Tasks.combine(t1, t2, max_failures = 2)", "")
    );
    let t = resolve(&combined, "c/r/e/j").job.task;
    assert_eq!(
        (t.name.as_str(), t.processes.len(), t.max_failures),
        ("t2", 2, 2)
    );
    assert_eq!(
        (t.resources.cpu, t.resources.ram, t.resources.disk),
        (1.5, 6 * 1024 * 1024, 4 * 1024 * 1024)
    );
    assert_eq!(t.finalization_wait, 20);
    assert!(t.constraints.is_empty());

    let concatenated = format!("{base}{}", job("concat_tasks(t1, t2)", ""));
    let t = resolve(&concatenated, "c/r/e/j").job.task;
    assert_eq!(
        (t.resources.cpu, t.resources.ram, t.resources.disk),
        (1.0, 4 * 1024 * 1024, 3 * 1024 * 1024)
    );
    assert_eq!(t.finalization_wait, 30);
    assert_eq!(t.constraints.len(), 1);
    assert_eq!(t.constraints[0].order, vec!["a", "b"]);

    let units = format!(
        "{base}r = Units.resources_sum(t1.resources(), t2.resources())\nm = Units.resources_max([t1.resources(), t2.resources()])\np = Process(name = 'p', cmdline = '%s %s %s' % (r.cpu(), m.ram(), Units.finalization_wait_sum(t1, t2)))\n{}",
        job(
            "Task(processes = Units.processes_merge(t1, t2) + [p], constraints = Processes.order(a, b), resources = r)",
            ""
        )
    );
    let t = resolve(&units, "c/r/e/j").job.task;
    assert_eq!(
        t.processes[2].cmdline,
        format!("1.5 {} 30", 4 * 1024 * 1024)
    );
    assert_eq!(t.constraints[0].order, vec!["a", "b"]);
}

// --- Python 2 errors --------------------------------------------------------------------------

#[test]
fn python2_errors_read_as_pythons_and_name_the_line() {
    let cases = [
        (
            "x = 1 / 0\n",
            "test.aurora:2:5",
            "integer division or modulo by zero",
        ),
        (
            "x = '%d' % 'a'\n",
            "test.aurora:2:5",
            "%d format: a number is required, not str",
        ),
        (
            "x = '%s %s' % ('a',)\n",
            "test.aurora:2:5",
            "not enough arguments for format string",
        ),
        (
            "x = '{} {0}'.format(1, 2)\n",
            "test.aurora:2:5",
            "cannot switch from automatic field numbering to manual field specification",
        ),
        (
            "x = sum(['a', 'b'], '')\n",
            "test.aurora:2:5",
            "sum() can't sum strings",
        ),
        (
            "x = isinstance(1, 2)\n",
            "test.aurora:2:5",
            "isinstance() arg 2 must be a class",
        ),
        (
            "x = reduce(max, [])\n",
            "test.aurora:2:5",
            "reduce() of empty sequence",
        ),
        (
            "x = getpass.getuser()\n",
            "test.aurora:2:5",
            "getpass.getuser(): the user running the client is not known",
        ),
        (
            "import string\nfrom string import *\n",
            "test.aurora:3:1",
            "`from string import *` is not supported",
        ),
        (
            "x = eval('1')\n",
            "test.aurora:2:5",
            "`eval()` is not available: .aurora files are evaluated hermetically",
        ),
    ];
    for (src, at, message) in cases {
        let e = load(&format!("{src}jobs = []\n"))
            .err()
            .unwrap()
            .to_string();
        assert!(e.starts_with(at) && e.contains(message), "{src:?}: {e}");
    }
}

#[test]
fn rewritten_forms_keep_their_lines_in_errors() {
    // An error after adjacent strings, a generator and a method call still names its own line.
    let src = "a = ('x'\n  'y')\nb = ' '.join(s for s in [a])\nc = '{:d}'.format(a)\n";
    let e = load(&format!("{src}jobs = []\n"))
        .err()
        .unwrap()
        .to_string();
    assert!(e.starts_with("test.aurora:5:"), "{e}");
    assert!(
        e.contains("Unknown format code 'd' for object of type 'str'"),
        "{e}"
    );
}

#[test]
fn deep_nesting_and_long_statements_are_errors_not_crashes() {
    // Found by the fuzzer: thousands of open brackets overflowed Starlark's parser's stack.
    let e = load(&format!("x = {}1\n", "(".repeat(3000)))
        .err()
        .unwrap()
        .to_string();
    assert!(e.starts_with("test.aurora:2:205:"), "{e}");
    assert!(
        e.contains("too many nested parentheses (Python allows 200)"),
        "{e}"
    );
    // Python's limit, and long chains, still evaluate (on the evaluator's own deep stack).
    let src = format!(
        "x = {}1{}\ny = 1{}\njobs = []\n",
        "(".repeat(200),
        ")".repeat(200),
        "+1".repeat(20_000)
    );
    assert!(load(&src).is_ok());
    let e = load(&format!("y = 1{}\n", "+1".repeat(30_000)))
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("a statement of 60003 tokens is too long"), "{e}");
}

#[test]
fn huge_repetitions_and_materialisations_are_refused_not_allocated() {
    // Found by the fuzzer: an integer expression times a string asked for 2 GiB.
    let e = load("x = 'abc' * (10 ** 9)\n").err().unwrap().to_string();
    assert!(
        e.starts_with("test.aurora:2:5:")
            && e.contains("repeating a string of 3 bytes 1000000000 times is too large"),
        "{e}"
    );
    let e = load("x = list(range(10 ** 9))\n")
        .err()
        .unwrap()
        .to_string();
    assert!(e.contains("too many for a .aurora file"), "{e}");
    let ok = "a = [0] * 5\nb = 3 * 'ab'\nc = 4 * MB\nd = 2.5 * 2\njobs = []\n";
    assert!(load(ok).is_ok());
}
