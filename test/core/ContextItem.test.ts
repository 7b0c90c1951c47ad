import { assert, describe, it } from "@effect/vitest"
import { Arbitrary, Effect, Either, Equal, FastCheck, Schema } from "effect"
import { ContextItem, Event } from "@chorus/core"

const items = Arbitrary.make(ContextItem.ContextItem)

describe("ContextItem", () => {
  it("round-trips every item through the OpenResponses wire shape (property)", () => {
    FastCheck.assert(
      FastCheck.property(items, (item) => {
        const wire = Schema.encodeSync(ContextItem.Wire)(item)
        // The wire value is plain JSON...
        const json = JSON.parse(JSON.stringify(wire))
        // ...and decodes back to the same item.
        const decoded = Schema.decodeUnknownSync(ContextItem.Wire)(json)
        assert.deepStrictEqual(decoded, item)
        // And encoding again gives the same wire value (lossless both ways).
        assert.deepStrictEqual(Schema.encodeSync(ContextItem.Wire)(decoded), wire)
      }),
      { numRuns: 500 }
    )
  })

  it("round-trips every event through its JSON form (property)", () => {
    const events = Arbitrary.make(Event.Event)
    FastCheck.assert(
      FastCheck.property(events, (event) => {
        const json = Schema.encodeSync(Event.Json)(event)
        const decoded = Schema.decodeUnknownSync(Event.Json)(json)
        // Lossless as JSON (JSON itself cannot tell -0 from 0): the decoded event encodes to the same text.
        assert.strictEqual(Schema.encodeSync(Event.Json)(decoded), json)
        assert.strictEqual(decoded.payload._tag, event.payload._tag)
        assert.strictEqual(decoded.sequence, event.sequence)
      }),
      { numRuns: 1_000 }
    )
  })

  it.effect("decodes plain OpenResponses input items (string content, no ids, no statuses)", () =>
    Effect.gen(function*() {
      const user = yield* ContextItem.decodeWire({ role: "user", content: "Hi there" })
      assert.strictEqual(user._tag, "UserMessage")
      assert.strictEqual(ContextItem.text(user), "Hi there")
      assert.strictEqual(user.status, "completed")
      const assistant = yield* ContextItem.decodeWire({
        type: "message",
        id: "msg_1",
        role: "assistant",
        status: "incomplete",
        content: [{ type: "output_text", text: "Partial", annotations: [] }, { type: "refusal", refusal: "No." }]
      })
      assert.strictEqual(assistant._tag, "ModelMessage")
      assert.strictEqual(assistant.status, "incomplete")
      assert.strictEqual(ContextItem.text(assistant), "PartialNo.")
      const output = yield* ContextItem.decodeWire({ type: "function_call_output", call_id: "c1", output: "42" })
      assert.deepStrictEqual(output._tag === "FunctionCallOutput" && [output.callId, output.output, output.isError], ["c1", "42", false])
      const reasoning = yield* ContextItem.decodeWire({
        type: "reasoning",
        id: "rs_1",
        summary: [{ type: "summary_text", text: "Because" }],
        encrypted_content: "gAAAA..."
      })
      assert.strictEqual(reasoning._tag === "Reasoning" && reasoning.encryptedContent, "gAAAA...")
    }))

  it.effect("malformed wire input is a clear decode error", () =>
    Effect.gen(function*() {
      const cases: ReadonlyArray<readonly [unknown, string]> = [
        [null, "Expected"],
        [{ type: "message", role: "robot", content: "x" }, "robot"],
        [{ type: "function_call", name: "f", arguments: "{}" }, "call_id"],
        [{ type: "message", role: "system", content: [{ type: "input_image", image_url: "data:," }] }, "can only hold text"],
        [{ type: "message", role: "assistant", content: [{ type: "input_image", image_url: "data:," }] }, "cannot hold a input_image"],
        [{ type: "function_call_output", call_id: "c", output: 42 }, "output"],
        [{ type: "teleport", id: "x" }, "teleport"],
        [{ type: "message", role: "user", content: "x", status: "finished" }, "finished"]
      ]
      for (const [input, mention] of cases) {
        const result = yield* Effect.either(ContextItem.decodeWire(input))
        assert.isTrue(Either.isLeft(result), `accepted ${JSON.stringify(input)}`)
        if (Either.isLeft(result)) assert.include(result.left.message, mention)
      }
    }))

  it("encodes the chorus extension so standard clients can ignore it", () => {
    const item = ContextItem.userText({ id: "u1", author: "alice", text: "hello" })
    const wire = ContextItem.toWire(item)
    assert.deepStrictEqual(wire, {
      type: "message",
      id: "u1",
      role: "user",
      status: "completed",
      content: [{ type: "input_text", text: "hello" }],
      chorus: { author: "alice" }
    })
  })
})

describe("Event.unsafeMake", () => {
  it("builds the same event as the constructor: equal, encodable, an Event", () => {
    const fields = { sequence: 3, author: "a", timestamp: 7, payload: new Event.TextDelta({ itemId: "m", contentIndex: 0, delta: "x" }) }
    const fast = Event.unsafeMake(fields)
    const slow = new Event.Event(fields)
    assert.instanceOf(fast, Event.Event)
    assert.isTrue(Equal.equals(fast, slow))
    assert.strictEqual(Schema.encodeSync(Event.Json)(fast), Schema.encodeSync(Event.Json)(slow))
  })
})
