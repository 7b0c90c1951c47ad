/**
 * `pnpm bench`: every benchmark in one process run, a table on stdout and
 * every figure in `bench/results.json` (name, unit, value, and for a
 * comparison the baseline's value and the ratio), with the machine and the
 * versions they were taken on. Method and latest figures: `BENCHMARKS.md`.
 *
 * `pnpm bench fanout stop` runs only the named sections.
 */
import { readFileSync, writeFileSync } from "node:fs"
import { clusterBench } from "./cluster.js"
import { fanoutBench } from "./fanout.js"
import { journalBench } from "./journal.js"
import { linearityBench } from "./linearity.js"
import { membershipBench, scaleBench } from "./scale.js"
import { stopBench } from "./stop.js"
import { type Figure, gc, machine, markdownTable, now, table } from "./support.js"
import { throughputBench } from "./throughput.js"

const sections: ReadonlyArray<readonly [string, (log: (line: string) => void) => Promise<ReadonlyArray<Figure>>]> = [
  ["fanout", fanoutBench],
  // Each throughput run has a process of its own; the peers run in this process only in `stop`, after the
  // Chorus-only sections (a framework that ran in a process changes how fast the others run there).
  ["throughput", throughputBench],
  ["linearity", linearityBench],
  ["scale", scaleBench],
  ["membership", membershipBench],
  ["stop", stopBench],
  ["journal", journalBench],
  // Starts a throwaway Postgres and three runner processes (bench/cluster.ts).
  ["cluster", clusterBench]
]

const log = (line: string) => process.stdout.write(`  ${line}\n`)

const wanted = process.argv.slice(2).filter((arg) => arg !== "--")
const unknown = wanted.filter((name) => !sections.some(([section]) => section === name))
if (unknown.length > 0) {
  process.stderr.write(`unknown section(s): ${unknown.join(", ")}; known: ${sections.map(([name]) => name).join(", ")}\n`)
  process.exit(2)
}

const host = machine()
process.stdout.write(
  `Chorus benchmarks at ${host.commit}${host.packagesModified ? " (packages/ modified)" : ""} on ${host.cpu}, ` +
    `${host.cores} cores, ${host.memoryGiB} GiB, Node ${host.node}\n` +
    `${Object.entries(host.versions).map(([name, version]) => `${name} ${version}`).join(", ")}\n\n`
)

const figures: Array<Figure> = []
const durations: Record<string, number> = {}
const started = now()
for (const [name, run] of sections) {
  if (wanted.length > 0 && !wanted.includes(name)) continue
  process.stdout.write(`${name}\n`)
  gc()
  const start = now()
  figures.push(...(await run(log)))
  durations[name] = Math.round((now() - start) / 100) / 10
  log(`(${durations[name]} s)`)
}
const seconds = Math.round((now() - started) / 100) / 10

process.stdout.write(`\n${table(figures)}\n\n${seconds} s in all\n`)

const results = {
  date: new Date().toISOString(),
  machine: host,
  seconds,
  sections: durations,
  figures: figures.map((figure) => ({
    name: figure.name,
    unit: figure.unit,
    value: figure.value,
    ...(figure.baseline === undefined ? {} : { baseline: figure.baseline.value, baselineName: figure.baseline.name }),
    ...(figure.ratio === undefined ? {} : { ratio: Math.round(figure.ratio * 1000) / 1000 }),
    ...(figure.target === undefined ? {} : { target: figure.target.text, holds: figure.target.holds })
  }))
}
// A partial run (named sections) does not replace the full results.
const file = new URL(wanted.length === 0 ? "./results.json" : "./results.partial.json", import.meta.url)
writeFileSync(file, `${JSON.stringify(results, null, 2)}\n`)
process.stdout.write(`figures written to ${file.pathname}\n`)

// A full run also refreshes the table of latest figures in BENCHMARKS.md (between its markers).
if (wanted.length === 0) {
  const notes = new URL("../BENCHMARKS.md", import.meta.url)
  const start = "<!-- latest figures: start -->"
  const end = "<!-- latest figures: end -->"
  try {
    const text = readFileSync(notes, "utf8")
    const from = text.indexOf(start)
    const to = text.indexOf(end)
    if (from >= 0 && to > from) {
      const header = `Run of ${results.date.slice(0, 16).replace("T", " ")} UTC on commit ${host.commit}` +
        `${host.packagesModified ? " (with uncommitted changes in packages/)" : ""}, ${seconds} s in all:`
      writeFileSync(notes, `${text.slice(0, from + start.length)}\n${header}\n\n${markdownTable(figures)}\n${text.slice(to)}`)
      process.stdout.write(`latest figures written to ${notes.pathname}\n`)
    }
  } catch {
    // No BENCHMARKS.md: nothing to refresh.
  }
}
