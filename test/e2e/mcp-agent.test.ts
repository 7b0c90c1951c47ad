import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { ContextItem, Environment, Event, FunctionCallRunner, InputStream, ScriptedModel } from "@chorus/core"
import { McpConfig, McpToolkit } from "@chorus/mcp"
import * as Servers from "../mcp/servers.js"
import { events, joinAgent, joinHuman, payloads, runEnded } from "../support/agents.js"

describe("an agent with an MCP filesystem server", () => {
  it.live("writes a file through the server after a person approves, then reads it back without asking", () =>
    Effect.gen(function*() {
      const directory = yield* Servers.tempDirectory
      const target = Path.join(directory, "plan.md")
      const content = "# Plan\n\n1. Ship the MCP client\n2. Celebrate\n"
      yield* Effect.gen(function*() {
        const env = yield* Environment.Environment
        // The runner lives as long as the test: the agent gets it as a ready service.
        const runner = yield* FunctionCallRunner.FunctionCallRunner
        const model = yield* joinAgent(
          { id: "writer" },
          {
            turns: [
              [ScriptedModel.functionCall("write_file", { path: target, content }, { callId: "write" })],
              [ScriptedModel.functionCall("read_text_file", { path: target }, { callId: "read" })],
              [ScriptedModel.text("The plan is written.")]
            ]
          },
          Layer.succeed(FunctionCallRunner.FunctionCallRunner, runner)
        )
        const alice = yield* joinHuman("alice")
        yield* alice.offer(InputStream.message("Write our plan to plan.md"))

        const requested = yield* env.waitFor((event) => event.payload._tag === "ApprovalRequested")
        const approval = requested.payload as Event.ApprovalRequested
        assert.strictEqual(approval.name, "write_file")
        assert.deepStrictEqual(JSON.parse(approval.arguments), { path: target, content })
        // Nothing is written before the answer.
        assert.isFalse(Fs.existsSync(target))
        yield* alice.offer(new InputStream.Approval({ callId: approval.callId, approved: true, reason: null }))
        yield* runEnded("writer")

        // The file really exists, with what the model asked for.
        assert.strictEqual(Fs.readFileSync(target, "utf8"), content)

        const all = yield* events
        // Only the destructive call asked for approval; the read-only one ran directly.
        assert.deepStrictEqual(payloads(all, "ApprovalRequested").map((request) => request.callId), ["write"])
        assert.deepStrictEqual(payloads(all, "FunctionCallApproved").map((approved) => approved.by), ["alice"])
        assert.deepStrictEqual(
          payloads(all, "FunctionCallCompleted").map((completed) => [completed.callId, completed.isError]),
          [["write", false], ["read", false]]
        )
        // The model saw the server's answers.
        const requests = yield* model.requests
        const outputs = requests[2]!.items.filter((item): item is ContextItem.FunctionCallOutput =>
          item._tag === "FunctionCallOutput"
        )
        assert.include(ContextItem.text(outputs[0]!), `Successfully wrote to ${target}`)
        assert.strictEqual(ContextItem.text(outputs[1]!), content)
        // The tools the model was offered came from the server, with their JSON Schemas.
        const writeTool = requests[0]!.tools.find((tool) => tool.name === "write_file")
        assert.deepStrictEqual(writeTool?.parameters.required, ["path", "content"])
      }).pipe(
        Effect.provide(
          McpToolkit.layerServers(McpConfig.make([Servers.filesystem(directory)]))
        )
      )
    }).pipe(Effect.scoped, Effect.provide(Environment.layerMemory())))
})
