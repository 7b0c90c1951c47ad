import { assert, describe, it } from "@effect/vitest"
import { Effect, Either } from "effect"
import { ContextItem, Environment, Event, InferenceRunner, InputStream, ScriptedModel } from "@chorus/core"
import * as Assemble from "../../packages/core/src/internal/inference/assemble.js"
import { events, joinAgent, joinHuman, payloads, runEnded } from "../support/agents.js"

const start = (itemId: string, kind: InferenceRunner.ItemKind = "message", callId: string | null = null, name: string | null = null) =>
  new InferenceRunner.ItemStart({ itemId, kind, callId, name })
const text = (itemId: string, delta: string, contentIndex = 0) => new Event.TextDelta({ itemId, contentIndex, delta })
const end = (itemId: string, final: ContextItem.ContextItem | null = null) => new InferenceRunner.ItemEnd({ itemId, final })
const finished = new InferenceRunner.Finished({ usage: Event.Usage.zero, incompleteReason: null, model: null })
const message = (id: string, value: string, status: ContextItem.Status = "completed") =>
  new ContextItem.ModelMessage({ id, author: "provider", status, content: value === "" ? [] : [new ContextItem.OutputText({ text: value })] })

/** Runs parts through the assembler: the payloads published, or the error. */
const assemble = (parts: ReadonlyArray<InferenceRunner.Part>) => {
  const assembly = Assemble.empty("me", "run_1")
  const published: Array<Event.Payload> = []
  for (const part of parts) {
    const next = Assemble.step(assembly, part)
    if (Either.isLeft(next)) return Either.left(next.left)
    published.push(...next.right)
  }
  return Either.map(Assemble.end(assembly), () => published)
}

/** What a subscriber folding the deltas sees, and what the done item says. */
const seenAndDone = (published: ReadonlyArray<Event.Payload>) => {
  const deltas = published.filter(Event.isDelta).map((delta) => delta.delta).join("")
  const done = published.find((payload): payload is Event.ItemDone => payload._tag === "ItemDone")!
  return { deltas, done: ContextItem.text(done.item), item: done.item }
}

const malformed = (parts: ReadonlyArray<InferenceRunner.Part>) => {
  const result = assemble(parts)
  assert.isTrue(Either.isLeft(result), "expected a malformed_stream error")
  if (Either.isLeft(result)) assert.strictEqual(result.left.reason, "malformed_stream")
}

describe("InferenceRunner parts → items", () => {
  it("stepAll: a chunk gives the payloads of the parts before a malformed one, then its error", () => {
    const parts = [start("m1"), text("m1", "Hel"), text("m1", "lo"), end("m1"), text("m1", "late"), text("m1", "never")]
    const one = Assemble.empty("me", "run_1")
    const result = Assemble.stepAll(one, parts)
    assert.deepStrictEqual(result.publish.map((payload) => payload._tag), ["ItemAdded", "TextDelta", "TextDelta", "ItemDone"])
    assert.strictEqual(result.error?.reason, "malformed_stream")
    assert.include(result.error?.detail ?? "", "after item m1 ended")
    // The same as stepping the parts one by one.
    const whole = assemble(parts.slice(0, 4))
    assert.isTrue(Either.isRight(whole))
    if (Either.isRight(whole)) assert.deepStrictEqual(seenAndDone(result.publish), seenAndDone(whole.right))
    assert.deepStrictEqual(Assemble.stepAll(Assemble.empty("me", "run_1"), parts.slice(0, 4)).error, null)
  })

  it("assembles a message: added, deltas, done with the agent as author and the run id", () => {
    const result = assemble([start("m"), text("m", "Hel"), text("m", "lo"), end("m"), finished])
    assert.isTrue(Either.isRight(result))
    const published = Either.getOrThrow(result)
    assert.deepStrictEqual(published.map((payload) => payload._tag), ["ItemAdded", "TextDelta", "TextDelta", "ItemDone"])
    const { deltas, done, item } = seenAndDone(published)
    assert.strictEqual(deltas, "Hello")
    assert.strictEqual(done, "Hello")
    assert.strictEqual(item.author, "me")
    assert.strictEqual(item.status, "completed")
  })

  it("refuses parts out of order as malformed_stream", () => {
    malformed([text("m", "x")]) // a delta before its start
    malformed([start("m"), start("m")]) // a second start
    malformed([end("m")]) // an end for an item never started
    malformed([start("m"), end("m"), end("m")]) // a second end
    malformed([start("m"), end("m"), text("m", "late")]) // a delta after the end
    malformed([start("m"), end("m"), finished, start("n")]) // a part after Finished
    malformed([start("m"), text("m", "cut")]) // the stream ends with an item open
    malformed([start("r", "reasoning"), text("r", "x")]) // a delta of the wrong kind
    malformed([start("f", "function_call")]) // a call without a call id and a name
    malformed([start("m"), end("m", new ContextItem.FunctionCall({ id: "m", author: "x", status: "completed", callId: "c", name: "n", arguments: "" }))])
  })

  it("the deltas are the truth: a contradicting final never shows subscribers a second text", () => {
    for (const final of [message("m", ""), message("m", "Goodbye"), message("m", "He")]) {
      const { deltas, done } = seenAndDone(Either.getOrThrow(assemble([start("m"), text("m", "Hel"), text("m", "lo"), end("m", final)])))
      assert.strictEqual(deltas, "Hello")
      assert.strictEqual(done, "Hello")
    }
  })

  it("a final that extends the deltas is published as a trailing delta", () => {
    const published = Either.getOrThrow(assemble([start("m"), text("m", "Hel"), end("m", message("m", "Hello!"))]))
    assert.deepStrictEqual(published.map((payload) => payload._tag), ["ItemAdded", "TextDelta", "TextDelta", "ItemDone"])
    const { deltas, done } = seenAndDone(published)
    assert.strictEqual(deltas, "Hello!")
    assert.strictEqual(done, "Hello!")
  })

  it("a final with arguments or encrypted content and no deltas fills them", () => {
    const call = new ContextItem.FunctionCall({ id: "f", author: "x", status: "completed", callId: "other", name: "other", arguments: "{\"a\":1}" })
    const published = Either.getOrThrow(assemble([start("f", "function_call", "c1", "add"), end("f", call)]))
    const { deltas, item } = seenAndDone(published)
    assert.strictEqual(deltas, "{\"a\":1}")
    assert.strictEqual(item._tag === "FunctionCall" && item.arguments, "{\"a\":1}")
    // The call id and the name are the ones subscribers saw in ItemAdded.
    assert.strictEqual(item._tag === "FunctionCall" && `${item.callId} ${item.name}`, "c1 add")
    const reasoning = new ContextItem.Reasoning({ id: "r", author: "x", status: "completed", summary: [], content: [], encryptedContent: "blob" })
    const done = seenAndDone(Either.getOrThrow(assemble([start("r", "reasoning"), end("r", reasoning)]))).item
    assert.strictEqual(done._tag === "Reasoning" && done.encryptedContent, "blob")
  })

  it("a final marked incomplete closes the item incomplete", () => {
    const { item } = seenAndDone(Either.getOrThrow(assemble([start("m"), text("m", "Hi"), end("m", message("m", "Hi", "incomplete"))])))
    assert.strictEqual(item.status, "incomplete")
  })

  it("a cut assembly closes its open items as incomplete, with the text the deltas built", () => {
    const assembly = Assemble.empty("me", "run_1")
    for (const part of [start("m"), text("m", "Par"), text("m", "tial"), start("done"), end("done")]) {
      Either.getOrThrow(Assemble.step(assembly, part))
    }
    const cut = Assemble.cut(assembly)
    assert.deepStrictEqual(cut.items.map((item) => [item.id, item.status, ContextItem.text(item)]), [["m", "incomplete", "Partial"]])
    assert.deepStrictEqual(cut.publish.map((done) => done.item.id), ["m"])
  })

  // Tester finding 8: a custom runner could break the stream's rules and the run ended `completed`.
  it.effect("an agent whose runner breaks the parts' order ends the run failed and stays responsive", () =>
    Effect.gen(function*() {
      yield* joinAgent({ id: "bot" }, {
        turns: [
          [ScriptedModel.parts(text("ghost", "boo"), start("m"), end("m"))],
          [ScriptedModel.parts(start("m2"), text("m2", "a"), start("m2"))],
          [ScriptedModel.parts(end("never"))],
          [ScriptedModel.parts(start("m3"), end("m3"), text("m3", "late"))],
          [ScriptedModel.text("fine")]
        ]
      })
      const alice = yield* joinHuman("alice")
      for (let run = 1; run <= 5; run++) {
        yield* alice.offer(InputStream.message(`try ${run}`))
        yield* runEnded("bot", run)
      }
      const all = yield* events
      const outcomes = payloads(all, "RunEnded").map((ended) => ended.outcome)
      assert.deepStrictEqual(outcomes, ["failed", "failed", "failed", "failed", "completed"])
      assert.deepStrictEqual(payloads(all, "InferenceFailed").map((failed) => failed.reason), Array(4).fill("malformed_stream"))
      // No subscriber saw a delta for an item before its added event or after its done event.
      const state = new Map<string, "open" | "done">()
      for (const payload of all.map((event) => event.payload)) {
        if (payload._tag === "ItemAdded") state.set(payload.item.id, "open")
        else if (payload._tag === "ItemDone") state.set(payload.item.id, "done")
        else if (Event.isDelta(payload)) assert.strictEqual(state.get(payload.itemId), "open", `delta for ${payload.itemId}`)
      }
      // Every item the agent opened was closed.
      assert.isFalse([...state.values()].includes("open"))
    }).pipe(Effect.provide(Environment.layerMemory())))
})
