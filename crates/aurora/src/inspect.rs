//! The readable summary `aurora job inspect` prints without `--write-json`, in the shape of
//! Aurora's: job-level fields, task-level fields with the process order, then each process.

use aurora_model::Job;
use std::fmt::Write;

/// Renders `job` for people.
pub fn summary(job: &Job) -> String {
    let mut out = String::new();
    let py = |b: bool| if b { "True" } else { "False" };
    let _ = writeln!(out, "Job level information");
    let _ = writeln!(out, "  name:       '{}'", job.name);
    let _ = writeln!(out, "  role:       '{}'", job.role);
    let _ = writeln!(
        out,
        "  contact:    '{}'",
        job.contact.as_deref().unwrap_or("None")
    );
    let _ = writeln!(out, "  cluster:    '{}'", job.cluster);
    let _ = writeln!(out, "  instances:  '{}'", job.instances);
    if let Some(cron) = &job.cron_schedule {
        let _ = writeln!(out, "  cron:");
        let _ = writeln!(out, "     schedule: '{cron}'");
        let _ = writeln!(out, "     policy:   '{}'", job.cron_collision_policy.name());
    }
    if let Some(constraints) = &job.constraints {
        let _ = writeln!(out, "  constraints:");
        for (k, v) in constraints {
            let _ = writeln!(out, "    '{k}': '{v}'");
        }
    }
    let _ = writeln!(out, "  service:    {}", py(job.service));
    let _ = writeln!(out, "  production: {}", py(job.production));
    let _ = writeln!(out);

    let task = &job.task;
    let _ = writeln!(out, "Task level information");
    let _ = writeln!(out, "  name: '{}'", task.name);
    let _ = writeln!(
        out,
        "  resources: {}",
        crate::format::resources(&task.resources)
    );
    if !task.constraints.is_empty() {
        let _ = writeln!(out, "  constraints:");
        for c in &task.constraints {
            let _ = writeln!(out, "    order: {}", c.order.join(" -> "));
        }
    }
    let _ = writeln!(out);
    for p in &task.processes {
        let _ = writeln!(out, "Process '{}':", p.name);
        for (flag, on) in [
            ("daemon", p.daemon),
            ("ephemeral", p.ephemeral),
            ("final", p.final_),
        ] {
            if on {
                let _ = writeln!(out, "  {flag}");
            }
        }
        let _ = writeln!(out, "  cmdline:");
        for line in p.cmdline.trim_matches('\n').lines() {
            let _ = writeln!(out, "    {line}");
        }
        let _ = writeln!(out);
    }
    out
}
