import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer, Redacted, Schema } from "effect"
import { Agent, Environment, InputStream, Tool, Toolkit } from "@chorus/core"
import { OpenAiClient, OpenAiResponses, Telemetry } from "@chorus/providers"
import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { joinHuman, runEnded } from "../support/agents.js"
import { apiKey } from "./helpers.js"
import * as Server from "./server.js"

// The one-line export: an agent run with a tool call, exported over OTLP/HTTP to a receiver on 127.0.0.1.

interface Received {
  readonly path: string
  readonly body: any
}

const receiver = Effect.acquireRelease(
  Effect.async<{ readonly server: Http.Server; readonly url: string; readonly received: Array<Received> }>((resume) => {
    const received: Array<Received> = []
    const server = Http.createServer((req, res) => {
      const chunks: Array<Buffer> = []
      req.on("data", (chunk: Buffer) => chunks.push(chunk))
      req.on("end", () => {
        received.push({ path: req.url ?? "", body: JSON.parse(Buffer.concat(chunks).toString("utf8")) })
        res.writeHead(200, { "content-type": "application/json" })
        res.end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () =>
      resume(Effect.succeed({
        server,
        url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
        received
      })))
  }),
  ({ server }) => Effect.async<void>((resume) => {
    server.close(() => resume(Effect.void))
  })
)

const getWeather = Tool.make("get_weather", {
  description: "The weather in a city",
  parameters: Schema.Struct({ city: Schema.String, unit: Schema.Literal("celsius", "fahrenheit") }),
  handler: ({ city }) => Effect.succeed(city === "Paris" ? "18°C, sunny" : "24°C, cloudy")
})

const attributes = (span: any): Record<string, unknown> =>
  Object.fromEntries(
    (span.attributes as Array<{ key: string; value: Record<string, unknown> }>).map((a) => [a.key, Object.values(a.value)[0]])
  )

describe("Telemetry", () => {
  it.live("exports an agent run's GenAI spans and client metrics to an OTLP/HTTP receiver", () =>
    Effect.gen(function*() {
      const otlp = yield* receiver
      const server = yield* Server.make
      server.reply(
        Server.sse(Server.fixture("responses/agent-calls.sse")),
        Server.sse(Server.fixture("responses/agent-answer.sse"))
      )
      const run = Effect.gen(function*() {
        const env = yield* Environment.Environment
        yield* env.join(Agent.make({ id: "assistant", instructions: "Answer with the tools." })).pipe(
          Effect.provide(
            OpenAiResponses.layer({ model: "gpt-5-mini" }).pipe(
              Layer.provide(OpenAiClient.layer({ apiKey: Redacted.make(apiKey), baseURL: server.baseURL }))
            )
          ),
          Effect.provide(Toolkit.make(getWeather).layer)
        )
        const alice = yield* joinHuman("alice")
        yield* alice.offer(InputStream.message("Weather in Paris and Tokyo?"))
        yield* runEnded("assistant")
      })
      yield* run.pipe(
        Effect.scoped,
        Effect.provide(Environment.layerMemory()),
        Effect.provide(Telemetry.layer({ baseUrl: otlp.url, serviceName: "chorus-test" }))
      )
      // Closing the layer flushed every span and metric.
      const spans = otlp.received.filter((r) => r.path === "/v1/traces").flatMap((r) =>
        r.body.resourceSpans.flatMap((rs: any) => rs.scopeSpans.flatMap((ss: any) => ss.spans))
      )
      const byName = (prefix: string) => spans.filter((span: any) => String(span.name).startsWith(prefix))
      const client = byName("chat gpt-5-mini").map(attributes).filter((a) => a["gen_ai.provider.name"] === "openai")
      assert.isAtLeast(client.length, 2)
      assert.strictEqual(client[0]!["gen_ai.operation.name"], "chat")
      assert.strictEqual(client[0]!["gen_ai.request.model"], "gpt-5-mini")
      assert.deepStrictEqual(client.map((a) => a["gen_ai.usage.input_tokens"]).sort(), [180, 320])
      const tools = byName("execute_tool").map(attributes)
      assert.deepStrictEqual(tools.map((a) => a["gen_ai.tool.name"]), ["get_weather", "get_weather"])
      assert.deepStrictEqual(tools.map((a) => a["gen_ai.tool.call.id"]).sort(), ["call_agent_paris", "call_agent_tokyo"])
      assert.isAtLeast(byName("invoke_agent").length, 1)

      const metrics = otlp.received.filter((r) => r.path === "/v1/metrics").flatMap((r) =>
        r.body.resourceMetrics.flatMap((rm: any) => rm.scopeMetrics.flatMap((sm: any) => sm.metrics))
      )
      const names = new Set(metrics.map((metric: any) => metric.name))
      assert.isTrue(names.has("gen_ai.client.token.usage"), [...names].join(", "))
      assert.isTrue(names.has("gen_ai.client.operation.duration"))
    }).pipe(Effect.scoped))
})
