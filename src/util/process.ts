/** Small process helpers shared by the CLI's supervisor (`shoal up`), tests and the benchmark. */

/** True while a process with this pid exists (signal 0 probes without sending anything). */
export function isAlive (pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}
