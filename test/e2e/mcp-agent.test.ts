import * as Fs from "node:fs"
import * as Path from "node:path"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Layer } from "effect"
import { ContextItem, Elicitation, Environment, Event, FunctionCallRunner, InputStream, ScriptedModel } from "@chorus/core"
import { McpClient, McpConfig, McpEnvironment, McpToolkit } from "@chorus/mcp"
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

describe("an agent with an MCP server that asks a person for input (elicitation)", () => {
  const elicitingTools = Layer.unwrapEffect(
    Effect.map(McpEnvironment.options(), (handlers) =>
      McpToolkit.layerServers(McpConfig.make([Servers.everything()]), { ...handlers, approval: { everything: "never" } }))
  )
  const tool = "trigger-elicitation-request"

  // The agent calls the tool; the server asks; the elicitation is published keyed by the agent's call.
  const start = (turns: ScriptedModel.Options["turns"]) =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const client = yield* McpClient.McpClient
      yield* client.refreshTools("everything")
      const runner = yield* FunctionCallRunner.FunctionCallRunner
      const model = yield* joinAgent({ id: "helper" }, { turns }, Layer.succeed(FunctionCallRunner.FunctionCallRunner, runner))
      const alice = yield* joinHuman("alice")
      yield* alice.offer(InputStream.message("Sign me up"))
      const requested = yield* env.waitFor((event) => event.payload._tag === "ElicitationRequested")
      return { env, model, request: requested.payload as Event.ElicitationRequested }
    })

  it.live("the person's answer reaches the server and the model sees the result", () =>
    Effect.gen(function*() {
      const { model, request } = yield* start([
        [ScriptedModel.functionCall(tool, {}, { callId: "ask" })],
        [ScriptedModel.text("Thanks, you are signed up.")]
      ])
      assert.strictEqual(request.callId, "ask")
      yield* Elicitation.answer("alice", { elicitationId: request.elicitationId, action: "accept", content: { name: "Alice" } })
      yield* runEnded("helper")
      const all = yield* events
      assert.deepStrictEqual(payloads(all, "ElicitationResolved").map((resolved) => resolved.by), ["alice"])
      const output = (yield* model.requests)[1]!.items.find((item): item is ContextItem.FunctionCallOutput =>
        item._tag === "FunctionCallOutput"
      )
      assert.include(ContextItem.text(output!), "- Name: Alice")
    }).pipe(Effect.provide(elicitingTools), Effect.scoped, Effect.provide(Environment.layerMemory())))

  it.live("interrupting the agent while the person has not answered cancels the elicitation and the call", () =>
    Effect.gen(function*() {
      const { env, request } = yield* start([
        [ScriptedModel.functionCall(tool, {}, { callId: "ask" })],
        [ScriptedModel.text("unused")]
      ])
      yield* env.interrupt({ participant: "helper", by: "alice" })
      yield* runEnded("helper")
      const all = yield* events
      const cancelled = payloads(all, "ElicitationCancelled")
      assert.deepStrictEqual(cancelled.map((event) => event.elicitationId), [request.elicitationId])
      assert.deepStrictEqual(payloads(all, "RunEnded").map((ended) => ended.outcome), ["interrupted"])
      const late = yield* Elicitation.answer("alice", { elicitationId: request.elicitationId, action: "accept" })
      assert.strictEqual(late.payload._tag, "ElicitationAnswerRefused")
    }).pipe(Effect.provide(elicitingTools), Effect.scoped, Effect.provide(Environment.layerMemory())))
})
