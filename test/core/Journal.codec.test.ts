import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Either, FastCheck, Schema } from "effect"
import { ContextItem, Event } from "@chorus/core"
import * as Codec from "../../packages/core/src/internal/journalCodec.js"
import * as Payload from "../../packages/core/src/internal/environment/payload.js"
import * as Trusted from "../../packages/core/src/internal/journalTrusted.js"
import * as TrustedEncode from "../../packages/core/src/internal/journalTrustedEncode.js"

// The journals' fast paths must be indistinguishable from the Schema's own encode and decode.
const events = Arbitrary.make(Event.Event)
const schemaJson = (event: Event.Event) => JSON.stringify(Schema.encodeSync(Event.Event)(event))

/** Every own key, value and prototype, recursively: what `new X(props, true)` builds, compared exactly. */
const sameShape = (actual: unknown, expected: unknown, path = "event"): void => {
  if (typeof expected !== "object" || expected === null) {
    assert.ok(Object.is(actual, expected), `${path}: ${String(actual)} !== ${String(expected)}`)
    return
  }
  assert.ok(typeof actual === "object" && actual !== null, `${path} is not an object`)
  assert.strictEqual(Object.getPrototypeOf(actual), Object.getPrototypeOf(expected), `${path}: prototype`)
  assert.deepStrictEqual(Reflect.ownKeys(actual), Reflect.ownKeys(expected), `${path}: keys`)
  for (const key of Reflect.ownKeys(expected)) {
    sameShape((actual as Record<PropertyKey, unknown>)[key], (expected as Record<PropertyKey, unknown>)[key], `${path}.${String(key)}`)
  }
}

describe("journal codec fast paths", () => {
  it("the trusted encode writes exactly the Schema encoding's JSON (property)", () => {
    FastCheck.assert(
      FastCheck.property(events, (event) => {
        assert.strictEqual(TrustedEncode.encodeEvent(event), schemaJson(event))
        assert.strictEqual(TrustedEncode.encodePayload(event.payload), JSON.stringify(Schema.encodeSync(Event.Payload)(event.payload)))
      }),
      { numRuns: 2_000 }
    )
  })

  it("the trusted decode builds what the Schema decode builds: same prototypes, keys and values (property)", () => {
    FastCheck.assert(
      FastCheck.property(events, (event) => {
        const value = JSON.parse(schemaJson(event))
        const expected = Schema.decodeUnknownSync(Event.Event)(value)
        const built = Trusted.decodeEvent(JSON.parse(schemaJson(event)))
        assert.ok(built !== undefined, "the trusted decode gave up")
        sameShape(built, expected)
      }),
      { numRuns: 2_000 }
    )
  })

  it("an agent state in the older spelling decodes on the trusted path to the one spelling, which is what it writes", () => {
    // A journal of the previous release has checksums (the trusted path) and "function-calls" / "awaiting-approval".
    const older = {
      sequence: 3,
      author: "agent",
      timestamp: 1,
      payload: { _tag: "StateChanged", participant: "agent", runId: "r1", from: "function-calls", to: "awaiting-approval" }
    }
    const built = Trusted.decodeEvent(structuredClone(older))
    assert.ok(built !== undefined, "the trusted decode gave up")
    sameShape(built, Schema.decodeUnknownSync(Event.Event)(older))
    const payload = built!.payload as Event.StateChanged
    assert.deepStrictEqual([payload.from, payload.to], ["function_calls", "awaiting_approval"])
    assert.strictEqual(TrustedEncode.encodeEvent(built!), schemaJson(built!))
    assert.include(TrustedEncode.encodeEvent(built!), `"from":"function_calls","to":"awaiting_approval"`)
  })

  it("an event with optional fields left out decodes with their defaults, as the Schema does", () => {
    const done = new Event.ItemDone({ item: ContextItem.modelText({ id: "m", author: "a", text: "hi" }), runId: null })
    const value = JSON.parse(schemaJson(new Event.Event({ sequence: 0, author: "a", timestamp: 1, payload: done })))
    delete value.payload.to
    delete value.payload.policy
    sameShape(Trusted.decodeEvent(structuredClone(value)), Schema.decodeUnknownSync(Event.Event)(value))
  })

  it("garbage gives up on the trusted path, and the full decode says what is wrong", () => {
    const good = JSON.parse(schemaJson(new Event.Event({ sequence: 0, author: "a", timestamp: 1, payload: new Event.TextDelta({ itemId: "m", contentIndex: 0, delta: "x" }) })))
    const cases: ReadonlyArray<unknown> = [
      null,
      "text",
      [],
      { ...good, payload: { ...good.payload, _tag: "NoSuchEvent" } },
      { ...good, payload: { _tag: "TextDelta", itemId: "m" } },
      { ...good, payload: 42 },
      { sequence: 0, author: "a", payload: good.payload }
    ]
    for (const value of cases) {
      assert.strictEqual(Trusted.decodeEvent(value), undefined, JSON.stringify(value))
      assert.ok(Either.isLeft(Codec.decodeTrusted(value)), JSON.stringify(value))
    }
  })

  it("an event the trusted encode cannot write (a required field missing) is left to the full encode, which names it", () => {
    const broken = Event.unsafeMake({ sequence: 0, author: "a", timestamp: 1, payload: { _tag: "TextDelta", itemId: "m" } as unknown as Event.Payload })
    assert.strictEqual(TrustedEncode.encodeEvent(broken), undefined)
    assert.ok(Either.isLeft(Codec.encode(broken)))
  })
})

describe("environment-made payloads", () => {
  it("a payload built by prototype is what its constructor builds", () => {
    sameShape(
      Payload.make(Event.ParticipantJoined, { participant: "p", kind: "observer" }),
      new Event.ParticipantJoined({ participant: "p", kind: "observer" })
    )
    sameShape(Payload.make(Event.ParticipantLeft, { participant: "p" }), new Event.ParticipantLeft({ participant: "p" }))
    sameShape(
      Payload.make(Event.ParticipantRestarted, { participant: "p", attempt: 2 }),
      new Event.ParticipantRestarted({ participant: "p", attempt: 2 })
    )
  })
})

describe("trusted decode of records", () => {
  it("an own __proto__ key in a record is left to the full decode (it would set the prototype)", () => {
    const resolved = new Event.ElicitationResolved({ elicitationId: "e", action: "accept", by: "h", content: { a: "x" } })
    const value = JSON.parse(schemaJson(new Event.Event({ sequence: 0, author: "a", timestamp: 1, payload: resolved })).replace("{\"a\":\"x\"}", "{\"__proto__\":[\"x\"]}"))
    assert.strictEqual(Trusted.decodeEvent(value), undefined)
  })
})
