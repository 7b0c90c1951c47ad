import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema, Tracer } from "effect"
import { Environment, InputStream, ScriptedModel, Tool, Toolkit } from "@chorus/core"
import { joinAgent, joinHuman, runEnded } from "../support/agents.js"

describe("Telemetry", () => {
  it.effect("runs, inferences and tool calls are spans with OpenTelemetry GenAI attributes", () =>
    Effect.gen(function*() {
      const native = yield* Effect.tracer
      const spans: Array<Tracer.Span> = []
      const tracer = Tracer.make({
        span: (...args) => {
          const span = native.span(...args)
          spans.push(span)
          return span
        },
        context: (f, fiber) => native.context(f, fiber)
      })
      yield* Effect.gen(function*() {
        const weather = Tool.make("weather", {
          description: "Weather",
          parameters: Schema.Struct({ city: Schema.String }),
          handler: () => Effect.succeed("sunny")
        })
        yield* joinAgent(
          { id: "forecaster" },
          { turns: [[ScriptedModel.functionCall("weather", { city: "Oslo" }, { callId: "w1" })], [ScriptedModel.text("Sunny.")]], model: "test-model" },
          Toolkit.make(weather).layer
        )
        const alice = yield* joinHuman("alice")
        yield* alice.offer(InputStream.message("weather in Oslo?"))
        yield* runEnded("forecaster")
      }).pipe(Effect.withTracer(tracer), Effect.provide(Environment.layerMemory()))
      const named = (prefix: string) => spans.filter((span) => span.name.startsWith(prefix))
      const attributes = (span: Tracer.Span) => Object.fromEntries(span.attributes)
      const [run] = named("invoke_agent")
      assert.deepInclude(attributes(run!), { "gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "forecaster" })
      const chats = named("chat ")
      assert.strictEqual(chats.length, 2)
      assert.deepInclude(attributes(chats[0]!), { "gen_ai.operation.name": "chat", "gen_ai.request.model": "test-model" })
      assert.isNumber(attributes(chats[0]!)["gen_ai.usage.output_tokens"])
      const [tool] = named("execute_tool")
      assert.deepInclude(attributes(tool!), {
        "gen_ai.operation.name": "execute_tool",
        "gen_ai.tool.name": "weather",
        "gen_ai.tool.call.id": "w1"
      })
      // Inference and tool spans are children of the run's span.
      assert.strictEqual(chats[0]!.parent._tag === "Some" && chats[0]!.parent.value.spanId, run!.spanId)
    }))
})
