/**
 * What every benchmark shares: the figure type, statistics, a clock, a
 * garbage collector handle, memory sampling and the description of the
 * machine the figures were taken on.
 */
import { execFileSync } from "node:child_process"
import { readFileSync } from "node:fs"
import * as Os from "node:os"
import { setFlagsFromString } from "node:v8"
import { runInNewContext } from "node:vm"

/** One measured figure; a comparison also carries its baseline and the ratio value / baseline. */
export interface Figure {
  readonly name: string
  readonly unit: string
  readonly value: number
  /** What the figure is compared with, when it is a comparison. */
  readonly baseline?: { readonly name: string; readonly value: number } | undefined
  /** `value / baseline.value`. */
  readonly ratio?: number | undefined
  /** The target this figure is judged by, in words, and whether it holds. */
  readonly target?: { readonly text: string; readonly holds: boolean } | undefined
}

/** A comparison figure: value, baseline and their ratio. */
export const compare = (
  figure: { readonly name: string; readonly unit: string; readonly value: number },
  baseline: { readonly name: string; readonly value: number },
  target?: { readonly text: string; readonly atLeast?: number; readonly atMost?: number }
): Figure => {
  const ratio = figure.value / baseline.value
  return {
    ...figure,
    baseline,
    ratio,
    target: target === undefined ? undefined : {
      text: target.text,
      holds: (target.atLeast === undefined || ratio >= target.atLeast) &&
        (target.atMost === undefined || ratio <= target.atMost)
    }
  }
}

/** The scripted model output: `n` delta strings and their text. */
export interface Script {
  readonly deltas: ReadonlyArray<string>
  readonly text: string
}

export const script = (n: number): Script => {
  const deltas = Array.from({ length: n }, (_, i) => `tok${i % 997} `)
  return { deltas, text: deltas.join("") }
}

/** What a run observed; checked against the script. */
export interface Observed {
  readonly ms: number
  /** CPU time of the process (all its threads: the garbage collector's too) over the same interval. */
  readonly cpuMs: number
  readonly deltas: number
  readonly chars: number
}

/** A stopwatch of wall and process CPU time. */
export const stopwatch = () => {
  const wall = now()
  const cpu = process.cpuUsage()
  return {
    stop: (): { readonly ms: number; readonly cpuMs: number } => {
      const used = process.cpuUsage(cpu)
      return { ms: now() - wall, cpuMs: (used.user + used.system) / 1000 }
    }
  }
}

/** Fails loudly when the observer did not see the whole stream. */
export const check = (framework: string, script: Script, observed: Observed): Observed => {
  if (observed.deltas !== script.deltas.length || observed.chars !== script.text.length) {
    throw new Error(
      `${framework}: the observer saw ${observed.deltas} deltas (${observed.chars} chars), ` +
        `expected ${script.deltas.length} (${script.text.length} chars)`
    )
  }
  return observed
}

/** A monotonic clock in milliseconds, comparable across the threads of this process. */
export const now = (): number => Number(process.hrtime.bigint()) / 1e6

export const median = (values: ReadonlyArray<number>): number => percentile(values, 50)

/** The p-th percentile (nearest rank) of the values. */
export const percentile = (values: ReadonlyArray<number>, p: number): number => {
  if (values.length === 0) return Number.NaN
  const sorted = [...values].sort((a, b) => a - b)
  const rank = Math.ceil((p / 100) * sorted.length)
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!
}

/** A small seeded PRNG (mulberry32), so the "random" choices of a run are the same every run. */
export const random = (seed: number) => {
  let state = seed >>> 0
  return (): number => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

// `--expose-gc` without a flag on the command line: the flag is set at run time and `gc` taken from a fresh context.
setFlagsFromString("--expose-gc")
const collect = runInNewContext("gc") as () => void

/** A full garbage collection (twice: weak references and finalizers settle). */
export const gc = (): void => {
  collect()
  collect()
}

/** Samples `process.memoryUsage().rss` every `everyMs` until stopped; returns the peak seen. */
export const sampleRss = (everyMs = 10) => {
  let peak = process.memoryUsage().rss
  const timer = setInterval(() => {
    const rss = process.memoryUsage().rss
    if (rss > peak) peak = rss
  }, everyMs)
  return {
    stop: (): number => {
      clearInterval(timer)
      const rss = process.memoryUsage().rss
      return rss > peak ? rss : peak
    }
  }
}

/** Yields to the event loop (timers, I/O) once. */
export const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

/** The version of an installed package, read from its package.json. */
const versionOf = (path: string): string => {
  try {
    return (JSON.parse(readFileSync(new URL(`${path}/package.json`, import.meta.url), "utf8")) as { version: string }).version
  } catch {
    return "not installed"
  }
}

/** The commit the figures were taken on, and whether the packages' sources differed from it. */
const source = () => {
  const git = (...args: Array<string>) =>
    execFileSync("git", args, { cwd: new URL("..", import.meta.url), encoding: "utf8" }).trim()
  try {
    return { commit: git("rev-parse", "--short", "HEAD"), packagesModified: git("status", "--porcelain", "--", "packages").length > 0 }
  } catch {
    return { commit: "unknown", packagesModified: false }
  }
}

/** The machine and the versions the figures were taken with. */
export const machine = () => ({
  ...source(),
  cpu: Os.cpus()[0]?.model ?? "unknown",
  cores: Os.availableParallelism(),
  memoryGiB: Math.round(Os.totalmem() / 2 ** 30),
  node: process.version,
  platform: `${Os.platform()} ${Os.release()}`,
  versions: {
    effect: versionOf("./node_modules/effect"),
    openai: versionOf("../packages/providers/node_modules/openai"),
    ai: versionOf("./node_modules/ai"),
    "@ai-sdk/openai": versionOf("./node_modules/@ai-sdk/openai"),
    "@openai/agents": versionOf("./node_modules/@openai/agents"),
    tsx: versionOf("./node_modules/tsx")
  }
})

const formatNumber = (value: number): string => {
  if (!Number.isFinite(value)) return String(value)
  const abs = Math.abs(value)
  if (abs >= 1000) return Math.round(value).toLocaleString("en-US")
  if (abs >= 100) return value.toFixed(0)
  if (abs >= 10) return value.toFixed(1)
  return value.toFixed(2)
}

/** The figures as a Markdown table. */
export const markdownTable = (figures: ReadonlyArray<Figure>): string => {
  const rows = figures.map((figure) =>
    [
      `\`${figure.name}\``,
      `${formatNumber(figure.value)} ${figure.unit}`,
      figure.baseline === undefined ? "" : `${formatNumber(figure.baseline.value)} (${figure.baseline.name})`,
      figure.ratio === undefined ? "" : `${figure.ratio.toFixed(2)}x`,
      figure.target === undefined ? "" : `${figure.target.holds ? "holds" : "**missed**"}: ${figure.target.text}`
    ].join(" | ")
  )
  return ["| figure | value | baseline | ratio | target |", "| --- | --- | --- | --- | --- |", ...rows.map((row) => `| ${row} |`)]
    .join("\n")
}

/** The figures as a plain-text table. */
export const table = (figures: ReadonlyArray<Figure>): string => {
  const rows = figures.map((figure) => [
    figure.name,
    `${formatNumber(figure.value)} ${figure.unit}`,
    figure.baseline === undefined ? "" : `${formatNumber(figure.baseline.value)} (${figure.baseline.name})`,
    figure.ratio === undefined ? "" : `${figure.ratio.toFixed(2)}x`,
    figure.target === undefined ? "" : `${figure.target.holds ? "holds" : "MISSED"}: ${figure.target.text}`
  ])
  const header = ["figure", "value", "baseline", "ratio", "target"]
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column]!.length)))
  const line = (cells: ReadonlyArray<string>) => cells.map((cell, column) => cell.padEnd(widths[column]!)).join("  ").trimEnd()
  return [line(header), line(widths.map((width) => "-".repeat(width))), ...rows.map(line)].join("\n")
}
