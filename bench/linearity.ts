/**
 * Linearity: the cost per delta of the Chorus run of `throughput.ts` (one
 * agent, one observer, in-memory journal) at 10,000, 100,000 and 1,000,000
 * deltas. A warm-up run at each size, then the median of several runs
 * (fewer at the larger sizes). Nothing may grow with the length of the
 * stream: the 1M cost should stay within 1.3x of the 10k cost. A run also
 * has a fixed cost (~10 ms here: the run's start and end, a young
 * generation that V8 grows only as allocation goes on), which weighs most on
 * the 10k figure, so 1M is compared with 100k too.
 */
import { chorusEvents, chorusRun } from "./frameworks.js"
import { compare, type Figure, gc, median, script } from "./support.js"

const sizes = [
  { n: 10_000, runs: 7 },
  { n: 100_000, runs: 3 },
  { n: 1_000_000, runs: 2 }
] as const

export const linearityBench = async (log: (line: string) => void): Promise<Array<Figure>> => {
  const costs: Array<{ readonly n: number; readonly nsPerDelta: number }> = []
  for (const { n, runs } of sizes) {
    const scripted = script(n)
    const events = chorusEvents(scripted, "assistant")
    gc()
    await chorusRun(scripted, events)
    const samples: Array<number> = []
    for (let i = 0; i < runs; i++) {
      gc()
      const observed = await chorusRun(scripted, events)
      samples.push((observed.ms * 1e6) / n)
    }
    log(`linearity ${n}: ${samples.map((ns) => ns.toFixed(0)).join(", ")} ns/delta`)
    costs.push({ n, nsPerDelta: median(samples) })
  }
  const first = costs[0]!
  const figures: Array<Figure> = costs.map(({ n, nsPerDelta }) =>
    n === first.n
      ? { name: `linearity.chorus.${n}`, unit: "ns/delta", value: Math.round(nsPerDelta) }
      : compare(
        { name: `linearity.chorus.${n}`, unit: "ns/delta", value: Math.round(nsPerDelta) },
        { name: `cost at ${first.n}`, value: Math.round(first.nsPerDelta) },
        n === 1_000_000 ? { text: "<= 1.3x the cost at 10k", atMost: 1.3 } : undefined
      )
  )
  const [, middle, last] = costs
  if (middle !== undefined && last !== undefined) {
    figures.push(compare(
      { name: `linearity.chorus.${last.n}-vs-${middle.n}`, unit: "ns/delta", value: Math.round(last.nsPerDelta) },
      { name: `cost at ${middle.n}`, value: Math.round(middle.nsPerDelta) }
    ))
  }
  return figures
}
