// Runs the official MCP conformance suite (@modelcontextprotocol/conformance) over its client scenarios against one
// client program, under Node 24 (the suite needs Node >= 22). Prints one line per scenario and a JSON summary.
//   pnpm tsx test/mcp/conformance/run.ts chorus|sdk [scenario...]
// The vitest test conformance.test.ts uses `runScenarios` directly.
import { execFileSync, spawn } from "node:child_process"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const root = fileURLToPath(new URL("../../../", import.meta.url))
const suite = Path.join(root, "node_modules/@modelcontextprotocol/conformance/dist/index.js")
const tsx = Path.join(root, "node_modules/tsx/dist/cli.mjs")

/** The Node 24 binary (scripts/node24.sh installs it from the npm registry when missing). */
export const node24 = (): string =>
  execFileSync("bash", [Path.join(root, "scripts/node24.sh")], { cwd: root, encoding: "utf8" }).trim()

/** The client scenarios of the installed suite, by `conformance list`. */
export const listScenarios = (node: string): ReadonlyArray<string> => {
  const text = execFileSync(node, [suite, "list"], { cwd: root, encoding: "utf8" })
  const client = text.slice(text.indexOf("Client scenarios"))
  return [...client.matchAll(/^\s+- (\S+)/gm)].map((match) => match[1]!)
}

export interface Outcome {
  readonly scenario: string
  readonly passed: boolean
  readonly summary: string
  readonly output: string
}

const runOne = (node: string, program: string, scenario: string): Promise<Outcome> =>
  new Promise((resolve) => {
    const command = `${node} ${tsx} ${program}`
    const child = spawn(node, [suite, "client", "--command", command, "--scenario", scenario, "--timeout", "30000"], {
      cwd: root,
      env: { ...process.env, NODE_NO_WARNINGS: "1" }
    })
    let output = ""
    child.stdout.on("data", (chunk) => (output += chunk))
    child.stderr.on("data", (chunk) => (output += chunk))
    child.on("close", (code) => {
      const summary = /Passed: [^\n]*/.exec(output)?.[0] ?? "no result"
      resolve({ scenario, passed: code === 0 && output.includes("OVERALL: PASSED"), summary, output })
    })
  })

/** Runs scenarios (a few at a time) against a client program (a .ts file run with tsx under Node 24). */
export const runScenarios = async (
  program: string,
  scenarios?: ReadonlyArray<string>,
  concurrency = 3
): Promise<ReadonlyArray<Outcome>> => {
  const node = node24()
  const queue = [...(scenarios ?? listScenarios(node))]
  const outcomes: Array<Outcome> = []
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (queue.length > 0) outcomes.push(await runOne(node, program, queue.shift()!))
  }))
  const order = scenarios ?? listScenarios(node)
  return outcomes.sort((a, b) => order.indexOf(a.scenario) - order.indexOf(b.scenario))
}

export const programs = {
  chorus: Path.join(root, "test/mcp/conformance/chorus-client.ts"),
  sdk: Path.join(root, "test/mcp/conformance/sdk-baseline.ts")
} as const

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === Path.resolve(process.argv[1])) {
  const which = (process.argv[2] ?? "chorus") as keyof typeof programs
  const only = process.argv.slice(3)
  const outcomes = await runScenarios(programs[which], only.length > 0 ? only : undefined)
  for (const outcome of outcomes) {
    process.stdout.write(`${outcome.passed ? "PASS" : "FAIL"}  ${outcome.scenario.padEnd(45)} ${outcome.summary}\n`)
    if (!outcome.passed && process.env.VERBOSE) process.stdout.write(`${outcome.output}\n`)
  }
  const passed = outcomes.filter((outcome) => outcome.passed).length
  process.stdout.write(`${which}: ${passed}/${outcomes.length} client scenarios passed\n`)
}
