/**
 * What a toolkit's runner keeps: `Effect.provide(toolkit.layer)` per agent is how users give an
 * agent its tools, so what the built runner holds is held once per agent.
 */
import { assert, describe, it } from "@effect/vitest"
import { Context, Effect, Exit, Layer, Schema, Scope } from "effect"
import { ContextItem, FunctionCallRunner, Tool, Toolkit } from "@chorus/core"

class Greeting extends Context.Tag("test/Greeting")<Greeting, string>() {}

const call = (name: string, args: string) =>
  new ContextItem.FunctionCall({ id: `item_${name}`, author: "agent", status: "completed", callId: `call_${name}`, name, arguments: args })

const runOnce = (request: ReturnType<typeof call>) =>
  Effect.flatMap(FunctionCallRunner.FunctionCallRunner, (runner) => runner.run({ call: request, progress: () => Effect.void }))

describe("Toolkit", () => {
  it.effect("the empty toolkit's layer gives every agent the same runner: no tools, calls refused as unknown", () =>
    Effect.gen(function*() {
      const first = yield* Effect.provide(FunctionCallRunner.FunctionCallRunner, Toolkit.empty.layer)
      const second = yield* Effect.provide(FunctionCallRunner.FunctionCallRunner, Toolkit.empty.layer)
      assert.strictEqual(first, second)
      assert.deepStrictEqual(yield* first.tools, [])
      const refused = yield* Effect.flip(Effect.provide(runOnce(call("anything", "{}")), Toolkit.empty.layer))
      assert.strictEqual(refused.reason, "unknown_tool")
    }))

  it.effect("handlers run with the services of where the runner was built, not with the layer build's memo map", () =>
    Effect.gen(function*() {
      let memoMapSeen: Layer.MemoMap | undefined
      const greet = Tool.make("greet", {
        description: "Greets",
        parameters: Schema.Struct({ name: Schema.String }),
        handler: ({ name }) =>
          Effect.gen(function*() {
            memoMapSeen = yield* Layer.CurrentMemoMap
            return `${yield* Greeting}, ${name}`
          })
      })
      const toolkit = Toolkit.make(greet)
      const buildMemoMap = yield* Layer.makeMemoMap
      const scope = yield* Scope.make()
      const built = yield* Layer.buildWithMemoMap(toolkit.layer, buildMemoMap, scope).pipe(
        Effect.provideService(Greeting, "Hello")
      )
      // Run after the build's scope is closed, as an agent's calls run long after its join.
      yield* Scope.close(scope, Exit.void)
      const runner = Context.get(built, FunctionCallRunner.FunctionCallRunner)
      const result = yield* runner.run({ call: call("greet", `{"name":"Ada"}`), progress: () => Effect.void })
      assert.deepStrictEqual(result, { output: "Hello, Ada", isError: false })
      // The runner does not keep the build's memo map (which holds every layer built with it).
      assert.isDefined(memoMapSeen)
      assert.notStrictEqual(memoMapSeen, buildMemoMap)
    }))
})
