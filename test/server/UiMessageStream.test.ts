/**
 * `POST /chat` read by the `ai` package's own chat client (`AbstractChat`, which `useChat` wraps, over
 * `DefaultChatTransport`). ai@7 needs Node >= 22, so the client runs in a Node 24 child (`scripts/node24.sh`)
 * while the server runs here, whatever Node runs the suite.
 */
import { assert, describe, it } from "@effect/vitest"
import type { Event } from "@chorus/core"
import { Effect } from "effect"
import { execFile, execFileSync } from "node:child_process"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { served } from "./support/fixture.js"

const root = fileURLToPath(new URL("../..", import.meta.url))
const client = fileURLToPath(new URL("./support/aiClient.mjs", import.meta.url))
const node24 = execFileSync("bash", ["scripts/node24.sh"], { cwd: root, encoding: "utf8" }).trim()

interface Part {
  readonly type: string
  readonly text?: string
  readonly state?: string
  readonly input?: unknown
  readonly output?: unknown
  readonly toolCallId?: string
  readonly approval?: { readonly id: string; readonly approved?: boolean; readonly reason?: string }
}
interface ChatResult {
  readonly status: string
  readonly errors: ReadonlyArray<string>
  readonly messages: ReadonlyArray<{ readonly id: string; readonly role: string; readonly parts: ReadonlyArray<Part> }>
}

const runClient = (url: string, scenario: string) =>
  Effect.promise(async () => {
    const { stdout } = await promisify(execFile)(node24, [client, `${url}/chat`, scenario], { cwd: root, timeout: 30_000 })
    return JSON.parse(stdout) as ChatResult
  })

const text = (parts: ReadonlyArray<Part>) => parts.filter((p) => p.type === "text").map((p) => p.text).join("")

describe("POST /chat read by the ai package's chat client", () => {
  it.live("a streamed answer: reasoning and text in one assistant message named after the run", () =>
    Effect.gen(function*() {
      const { url, env } = yield* served()
      const result = yield* runClient(url, "answer")
      assert.deepStrictEqual(result.errors, [])
      assert.strictEqual(result.status, "ready")
      assert.strictEqual(result.messages.length, 2)
      const answer = result.messages[1]!
      assert.strictEqual(answer.role, "assistant")
      const started = yield* env.waitFor((e): e is Event.Event & { payload: Event.RunStarted } => e.payload._tag === "RunStarted")
      assert.strictEqual(answer.id, started.payload.runId)
      assert.deepStrictEqual(answer.parts.map((p) => p.type), ["step-start", "reasoning", "text"])
      assert.strictEqual(answer.parts[1]!.text, "A greeting.")
      assert.strictEqual(text(answer.parts), "Hello back, friend.")
    }).pipe(Effect.scoped))

  it.live("a tool approval: input streamed, approval asked, approved from the client, output and answer follow", () =>
    Effect.gen(function*() {
      const { url, env } = yield* served()
      const result = yield* runClient(url, "approval")
      assert.deepStrictEqual(result.errors, [])
      assert.strictEqual(result.messages.length, 2)
      const parts = result.messages[1]!.parts
      const tool = parts.find((p) => p.type === "tool-save_note")!
      assert.strictEqual(tool.state, "output-available")
      assert.deepStrictEqual(tool.input, { title: "groceries", body: "milk\neggs" })
      assert.strictEqual(tool.output, "saved groceries")
      assert.strictEqual(tool.approval?.approved, true)
      assert.strictEqual(text(parts), "Saved the note.")
      const approved = yield* env.waitFor((e) => e.payload._tag === "FunctionCallApproved")
      assert.strictEqual((approved.payload as Event.FunctionCallApproved).by, "you")
    }).pipe(Effect.scoped))

  it.live("a tool rejected with a reason: the call is denied and the agent says so", () =>
    Effect.gen(function*() {
      const { url, env } = yield* served()
      const result = yield* runClient(url, "reject")
      assert.deepStrictEqual(result.errors, [])
      const parts = result.messages[1]!.parts
      assert.strictEqual(parts.find((p) => p.type === "tool-save_note")!.state, "output-denied")
      assert.strictEqual(text(parts), "Not saved.")
      const rejected = yield* env.waitFor((e) => e.payload._tag === "FunctionCallRejected")
      assert.strictEqual((rejected.payload as Event.FunctionCallRejected).reason, "not today")
    }).pipe(Effect.scoped))

  it.live("stop() interrupts the run; the partial answer stays", () =>
    Effect.gen(function*() {
      const { url, env } = yield* served({ latency: "15 millis" })
      const result = yield* runClient(url, "stop")
      assert.strictEqual(result.status, "ready")
      const partial = text(result.messages[1]!.parts)
      assert.isAbove(partial.length, 30)
      const ended = yield* env.waitFor((e): e is Event.Event & { payload: Event.RunEnded } => e.payload._tag === "RunEnded")
      assert.strictEqual(ended.payload.outcome, "interrupted")
      const cut = yield* env.waitFor((e) => e.payload._tag === "ItemDone" && e.payload.item._tag === "ModelMessage")
      assert.strictEqual((cut.payload as Event.ItemDone).item.status, "incomplete")
    }).pipe(Effect.scoped))
})
