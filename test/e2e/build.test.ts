import { assert, describe, it } from "@effect/vitest"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"

const run = promisify(execFile)
const root = fileURLToPath(new URL("../..", import.meta.url))

// A plain Node program, no TypeScript and no bundler: what a user gets after `pnpm build`.
const program = `
import { Effect } from "effect"
import { Agent, ContextItem, Environment, Human, Reducer, ScriptedModel, Toolkit } from "@chorus/core"
import { OpenAiResponses } from "@chorus/providers"
import { McpConfig } from "@chorus/mcp"
import { Routes } from "@chorus/server"

const main = Effect.gen(function*() {
  const env = yield* Environment.Environment
  const model = yield* ScriptedModel.make({ turns: [[ScriptedModel.text("built and running")]] })
  yield* env.join(Agent.make({ id: "assistant" })).pipe(Effect.provide(model.layer), Effect.provide(Toolkit.empty.layer))
  yield* Human.say("user", "hello")
  yield* env.waitFor((event) => event.payload._tag === "RunEnded")
  const items = Reducer.items(yield* env.snapshot(Reducer.transcript))
  return items.map(ContextItem.text).join(" | ") + " | " + typeof OpenAiResponses.layer + " " + typeof McpConfig.decode + " " + typeof Routes.router
}).pipe(Effect.provide(Environment.layerMemory()))

Effect.runPromise(main).then((out) => process.stdout.write(out))
`

describe("build", () => {
  it("the built packages import from plain Node", { timeout: 240_000 }, async () => {
    await run("pnpm", ["build"], { cwd: root })
    const { stdout } = await run(process.execPath, ["--input-type=module", "-e", program], { cwd: root })
    assert.strictEqual(stdout, "hello | built and running | function function function")
  })
})
