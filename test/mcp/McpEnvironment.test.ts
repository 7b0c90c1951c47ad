// Elicitation through the environment, against server-everything's `trigger-elicitation-request` (a real server
// from npm): the request is published keyed by the call, a person answers, the answer is checked against the form
// (defaults, enums, bounds) and goes back to the server; refusals, interrupts and a crash are visible as events.
import { assert, describe, it } from "@effect/vitest"
import { Elicitation, Environment, Event } from "@chorus/core"
import { McpClient, McpConfig, McpEnvironment } from "@chorus/mcp"
import { Effect, Exit, Fiber, Option } from "effect"
import * as Servers from "./servers.js"

const tool = "trigger-elicitation-request"

const person = (id: string, kind: Event.ParticipantKind) => ({
  id,
  kind,
  accepts: () => false,
  run: () => Effect.never
})

const isPayload = <T extends Event.Payload["_tag"]>(tag: T) => (event: Event.Event): event is Event.Event & {
  readonly payload: Extract<Event.Payload, { readonly _tag: T }>
} => event.payload._tag === tag

// An environment with a person "alice", an observer "bot", an MCP client whose elicitations go through it.
const setup = Effect.gen(function*() {
  const env = yield* Environment.Environment
  yield* env.join(person("alice", "human"))
  yield* env.join(person("bot", "observer"))
  const handlers = yield* McpEnvironment.options()
  const client = yield* McpClient.make(McpConfig.make([Servers.everything()]), handlers)
  // The server offers the tool only to clients that declared elicitation.
  const tools = yield* client.refreshTools("everything")
  assert.isTrue(tools.some((candidate) => candidate.name === tool))
  return { env, client }
})

// A call of the tool as call `callId` by agent "agent", and its published elicitation.
const callAndWait = (env: Environment.Service, client: McpClient.Service, callId: string) =>
  Effect.gen(function*() {
    const from = (yield* env.lastSequence) + 1
    yield* env.publish("agent", new Event.FunctionCallRequested({ runId: "run_1", callId, name: tool, arguments: "{}" }))
    const call = yield* Effect.fork(client.callTool("everything", tool, {}, { callId }))
    const requested = yield* env.waitFor(isPayload("ElicitationRequested"), { from })
    return { call, request: requested.payload, from }
  })

const text = (result: McpClient.CallToolResult) =>
  result.content.map((block) => (block.type === "text" ? block.text : "")).join("\n")

describe("McpEnvironment: elicitation answered by the environment's people", () => {
  it.live("the request is published keyed by its call; a human's answer goes back with the form's defaults", () =>
    Effect.gen(function*() {
      const { client, env } = yield* setup
      const { call, from, request } = yield* callAndWait(env, client, "call_1")
      assert.strictEqual(request.callId, "call_1")
      assert.strictEqual(request.server, "everything")
      assert.strictEqual(request.message, "Please provide inputs for the following fields:")
      assert.deepStrictEqual((request.requestedSchema as { required?: unknown }).required, ["name"])

      // Refused visibly: an unknown request, a participant who may not answer, content that does not fit the form.
      yield* Elicitation.answer("alice", { elicitationId: "eli_nope", action: "accept", content: {} })
      yield* Elicitation.answer("bot", { elicitationId: request.elicitationId, action: "accept", content: { name: "Bot" } })
      yield* Elicitation.answer("alice", {
        elicitationId: request.elicitationId,
        action: "accept",
        content: { name: "Ada", integer: 500, untitledSingleSelectEnum: "Gunther" }
      })
      // Then a valid answer: only the required field, the rest from the defaults.
      yield* Elicitation.answer("alice", {
        elicitationId: request.elicitationId,
        action: "accept",
        content: { name: "Ada Lovelace", email: "ada@example.org" }
      })
      const result = yield* Fiber.join(call)
      assert.include(text(result), "- Name: Ada Lovelace")
      assert.include(text(result), "- Email: ada@example.org")
      assert.include(text(result), "- Favorite Integer: 42")
      assert.include(text(result), "\"untitledSingleSelectEnum\": \"Monica\"")
      assert.include(text(result), "\"titledMultipleSelectEnum\": [\n      \"fish-1\"")

      const events = yield* env.snapshot({
        initial: [] as ReadonlyArray<Event.Event>,
        reduce: (all, event) => (event.sequence >= from ? [...all, event] : all)
      })
      const refusals = events.filter(isPayload("ElicitationAnswerRefused")).map((event) => event.payload)
      assert.deepStrictEqual(refusals.map((refusal) => [refusal.by, refusal.reason]), [
        ["alice", "unknown_request"],
        ["bot", "not_allowed"],
        ["alice", "invalid_content"]
      ])
      assert.include(refusals[2]!.detail, "\"integer\" must be at most 100")
      assert.include(refusals[2]!.detail, "\"untitledSingleSelectEnum\" must be one of")
      const resolved = events.filter(isPayload("ElicitationResolved")).map((event) => event.payload)
      assert.strictEqual(resolved.length, 1)
      assert.strictEqual(resolved[0]!.by, "alice")
      assert.strictEqual(resolved[0]!.content?.firstLine, "It was a dark and stormy night.")

      // A second answer after the first was applied.
      const late = yield* Elicitation.answer("alice", { elicitationId: request.elicitationId, action: "decline" })
      assert.deepStrictEqual(
        late.payload._tag === "ElicitationAnswerRefused" ? late.payload.reason : late.payload._tag,
        "already_answered"
      )
    }).pipe(Effect.scoped, Effect.provide(Environment.layerMemory())))

  it.live("decline goes back to the server as decline", () =>
    Effect.gen(function*() {
      const { client, env } = yield* setup
      const { call, request } = yield* callAndWait(env, client, "call_2")
      yield* Elicitation.answer("alice", { elicitationId: request.elicitationId, action: "decline" })
      assert.include(text(yield* Fiber.join(call)), "User declined")
    }).pipe(Effect.scoped, Effect.provide(Environment.layerMemory())))

  it.live("an interrupt of the agent whose call asked cancels the elicitation; the server receives cancel", () =>
    Effect.gen(function*() {
      const { client, env } = yield* setup
      const { call, request } = yield* callAndWait(env, client, "call_3")
      yield* env.interrupt({ participant: "agent", by: "alice" })
      const cancelled = yield* env.waitFor(isPayload("ElicitationCancelled"))
      assert.strictEqual(cancelled.payload.elicitationId, request.elicitationId)
      assert.strictEqual(cancelled.payload.reason, "the agent was interrupted")
      assert.include(text(yield* Fiber.join(call)), "User cancelled")
      // Answering now is refused.
      const late = yield* Elicitation.answer("alice", { elicitationId: request.elicitationId, action: "accept" })
      assert.strictEqual(late.payload._tag, "ElicitationAnswerRefused")
    }).pipe(Effect.scoped, Effect.provide(Environment.layerMemory())))

  it.live("interrupting the call itself cancels its elicitation", () =>
    Effect.gen(function*() {
      const { client, env } = yield* setup
      const { call, request } = yield* callAndWait(env, client, "call_4")
      yield* Fiber.interrupt(call)
      const cancelled = yield* env.waitFor(isPayload("ElicitationCancelled"))
      assert.strictEqual(cancelled.payload.elicitationId, request.elicitationId)
      assert.strictEqual(cancelled.payload.reason, "the call was interrupted")
    }).pipe(Effect.scoped, Effect.provide(Environment.layerMemory())))

  it.live("a crash of the server during an elicitation cancels it and fails the call as crashed", () =>
    Effect.gen(function*() {
      const { client, env } = yield* setup
      const { call, request } = yield* callAndWait(env, client, "call_5")
      const pid = (yield* client.status)[0]!.pid!
      process.kill(pid, "SIGKILL")
      const exit = yield* Fiber.await(call)
      assert.isTrue(Exit.isFailure(exit))
      const error = Exit.isFailure(exit) ? Option.getOrUndefined(Exit.causeOption(exit).pipe(Option.flatMap((cause) => cause._tag === "Fail" ? Option.some(cause.error) : Option.none()))) : undefined
      assert.strictEqual(error?.reason, "crashed")
      const cancelled = yield* env.waitFor(isPayload("ElicitationCancelled"))
      assert.strictEqual(cancelled.payload.elicitationId, request.elicitationId)
      const late = yield* Elicitation.answer("alice", { elicitationId: request.elicitationId, action: "accept" })
      assert.strictEqual(late.payload._tag, "ElicitationAnswerRefused")
    }).pipe(Effect.scoped, Effect.provide(Environment.layerMemory())))

  it.live("an application answers in code; content that does not fit the form is not sent", () =>
    Effect.gen(function*() {
      const answers: Array<McpClient.ElicitationResult> = [
        { action: "accept", content: { name: "Code" } },
        { action: "accept", content: { name: "Code", integer: 0 } }
      ]
      const seen: Array<McpClient.ElicitationRequest> = []
      const client = yield* McpClient.make(McpConfig.make([Servers.everything()]), {
        elicitation: (request) => Effect.sync(() => (seen.push(request), answers.shift()!))
      })
      yield* client.refreshTools("everything")
      const first = yield* client.callTool("everything", tool, {}, { callId: "call_6" })
      assert.include(text(first), "- Name: Code")
      assert.include(text(first), "- Favorite Number: 3.14")
      assert.strictEqual(seen[0]?.callId, "call_6")
      const second = yield* Effect.exit(client.callTool("everything", tool, {}))
      // The server's tool fails on the JSON-RPC error our client answered with.
      const output = Exit.isSuccess(second) ? text(second.value) : String(second.cause)
      assert.include(output, "must be at least 1")
    }).pipe(Effect.scoped))
})
