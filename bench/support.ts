/**
 * What every benchmark shares: the figure type, statistics, a clock, a
 * garbage collector handle, memory sampling and the description of the
 * machine the figures were taken on.
 */
import { execFileSync, fork } from "node:child_process"
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import * as Os from "node:os"
import { basename, dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
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

const taskFlag = "--chorus-bench-task"

/**
 * In a process started by {@link freshProcess} for the module at `moduleUrl`: the arguments it was
 * given; `undefined` in any other process (or for another module).
 */
export const taskArguments = (moduleUrl: string): ReadonlyArray<string> | undefined => {
  const index = process.argv.indexOf(taskFlag)
  if (process.send === undefined || index < 0 || process.argv[index + 1] !== fileURLToPath(moduleUrl)) return undefined
  return process.argv.slice(index + 2)
}

/** In a process started by {@link freshProcess}: sends the task's result to the parent, then exits. */
export const reply = (work: Promise<unknown>): void => {
  work.then(
    (value) => process.send!({ _tag: "Done", value }, () => process.exit(0)),
    (error: unknown) => process.send!({ _tag: "Failed", error: String(error) }, () => process.exit(1))
  )
}

/**
 * The bench module at `path` and the bench modules it imports (`./x.js`), type-stripped into
 * `bench/.build/` (plain ES modules, still resolving packages from `bench/node_modules`): what a
 * fresh process runs without the TypeScript loader. Returns the compiled entry's path.
 */
const compiled = async (path: string): Promise<string> => {
  // A CommonJS package: its `module.exports` is the default export.
  const ts = ((await import("typescript")) as unknown as { readonly default: typeof import("typescript") }).default
  const source = dirname(path)
  const out = join(source, ".build")
  mkdirSync(out, { recursive: true })
  const todo = [basename(path, ".ts")]
  const done = new Set<string>()
  while (todo.length > 0) {
    const name = todo.pop()!
    if (done.has(name)) continue
    done.add(name)
    const text = readFileSync(join(source, `${name}.ts`), "utf8")
    for (const match of text.matchAll(/from "\.\/([\w-]+)\.js"/g)) todo.push(match[1]!)
    const js = ts.transpileModule(text, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
      fileName: `${name}.ts`
    }).outputText
    writeFileSync(join(out, `${name}.js`), js)
  }
  return join(out, `${basename(path, ".ts")}.js`)
}

/**
 * Runs a module's task in a fresh Node process: what the sections run before it in this process —
 * their heap, their JIT state — does not weigh on it. The module checks {@link taskArguments} at
 * its top level and answers with {@link reply}. The process runs the module type-stripped, as plain
 * JavaScript on plain `node` (`compiled`): as a user's compiled program runs, without the
 * TypeScript loader `pnpm bench` uses (its hooks thread alone holds ~65 MiB of RSS).
 */
export const freshProcess = async <A>(moduleUrl: string, args: ReadonlyArray<string>): Promise<A> => {
  const entry = await compiled(fileURLToPath(moduleUrl))
  return new Promise((resolve, reject) => {
    const child = fork(entry, [taskFlag, entry, ...args], {
      // Node's own flags only (no loader: the entry is JavaScript).
      execArgv: process.execArgv.filter((flag) => flag.startsWith("--") && !/^--(import|require|loader)/.test(flag) && !flag.includes("tsx")),
      stdio: ["ignore", "inherit", "inherit", "ipc"]
    })
    let settled = false
    child.on("message", (message: { _tag: "Done"; value: A } | { _tag: "Failed"; error: string }) => {
      settled = true
      if (message._tag === "Done") resolve(message.value)
      else reject(new Error(`${entry} ${args.join(" ")}: ${message.error}`))
    })
    child.on("error", reject)
    child.on("exit", (code) => {
      if (!settled) reject(new Error(`${entry} ${args.join(" ")}: the process exited (${code}) without a result`))
    })
  })
}

/** The most RSS this process has held since it started (the kernel's high-water mark), in bytes. */
export const maxRss = (): number => process.resourceUsage().maxRSS * 1024

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
