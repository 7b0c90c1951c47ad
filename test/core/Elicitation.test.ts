import { assert, describe, it } from "@effect/vitest"
import { Elicitation, Environment, Event } from "@chorus/core"
import { Effect, Either, HashMap, Schema } from "effect"

const form = {
  type: "object",
  properties: {
    name: { type: "string", minLength: 2 },
    email: { type: "string", format: "email" },
    age: { type: "integer", minimum: 0, maximum: 150, default: 30 },
    score: { type: "number", default: 9.5 },
    subscribe: { type: "boolean", default: true },
    plan: { type: "string", enum: ["free", "pro"], enumNames: ["Free", "Pro"], default: "free" },
    hero: { type: "string", oneOf: [{ const: "h1", title: "Superman" }, { const: "h2", title: "Batman" }] },
    tags: { type: "array", items: { anyOf: [{ const: "a" }, { const: "b" }] }, minItems: 1, maxItems: 2, default: ["a"] },
    colors: { type: "array", items: { type: "string", enum: ["red", "blue"] } }
  },
  required: ["name"]
}

describe("Elicitation.validate", () => {
  it("fills in the schema's defaults for omitted fields (SEP-1034)", () => {
    const content = Either.getOrThrow(Elicitation.validate(form, { name: "Ada" }))
    assert.deepStrictEqual(content, { name: "Ada", age: 30, score: 9.5, subscribe: true, plan: "free", tags: ["a"] })
  })

  it("checks every enum form (SEP-1330), types, bounds, formats and required fields, and lists every problem", () => {
    const problems = Either.getLeft(Elicitation.validate(form, {
      email: "not-an-email",
      age: 12.5,
      score: "high",
      subscribe: "yes",
      plan: "enterprise",
      hero: "h3",
      tags: ["a", "c"],
      colors: ["red", "green"],
      extra: 1
    })).pipe((option) => option._tag === "Some" ? option.value.problems : [])
    assert.deepStrictEqual([...problems], [
      "\"extra\" is not a field of the form",
      "\"name\" is required",
      "\"email\" must be a valid email",
      "\"age\" must be an integer",
      "\"score\" must be a number",
      "\"subscribe\" must be true or false",
      "\"plan\" must be one of \"free\", \"pro\"",
      "\"hero\" must be one of \"h1\", \"h2\"",
      "\"tags\" may only hold \"a\", \"b\"",
      "\"colors\" may only hold \"red\", \"blue\""
    ])
    assert.isTrue(Either.isLeft(Elicitation.validate(form, { name: "A" })))
    assert.isTrue(Either.isLeft(Elicitation.validate(form, { name: "Ada", tags: ["a", "b", "a"] })))
    assert.isTrue(Either.isLeft(Elicitation.validate(form, { name: "Ada", age: 151 })))
  })

  it("garbage schemas and content are problems, not crashes", () => {
    assert.isTrue(Either.isRight(Elicitation.validate({ properties: "nonsense" }, {})))
    assert.isTrue(Either.isLeft(Elicitation.validate({ properties: "nonsense" }, { a: 1 })))
    const weird = { properties: { x: { type: "object" }, y: null }, required: "x" }
    assert.deepStrictEqual(Either.getLeft(Elicitation.validate(weird, { x: {} })).pipe((o) => o._tag === "Some" ? [...o.value.problems] : []), [
      "\"x\" has an unsupported type"
    ])
  })
})

describe("Elicitation.answer and reducer", () => {
  it.effect("an answer for an unknown or ended elicitation is refused visibly; a pending one is published", () =>
    Effect.gen(function*() {
      const env = yield* Environment.Environment
      const unknown = yield* Elicitation.answer("alice", { elicitationId: "e1", action: "accept", content: {} })
      assert.deepStrictEqual(unknown.payload._tag === "ElicitationAnswerRefused" && unknown.payload.reason, "unknown_request")
      yield* env.publish("mcp", new Event.ElicitationRequested({
        elicitationId: "e1",
        callId: "c1",
        server: "s",
        message: "Your name?",
        requestedSchema: form
      }))
      const state = yield* env.snapshot(Elicitation.reducer)
      assert.strictEqual(HashMap.unsafeGet(state.pending, "e1").requester, "mcp")
      const answered = yield* Elicitation.answer("alice", { elicitationId: "e1", action: "decline", content: { name: "x" } })
      assert.deepStrictEqual(answered.payload, new Event.ElicitationAnswered({ elicitationId: "e1", action: "decline", content: null }))
      yield* env.publish("mcp", new Event.ElicitationCancelled({ elicitationId: "e1", reason: "gone" }))
      const late = yield* Elicitation.answer("alice", { elicitationId: "e1", action: "cancel" })
      assert.deepStrictEqual(late.payload._tag === "ElicitationAnswerRefused" && late.payload.reason, "already_answered")
      assert.strictEqual(Event.wireName(late.payload), "chorus.elicitation.answer_refused")
    }).pipe(Effect.provide(Environment.layerMemory())))

  it("an answer's numbers are finite: the journal writes JSON, which would turn them into null and fail to read back", () => {
    for (const n of [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.NaN]) {
      assert.throws(() => new Event.ElicitationAnswered({ elicitationId: "e1", action: "accept", content: { n } }))
    }
    const event = new Event.Event({
      sequence: 1,
      author: "you",
      timestamp: 0,
      payload: new Event.ElicitationAnswered({ elicitationId: "e1", action: "accept", content: { n: 1.5, ok: true } })
    })
    const json = Schema.encodeSync(Event.Json)(event)
    assert.deepStrictEqual((Schema.decodeUnknownSync(Event.Json)(json).payload as Event.ElicitationAnswered).content, { n: 1.5, ok: true })
  })
})

