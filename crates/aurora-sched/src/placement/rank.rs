//! Ranking feasible agents: spread a job's instances first (fewest instances of the job on the
//! agent), then prefer the agent with the most free cpu and ram left, so load evens out.

use super::{AgentView, Demand};

/// The best of `candidates`, or `None` if there is none.
pub fn best(
    d: &Demand,
    agents: &[AgentView],
    candidates: &[usize],
    spread: &dyn Fn(usize) -> u32,
) -> Option<usize> {
    candidates.iter().copied().min_by(|&x, &y| {
        let (a, b) = (&agents[x], &agents[y]);
        spread(x).cmp(&spread(y)).then_with(|| {
            let free = |g: &AgentView| {
                (g.cpu - g.used_cpu - d.cpu) / g.cpu.max(1e-9)
                    + (g.ram_mb.saturating_sub(g.used_ram_mb) as f64 / g.ram_mb.max(1) as f64)
            };
            free(b)
                .partial_cmp(&free(a))
                .unwrap_or(std::cmp::Ordering::Equal)
        })
    })
}
